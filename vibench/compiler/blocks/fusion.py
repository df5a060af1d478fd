"""Ensemble fusion: several same-shaped outputs (e.g. of a `for_each` node) into one."""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, fmt_shape
from vibench.schemas.blocks import EnsembleFusionParams

_CLASSES = {"mean": "MeanFusion", "concat": "ConcatFusion", "gated": "GatedFusion", "attention": "AttentionFusion"}


@register
class EnsembleFusion(Block):
    """Fuse N same-shaped feature tensors [..., D] into one: attention, mean, concat (+ projection) or gated.

    Takes a list (`in: [a, b]`, or a `for_each` node whole). Output [..., D]. Parameters: none for
    ``mean``; N*D*D + D for ``concat``; N*D*N + N for ``gated``; D*D + 2*D for ``attention``.
    """

    name = "ensemble_fusion"
    Params = EnsembleFusionParams
    category = "ensemble"
    inputs = ("inputs",)
    variadic = True
    min_inputs = 1
    natives = ("MeanFusion", "ConcatFusion", "GatedFusion", "AttentionFusion")
    test_ranks = (3,)

    def infer(self, p: EnsembleFusionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        first = ins[0]
        ctx.rank("inputs", first, range(1, 9), "[..., D]")
        for t in ins:
            ctx.dtype("inputs", t, FLOAT_DTYPES)
            if len(t.shape) != len(first.shape):
                raise ctx.fail("the fused tensors must have the same rank", port="inputs",
                               expected=fmt_shape(first.shape), found=fmt_shape(t.shape))
            for a, b in zip(t.shape, first.shape, strict=True):
                ctx.equal(a, b, port="inputs", what="the fused tensors' shapes", t=t)
        if p.d_model is not None:
            ctx.equal(first.shape[-1], p.d_model, port="inputs", what="feature width D", t=first, param="d_model")
        ctx.set("d_model", ctx.concrete(first.shape[-1], "the feature width D", port="inputs"))
        ctx.set("num_members", len(ins))
        return [first]

    def param_count(self, p: EnsembleFusionParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        n, d = len(ins), p.d_model
        return {"mean": 0, "concat": n * d * d + d, "gated": n * d * n + n, "attention": d * d + 2 * d}[p.strategy]

    def flops(self, p: EnsembleFusionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        n = len(ins)
        # Per output element: the weighted sum (2n) plus the strategy's own layers.
        extra = {"mean": 0, "concat": 2 * n * p.d_model, "gated": 2 * n * n, "attention": 2 * n * (p.d_model + 1)}
        return numel(outs[0]) * (2 * n + extra[p.strategy])

    def native_classes(self, p: EnsembleFusionParams) -> tuple[str, ...]:
        return (_CLASSES[p.strategy],)

    def init_code(self, p: EnsembleFusionParams) -> str:
        if p.strategy == "mean":
            return "MeanFusion()"
        if p.strategy == "attention":
            return call("AttentionFusion", p.d_model)
        return call(_CLASSES[p.strategy], p.num_members, p.d_model)

    def call_code(self, p: EnsembleFusionParams, args: list[str], mod: str) -> str:
        return f"{mod}([{', '.join(args)}])"

