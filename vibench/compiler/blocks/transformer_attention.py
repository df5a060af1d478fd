"""Self-attention variants of the Transformer family over [B, L, D]: Autoformer, Informer, Linformer.

Each is a native module holding ``query_projection``, ``key_projection``, ``value_projection`` and
``out_projection`` (D -> D, with bias), named as in PHM-Vibench so checkpoints map one to one. The
model width D must be known at compile time and divide by ``num_heads``.
"""

from __future__ import annotations

from vibench.compiler.blocks.attention import model_width
from vibench.compiler.blocks.base import Block, ShapeContext, call, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_transformer import (
    AutoCorrelationParams,
    LinformerAttentionParams,
    ProbSparseAttentionParams,
)


def _projections(d_model: int | None) -> int:
    assert d_model is not None
    return 4 * (d_model * d_model + d_model)


def _projection_flops(ins: list[TensorType], d_model: int | None) -> Dim:
    assert d_model is not None
    b, length, _ = ins[0].shape
    return 8 * b * length * d_model * d_model


class _SelfAttention(Block):
    category = "attention"
    test_layouts = (("B L D",),)
    test_hints = {"num_heads": (1, 2, 4)}

    def infer(self, p: AutoCorrelationParams | ProbSparseAttentionParams | LinformerAttentionParams,
              ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", model_width(ctx, t, "x", p.d_model, "d_model", p.num_heads, "num_heads"))
        return [t]


@register
class AutoCorrelation(_SelfAttention):
    """Autoformer auto-correlation over [B, L, D]: FFT delay scores, values rolled by the best delays.

    The ``int(factor * ln L)`` delays with the highest mean correlation are kept and their rolled
    values summed with softmax weights (Wu et al., 2021). Training mode shares the delays across
    the batch; eval mode picks them per sample (PHM-Vibench's inference path, made device-agnostic).
    Output [B, L, D]; 4 * (D * D + D) parameters.
    """

    name = "auto_correlation"
    Params = AutoCorrelationParams
    natives = ("AutoCorrelation",)
    imports = ("math",)

    def infer(self, p: AutoCorrelationParams | ProbSparseAttentionParams | LinformerAttentionParams,
              ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        outs = super().infer(p, ins, ctx)
        ctx.require(ins[0].shape[1], ">=", 2, "the correlation needs at least two time steps")
        return outs

    def param_count(self, p: AutoCorrelationParams, ins: list[TensorType]) -> int:
        return _projections(p.d_model)

    def flops(self, p: AutoCorrelationParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        # Projections, plus the transforms, the spectrum product and the aggregation counted per element.
        b, length, d = ins[0].shape
        return _projection_flops(ins, p.d_model) + 24 * b * length * d

    def init_code(self, p: AutoCorrelationParams) -> str:
        return call("AutoCorrelation", p.d_model, p.num_heads, factor=non_default(p.factor, 1))


@register
class ProbSparseAttention(_SelfAttention):
    """Informer ProbSparse self-attention over [B, L, D]: top-k masked scores, or sampled active queries.

    ``mode: top_k`` is PHM-Vibench's version: full scaled scores, each query keeps its
    ``max(16, L // 4)`` best keys when L > 32. ``mode: prob_sparse`` is the paper's (Zhou et al.,
    2021): ``factor * ceil(ln L)`` sampled keys rank the queries, the most active attend, the rest
    take the mean value; ``seed`` makes the sampling deterministic. Output [B, L, D].
    """

    name = "prob_sparse_attention"
    Params = ProbSparseAttentionParams
    natives = ("ProbSparseAttention",)
    imports = ("math",)
    stochastic = True

    def param_count(self, p: ProbSparseAttentionParams, ins: list[TensorType]) -> int:
        return _projections(p.d_model)

    def flops(self, p: ProbSparseAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        b, length, _ = ins[0].shape
        return _projection_flops(ins, p.d_model) + 4 * b * length * length * p.d_model

    def init_code(self, p: ProbSparseAttentionParams) -> str:
        return call("ProbSparseAttention", p.d_model, p.num_heads, mode=non_default(p.mode, "top_k"),
                    factor=non_default(p.factor, 5), seed=non_default(p.seed, None),
                    dropout=non_default(p.dropout, 0.0))


@register
class LinformerAttention(_SelfAttention):
    """Linformer low-rank self-attention over [B, L, D]: keys and values projected along time to k rows.

    Learned projections ``E`` and ``F`` (seq_len, k) mix the L positions of keys and values into k
    (Wang et al., 2020); L < seq_len uses their first L rows, L > seq_len resizes them bilinearly
    (PHM-Vibench's behaviour). Output [B, L, D]; 4 * (D * D + D) + 2 * seq_len * k parameters.
    """

    name = "linformer_attention"
    Params = LinformerAttentionParams
    natives = ("LinformerAttention",)
    imports = ("math", "F")
    stochastic = True

    def param_count(self, p: LinformerAttentionParams, ins: list[TensorType]) -> int:
        return _projections(p.d_model) + 2 * p.seq_len * p.k

    def flops(self, p: LinformerAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        b, length, _ = ins[0].shape
        return _projection_flops(ins, p.d_model) + 8 * b * length * p.k * p.d_model

    def init_code(self, p: LinformerAttentionParams) -> str:
        return call("LinformerAttention", p.d_model, p.num_heads, p.seq_len, p.k,
                    dropout=non_default(p.dropout, 0.0))
