"""``scale``: multiply every element by a constant (e.g. a sampling rate brought to about [0, 1])."""

from __future__ import annotations

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class ScaleParams(BlockParams):
    factor: float = Field(description="The constant every element is multiplied by.")


@register
class Scale(Block):
    """Multiply every element by a constant, ``x * factor``; same shape out (e.g. rates in Hz / 10000)."""

    name = "scale"
    Params = ScaleParams
    category = "arithmetic"
    fresh_output = True
    test_ranks = (1, 2, 3)

    def infer(self, p: ScaleParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        return [t]

    def flops(self, p: ScaleParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def call_code(self, p: ScaleParams, args: list[Code], mod: Code) -> Code:
        return c.binop(args[0], "*", p.factor)
