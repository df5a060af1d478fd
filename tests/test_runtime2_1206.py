"""model.py's numpy hint under torch.compile, the lower bound of a free int parameter, check_runtime's
caller mistakes on input sizes, and examples/run_demo.py's length symbols."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo
from tests.test_bench_scripts import run
from vibench.testing import check_runtime

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)


def test_a_numpy_input_under_fullgraph_compile_keeps_the_message() -> None:
    """Before: dynamo's `Unsupported ndarray attribute access` (the hint read the array's dtype while tracing)."""
    model = vibench.build("examples/tiny_cnn.json").eval()
    with pytest.raises(Exception) as traced:  # noqa: PT011 - dynamo wraps it in its own error type
        torch.compile(model, fullgraph=True, backend="eager")(np.zeros((2, 1, 64), np.float32))
    assert "TinyCNN: input `x` must be a tensor [B, 1, L]; found ndarray (`torch.from_numpy(x)` converts it)" \
        in str(traced.value)
    assert "ndarray attribute" not in str(traced.value)


FREE = ("vibench: 1\nname: Fr\nparams:\n  nc: {type: int, default: 4}\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {fc: {block: linear, in: x, out_features: '${nc}'}}\noutputs: {y: fc}\n")


@pytest.mark.parametrize("value", [0, -3])
def test_a_free_int_parameter_is_at_least_one_as_the_compiler_says(value: int) -> None:
    """Before: nc=0 built a model of output (2, 0), nc=-3 a bare torch RuntimeError (the compiler: E104)."""
    with pytest.raises(vibench.SpecError):
        vibench.compile_spec(text=FREE, params={"nc": value})
    fr = type(vibench.build(text=FREE))
    with pytest.raises(ValueError, match=rf"^Fr: nc={value} must be an int >= 1$"):
        fr(nc=value)
    assert fr(nc=1)(torch.zeros(2, 4)).shape == (2, 1)


SPEC = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


@pytest.mark.parametrize(("sizes", "what"), [((2, 5), "another fixed size"), ((2, 4, 1), "3 sizes for 2 axes")])
def test_check_runtime_refuses_sizes_that_do_not_fit_the_declared_shape(sizes: tuple[int, ...], what: str) -> None:
    """Before: [Finding('rejected', "a valid spec is refused: ['E305']")], a caller's mistake as a finding."""
    with pytest.raises(ValueError, match=rf"'x' the sizes \({', '.join(map(str, sizes))},?\), but the model "
                                         rf"declares it \[B, 4\]: {what}"):
        check_runtime(SPEC, {"x": sizes}, backends=())
    assert check_runtime(SPEC, {"x": (2, 4)}, backends=()) == []


CONV = ("  {c}: {{block: conv1d, in: {src}, out_channels: 4, kernel_size: 9}}\n"
        "  p{c}: {{block: adaptive_avg_pool1d, in: {c}, output_size: 1}}\n")


@pytest.mark.parametrize(("inputs", "nodes", "expected"), [
    ("  x: {shape: [B, T]}\n", "  u: {block: unsqueeze, in: x, dim: 1}\n" + CONV.format(c="c", src="u"),
     ["input  x: (2, 300)"]),
    ("  a: {shape: [B, 1, T]}\n  b: {shape: [B, S, 2]}\n",
     "  bt: {block: permute, in: b, dims: [0, 2, 1]}\n" + CONV.format(c="c", src="a") + CONV.format(c="d", src="bt"),
     ["input  a: (2, 1, 300)", "input  b: (2, 300, 2)"]),
    ("  t: {shape: [T]}\n  x: {shape: [B, 1, T]}\n", CONV.format(c="c", src="x"),
     ["input  t: (300,)", "input  x: (2, 1, 300)"]),
], ids=["2-D", "two-lengths", "1-D-first"])
def test_run_demo_gives_every_length_symbol_the_length(tmp_path, inputs: str, nodes: str,
                                                       expected: list[str]) -> None:
    """Before: T of [B, T] and S of [B, S, 2] were set to 1, and a first input [T] made T the batch."""
    outputs = "".join(f"  y{n}: {n}\n" for n in ("pc", "pd") if f"  {n}:" in nodes)
    (tmp_path / "m.yaml").write_text(f"vibench: 1\nname: M\ninputs:\n{inputs}nodes:\n{nodes}outputs:\n{outputs}")
    result = run("examples/run_demo.py", "m.yaml", "--batch", "2", "--length", "300", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert all(line in result.stdout for line in expected), result.stdout
    assert "set to 1" not in result.stdout


def test_run_demo_keeps_a_channel_symbol_at_one_next_to_a_fixed_length(tmp_path) -> None:
    """mlp/Dlinear's x is [B, 512, C]: C is its one free axis besides the batch, and got --length (256
    channels of 512 samples); a channel name is never the length."""
    result = run("examples/run_demo.py", "mlp/Dlinear", "--batch", "2", "--length", "256", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "input  x: (2, 512, 1)" in result.stdout and "(free size C set to 1)" in result.stdout
