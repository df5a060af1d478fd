"""A model cast as a whole (``model.double()``, ``.bfloat16()``, ``.half()``) takes inputs of its new dtype:
the input check follows the dtype of the model's floating parameters, and every native runs in it (the
FFT ones transform half types in float32; complex weights, which these casts leave complex64, widen to a
float64 signal's spectrum). Each library template's output in the cast dtype stays close to its float32
output on the same weights."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vibench
from tests.test_export import CASES, model_and_args
from tests.test_runtime_checks import SPEC  # Probe: x [B, 2, L] and fs [B], conv k9
from vibench import testing
from vibench.compiler import registry

CASTS = {torch.float64: ("double", 1e-5), torch.bfloat16: ("bfloat16", 0.1), torch.float16: ("half", 0.02)}
"""dtype -> (the nn.Module method that casts to it, the largest relative difference from float32)."""

UNCAST = {"isfm/backbone/B_03_FITS": "all its weights are complex: the casts leave them, and its spec's float32"}
"""Templates without floating parameters or buffers: a cast changes nothing, so the spec's dtype stays."""


def _tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, dict):
        return [t for key in sorted(out) for t in _tensors(out[key])]
    if isinstance(out, (tuple, list)):
        return [t for item in out for t in _tensors(item)]
    return [out]


@pytest.mark.parametrize("dtype", list(CASTS), ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_cast_template_runs_in_its_dtype(case: Any, dtype: torch.dtype) -> None:
    model, args = model_and_args(case)
    method, tolerance = CASTS[dtype]
    cast = getattr(copy.deepcopy(model), method)()
    low = tuple(a.to(dtype) if a.is_floating_point() else a for a in args)
    if case.template in UNCAST:
        with pytest.raises(ValueError, match=rf"must be .* float32; found .* {dtype} \(`x.to\(torch.float32\)` "
                                             r"converts it\)$"):
            cast(*low)
        return
    torch.manual_seed(0)
    with torch.no_grad():
        expected = _tensors(model(*args))
    torch.manual_seed(0)
    with torch.no_grad():
        found = _tensors(cast(*low))
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        if not want.is_floating_point():
            assert torch.equal(got, want)
            continue
        assert got.dtype == dtype and got.shape == want.shape
        finite = want.isfinite()  # per-system heads pad the logits of a smaller system with -inf
        assert torch.equal(got.double()[~finite], want.double()[~finite])
        got, want = got[finite].double(), want[finite].double()
        difference = float((got - want).norm() / want.norm().clamp_min(1e-12))
        assert difference < tolerance, f"{case.id}: {difference:.2e} from float32"


def test_a_cast_model_names_its_dtype_and_an_uncast_one_the_cast() -> None:
    model = vibench.build(text=SPEC).eval().double()
    x, fs = torch.randn(2, 2, 16, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    assert model(x, fs).dtype == torch.float64
    with pytest.raises(ValueError, match=r"input `fs` must be \[B\] float64 \(the model's dtype\); found \(2,\) "
                                         r"torch.float16 \(`fs.to\(torch.float64\)` converts it, or `model.half\(\)` "
                                         r"casts the model\)$"):
        model(x, fs.half())
    with pytest.raises(ValueError, match=r"`x.transpose\(-1, -2\).to\(torch.float64\)` fits\)$"):
        model(torch.randn(2, 16, 2), fs)
    model.float()
    with pytest.raises(ValueError, match=r"must be \[B, 2, L\] float32; found \(2, 2, 16\) torch.float64 "
                                         r"\(`x.to\(torch.float32\)` converts it, or `model.double\(\)` casts the "
                                         r"model\)$"):
        model(x, fs.float())
    with pytest.raises(ValueError, match=r"torch.int64 \(`x.to\(torch.float32\)` converts it\)$"):
        model(x.long(), fs.float())


def test_inputs_of_different_float_dtypes_keep_their_declared_ones() -> None:
    """With a float32 and a float64 input, the parameters' dtype says nothing of each input's."""
    text = SPEC.replace("fs: {shape: [B]}", "fs: {shape: [B], dtype: float64}").replace(
        "outputs: {y: out}", "outputs: {y: flat, s: scale}").replace("  out: {block: mul, in: [flat, scale]}\n", "")
    assert "cast=False" in vibench.compile_spec(text=text).source
    model = vibench.build(text=text).eval()
    out = model(torch.randn(2, 2, 16), torch.ones(2, dtype=torch.float64))
    assert (out["y"].dtype, out["s"].dtype) == (torch.float32, torch.float64)
    model.double()
    with pytest.raises(ValueError, match=r"input `x` must be \[B, 2, L\] float32; found .* torch.float64 "
                                         r"\(`x.to\(torch.float32\)` converts it\)$"):
        model(torch.randn(2, 2, 16, dtype=torch.float64), torch.ones(2, dtype=torch.float64))


def test_a_cast_model_compiles_and_exports() -> None:
    model = vibench.build(text=SPEC).eval().bfloat16()
    x, fs = torch.randn(2, 2, 16).bfloat16(), torch.ones(2).bfloat16()
    expected = model(x, fs)
    torch.testing.assert_close(torch.compile(model, fullgraph=True, backend="eager")(x, fs), expected)
    torch.testing.assert_close(torch.export.export(model, (x, fs)).module()(x, fs), expected)


BLOCK_EXCEPTIONS: dict[tuple[str, torch.dtype], str] = {}  # `rfft` widens half types too (1207h)
"""(block, dtype) a cast model cannot run, with the reason (the natives that transform widen half types)."""


@pytest.mark.parametrize("name", sorted(registry.all_blocks()))
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_every_block_runs_in_a_cast_model(name: str, data: st.DataObject) -> None:
    """Each block alone, cast with .double() and .bfloat16() (input checks off: a block without
    floating parameters keeps its spec's dtype): its float32 outputs take the cast dtype."""
    case, _ = testing.compile_case(data.draw(testing.block_cases(name), label="case"))
    model = vibench.build(text=case.text, inputs=case.bindings).eval()
    inputs = testing.random_inputs(case.inputs)
    with torch.no_grad():
        expected = model(*inputs)
    expected = expected if isinstance(expected, dict) else {"y": expected}
    for dtype in (torch.float64, torch.bfloat16):
        cast = getattr(copy.deepcopy(model), CASTS[dtype][0])()
        cast.check_inputs = False
        low = [x.to(dtype) if x.dtype == torch.float32 else x for x in inputs]
        if (name, dtype) in BLOCK_EXCEPTIONS and any(x.dtype == torch.float32 for x in inputs):
            with pytest.raises(RuntimeError, match="Unsupported dtype"):
                cast(*low)
            continue
        with torch.no_grad():
            found = cast(*low)
        found = found if isinstance(found, dict) else {"y": found}
        for key, want in expected.items():
            if want.dtype == torch.float32 and not any(x.is_complex() for x in inputs):
                assert found[key].dtype == dtype, f"{key}: {found[key].dtype}"
            assert found[key].shape == want.shape
