"""``wavelet_conv1d``: a plain and a dilated convolution mixed by two learned scalars (WaveletNO's layer).

PHM-Vibench's NO/WaveletNO calls it a "wavelet-inspired" layer: the plain convolution stands for the
low-frequency part, the dilated one (dilation 2) for the high-frequency part, and the output is
``alpha * conv_low(x) + beta * conv_high(x)`` with scalar parameters ``alpha``, ``beta`` (both 0.5
at first). Both branches keep the length: [B, C, L] -> [B, out_channels, L].
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class WaveletConvParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels of both branches.")
    kernel_size: int = Field(3, ge=1, description="Taps of both convolutions (odd: the length is kept).")
    in_channels: int | None = Field(None, ge=1, description="Input channels C of [B, C, L] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class WaveletConv1d(nn.Module):
    """``alpha * conv_low(x) + beta * conv_high(x)`` over [B, C, L]: plain and dilation-2 convolutions.

    Both convolutions have ``kernel_size`` taps and biases and keep the length L (padding
    ``kernel_size // 2`` and ``kernel_size - 1``); ``alpha`` and ``beta`` are learned scalars
    initialised to 0.5 (PHM-Vibench's WaveletConvLayer).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.conv_low = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.conv_high = nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size - 1, dilation=2)
        self.alpha = nn.Parameter(torch.tensor(0.5))
        self.beta = nn.Parameter(torch.tensor(0.5))

    def extra_repr(self) -> str:
        conv = self.conv_low
        return f"{conv.in_channels}, {conv.out_channels}, kernel_size={conv.kernel_size[0]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * self.conv_low(x) + self.beta * self.conv_high(x)


# -- block ------------------------------------------------------------------------------------


@register
class WaveletConv1dBlock(Block):
    """A plain and a dilation-2 convolution mixed by learned scalars alpha, beta (WaveletNO's layer).

    [B, C, L] -> [B, out_channels, L]; ``kernel_size`` must be odd so that both branches keep L.
    """

    name = "wavelet_conv1d"
    Params = WaveletConvParams
    category = "convolution"
    natives = (WaveletConv1d,)
    fresh_output = True
    test_hints = {"kernel_size": (1, 3, 5)}

    def infer(self, p: WaveletConvParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.kernel_size % 2 == 0:
            raise ctx.fail("an even kernel would make the two branches differ in length", param="kernel_size",
                           expected="an odd kernel_size", found=str(p.kernel_size),
                           hint=f"use {p.kernel_size + 1} or {p.kernel_size - 1}")
        if p.in_channels is not None:
            ctx.equal(t.shape[1], p.in_channels, port="x", what="input channels", t=t, param="in_channels")
        ctx.set("in_channels", ctx.concrete(t.shape[1], "the input channels", port="x"))
        return [TensorType((t.shape[0], p.out_channels, t.shape[2]), t.dtype)]

    def param_count(self, p: WaveletConvParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        return 2 * (p.out_channels * p.in_channels * p.kernel_size + p.out_channels) + 2

    def flops(self, p: WaveletConvParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        return numel(outs[0]) * (4 * p.in_channels * p.kernel_size + 3)

    def init_code(self, p: WaveletConvParams) -> Code:
        return c.call(WaveletConv1d.__name__, p.in_channels, p.out_channels,
                      kernel_size=non_default(p.kernel_size, 3))
