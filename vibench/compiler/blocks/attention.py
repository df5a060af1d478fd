"""Attention over token sequences [B, L, D]: multi-head attention and the Transformer encoder layer.

Both use torch's modules with ``batch_first=True``, so tokens stay [B, L, D] as everywhere else in
vibench. The model width D must be known at compile time (it sizes the weights) and divide by the
number of heads. torch cannot ``torch.jit.script`` these modules with ``bias: false`` (its fast
path reads the missing bias's dtype); with biases they script.
"""

from __future__ import annotations

import ast
from typing import Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class MultiHeadAttentionParams(BlockParams):
    num_heads: int = Field(ge=1, description="Attention heads; embed_dim must divide by it.")
    embed_dim: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on attention weights.")
    bias: bool = Field(True, description="Biases in the projections.")
    kdim: int | None = Field(None, ge=1, description="Width of the key input (inferred; default embed_dim).")
    vdim: int | None = Field(None, ge=1, description="Width of the value input (inferred; default embed_dim).")


class TransformerEncoderLayerParams(BlockParams):
    nhead: int = Field(ge=1, description="Attention heads; d_model must divide by it.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    dim_feedforward: int = Field(2048, ge=1, description="Hidden width of the feed-forward network.")
    dropout: float = Field(0.1, ge=0, le=1, description="Dropout rate.")
    activation: Literal["relu", "gelu"] = Field("relu", description="Feed-forward activation.")
    layer_norm_eps: float = Field(1e-5, gt=0, description="LayerNorm epsilon.")
    norm_first: bool = Field(False, description="Pre-norm (True) or post-norm (False).")
    bias: bool = Field(True, description="Biases in linear and norm layers.")
    batch_first: bool = Field(True, description="x is [B, L, D] (true) or [L, B, D], sequence first (false: "
                              "torch's default layout, in which attention mixes dimension 0).")


def model_width(ctx: ShapeContext, t: TensorType, port: str, given: int | None, param: str, heads: int,
                heads_param: str, layout: str = "[B, L, D]") -> int:
    """The concrete width D of a [B, L, D] input, checked against ``given`` and divisible by ``heads``."""
    ctx.rank(port, t, 3, layout)
    ctx.dtype(port, t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[2], given, port=port, what=f"model width D ({param})", t=t, param=param)
    width = ctx.concrete(t.shape[2], f"the model width D ({param})", port=port)
    if width % heads:
        raise ctx.fail(f"the model width {width} does not divide into {heads} heads", param=heads_param,
                       expected=f"{heads_param} dividing {width}", found=str(heads),
                       hint=f"use a {heads_param} in {_divisors(width)}, or project the input to a multiple "
                            f"of {heads} with a `linear` block")
    return width


def _divisors(n: int) -> str:
    return "{" + ", ".join(str(k) for k in range(1, n + 1) if n % k == 0) + "}"


@register
class MultiHeadAttention(Block):
    """Multi-head scaled dot-product attention over [B, L, D] (torch.nn.MultiheadAttention, batch_first).

    ``query`` is [B, L, D]; without ``key`` and ``value`` it is self-attention (the query is used for
    all three). With them, ``key`` is [B, S, kdim] and ``value`` [B, S, vdim]. Output [B, L, D]; the
    attention weights are not returned.
    """

    name = "multi_head_attention"
    Params = MultiHeadAttentionParams
    category = "attention"
    inputs = ("query", "key", "value")
    optional_inputs = ("key", "value")
    stochastic = True
    # Not fresh: batch_first output is a transposed view of the projection's result, and an in-place op
    # on it makes autograd copy it back (a training step with in-place dropout after it: 4-8% slower).
    fresh_output = False
    test_layouts = (("B L D",), ("B L D", "B S K", "B S V"))

    def infer(self, p: MultiHeadAttentionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        q = ins[0]
        width = model_width(ctx, q, "query", p.embed_dim, "embed_dim", p.num_heads, "num_heads")
        ctx.set("embed_dim", width)
        if len(ins) == 2:
            raise ctx.fail("give both `key` and `value`, or neither (self-attention)", code="E405", port="key",
                           hint="write `in: {query: q, key: k, value: v}`")
        kdim = vdim = width
        if len(ins) == 3:
            k, v = ins[1], ins[2]
            ctx.dtype("key", k, frozenset({q.dtype}), f"{q.dtype}, the dtype of query")
            ctx.dtype("value", v, frozenset({q.dtype}), f"{q.dtype}, the dtype of query")
            kdim = self._side(ctx, k, "key", q, p.kdim, "kdim")
            vdim = self._side(ctx, v, "value", q, p.vdim, "vdim")
            ctx.equal(v.shape[1], k.shape[1], port="value", what="sequence length S of value and key", t=v)
        else:
            for given, param in ((p.kdim, "kdim"), (p.vdim, "vdim")):
                if given is not None:
                    ctx.equal(given, width, port="query", what=f"{param} of self-attention (the query width)",
                              param=param)
        ctx.set("kdim", kdim)
        ctx.set("vdim", vdim)
        return [q]

    def _side(self, ctx: ShapeContext, t: TensorType, port: str, q: TensorType, given: int | None,
              param: str) -> int:
        ctx.rank(port, t, 3, f"[B, S, {param}]")
        ctx.dtype(port, t, FLOAT_DTYPES)
        ctx.equal(t.shape[0], q.shape[0], port=port, what=f"batch size of {port} and query", t=t)
        if given is not None:
            ctx.equal(t.shape[2], given, port=port, what=f"{port} width ({param})", t=t, param=param)
        return ctx.concrete(t.shape[2], f"the {port} width ({param})", port=port)

    def param_count(self, p: MultiHeadAttentionParams, ins: list[TensorType]) -> int:
        d, kdim, vdim = p.embed_dim, p.kdim, p.vdim
        assert d is not None and kdim is not None and vdim is not None
        weights = d * (d + kdim + vdim) + d * d
        return weights + (4 * d if p.bias else 0)

    def flops(self, p: MultiHeadAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        d, kdim, vdim = p.embed_dim, p.kdim, p.vdim
        assert d is not None and kdim is not None and vdim is not None
        b, length, _ = ins[0].shape
        source = ins[1].shape[1] if len(ins) == 3 else length
        projections = 2 * b * length * d * d * 2 + 2 * b * source * d * (kdim + vdim)
        return projections + 4 * b * length * source * d

    def init_code(self, p: MultiHeadAttentionParams) -> Code:
        return c.call("nn.MultiheadAttention", p.embed_dim, p.num_heads, dropout=non_default(p.dropout, 0.0),
                      bias=non_default(p.bias, True), kdim=non_default(p.kdim, p.embed_dim),
                      vdim=non_default(p.vdim, p.embed_dim), batch_first=True)

    def call_code(self, p: MultiHeadAttentionParams, args: list[Code], mod: Code) -> Code:
        q, k, v = (args[0], args[0], args[0]) if len(args) == 1 else args
        if not p.dropout:  # the fused kernel (flash attention on a CPU too: 2x the explicit path's speed in training)
            return c.index(c.call(mod, q, k, v, need_weights=False), 0)
        # The weights are not returned, but asking for them picks torch's explicit attention. With dropout the
        # fused kernel takes its math fallback on a CPU, which a training step runs 1-9% slower than the
        # explicit path (that also draws dropout as the reference's default call does); elsewhere the fused one.
        on_cpu = c.attr(q if isinstance(q, ast.Name) else c.clone(q), "is_cpu")
        weights = c.both([c.attr(c.ref("self"), "training"), on_cpu])
        return c.index(c.call(mod, q, k, v, need_weights=weights), 0)


@register
class TransformerEncoderLayer(Block):
    """Transformer encoder layer over [B, L, D]: self-attention and a feed-forward network, each residual.

    torch.nn.TransformerEncoderLayer; ``norm_first`` picks pre-norm (True) or post-norm (False). The
    output has the input's shape [B, L, D]. ``batch_first: false`` takes [L, B, D] as torch's default
    does (attention over dimension 0): a model written for that layout runs without transposes.
    """

    name = "transformer_encoder_layer"
    Params = TransformerEncoderLayerParams
    category = "attention"
    stochastic = True
    fresh_output = True  # a layer norm's or a residual sum's result
    test_layouts = (("B L D",),)
    test_hints = {"dim_feedforward": (1, 8, 32)}

    def infer(self, p: TransformerEncoderLayerParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", model_width(ctx, t, "x", p.d_model, "d_model", p.nhead, "nhead",
                                       "[B, L, D]" if p.batch_first else "[L, B, D]"))
        return [t]

    def param_count(self, p: TransformerEncoderLayerParams, ins: list[TensorType]) -> int:
        d, f = p.d_model, p.dim_feedforward
        assert d is not None
        attention = 4 * d * d + (4 * d if p.bias else 0)
        feed_forward = 2 * d * f + ((f + d) if p.bias else 0)
        norms = 2 * (2 * d if p.bias else d)
        return attention + feed_forward + norms

    def flops(self, p: TransformerEncoderLayerParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        d, f = p.d_model, p.dim_feedforward
        assert d is not None
        b, length, _ = ins[0].shape if p.batch_first else (ins[0].shape[1], ins[0].shape[0], None)
        attention = 8 * b * length * d * d + 4 * b * length * length * d
        return attention + 4 * b * length * d * f + 10 * b * length * d

    def init_code(self, p: TransformerEncoderLayerParams) -> Code:
        return c.call(
            "nn.TransformerEncoderLayer", p.d_model, p.nhead,
            dim_feedforward=non_default(p.dim_feedforward, 2048),
            dropout=non_default(p.dropout, 0.1),
            activation=non_default(p.activation, "relu"),
            layer_norm_eps=non_default(p.layer_norm_eps, 1e-5),
            batch_first=p.batch_first,
            norm_first=non_default(p.norm_first, False),
            bias=non_default(p.bias, True),
        )
