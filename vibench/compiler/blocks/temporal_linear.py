"""DLinear's linear map along time, shared by all channels or one per channel."""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_dlinear import TemporalLinearParams


@register
class TemporalLinear(Block):
    """Linear map along the time axis of [B, C, L] -> [B, C, out_features], shared or one per channel.

    DLinear's seasonal and trend projections (Zeng et al., 2023): ``individual`` gives every channel
    its own layer (C must then be known), ``average_init`` starts the weights at 1 / L. The input
    length L sizes the weights, so it must be known at compile time. Parameters: (L + 1) * out per
    layer.
    """

    name = "temporal_linear"
    Params = TemporalLinearParams
    category = "dense"
    natives = ("TemporalLinear",)
    imports = ("F",)
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

    def param_count(self, p: TemporalLinearParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None and p.out_features is not None
        layers = p.channels if p.individual and p.channels is not None else 1
        return layers * (p.in_features + 1) * p.out_features

    def flops(self, p: TemporalLinearParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None and p.out_features is not None
        b, channels, _ = ins[0].shape
        return 2 * b * channels * p.in_features * p.out_features

    def init_code(self, p: TemporalLinearParams) -> str:
        return call("TemporalLinear", p.in_features, p.out_features,
                    channels=p.channels if p.individual else non_default(None, None),
                    average_init=non_default(p.average_init, False))
