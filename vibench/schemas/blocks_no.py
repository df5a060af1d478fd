"""Parameter models of the neural-operator blocks (DeepONet's branch and trunk networks).

Same conventions as :mod:`vibench.schemas.blocks`: fields a shape rule infers from the input default
to ``None`` and say "(inferred" in their description.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from vibench.schemas.blocks import BlockParams


class DenseStackParams(BlockParams):
    widths: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        min_length=1, description="Output width of each layer, e.g. [128, 128, 128]."
    )
    activation: Literal["relu", "gelu"] = Field("relu", description="Activation after every layer.")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout after every activation (kept at p = 0 too).")
    bias: bool = Field(True, description="Biases in the linear layers.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")


class CoordinateGridParams(BlockParams):
    channels: int = Field(1, ge=1, description="Copies of the coordinate per step (DeepONet's coord_dim).")
    start: float = Field(0.0, description="Coordinate of the first step.")
    end: float = Field(1.0, description="Coordinate of the last step.")
