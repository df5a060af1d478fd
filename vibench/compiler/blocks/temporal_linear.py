"""DLinear's linear map along time, shared by all channels or one per channel."""

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


class TemporalLinearParams(BlockParams):
    out_features: int | None = Field(None, ge=1, description="Output length (default: the input length L).")
    individual: bool = Field(False, description="One layer per channel instead of one shared by all channels.")
    average_init: bool = Field(False, description="Start every weight at 1 / L (DLinear) instead of torch's default.")
    in_features: int | None = Field(None, ge=1, description="Input length L of [B, C, L] (inferred).")
    channels: int | None = Field(None, ge=1, description="Channels C of [B, C, L] (inferred; individual layers only).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class TemporalLinear(nn.Module):
    """Linear map along the last dimension of [B, C, L] -> [B, C, out_features].

    Shared (``channels`` None): one layer, whose ``weight`` and ``bias`` are this module's own (the
    ``state_dict`` of an ``nn.Linear``). Individual: one ``nn.Linear`` per channel, children ``0``,
    ``1``, ... (an ``nn.ModuleList``'s keys). ``average_init`` starts every weight at 1 / L, DLinear's
    initialisation (the output starts as the mean over time plus a bias).
    """

    individual: torch.jit.Final[bool]

    def __init__(
        self, in_features: int, out_features: int, channels: int | None = None, average_init: bool = False
    ) -> None:
        super().__init__()
        layers = [nn.Linear(in_features, out_features) for _ in range(channels or 1)]
        if average_init:
            for layer in layers:
                nn.init.constant_(layer.weight, 1.0 / in_features)
        self.in_features = in_features
        self.out_features = out_features
        self.individual = channels is not None  # a constant for TorchScript, which then drops the other branch
        if self.individual:
            for k, layer in enumerate(layers):
                self.add_module(str(k), layer)
        else:
            self.weight = layers[0].weight
            self.bias = layers[0].bias

    def extra_repr(self) -> str:
        channels = f", channels={len(self._modules)}" if self.individual else ""
        return f"in_features={self.in_features}, out_features={self.out_features}{channels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.individual:
            return F.linear(x, self.weight, self.bias)
        return torch.stack([layer(x[:, k]) for k, layer in enumerate(self.children())], dim=1)


# -- block ------------------------------------------------------------------------------------


@register
class TemporalLinearBlock(Block):
    """Linear map along the time axis of [B, C, L] -> [B, C, out_features], shared or one per channel.

    DLinear's seasonal and trend projections (Zeng et al., 2023): ``individual`` gives every channel
    its own layer (C must then be known), ``average_init`` starts the weights at 1 / L. The input
    length L sizes the weights, so it must be known at compile time. Parameters: (L + 1) * out per
    layer.
    """

    name = "temporal_linear"
    Params = TemporalLinearParams
    category = "dense"
    natives = (TemporalLinear,)
    imports = ("F",)
    fresh_output = True  # F.linear or torch.stack: autograd keeps neither result
    test_layouts = (("B C L",),)
    test_hints = {"out_features": (None, 1, 5, 16)}

    def infer(self, p: TemporalLinearParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, channels, length = t.shape
        if p.in_features is not None:
            ctx.equal(length, p.in_features, port="x", what="input length L (in_features)", t=t, param="in_features")
        if p.channels is not None:
            ctx.equal(channels, p.channels, port="x", what="channels C", t=t, param="channels")
        in_features = ctx.concrete(length, "the input length L (it sizes the weights)", port="x")
        ctx.set("in_features", in_features)
        out = p.out_features if p.out_features is not None else in_features
        ctx.set("out_features", out)
        if p.individual:
            ctx.set("channels", ctx.concrete(channels, "the channels C (one layer each)", port="x"))
        return [TensorType((b, channels, out), t.dtype)]

    def submodule_count(self, p: TemporalLinearParams, ins: list[TensorType]) -> int:
        return p.channels if p.individual and p.channels is not None else 0  # one nn.Linear per channel

    def param_count(self, p: TemporalLinearParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None and p.out_features is not None
        layers = p.channels if p.individual and p.channels is not None else 1
        return layers * (p.in_features + 1) * p.out_features

    def flops(self, p: TemporalLinearParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None and p.out_features is not None
        b, channels, _ = ins[0].shape
        return 2 * b * channels * p.in_features * p.out_features

    def init_code(self, p: TemporalLinearParams) -> Code:
        return c.call(TemporalLinear.__name__, p.in_features, p.out_features,
                      channels=p.channels if p.individual else non_default(None, None),
                      average_init=non_default(p.average_init, False))
