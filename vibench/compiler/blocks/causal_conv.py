"""Causal (optionally weight-normalised) dilated convolution over [B, C, L], the layer of a TCN.

Bai, Kolter and Koltun, "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for
Sequence Modeling" (2018): output step t sees only input steps <= t, so the input is padded on the
left by ``dilation * (kernel_size - 1)`` zeros and the output keeps the length L.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
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


class CausalConv1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Kernel width.")
    dilation: int = Field(1, ge=1, description="Spacing between kernel taps.")
    bias: bool = Field(True, description="Learnable bias.")
    weight_norm: bool = Field(
        False, description="Weight normalisation: the kernel is g * v / |v| per output channel (weight_g, weight_v)."
    )
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


# -- torch implementations (copied into model.py) --------------------------------------------


class CausalConv1d(nn.Module):
    """Dilated convolution whose output step t sees only input steps <= t; keeps the length L.

    The input gets ``dilation * (kernel_size - 1)`` zeros on the left, then a plain convolution runs:
    the same result as padding both sides and dropping the last outputs ("chomp"). Parameters and
    their initialisation are those of ``nn.Conv1d``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True
    ) -> None:
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.weight = conv.weight
        self.bias = conv.bias
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1)

    def extra_repr(self) -> str:
        out_channels, in_channels, kernel_size = self.weight.shape
        bias = "" if self.bias is not None else ", bias=False"
        return f"{in_channels}, {out_channels}, kernel_size={kernel_size}, dilation={self.dilation}{bias}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(F.pad(x, (self.padding, 0)), self.weight, self.bias, dilation=self.dilation)


class WeightNormCausalConv1d(nn.Module):
    """A causal dilated convolution with weight normalisation: kernel = weight_g * weight_v / |weight_v|.

    The norm is taken per output channel, as ``torch.nn.utils.weight_norm`` does, and the parameters
    carry its ``state_dict`` names (``weight_g`` [out, 1, 1], ``weight_v`` [out, in, k], ``bias``).
    ``weight_v`` starts as ``nn.Conv1d`` would initialise its weight and ``weight_g`` as its norm.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, bias: bool = True
    ) -> None:
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.weight_g = nn.Parameter(torch.linalg.vector_norm(conv.weight.detach(), dim=(1, 2), keepdim=True))
        self.weight_v = conv.weight
        self.bias = conv.bias
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1)

    def extra_repr(self) -> str:
        out_channels, in_channels, kernel_size = self.weight_v.shape
        bias = "" if self.bias is not None else ", bias=False"
        return f"{in_channels}, {out_channels}, kernel_size={kernel_size}, dilation={self.dilation}{bias}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_v * (self.weight_g / torch.linalg.vector_norm(self.weight_v, dim=(1, 2), keepdim=True))
        return F.conv1d(F.pad(x, (self.padding, 0)), weight, self.bias, dilation=self.dilation)


# -- block ------------------------------------------------------------------------------------


@register
class CausalConv1dBlock(Block):
    """Causal dilated 1D convolution, [B, C, L] -> [B, out_channels, L]; optionally weight-normalised.

    Equal to a ``conv1d`` with padding ``dilation * (kernel_size - 1)`` on both sides whose last
    ``padding`` outputs are dropped (the "chomp" of TCN code). With ``weight_norm: true`` the kernel is
    ``weight_g * weight_v / |weight_v|`` (norm per output channel), the parametrisation and ``state_dict``
    names of ``torch.nn.utils.weight_norm``; ``weight_g`` adds out_channels parameters.
    """

    name = "causal_conv1d"
    Params = CausalConv1dParams
    category = "convolution"
    natives = (CausalConv1d, WeightNormCausalConv1d)
    imports = ("F",)
    fresh_output = True  # a convolution's result

    def infer(self, p: CausalConv1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.in_channels is not None:
            ctx.equal(t.shape[1], p.in_channels, port="x", what="input channels", t=t, param="in_channels")
        ctx.set("in_channels", ctx.concrete(t.shape[1], "input channels", port="x"))
        b, _, length = t.shape
        return [TensorType((b, p.out_channels, length), t.dtype)]

    def internal_tensors(self, p: CausalConv1dParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        pad = p.dilation * (p.kernel_size - 1)  # forward pads a copy of the input on the left (F.pad)
        if not pad:
            return ()
        b, c, length = ins[0].shape
        return ((f"the input padded on the left by {pad:,} steps", TensorType((b, c, length + pad), ins[0].dtype)),)

    def param_count(self, p: CausalConv1dParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        extra = (p.out_channels if p.bias else 0) + (p.out_channels if p.weight_norm else 0)
        return p.out_channels * p.in_channels * p.kernel_size + extra

    def flops(self, p: CausalConv1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        b, c, length = outs[0].shape
        return 2 * b * c * length * p.in_channels * p.kernel_size

    def native_classes(self, p: CausalConv1dParams) -> tuple[type, ...]:
        return (_native(p),)

    def init_code(self, p: CausalConv1dParams) -> Code:
        return c.call(_native(p).__name__, p.in_channels, p.out_channels, p.kernel_size,
                      dilation=non_default(p.dilation, 1), bias=non_default(p.bias, True))


def _native(p: CausalConv1dParams) -> type:
    return WeightNormCausalConv1d if p.weight_norm else CausalConv1d
