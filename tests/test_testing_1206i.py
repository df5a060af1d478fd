"""vibench.testing, QA round 1206i: a native that returns no tensor is a finding naming the output, not
an AttributeError out of check_runtime; a routing input given as sizes holds ids its heads serve (the
documented block-test pattern and the shipped ISFM models ran into "system_id holds 0, which has no
head"); a ``fill`` its dtype cannot hold, two sizes for one symbol and arguments of the wrong kind are
errors in the caller's words; floats drawn within the field's bounds; chains keep a multi-piece chunk;
spec text quotes names; a regression's kind cannot name a file outside its folder.
"""

from __future__ import annotations

import math
import os
import random
from typing import Any

import pytest
import torch
import yaml
from hypothesis import given, seed, settings
from pydantic import Field
from torch import nn

import vibench
from vibench import testing
from vibench.compiler import registry
from vibench.compiler.blocks import base
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.schemas.blocks import BlockParams
from vibench.testing import TensorCase, oracles_runtime, params, regressions, runtime_inputs

QUICK = settings(max_examples=15, deadline=None, derandomize=True, database=None)


# -- blocks that say one thing and do another ---------------------------------------------------


class PairOut(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x


class NoneOut(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return None  # type: ignore[return-value]


class NoParams(BlockParams):
    pass


class PairBlock(base.Block):
    """Claims one output, returns a pair."""

    name, Params, natives = "pair_liar", NoParams, (PairOut,)

    def infer(self, p: Any, ins: list, ctx: Any) -> list:
        return [ins[0]]

    def init_code(self, p: Any) -> Any:
        return c.call("PairOut")


class NoneBlock(PairBlock):
    """Claims one output, returns None."""

    name, natives = "none_liar", (NoneOut,)

    def init_code(self, p: Any) -> Any:
        return c.call("NoneOut")


class TinyParams(BlockParams):
    eps: float = Field(gt=0, lt=1e-7, description="A tiny positive number.")


class TinyBlock(base.Block):
    """A required float parameter of a range that 6 decimals collapse to 0.0."""

    name, Params = "tiny_eps", TinyParams

    def infer(self, p: Any, ins: list, ctx: Any) -> list:
        return [TensorType(ins[0].shape, ins[0].dtype)]


@pytest.fixture
def liars(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.all_blocks()
    monkeypatch.setattr(registry, "_BLOCKS", {**registry._BLOCKS, "pair_liar": PairBlock(),
                                              "none_liar": NoneBlock(), "tiny_eps": TinyBlock()})


def one_block(block: str) -> str:
    return (f"vibench: 1\nname: C\ninputs: {{x: {{shape: [B, 2, L]}}}}\nnodes:\n  h: {{block: {block}, in: x}}\n"
            "outputs: {y: h}\n")


@pytest.mark.usefixtures("liars")
@pytest.mark.parametrize(("block", "returned"), [("pair_liar", "tuple"), ("none_liar", "None")])
def test_a_native_that_returns_no_tensor_is_a_finding_naming_the_output(block: str, returned: str) -> None:
    findings = testing.check_runtime(one_block(block), {"x": (2, 2, 8)}, backends=())
    assert findings == [testing.Finding("shape-mismatch", f"output y: torch returned {returned}, static [B, 2, L]",
                                        "shape-mismatch:type")]


def test_another_count_of_values_than_the_outputs_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ("vibench: 1\nname: Two\ninputs: {x: {shape: [B, 4]}}\nnodes: {r: {block: relu, in: x}}\n"
            "outputs: {a: r, b: r}\n")

    class Three(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return x, x, x

    monkeypatch.setattr(vibench, "build", lambda **kwargs: Three())
    findings = testing.check_runtime(spec, {"x": (2, 4)}, backends=())
    assert findings == [testing.Finding("shape-mismatch", "forward returned 3 values for the 2 outputs a, b",
                                        "shape-mismatch:count")]


@pytest.mark.parametrize(("result", "said"), [
    ((1, 2, 3), "forward returned 3 values for the 2 outputs a, b"),  # zip(strict=False) dropped the surplus
    ((1,), "forward returned 1 values for the 2 outputs a, b"),
    (None, "forward returned None, not one value for each of the 2 outputs a, b"),
])
def test_as_dict_refuses_another_count_of_values(result: Any, said: str) -> None:
    with pytest.raises(oracles_runtime.OutputMismatch, match=f"^{said}$"):
        oracles_runtime._as_dict(result, ["a", "b"])
    assert oracles_runtime._as_dict((1, 2), ["a", "b"]) == {"a": 1, "b": 2}


# -- routing inputs -----------------------------------------------------------------------------

ROUTED = """vibench: 1
name: M
inputs:
  x: {shape: [B, 8]}
  sid: {shape: [B], dtype: int64}
nodes:
  head: {block: isfm_system_classifier, in: {x: x, system_id: sid}, num_classes: {"3": 4, "7": 5}}
outputs: {y: head}
"""


def test_a_routing_input_given_as_sizes_holds_the_ids_its_heads_serve() -> None:
    # drawn in {0, 1} before: "SystemRouter: system_id holds 0, 1, which have no head (heads: 3, 7)"
    assert testing.check_runtime(ROUTED, {"x": (4, 8), "sid": (4,)}, backends=()) == []
    cases = (TensorCase("x", ("B", 8), (4, 8)), TensorCase("sid", ("B",), (4,), "int64"))
    assert testing.check_runtime(ROUTED, cases, backends=()) == []  # a TensorCase without a fill too
    program = vibench.check(text=ROUTED, inputs={"x": (4, 8), "sid": (4,)})
    assert runtime_inputs.routing_ids(program.root, "sid") == (3, 7)
    assert runtime_inputs.routing_ids(program.root, "x") == ()
    drawn = testing.random_inputs((TensorCase("sid", ("B",), (64,), "int64", choices=(3, 7)),))[0]
    assert set(drawn.tolist()) == {3, 7}


def test_a_fill_naming_no_head_is_an_error_naming_the_input() -> None:
    cases = (TensorCase("x", ("B", 8), (2, 8)), TensorCase("sid", ("B",), (2,), "int64", fill=1))
    with pytest.raises(ValueError, match=r"^inputs gives 'sid' the fill 1, a system id the model has no head for: "
                                         r"its heads serve the systems 3, 7$"):
        testing.check_runtime(ROUTED, cases, backends=())


def test_a_shipped_model_routing_inside_composites_runs_on_sizes_alone() -> None:
    path = os.path.join(os.path.dirname(vibench.__file__), "specs", "isfm", "M_01_ISFM.yaml")
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    sizes = {"x": (2, 64, 64), "fs": (2,), "system_id": (2,)}
    assert testing.check_runtime(text, sizes, backends=()) == []


@seed(0)
@QUICK
@given(testing.block_cases("isfm_system_classifier"))
def test_the_documented_block_test_passes_for_a_routing_block(case: testing.BlockCase) -> None:
    case, _ = testing.compile_case(case)
    assert testing.check_runtime(case.text, case.bindings, backends=()) == []


# -- fill, sizes, arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(("fill", "dtype", "said"), [
    (2**70, "int64", "outside the range of int64"),
    (math.nan, "int64", "which the int64 input cannot hold"),
    (1.5, "int64", r"which the int64 input cannot hold \(torch would make it 1\)"),
    (2, "bool", r"outside the range of bool \(0 to 1\)"),
    (1e300, "float32", "beyond the range of float32"),
])
def test_a_fill_its_dtype_cannot_hold_is_an_error_naming_the_input(fill: Any, dtype: str, said: str) -> None:
    case = TensorCase("ids", ("B",), (2,), dtype, fill=fill)
    with pytest.raises(ValueError, match=rf"^inputs\[0\]: the fill of 'ids' is .*{said}"):
        testing.random_inputs((case,))
    spec = f"vibench: 1\nname: M\ninputs: {{ids: {{shape: [B], dtype: {dtype}}}}}\noutputs: {{y: ids}}\n"
    with pytest.raises(ValueError, match=rf"^inputs: the fill of 'ids' is .*{said}"):
        testing.check_runtime(spec, (case,), backends=())


def test_a_fill_a_dtype_holds_is_drawn_exactly() -> None:
    big, whole, nan = testing.random_inputs((TensorCase("a", ("B",), (2,), "float32", fill=2**70),
                                             TensorCase("b", ("B",), (2,), "int64", fill=3.0),
                                             TensorCase("c", ("B",), (2,), "float64", fill=math.nan)))
    assert big.tolist() == [2.0**70] * 2 and whole.tolist() == [3, 3] and whole.dtype == torch.int64
    assert torch.isnan(nan).all()


def test_two_sizes_for_one_symbol_is_an_error_naming_both_inputs() -> None:
    spec = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}, y: {shape: [B, 4]}}\n"
            "nodes: {s: {block: add, in: [x, y]}}\noutputs: {z: s}\n")
    with pytest.raises(ValueError, match=r"^inputs gives B two sizes: 2 in 'x' \(2, 4\) \(axis 0 of \[B, 4\]\) and "
                                         r"3 in 'y' \(3, 4\) \(axis 0 of \[B, 4\]\): give B one size in every input$"):
        testing.check_runtime(spec, {"x": (2, 4), "y": (3, 4)}, backends=())
    assert testing.check_runtime(spec, {"x": (3, 4), "y": (3, 4)}, backends=()) == []


