"""``adaptive_modulation``: the adaptive-LayerNorm modulation of DiT-style blocks (ISFM B_10_VIBT, H_04_VIB_pred).

Tokens ``x`` [B, N, D] are scaled and shifted per sample by conditioning vectors ``scale`` and
``shift`` [B, D]: ``x * (1 + scale[:, None]) + shift[:, None]`` (the ``modulate`` function of the
references). No parameters: the vectors come from a ``linear`` of the condition, chunked.
"""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class AdaptiveModulationParams(BlockParams):
    pass


@register
class AdaptiveModulation(Block):
    """Per-sample scale and shift of tokens: ``x * (1 + scale[:, None]) + shift[:, None]``; [B, N, D] -> [B, N, D].

    ``scale`` and ``shift`` are [B, D] (e.g. two chunks of an adaLN ``linear`` of a condition vector).
    """

    name = "adaptive_modulation"
    Params = AdaptiveModulationParams
    category = "normalisation"
    inputs = ("x", "scale", "shift")
    fresh_output = True
    test_layouts = (("B N D", "B D", "B D"),)

    def infer(self, p: AdaptiveModulationParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x, scale, shift = ins
        ctx.rank("x", x, 3, "[B, N, D]")
        ctx.dtype("x", x, FLOAT_DTYPES)
        for port, t in (("scale", scale), ("shift", shift)):
            ctx.rank(port, t, 2, "[B, D]")
            ctx.dtype(port, t, frozenset({x.dtype}), f"{x.dtype}, the dtype of x")
            ctx.equal(t.shape[0], x.shape[0], port=port, what=f"batch size of {port} and x", t=t)
            ctx.equal(t.shape[1], x.shape[2], port=port, what=f"width D of {port} and x", t=t)
        return [x]

    def flops(self, p: AdaptiveModulationParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(outs[0])

    def call_code(self, p: AdaptiveModulationParams, args: list[Code], mod: Code) -> Code:
        x, scale, shift = args
        factor = c.binop(1, "+", c.method(scale, "unsqueeze", 1))
        return c.binop(c.binop(x, "*", factor), "+", c.method(shift, "unsqueeze", 1))
