"""Series decomposition (moving-average trend + remainder) and the FNO spectral convolution."""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default, norm_axis, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import MovingAverageParams, SeriesDecompositionParams, SpectralConv1dParams


def _averaged(ctx: ShapeContext, t: TensorType, kernel: int, dim: int) -> tuple[int, Dim]:
    ctx.dtype("x", t, FLOAT_DTYPES)
    ctx.rank("x", t, range(2, 9), "[B, L, ...]")
    axis = norm_axis(ctx, dim, len(t.shape))
    pad = (kernel - 1) // 2
    ctx.require(t.shape[axis] + 2 * pad, ">=", kernel,
                f"the padded series is at least as long as the window ({kernel})", param="kernel_size")
    return axis, t.shape[axis] + 2 * pad - kernel + 1


@register
class MovingAverage(Block):
    """Moving average along one dimension with edge-replicated padding (the trend of Autoformer/DLinear).

    Odd ``kernel_size`` keeps the length; an even one shortens it by one. No parameters.
    """

    name = "moving_average"
    Params = MovingAverageParams
    category = "decomposition"
    natives = ("MovingAverage",)
    imports = ("F",)
    test_ranks = (3,)

    def infer(self, p: MovingAverageParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis, length = _averaged(ctx, t, p.kernel_size, p.dim)
        shape = list(t.shape)
        shape[axis] = length
        return [TensorType(tuple(shape), t.dtype)]

    def flops(self, p: MovingAverageParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * p.kernel_size

    def init_code(self, p: MovingAverageParams) -> str:
        return call("MovingAverage", p.kernel_size, dim=non_default(p.dim, 1))


@register
class SeriesDecomposition(Block):
    """Split a series into `seasonal` (x minus trend) and `trend` (moving average), both shaped like x.

    ``kernel_size`` must be odd (an even window would shorten the trend). Autoformer's and DLinear's
    ``series_decomp``; read the parts as ``node.seasonal`` and ``node.trend``.
    """

    name = "series_decomposition"
    Params = SeriesDecompositionParams
    category = "decomposition"
    outputs = ("seasonal", "trend")
    natives = ("MovingAverage", "SeriesDecomposition")
    imports = ("F",)
    test_ranks = (3,)

    def infer(self, p: SeriesDecompositionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        if p.kernel_size % 2 == 0:
            raise ctx.fail("the trend window must be odd so that trend and series have the same length",
                           code="E301", param="kernel_size", expected="an odd kernel_size",
                           found=str(p.kernel_size), hint=f"use {p.kernel_size + 1} or {p.kernel_size - 1}")
        _averaged(ctx, t, p.kernel_size, p.dim)
        return [t, t]

    def flops(self, p: SeriesDecompositionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * (p.kernel_size + 1)

    def init_code(self, p: SeriesDecompositionParams) -> str:
        return call("SeriesDecomposition", p.kernel_size, dim=non_default(p.dim, 1))


@register
class SpectralConv1d(Block):
    """Fourier-neural-operator spectral convolution over [B, C, L]: learned complex weights on the lowest modes.

    Output [B, out_channels, L]. Weights are complex (C_in, C_out, modes); the parameter count counts
    real scalars (2 per complex weight). Needs ``modes <= L // 2 + 1``.
    """

    name = "spectral_conv1d"
    Params = SpectralConv1dParams
    category = "spectral"
    natives = ("SpectralConv1d",)

    def infer(self, p: SpectralConv1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, frozenset({"float32"}))
        if p.in_channels is not None:
            ctx.equal(t.shape[1], p.in_channels, port="x", what="input channels", t=t, param="in_channels")
        ctx.set("in_channels", ctx.concrete(t.shape[1], "the input channels", port="x"))
        b, _, length = t.shape
        ctx.require(length // 2 + 1, ">=", p.modes, f"the signal has at least {p.modes} Fourier modes "
                    "(L // 2 + 1 >= modes)", param="modes")
        return [TensorType((b, p.out_channels, length), t.dtype)]

    def param_count(self, p: SpectralConv1dParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        return 2 * p.in_channels * p.out_channels * p.modes

    def flops(self, p: SpectralConv1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        b = outs[0].shape[0]
        # Complex channel mixing (8 real FLOPs per complex multiply-add) plus the transforms, counted
        # as DFTs restricted to the kept modes (a symbolic L has no log2 for an n log n estimate).
        transforms = 2 * p.modes * (numel(ins[0]) + numel(outs[0]))
        return 8 * b * p.in_channels * p.out_channels * p.modes + transforms

    def init_code(self, p: SpectralConv1dParams) -> str:
        return call("SpectralConv1d", p.in_channels, p.out_channels, p.modes)
