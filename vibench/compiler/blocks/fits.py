"""Frequency interpolation (B_03_FITS): low-pass a series and re-sample it through its spectrum."""

from __future__ import annotations

from vibench.compiler.blocks.base import Block, ShapeContext, call, non_default, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_isfm_backbones import FrequencyInterpolationParams


@register
class FrequencyInterpolation(Block):
    """FITS frequency interpolation over [B, T, C] -> [B, T + pred_len, C]: a complex linear map of the low bins.

    Per channel: normalise over time, rFFT, keep the lowest ``cut_freq`` bins, map them with a
    complex linear layer per channel (``freq_upsampler.<c>``) to
    ``int(cut_freq * (T + pred_len) / T)`` bins, zero-pad, inverse rFFT to T + pred_len samples,
    de-normalise (Xu et al., ICLR 2024). Needs ``T // 2 + 1 >= cut_freq`` (the series has that
    many bins) and T >= 2; with ``pred_len > 0`` the weights depend on T, which must then be known.
    Complex weights count two real scalars each.
    """

    name = "frequency_interpolation"
    Params = FrequencyInterpolationParams
    category = "spectral"
    natives = ("ComplexLinear", "FrequencyInterpolation")
    imports = ("F", "math")
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
        if p.seq_len is not None:
            ctx.equal(length, p.seq_len, port="x", what="series length T (seq_len)", t=t, param="seq_len")
        if p.pred_len > 0:
            ctx.set("seq_len", ctx.concrete(length, "the series length T (pred_len > 0 sizes the weights by it)",
                                            port="x"))
        ctx.require(length // 2 + 1, ">=", p.cut_freq,
                    f"the series has at least cut_freq = {p.cut_freq} Fourier bins (T // 2 + 1 >= cut_freq)",
                    param="cut_freq")
        ctx.require(length, ">=", 2, "the series has at least 2 steps (its variance normalises it)")
        return [TensorType((b, length + p.pred_len, channels), t.dtype)]

    def _out_freq(self, p: FrequencyInterpolationParams) -> int:
        if p.pred_len == 0:
            return p.cut_freq
        assert p.seq_len is not None
        return int(p.cut_freq * (p.seq_len + p.pred_len) / p.seq_len)

    def param_count(self, p: FrequencyInterpolationParams, ins: list[TensorType]) -> int:
        assert p.channels is not None
        return p.channels * 2 * (p.cut_freq + 1) * self._out_freq(p)

    def flops(self, p: FrequencyInterpolationParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        b = ins[0].shape[0]
        assert p.channels is not None
        mapping = 8 * b * p.channels * p.cut_freq * self._out_freq(p)
        return mapping + 5 * (numel(ins[0]) + numel(outs[0])) + 6 * numel(outs[0])

    def init_code(self, p: FrequencyInterpolationParams) -> str:
        return call("FrequencyInterpolation", p.cut_freq, p.channels, seq_len=non_default(p.seq_len, None),
                    pred_len=non_default(p.pred_len, 0))
