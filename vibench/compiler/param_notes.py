"""What an error about a node's parameter says besides its message (E104, E111-E113, and a shape rule's error
that names a parameter), for :mod:`vibench.compiler.typecheck`.

What the parameter accepts, from pydantic's errors on it (:func:`accepted`), and its documentation
(:func:`field_doc`); the "did you mean" candidates for a misspelt key (:func:`unwritten_keys`); and, where the
value was set in another file than the node's (a user's `with:` of a library template), the node's own position
(:func:`origin_of`) and a note naming the node (:func:`set_elsewhere`). :mod:`vibench.compiler.typecheck`
re-exports the last three, where its callers import them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import plain
from vibench.compiler.ir import NodeDef, Pos
from vibench.schemas.document import NODE_KEYS

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block


def accepted(errors: list[dict[str, Any]]) -> str:
    """What a parameter accepts, from pydantic's errors on it (one per member of a union)."""
    texts = []
    for e in errors:
        msg = plain(str(e["msg"]))
        msg = msg.split(",", 1)[0] if msg.startswith(("integer", "number", "boolean", "string")) else msg
        if msg not in texts:
            texts.append(msg)
    return " or ".join(texts)


def field_doc(block: Block, field: str | None) -> str | None:
    if field is None:
        return None
    info = block.Params.model_fields.get(field)
    return info.description if info is not None else None


def unwritten_keys(nd: NodeDef, fields: Iterable[str]) -> list[str]:
    """The parameters ``fields`` and node keys (NODE_KEYS) ``nd`` does not write: the "did you mean" candidates for
    its misspelt key (one it writes would be a duplicate; one set by `with:` or `inherit` is not: the node's wins)."""
    written = {key for key, _, _ in nd.params}
    # A node key is unwritten where its field has its default (a `checkpoint` name that read nothing is None);
    # `in: []`, `inherit: false` and a `checkpoint` that is false read as unwritten: a harmless suggestion at most.
    written.update(key for key, there in (
        ("block", True), ("in", bool(nd.inputs)), ("repeat", nd.repeat is not None), ("when", nd.when is not None),
        ("for_each", nd.for_each is not None), ("inherit", nd.inherit), ("with", nd.with_ is not None),
        ("checkpoint", nd.checkpoint is not False), ("doc", nd.doc is not None)) if there)
    return [key for key in (*fields, *NODE_KEYS) if key not in written]


def origin_of(nd: NodeDef, pos: Pos | None) -> Pos | None:
    """The node's own position when an error about it is reported in another file (where a user set the
    value it reads): see ``Diagnostic.origin``."""
    return nd.pos if pos is not None and nd.pos is not None and pos.file != nd.pos.file else None


def set_elsewhere(nd: NodeDef, field: str, pos: Pos | None) -> tuple[str, ...]:
    """The note of an error about a node's parameter reported where its value was set, in another file
    (a user's `with:` of a library template): which node reads it, and where that node is."""
    origin = origin_of(nd, pos)
    return () if origin is None else (f"the value set here reaches `{field}` of node `{nd.name}` at {origin}",)
