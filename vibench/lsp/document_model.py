"""The spec document's own keys as the editor shows them: which pydantic model describes the mapping at a path
of a spec (:func:`document_model`) and each key's type and description (:func:`model_keys`), for completion and
hover (moved out of :mod:`vibench.lsp.catalog`, which re-exports both)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel


def document_model(path: tuple) -> type[BaseModel] | None:
    """The pydantic model of the mapping at ``path`` of a spec (None: not a fixed model)."""
    from vibench.schemas import document as d

    if path and path[0] == "blocks" and len(path) >= 2:
        if len(path) == 2:
            return d.BlockSpec
        path = path[2:]
        if path[:1] == ("nodes",):
            return d.NodeSpec if len(path) == 2 else None
    if path == ():
        return d.SpecDocument
    if len(path) == 2 and path[0] == "params":
        return d.ParamSpec
    if len(path) == 2 and path[0] == "inputs":
        return d.InputSpec
    if len(path) == 2 and path[0] == "outputs":
        return d.OutputSpec
    if len(path) == 2 and path[0] == "nodes":
        return d.NodeSpec
    if path == ("reference",):
        return d.ReferenceSpec
    return None


def model_keys(model: type[BaseModel]) -> dict[str, tuple[str, str]]:
    """Key (as written) -> (type, description) of a document model."""
    out = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        out[key] = (_annotation_text(info.annotation), info.description or "")
    return out


def _annotation_text(annotation: Any) -> str:
    """A document key's type as a reader says it (``mapping of name -> parameter``, ``list of (int | str) |
    ${...}``): pydantic's own text shows ``Annotated[...]`` with validator reprs (memory addresses)."""
    import types
    import typing

    from pydantic import BaseModel

    if annotation is None or annotation is type(None):
        return "null"
    if annotation is typing.Any:
        return "any"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotated_text(args[0], args[1:])
    if origin in (typing.Union, types.UnionType):
        shown = [_annotation_text(a) for a in args if a is not type(None)]
        return " | ".join(shown) if shown else "null"
    if origin is typing.Literal:
        return " | ".join(repr(a) if isinstance(a, str) else str(a).lower() for a in args)
    if origin is list:
        return f"list of {_member_text(args[0])}" if args else "list"
    if origin is tuple:
        return "(" + ", ".join(_annotation_text(a) for a in args if a is not Ellipsis) + ")"
    if origin is dict:
        return f"mapping of name -> {_member_text(args[1])}" if len(args) == 2 else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _MODEL_NAMES.get(annotation.__name__, "mapping")
    if isinstance(annotation, type):
        return annotation.__name__
    return "value"  # never a repr: it may hold a validator's address


# The document models as the editor names them (their keys are described on hover of each).
_MODEL_NAMES = {"ParamSpec": "parameter", "InputSpec": "input", "OutputSpec": "output", "NodeSpec": "node",
                "BlockSpec": "composite block", "CheckSpec": "check", "ReferenceSpec": "reference"}


def _member_text(annotation: Any) -> str:
    """A list's or mapping's member type, parenthesised when it is a union."""
    text = _annotation_text(annotation)
    return f"({text})" if " | " in text else text


def _annotated_text(base: Any, metadata: tuple[Any, ...]) -> str:
    """``Annotated[str, StringConstraints(pattern=...${...}...)]`` is a whole-value ``${...}``; any other
    annotation is its base type (strictness and validators do not change what one writes)."""
    pattern = next((getattr(m, "pattern", None) for m in metadata if getattr(m, "pattern", None)), None)
    if base is str and pattern and "$" in pattern:
        return "${...}"
    return _annotation_text(base)
