"""Frequency interpolation (B_03_FITS): low-pass a series and re-sample it through its spectrum."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.codegen.support import _real_weights
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch


class FrequencyInterpolationParams(BlockParams):
    cut_freq: int = Field(65, ge=1, description="Lowest Fourier bins kept and mapped (the low-pass cut-off).")
    pred_len: int = Field(0, ge=0, description="Steps appended to the series (0: reconstruct the input length).")
    channels: int | None = Field(None, ge=1, description="Channels C of [B, T, C] (inferred).")
    seq_len: int | None = Field(
        None, ge=1, description="Series length the maps are built for: the input's bins are read as those of seq_len "
        "samples, which come back as seq_len + pred_len, whatever its T (PHM-Vibench's FITS: 4096); null: T."
    )


# -- torch implementations (copied into model.py) --------------------------------------------


class ComplexLinear(nn.Module):
    """Affine map over the last dimension with complex64 weight and bias (complex input).

    Initialised like torch.nn.Linear converted to complex (real parts from torch's initialisation,
    imaginary parts zero), as PHM-Vibench's ``nn.Linear(...).to(torch.cfloat)``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        weight = torch.empty(out_features, in_features)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        bias = torch.empty(out_features).uniform_(-1 / math.sqrt(in_features), 1 / math.sqrt(in_features))
        self.weight = nn.Parameter(weight.to(torch.cfloat))
        self.bias = nn.Parameter(bias.to(torch.cfloat))

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[1]}, out_features={self.weight.shape[0]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight, self.bias  # each read once: a module attribute costs more than the test
        if not (weight.is_complex() and bias.is_complex()):  # made real by model.to(dtype)
            raise RuntimeError(_real_weights("ComplexLinear", "`weight`, `bias`", weight.dtype))
        # model.double() keeps complex weights complex64: a complex128 input widens them
        return F.linear(x, weight.to(x.dtype), bias.to(x.dtype))


class FrequencyInterpolation(nn.Module):
    """Low-pass and re-sample a series [B, T, C] in the frequency domain -> [B, T + pred_len, C].

    Each channel is normalised over time (mean, unbiased variance + 1e-5); its rFFT is cut to the
    lowest ``cut_freq`` bins, which the channel's complex linear map (``freq_upsampler.<c>``) turns
    into ``int(cut_freq * ratio)`` bins, ratio = (L + pred_len) / L; these are zero-padded and
    inverse-transformed to L + pred_len samples, scaled by the ratio and de-normalised. L is
    ``seq_len``, the length the maps are built for, whatever the input's T (PHM-Vibench's FITS reads
    any T's bins as those of 4096 samples); 0 takes T. Needs T // 2 + 1 >= cut_freq and T >= 2.
    """

    def __init__(self, cut_freq: int, channels: int, seq_len: int = 0, pred_len: int = 0) -> None:
        super().__init__()
        self.cut_freq = cut_freq
        self.seq_len = seq_len
        self.pred_len = pred_len
        self.ratio = (seq_len + pred_len) / seq_len if seq_len > 0 else 1.0
        out_freq = int(cut_freq * self.ratio)
        self.freq_upsampler = nn.ModuleList([ComplexLinear(cut_freq, out_freq) for _ in range(channels)])

    def extra_repr(self) -> str:
        channels = len(self.freq_upsampler)
        return f"cut_freq={self.cut_freq}, channels={channels}, seq_len={self.seq_len}, pred_len={self.pred_len}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        mean = x.mean(dim=1, keepdim=True)
        centred = x - mean
        std = torch.sqrt(torch.var(centred, dim=1, keepdim=True) + 1e-5)
        low = torch.fft.rfft(centred / std, dim=1)[:, : self.cut_freq].transpose(1, 2)  # [B, C, cut_freq]
        mapped = torch.stack([layer(low[:, i]) for i, layer in enumerate(self.freq_upsampler)], dim=1)
        out_len = (self.seq_len if self.seq_len > 0 else x.shape[1]) + self.pred_len
        series = torch.fft.irfft(mapped.transpose(1, 2), n=out_len, dim=1) * self.ratio
        return (series * std + mean).to(dtype)


# -- block ------------------------------------------------------------------------------------


@register
class FrequencyInterpolationBlock(Block):
    """FITS frequency interpolation over [B, T, C] -> [B, T + pred_len, C]: a complex linear map of the low bins.

    Per channel: normalise over time, rFFT, keep the lowest ``cut_freq`` bins, map them with a
    complex linear layer per channel (``freq_upsampler.<c>``) to
    ``int(cut_freq * (L + pred_len) / L)`` bins, zero-pad, inverse rFFT to L + pred_len samples,
    de-normalise (Xu et al., ICLR 2024). L is ``seq_len`` when set, the length the maps are built
    for, whatever the input's T (PHM-Vibench's FITS, 4096: it reads 256 samples' bins as those of
    4096 and returns 4096 samples), else T. Needs ``T // 2 + 1 >= cut_freq`` (the series has that
    many bins), ``L // 2 + 1 >= cut_freq`` and T >= 2; with ``pred_len > 0`` and no ``seq_len`` the
    weights depend on T, which must then be known. Complex weights count two real scalars each.
    """

    name = "frequency_interpolation"
    Params = FrequencyInterpolationParams
    category = "spectral"
    natives = (_real_weights, ComplexLinear, FrequencyInterpolation)
    imports = ("F", "math")
    fresh_output = True  # the de-normalised series, series * std + mean
    test_layouts = (("B L C",),)
    test_hints = {"cut_freq": (1, 2, 3, 5), "pred_len": (0, 0, 2, 5)}

    def infer(self, p: FrequencyInterpolationParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, T, C]")
        ctx.dtype("x", t, frozenset({"float32"}))
        b, length, channels = t.shape
        if p.channels is not None:
            ctx.equal(channels, p.channels, port="x", what="input channels C (channels)", t=t, param="channels")
        ctx.set("channels", ctx.concrete(channels, "the input channels C (one frequency map each)", port="x"))
        built: Dim = length
        if p.seq_len is not None:  # the input's bins are read as those of seq_len samples, whatever its T
            built = p.seq_len
            ctx.require(p.seq_len // 2 + 1, ">=", p.cut_freq, f"the maps are built for at least cut_freq = "
                        f"{p.cut_freq} Fourier bins (seq_len // 2 + 1 >= cut_freq)", param="seq_len")
        elif p.pred_len > 0:
            ctx.set("seq_len", ctx.concrete(length, "the series length T (pred_len > 0 sizes the weights by it)",
                                            port="x"))
        ctx.require(length // 2 + 1, ">=", p.cut_freq,
                    f"the series has at least cut_freq = {p.cut_freq} Fourier bins (T // 2 + 1 >= cut_freq)",
                    param="cut_freq")
        ctx.require(length, ">=", 2, "the series has at least 2 steps (its variance normalises it)")
        return [TensorType((b, built + p.pred_len, channels), t.dtype)]

    def _out_freq(self, p: FrequencyInterpolationParams) -> int:
        if p.pred_len == 0:
            return p.cut_freq
        assert p.seq_len is not None
        return int(p.cut_freq * (p.seq_len + p.pred_len) / p.seq_len)

    def submodule_count(self, p: FrequencyInterpolationParams, ins: list[TensorType]) -> int:
        assert p.channels is not None
        return p.channels  # one complex linear map per channel

    def param_count(self, p: FrequencyInterpolationParams, ins: list[TensorType]) -> int:
        assert p.channels is not None
        return p.channels * 2 * (p.cut_freq + 1) * self._out_freq(p)

    def flops(self, p: FrequencyInterpolationParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        b = ins[0].shape[0]
        assert p.channels is not None
        mapping = 8 * b * p.channels * p.cut_freq * self._out_freq(p)
        return mapping + 5 * (numel(ins[0]) + numel(outs[0])) + 6 * numel(outs[0])

    def init_code(self, p: FrequencyInterpolationParams) -> Code:
        return c.call(FrequencyInterpolation.__name__, p.cut_freq, p.channels, seq_len=non_default(p.seq_len, None),
                      pred_len=non_default(p.pred_len, 0))
