"""A spec's ``rfft`` in a cast model, and B_08_PatchTST under ``torch.compile``'s ``aot_eager`` back-end.

1. ``rfft`` in a model cast with ``.half()`` or ``.bfloat16()`` passed the input check, then torch failed
   with a bare ``RuntimeError: Unsupported dtype Half`` (torch's CPU FFT has no half-precision kernels).
   The emitted call now widens its input to at least float32 (``x.to(torch.promote_types(x.dtype,
   torch.float32))``, a no-op for float32 and float64), as the FFT natives (times_block, auto_correlation)
   do: the spectrum is complex64, in the emitted file and the built model alike.
2. M_01_ISFM with B_08_PatchTST and a head that reads the tokens (H_03_Linear_pred) failed under
   ``torch.compile(model, backend="aot_eager")``, eval and training: ``view size is not compatible with
   input tensor's size and stride``. torch 2.13 traces batch norm as keeping its input's strides, while
   the CPU kernel returns a contiguous tensor; the Encoder's transpose -> batch_norm1d -> transpose then
   handed the head's ``linear`` a tensor its traced ``view`` cannot read. The Encoder's channels-first view
   is now made contiguous (``transpose``'s new ``contiguous`` option) before the BatchNorm: the same
   outputs, eager and compiled, and the same state_dict keys.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)

SPECTRUM = """vibench: 1
name: Spectrum
inputs:
  x: {shape: [B, 3, L]}
nodes:
  c: {block: conv1d, in: x, out_channels: 2, kernel_size: 1}
  f: {block: rfft, in: c, norm: ortho}
  a: {block: abs, in: f}
  back: {block: irfft, in: f, n: 8, norm: ortho}
outputs: {spectrum: f, y: a, back: back, conv: c}
"""

PATCHTST = """vibench: 1
extends: isfm/M_01_ISFM
with: {backbone: B_08_PatchTST, task_head: H_03_Linear_pred, eval_sampling: seeded,
       patch_size_L: 16, num_patches: 8, output_dim: 16, d_ff: 16, num_heads: 2, e_layers: 1,
       hidden_dim: 8, max_len: 64, max_out: 1}
"""


@pytest.mark.parametrize("cast, dtype", [("half", torch.float16), ("bfloat16", torch.bfloat16)])
def test_rfft_runs_in_a_cast_model_and_gives_complex64(cast: str, dtype: torch.dtype) -> None:
    model = vibench.build(text=SPECTRUM).eval()
    low = getattr(copy.deepcopy(model), cast)()
    x = torch.randn(2, 3, 8)
    with torch.no_grad():
        want, got = model(x), low(x.to(dtype))
    assert got["conv"].dtype == dtype
    assert (got["spectrum"].dtype, got["y"].dtype, got["back"].dtype) == (torch.complex64, torch.float32,
                                                                          torch.float32)
    # the transform of the half-precision signal, in float32: its spectrum, magnitude and inverse
    torch.testing.assert_close(got["spectrum"], torch.fft.rfft(got["conv"].float(), norm="ortho"))
    torch.testing.assert_close(got["back"], got["conv"].float())
    tolerance = 0.02 if dtype == torch.float16 else 0.1  # the conv's rounding in the cast dtype
    assert float((got["y"] - want["y"]).norm() / want["y"].norm()) < tolerance


def test_rfft_keeps_float32_and_float64_as_they_are() -> None:
    source = vibench.compile_spec(text=SPECTRUM).source
    assert 'torch.fft.rfft(x.to(torch.promote_types(x.dtype, torch.float32)), norm="ortho")' in source
    model = vibench.build(text=SPECTRUM).eval()
    x = torch.randn(2, 3, 8)
    assert model(x)["spectrum"].dtype == torch.complex64
    out = model.double()(x.double())
    assert out["spectrum"].dtype == torch.complex128
    torch.testing.assert_close(out["spectrum"], torch.fft.rfft(out["conv"], norm="ortho"), rtol=0, atol=0)


def test_a_half_rfft_model_still_traces_with_fx() -> None:
    """The widening is a dtype promotion, not a test on the dtype, which torch.fx could not trace."""
    model = vibench.build(text=SPECTRUM).eval().half()
    model.check_inputs = False
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 8).half()
    torch.testing.assert_close(traced(x), model(x), rtol=0, atol=0)


def test_transpose_contiguous_copies_the_view() -> None:
    text = ("vibench: 1\nname: T\ninputs: {x: {shape: [B, C, L]}}\nnodes:\n"
            "  t: {block: transpose, in: x, dim0: 1, dim1: 2, contiguous: true}\n"
            "  v: {block: transpose, in: x, dim0: 1, dim1: 2}\noutputs: {t: t, v: v}\n")
    source = vibench.compile_spec(text=text).source
    assert "t = x.transpose(1, 2).contiguous()" in source and "v = x.transpose(1, 2)  #" in source
    out = vibench.build(text=text)(torch.randn(2, 3, 5))
    assert out["t"].is_contiguous() and not out["v"].is_contiguous()
    assert torch.equal(out["t"], out["v"])


@pytest.fixture(scope="module")
def patchtst() -> Iterator[torch.nn.Module]:
    yield vibench.build(text=PATCHTST)


def test_patchtst_keeps_its_state_dict_keys(patchtst: torch.nn.Module) -> None:
    encoder = sorted(k for k in patchtst.state_dict() if k.startswith("backbone.encoder.norm."))
    assert encoder == [f"backbone.encoder.norm.{k}" for k in
                       ("bias", "num_batches_tracked", "running_mean", "running_var", "weight")]
    source = vibench.compile_spec(text=PATCHTST).source
    assert "x = x.transpose(1, 2).contiguous()  # [B, 16, P]  B_08_PatchTST.yaml" in source


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_patchtst_with_a_token_head_compiles_with_aot_eager(patchtst: torch.nn.Module, training: bool) -> None:
    eager = copy.deepcopy(patchtst).train(training)
    compiled = copy.deepcopy(eager)
    x, fs = torch.randn(2, 64, 1), torch.full((2,), 1000.0)
    torch.manual_seed(0)  # the embedding draws its patches (and dropout its masks) from the global generator
    want = eager(x, fs)
    torch.manual_seed(0)
    got = torch.compile(compiled, backend="aot_eager", fullgraph=True)(x, fs)
    assert torch.equal(got, want)
    if training:  # the backward pass too, and the BatchNorm's running statistics
        want.square().sum().backward()
        got.square().sum().backward()
        for (name, a), b in zip(eager.named_parameters(), compiled.parameters(), strict=True):
            assert (a.grad is None) == (b.grad is None), name
            assert a.grad is None or torch.equal(a.grad, b.grad), name
        for (name, a), b in zip(eager.named_buffers(), compiled.buffers(), strict=True):
            assert torch.equal(a, b), name
