"""``sinusoidal_position_table``: the fixed sine/cosine position table itself, [B, L, D] beside x [B, L, *]."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import ALL_DTYPES, Block, ShapeContext
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


class SinusoidalPositionTableParams(BlockParams):
    d_model: int = Field(ge=1, description="Width D of the table.")
    max_len: int = Field(5000, ge=1, description="Rows of the table (the longest sequence).")


class PositionTable(nn.Module):
    """The sine/cosine position table [B, L, D] for x [B, L, *], kept as the buffer ``pe`` [1, max_len, D].

    Row ``t`` holds ``sin(t * w_k)`` in even columns and ``cos(t * w_k)`` in odd ones,
    ``w_k = 10000 ** (-2k / D)``; the buffer is persistent (part of ``state_dict``, as in the
    Informer/Autoformer ``PositionalEmbedding`` checkpoints). Needs ``L <= max_len``.
    """

    pe: torch.Tensor

    def __init__(self, d_model: int, max_len: int = 5000) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
        self.register_buffer("pe", table.unsqueeze(0))

    def extra_repr(self) -> str:
        return f"d_model={self.pe.shape[2]}, max_len={self.pe.shape[1]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pe[:, : x.shape[1]].expand(x.shape[0], -1, -1)


@register
class SinusoidalPositionTable(Block):
    """The fixed sine/cosine position table for x [B, L, *]: [B, L, d_model], stored as ``pe`` [1, max_len, D].

    Only x's batch and length are read; add the result to token values for a positional encoding.
    The table is a persistent buffer (in ``state_dict``, no learned parameters); needs ``L <= max_len``.
    """

    name = "sinusoidal_position_table"
    Params = SinusoidalPositionTableParams
    category = "position"
    natives = (PositionTable,)
    imports = ("math",)
    test_hints = {"max_len": (64, 5000)}

    def infer(self, p: SinusoidalPositionTableParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, *]")
        ctx.dtype("x", t, ALL_DTYPES)
        b, length, _ = t.shape
        ctx.require(length, "<=", p.max_len, f"the sequence fits the position table (max_len = {p.max_len})",
                    param="max_len")
        return [TensorType((b, length, p.d_model), ctx.float_dtype)]

    def flops(self, p: SinusoidalPositionTableParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0  # a view of the buffer

    def buffer_count(self, p: SinusoidalPositionTableParams, ins: list[TensorType]) -> int:
        return p.max_len * p.d_model  # ``pe``

    def init_code(self, p: SinusoidalPositionTableParams) -> Code:
        return c.call(PositionTable.__name__, p.d_model, max_len=non_default(p.max_len, 5000))