X = TensorCase("x", ("B",), (2,))


@pytest.mark.parametrize(("call", "error", "said"), [
    (lambda: testing.mutate("a: 1\n", 3), TypeError, r"^rng is a random.Random .*not int: write random.Random\(3\)$"),
    (lambda: testing.mutate(None, random.Random(0)), TypeError, "^text is the spec's YAML or JSON as a str, not None"),
    (lambda: testing.mutate(b"a: 1\n", random.Random(0)), TypeError, "not bytes: decode it first"),
    (lambda: testing.random_inputs((TensorCase("x", ("B",), (2,), "flaot"),)), ValueError,
     r"^inputs\[0\]: the dtype of 'x' is 'flaot', no dtype of vibench"),
    (lambda: testing.random_inputs("x"), TypeError, "^inputs is a sequence of vibench.testing.TensorCase"),
    (lambda: testing.random_inputs({"x": (2, 1, 8)}), TypeError, "not a dict of sizes as check_runtime takes it"),
    (lambda: testing.random_inputs((X,), seed="a"), TypeError, r"^seed is an int, not str \('a'\)$"),
    (lambda: testing.random_inputs((X,), seed=2**64), ValueError, "^seed is an int from -2"),
    (lambda: testing.random_inputs((X, 3)), TypeError, r"^inputs\[1\] is a vibench.testing.TensorCase, not int$"),
    (lambda: testing.random_inputs((TensorCase("x", ("B", "B"), (2**20, 2**20)),)), ValueError,
     r"^inputs\[0\] gives 'x' the sizes \(1048576, 1048576\): 1099511627776 elements, more than .* 2\*\*28"),
    (lambda: testing.random_inputs((TensorCase("x", ("B",), (-2,)),)), ValueError,
     r"^inputs\[0\]: the sizes of 'x' are integers >= 0, got \(-2,\)$"),
    (lambda: testing.random_inputs((TensorCase("x", ("B",), (2.0,)),)), TypeError,  # type: ignore[arg-type]
     r"^inputs\[0\]: the sizes of 'x' are ints, not float"),
    (lambda: testing.one_node_spec("relu", [], ()), TypeError, "^params is a dict of parameter name -> value"),
    (lambda: testing.one_node_spec("relu", {}, (X,), outputs=("0, z: x",)), ValueError, "^outputs: a port name"),
])
def test_arguments_of_the_wrong_kind_or_value_are_errors_in_the_callers_words(call: Any, error: type,
                                                                              said: str) -> None:
    with pytest.raises(error, match=said):
        call()


