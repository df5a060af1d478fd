"""vibench-lsp completion against the QA pass of 1206g: it offers only what the compiler takes at the cursor.

* Node references: a bare ``split``/``chunk`` node (numbered outputs) and a bare ``for_each`` node over a mapping
  name nothing (E405); a bare ``for_each`` node over a list is the list of its copies, which only a block that takes
  a list of inputs (``concat``) takes whole, in its ``in:`` as a name or list item. Each such node was offered bare,
  a ``for_each`` one with the shape of one copy. Every name offered is compiled in its place and read there (the
  oracle), and every bare name left out is E405 there.
* A block parameter's fixed values (``padding_mode: zeros``) complete: the catalogue gave no block parameter its
  ``choices``.
* A block parameter that takes no text offers only the spec's names of a type it takes (``bias: width`` is E112).

Driven over real LSP JSON-RPC as tests/test_lsp.py drives the server; what is expected comes from the compiler
and the block registry.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

import vibench  # noqa: E402
from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import marked  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from vibench.compiler import registry  # noqa: E402
from vibench.compiler.diagnostics import SpecError  # noqa: E402
from vibench.lsp.catalog import Catalog  # noqa: E402

BLOCKS = registry.all_blocks()

# ⟨place⟩default: each place is completed with its value removed; elsewhere it holds its default.
SPEC = """\
vibench: 1
name: Refs
params:
  width: 8
  f: 0.5
  flag: true
  act: {type: str, default: relu, choices: [relu, gelu]}
  sizes: {type: "list[int]", default: [1, 2]}
let: {twice: "${width * 2}"}
inputs: {x: {shape: [B, 4, 16]}}
nodes:
  sp: {block: split, in: x, sizes: [2, 2], dim: 1}
  br: {block: conv1d, for_each: [2, 3], in: x, out_channels: "${item}", kernel_size: 1}
  hd: {block: conv1d, for_each: {a: 2, b: 3}, in: x, out_channels: "${item}", kernel_size: 1}
  solo: {block: conv1d, for_each: [4], in: x, out_channels: "${item}", kernel_size: 1}
  cat: {block: concat, in: [br, sp.0], dim: 1}
  conv: {block: conv1d, in: x, out_channels: 8, kernel_size: ⟨kernel⟩1, padding_mode: ⟨mode⟩zeros, bias: ⟨bias⟩true}
  bn: {block: batch_norm1d, in: x, eps: ⟨eps⟩0.001}
  mn: {block: mean, in: x, dim: ⟨dim⟩2}
  p_relu: {block: relu, in: ⟨relu⟩x}
  p_port: {block: relu, in: {x: ⟨port⟩x}}
  p_item: {block: concat, in: [sp.1, ⟨item⟩x], dim: 1}
  p_whole: {block: concat, in: ⟨whole⟩br, dim: 1}
outputs: {y: cat, s: sp.1, a: hd.a, b: hd.b, o: solo.0, z: br.1, c: conv, n: bn, m: mn, r: p_relu, p: p_port,
          i: p_item, w: p_whole, e: ⟨out⟩x}
"""
DEFAULTS = {"kernel": "1", "mode": "zeros", "bias": "true", "eps": "0.001", "dim": "2", "relu": "x", "port": "x",
            "item": "x", "whole": "br", "out": "x"}
PARAMS = {"width", "f", "flag", "act", "sizes"}


def spec(**values: str) -> str:
    """SPEC with each place holding ``values``' text, or its default; a place given None keeps its mark."""
    text = SPEC
    for place, default in DEFAULTS.items():
        value = values.get(place, default)
        text = text.replace(f"⟨{place}⟩{default}", f"⟨{place}⟩" if value is None else value)
    return text


def codes(text: str) -> set[str]:
    """The compiler's error codes for ``text`` (warnings left out); empty when it compiles."""
    try:
        vibench.check(text=text)
    except SpecError as err:
        return {d.code for d in err.diagnostics if d.code.startswith("E")}
    return set()


