"""``haar_dwt``: one level of the Haar discrete wavelet transform over [B, C, L] — everything a block
is, in one file: its parameters, its shape rule, its code for model.py and its torch implementation.

Each channel's series splits into an approximation (pairwise sums / sqrt 2) and a detail (pairwise
differences / sqrt 2) at half the length, stacked as channels: [B, C, L] -> [B, 2C, L // 2] (an odd
last sample is dropped). ``levels`` repeats the split on the approximation, keeping every level's
details: [B, C, L] -> [B, (levels + 1) * C, L // 2**levels].
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
else:  # the compiler never imports torch: these stand-ins let the class below be defined
    from vibench.compiler.blocks.torchless import nn, torch


class HaarParams(BlockParams):
    levels: int = Field(1, ge=1, le=16, description="Decomposition levels (each halves the length).")


class HaarDWT(nn.Module):
    """Haar wavelet transform along the last dimension: [B, C, L] -> [B, (levels + 1) * C, L // 2**levels]."""

    def __init__(self, levels: int = 1) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        details: list[torch.Tensor] = []  # annotated, and no reversed(): TorchScript scripts this method
        for _ in range(self.levels):
            even, odd = x[..., 0 : x.shape[-1] // 2 * 2 : 2], x[..., 1 : x.shape[-1] // 2 * 2 : 2]
            details.append((even - odd) * 0.7071067811865476)
            x = (even + odd) * 0.7071067811865476
        cut = x.shape[-1]
        parts = [x]
        for level in range(len(details) - 1, -1, -1):  # the coarsest details first
            parts.append(details[level][..., :cut])
        return torch.cat(parts, dim=1)


@register
class HaarDWTBlock(Block):
    """One or more levels of the Haar wavelet transform over [B, C, L] (approximation + details as channels)."""

    name = "haar_dwt"
    Params = HaarParams
    category = "spectral"
    natives = (HaarDWT,)
    fresh_output = True

    def infer(self, p: HaarParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, channels, length = t.shape
        ctx.require(length, ">=", 2**p.levels, f"the series has at least 2**levels = {2**p.levels} samples",
                    param="levels")
        return [TensorType((b, (p.levels + 1) * channels, length // 2**p.levels), t.dtype)]

    def flops(self, p: HaarParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(ins[0])

    def init_code(self, p: HaarParams) -> Code:
        return c.call(HaarDWT.__name__, levels=non_default(p.levels, 1))
