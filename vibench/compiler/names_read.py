"""The names a unit reads in its own values: in its ``${...}`` and as plain names (``out_channels: channels``).

:func:`expression_names` gives them for a whole unit (what the warnings of an unused or unread parameter, W104
and W105, count as read), :func:`_names_written` the plain names of one value. Split out of
:mod:`vibench.compiler.resolve_decls`, which re-exports both where their callers import them.
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.expr import bare_name, template_names
from vibench.compiler.ir import Template, UnitDef


def expression_names(unit: UnitDef) -> tuple[set[str], bool]:
    """The names the unit's own `${...}` read, and whether some node has `inherit: true`."""
    used: set[str] = set()
    for decl in unit.params:  # a default's plain name that reads a parameter is its `${...}` already (resolve_decls):
        used |= template_names(decl.default)  # one left plain is text (`act: {type: str, default: relu}`)
    for inp in unit.inputs:
        used |= template_names(inp.when) | template_names(inp.layout)
        for d in (inp.shape,) if isinstance(inp.shape, Template) else inp.shape:
            used |= template_names(d) | ({d} if isinstance(d, str) else set())  # a name in a shape reads it
    for out in unit.outputs:
        used |= template_names(out.when)
        for dim in out.shape or ():
            used |= template_names(dim) | ({dim} if isinstance(dim, str) else set())
    used |= template_names(unit.metadata)
    for let in unit.lets:
        used |= template_names(let.value)
    for check in unit.checks:
        used |= template_names(check.that) | template_names(check.message)
        if check.at is not None:
            used.add(check.at)
    inherits = False
    for node in unit.nodes:  # the loop of a 10,000-node spec: values without templates are skipped cheaply
        inherits = inherits or node.inherit
        if not isinstance(node.block, str):
            used |= template_names(node.block)
        if node.repeat is not None or node.when is not None or node.for_each is not None or node.with_ is not None:
            for value in (node.repeat, node.when, node.for_each, node.with_):
                used |= template_names(value)
        if node.checkpoint is not False:  # `checkpoint: "${recompute}"` or `checkpoint: recompute` reads it
            used |= template_names(node.checkpoint)
        for _, value, _ in node.params:
            kind = value.__class__
            if not (kind is int or kind is bool or value is None):  # a number or a flag reads no name
                used |= template_names(value)
                if not isinstance(node.block, str):  # a plain name is read when the block is known
                    used |= _names_written(value)
        # A `with:` mapping's values as the node's own: of a block named as written, the names pass made each plain
        # name read its `${...}`, and one left plain is text (`with: {act: relu}` for a `str`).
        if isinstance(node.with_, dict) and not isinstance(node.block, str):
            used |= set().union(*(_names_written(v) for v in node.with_.values()))
    return used, inherits


def _names_written(value: Any) -> set[str]:
    """A plain name that may read a parameter (``out_channels: channels``): counted as a use."""
    if isinstance(value, (list, dict)):
        return set().union(*(_names_written(v) for v in (value if isinstance(value, list) else value.values())))
    name = bare_name(value)
    return {name} if name is not None else set()
