"""Defects near the runtime fixes of 1dd1d80, found by a second QA round (1206f).

* `graph_operator` was declared fresh, but its last spatial layer returns relu's own output where its dropout
  is the identity (eval mode, p = 0): a `relu` after it ran as `torch.relu_` and the backward pass failed
  ("modified by an inplace operation").
* ``freeze`` sorted a mapping's items: `num_classes: {1: 3, "2": 5}` raised TypeError, and two nodes whose
  mappings differ in key order only shared one memo entry of the shapes pass (the second got the first's
  heads' order).
* `sum`/`mean` with `dim: []` was checked as reducing nothing, while torch reduces every dimension.
* The runtime loader refused a bytes path (model.py's reads it) and crashed on a path object giving bytes; a
  nested tensor reached torch's "Internal error" in both loaders.
* I106 fired for a key set to the value that gives the reference's model (`distil: false`), which the
  docs' fix told the user to write.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.elaborated import freeze
from vibench.compiler.phm_checks import reference_setting
from vibench.compiler.phm_reference import EXTENSIONS
from vibench.compiler.pipeline import compile_program
from vibench.compiler.resolve import LIBRARY_DIR, Library
from vibench.runtime.checkpoint import load_reference_state_dict, read_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def build(text: str) -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vibench.build(text=text)


# -- graph_operator's output is relu's ---------------------------------------------------------------------


def _graph(after: str, use_spectral: bool) -> str:
    return f"""\
vibench: 1
name: Graph
inputs: {{x: {{shape: [B, 6, 8]}}}}
nodes:
  g: {{block: graph_operator, in: x, num_layers: 2, dropout: 0.0, use_spectral: {str(use_spectral).lower()}}}
{after}
"""


@pytest.mark.parametrize("use_spectral", [True, False])
@pytest.mark.parametrize(
    "after",
    ["  r: {block: relu, in: g}\noutputs: {y: r}", "  s: {block: add, in: [g, x]}\noutputs: {y: s}"],
    ids=["relu", "add"],
)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_an_in_place_op_after_the_graph_operator_trains(after: str, use_spectral: bool, mode: str) -> None:
    model = build(_graph(after, use_spectral))
    getattr(model, mode)()
    x = torch.randn(2, 6, 8, requires_grad=True)
    model(x).sum().backward()  # torch: "modified by an inplace operation ... output 0 of Relu"
    assert x.grad is not None and all(p.grad is not None for p in model.g.parameters())


def test_the_graph_operators_output_is_never_overwritten() -> None:
    source = vibench.compile_spec(text=_graph("  r: {block: relu, in: g}\noutputs: {y: r}", False)).source
    assert "torch.relu_(" not in source and "torch.relu(" in source


# -- freeze: a mapping's keys in their order -----------------------------------------------------------------

CLASSIFIERS = """\
vibench: 1
name: Heads
inputs: {{x: {{shape: [B, 8]}}, sid: {{shape: [B], dtype: int64}}}}
nodes:
{nodes}
outputs: {{{outputs}}}
"""


def _classifiers(*mappings: str) -> str:
    nodes = "\n".join(
        f"  h{k}: {{block: isfm_system_classifier, in: {{x: x, system_id: sid}}, num_classes: {m}}}"
        for k, m in enumerate(mappings)
    )
    return CLASSIFIERS.format(nodes=nodes, outputs=", ".join(f"y{k}: h{k}" for k in range(len(mappings))))


def test_a_mapping_with_int_and_str_keys_compiles() -> None:
    model = build(_classifiers('{1: 3, "2": 5}'))  # TypeError: '<' not supported between 'str' and 'int'
    assert list(model.h0.heads) == ["1", "2"]


def test_two_nodes_whose_mappings_differ_in_key_order_keep_their_own_order() -> None:
    program = compile_program(text=_classifiers('{"1": 3, "2": 5}', '{"2": 5, "1": 3}'))
    orders = [list(node.copies[0].params.num_classes) for node in program.root.nodes]
    assert orders == [["1", "2"], ["2", "1"]]  # the second node had the first's


def test_two_nodes_whose_mappings_differ_in_key_order_are_written_in_their_order() -> None:
    source = vibench.compile_spec(text=_classifiers('{"1": 3, "2": 5}', '{"2": 5, "1": 3}')).source
    alone = vibench.compile_spec(text=_classifiers('{"2": 5, "1": 3}')).source
    assert '{"2": nn.Linear(8, 5), "1": nn.Linear(8, 3)}' in alone
    assert '{"2": nn.Linear(8, 5), "1": nn.Linear(8, 3)}' in source


def test_freeze_orders_names_and_keeps_a_mappings_order() -> None:
    assert freeze({"b": 1, "a": {"2": 5, "1": 3}}) == freeze({"a": {"2": 5, "1": 3}, "b": 1})
    assert freeze({"a": {"2": 5, "1": 3}}) != freeze({"a": {"1": 3, "2": 5}})
    assert freeze({"a": {1: 3, "2": 5}}) != freeze({"a": {"2": 5, 1: 3}})  # mixed keys: never compared
    assert len({freeze({"a": 1}), freeze({"a": 1.0}), freeze({"a": True}), freeze({"a": [1]})}) == 4
    assert freeze({"a": [1]}) == freeze({"a": (1,)})  # a tuple is the list the file writes
    hash(freeze({"a": {"x": [1, {"y": 2.0}]}}))


def test_equal_settings_bound_in_another_order_specialise_a_composite_once() -> None:
    """`a` given binds `a` first; `a` from its default binds `b` first (the default reads it): one unit."""
    program = compile_program(
        text="""\
