"""``clamp``: limit every element to ``[min, max]`` (torch.clamp)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_validator

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class ClampParams(BlockParams):
    # One of the two, not null: the JSON Schema says so too (jsonschema.py reads this `anyOf`).
    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["min"]}, {"required": ["max"]}]})

    min: float | None = Field(None, description="Lower bound (None or -inf: no lower bound).")
    max: float | None = Field(None, description="Upper bound (None or inf: no upper bound).")

    @model_validator(mode="after")
    def _bounds(self) -> ClampParams:
        # The message completes "block `clamp` at node `n`: ..." (typecheck.py, errors about no one parameter).
        if self.min is None and self.max is None:
            raise ValueError("give `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("`min` must be at most `max`")
        return self


@register
class Clamp(Block):
    """Limit every element to [min, max] (torch.clamp); same shape out, e.g. HSE_prompt's ±100 guard.

    Give `min`, `max` or both (neither is E112); `min` must be at most `max`.
    """

    name = "clamp"
    infinite_ok = frozenset({"min", "max"})  # -inf/inf: no bound; a -inf pad before a max
    Params = ClampParams
    category = "activation"
    fresh_output = True
    test_ranks = (2, 3)
    test_hints = {("min", "max"): ((-1.0, 1.0), (0.0, None), (None, 0.5))}

    def infer(self, p: ClampParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        return [t]

    def flops(self, p: ClampParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def call_code(self, p: ClampParams, args: list[Code], mod: Code) -> Code:
        bounds = {k: v for k, v in (("min", p.min), ("max", p.max)) if v is not None}
        return c.call("torch.clamp", args[0], **bounds)