# -- parameters and chains ----------------------------------------------------------------------


@pytest.mark.usefixtures("liars")
def test_a_float_is_drawn_within_its_fields_bounds_however_narrow() -> None:
    @QUICK
    @given(testing.block_params("tiny_eps"))
    def draw(values: dict[str, Any]) -> None:
        assert 0 < values["eps"] < 1e-7  # 0.0 before: round(..., 6)

    draw()
    assert params._grid_point(0.0, 1.0, 7, False, False) == 0.35  # short literals, as before
    assert params._grid_point(0.0, 1e-7, 1, True, True) == 5e-09  # 6 decimals: 0.0, outside gt=0


def test_a_range_without_a_float_of_its_grid_is_an_error_when_the_strategy_is_made() -> None:
    with pytest.raises(ValueError, match="no float of its grid lies within its bounds"):
        params._float_strategy(0.0, 5e-324, True, True)


def test_an_integer_is_drawn_within_fractional_bounds_and_an_empty_range_is_said() -> None:
    # ge=2.5 drew 2 (int(2.5)); gt=0, lt=1 holds no whole number and failed inside the draw, unnamed.
    @QUICK
    @given(params._int_strategy(2.5, 9.5, False, False))
    def draw(value: int) -> None:
        assert 3 <= value <= 9

    draw()
    with pytest.raises(ValueError, match="no whole number lies within its bounds"):
        params._int_strategy(0, 1, True, True)


