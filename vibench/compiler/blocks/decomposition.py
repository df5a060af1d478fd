"""Series decomposition (moving-average trend + remainder) and the FNO spectral convolution."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, norm_axis, numel
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


class MovingAverageParams(BlockParams):
    kernel_size: int = Field(ge=1, description="Window of the moving average (odd keeps the length).")
    dim: int = Field(1, description="Dimension to average along (time: 1 for [B, L, C]).")


class SeriesDecompositionParams(BlockParams):
    kernel_size: int = Field(ge=1, description="Moving-average window of the trend; must be odd.")
    dim: int = Field(1, description="Time dimension (1 for [B, L, C]).")


class SpectralConv1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    modes: int = Field(ge=1, description="Lowest Fourier modes kept (at most L // 2 + 1).")
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


# -- torch implementations (copied into model.py) --------------------------------------------


class MovingAverage(nn.Module):
    """Moving average along one dimension with edge-replicated padding (Autoformer's `moving_avg`).

    ``(kernel_size - 1) // 2`` copies of the first and last step are added on each side, then an
    average pool of width ``kernel_size`` and stride 1 runs along that dimension, where it lies
    (a [B, L, C] series is pooled as its [B, C, L] view, as the reference does): an odd kernel keeps
    the length, an even one shortens it by one. No parameters.
    """

    def __init__(self, kernel_size: int, dim: int = 1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dim = dim

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dim={self.dim}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.kernel_size - 1) // 2
        if pad > 0:
            sizes = list(x.shape)
            sizes[self.dim] = pad
            first = x.narrow(self.dim, 0, 1).expand(sizes)
            last = x.narrow(self.dim, x.shape[self.dim] - 1, 1).expand(sizes)
            x = torch.cat([first, x, last], dim=self.dim)
        series = x.transpose(self.dim, -1)
        if series.dim() <= 3:
            return F.avg_pool1d(series, self.kernel_size, stride=1).transpose(self.dim, -1)
        rows = series.reshape(-1, 1, series.shape[-1])
        mean = F.avg_pool1d(rows, self.kernel_size, stride=1)
        return mean.reshape(list(series.shape[:-1]) + [mean.shape[-1]]).transpose(self.dim, -1)


class SeriesDecomposition(nn.Module):
    """Split a series into seasonal (x minus trend) and trend (moving average) parts, same shape."""

    def __init__(self, kernel_size: int, dim: int = 1) -> None:
        super().__init__()
        self.moving_avg = MovingAverage(kernel_size, dim)

    def extra_repr(self) -> str:
        return f"kernel_size={self.moving_avg.kernel_size}, dim={self.moving_avg.dim}"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        trend = self.moving_avg(x)
        return x - trend, trend


class SpectralConv1d(nn.Module):
    """Multiply the lowest ``modes`` Fourier coefficients of [B, C_in, L] by learned complex weights.

    rFFT over L, keep bins ``0..modes-1``, mix channels with ``weights`` (C_in, C_out, modes) complex
    (initialised ``rand / (C_in * C_out)`` for real and imaginary parts, as in PHM-Vibench), zero the
    other bins, inverse rFFT back to length L. Needs ``modes <= L // 2 + 1``.
    """

    def __init__(self, in_channels: int, out_channels: int, modes: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.modes = modes
        scale = 1.0 / (in_channels * out_channels)
        weights = scale * torch.rand(in_channels, out_channels, modes, dtype=torch.cfloat)
        # PHM-Vibench's shape and values, stored mode by mode: each mode's [in, out] matrix is contiguous,
        # so forward multiplies all modes in one bmm without copying the weights (an einsum transposes
        # them on every call: 0.3x its time at 256 channels). Gradients and loaded weights keep the layout.
        self.weights = nn.Parameter(weights.permute(2, 0, 1).contiguous().permute(1, 2, 0))

    def extra_repr(self) -> str:
        in_channels, out_channels, modes = self.weights.shape
        return f"{in_channels}, {out_channels}, modes={modes}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.weights  # read once: a module attribute costs more than the test
        if not weights.is_complex():  # made real by model.to(dtype), its imaginary part dropped
            raise RuntimeError(_real_weights("SpectralConv1d", "`weights`", weights.dtype))
        length = x.shape[-1]
        dtype = x.dtype
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        spectrum = torch.fft.rfft(x, dim=-1)[:, :, : self.modes]
        out = torch.zeros(x.shape[0], self.out_channels, length // 2 + 1, dtype=spectrum.dtype, device=x.device)
        # model.double() keeps complex weights complex64: a float64 signal's complex128 spectrum widens them
        mixing = weights.to(spectrum.dtype).permute(2, 0, 1)
        mixed = torch.bmm(spectrum.permute(2, 0, 1), mixing)  # [modes, B, out]
        out[:, :, : self.modes] = mixed.permute(1, 2, 0)
        return torch.fft.irfft(out, n=length, dim=-1).to(dtype)


# -- blocks -----------------------------------------------------------------------------------


def _averaged(ctx: ShapeContext, t: TensorType, kernel: int, dim: int) -> tuple[int, Dim]:
    ctx.dtype("x", t, FLOAT_DTYPES)
    ctx.rank("x", t, range(2, 9), "[B, L, ...]")
    axis = norm_axis(ctx, dim, len(t.shape))
    pad = (kernel - 1) // 2
    ctx.require(
        t.shape[axis] + 2 * pad,
        ">=",
        kernel,
        f"the padded series is at least as long as the window ({kernel})",
        param="kernel_size",
    )
    return axis, t.shape[axis] + 2 * pad - kernel + 1


def _padded(p: MovingAverageParams | SeriesDecompositionParams, t: TensorType) -> tuple[tuple[str, TensorType], ...]:
    """The copy of the series that MovingAverage pads with (kernel_size - 1) // 2 edge steps at each end."""
    pad = (p.kernel_size - 1) // 2
    if not pad:
        return ()
    axis = p.dim % len(t.shape)  # (the shape rule checked the axis)
    shape = list(t.shape)
    shape[axis] = shape[axis] + 2 * pad
    return ((f"the series padded by {pad:,} edge steps at each end", TensorType(tuple(shape), t.dtype)),)


@register
class MovingAverageBlock(Block):
    """Moving average along one dimension with edge-replicated padding (the trend of Autoformer/DLinear).

    Odd ``kernel_size`` keeps the length; an even one shortens it by one. No parameters.
    """

    name = "moving_average"
    Params = MovingAverageParams
    category = "decomposition"
    natives = (MovingAverage,)
    imports = ("F",)
    test_ranks = (3,)

    def infer(self, p: MovingAverageParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis, length = _averaged(ctx, t, p.kernel_size, p.dim)
        shape = list(t.shape)
        shape[axis] = length
        return [TensorType(tuple(shape), t.dtype)]

    def internal_tensors(self, p: MovingAverageParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        return _padded(p, ins[0])

    def flops(self, p: MovingAverageParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * p.kernel_size

    def init_code(self, p: MovingAverageParams) -> Code:
        return c.call(MovingAverage.__name__, p.kernel_size, dim=non_default(p.dim, 1))


@register
class SeriesDecompositionBlock(Block):
    """Split a series into `seasonal` (x minus trend) and `trend` (moving average), both shaped like x.

    ``kernel_size`` must be odd (an even window would shorten the trend). Autoformer's and DLinear's
    ``series_decomp``; read the parts as ``node.seasonal`` and ``node.trend``.
    """

    name = "series_decomposition"
    Params = SeriesDecompositionParams
    category = "decomposition"
    outputs = ("seasonal", "trend")
    natives = (MovingAverage, SeriesDecomposition)
    imports = ("F",)
    test_ranks = (3,)

    def infer(self, p: SeriesDecompositionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        if p.kernel_size % 2 == 0:
            raise ctx.fail(
                "the trend window must be odd so that trend and series have the same length",
                code="E301",
                param="kernel_size",
                expected="an odd kernel_size",
                found=str(p.kernel_size),
                hint=f"use {p.kernel_size + 1} or {p.kernel_size - 1}",
            )
        _averaged(ctx, t, p.kernel_size, p.dim)
        return [t, t]

    def internal_tensors(self, p: SeriesDecompositionParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        return _padded(p, ins[0])

    def flops(self, p: SeriesDecompositionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * (p.kernel_size + 1)

    def init_code(self, p: SeriesDecompositionParams) -> Code:
        return c.call(SeriesDecomposition.__name__, p.kernel_size, dim=non_default(p.dim, 1))


@register
class SpectralConv1dBlock(Block):
    """Fourier-neural-operator spectral convolution over [B, C, L]: learned complex weights on the lowest modes.

    Output [B, out_channels, L]. Weights are complex (C_in, C_out, modes); the parameter count counts
    real scalars (2 per complex weight). Needs ``modes <= L // 2 + 1``.
    """

    name = "spectral_conv1d"
    Params = SpectralConv1dParams
    category = "spectral"
    natives = (_real_weights, SpectralConv1d)
    fresh_output = True

    def infer(self, p: SpectralConv1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, frozenset({"float32"}))
        if p.in_channels is not None:
            ctx.equal(t.shape[1], p.in_channels, port="x", what="input channels", t=t, param="in_channels")
        ctx.set("in_channels", ctx.concrete(t.shape[1], "the input channels", port="x"))
        b, _, length = t.shape
        ctx.require(
            length // 2 + 1,
            ">=",
            p.modes,
            f"the signal has at least {p.modes} Fourier modes (L // 2 + 1 >= modes)",
            param="modes",
        )
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

    def init_code(self, p: SpectralConv1dParams) -> Code:
        return c.call(SpectralConv1d.__name__, p.in_channels, p.out_channels, p.modes)
