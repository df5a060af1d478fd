"""A linear map along a series (the last dimension of [B, C, L]), shared by the channels or one per channel."""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_isfm_backbones import SeriesLinearParams


@register
class SeriesLinear(Block):
    """Linear map of each channel's series in [B, C, L] -> [B, C, out_features], shared or one per channel.

    DLinear's projections: ``individual: false`` is one linear layer (L -> out_features, torch.nn.Linear's
    parameters ``<node>.weight``/``bias``) for all channels; ``individual: true`` gives channel c its
    own layer ``<node>.layers.<c>``, so C must be known. ``init: average`` starts every weight at 1 / L, so
    each output begins as the mean of the series (biases keep torch's default).
    """

    name = "series_linear"
    Params = SeriesLinearParams
    category = "dense"
    natives = ("SeriesLinear", "ChannelwiseLinear")
    imports = ("F", "math")
    test_layouts = (("B C L",),)

    def infer(self, p: SeriesLinearParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, channels, length = t.shape
        if p.in_features is not None:
            ctx.equal(length, p.in_features, port="x", what="series length L (in_features)", t=t, param="in_features")
        ctx.set("in_features", ctx.concrete(length, "the series length L (in_features)", port="x"))
        if p.individual:
            if p.channels is not None:
                ctx.equal(channels, p.channels, port="x", what="channels C (channels)", t=t, param="channels")
            ctx.set("channels", ctx.concrete(channels, "the channels C (one layer each when individual)", port="x"))
        elif p.channels is not None:
            raise ctx.fail("`channels` sizes the per-channel layers: it needs `individual: true`", code="E112",
                           param="channels", expected="individual: true, or no channels", found=str(p.channels))
        return [TensorType((b, channels, p.out_features), t.dtype)]

    def native_classes(self, p: SeriesLinearParams) -> tuple[str, ...]:
        return self.natives if p.individual else ("SeriesLinear",)

    def param_count(self, p: SeriesLinearParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None
        maps = (p.channels or 0) if p.individual else 1
        return maps * (p.in_features + 1) * p.out_features

    def flops(self, p: SeriesLinearParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None
        b, channels, _ = ins[0].shape
        return 2 * b * channels * p.in_features * p.out_features

    def init_code(self, p: SeriesLinearParams) -> str:
        average = non_default(p.init == "average", False)
        if p.individual:
            return call("ChannelwiseLinear", p.channels, p.in_features, p.out_features, average_init=average)
        return call("SeriesLinear", p.in_features, p.out_features, average_init=average)
