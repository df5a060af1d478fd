"""Parameter models of the CNN family's blocks: CBAM-style attention and causal convolution.

Same conventions as :mod:`vibench.schemas.blocks`: one frozen pydantic model per block type; fields
a shape rule infers from the input default to ``None`` and say "(inferred" in their description.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vibench.schemas.blocks import BlockParams


class ChannelAttentionParams(BlockParams):
    reduction: int = Field(16, ge=1, description="Bottleneck ratio of the shared MLP: hidden width C // reduction.")
    pooling: Literal["avg_max", "avg"] = Field(
        "avg_max", description="Pooled descriptors fed to the MLP: average and max (CBAM) or average only (SE)."
    )
    bias: bool = Field(False, description="Biases in the two linear layers of the shared MLP.")
    in_channels: int | None = Field(None, ge=1, description="Channels C of [B, C, L] (inferred from the input).")


class SpatialAttentionParams(BlockParams):
    kernel_size: int = Field(7, ge=1, description="Odd width of the convolution over the pooled channel maps.")


class CausalConv1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Kernel width.")
    dilation: int = Field(1, ge=1, description="Spacing between kernel taps.")
    bias: bool = Field(True, description="Learnable bias.")
    weight_norm: bool = Field(
        False, description="Weight normalisation: the kernel is g * v / |v| per output channel (weight_g, weight_v)."
    )
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")