def test_chain_specs_keeps_chunks_and_splits_of_several_pieces() -> None:
    kept: list[str] = []

    @settings(max_examples=20, deadline=None, derandomize=True, database=None)
    @given(testing.chain_specs(max_nodes=2, blocks=["chunk", "relu"]))
    def draw(chain: testing.ChainCase) -> None:
        vibench.check(text=chain.text, inputs=chain.bindings)
        nodes = yaml.safe_load(chain.text)["nodes"]
        kept.extend(name for name, node in nodes.items() if node["block"] == "chunk" and node.get("chunks", 1) > 1)

    draw()
    assert kept  # every multi-piece chunk was dropped: `y: n0` reads a node of numbered outputs (E405)


# -- spec text and regressions ------------------------------------------------------------------


def test_names_that_are_no_plain_word_are_quoted_in_spec_text() -> None:
    text = testing.one_node_spec("linear", {"out_features: 5, bias": False}, (TensorCase("x", ("B", 8), (2, 8)),))
    assert yaml.safe_load(text)["nodes"]["layer"] == {"block": "linear", "in": "x", "out_features: 5, bias": False}
    text = testing.BlockCase("relu", {}, (TensorCase("x", ("B", 8), (2, 8), "float32}, y: {shape: [B]"),)).text
    assert yaml.safe_load(text)["inputs"] == {"x": {"shape": ["B", 8], "dtype": "float32}, y: {shape: [B]"}}
    text = testing.one_node_spec("relu", {}, (TensorCase("on", ("B", 8), (2, 8)),))
    assert [name for name, _ in vibench.check(text=text, inputs={"on": (2, 8)}).root.inputs] == ["on"]
    plain = testing.one_node_spec("relu", {}, (TensorCase("x", ("B", 8), (2, 8)),))
    assert "  x: {shape: [\"B\", 8], dtype: float32}\n" in plain  # plain words stay as they were written


@pytest.mark.parametrize("kind", ["../escaped", "a/b", "x" * 300, ""])
def test_a_regression_kind_that_would_name_another_file_is_refused(tmp_path: Any, kind: str) -> None:
    folder = tmp_path / "regs"
    with pytest.raises(ValueError, match="^a regression's kind names its file"):
        regressions.save(str(folder), "vibench: 1\n", {"kind": kind})
    assert sorted(os.listdir(tmp_path)) == []
    path = regressions.save(str(folder), "vibench: 1\n", {"kind": "shape-mismatch"})
    assert os.path.dirname(path) == str(folder)


@pytest.mark.parametrize(("written", "why"), [
    ("x=2,a:float32", "'a' is no size"),
    ("x", "no `=` after the input name"),
    ("x=2:float32}", r"'float32}' is no dtype name"),
])
def test_a_hand_edited_inputs_line_is_an_error_naming_the_file_and_line(written: str, why: str) -> None:
    reg = regressions.parse(f"# fuzz-check: runtime\n# fuzz-inputs: {written}\nvibench: 1\n", "r.yaml")
    with pytest.raises(ValueError, match=rf"^r.yaml:2: `# fuzz-inputs` holds .*, not name=sizes:dtype such as "
                                         rf"x=2,3,16:float32 \({why}\)$"):
        reg.inputs()
    good = regressions.parse("# fuzz-inputs: x=2,3:float32; y=4:int64\n", "r.yaml").inputs()
    assert good == (TensorCase("x", (2, 3), (2, 3)), TensorCase("y", (4,), (4,), "int64"))
