"""What an error about a node's parameter says besides its message (E104, E111-E113, and a shape rule's error
that names a parameter), for :mod:`vibench.compiler.typecheck`.

What the parameter accepts, from pydantic's errors on it (:func:`accepted`), and its documentation
(:func:`field_doc`); the "did you mean" candidates for a misspelt key (:func:`unwritten_keys`); and, where the
value was set in another file than the node's (a user's `with:` of a library template), the node's own position
(:func:`origin_of`) and a note naming the node (:func:`set_elsewhere`); the hint of a shape error at a number
written in a composite block's body, which no call can change (:func:`fixed_hint`). :mod:`vibench.compiler.typecheck`
re-exports :func:`origin_of`, :func:`set_elsewhere` and :func:`unwritten_keys`, where its callers import them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import plain
from vibench.compiler.expr import template_names
from vibench.compiler.ir import NodeDef, Pos, Template, TensorType, UnitDef
from vibench.compiler.symbolic import fmt_shape
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


def fixed_hint(udef: UnitDef, env: Mapping[str, Any], nd: NodeDef, field: str, hint: str | None,
               in_types: Sequence[TensorType]) -> str | None:
    """The hint of a shape error at parameter ``field`` of node ``nd`` of the composite block ``udef`` (not the
    compiled model) when the node writes a number there: no call of the block can change it, so a rule's ``hint``
    that proposes another ``field`` (names it) gives way to the block's parameters that size the node's inputs,
    those read upstream of it whose value is one of the inputs' sizes (`prompt_dim`, 9, for the prompt attention's
    `num_heads: 4` that a width of 9 does not fit). None otherwise: the rule's ``hint`` stands."""
    value = next((v for name, v, _ in nd.params if name == field), None)
    if type(value) not in (int, float) or hint is None or not re.search(rf"\b{re.escape(field)}\b", hint):
        return None
    sizes = {d for t in in_types for d in t.shape if isinstance(d, int)}
    read = _read_upstream(udef, nd)
    feeding = [p.name for p in udef.params
               if p.name in read and type(env.get(p.name)) is int and env[p.name] in sizes]
    shapes = " and ".join(fmt_shape(t.shape) for t in in_types)
    fixed = f"`{field}` is {value} in block `{udef.name}`, and no parameter of it sets that: "
    if not feeding:
        return fixed + f"change the sizes that reach this node's input {shapes} to fit it"
    names = " or ".join(f"`{name}` ({env[name]} here)" for name in feeding)
    return fixed + f"change {names}, which sizes this node's input {shapes}, to a value that fits `{field}` = {value}"


def _read_upstream(udef: UnitDef, nd: NodeDef) -> set[str]:
    """The names (parameters, `let` values and what they read) that the values of ``udef``'s nodes before ``nd``,
    and the shapes of the inputs they read, read."""
    nodes = {n.name: n for n in udef.nodes}
    inputs = {i.name: i for i in udef.inputs}
    lets = {let.name: let.value for let in udef.lets}
    read: set[str] = set()
    seen: set[str] = set()
    todo = [ref.node for _, ref in nd.inputs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in inputs:
            shape = inputs[name].shape
            dims = (shape,) if isinstance(shape, Template) else shape
            read |= {d for d in dims if isinstance(d, str)}.union(*(template_names(d) for d in dims))
        elif name in nodes:
            n = nodes[name]
            read |= template_names([v for _, v, _ in n.params]) | template_names(n.with_)
            read |= {p.name for p in udef.params} if n.inherit else set()
            todo += [ref.node for _, ref in n.inputs]
    todo = [name for name in read if name in lets]
    while todo:  # a `let` reads what its value reads
        names = template_names(lets[todo.pop()]) - read
        read |= names
        todo += [name for name in names if name in lets]
    return read
