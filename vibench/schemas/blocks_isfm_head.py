"""Parameter models of the ISFM task-head blocks (H_01, H_02, H_03, H_09, MultiTaskHead).

``num_classes`` follows the reference: a mapping system id -> class count (one head per system,
chosen per sample by the ``system_id`` input), or one int (a single head for every sample).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vibench.schemas.blocks import BlockParams
from vibench.schemas.blocks_isfm_hse import PerSystem, Systems, check_system_keys, str_keys

ActivationName = Literal["relu", "gelu", "tanh", "sigmoid", "leaky_relu", "elu", "ELU", "softplus", "silu", "none"]


def _hash_classes(classes: PerSystem) -> object:
    return tuple(sorted(classes.items())) if isinstance(classes, dict) else classes


class IsfmActivationParams(BlockParams):
    name: ActivationName = Field(
        description="Activation as the ISFM reference components name it (leaky_relu has slope 0.1, 'ELU' is "
        "E_03_Patch's spelling of elu, 'none' is the identity)."
    )


class IsfmMlpParams(BlockParams):
    layers: tuple[int, ...] = Field(min_length=1, description="Output widths of the Linear layers, in order.")
    activation: ActivationName = Field("relu", description="Activation after every Linear but the last.")
    last_activation: ActivationName = Field("none", description="Activation after the last Linear.")
    batch_norm: bool = Field(False, description="BatchNorm1d after every Linear that an activation follows.")
    scale: float = Field(1.0, description="Constant the output is multiplied by (MultiTaskHead's rul_max_value).")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")


class IsfmSystemClassifierParams(BlockParams):
    num_classes: Systems = Field(description="Classes per system id (one head per system, chosen by system_id).")
    hidden_features: int = Field(
        0, ge=0, description="Hidden width of each head (0: one Linear; else Linear, activation, Linear)."
    )
    activation: ActivationName = Field("relu", description="Activation between the two Linears of a head.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")

    _keys = field_validator("num_classes", mode="before")(str_keys)
    _check = field_validator("num_classes")(check_system_keys)

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((tuple(sorted(self.num_classes.items())), self.hidden_features, self.activation,
                     self.in_features))


class IsfmSystemPrototypesParams(BlockParams):
    num_classes: PerSystem = Field(
        description="Classes: a mapping system id -> class count (prototypes per system), or one count for all."
    )
    dim: int | None = Field(None, ge=1, description="Feature width D (inferred from the input).")

    _keys = field_validator("num_classes", mode="before")(str_keys)
    _check = field_validator("num_classes")(check_system_keys)

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((_hash_classes(self.num_classes), self.dim))


class IsfmCrossAttentionParams(BlockParams):
    num_heads: int = Field(8, ge=1, description="Attention heads; the width D must divide by it.")
    qkv_bias: bool = Field(False, description="Biases in the query and key/value projections.")
    dim: int | None = Field(None, ge=1, description="Feature width D (inferred from the inputs).")


class IsfmUniversalProjectionParams(BlockParams):
    max_len: int = Field(ge=1, description="Longest prediction (rows of the projection's output).")
    max_out: int = Field(ge=1, description="Most channels of a prediction.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")
