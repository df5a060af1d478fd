"""Step 3 of :mod:`vibench.compiler.codegen.structure`: the constructors of one class, with arguments.

For each node with a submodule, the constructor of every use is built (a composite copy as a call
of its child's class), the uses are anti-unified, and every literal is written as the spec's own
expression, a formula found by search, a new argument or itself (see the structure module; the
literals are written by :mod:`~vibench.compiler.codegen.explain_literals`).
"""

from __future__ import annotations

import ast
import functools
from typing import Any

from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.explain_literals import LiteralWriter
from vibench.compiler.codegen.formula import same_value
from vibench.compiler.codegen.inline import inlined, tagged
from vibench.compiler.codegen.plan import (
    Child,
    Slot,
    constant_value,
    container_of,
    inferred_fields,
    written_alike,
)
from vibench.compiler.codegen.structure import Arg, Classes, Member, Structure, env_of, node_defs
from vibench.compiler.codegen.types import annotation_of, annotation_of_value
from vibench.compiler.ir import NodeDef, Template, Unit


class _Writer(LiteralWriter):
    """Builds the members and arguments of one structure."""

    def __init__(self, s: Structure, classes: Classes, prefer: set[str] | None = None) -> None:
        super().__init__(s, classes, prefer)
        self._inlined: dict[tuple, ast.expr] = {}  # see inlined

    # -- the constructors -----------------------------------------------------------------------

    def members(self) -> list[Member]:
        rep = self.s.representative
        out: list[Member] = []
        for name, slot in rep.slots.items():
            if not slot.ctors:
                if name in self.s.optional:  # a line of forward that runs under `if self.with_<node>:`
                    out.append(Member(f"with_{name}", self.condition(self.s.optional[name])))
                continue
            present = [k for k, p in enumerate(self.s.plans) if name in p.slots]
            ctor = self.ctor(name, present)
            if name in self.s.optional:
                ctor = c.if_else(self.condition(self.s.optional[name]), ctor, c.call("nn.Identity"))
            out.append(Member(name, ctor))
        return out

    @functools.cached_property
    def node_defs(self) -> dict[str, NodeDef]:
        """The structure's nodes as written, by name (fetched once, not per node: 10,000 nodes, explain 24 -> 22 ms)."""
        return node_defs(self.s.definition) if self.s.definition is not None else {}

    def condition(self, when: Any) -> ast.expr:
        assert isinstance(when, Template) and when.whole
        expr = self.spec_expr(when, None)
        if expr is None:  # pragma: no cover - grouping only keeps conditions it could evaluate
            raise RuntimeError("an optional node's condition cannot be written in Python (this is a bug)")
        return expr

    def ctor(self, name: str, present: list[int]) -> ast.expr:
        slots = [self.s.plans[k].slots[name] for k in present]
        counts = {len(s.ctors) for s in slots}
        nd = self.node_defs.get(name)
        first = slots[0]
        if first.kind == "repeat" and len(counts) > 1:
            return self.comprehension(slots, present, nd)
        n = len(first.ctors)
        copies = []
        for k in range(n):
            siblings = [s.ctors[k] for s in slots]
            trees = [self.copy_tree(s.ctors[k], siblings) for s in slots]
            known = self.as_is(trees)
            if known is not None:  # written already for a node built alike: skip gathering what `written` reads
                copies.append(known)
                continue
            owners = self.owners(first, k, siblings)
            repeated = first.kind in ("repeat", "chain")
            env_k = [dict(self.envs[u], i=k) if repeated else self.envs[u] for u in present]
            inferred = frozenset() if self.is_root else inferred_fields(first, k)  # (the root writes its values)
            copies.append(self.written(trees, owners, nd, env_k, {"i": k} if repeated else {}, present, None,
                                       inferred))
        if first.kind == "module":
            return copies[0]
        whole = first.kind not in ("parallel", "chain") and (first.node.kind == "composite" or first.plain)
        if first.kind == "repeat" and written_alike(copies):  # n equal copies: [copy for _ in range(n)]
            loop = c.list_comp(copies[0], "_", c.call("range", self.repeat_count(nd, n, present)))
            return c.call("nn.Sequential", c.starred(loop)) if whole else c.call(container_of(first), loop)
        if whole:
            return c.call("nn.Sequential", *copies)  # called as a whole (a chain's copies are called one by one)
        return c.call(container_of(first), c.list_of(*copies))

    def repeat_count(self, nd: NodeDef | None, n: int, present: list[int]) -> ast.expr:
        """The copy count of a repeated node: its `repeat:` as the spec writes it where the class can
        (``range(num_layers)``), else the number (the model class writes its values)."""
        if not self.is_root and nd is not None and isinstance(nd.repeat, Template):
            count = self.verified(nd.repeat, [n] * len(present), [self.envs[u] for u in present], {})
            if count is not None:
                return count
        return c.const(n)

    def comprehension(self, slots: list[Slot], present: list[int], nd: NodeDef | None) -> ast.expr:
        """A repeated node with a different number of copies per use: ``[... for i in range(count)]``."""
        first = slots[0]
        trees, envs, units, copies = [], [], [], []
        siblings = [ctor for s in slots for ctor in s.ctors]
        for j, s in enumerate(slots):
            for k in range(len(s.ctors)):
                trees.append(self.copy_tree(s.ctors[k], siblings))
                envs.append(dict(self.envs[present[j]], i=k))
                units.append(present[j])
                copies.append(k)
        element = self.written(trees, self.owners(first, 0, siblings), nd, envs, {}, units, copies)
        counts = [len(s.ctors) for s in slots]
        count = None
        if nd is not None and isinstance(nd.repeat, Template):
            count = self.verified(nd.repeat, counts, [self.envs[u] for u in present], {})
        if count is None:
            count = self.search(counts, [self.envs[u] for u in present], f"{first.name}_copies", present, None)
        loop = c.list_comp(element, "i" if "i" in c.names_in(element) else "_", c.call("range", count))
        if first.node.kind == "composite" or first.plain:
            return c.call("nn.Sequential", c.starred(loop))
        return c.call(container_of(first), loop)

    def copy_tree(self, tree: ast.expr, siblings: list[ast.expr]) -> ast.expr:
        """One copy's constructor; a composite's is a call of its class, whose defaulted arguments
        are written when some of ``siblings`` (the same copy in the other uses) needs them."""
        if not isinstance(tree, Child):
            return tree
        assert tree.unit is not None
        child = self.classes.of_unit[tree.unit.key]
        values = self.child_values(tree.unit)
        if child.inline:
            return self.inlined(child, values, siblings)
        written = self.keywords_written(child, siblings)
        args: list[Any] = []
        keywords: dict[str, Any] = {}
        for a in child.args:
            value = c.const(values[a.name])
            if not a.has_default:
                args.append(value)
            elif a.name in written:
                keywords[a.name] = value
        return c.call(child.name, *args, **keywords)

    def inlined(self, child: Structure, values: dict[str, Any], siblings: list[ast.expr]) -> ast.expr:
        """:func:`~vibench.compiler.codegen.inline.inlined`, built once per copy of a node (``siblings``: that copy in
        each use) and values. A chain written at a use holds the chains inside it: blocks nested n deep, each using
        the one below twice, copied the chain below at each of its uses, all 2^n layers at each level, and compared
        the copies. Per node, not per chain: ``as_is`` keeps the written form of a tree for the node it was written
        for, and another node may write it otherwise."""
        key = (id(siblings[0]), child.id, tuple(repr(values[a.name]) for a in child.args))  # (repr: 1, True, 1.0)
        known = self._inlined.get(key)
        if known is None:
            known = self._inlined[key] = inlined(child, values)
        return known

    def keywords_written(self, child: Structure, siblings: list[ast.expr]) -> set[str]:
        """The defaulted arguments some of these uses of ``child`` set to another value."""
        key = (id(child), tuple(id(t) for t in siblings))
        if key not in self._keywords:
            uses = [self.child_values(t.unit) for t in siblings if isinstance(t, Child) and t.unit is not None]
            self._keywords[key] = {a.name for a in child.args if a.has_default and any(
                not same_value(v[a.name], a.default) for v in uses)}
        return self._keywords[key]

    def child_values(self, unit: Unit) -> dict[str, Any]:
        child = self.classes.of_unit[unit.key]
        return child.values[child.position(unit)]

    def owners(self, slot: Slot, k: int, siblings: list[ast.expr]) -> dict[tuple, str]:
        """Literal position (in one copy's constructor) -> the spec parameter it sets."""
        ctor = slot.ctors[k]
        if isinstance(ctor, Child):
            child = self.classes.of_unit[ctor.unit.key] if ctor.unit is not None else None
            if child is None:
                return {}
            call = self.copy_tree(ctor, siblings)
            if child.inline:
                return tagged(call)
            assert isinstance(call, ast.Call)  # a composite's constructor is a call of its class
            out: dict[tuple, str] = {}
            by_name = {a.name: a for a in child.args}
            positional = [a for a in child.args if not a.has_default]
            for j, _ in enumerate(call.args):
                out[("args", j)] = "" if positional[j].symbol else positional[j].spec
            for j, kw in enumerate(call.keywords):
                a = by_name.get(kw.arg or "")
                out[("keywords", j, "value")] = "" if a is None or a.symbol else a.spec
            return out
        return slot.fields[k] if k < len(slot.fields) else {}

    # -- the class's arguments ------------------------------------------------------------------

    def arguments(self) -> tuple[list[Arg], list[dict[str, Any]]]:
        unit = self.units[0]
        decls = {d.name: d for d in self.s.definition.params} if self.s.definition is not None else {}
        symbols = [n for n, _ in unit.const_symbols]
        ordered = [n for n in symbols if n in self.used] + [n for n in decls if n in self.used]
        ordered += [n for n in self.used if n not in ordered]
        args: list[Arg] = []
        for spec in ordered:
            d = decls.get(spec)
            if d is not None:
                has_default = not d.required and not isinstance(d.default, Template) and not _is_list(d.default)
                args.append(Arg(self.arg(spec), spec, annotation_of(d.type), d.default, has_default, d.doc))
            else:
                args.append(Arg(self.arg(spec), spec, "int", doc=f"input size `{spec}`", symbol=True))
        values = [{self.arg(n): env.get(n) for n in ordered} for env in self.envs]
        for name, what, per_unit in self.new:
            args.append(Arg(name, what, annotation_of_value(per_unit[0]), doc=f"`{what}` of this use", symbol=True))
            for k, v in enumerate(per_unit):
                values[k][name] = v
        required = [a for a in args if not a.has_default]
        return required + [a for a in args if a.has_default], values


def explain_structure(s: Structure, classes: Classes) -> None:
    """Fill in ``members``, ``args`` and ``values`` of a grouped structure (children done first)."""
    # A chain of layers written inline at its uses takes every spec name as an argument: its literals
    # then carry the parameter they come from, and the class that builds it can write that (`stride=stride`).
    writer = _Writer(s, classes, prefer=set(env_of(s.units[0])) if s.inline else None)
    s.members = writer.members()
    used = set(writer.used)
    if any(reads <= used for reads in writer.candidates):  # again, writing those literals as expressions
        writer = _Writer(s, classes, prefer=used)
        s.members = writer.members()
    s.args, s.values = writer.arguments() if not writer.is_root else ([], [{}])
    if writer.is_root:
        s.args = [Arg(writer.arg(n), n, "") for n in writer.used]


def _is_list(v: Any) -> bool:
    return isinstance(v, (list, dict))


__all__ = ["explain_structure", "constant_value"]
