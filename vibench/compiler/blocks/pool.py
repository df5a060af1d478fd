"""Pooling over the length of [B, C, L]. Parameter-free, emitted as functional calls."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

TORCH_INT_MAX = 2**31 - 1
"""The largest window width, step and dilation torch's poolings take: they read them as 32-bit ints (torch 2.13:
an avg_pool1d stride of 2**31 raised "value cannot be converted to type int without overflow", a max_pool1d
stride of 10**12 with ceil_mode "Invalid computed output size: 0"). Padding is at most kernel_size // 2."""
_CEIL = ("Round the output length up: a last, partial window counts when it starts inside the input or its "
         "left padding.")


class MaxPool1dParams(BlockParams):
    kernel_size: int = Field(ge=1, le=TORCH_INT_MAX, description="Window width.")
    stride: int | None = Field(None, ge=1, le=TORCH_INT_MAX, description="Step between windows (default: "
                               "kernel_size).")
    padding: int = Field(0, ge=0, description="Implicit -inf padding on both sides (at most kernel_size // 2).")
    dilation: int = Field(1, ge=1, le=TORCH_INT_MAX, description="Spacing between window taps.")
    ceil_mode: bool = Field(False, description=_CEIL)


class AvgPool1dParams(BlockParams):
    kernel_size: int = Field(ge=1, le=TORCH_INT_MAX, description="Window width.")
    stride: int | None = Field(None, ge=1, le=TORCH_INT_MAX, description="Step between windows (default: "
                               "kernel_size).")
    padding: int = Field(0, ge=0, description="Implicit zero padding on both sides (at most kernel_size // 2).")
    ceil_mode: bool = Field(False, description=_CEIL)
    count_include_pad: bool = Field(True, description="Count padded zeros in the average.")


class AdaptivePool1dParams(BlockParams):
    output_size: int = Field(ge=1, description="Output length.")


def _pooled_length(ctx: ShapeContext, length: Dim, kernel: int, stride: int, padding: int, dilation: int,
                   ceil_mode: bool) -> Dim:
    """torch's output length (``pooling_output_shape``), which must be at least 1.

    ceil_mode rounds ``(L + 2p - span) / stride`` up but drops a last window that would start in the
    right padding (at or past ``L + p``); both steps together are one floor division,
    ``(L + 2p - span + m - 1) // stride + 1`` with ``m = min(stride, span - p)`` (``m = 1`` without
    ceil_mode). Checked against torch 2.13 for every L < 25, kernel < 9, stride < 7, dilation < 4.
    """
    if padding > kernel // 2:
        raise ctx.fail("padding must be at most half the kernel size", param="padding",
                       expected=f"padding <= {kernel // 2}", found=str(padding))
    span = dilation * (kernel - 1) + 1
    m = min(stride, span - padding) if ceil_mode else 1
    if m == 1:
        ctx.require(length + 2 * padding, ">=", span,
                    f"the input is at least as long as the pooling window ({span})")
    else:  # the rounded-up window count may cover a window longer than the input
        ctx.require(length + 2 * padding + m - 1, ">=", span,
                    f"the input gives at least one window with ceil_mode (span {span}, stride {stride})")
    return (length + 2 * padding - span + m - 1) // stride + 1


@register
class MaxPool1d(Block):
    """Max pooling over the length of [B, C, L] (torch.nn.functional.max_pool1d)."""

    name = "max_pool1d"
    Params = MaxPool1dParams
    category = "pooling"
    imports = ("F",)
    fresh_output = True

    def infer(self, p: MaxPool1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, c, length = t.shape
        out = _pooled_length(ctx, length, p.kernel_size, p.stride or p.kernel_size, p.padding, p.dilation,
                             p.ceil_mode)
        return [TensorType((b, c, out), t.dtype)]

    def flops(self, p: MaxPool1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * p.kernel_size

    def call_code(self, p: MaxPool1dParams, args: list[Code], mod: Code) -> Code:
        return c.call("F.max_pool1d", args[0], p.kernel_size, stride=non_default(p.stride, None),
                      padding=non_default(p.padding, 0), dilation=non_default(p.dilation, 1),
                      ceil_mode=non_default(p.ceil_mode, False))


@register
class AvgPool1d(Block):
    """Average pooling over the length of [B, C, L] (torch.nn.functional.avg_pool1d)."""

    name = "avg_pool1d"
    Params = AvgPool1dParams
    category = "pooling"
    imports = ("F",)
    fresh_output = True

    def unread_params(self, p: AvgPool1dParams) -> dict[str, str]:
        return {"count_include_pad": "with padding"} if p.padding == 0 else {}

    def infer(self, p: AvgPool1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, c, length = t.shape
        out = _pooled_length(ctx, length, p.kernel_size, p.stride or p.kernel_size, p.padding, 1, p.ceil_mode)
        return [TensorType((b, c, out), t.dtype)]

    def flops(self, p: AvgPool1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * p.kernel_size

    def call_code(self, p: AvgPool1dParams, args: list[Code], mod: Code) -> Code:
        return c.call("F.avg_pool1d", args[0], p.kernel_size, stride=non_default(p.stride, None),
                      padding=non_default(p.padding, 0), ceil_mode=non_default(p.ceil_mode, False),
                      count_include_pad=non_default(p.count_include_pad, True))


class _Adaptive(Block):
    Params = AdaptivePool1dParams
    category = "pooling"
    imports = ("F",)
    fresh_output = True
    fn: ClassVar[str]  # the function, e.g. F.adaptive_avg_pool1d

    def infer(self, p: AdaptivePool1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, c, _ = t.shape
        return [TensorType((b, c, p.output_size), t.dtype)]

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(ins[0])

    def call_code(self, p: AdaptivePool1dParams, args: list[Code], mod: Code) -> Code:
        return c.call(self.fn, args[0], p.output_size)


@register
class AdaptiveAvgPool1d(_Adaptive):
    """Average pooling to a fixed output length (torch.nn.functional.adaptive_avg_pool1d)."""

    name = "adaptive_avg_pool1d"
    fn = "F.adaptive_avg_pool1d"


@register
class AdaptiveMaxPool1d(_Adaptive):
    """Max pooling to a fixed output length (torch.nn.functional.adaptive_max_pool1d)."""

    name = "adaptive_max_pool1d"
    fn = "F.adaptive_max_pool1d"
