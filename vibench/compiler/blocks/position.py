"""Positional encodings: add a position table to token sequences [B, L, D].

Both tables have ``max_len`` rows; a sequence uses its first L rows, so ``L <= max_len`` is a
constraint (checked at compile time when L is known, reported and checked against ``--input``
otherwise).
"""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, numel, py
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import LearnedPositionalEncodingParams, SinusoidalPositionalEncodingParams


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
class SinusoidalPositionalEncoding(Block):
    """Add the fixed sine/cosine position table (Vaswani et al.) to [B, L, D]; no learned parameters.

    Output [B, L, D]. The table is a non-persistent buffer (not in ``state_dict``); needs
    ``L <= max_len``.
    """

    name = "sinusoidal_positional_encoding"
    Params = SinusoidalPositionalEncodingParams
    category = "position"
    test_layouts = (("B L D",),)
    imports = ("math",)  # the native class computes its frequencies with math.log
    natives = ("SinusoidalPositionalEncoding",)

    def infer(self, p: SinusoidalPositionalEncodingParams, ins: list[TensorType],
              ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _table_width(ctx, t, p.max_len, p.d_model))
        return [t]

    def init_code(self, p: SinusoidalPositionalEncodingParams) -> str:
        return call("SinusoidalPositionalEncoding", p.d_model, max_len=p.max_len)


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

    def infer(self, p: LearnedPositionalEncodingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _table_width(ctx, t, p.max_len, p.d_model))
        return [t]

    def param_count(self, p: LearnedPositionalEncodingParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        return p.max_len * p.d_model

    def flops(self, p: LearnedPositionalEncodingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def init_code(self, p: LearnedPositionalEncodingParams) -> str:
        return f"nn.Parameter(torch.randn(1, {p.max_len}, {p.d_model}) * {py(p.init_std)})"

    def call_code(self, p: LearnedPositionalEncodingParams, args: list[str], mod: str) -> str:
        return f"{args[0]} + {mod}[:, : {args[0]}.shape[1]]"
