"""Pooling over the length of [B, C, L]. Parameter-free, emitted as functional calls."""

from __future__ import annotations

from typing import Any

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import AdaptivePool1dParams, AvgPool1dParams, MaxPool1dParams


def _pooled_length(ctx: ShapeContext, length: Dim, kernel: int, stride: int, padding: int, dilation: int,
                   ceil_mode: bool) -> Dim:
    if padding > kernel // 2:
        raise ctx.fail("padding must be at most half the kernel size", param="padding",
                       expected=f"padding <= {kernel // 2}", found=str(padding))
    span = dilation * (kernel - 1) + 1
    ctx.require(length + 2 * padding, ">=", span, f"the input is at least as long as the pooling window ({span})")
    if not ceil_mode:
        return (length + 2 * padding - span) // stride + 1
    # ceil_mode drops a last window that would start inside the right padding: decide it on numbers.
    n = ctx.concrete(length, "the input length (ceil_mode rounds on the actual length)", port="x")
    out = -(-(n + 2 * padding - span) // stride) + 1
    if (out - 1) * stride >= n + padding:
        out -= 1
    return out


@register
class MaxPool1d(Block):
    """Max pooling over the length of [B, C, L] (torch.nn.functional.max_pool1d)."""

    name = "max_pool1d"
    Params = MaxPool1dParams
    category = "pooling"
    imports = ("F",)

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

    def call_code(self, p: MaxPool1dParams, args: list[str], mod: str) -> str:
        return call("F.max_pool1d", args[0], p.kernel_size, stride=non_default(p.stride, None),
                    padding=non_default(p.padding, 0), dilation=non_default(p.dilation, 1),
                    ceil_mode=non_default(p.ceil_mode, False))


@register
class AvgPool1d(Block):
    """Average pooling over the length of [B, C, L] (torch.nn.functional.avg_pool1d)."""

    name = "avg_pool1d"
    Params = AvgPool1dParams
    category = "pooling"
    imports = ("F",)

    def infer(self, p: AvgPool1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, c, length = t.shape
        out = _pooled_length(ctx, length, p.kernel_size, p.stride or p.kernel_size, p.padding, 1, p.ceil_mode)
        return [TensorType((b, c, out), t.dtype)]

    def flops(self, p: AvgPool1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0]) * p.kernel_size

    def call_code(self, p: AvgPool1dParams, args: list[str], mod: str) -> str:
        return call("F.avg_pool1d", args[0], p.kernel_size, stride=non_default(p.stride, None),
                    padding=non_default(p.padding, 0), ceil_mode=non_default(p.ceil_mode, False),
                    count_include_pad=non_default(p.count_include_pad, True))


class _Adaptive(Block):
    Params = AdaptivePool1dParams
    category = "pooling"
    imports = ("F",)
    fn = ""

    def infer(self, p: AdaptivePool1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, c, _ = t.shape
        return [TensorType((b, c, p.output_size), t.dtype)]

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(ins[0])

    def call_code(self, p: AdaptivePool1dParams, args: list[str], mod: str) -> str:
        return f"{self.fn}({args[0]}, {p.output_size})"


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
