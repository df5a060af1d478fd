"""Two forms the language documents that the compiler refused (QA 1206).

* ``checkpoint:`` given by a parameter, as ``when:`` is: a ``${...}`` that gives a bool or a bare parameter
  name, evaluated with the node's values; the parameter counts as used, and the model differs only where
  checkpointing is on.
* A ``tuple[T, ...]`` (or fixed-length ``tuple[A, B]``) parameter given a list, as YAML, JSON and ``--set``
  write it: kept as a list, read by ``${ks[0]}``, passed to block and composite parameters, written to
  model.py so that its class takes the list or a tuple back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import ROOT, load_file_module
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic

CHECKPOINTED = """
vibench: 1
name: Recomputed
params:
  recompute: {type: bool, default: true}
inputs:
  x: {shape: [B, 4, 64]}
blocks:
  Pair:
    params:
      cout: {type: int, default: 8}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: "${cout}", kernel_size: 3, padding: 1}
      drop: {block: dropout, in: conv, p: 0.2}
      act: {block: gelu, in: drop}
    outputs: {y: act}
nodes:
  first: {block: Pair, in: x, checkpoint: FLAG}
  deep: {block: Pair, in: first, repeat: 2, checkpoint: FLAG}
  head: {block: conv1d, in: deep, out_channels: 2, kernel_size: 1, checkpoint: FLAG}
outputs: {y: head}
"""

EXPRESSION, NAME = '"${recompute}"', "recompute"


def _spec(flag: str) -> str:
    return CHECKPOINTED.replace("FLAG", flag)


def _error(text: str, **params: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, params=params or None)
    return [d for d in info.value.diagnostics if d.severity == "error"][0]  # the first node's, of several


@pytest.mark.parametrize("flag", [EXPRESSION, NAME])
def test_checkpoint_from_a_parameter_switches_only_the_checkpointed_calls(flag: str) -> None:
    on = vibench.compile_spec(text=_spec(flag)).source
    off = vibench.compile_spec(text=_spec(flag), params={"recompute": False}).source
    assert "_checkpoint(self.first, x)" in on and "_checkpoint(self.head," in on
    assert "_checkpoint" not in off and "torch.utils.checkpoint" not in off
    # Off, it is the model a literal `checkpoint: false` gives (only the header's digest of the spec differs).
    literal = vibench.compile_spec(text=_spec("false"), params={"recompute": False}).source
    assert off.split("\n", 1)[1] == literal.split("\n", 1)[1]
    literal_on = vibench.compile_spec(text=_spec("true")).source
    assert on.split("\n", 1)[1] == literal_on.split("\n", 1)[1]


@pytest.mark.parametrize("flag", [EXPRESSION, NAME])
def test_a_parameter_only_checkpoint_reads_is_used(flag: str) -> None:
    program = vibench.check(text=_spec(flag))
    assert [w.code for w in program.warnings if w.code == "W105"] == []
    # The literal form leaves the parameter unread: the warning that says so still fires.
    assert "W105" in [w.code for w in vibench.check(text=_spec("true")).warnings]


@pytest.mark.parametrize("flag", [EXPRESSION, NAME])
def test_a_train_step_with_checkpointing_on_and_off_gives_the_same_weights(flag: str) -> None:
    plain = vibench.build(text=_spec(flag), recompute=False).train()
    saved = vibench.build(text=_spec(flag), recompute=True).train()
    saved.load_state_dict(plain.state_dict())
    x = torch.randn(3, 4, 64)
    for model in (plain, saved):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        torch.manual_seed(7)  # the same dropout masks, which the recomputation draws again
        model(x).square().mean().backward()
        optimizer.step()
    for (key, after), (_, other) in zip(plain.state_dict().items(), saved.state_dict().items(), strict=True):
        torch.testing.assert_close(other, after, msg=key)


def test_checkpoint_of_a_composite_parameter_is_read_per_copy() -> None:
    """Inside a composite block, `checkpoint:` reads the block's own parameter, set by each node that uses it."""
    text = """
vibench: 1
name: Inner
inputs: {x: {shape: [B, 4, 16]}}
blocks:
  Stage:
    params: {save: {type: bool, default: false}}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, checkpoint: save}
    outputs: {y: conv}
nodes:
  a: {block: Stage, in: x, save: true}
  b: {block: Stage, in: a}
outputs: {y: b}
"""
    source = vibench.compile_spec(text=text).source
    assert source.count("_checkpoint(self.conv, x)") == 1  # in the class of `a`'s Stage only
    assert "self.a = Stage()" in source and "self.b = Stage()" not in source  # `b`'s is a plain chain of layers
    model = vibench.build(text=text).train()
    model(torch.randn(2, 4, 16)).sum().backward()


def test_a_checkpoint_expression_that_gives_no_bool_is_located() -> None:
    d = _error(_spec('"${3}"'))
    assert (d.code, d.message) == ("E211", "`checkpoint` of node `first` must be true or false")
    assert d.expected == "true or false" and d.found == "3"
    assert d.pos is not None and (d.pos.line, d.pos.col) == (19, 43)  # the `${3}` of node `first`


def test_a_checkpoint_name_that_reads_nothing_says_the_nearest() -> None:
    d = _error(_spec("recompte"))
    assert d.code == "E211" and "`checkpoint` of node `first` must be true, false, a parameter's name" in d.message
    assert d.hint == "did you mean `recompute`?"
    assert d.pos is not None and (d.pos.line, d.pos.col) == (19, 43)


def test_checkpoint_text_that_is_no_name_or_expression_is_refused() -> None:
    d = _error(_spec('"yes please"'))
    assert d.code == "E211" and d.message == "`checkpoint` of node `first` must be true, false or `${...}`"
    assert d.pos is not None and (d.pos.line, d.pos.col) == (19, 43)


