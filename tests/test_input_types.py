"""Inputs of the wrong kind, and sampling rates in a cast model.

A list, a number or None given for an input is a TypeError naming the input, its shape and the
conversion (the eager fast test reads ``getattr(x, "dtype", None)``: ``x.dtype`` raised
AttributeError). A sampling rate that only the HSE embeddings read (``any_float_inputs``) may keep its
declared float32 in a model cast with ``.half()``/``.bfloat16()``: float16 holds no rate above 65,504 Hz,
and every rate from 65,520 Hz became inf, so every time stamp ``index * (1 / fs)`` became 0 and 70 kHz
and 1 MHz gave the same output. The time stamps are computed in float32 or wider, then take x's dtype;
an inf rate gives NaN stamps instead of silent zeros."""

from __future__ import annotations

import copy
import re
import unittest.mock

import numpy as np
import pytest
import torch

import vibench
from tests.test_runtime_checks import SPEC  # Probe: x [B, 2, L] and fs [B] (fs read by a `mul`)

ISFM = dict(num_classes=4, eval_sampling="evenly_spaced", patch_size_L=16, num_patches=8)
"""M_01_ISFM (E_01_HSE, B_04_Dlinear, H_01_Linear_cla) with deterministic eval patches."""

X = torch.randn(2, 256, 1, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def probe() -> torch.nn.Module:
    return vibench.build(text=SPEC).eval()


@pytest.fixture(scope="module")
def isfm() -> torch.nn.Module:
    torch.manual_seed(0)
    return vibench.build("isfm/M_01_ISFM", **ISFM).eval()


def _rate(value: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.full((2,), value).to(dtype)


@pytest.mark.parametrize(("x", "fs", "message"), [
    (torch.zeros(2, 2, 64).tolist(), torch.ones(2),
     "input `x` must be a tensor [B, 2, L]; found list (`torch.tensor(x, dtype=torch.float32)` converts it)"),
    (None, torch.ones(2), "input `x` must be a tensor [B, 2, L]; found None"),
    (1.0, torch.ones(2), "input `x` must be a tensor [B, 2, L]; found float"),
    (torch.zeros(2, 2, 64), 12000.0, "input `fs` must be a tensor [B]; found float (one value for each sample? "
                                     "`torch.full((B,), 12000.0, dtype=torch.float32)` makes it)"),
    (torch.zeros(2, 2, 64), 12000, "input `fs` must be a tensor [B]; found int (one value for each sample? "
                                   "`torch.full((B,), 12000.0, dtype=torch.float32)` makes it)"),
    (torch.zeros(2, 2, 64), np.float64(12000.0), "input `fs` must be a tensor [B]; found float64 (one value for "
                                                 "each sample? `torch.full((B,), 12000.0, dtype=torch.float32)` "
                                                 "makes it)"),
    (torch.zeros(2, 2, 64), (12000.0, 12000.0),
     "input `fs` must be a tensor [B]; found tuple (`torch.tensor(fs, dtype=torch.float32)` converts it)"),
    (torch.zeros(2, 2, 64), None, "input `fs` must be a tensor [B]; found None"),
], ids=["x-list", "x-None", "x-float", "fs-float", "fs-int", "fs-numpy-scalar", "fs-tuple", "fs-None"])
def test_a_value_that_is_not_a_tensor_is_named_with_its_conversion(probe: torch.nn.Module, x, fs,
                                                                  message: str) -> None:
    """Before: AttributeError: 'list' object has no attribute 'dtype', from the fast test."""
    with pytest.raises(TypeError) as err:
        probe(x, fs)
    assert str(err.value) == f"Probe: {message}"


def test_a_cast_model_converts_a_value_to_the_dtype_the_input_takes(isfm: torch.nn.Module) -> None:
    half = copy.deepcopy(isfm).half()
    with pytest.raises(TypeError, match=r"^M_01_ISFM: input `x` must be a tensor \[B, L, C\]; found list "
                                        r"\(`torch.tensor\(x, dtype=torch.float16\)` converts it\)$"):
        half(x=X.tolist(), fs=_rate(12000.0))
    with pytest.raises(TypeError, match=r"^M_01_ISFM: input `fs` must be a tensor \[B\]; found float \(one value "
                                        r"for each sample\? `torch.full\(\(B,\), 12000.0, dtype=torch.float32\)` "
                                        r"makes it\)$"):
        half(x=X.half(), fs=12000.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_a_cast_isfm_model_takes_a_float32_rate_and_keeps_high_rates_apart(isfm: torch.nn.Module,
                                                                          dtype: torch.dtype) -> None:
    """Before: `fs` must be float16 (the model's dtype), and fs.to(torch.float16) made 70 kHz and 1 MHz inf."""
    cast = copy.deepcopy(isfm).to(dtype)
    with torch.no_grad():
        outputs = {rate: cast(x=X.to(dtype), fs=_rate(rate)) for rate in (70_000.0, 100_000.0, 1e6)}
        expected = isfm(x=X, fs=_rate(100_000.0))
    assert all(out.dtype == dtype and out.isfinite().all() for out in outputs.values())
    assert not torch.equal(outputs[70_000.0], outputs[1e6])
    difference = (outputs[100_000.0].float() - expected).norm() / expected.norm()
    assert difference < (0.02 if dtype == torch.float16 else 0.1), difference


def test_a_float16_rate_that_overflowed_is_refused_not_silent_zero_stamps(isfm: torch.nn.Module) -> None:
    """On the CPU the rate is checked (a ValueError with the float32 hint); where it is not checked (an
    accelerator, a traced graph) an inf rate gives NaN stamps, never the zeros every such rate gave alike."""
    half = copy.deepcopy(isfm).half()
    patches = vibench.build("isfm/embedding/E_02_HSE_v2", num_patches=4, patch_size_L=8, hidden_dim=8,
                            c_dim=2).patches
    with torch.no_grad():
        assert half(x=X.half(), fs=_rate(60_000.0, torch.float16)).isfinite().all()
        for run in (lambda fs: half(x=X.half(), fs=fs), lambda fs: patches(X.half(), fs)):
            with pytest.raises(ValueError, match=r"sample 0 holds inf \(a float16 fs holds no rate above 65,504 "
                                                 r"Hz: give fs in float32\)$"):
                run(_rate(100_000.0, torch.float16))  # fs.half() is inf
        with unittest.mock.patch.object(torch.compiler, "is_compiling", return_value=True):  # as traced
            stamps = patches(X.half(), _rate(100_000.0, torch.float16))[..., -1]
    assert stamps.isnan().all()


@pytest.mark.parametrize("rates", [[0.0, 12000.0], [12000.0, float("nan")], [-12000.0, 12000.0]])
def test_a_rate_that_is_not_positive_and_finite_is_refused(isfm: torch.nn.Module, rates: list[float]) -> None:
    """fs of 0 or NaN gave that sample NaN logits and a negative one other finite logits, silently (the
    reference computes 1 / fs alike)."""
    k = next(i for i, r in enumerate(rates) if not r > 0)
    with pytest.raises(ValueError, match=rf"input `fs` \(the sampling rate of each sample, in Hz\) must be positive "
                                         rf"and finite; sample {k} holds {rates[k]}$"):
        isfm(x=X, fs=torch.tensor(rates))


def test_a_refused_rate_is_converted_to_float32_not_to_the_models_float16(isfm: torch.nn.Module) -> None:
    half = copy.deepcopy(isfm).half()
    with pytest.raises(ValueError) as err:
        half(x=X.half(), fs=torch.tensor([12000, 12000]))
    assert str(err.value) == ("M_01_ISFM: input `fs` must be [B] float32 or float16 (the model's dtype); found (2,) "
                              "torch.int64 (`fs.to(torch.float32)` converts it)")
    with pytest.raises(ValueError, match=r"`fs.to\(torch.float32\)` converts it, or `model.double\(\)` casts the "
                                         r"model\)$"):
        half(x=X.half(), fs=_rate(12000.0, torch.float64))
    with pytest.raises(ValueError, match=r"input `x` must be \[B, L, C\] float16 \(the model's dtype\); found "
                                         r"\(2, 256, 1\) torch.float64 \(`x.to\(torch.float16\)` converts it"):
        half(x=X.double(), fs=_rate(12000.0))


@pytest.mark.parametrize(("template", "params", "keeps"), [
    ("isfm/M_01_ISFM", ISFM, True),
    ("isfm/embedding/E_02_HSE_v2", dict(num_patches=4, patch_size_L=8, hidden_dim=8, c_dim=2), True),
    ("isfm/embedding/E_01_HSE_v2", dict(use_prompt=False), True),
    ("isfm/embedding/E_01_HSE_v2", {}, False),  # the prompt's Linear reads fs too: the model's dtype
], ids=["M_01_ISFM", "E_02_HSE_v2", "E_01_HSE_v2-signal-only", "E_01_HSE_v2-prompt"])
def test_only_a_rate_that_only_the_time_stamps_read_keeps_its_dtype(template: str, params: dict,
                                                                   keeps: bool) -> None:
    source = vibench.compile_spec(template, params=params).source
    assert ('_check_input(self, "fs", fs, torch.float32, [-1], "[B]", keep=True)' in source) == keeps
    assert 'getattr(fs, "dtype", None) == torch.float32' in source
    assert re.search(r'_check_input\(self, "x", x, torch.float32, .*\)\n', source)  # the model's dtype only
    assert not re.search(r'_check_input\(self, "x", .*keep=True', source)


def test_a_prompt_model_takes_the_rate_in_its_dtype() -> None:
    half = vibench.build("isfm/embedding/E_01_HSE_v2").eval().half()
    ids = torch.tensor([1, 1])
    with pytest.raises(ValueError, match=r"input `fs` must be \[B\] float16 \(the model's dtype\); found \(2,\) "
                                         r"torch.float32"):
        half(x=X.half(), fs=_rate(12000.0), system_id=ids, domain_id=ids)


def test_a_cast_model_with_a_float32_rate_compiles_and_exports(isfm: torch.nn.Module) -> None:
    half, args = copy.deepcopy(isfm).half(), (X.half(), _rate(100_000.0))
    with torch.no_grad():
        expected = half(*args)
        torch.testing.assert_close(torch.compile(half, fullgraph=True, backend="eager")(*args), expected)
        torch.testing.assert_close(torch.export.export(half, args).module()(*args), expected)


def test_the_time_stamps_are_computed_in_float32_then_take_the_signals_dtype() -> None:
    """Before: float16 stamps times a float32 period promoted the patches to float32 (and a float16 fs gave
    float16 stamps, of which indices above 2048 are rounded)."""
    half = vibench.build("isfm/embedding/E_01_HSE", patch_size_L=16, num_patches=8, output_dim=16,
                         eval_sampling="evenly_spaced").eval().half()
    x = torch.randn(2, 4096, 1).half()
    with torch.no_grad():
        patches = half.patches(x, _rate(100_000.0))  # [B, P, pL * (value, stamp)]
    assert patches.dtype == torch.float16
    stamps = (torch.arange(4096, dtype=torch.float32) * (1.0 / _rate(100_000.0)[0])).half()
    assert torch.equal(patches[0, 0, 1::2], stamps[:16]) and torch.equal(patches[0, -1, 1::2], stamps[-16:])
