"""Parameter models of the Transformer-family blocks: attention variants, windows and position tables.

Same conventions as :mod:`vibench.schemas.blocks`: one frozen model per block type; fields a shape
rule infers from the input default to ``None`` and say "(inferred" in their description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vibench.schemas.blocks import BlockParams

# -- attention variants ---------------------------------------------------------------------------


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


class LinformerAttentionParams(BlockParams):
    num_heads: int = Field(ge=1, description="Heads; the model width D must divide by it.")
    seq_len: int = Field(ge=1, description="Rows of the learned length projections E and F (the design length).")
    k: int = Field(ge=1, description="Projected length of keys and values (columns of E and F).")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on the attention weights.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


# -- windows and lengths --------------------------------------------------------------------------


class SlidingWindowsParams(BlockParams):
    size: int = Field(ge=1, description="Window length (samples per patch).")
    step: int = Field(ge=1, description="Step between window starts (equal to size: non-overlapping patches).")
    dim: int = Field(-1, description="Dimension to cut into windows; the window becomes a new last dimension.")


class MatchLengthParams(BlockParams):
    dim: int = Field(-1, description="Dimension of x to crop or pad.")
    like_dim: int = Field(1, description="Dimension of `like` whose size is the target length.")
    mode: Literal["replicate", "zeros"] = Field(
        "replicate", description="How a short x is padded at the end: repeat its last step, or zeros."
    )


# -- position tables ------------------------------------------------------------------------------


class SinusoidalPositionalBufferParams(BlockParams):
    max_len: int = Field(5000, ge=1, description="Rows of the fixed table (the longest sequence).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


class InterpolatedPositionalEncodingParams(BlockParams):
    max_len: int = Field(ge=1, description="Rows of the learned table; longer sequences interpolate it linearly.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    init_std: float = Field(0.02, ge=0, description="Standard deviation of the initial table (normal).")
