"""``instance_norm1d``: normalise each channel of each sample over time (torch.nn.InstanceNorm1d)."""

from __future__ import annotations

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class InstanceNorm1dParams(BlockParams):
    num_features: int | None = Field(None, ge=1, description="Channels C of [B, C, L] (inferred).")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    affine: bool = Field(False, description="Learnable per-channel scale and shift.")


@register
class InstanceNorm1d(Block):
    """Instance normalisation of [B, C, L]: every (sample, channel) series to zero mean, unit variance over L.

    torch.nn.InstanceNorm1d without running statistics (batch-independent in train and eval mode);
    ``affine`` adds a per-channel scale and shift. Needs L >= 2 in training mode (torch's check).
    """

    name = "instance_norm1d"
    Params = InstanceNorm1dParams
    category = "normalisation"
    fresh_output = True

    def infer(self, p: InstanceNorm1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.num_features is not None:
            ctx.equal(t.shape[1], p.num_features, port="x", what="channels (num_features)", t=t, param="num_features")
        ctx.set("num_features", ctx.concrete(t.shape[1], "the channel count (num_features)", port="x"))
        ctx.require(t.shape[2], ">=", 2, "a series of more than one step to normalise", param="num_features")
        return [t]

    def param_count(self, p: InstanceNorm1dParams, ins: list[TensorType]) -> int:
        assert p.num_features is not None
        return 2 * p.num_features if p.affine else 0

    def flops(self, p: InstanceNorm1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 5 * numel(outs[0])

    def init_code(self, p: InstanceNorm1dParams) -> Code:
        return c.call("nn.InstanceNorm1d", p.num_features, eps=non_default(p.eps, 1e-5),
                      affine=non_default(p.affine, False))
