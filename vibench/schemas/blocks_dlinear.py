"""Parameter models of the DLinear blocks (MLP family).

Same conventions as :mod:`vibench.schemas.blocks`: fields a shape rule infers from the input default
to ``None`` and say "(inferred" in their description.
"""

from __future__ import annotations

from pydantic import Field

from vibench.schemas.blocks import BlockParams


class TemporalLinearParams(BlockParams):
    out_features: int | None = Field(None, ge=1, description="Output length (default: the input length L).")
    individual: bool = Field(False, description="One layer per channel instead of one shared by all channels.")
    average_init: bool = Field(False, description="Start every weight at 1 / L (DLinear) instead of torch's default.")
    in_features: int | None = Field(None, ge=1, description="Input length L of [B, C, L] (inferred).")
    channels: int | None = Field(None, ge=1, description="Channels C of [B, C, L] (inferred; individual layers only).")
