"""Convolutions over [B, C, L]."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

# No upper bounds on sizes past what the shape rules check (torch 2.13, measured): conv1d runs strides, dilations
# and paddings of 2**32 and more; a kernel of 2**31 exceeds the parameter budget (E307); a transposed padding of
# 2**31 leaves no output length (E302), and a transposed stride of 2**31 fails the CPU bound in
# ConvTranspose1d.infer with a narrower kernel; a wider one (2**31 weights) is at the parameter budget, and torch
# raises "stride should be greater than zero" (an error, not a crash).


class Conv1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Kernel width.")
    stride: int = Field(1, ge=1, description="Stride.")
    padding: Annotated[int, Field(ge=0)] | Literal["same", "valid"] = Field(
        0, description="Zero padding on both sides, or 'same' / 'valid'."
    )
    dilation: int = Field(1, ge=1, description="Spacing between kernel taps.")
    groups: int = Field(1, ge=1, description="Blocked connections; in and out channels must divide by it.")
    bias: bool = Field(True, description="Learnable bias.")
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field("zeros", description="Padding mode.")
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


class ConvTranspose1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Kernel width.")
    stride: int = Field(1, ge=1, description="Stride (the upsampling factor).")
    padding: int = Field(0, ge=0, description="Implicit padding removed from both sides of the output.")
    output_padding: int = Field(0, ge=0, description="Extra length added to one side of the output.")
    dilation: int = Field(1, ge=1, description="Spacing between kernel taps.")
    groups: int = Field(1, ge=1, description="Blocked connections.")
    bias: bool = Field(True, description="Learnable bias.")
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


def _channels(ctx: ShapeContext, p: Conv1dParams | ConvTranspose1dParams, t: TensorType) -> int:
    ctx.rank("x", t, 3, "[B, C, L]")
    ctx.dtype("x", t, FLOAT_DTYPES)
    if p.in_channels is not None:
        ctx.equal(t.shape[1], p.in_channels, port="x", what="input channels", t=t, param="in_channels")
    cin = ctx.concrete(t.shape[1], "input channels", port="x")
    if cin % p.groups:
        raise ctx.fail(f"input channels {cin} do not divide into groups={p.groups}", param="groups",
                       expected=f"channels divisible by {p.groups}", found=str(cin))
    if p.out_channels % p.groups:
        raise ctx.fail(f"out_channels={p.out_channels} does not divide into groups={p.groups}", param="groups",
                       expected=f"out_channels divisible by {p.groups}", found=str(p.out_channels))
    ctx.set("in_channels", cin)
    return cin


@register
class Conv1d(Block):
    """1D convolution over [B, C, L] (torch.nn.Conv1d).

    Output length ``(L + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1``; ``padding: same``
    keeps L (stride 1 only). ``in_channels`` is taken from the input.
    """

    name = "conv1d"
    Params = Conv1dParams
    category = "convolution"
    fresh_output = True

    def unread_params(self, p: Conv1dParams) -> dict[str, str]:
        return {"padding_mode": "with padding"} if p.padding in (0, "valid") else {}

    def infer(self, p: Conv1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        _channels(ctx, p, t)
        b, _, length = t.shape
        span = p.dilation * (p.kernel_size - 1)
        _padding_fits(ctx, p, length, span)
        if p.padding == "same":
            if p.stride != 1:
                raise ctx.fail("padding 'same' needs stride 1", param="padding", expected="stride: 1",
                               found=f"stride: {p.stride}", hint="use a number for padding with strided convolutions")
            return [TensorType((b, p.out_channels, length), t.dtype)]
        pad = 0 if p.padding == "valid" else p.padding
        ctx.require(length + 2 * pad, ">=", span + 1, f"the input is at least as long as the kernel span ({span + 1})")
        out = (length + 2 * pad - span - 1) // p.stride + 1
        return [TensorType((b, p.out_channels, out), t.dtype)]

    def internal_tensors(self, p: Conv1dParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        if p.padding_mode == "zeros":  # torch pads inside the kernel (an odd 'same' adds one step): no copy
            return ()
        span = p.dilation * (p.kernel_size - 1)  # torch's Conv1d pads a copy of the input first (F.pad)
        added = span if p.padding == "same" else 0 if p.padding == "valid" else 2 * p.padding
        if not added:
            return ()
        b, c, length = ins[0].shape
        return ((f"the input padded ({p.padding_mode}) by {added:,} steps", TensorType((b, c, length + added),
                                                                                       ins[0].dtype)),)

    def param_count(self, p: Conv1dParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        return p.out_channels * (p.in_channels // p.groups) * p.kernel_size + (p.out_channels if p.bias else 0)

    def flops(self, p: Conv1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        b, c, length = outs[0].shape
        return 2 * b * c * length * (p.in_channels // p.groups) * p.kernel_size

    def init_code(self, p: Conv1dParams) -> Code:
        return c.call(
            "nn.Conv1d", p.in_channels, p.out_channels,
            kernel_size=p.kernel_size,
            stride=non_default(p.stride, 1),
            padding=non_default(p.padding, 0),
            dilation=non_default(p.dilation, 1),
            groups=non_default(p.groups, 1),
            bias=non_default(p.bias, True),
            padding_mode=non_default(p.padding_mode, "zeros"),
        )


def _padding_fits(ctx: ShapeContext, p: Conv1dParams, length: Dim, span: int) -> None:
    """Reflect padding needs more samples than it pads, circular at least as many (torch refuses otherwise)."""
    if p.padding_mode not in ("reflect", "circular"):
        return
    widest = span - span // 2 if p.padding == "same" else 0 if p.padding == "valid" else p.padding
    if widest == 0:
        return
    if p.padding_mode == "reflect":
        ctx.require(length, ">", widest, f"reflect padding of {widest} mirrors inside the input", param="padding_mode")
    else:
        ctx.require(length, ">=", widest, f"circular padding of {widest} wraps around the input at most once",
                    param="padding_mode")


@register
class ConvTranspose1d(Block):
    """Transposed 1D convolution over [B, C, L] (torch.nn.ConvTranspose1d), e.g. for upsampling.

    Output length ``(L - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1``. A kernel
    that is no multiple of the stride needs ``out_channels * ceil(kernel_size / stride) * stride**2 * L < 2**31``,
    where torch's CPU kernel overflows.
    """

    name = "conv_transpose1d"
    Params = ConvTranspose1dParams
    category = "convolution"
    fresh_output = True

    def infer(self, p: ConvTranspose1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        _channels(ctx, p, t)
        if p.output_padding >= max(p.stride, p.dilation):
            raise ctx.fail("output_padding must be smaller than stride or dilation", param="output_padding",
                           expected=f"output_padding < {max(p.stride, p.dilation)}", found=str(p.output_padding))
        b, _, length = t.shape
        out = (length - 1) * p.stride - 2 * p.padding + p.dilation * (p.kernel_size - 1) + p.output_padding + 1
        ctx.require(out, ">=", 1, "the output length is positive")
        if p.kernel_size % p.stride:
            # torch's CPU kernel (oneDNN's strided convolution, which it picks when the kernel is no multiple of
            # the stride) indexes a buffer of about out_channels * ceil(kernel / stride) * stride**2 * L elements
            # with 32-bit ints: near 2**31 the process dies (SIGSEGV, SIGFPE; torch 2.13: out_channels 17,
            # stride 1000 died at L = 127 and ran at 126; kernel 8, stride 16, 64 channels died at L = 140,000;
            # kernel 17, stride 16 died at 131,071 and ran at 100,000; kernels 16, 32, 48 ran at 200,000).
            ctx.require(p.out_channels * -(-p.kernel_size // p.stride) * p.stride**2 * length, "<", 2**31,
                        "torch's CPU kernel for a kernel that is no multiple of the stride overflows at "
                        "out_channels * ceil(kernel_size / stride) * stride**2 * L >= 2**31", param="stride")
        return [TensorType((b, p.out_channels, out), t.dtype)]

    def param_count(self, p: ConvTranspose1dParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        return p.in_channels * (p.out_channels // p.groups) * p.kernel_size + (p.out_channels if p.bias else 0)

    def flops(self, p: ConvTranspose1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        b, _, length = ins[0].shape
        return 2 * b * length * p.in_channels * (p.out_channels // p.groups) * p.kernel_size

    def init_code(self, p: ConvTranspose1dParams) -> Code:
        return c.call(
            "nn.ConvTranspose1d", p.in_channels, p.out_channels,
            kernel_size=p.kernel_size,
            stride=non_default(p.stride, 1),
            padding=non_default(p.padding, 0),
            output_padding=non_default(p.output_padding, 0),
            groups=non_default(p.groups, 1),
            bias=non_default(p.bias, True),
            dilation=non_default(p.dilation, 1),
        )
