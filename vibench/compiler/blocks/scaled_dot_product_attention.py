"""The attention core: softmax(Q K^T * scale) V over the last two dimensions (no projections)."""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, py
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, fmt_shape
from vibench.schemas.blocks_rnn import ScaledDotProductAttentionParams


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

    def call_code(self, p: ScaledDotProductAttentionParams, args: list[str], mod: str) -> str:
        q, k, v = args
        parts = [q, k, v]
        if p.dropout:
            parts.append(f"dropout_p={py(p.dropout)} if self.training else 0.0")
        if p.is_causal:
            parts.append("is_causal=True")
        if p.scale is not None:
            parts.append(f"scale={py(p.scale)}")
        return f"F.scaled_dot_product_attention({', '.join(parts)})"
