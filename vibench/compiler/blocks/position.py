"""Positional encodings: add a position table to token sequences [B, L, D].

Both tables have ``max_len`` rows; a sequence uses its first L rows, so ``L <= max_len`` is a
constraint (checked at compile time when L is known, reported and checked against ``--input``
otherwise).
"""

from __future__ import annotations

import math
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


class SinusoidalPositionalEncodingParams(BlockParams):
    max_len: int = Field(5000, ge=1, description="Longest sequence supported (rows of the fixed table).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


class LearnedPositionalEncodingParams(BlockParams):
    max_len: int = Field(ge=1, description="Longest sequence supported (rows of the learned table).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    init_std: float = Field(0.02, ge=0, description="Standard deviation of the initial table (normal).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class SinusoidalPositionalEncoding(nn.Module):
    """Add the fixed sine/cosine position table of "Attention Is All You Need" to [B, L, D].

    Row ``t`` of the table holds ``sin(t * w_k)`` in even columns and ``cos(t * w_k)`` in odd ones,
    ``w_k = 10000 ** (-2k / D)``. The table is a non-persistent buffer: it follows ``.to(device)``
    but is not part of ``state_dict`` (it is recomputed, never learned). Needs ``L <= max_len``.
    """

    table: torch.Tensor

    def __init__(self, d_model: int, max_len: int = 5000) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
        self.register_buffer("table", table, persistent=False)

    def extra_repr(self) -> str:
        return f"d_model={self.table.shape[1]}, max_len={self.table.shape[0]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]].to(x.dtype)


# -- blocks -----------------------------------------------------------------------------------


def _table_width(ctx: ShapeContext, t: TensorType, max_len: int, given: int | None) -> int:
    ctx.rank("x", t, 3, "[B, L, D]")
    ctx.dtype("x", t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[2], given, port="x", what="model width D (d_model)", t=t, param="d_model")
    width = ctx.concrete(t.shape[2], "the model width D (d_model)", port="x")
    ctx.require(t.shape[1], "<=", max_len, f"the sequence fits the position table (max_len = {max_len})",
                param="max_len")
    return width


@register
class SinusoidalPositionalEncodingBlock(Block):
    """Add the fixed sine/cosine position table (Vaswani et al.) to [B, L, D]; no learned parameters.

    Output [B, L, D]. The table is a non-persistent buffer (not in ``state_dict``); needs
    ``L <= max_len``.
    """

    name = "sinusoidal_positional_encoding"
    Params = SinusoidalPositionalEncodingParams
    category = "position"
    test_layouts = (("B L D",),)
    imports = ("math",)  # the native class computes its frequencies with math.log
    natives = (SinusoidalPositionalEncoding,)
    fresh_output = True  # x + table: autograd keeps neither

    def infer(self, p: SinusoidalPositionalEncodingParams, ins: list[TensorType],
              ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _table_width(ctx, t, p.max_len, p.d_model))
        return [t]

    def buffer_count(self, p: SinusoidalPositionalEncodingParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        return p.max_len * p.d_model  # the table

    def init_code(self, p: SinusoidalPositionalEncodingParams) -> Code:
        return c.call(SinusoidalPositionalEncoding.__name__, p.d_model, max_len=p.max_len)


@register
class LearnedPositionalEncoding(Block):
    """Add a learned position table to [B, L, D] (a [1, max_len, D] parameter, normal initialisation).

    Output [B, L, D]; the table is the parameter ``<node>`` itself (its ``state_dict`` key is the node
    name). Needs ``L <= max_len``.
    """

    name = "learned_positional_encoding"
    Params = LearnedPositionalEncodingParams
    category = "position"
    init_kind = "parameter"
    test_layouts = (("B L D",),)
    fresh_output = True  # x + table: autograd keeps neither

    def infer(self, p: LearnedPositionalEncodingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _table_width(ctx, t, p.max_len, p.d_model))
        return [t]

    def param_count(self, p: LearnedPositionalEncodingParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        return p.max_len * p.d_model

    def flops(self, p: LearnedPositionalEncodingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def init_code(self, p: LearnedPositionalEncodingParams) -> Code:
        return c.call("nn.Parameter", c.binop(c.call("torch.randn", 1, p.max_len, p.d_model), "*", p.init_std))

    def call_code(self, p: LearnedPositionalEncodingParams, args: list[Code], mod: Code) -> Code:
        length = c.index(c.attr(args[0], "shape"), 1)
        return c.binop(args[0], "+", c.index(mod, c.span(), c.span(None, length)))
