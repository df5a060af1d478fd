"""Which uses of a composite may share a class: a key that any two of them share.

:func:`~vibench.compiler.codegen.structure.group` tries each use of a composite against the structures
(classes) already found for it. Trying every earlier structure made the grouping quadratic in the distinct
uses of one composite (2,000 uses of a block whose dropout rate reads the copy index, each its own class:
18 s of CPU; 4,000 over a minute). :func:`class_key` is what ``_try_add`` requires to be equal, with the
literals left out: the use's inputs and outputs, and for each node every use of the class has (one without
``when``), its kind, block, forward line and constructors with every literal replaced by one mark and every
composite child by its class. Uses with different keys can never share a class, so once a composite has
:data:`KEYED_FROM` structures (:class:`ClassIndex`), a use is tried only against the structures of its key:
those differ in the nodes under ``when`` or in how their values flow, which :data:`MAX_CLASS_TRIES` bounds.

>>> from vibench.compiler.codegen import code as c
>>> a, b = c.call("nn.Conv1d", 64, 128, stride=2), c.call("nn.Conv1d", 128, [3], stride=1)
>>> code_shape(a, {}, lambda child: None) == code_shape(b, {}, lambda child: None)
True
>>> code_shape(a, {}, None) == code_shape(c.call("nn.Conv1d", 64, 128), {}, None)
False
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from vibench.compiler.codegen.plan import Child, UnitPlan, constant_value
from vibench.compiler.ir import NodeDef, UnitDef

if TYPE_CHECKING:
    from vibench.compiler.codegen.structure import Structure

MAX_CLASS_TRIES = 64
"""Structures of one key a use of a composite is tried against (in the order they were found) before it gets a class
of its own. Within a key, uses differ only in the nodes they switch off with ``when``, in those nodes' code, or in
which values those nodes read; no library template or example has more than a few structures per key. Without the
bound, 2,000 uses whose ``when`` nodes each differ tried 2,000,000 pairs."""

KEYED_FROM = 8
"""Structures of one composite from which its uses are tried by key: below, trying each costs less than the keys
(the library's composites have a few structures each; keying every use made their grouping about 15% slower)."""

_LITERAL = ("literal",)


class ClassIndex:
    """The structures found so far for each composite (by qualified name and file), in the order found, and by
    key once a composite has :data:`KEYED_FROM` of them. ``child_class`` names the class of a composite child;
    ``nodes_of`` gives a definition's nodes by name."""

    def __init__(self, child_class: Callable[[Child], Hashable],
                 nodes_of: Callable[[UnitDef], dict[str, NodeDef]]) -> None:
        self._child_class = child_class
        self._nodes_of = nodes_of
        self._shapes: dict[int, tuple[ast.expr, Hashable]] = {}
        self._found: dict[tuple[str, str], list[Structure]] = {}
        self._keyed: dict[tuple[str, str], dict[Hashable, list[Structure]]] = {}

    def candidates(self, plan: UnitPlan) -> tuple[list[Structure], Hashable | None]:
        """The structures that may take ``plan``, in the order found (at most :data:`MAX_CLASS_TRIES` by key), and
        the plan's key when it was needed (for :meth:`add`)."""
        where = (plan.unit.qualname, plan.unit.file)
        found = self._found.setdefault(where, [])
        if len(found) < KEYED_FROM:
            return found, None
        index = self._keyed.get(where)
        if index is None:  # (every use of a structure has its key: its first stands for it)
            index = self._keyed[where] = {}
            for s in found:
                index.setdefault(self._key(s.plans[0]), []).append(s)
        key = self._key(plan)
        return index.get(key, [])[:MAX_CLASS_TRIES], key

    def add(self, s: Structure, key: Hashable | None) -> None:
        """A new structure, its first use's key if :meth:`candidates` gave one."""
        where = (s.plans[0].unit.qualname, s.plans[0].unit.file)
        self._found.setdefault(where, []).append(s)
        index = self._keyed.get(where)
        if index is not None:
            index.setdefault(self._key(s.plans[0]) if key is None else key, []).append(s)

    def _key(self, plan: UnitPlan) -> Hashable:
        definition = plan.unit.definition
        nodes = self._nodes_of(definition) if definition is not None else None
        return class_key(plan, nodes, self._child_class, self._shapes)


def class_key(plan: UnitPlan, nodes: dict[str, NodeDef] | None, child_class: Callable[[Child], Hashable],
              shapes: dict[int, tuple[ast.expr, Hashable]]) -> Hashable:
    """What every use of one class has alike (see the module docstring). ``nodes``: the composite's node
    definitions by name (None: no definition, so no node may be missing from a use); ``child_class``: the
    class of a composite child (anything hashable naming it); ``shapes``: a cache of the constructors' shapes by
    identity, shared by the uses of one grouping (the constructors of nodes built alike are shared trees)."""
    unit = plan.unit
    slots = []
    for name, slot in plan.slots.items():
        nd = nodes.get(name) if nodes is not None else None
        if nd is not None and nd.when is not None:  # switched off in some uses of the class, perhaps
            continue
        node = slot.node
        ctors = frozenset(code_shape(x, shapes, child_class) for x in slot.ctors)
        slots.append((name, slot.kind, node.block, node.kind, node.checkpoint, slot.code_key,
                      tuple(p for p, _ in node.outputs), len(slot.inputs), ctors))
    return (tuple(n for n, _ in unit.inputs), tuple(n for n, _, _ in unit.outputs), tuple(slots))


def code_shape(e: ast.AST, shapes: dict[int, tuple[ast.expr, Hashable]],
               child_class: Callable[[Child], Hashable] | None) -> Hashable:
    """A tree with its literals replaced by one mark and each composite child by its class: equal for two trees
    that :func:`~vibench.compiler.codegen.unify.matches` (it compares them field by field, as this writes them;
    a copy of a repeated node may match another with a different number of copies, so :func:`class_key` takes
    the set of its constructors' shapes). ``shapes`` caches the shapes of whole trees by identity."""
    if isinstance(e, Child):
        return _shape(e, child_class)
    known = shapes.get(id(e))
    if known is not None and known[0] is e:
        return known[1]
    shape = _shape(e, child_class)
    if isinstance(e, ast.expr):
        shapes[id(e)] = (e, shape)  # (holding the tree keeps its id unique)
    return shape


def _shape(e: ast.AST, child_class: Callable[[Child], Hashable] | None) -> Hashable:
    if isinstance(e, Child):
        return ("child", id(e)) if e.unit is None or child_class is None else ("child", child_class(e))
    if constant_value(e)[0]:
        return _LITERAL
    fields: list[Any] = []
    for name, x in ast.iter_fields(e):
        if isinstance(x, ast.AST):
            fields.append(_shape(x, child_class))
        elif isinstance(x, list):
            fields.append(tuple(_shape(p, child_class) if isinstance(p, ast.AST) else ("value", p) for p in x))
        elif name != "ctx":
            fields.append(("value", x))
    return (type(e), tuple(fields))
