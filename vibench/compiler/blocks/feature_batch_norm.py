"""``feature_batch_norm``: TSPN's own batch standardisation of feature vectors [B, F].

PHM-Vibench's X_model/TSPN normalises its feature vector with a ``CustomBatchNorm``: in training mode
``(x - mean) / (std + eps)`` over the batch (biased variance), and the running statistics follow
``running = (1 - eps) * running + eps * batch`` (``eps`` is also the momentum; the running variance
is the biased one); in eval mode ``(x - running_mean) / (sqrt(running_var) + eps)``. The buffers
``running_mean`` and ``running_var`` are [1, F]. No learned parameters.
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


class FeatureBatchNormParams(BlockParams):
    eps: float = Field(0.1, gt=0, le=1, description="Added to the standard deviation; also the running momentum.")
    num_features: int | None = Field(None, ge=1, description="Features F of [B, F] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class FeatureBatchNorm(nn.Module):
    """Standardise [B, F] by batch statistics (training) or running ones (eval); eps is added to the std."""

    running_mean: torch.Tensor
    running_var: torch.Tensor

    def __init__(self, num_features: int, eps: float = 0.1) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_mean", torch.zeros(1, num_features))
        self.register_buffer("running_var", torch.ones(1, num_features))

    def extra_repr(self) -> str:
        return f"{self.running_mean.shape[1]}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean = x.mean(dim=0)
            var = x.var(dim=0, unbiased=False)
            self.running_mean = (1 - self.eps) * self.running_mean + self.eps * mean.detach()
            self.running_var = (1 - self.eps) * self.running_var + self.eps * var.detach()
            # A feature equal across the batch has var 0, where sqrt's derivative is infinite (0 * inf = nan).
            # The root is taken of positive variances only (a double where: TorchScript has no finfo for a
            # clamp): the same values, and a zero gradient through var where it is 0.
            positive = var > 0
            std = torch.where(positive, torch.where(positive, var, torch.ones_like(var)).sqrt(), torch.zeros_like(var))
            return (x - mean) / (std + self.eps)
        return (x - self.running_mean) / (self.running_var.sqrt() + self.eps)


# -- block ------------------------------------------------------------------------------------


@register
class FeatureBatchNormBlock(Block):
    """TSPN's batch standardisation of [B, F]: (x - mean) / (std + eps), running statistics for eval mode.

    Shape unchanged. Buffers ``running_mean``, ``running_var`` [1, F]; ``eps`` (0.1) is added to the
    standard deviation and is also the momentum of the running statistics. No learned parameters.
    """

    name = "feature_batch_norm"
    Params = FeatureBatchNormParams
    category = "normalisation"
    natives = (FeatureBatchNorm,)
    fresh_output = True
    test_ranks = (2,)

    def infer(self, p: FeatureBatchNormParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 2, "[B, F]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.num_features is not None:
            ctx.equal(t.shape[1], p.num_features, port="x", what="features F", t=t, param="num_features")
        ctx.set("num_features", ctx.concrete(t.shape[1], "the features F", port="x"))
        return [t]

    def flops(self, p: FeatureBatchNormParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 3 * numel(ins[0])

    def init_code(self, p: FeatureBatchNormParams) -> Code:
        return c.call(FeatureBatchNorm.__name__, p.num_features, eps=non_default(p.eps, 0.1))
