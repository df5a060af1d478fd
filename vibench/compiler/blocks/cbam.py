"""CBAM-style attention over [B, C, L]: channel gates (shared MLP) and spatial gates (a small convolution).

Woo et al., "CBAM: Convolutional Block Attention Module" (ECCV 2018), in 1D: ``channel_attention``
re-weights the channels, ``spatial_attention`` the positions; chained they form CBAM. Both return the
gated input (same shape), so a CBAM is two nodes, and ``channel_attention`` with ``pooling: avg`` is a
squeeze-and-excitation gate (Hu et al., CVPR 2018).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

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


class ChannelAttentionParams(BlockParams):
    reduction: int = Field(16, ge=1, description="Bottleneck ratio of the shared MLP: hidden width C // reduction.")
    pooling: Literal["avg_max", "avg"] = Field(
        "avg_max", description="Pooled descriptors fed to the MLP: average and max (CBAM) or average only (SE)."
    )
    bias: bool = Field(False, description="Biases in the two linear layers of the shared MLP.")
    in_channels: int | None = Field(None, ge=1, description="Channels C of [B, C, L] (inferred from the input).")


class SpatialAttentionParams(BlockParams):
    kernel_size: int = Field(7, ge=1, description="Odd width of the convolution over the pooled channel maps.")


# -- torch implementations (copied into model.py) --------------------------------------------


class ChannelAttention1d(nn.Module):
    """Scale the channels of [B, C, L] by sigmoid gates from a shared MLP on pooled descriptors.

    The per-channel average over L (and, with ``pooling="avg_max"``, the maximum) goes through the
    same MLP ``fc`` (C -> C // reduction -> C with a ReLU between); the results are summed, squashed
    by a sigmoid and multiply the channels.
    """

    def __init__(self, in_channels: int, reduction: int = 16, pooling: str = "avg_max", bias: bool = False) -> None:
        super().__init__()
        hidden = in_channels // reduction
        self.fc = nn.Sequential(
            nn.Linear(in_channels, hidden, bias=bias), nn.ReLU(), nn.Linear(hidden, in_channels, bias=bias)
        )
        self.pooling = pooling
        self.in_channels = in_channels
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"{self.in_channels}, reduction={self.reduction}, pooling={self.pooling!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(x.mean(dim=2))
        if self.pooling == "avg_max":
            logits = logits + self.fc(_peak(x, 2))
        return x * torch.sigmoid(logits).unsqueeze(2)


def _peak(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The maximum over ``dim``. ``amax`` is the cheaper forward; under autograd ``max``'s backward (to the
    one position that won, as the reference's max pooling routes it) cost 0.23-0.48 ms where amax's
    (shared among ties) cost 0.63-0.74 ms, forward and backward of [8, 64-256, 128-512] on 1 thread. A trace
    takes ``max`` whatever the grad mode: torch.jit.trace reruns the model in another mode to check the graph
    (which must not differ), and the traced graph, run with gradients, must route them as the reference."""
    return x.max(dim=dim)[0] if torch.is_grad_enabled() or torch.jit.is_tracing() else x.amax(dim=dim)


class SpatialAttention1d(nn.Module):
    """Scale the positions of [B, C, L] by sigmoid gates from a conv over the channel mean and max."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def extra_repr(self) -> str:
        return f"kernel_size={self.conv.kernel_size[0]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), _peak(x, 1).unsqueeze(1)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


# -- blocks -----------------------------------------------------------------------------------


def _signal(ctx: ShapeContext, t: TensorType) -> None:
    ctx.rank("x", t, 3, "[B, C, L]")
    ctx.dtype("x", t, FLOAT_DTYPES)


@register
class ChannelAttention(Block):
    """Channel attention over [B, C, L]: sigmoid gates from a shared MLP on pooled channel descriptors.

    The average (and, with ``pooling: avg_max``, the max) over L of each channel goes through the same
    two-layer MLP (C -> C // reduction -> C, ReLU between); the summed results pass a sigmoid and scale
    the channels. Output [B, C, L]; needs ``C // reduction >= 1``. State: ``fc.0.weight``, ``fc.2.weight``.
    """

    name = "channel_attention"
    Params = ChannelAttentionParams
    category = "attention"
    natives = (_peak, ChannelAttention1d)
    fresh_output = True  # the gated input x * gates, a new product autograd does not keep
    test_hints = {"reduction": (1, 2, 4)}

    def infer(self, p: ChannelAttentionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        _signal(ctx, t)
        if p.in_channels is not None:
            ctx.equal(t.shape[1], p.in_channels, port="x", what="channels", t=t, param="in_channels")
        channels = ctx.concrete(t.shape[1], "the channel count", port="x")
        if channels // p.reduction < 1:
            raise ctx.fail(f"{channels} channels with reduction {p.reduction} leave the MLP no hidden unit",
                           param="reduction", expected=f"reduction <= {channels}", found=str(p.reduction),
                           hint=f"use a reduction of at most {channels}, or more channels")
        ctx.set("in_channels", channels)
        return [t]

    def param_count(self, p: ChannelAttentionParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        hidden = p.in_channels // p.reduction
        return 2 * p.in_channels * hidden + ((hidden + p.in_channels) if p.bias else 0)

    def flops(self, p: ChannelAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        descriptors = 2 if p.pooling == "avg_max" else 1
        mlp = 4 * p.in_channels * (p.in_channels // p.reduction)
        return (descriptors + 1) * numel(outs[0]) + descriptors * ins[0].shape[0] * mlp

    def init_code(self, p: ChannelAttentionParams) -> Code:
        return c.call(ChannelAttention1d.__name__, p.in_channels, reduction=p.reduction,
                      pooling=non_default(p.pooling, "avg_max"), bias=non_default(p.bias, False))


@register
class SpatialAttention(Block):
    """Spatial attention over [B, C, L]: sigmoid gates per position from a conv over channel mean and max.

    The mean and the max over the channels form a [B, 2, L] map; a bias-free convolution of width
    ``kernel_size`` (odd, zero padding ``kernel_size // 2``) gives one gate per position, which scales
    every channel there. Output [B, C, L]. State: ``conv.weight`` (1, 2, kernel_size).
    """

    name = "spatial_attention"
    Params = SpatialAttentionParams
    category = "attention"
    natives = (_peak, SpatialAttention1d)
    fresh_output = True  # the gated input x * gates, a new product autograd does not keep
    test_hints = {"kernel_size": (1, 3, 5, 7)}

    def infer(self, p: SpatialAttentionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        _signal(ctx, t)
        if p.kernel_size % 2 == 0:
            raise ctx.fail("the gate convolution needs an odd kernel to keep the length", param="kernel_size",
                           expected="an odd kernel_size", found=str(p.kernel_size),
                           hint=f"use {p.kernel_size + 1} or {p.kernel_size - 1}")
        return [t]

    def param_count(self, p: SpatialAttentionParams, ins: list[TensorType]) -> int:
        return 2 * p.kernel_size

    def flops(self, p: SpatialAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        b, _, length = outs[0].shape
        return 3 * numel(outs[0]) + 4 * p.kernel_size * b * length

    def init_code(self, p: SpatialAttentionParams) -> Code:
        return c.call(SpatialAttention1d.__name__, kernel_size=p.kernel_size)
