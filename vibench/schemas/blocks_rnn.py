"""Parameter models of the blocks the RNN family templates added to the catalogue.

``attention_pooling`` (AttentionLSTM's additive attention over time), ``scaled_dot_product_attention``
(the attention core of AttentionGRU's multi-head self-attention, with separately named projections
around it) and ``constant_pad`` (ConvLSTM's all-zero initial state, concatenated to the input).
Conventions as in :mod:`vibench.schemas.blocks`: fields the shape rule infers default to None and
say "(inferred" in their description.
"""

from __future__ import annotations

from pydantic import Field

from vibench.schemas.blocks import BlockParams


class AttentionPoolingParams(BlockParams):
    attention_dim: int = Field(ge=1, description="Width of the tanh scoring layer.")
    d_model: int | None = Field(None, ge=1, description="Feature width D of [B, L, D] (inferred).")


class ScaledDotProductAttentionParams(BlockParams):
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on the attention weights (training mode only).")
    scale: float | None = Field(None, gt=0, description="Score scale; default 1 / sqrt(E) for query width E.")
    is_causal: bool = Field(False, description="Mask out keys after each query position (L == S).")


class ConstantPadParams(BlockParams):
    dim: int = Field(description="Dimension to pad (1: the channels of [B, C, L]).")
    before: int = Field(0, ge=0, description="Entries added at the start of the dimension.")
    after: int = Field(0, ge=0, description="Entries added at the end of the dimension.")
    value: float = Field(0.0, description="The value of the added entries.")