def test_checkpoint_turned_on_by_a_parameter_still_needs_a_submodule() -> None:
    text = _spec("false").replace("act: {block: gelu, in: drop}",
                                  "act: {block: gelu, in: drop, checkpoint: save}").replace(
        "cout: {type: int, default: 8}", "cout: {type: int, default: 8}\n      save: {type: bool, default: false}")
    assert vibench.check(text=text) is not None  # off: nothing to check
    d = _error(text.replace("save: {type: bool, default: false}", "save: {type: bool, default: true}"))
    assert d.code == "E211" and "needs a node with a submodule" in d.message


def test_the_json_schema_takes_the_expression_and_name_forms() -> None:
    schema = json.loads(Path(ROOT, "vibench", "schemas", "spec.schema.json").read_text(encoding="utf-8"))
    kinds = {m["type"] for m in schema["$defs"]["node_checkpoint"]["anyOf"]}
    assert kinds == {"boolean", "string"}


# -- tuple parameters ------------------------------------------------------------------------------------

TUPLES = """
vibench: 1
name: Tuples
params:
  ks: {type: "tuple[int, ...]"DEFAULT}
  pair: {type: "tuple[int, int]", default: [4, 8]}
inputs: {x: {shape: [B, 8, 32]}}
blocks:
  Widths:
    params:
      widths: {type: "list[int]"}
      shape: {type: "tuple[int, int]"}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: "${widths[0]}", kernel_size: 1}
      flat: {block: reshape, in: conv, shape: "${[-1] + shape}"}
    outputs: {y: flat}
nodes:
  parts: {block: split, in: x, sizes: ks, dim: 1}
  conv: {block: conv1d, in: parts.0, out_channels: 4, kernel_size: "${ks[0]}"}
  w: {block: Widths, in: parts.1, widths: ks, shape: pair}
outputs: {y: w, z: conv}
"""


def _tuples(default: str | None = "[3, 5]") -> str:
    return TUPLES.replace("DEFAULT", "" if default is None else f", default: {default}")


def test_a_tuple_default_written_as_a_list_compiles_and_runs() -> None:
    params = dict(vibench.check(text=_tuples()).root.params)
    assert params["ks"] == [3, 5] and params["pair"] == [4, 8]
    source = vibench.compile_spec(text=_tuples()).source
    assert 'COMPILED_PARAMETERS = {"ks": [3, 5], "pair": [4, 8]}' in source
    assert "torch.split(x, [3, 5], dim=1)" in source and "reshape(-1, 4, 8)" in source
    out = vibench.build(text=_tuples())(torch.randn(2, 8, 32))
    assert out["y"].shape == (6, 4, 8) and out["z"].shape == (2, 4, 30)


def test_a_python_tuple_is_kept_as_the_list_yaml_writes() -> None:
    params = dict(vibench.check(text=_tuples(None), params={"ks": (3, 5), "pair": (4, 8)}).root.params)
    assert params["ks"] == [3, 5] and params["pair"] == [4, 8]
    nested = "vibench: 1\nname: N\nparams:\n  pairs: {type: \"list[tuple[int, int]]\", default: [[1, 2], [3, 4]]}\n" \
        "inputs: {x: {shape: [B, 4]}}\nnodes:\n  fc: {block: linear, in: x, out_features: \"${pairs[0][1]}\"}\n" \
        "outputs: {y: fc}\n"
    assert dict(vibench.check(text=nested).root.params)["pairs"] == [[1, 2], [3, 4]]
    assert dict(vibench.check(text=nested, params={"pairs": [(5, 6)]}).root.params)["pairs"] == [[5, 6]]


def test_a_fixed_length_tuple_checks_its_length() -> None:
    d = _error(_tuples().replace("default: [4, 8]", "default: [4, 8, 16]"))
    assert d.code == "E210" and "expected tuple[int, int]: must have exactly 2 items, found 3" in d.message
    d = _error(_tuples(), pair=[4])
    assert d.code == "E202" and d.expected == "tuple[int, int]"
    assert "must have exactly 2 items, found 1" in d.notes
    d = _error(_tuples(), ks=[3, "5"])
    assert d.code == "E202" and "[1] is not an integer" in d.notes


def test_a_tuple_from_set_compiles_to_a_class_that_takes_a_list_or_a_tuple(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "tuples.yaml"
    spec.write_text(_tuples(None), encoding="utf-8")
    out = tmp_path / "model_1206.py"
    assert main([str(spec), "-o", str(out), "--set", "ks=[3,5]"]) == 0, capsys.readouterr().err
    source = out.read_text(encoding="utf-8")
    assert "--set 'ks=[3,5]'" in source  # the regenerate line round-trips
    assert 'COMPILED_PARAMETERS = {"ks": [3, 5], "pair": [4, 8]}' in source
    module = load_file_module(str(out), "model_1206")
    x = torch.randn(2, 8, 32)
    for given in ({}, {"ks": [3, 5]}, {"ks": (3, 5)}, {"ks": (3, 5), "pair": (4, 8)}):
        assert module.Tuples(**given)(x)["y"].shape == (6, 4, 8)
    with pytest.raises(ValueError, match=r"ks=\(3, 4\) differs from the value this file was compiled"):
        module.Tuples(ks=(3, 4))
    assert main([str(spec), "--check", "--set", "ks=[3,5,1]"]) == 1  # the split needs 8 channels: E3xx, no crash
    assert "Traceback" not in capsys.readouterr().err
    assert main([str(spec), "--check", "--set", "pair=[4,8,1]"]) == 1
    err = capsys.readouterr().err
    assert "error[E202]: wrong type for parameter `pair`" in err and "must have exactly 2 items, found 3" in err
