"""gMLP's spatial gating unit: half of the features gate the other half, mixed across time."""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_mlp import SpatialGatingUnitParams


@register
class SpatialGatingUnit(Block):
    """gMLP spatial gating unit: [B, L, D] -> [B, L, D/2], u * proj_time(norm(v)) for the halves u, v of D.

    The second half ``v`` is layer-normalised (``norm``) and mixed across the L steps by an L x L
    linear map (``spatial_proj``, initialised to weights 0 and biases 1, so the unit starts as
    ``u``); the result gates the first half (Liu et al., "Pay Attention to MLPs", 2021). D must be
    even and L known at compile time (the projection's weights are L x L).
    """

    name = "spatial_gating_unit"
    Params = SpatialGatingUnitParams
    category = "dense"
    natives = ("SpatialGatingUnit",)
    test_layouts = (("B L D",), ("B L 4",), ("B 5 6",))

    def infer(self, p: SpatialGatingUnitParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, D]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.d_model is not None:
            ctx.equal(t.shape[2], p.d_model, port="x", what="feature width D (d_model)", t=t, param="d_model")
        if p.seq_len is not None:
            ctx.equal(t.shape[1], p.seq_len, port="x", what="sequence length L (seq_len)", t=t, param="seq_len")
        width = ctx.concrete(t.shape[2], "the feature width D (d_model)", port="x")
        if width % 2:
            raise ctx.fail(f"the feature width {width} does not split into two halves", port="x",
                           expected="an even feature width D", found=str(width),
                           hint=f"project to {width + 1} (or {width - 1}) features before the gate")
        ctx.set("d_model", width)
        ctx.set("seq_len", ctx.concrete(t.shape[1], "the sequence length L (the spatial projection is L x L)",
                                        port="x"))
        b, length, _ = t.shape
        return [TensorType((b, length, width // 2), t.dtype)]

    def param_count(self, p: SpatialGatingUnitParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None and p.seq_len is not None
        return p.d_model + p.seq_len * p.seq_len + p.seq_len  # norm (D/2 scales, D/2 shifts) + projection

    def flops(self, p: SpatialGatingUnitParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.seq_len is not None
        # norm (about 5 per element), the L x L time mixing per feature, the gate
        return numel(outs[0]) * (2 * p.seq_len + 6)

    def init_code(self, p: SpatialGatingUnitParams) -> str:
        return call("SpatialGatingUnit", p.d_model, p.seq_len)
