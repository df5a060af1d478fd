"""Linformer's low-rank self-attention over [B, L, D] (Wang et al., 2020): the third variant of
transformer_attention.py's frame (the same four projections, named as in PHM-Vibench; D known at
compile time and divisible by ``num_heads``), kept apart for its learned length projections.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.transformer_attention import SelfAttention, projection_flops, projections
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.codegen.support import _bare
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


class LinformerAttentionParams(BlockParams):
    num_heads: int = Field(ge=1, description="Heads; the model width D must divide by it.")
    seq_len: int = Field(ge=1, description="Rows of the learned length projections E and F (the design length).")
    k: int = Field(ge=1, description="Projected length of keys and values (columns of E and F).")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on the attention weights.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class LinformerAttention(nn.Module):
    """Linformer's low-rank self-attention over [B, L, D] (Wang et al., 2020).

    Keys and values are projected along time by learned matrices ``E`` and ``F`` of shape
    (seq_len, k), so every query attends to k mixed positions instead of L. For L <= seq_len the
    first L rows are used; for L > seq_len both matrices are resized to (L, k) by bilinear
    interpolation (PHM-Vibench's behaviour). Dropout acts on the attention weights. Output [B, L, D].
    """

    def __init__(self, d_model: int, num_heads: int, seq_len: int, k: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.out_projection = nn.Linear(d_model, d_model)
        self.E = nn.Parameter(torch.randn(seq_len, k) * 0.02)
        self.F = nn.Parameter(torch.randn(seq_len, k) * 0.02)
        self.dropout = nn.Dropout(dropout)

    def extra_repr(self) -> str:
        heads = f"d_model={self.query_projection.in_features}, num_heads={self.num_heads}"
        return f"{heads}, seq_len={self.E.shape[0]}, k={self.E.shape[1]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        # [B, H, L, d_k]
        queries = self.query_projection(x).view(batch, length, self.num_heads, -1).transpose(1, 2)
        rows_k, rows_v = self._fit(self.E, length), self._fit(self.F, length)
        bare = True
        if not torch.jit.is_scripting():  # TorchScript cannot pass a module to a function
            bare = _bare(self.key_projection, nn.Linear) and _bare(self.value_projection, nn.Linear)
        if bare:
            # [B, H, k, d_k]: the length projection first, then the linear map on k rows instead of L
            keys = self._project(x, rows_k, self.key_projection.weight, self.key_projection.bias)
            values = self._project(x, rows_v, self.value_projection.weight, self.value_projection.bias)
        else:  # quantized, wrapped or hooked projections (see _bare): called on the L rows, then projected
            keys = self._heads(torch.matmul(rows_k.t(), self.key_projection(x)))
            values = self._heads(torch.matmul(rows_v.t(), self.value_projection(x)))
        scores = torch.matmul(queries, keys.transpose(-2, -1)) / math.sqrt(queries.shape[-1])
        context = torch.matmul(self.dropout(torch.softmax(scores, dim=-1)), values)
        return self.out_projection(context.transpose(1, 2).reshape(batch, length, width))

    def _project(self, x: torch.Tensor, rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``rows``^T linear(x) as [B, H, k, d_k]: the weight applied to ``rows``^T x, plus the bias times the
        column sums of ``rows`` (the same map, with the linear layer on k rows instead of L)."""
        return self._heads(F.linear(torch.matmul(rows.t(), x), weight) + rows.sum(0).unsqueeze(-1) * bias)

    def _heads(self, mixed: torch.Tensor) -> torch.Tensor:
        """[B, k, D] -> [B, H, k, d_k]."""
        return mixed.view(mixed.shape[0], mixed.shape[1], self.num_heads, -1).transpose(1, 2)

    def _fit(self, projection: torch.Tensor, length: int) -> torch.Tensor:
        if length <= projection.shape[0]:
            return projection[:length]
        grid = projection.unsqueeze(0).unsqueeze(0)
        return F.interpolate(grid, size=(length, projection.shape[1]), mode="bilinear", align_corners=False)[0, 0]


# -- block ------------------------------------------------------------------------------------


@register
class LinformerAttentionBlock(SelfAttention):
    """Linformer low-rank self-attention over [B, L, D]: keys and values projected along time to k rows.

    Learned projections ``E`` and ``F`` (seq_len, k) mix the L positions of keys and values into k
    (Wang et al., 2020); L < seq_len uses their first L rows, L > seq_len resizes them bilinearly
    (PHM-Vibench's behaviour). Output [B, L, D]; 4 * (D * D + D) + 2 * seq_len * k parameters.
    """

    name = "linformer_attention"
    Params = LinformerAttentionParams
    natives = (LinformerAttention, _bare)
    imports = ("math", "F")
    stochastic = True

    def param_count(self, p: LinformerAttentionParams, ins: list[TensorType]) -> int:
        return projections(p.d_model) + 2 * p.seq_len * p.k

    def flops(self, p: LinformerAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        b, length, _ = ins[0].shape
        return projection_flops(ins, p.d_model) + 8 * b * length * p.k * p.d_model

    def init_code(self, p: LinformerAttentionParams) -> Code:
        return c.call(LinformerAttention.__name__, p.d_model, p.num_heads, p.seq_len, p.k,
                      dropout=non_default(p.dropout, 0.0))
