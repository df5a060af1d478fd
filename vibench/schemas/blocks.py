"""The base of every block's parameter model, and the model of blocks without parameters.

Each block type keeps its own frozen pydantic model in its block file (``vibench.compiler.blocks``),
next to its shape rule and code generation. Field names, types, defaults, bounds and descriptions
drive node validation, the JSON Schema and editor completion. Fields that a shape rule can infer
from the input (``in_channels``, ``in_features``, ...) default to ``None``; when given, the rule
checks them against the input instead.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class BlockParams(BaseModel):
    """Base of every block's parameter model."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NoParams(BlockParams):
    pass
