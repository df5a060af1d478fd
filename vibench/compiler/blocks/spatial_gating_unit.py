"""gMLP's spatial gating unit: half of the features gate the other half, mixed across time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.codegen.support import _bare, _linear_over
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class SpatialGatingUnitParams(BlockParams):
    seq_len: int | None = Field(None, ge=1, description="Sequence length L of [B, L, D] (inferred; sizes the "
                                "L x L spatial projection).")
    d_model: int | None = Field(None, ge=2, description="Feature width D of [B, L, D], even (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class SpatialGatingUnit(nn.Module):
    """Split [B, L, D] into halves u, v; return u * spatial_proj(norm(v)) with the projection across the L steps.

    ``spatial_proj`` starts at weights 0 and biases 1 (the gate passes u through), as in Liu et al.
    """

    def __init__(self, d_model: int, seq_len: int) -> None:
        super().__init__()
        self.d_model = d_model
        self.norm = nn.LayerNorm(d_model // 2)
        self.spatial_proj = nn.Linear(seq_len, seq_len)
        nn.init.zeros_(self.spatial_proj.weight)
        nn.init.ones_(self.spatial_proj.bias)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, seq_len={self.spatial_proj.in_features}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = x.chunk(2, dim=-1)
        v = self.norm(v)
        proj = self.spatial_proj  # across the L steps of [B, L, D/2]
        # A trace takes the autograd path whatever the grad mode: torch.jit.trace reruns the model in another
        # mode to check that the graph does not differ, and the traced graph may run with gradients.
        if not torch.is_grad_enabled() and not torch.jit.is_scripting() and not torch.jit.is_tracing():
            v = _linear_over(proj, v, 1)  # weight @ v: no transposed copies (0.9x the time)
        else:  # transposed around the layer: the weight's gradient is one product
            v = proj(v.transpose(1, 2)).transpose(1, 2)
        return u * v


# -- block ------------------------------------------------------------------------------------


@register
class SpatialGatingUnitBlock(Block):
    """gMLP spatial gating unit: [B, L, D] -> [B, L, D/2], u * proj_time(norm(v)) for the halves u, v of D.

    The second half ``v`` is layer-normalised (``norm``) and mixed across the L steps by an L x L
    linear map (``spatial_proj``, initialised to weights 0 and biases 1, so the unit starts as
    ``u``); the result gates the first half (Liu et al., "Pay Attention to MLPs", 2021). D must be
    even and L known at compile time (the projection's weights are L x L).
    """

    name = "spatial_gating_unit"
    Params = SpatialGatingUnitParams
    category = "dense"
    natives = (SpatialGatingUnit, _linear_over, _bare)
    fresh_output = True  # u * v: the product's backward keeps its factors, not the result
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

    def init_code(self, p: SpatialGatingUnitParams) -> Code:
        return c.call(SpatialGatingUnit.__name__, p.d_model, p.seq_len)
