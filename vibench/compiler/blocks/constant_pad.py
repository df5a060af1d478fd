"""Padding one dimension with a constant (e.g. zero channels standing for an all-zero state)."""

from __future__ import annotations

import math

from pydantic import Field

from vibench.compiler.blocks.base import NUMERIC_DTYPES, Block, ShapeContext, norm_axis, numel, py
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import SKIP, Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class ConstantPadParams(BlockParams):
    dim: int = Field(description="Dimension to pad (1: the channels of [B, C, L]).")
    before: int = Field(0, ge=0, description="Entries added at the start of the dimension.")
    after: int = Field(0, ge=0, description="Entries added at the end of the dimension.")
    value: float = Field(0.0, description="The value of the added entries (-inf before a max: never picked).")


@register
class ConstantPad(Block):
    """Pad one dimension with a constant value: ``before`` entries at its start, ``after`` at its end.

    The dimension grows by ``before + after``; the others are unchanged (torch.nn.functional.pad).
    Padding the channels of [B, C, L] with ``after: H`` zeros is concatenating an all-zero state.
    ``dim`` is stored counted from the end (1 of a rank-3 input becomes -2).
    """

    name = "constant_pad"
    infinite_ok = frozenset({"value"})  # -inf/inf: no bound; a -inf pad before a max
    Params = ConstantPadParams
    category = "shape"
    imports = ("F",)
    test_ranks = (2, 3)
    test_dtypes = ("float32", "int64")

    def infer(self, p: ConstantPadParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(1, 9), "[...]")
        ctx.dtype("x", t, NUMERIC_DTYPES)
        if t.dtype in ("int64", "int32"):  # a whole number the dtype holds (torch: "cannot be converted")
            bits = 63 if t.dtype == "int64" else 31
            whole = math.isfinite(p.value) and float(p.value).is_integer()
            if not whole or not -(2**bits) <= int(p.value) < 2**bits:
                raise ctx.fail(f"an {t.dtype} tensor cannot be padded with {p.value}", code="E304", param="value",
                               expected=f"a whole number from -2**{bits} to 2**{bits} - 1", found=py(p.value))
        axis = norm_axis(ctx, p.dim, len(t.shape))
        ctx.set("dim", axis - len(t.shape))  # counted from the end, as torch.nn.functional.pad's pads are
        shape = list(t.shape)
        shape[axis] = shape[axis] + p.before + p.after
        return [TensorType(tuple(shape), t.dtype)]

    def flops(self, p: ConstantPadParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0 if p.before + p.after == 0 else numel(outs[0])

    def call_code(self, p: ConstantPadParams, args: list[Code], mod: Code) -> Code:
        if p.before + p.after == 0:
            return args[0]  # the input itself: not a fresh tensor
        pads = (0, 0) * (-p.dim - 1) + (p.before, p.after)
        return c.call("F.pad", args[0], pads, value=p.value if p.value else SKIP)
