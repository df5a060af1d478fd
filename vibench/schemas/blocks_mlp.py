"""Parameter models of the blocks the MLP family templates added to the catalogue.

``spatial_gating_unit`` (gMLP's gate that mixes information across time). Conventions as in
:mod:`vibench.schemas.blocks`.
"""

from __future__ import annotations

from pydantic import Field

from vibench.schemas.blocks import BlockParams


class SpatialGatingUnitParams(BlockParams):
    seq_len: int | None = Field(None, ge=1, description="Sequence length L of [B, L, D] (inferred; sizes the "
                                "L x L spatial projection).")
    d_model: int | None = Field(None, ge=2, description="Feature width D of [B, L, D], even (inferred).")
