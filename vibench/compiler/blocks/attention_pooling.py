"""Additive attention pooling over time: [B, L, D] -> one feature vector per sequence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class AttentionPoolingParams(BlockParams):
    attention_dim: int = Field(ge=1, description="Width of the tanh scoring layer.")
    d_model: int | None = Field(None, ge=1, description="Feature width D of [B, L, D] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class AttentionPooling(nn.Module):
    """Additive (Bahdanau) attention pooling: [B, L, D] -> the weighted sum [B, D] and the weights [B, L].

    Step t is scored ``context_vector(tanh(attention_linear(x_t)))``; a softmax over the L steps
    gives the weights.
    """

    def __init__(self, d_model: int, attention_dim: int) -> None:
        super().__init__()
        self.attention_linear = nn.Linear(d_model, attention_dim)
        self.context_vector = nn.Linear(attention_dim, 1, bias=False)

    def extra_repr(self) -> str:
        return f"d_model={self.attention_linear.in_features}, attention_dim={self.attention_linear.out_features}"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.context_vector(torch.tanh(self.attention_linear(x))).squeeze(-1)  # [B, L]
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1), weights


# -- block ------------------------------------------------------------------------------------


@register
class AttentionPoolingBlock(Block):
    """Additive (Bahdanau) attention pooling over time: [B, L, D] -> out [B, D] and weights [B, L].

    Each step is scored ``v . tanh(W x_t + b)`` (``attention_linear`` D -> attention_dim, then
    ``context_vector`` attention_dim -> 1 without bias); a softmax over the L steps gives ``weights``
    and ``out`` is the weighted sum of the steps (AttentionLSTM's ``AttentionMechanism``).
    Parameters: D * attention_dim + 2 * attention_dim.
    """

    name = "attention_pooling"
    Params = AttentionPoolingParams
    category = "attention"
    outputs = ("out", "weights")
    natives = (AttentionPooling,)
    test_layouts = (("B L D",),)

    def infer(self, p: AttentionPoolingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, D]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.d_model is not None:
            ctx.equal(t.shape[2], p.d_model, port="x", what="feature width D (d_model)", t=t, param="d_model")
        ctx.set("d_model", ctx.concrete(t.shape[2], "the feature width D (d_model)", port="x"))
        b, length, width = t.shape
        return [TensorType((b, width), t.dtype), TensorType((b, length), t.dtype)]

    def param_count(self, p: AttentionPoolingParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        return p.d_model * p.attention_dim + 2 * p.attention_dim

    def flops(self, p: AttentionPoolingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        b, length, _ = ins[0].shape
        # per step: the scoring layers (two matrix products and tanh), the softmax; then the weighted sum
        return b * length * (2 * p.d_model * p.attention_dim + 3 * p.attention_dim + 5) + 2 * numel(ins[0])

    def init_code(self, p: AttentionPoolingParams) -> Code:
        return c.call(AttentionPooling.__name__, p.d_model, p.attention_dim)
