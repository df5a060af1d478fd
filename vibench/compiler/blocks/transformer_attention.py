"""Self-attention variants of the Transformer family over [B, L, D]: Autoformer and Informer (Linformer, which
shares their frame, is in linformer_attention.py).

Each is a native module holding ``query_projection``, ``key_projection``, ``value_projection`` and
``out_projection`` (D -> D, with bias), named as in PHM-Vibench so checkpoints map one to one. The
model width D must be known at compile time and divide by ``num_heads``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import Field

from vibench.compiler.blocks.attention import model_width
from vibench.compiler.blocks.base import Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class AutoCorrelationParams(BlockParams):
    num_heads: int = Field(ge=1, description="Heads; the model width D must divide by it.")
    factor: int = Field(1, ge=1, description="Delays kept: int(factor * ln L) (at most the correlation length).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


class ProbSparseAttentionParams(BlockParams):
    num_heads: int = Field(ge=1, description="Heads; the model width D must divide by it.")
    mode: Literal["top_k", "prob_sparse"] = Field(
        "top_k",
        description="top_k: full scores, each query keeps its max(16, L // 4) best keys when L > 32 (PHM-Vibench); "
        "prob_sparse: Informer's sampled query selection (the others get the mean of the values).",
    )
    factor: int = Field(5, ge=1, description="prob_sparse: keys sampled and queries kept are factor * ceil(ln L).")
    seed: int | None = Field(
        None,
        ge=0,
        description="prob_sparse: fixed seed for the key sampling (deterministic); None draws fresh samples from "
        "torch's global generator on every call.",
    )
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on the attention weights.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


class AttentionWidthParams(Protocol):
    """What :class:`SelfAttention` reads of a variant's parameters (Linformer's as well)."""

    @property
    def num_heads(self) -> int: ...

    @property
    def d_model(self) -> int | None: ...


# -- torch implementations (copied into model.py) --------------------------------------------


class AutoCorrelation(nn.Module):
    """Autoformer's auto-correlation self-attention over [B, L, D] (Wu et al., 2021).

    Queries, keys and values are projected and split into heads; the FFT cross-correlation of
    queries and keys scores every time delay; the ``int(factor * ln L)`` best delays (at most the
    correlation length) get softmax weights and the output sums the values rolled by those delays.
    Training mode picks the delays once for the whole batch and rolls (the reference's training
    path); eval mode picks them per sample and gathers on the input's device (the reference's
    inference path, which hard-codes ``.cuda()``). Output [B, L, D].
    """

    def __init__(self, d_model: int, num_heads: int, factor: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.factor = factor
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.out_projection = nn.Linear(d_model, d_model)

    def extra_repr(self) -> str:
        return f"d_model={self.query_projection.in_features}, num_heads={self.num_heads}, factor={self.factor}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        # [B, H, d_k, L]: time last, for the transforms and the delays
        queries = self.query_projection(x).view(batch, length, self.num_heads, -1).permute(0, 2, 3, 1)
        keys = self.key_projection(x).view(batch, length, self.num_heads, -1).permute(0, 2, 3, 1)
        values = self.value_projection(x).view(batch, length, self.num_heads, -1).permute(0, 2, 3, 1)
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        if queries.dtype in (torch.float16, torch.bfloat16):
            queries, keys = queries.float(), keys.float()
        spectrum = torch.fft.rfft(queries, dim=-1) * torch.conj(torch.fft.rfft(keys, dim=-1))
        correlation = torch.fft.irfft(spectrum, dim=-1).mean(dim=1).mean(dim=1).to(values.dtype)  # [B, delays]
        top_k = min(int(self.factor * math.log(length)), correlation.shape[-1])
        if self.training:
            aggregated = self._batch_delays(values, correlation, top_k)
        else:
            aggregated = self._sample_delays(values, correlation, top_k)
        return self.out_projection(aggregated.permute(0, 3, 1, 2).reshape(batch, length, width))

    def _batch_delays(self, values: torch.Tensor, correlation: torch.Tensor, top_k: int) -> torch.Tensor:
        delays = torch.topk(correlation.mean(dim=0), top_k, dim=-1)[1]
        weights = torch.softmax(correlation[:, delays], dim=-1)
        values = values.contiguous()  # one copy: the rolls and adds below then walk one layout (see below)
        aggregated = torch.zeros_like(values)
        for i in range(top_k):
            shifted = torch.roll(values, -int(delays[i]), -1)
            aggregated = aggregated + shifted * weights[:, i].view(-1, 1, 1, 1)
        return aggregated

    def _sample_delays(self, values: torch.Tensor, correlation: torch.Tensor, top_k: int) -> torch.Tensor:
        length = values.shape[-1]
        scores, delays = torch.topk(correlation, top_k, dim=-1)
        weights = torch.softmax(scores, dim=-1)
        doubled = values.repeat(1, 1, 1, 2)
        steps = torch.arange(length, device=values.device).view(1, 1, 1, length)
        # Contiguous, like the gathered copies it sums: zeros_like would take the permuted layout of `values`,
        # and every add would walk two layouts (values [4, 4, 32, 1024]: 67 ms of adds a call, not 6).
        aggregated = torch.zeros(values.shape, dtype=values.dtype, device=values.device)
        for i in range(top_k):
            index = (steps + delays[:, i].view(-1, 1, 1, 1)).expand_as(values)
            shifted = torch.gather(doubled, dim=-1, index=index)
            aggregated = aggregated + shifted * weights[:, i].view(-1, 1, 1, 1)
        return aggregated


class ProbSparseAttention(nn.Module):
    """Informer-style sparse self-attention over [B, L, D] (Zhou et al., 2021).

    ``top_k`` mode (PHM-Vibench's Informer): full scaled scores, and for L > 32 each query keeps
    only its ``max(16, L // 4)`` highest scores (the rest are -inf) before the softmax.
    ``prob_sparse`` mode (the paper): ``factor * ceil(ln L)`` keys are sampled per query to measure
    its sparsity (max minus mean score); the ``factor * ceil(ln L)`` most active queries attend to
    all keys and the others output the mean of the values. ``seed`` fixes the sampling: the draws of a CPU
    generator seeded with it (the same on every call and device); None draws from torch's global generator.
    Dropout acts on the attention weights. Output [B, L, D].
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        mode: str = "top_k",
        factor: int = 5,
        seed: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.mode = mode
        self.factor = factor
        self.seed = seed
        self.query_projection = nn.Linear(d_model, d_model)
        self.key_projection = nn.Linear(d_model, d_model)
        self.value_projection = nn.Linear(d_model, d_model)
        self.out_projection = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def extra_repr(self) -> str:
        heads = f"d_model={self.query_projection.in_features}, num_heads={self.num_heads}"
        return f"{heads}, mode={self.mode!r}, factor={self.factor}, seed={self.seed}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        # [B, H, L, d_k]
        queries = self.query_projection(x).view(batch, length, self.num_heads, -1).transpose(1, 2)
        keys = self.key_projection(x).view(batch, length, self.num_heads, -1).transpose(1, 2)
        values = self.value_projection(x).view(batch, length, self.num_heads, -1).transpose(1, 2)
        if self.mode == "top_k":
            context = self._top_k(queries, keys, values)
        else:
            context = self._prob_sparse(queries, keys, values)
        return self.out_projection(context.transpose(1, 2).reshape(batch, length, width))

    def _top_k(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        length = queries.shape[2]
        scores = torch.matmul(queries, keys.transpose(-2, -1)) / math.sqrt(queries.shape[-1])
        if length > 32:
            # unsorted: the same highest scores (their order does not matter here), a third faster
            best, where = torch.topk(scores, max(16, length // 4), dim=-1, sorted=False)
            scores = torch.full_like(scores, float("-inf")).scatter_(-1, where, best)  # in place: no copy
        return torch.matmul(self.dropout(torch.softmax(scores, dim=-1)), values)

    def _prob_sparse(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        length, depth = queries.shape[2], queries.shape[3]
        if not torch.jit.is_scripting():  # TorchScript compiles none of this
            if self.seed is not None:
                # Samples per length: a symbolic length takes the example's (int() keeps it symbolic in dynamo)
                length = len(range(length))
        count = max(1, min(self.factor * math.ceil(math.log(length)), length))
        seed = self.seed
        if seed is None:
            sampled = torch.randint(length, (length, count), device=queries.device)
        elif self._traced(queries):  # a constant of the graph, computed in Python: a generator made here was one
            sampled = self._draw_seeded(seed, length, count, queries.device)  # object in an exported program
        elif not torch.jit.is_scripting() and torch.compiler.is_compiling():  # dynamo (torch.compile, strict export):
            sampled = torch.ops.vibench.seeded_randint(seed, length, length, count).to(queries.device)  # an op
        else:  # a CPU generator's draws on every device, as the traced graph's; drawn each call (2 ms at L = 8192):
            generator = torch.Generator().manual_seed(seed)  # kept per length, they grew with every length seen
            sampled = torch.randint(length, (length, count), generator=generator).to(queries.device)
        sample_scores = torch.matmul(queries.unsqueeze(-2), keys[:, :, sampled].transpose(-2, -1)).squeeze(-2)
        sparsity = sample_scores.max(dim=-1)[0] - sample_scores.sum(dim=-1) / length
        active = sparsity.topk(count, dim=-1, sorted=False)[1].unsqueeze(-1).expand(-1, -1, -1, depth)
        scores = torch.matmul(torch.gather(queries, 2, active), keys.transpose(-2, -1)) / math.sqrt(depth)
        attended = torch.matmul(self.dropout(torch.softmax(scores, dim=-1)), values)
        context = values.mean(dim=2, keepdim=True).expand_as(values)
        return context.scatter(2, active, attended)

    def _traced(self, x: torch.Tensor) -> bool:
        """Whether forward is recorded outside dynamo into a graph that is kept: torch.export's default, non-strict
        (its tensors are fake: they hold no values), or torch.jit.trace (a generator made here was one object of the
        trace, as in an exported program). Dynamo (torch.compile, strict export) calls ``vibench::seeded_randint``
        (telling its export from its compile by ``torch.compiler.is_exporting()`` needs torch 2.6, and that was True
        in any dynamo graph until 2026), or before torch 2.4, which has no such op, takes the constant too."""
        traced = False
        if not torch.jit.is_scripting():  # TorchScript compiles none of this
            dynamo_without_op = torch.compiler.is_compiling() and not self._has_op
            traced = torch.jit.is_tracing() or type(x) is not torch.Tensor or dynamo_without_op
        return traced

    @staticmethod
    def _seeded_randint() -> bool:
        """Define the op ``vibench::seeded_randint`` once per process (by this class of vibench or of a model.py):
        ``torch.randint(high, (rows, cols), generator=torch.Generator().manual_seed(seed))``. torch.compile calls
        it in the graph: the Python draw of ``_draw_seeded``, held as a constant named by its function, failed
        AOTAutograd in a graph of two layers ("ConstantSource('_draw_seeded') already in seen_sources"). False
        before torch 2.4 (no ``torch.library.custom_op``): dynamo then takes that draw, as for one layer."""
        if not hasattr(torch.library, "custom_op"):
            return False
        if hasattr(torch.ops.vibench, "seeded_randint"):
            return True

        @torch.library.custom_op("vibench::seeded_randint", mutates_args=())
        def seeded_randint(seed: int, high: int, rows: int, cols: int) -> torch.Tensor:
            return torch.randint(high, (rows, cols), generator=torch.Generator().manual_seed(seed))

        seeded_randint.register_fake(lambda seed, high, rows, cols: torch.empty((rows, cols), dtype=torch.long))
        return True

    _has_op = _seeded_randint()  # when the class is defined: torch.load of a saved model makes no instance

    @torch.compiler.assume_constant_result  # torch.compile calls it once, untraced (its loops take seconds to trace)
    def _draw_seeded(self, seed: int, length: int, count: int, device: torch.device) -> torch.Tensor:
        """``torch.randint(length, (length, count), generator=torch.Generator().manual_seed(seed))``, bit for bit,
        computed in Python: under ``torch.export`` a tensor holds no values, but Python numbers do.

        The CPU generator is a Mersenne Twister (MT19937, seeded with the low 32 bits of ``seed``) and draws
        each element as its next 32-bit word modulo ``length``, in order; these are those words.
        """
        state = [seed & 0xFFFFFFFF]
        for i in range(1, 624):
            state.append((1812433253 * (state[i - 1] ^ (state[i - 1] >> 30)) + i) & 0xFFFFFFFF)
        total = length * count
        samples: list[int] = []
        while len(samples) < total:
            for i in range(624):  # the next 624 words of state
                y = (state[i] & 0x80000000) | (state[(i + 1) % 624] & 0x7FFFFFFF)
                state[i] = state[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) * 0x9908B0DF)
            for y in state:  # tempered
                y ^= y >> 11
                y ^= (y << 7) & 0x9D2C5680
                y ^= (y << 15) & 0xEFC60000
                samples.append((y ^ (y >> 18)) % length)
        return torch.tensor(samples[:total], device=device).view(length, count)


# -- blocks -----------------------------------------------------------------------------------


def projections(d_model: int | None) -> int:
    assert d_model is not None
    return 4 * (d_model * d_model + d_model)


def projection_flops(ins: list[TensorType], d_model: int | None) -> Dim:
    assert d_model is not None
    b, length, _ = ins[0].shape
    return 8 * b * length * d_model * d_model


class SelfAttention(Block):
    category = "attention"
    fresh_output = True  # the output projection's result (a Linear keeps its input, not its output)
    test_layouts = (("B L D",),)
    test_hints = {"num_heads": (1, 2, 4)}

    def infer(self, p: AttentionWidthParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", model_width(ctx, t, "x", p.d_model, "d_model", p.num_heads, "num_heads"))
        return [t]


@register
class AutoCorrelationBlock(SelfAttention):
    """Autoformer auto-correlation over [B, L, D]: FFT delay scores, values rolled by the best delays.

    The ``int(factor * ln L)`` delays with the highest mean correlation are kept and their rolled
    values summed with softmax weights (Wu et al., 2021). Training mode shares the delays across
    the batch; eval mode picks them per sample (PHM-Vibench's inference path, made device-agnostic).
    Output [B, L, D]; 4 * (D * D + D) parameters.
    """

    name = "auto_correlation"
    Params = AutoCorrelationParams
    natives = (AutoCorrelation,)
    imports = ("math",)

    def infer(self, p: AttentionWidthParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        outs = super().infer(p, ins, ctx)
        ctx.require(ins[0].shape[1], ">=", 2, "the correlation needs at least two time steps")
        return outs

    def param_count(self, p: AutoCorrelationParams, ins: list[TensorType]) -> int:
        return projections(p.d_model)

    def flops(self, p: AutoCorrelationParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        # Projections, plus the transforms, the spectrum product and the aggregation counted per element.
        b, length, d = ins[0].shape
        return projection_flops(ins, p.d_model) + 24 * b * length * d

    def init_code(self, p: AutoCorrelationParams) -> Code:
        return c.call(AutoCorrelation.__name__, p.d_model, p.num_heads, factor=non_default(p.factor, 1))


@register
class ProbSparseAttentionBlock(SelfAttention):
    """Informer ProbSparse self-attention over [B, L, D]: top-k masked scores, or sampled active queries.

    ``mode: top_k`` is PHM-Vibench's version: full scaled scores, each query keeps its
    ``max(16, L // 4)`` best keys when L > 32. ``mode: prob_sparse`` is the paper's (Zhou et al.,
    2021): ``factor * ceil(ln L)`` sampled keys rank the queries, the most active attend, the rest
    take the mean value; ``seed`` makes the sampling deterministic. Output [B, L, D].
    """

    name = "prob_sparse_attention"
    Params = ProbSparseAttentionParams
    natives = (ProbSparseAttention,)
    imports = ("math",)
    stochastic = True

    def param_count(self, p: ProbSparseAttentionParams, ins: list[TensorType]) -> int:
        return projections(p.d_model)

    def unread_params(self, p: ProbSparseAttentionParams) -> dict[str, str]:
        # top_k keeps max(16, L // 4) keys whatever the factor, and samples nothing
        return {} if p.mode == "prob_sparse" else dict.fromkeys(("factor", "seed"), "at `mode: prob_sparse`")

    def flops(self, p: ProbSparseAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        b, length, _ = ins[0].shape
        return projection_flops(ins, p.d_model) + 4 * b * length * length * p.d_model

    def init_code(self, p: ProbSparseAttentionParams) -> Code:
        return c.call(ProbSparseAttention.__name__, p.d_model, p.num_heads, mode=non_default(p.mode, "top_k"),
                      factor=non_default(p.factor, 5), seed=non_default(p.seed, None),
                      dropout=non_default(p.dropout, 0.0))