vibench: 1
name: Stem
inputs: {x: {shape: [B, 8, L]}}
blocks:
  Conv:
    params: {a: {type: int, default: "${b}"}, b: {type: int, default: 8}}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: "${a}", kernel_size: 1}
      conv2: {block: conv1d, in: conv, out_channels: "${b}", kernel_size: 1}
    outputs: {y: conv2}
nodes:
  s1: {block: Conv, in: x, a: 8}
  s2: {block: Conv, in: s1}
outputs: {y: s2}
"""
    )
    assert len(program.units) == 1


# -- sum/mean over no dimension ---------------------------------------------------------------------------------


@pytest.mark.parametrize("block", ["sum", "mean"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_a_reduction_over_no_dimension_is_refused(block: str, keepdim: bool) -> None:
    text = f"""\
vibench: 1
name: M
inputs: {{x: {{shape: [B, 4]}}}}
nodes:
  s: {{block: {block}, in: x, dim: [], keepdim: {str(keepdim).lower()}}}
outputs: {{y: s}}
"""
    with pytest.raises(SpecError) as err:
        vibench.check(text=text)
    (d,) = err.value.diagnostics
    assert (d.code, d.node, d.pos.line, d.pos.col) == ("E104", "s", 5, text.splitlines()[4].index("dim:") + 1)
    assert d.message == "`dim` names no dimension" and d.found == "[]"
    assert d.hint == "to reduce over every dimension, name them all: `dim: [0, 1]`"
    assert torch.randn(2, 4).sum(dim=[]).shape == ()  # why: torch reduces every dimension


# -- the loaders --------------------------------------------------------------------------------------------

TINY = TINY_REFERENCE_SPEC


class _BytesPath:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> bytes:
        return os.fsencode(self.path)


def _loaders(model: torch.nn.Module) -> list:
    return [load_reference_state_dict, sys.modules[type(model).__module__].load_reference_state_dict]


@pytest.mark.parametrize("kind", ["bytes", "os.PathLike of bytes"])
def test_both_loaders_read_a_bytes_path(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"classifier.weight": torch.ones(2, 3), "classifier.bias": torch.zeros(2)}, path)
    given = os.fsencode(path) if kind == "bytes" else _BytesPath(path)
    for loader in _loaders(build(TINY)):
        model = build(TINY)
        assert tuple(loader(model, given)) == ([], [])
        assert model.head.weight.sum().item() == 6.0
    assert set(read_checkpoint(_BytesPath(path))) == {"classifier.weight", "classifier.bias"}
    missing = tmp_path / "nope.pt"
    for loader in _loaders(build(TINY)):  # named as text in both
        with pytest.raises(KeyError, match=re.escape(f"cannot read the checkpoint {missing}: No")):  # model.py's own
            loader(build(TINY), _BytesPath(missing))


def test_both_loaders_refuse_a_nested_tensor_in_one_line() -> None:
    with warnings.catch_warnings():  # torch: nested tensors are a prototype
        warnings.simplefilter("ignore")
        nested = torch.nested.nested_tensor([torch.ones(3), torch.ones(3)])
    checkpoint = {"classifier.weight": nested, "classifier.bias": torch.ones(2)}
    model = build(TINY)
    for loader in _loaders(model):
        with pytest.raises(KeyError) as err:  # both loaders' errors are KeyErrors; torch's was a RuntimeError
            loader(model, checkpoint)
        assert str(err.value).endswith("'classifier.weight' (nested tensor)")


# -- I106: the reference's own value is no extension -------------------------------------------------------------

INFORMER = """\
model:
  type: Transformer
  name: Informer
  input_dim: 2
  d_model: 8
  n_heads: 2
  e_layers: 3
  d_ff: 8
  factor: 5
  num_classes: 3
