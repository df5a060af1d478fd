"""Parameter models of the HSE embedding blocks (ISFM E_01_HSE and E_02_HSE_v2).

The hierarchical signal embeddings cut a signal [B, L, C] into patches and append each sample's
time stamps (sample index / sampling frequency) as extra channels. ``patch_size_L``,
``patch_size_C`` and ``num_patches`` keep the reference's config names.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from vibench.schemas.blocks import BlockParams


class HsePatchSamplingParams(BlockParams):
    patch_size_L: int = Field(ge=1, description="Samples per patch along time (the reference's patch_size_L).")
    patch_size_C: int = Field(1, ge=1, description="Channels per patch (the reference's patch_size_C).")
    num_patches: int = Field(ge=1, description="Patches drawn per sample (the output's token count P).")
    eval_sampling: Literal["random", "seeded", "evenly_spaced"] = Field(
        "random",
        description="Patch starts in eval mode: 'random' redraws them on every call (the reference); 'seeded' "
        "uses one fixed draw of start fractions; 'evenly_spaced' spreads them over the signal.",
    )
    seed: int = Field(0, ge=0, description="Seed of the fixed draw used by eval_sampling 'seeded'.")


class HseSequencePatchesParams(BlockParams):
    num_patches: int = Field(ge=1, description="Patches per sample, starts evenly spaced over the signal.")
    patch_size_L: int = Field(ge=1, description="Samples per patch (the reference's patch_size_L).")


Count = Annotated[int, Field(ge=1)]
Systems = dict[str, Count]
"""A mapping system id (an integer, written as a string) -> count."""
PerSystem = Count | Systems
"""One count for every system, or a mapping system id -> count."""


def str_keys(value: object) -> object:
    """``{1: 2}`` (YAML int keys, or numpy ids in the reference) -> ``{"1": 2}``; other values unchanged."""
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    return value


def check_system_keys(value: PerSystem) -> PerSystem:
    """System ids are integers (they are compared with the ``system_id`` input)."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("give at least one system")
        for key in value:
            try:
                int(key)
            except ValueError:
                raise ValueError(f"system ids are integers (compared with the system_id input), got {key!r}") from None
    return value


class HseChannelMixerParams(BlockParams):
    num_channels: Systems = Field(
        description="Signal channels per system id (one mixer per system, chosen per sample by system_id)."
    )
    c_dim: int = Field(ge=1, description="Features per time step after mixing (the reference's c_dim).")

    _keys = field_validator("num_channels", mode="before")(str_keys)
    _check = field_validator("num_channels")(check_system_keys)

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((tuple(sorted(self.num_channels.items())), self.c_dim))


class HsePositionTableParams(BlockParams):
    num_patches: int | None = Field(None, ge=1, description="Rows of the table: the token count P (inferred).")
    dim: int | None = Field(None, ge=1, description="Token width (inferred from the input).")