@pytest.fixture(scope="module")
def lsp():
    server = start_vibench_server()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def opened(lsp: LanguageServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The spec, opened and checked (its shapes are those completion shows)."""
    assert codes(spec()) == set()
    path = tmp_path_factory.mktemp("completion") / "refs.yaml"
    path.write_text(spec())
    uri = file_uri(path)
    lsp.open(uri, spec())
    assert [d for d in lsp.diagnostics(uri) if d["severity"] == 1] == []
    return uri


def complete(lsp: LanguageServer, uri: str, place: str, text: str | None = None) -> list[dict[str, Any]]:
    """The items at ``place`` with its value removed (the text no longer compiles: the last good check serves)."""
    clean, marks = marked(text if text is not None else spec(**{place: None}))
    lsp.change(uri, clean)
    assert lsp.diagnostics(uri)  # waits for the check of the edited text
    return lsp.completion(uri, *marks[place])


def labels(items: list[dict[str, Any]]) -> set[str]:
    return {i["label"] for i in items}


# --------------------------------------------------------------------------------------------
# 1. node references: only what compiles there
# --------------------------------------------------------------------------------------------

NAMED = {"x", "sp.0", "sp.1", "br.0", "br.1", "hd.a", "hd.b", "solo.0", "cat", "conv", "bn", "mn"}
PROBES = {"p_relu", "p_port", "p_item", "p_whole"}


@pytest.mark.parametrize(("place", "reader", "lists"), [("relu", "p_relu", set()), ("port", "p_port", set()),
                                                        ("item", "p_item", {"br", "solo"}), ("out", None, set())])
def test_references_offer_only_the_spellings_the_compiler_takes(lsp: LanguageServer, opened: str, place: str,
                                                                reader: str | None, lists: set[str]) -> None:
    """A bare `sp` (split) and `hd` (for_each over a mapping) nowhere; a bare `br`/`solo` (for_each over a list)
    only in a `concat`'s `in:` list; `br.0`, `hd.a`... everywhere."""
    offered = labels(complete(lsp, opened, place))
    assert offered == NAMED | lists | (PROBES - {reader})
    for label in sorted(NAMED | lists):  # the oracle: each is read there (`mn`'s rank may not fit: a shape error)
        assert {c for c in codes(spec(**{place: label})) if c.startswith("E4")} == set(), label
    for bare in sorted({"sp", "hd", "br", "solo"} - lists):
        assert "E405" in codes(spec(**{place: bare})), bare


def test_the_whole_in_of_a_concat_offers_only_for_each_lists(lsp: LanguageServer, opened: str) -> None:
    """`in: br` gives `concat` the list of br's copies; one value (`in: x`, `in: br.0`) is one input of the two
    it needs: E405."""
    offered = labels(complete(lsp, opened, "whole"))
    assert offered == {"br", "solo"}
    for label in sorted(offered):
        assert codes(spec(whole=label)) == set(), label
    for label in sorted(NAMED | PROBES - {"p_whole"} | {"sp", "hd"}):
        assert "E405" in codes(spec(whole=label)), label


def test_reference_details_say_what_a_for_each_node_is(lsp: LanguageServer, opened: str) -> None:
    program = vibench.check(text=spec())
    root = program.root
    items = {i["label"]: i["detail"] for i in complete(lsp, opened, "item")}
    assert items["br"] == "node, the list of its 2 copies" and items["solo"] == "node, the list of its 1 copy"
    from vibench.compiler.symbolic import fmt_shape

    for copy, tensor in root.node("br").outputs:
        assert items[f"br.{copy}"] == f"copy `{copy}` of br {fmt_shape(tensor.shape)}"
    assert items["hd.b"] == f"copy `b` of hd {fmt_shape(root.node('b').outputs[0][1].shape)}"
    assert items["sp.1"] == f"output `1` of sp {fmt_shape(root.node('sp').output('1').shape)}"


def test_nodes_the_last_check_does_not_know_are_read_from_the_text(lsp: LanguageServer, opened: str) -> None:
    """New nodes since the last good check: a chunk (its pieces counted by its parameters: `.0` always), for_each
    over a list (its copies counted), a mapping (its keys) or an expression (unknown: nothing offered)."""
    new = ("  n_chunk: {block: chunk, in: x, chunks: 3, dim: 1}\n"
           "  n_list: {block: relu, for_each: [1, 2, 3], in: x}\n"
           "  n_map: {block: relu, for_each: {u: 1, v: 2}, in: x}\n"
           "  n_expr: {block: relu, for_each: sizes, in: x}\n")
    for place, whole in (("relu", False), ("item", True)):
        text = spec(**{place: None}).replace("  sp: {", new + "  sp: {")
        offered = labels(complete(lsp, opened, place, text)) - NAMED - PROBES - {"br", "solo"}
        assert offered == {"n_chunk.0", "n_list.0", "n_list.1", "n_list.2", "n_map.u", "n_map.v"} | (
            {"n_list"} if whole else set())


# --------------------------------------------------------------------------------------------
# 2. a block parameter's fixed values
# --------------------------------------------------------------------------------------------


def _literals(annotation: Any) -> list[Any]:
    """The values of the Literal members of a field's type (not inside a list), in order: the oracle."""
    if typing.get_origin(annotation) is Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [v for member in typing.get_args(annotation) for v in _literals(member)]
    if typing.get_origin(annotation) is typing.Annotated:
        return _literals(typing.get_args(annotation)[0])
    return []


def test_every_block_parameter_has_its_literal_values_as_choices() -> None:
    catalog = Catalog()
    found = 0
    for name, block in BLOCKS.items():
        params = catalog.block_params(name)
        for field, info in block.Params.model_fields.items():
            values = [v for v in dict.fromkeys(_literals(info.annotation)) if v is not None]
            assert params[field].choices == (tuple(values) or None), (name, field)
            found += bool(values)
    assert found >= 10  # padding_mode, padding, activation, norm, ...


def test_a_block_parameters_fixed_values_complete(lsp: LanguageServer, opened: str) -> None:
    modes = _literals(BLOCKS["conv1d"].Params.model_fields["padding_mode"].annotation)
    items = complete(lsp, opened, "mode")
    assert [i["label"] for i in items] == modes  # ["zeros", "reflect", "replicate", "circular"]: no names
    for mode in modes:
        assert codes(spec(mode=mode)) == set()


# --------------------------------------------------------------------------------------------
# 3. names of the type a block parameter takes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("place", "names"), [("bias", {"flag"}), ("kernel", {"width"}), ("eps", {"width", "f"}),
                                              ("dim", {"width", "sizes"})])
