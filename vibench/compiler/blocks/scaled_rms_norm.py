"""``scaled_rms_norm``: the "RMSNorm" of the ISFM VIB components (B_10_VIBT, H_04_VIB_pred).

Unlike ``torch.nn.RMSNorm`` it has one learned scalar gain, not one per feature: each row of the last
dimension is scaled to unit L2 norm, then multiplied by ``sqrt(D)`` and the gain ``g`` (init 1), so a
row of D features leaves with root-mean-square ``g``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import Block, ShapeContext, numel
from vibench.compiler.blocks.isfm_head import feature_width
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
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


class ScaledRmsNormParams(BlockParams):
    dim: int | None = Field(None, ge=1, description="Width D of the last dimension (inferred from the input).")


class ScaledRMSNorm(nn.Module):
    """``F.normalize(x, dim=-1) * sqrt(D) * g`` with one learned scalar ``g`` (init 1): [*, D] -> [*, D]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.dim = dim
        self.g = nn.Parameter(torch.ones(1))

    def extra_repr(self) -> str:
        return str(self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.g


@register
class ScaledRmsNormBlock(Block):
    """Unit-L2 rows times sqrt(D) and one learned scalar gain (the ISFM VIB components' RMSNorm): [*, D] -> [*, D].

    ``F.normalize(x, dim=-1) * sqrt(D) * g`` with ``g`` a single parameter (init 1), stored as ``g``.
    Unlike ``rms_norm`` (torch.nn.RMSNorm) the gain is shared by every feature and no epsilon is
    added to the root mean square (``F.normalize`` clamps the norm at 1e-12).
    """

    name = "scaled_rms_norm"
    Params = ScaledRmsNormParams
    category = "normalisation"
    natives = (ScaledRMSNorm,)
    imports = ("F",)
    fresh_output = True
    test_ranks = (2, 3, 4)

    def infer(self, p: ScaledRmsNormParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("dim", feature_width(ctx, t, p.dim, "dim", ranks=range(1, 9)))
        return [t]

    def param_count(self, p: ScaledRmsNormParams, ins: list[TensorType]) -> int:
        return 1

    def flops(self, p: ScaledRmsNormParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 4 * numel(outs[0])

    def init_code(self, p: ScaledRmsNormParams) -> Code:
        return c.call(ScaledRMSNorm.__name__, p.dim)
