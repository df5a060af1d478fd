"""The attention core: softmax(Q K^T * scale) V over the last two dimensions (no projections)."""

from __future__ import annotations

import ast
from typing import Any

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import SKIP, Code
from vibench.compiler.codegen.support import _explicit_attention
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, fmt_shape
from vibench.schemas.blocks import BlockParams


class ScaledDotProductAttentionParams(BlockParams):
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on the attention weights (training mode only).")
    scale: float | None = Field(None, gt=0, description="Score scale; default 1 / sqrt(E) for query width E.")
    is_causal: bool = Field(False, description="Mask out keys after each query position (L == S).")


@register
class ScaledDotProductAttention(Block):
    """Scaled dot-product attention, softmax(Q K^T * scale) V, on [..., L, E] queries (no projections).

    ``query`` [..., L, E], ``key`` [..., S, E] and ``value`` [..., S, Ev] give [..., L, Ev]; the
    leading (batch, head) dimensions must agree. Heads are split and merged around it with
    ``rearrange`` (e.g. ``b l (h d) -> b h l d``), so each projection stays a named ``linear`` node.
    ``scale`` defaults to 1 / sqrt(E); ``dropout`` acts on the attention weights in training mode
    only (torch.nn.functional.scaled_dot_product_attention).
    """

    name = "scaled_dot_product_attention"
    Params = ScaledDotProductAttentionParams
    category = "attention"
    inputs = ("query", "key", "value")
    imports = ("F",)
    natives = (_explicit_attention,)  # with dropout only
    stochastic = True
    test_layouts = (("B H L E", "B H S E", "B H S V"), ("B L E", "B L E", "B L E"))

    def infer(self, p: ScaledDotProductAttentionParams, ins: list[TensorType],
              ctx: ShapeContext) -> list[TensorType]:
        q, k, v = ins
        for port, t, layout in (("query", q, "[..., L, E]"), ("key", k, "[..., S, E]"), ("value", v, "[..., S, Ev]")):
            ctx.rank(port, t, range(2, 9), layout)
            ctx.dtype(port, t, FLOAT_DTYPES)
            if t.dtype != q.dtype:
                raise ctx.fail("query, key and value have different element types", code="E304", port=port,
                               expected=q.dtype, found=t.dtype)
        for port, t in (("key", k), ("value", v)):
            if len(t.shape) != len(q.shape):
                raise ctx.fail(f"`{port}` must have the query's rank", port=port, expected=f"rank {len(q.shape)}",
                               found=fmt_shape(t.shape))
            for axis in range(len(q.shape) - 2):
                ctx.equal(t.shape[axis], q.shape[axis], port=port, what=f"leading dimension {axis} of {port} and query",
                          t=t)
        ctx.equal(k.shape[-1], q.shape[-1], port="key", what="key width E (the query's)", t=k)
        ctx.equal(v.shape[-2], k.shape[-2], port="value", what="sequence length S of value and key", t=v)
        if p.is_causal:
            ctx.equal(k.shape[-2], q.shape[-2], port="key", what="key length S (a causal mask needs S == L)", t=k,
                      param="is_causal")
        return [TensorType(q.shape[:-1] + (v.shape[-1],), q.dtype)]

    def flops(self, p: ScaledDotProductAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        q, k, v = ins
        rows = q.shape[0]
        for d in q.shape[1:-1]:
            rows = rows * d  # every query row of every batch and head
        # scores (L x S x E multiply-adds), softmax (about 5 per score), weighted sum (L x S x Ev)
        return rows * k.shape[-2] * (2 * q.shape[-1] + 5 + 2 * v.shape[-1])

    def native_classes(self, p: ScaledDotProductAttentionParams) -> tuple[Any, ...]:
        return self.natives if p.dropout else ()

    def call_code(self, p: ScaledDotProductAttentionParams, args: list[Code], mod: Code) -> Code:
        training = c.attr(c.ref("self"), "training")
        fused = c.call(
            "F.scaled_dot_product_attention", *args,
            dropout_p=c.if_else(training, p.dropout, 0.0) if p.dropout else SKIP,
            is_causal=True if p.is_causal else SKIP,
            scale=SKIP if p.scale is None else p.scale,
        )
        if not p.dropout:
            return fused
        # With dropout the fused kernel takes its math fallback on a CPU: a training step there runs the
        # attention written out (AttentionGRU's step: 8% faster), on a GPU the fused kernel.
        q = args[0]
        on_cpu = c.attr(q if isinstance(q, ast.Name) else c.clone(q), "is_cpu")
        explicit = c.call("_explicit_attention", *[c.clone(a) for a in args], p.dropout,
                          scale=SKIP if p.scale is None else p.scale, is_causal=True if p.is_causal else SKIP)
        return c.if_else(c.both([c.clone(training), on_cpu]), explicit, fused)