"""


def _notes(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return [d.message.split("`")[1] for d in vibench.check(str(path)).warnings if d.code == "I106"]


@pytest.mark.parametrize(
    "setting",
    ["distil: false", "attention: top_k", "layout: BLC", "sampling_seed: 0", "sampling_seed: 0\n  attention: top_k"],
)
def test_the_references_own_value_gets_no_note(tmp_path: Path, setting: str) -> None:
    assert _notes(tmp_path, INFORMER + f"  {setting}\n") == []


def test_another_value_is_still_noted(tmp_path: Path) -> None:
    found = _notes(tmp_path, INFORMER + "  distil: true\n  layout: BCL\n  attention: prob_sparse\n  sampling_seed: 0\n")
    assert found == ["distil", "layout", "attention", "sampling_seed"]  # the seed samples under prob_sparse
    mwa = "model: {type: X_model, name: MWA_CNN, in_channels: 1, num_classes: 4, num_filters: 12, dropout: 0.2}\n"
    assert _notes(tmp_path, mwa) == ["dropout"]


def test_a_composites_components_take_their_references_values(tmp_path: Path) -> None:
    text = """\
        model:
          type: ISFM
          name: M_01_ISFM
          embedding: E_01_HSE
          backbone: B_04_Dlinear
          task_head: H_01_Linear_cla
          output_dim: 32
          num_patches: 8
          patch_size_L: 16
          patch_size_C: 1
          num_classes: {1: 3}
          eval_sampling: random
          moving_avg: 65
          return_feature: false
          task_id: null
          sampling_seed: 0
        """
    assert _notes(tmp_path, text) == ["sampling_seed"]  # E_01_HSE's names no value


def test_every_named_reference_value_is_a_setting_of_the_templates() -> None:
    """Each text that ends with a setting names a parameter of every template of that reference, with a value of
    that parameter's type: the note's suggestion compiles, and is the value that clears it."""
    library = Library()
    by_reference: dict[str, list] = {}
    for path in sorted(Path(LIBRARY_DIR).rglob("*.yaml")):
        unit, _ = library.load(library.find(path.relative_to(LIBRARY_DIR).with_suffix("").as_posix(), None, None), None)
        if unit.reference is not None:
            by_reference.setdefault(unit.reference.model, []).append(unit)
    named = 0
    for reference, keys in EXTENSIONS.items():
        for text in keys.values():
            setting = reference_setting(text)
            assert (setting is None) == (re.search(r"\(`[^()]*`\)$", text) is None), text  # no setting missed
            if setting is None:
                continue
            named += 1
            for unit in by_reference[reference]:
                decl = unit.param(setting[0])
                assert decl is not None, (reference, setting)
                assert not (isinstance(setting[1], bool) and "bool" not in decl.type), (reference, setting, decl.type)
    assert named > 50


def test_the_docs_say_the_references_value_clears_the_note() -> None:
    phm = (ROOT / "docs" / "phm.md").read_text(encoding="utf-8")
    errors = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert "the model then is not the reference's" not in phm
    assert "builds the reference's model and gets no note" in phm
    assert "write the value\nthe note names, which clears the note" in errors