def test_a_parameter_offers_the_names_of_a_type_it_takes(lsp: LanguageServer, opened: str, place: str,
                                                         names: set[str]) -> None:
    """`bias` (bool): `flag`; `kernel_size` (int): `width`; `eps` (float): an int too; `dim` (int | list[int]):
    `width`, `sizes`. A `let` value (its type not written) is always offered. Each name left out is E112 there."""
    offered = labels(complete(lsp, opened, place)) - {"true", "false"}
    assert offered == names | {"twice"}
    for name in sorted(names):
        assert "E112" not in codes(spec(**{place: name})), name
    for name in sorted(PARAMS - names):
        assert "E112" in codes(spec(**{place: name})), name


def test_the_qa_repro(lsp: LanguageServer, tmp_path: Path) -> None:
    """/tmp/qa_schema/repro/lsp_repro.py: `in:` after a split, `padding_mode:` and `bias:` of conv1d."""
    good = ("vibench: 1\nname: M\nparams: {width: 8, act: {type: str, default: relu, choices: [relu, gelu]}}\n"
            "inputs: {x: {shape: [B, 4, 16]}}\nnodes:\n  sp: {block: split, in: x, sizes: [2, 2], dim: 1}\n"
            "  c1: {block: conv1d, in: sp.0, out_channels: width, kernel_size: 1, padding_mode: zeros, bias: true}\n"
            "  fin: {block: relu, in: c1}\noutputs: {y: fin}\n")
    path = tmp_path / "repro.yaml"
    path.write_text(good)
    uri = file_uri(path)
    lsp.open(uri, good)
    lsp.diagnostics(uri)
    edited = good.replace("in: c1}", "in: ⟨ref⟩}").replace("padding_mode: zeros", "padding_mode: ⟨enum⟩")
    edited = edited.replace("bias: true", "bias: ⟨flag⟩")
    assert labels(complete(lsp, uri, "ref", edited)) == {"x", "sp.0", "sp.1", "c1"}
    assert labels(complete(lsp, uri, "enum", edited)) == {"zeros", "reflect", "replicate", "circular"}
    assert labels(complete(lsp, uri, "flag", edited)) == {"true", "false"}
