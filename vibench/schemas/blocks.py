"""The base of every block's parameter model, and the model of blocks without parameters.

Each block type keeps its own frozen pydantic model in its block file (``vibench.compiler.blocks``),
next to its shape rule and code generation. Field names, types, defaults, bounds and descriptions
drive node validation, the JSON Schema and editor completion. Fields that a shape rule can infer
from the input (``in_channels``, ``in_features``, ...) default to ``None``; when given, the rule
checks them against the input instead.

Values are checked strictly, exactly as template parameters are (pydantic strict mode): ``true``
is not an int, ``"2"`` is not a number, ``3.0`` is not an int, ``"no"`` is not a bool (E112). The
one conversion is that a list (what YAML and expressions give) is accepted where a tuple is declared.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class BlockParams(BaseModel):
    """Base of every block's parameter model."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _lists_as_tuples(cls, data: Any) -> Any:
        fields = _tuple_fields(cls)
        if not fields or not isinstance(data, dict):
            return data
        return {k: tuple(v) if k in fields and isinstance(v, list) else v for k, v in data.items()}


@functools.cache
def _tuple_fields(cls: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, info in cls.model_fields.items() if _has_tuple(info.annotation))


def _has_tuple(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is tuple or annotation is tuple:
        return True
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_has_tuple(a) for a in typing.get_args(annotation))
    return False


class NoParams(BlockParams):
    pass
