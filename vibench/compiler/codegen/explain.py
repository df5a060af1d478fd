"""Step 3 of :mod:`vibench.compiler.codegen.structure`: the constructors of one class, with arguments.

For each node with a submodule, the constructor of every use is built (a composite copy as a call
of its child's class), the uses are anti-unified, and every literal is written as the spec's own
expression, a formula found by search, a new argument or itself (see the structure module).
"""

from __future__ import annotations

import ast
from typing import Any

from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.formula import Untranslatable, explain, same_value, translate
from vibench.compiler.codegen.inline import inlined, tagged
from vibench.compiler.codegen.namer import Namespace
from vibench.compiler.codegen.plan import (
    Child,
    Slot,
    constant_value,
    container_of,
    inferred_fields,
    leaves,
    written_alike,
)
from vibench.compiler.codegen.structure import Arg, Classes, Member, Structure, _node_def, _reads, env_of
from vibench.compiler.codegen.types import annotation_of, annotation_of_value
from vibench.compiler.codegen.unify import at_torch_default, differences, replace
from vibench.compiler.expr import ExprError, evaluate_value
from vibench.compiler.ir import NodeDef, Template, Unit
from vibench.compiler.symbolic import NeedConcrete


class _Writer:
    """Builds the members and arguments of one structure."""

    def __init__(self, s: Structure, classes: Classes, prefer: set[str] | None = None) -> None:
        self.s = s
        # Spec names the class takes as arguments anyway (found by a first pass): a literal the same in
        # every use is written as the spec's expression when that reads only these (`cout`, not `25`).
        self.prefer = prefer
        self.candidates: list[set[str]] = []  # first pass: what such expressions read
        self.classes = classes
        self.units = s.units
        self.envs = [env_of(u) for u in self.units]
        self.is_root = s is classes.root
        common = set(self.envs[0])
        for env in self.envs[1:]:
            common &= set(env)
        sizes = set(dict(self.units[0].const_symbols))  # input sizes first: `C * expand_ratio`, `C + growth`
        self.spec_names = sorted((n for n in self.envs[0] if n in common), key=lambda n: n not in sizes)
        self.names = Namespace(reserved=_reserved())
        self.arg_of: dict[str, str] = {}  # spec name -> argument name
        self.used: list[str] = []  # spec names read by the code, in first-use order
        self.new: list[tuple[str, str, list[Any]]] = []  # (argument, what it replaces, value per unit)
        self._keywords: dict[tuple, set[str]] = {}
        self._as_is: dict[int, tuple[ast.expr, ast.expr]] = {}  # tree -> itself written, when nothing varies

    # -- names --------------------------------------------------------------------------------

    def arg(self, spec: str) -> str:
        if spec not in self.arg_of:
            self.arg_of[spec] = self.names.take(spec)
        return self.arg_of[spec]

    def readable(self, spec_names: set[str]) -> bool:
        """May the code read these spec names (as arguments)?"""
        allowed = self.s.forced if self.is_root else set(self.spec_names)
        return spec_names <= allowed | {"i"}

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

    def condition(self, when: Any) -> ast.expr:
        assert isinstance(when, Template) and when.whole
        expr = self.spec_expr(when, None)
        if expr is None:  # pragma: no cover - grouping only keeps conditions it could evaluate
            raise RuntimeError("an optional node's condition cannot be written in Python (this is a bug)")
        return expr

    def ctor(self, name: str, present: list[int]) -> ast.expr:
        slots = [self.s.plans[k].slots[name] for k in present]
        counts = {len(s.ctors) for s in slots}
        nd = _node_def(self.s.definition, name) if self.s.definition is not None else None
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
            return inlined(child, values)
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

    # -- one constructor across uses ------------------------------------------------------------

    def written(
        self,
        trees: list[ast.expr],
        owners: dict[tuple, str],
        nd: NodeDef | None,
        envs: list[dict[str, Any]],
        consts: dict[str, Any],
        units: list[int],
        copies: list[int] | None,
        inferred: frozenset[str] = frozenset(),
    ) -> ast.expr:
        alone = len(trees) == 1 and not self.s.forced
        known = self.as_is(trees)
        if known is not None:
            return known
        first = leaves(trees[0])
        # One use: only a literal unequal to itself (a NaN) differs.
        differ = differences(trees) if len(trees) > 1 else {p: [v] for p, v in first if v != v}
        if not differ and not self.s.forced and not (inferred or self.may_prefer(nd)):  # every literal stays as it is
            out = c.trim(trees[0])
            if alone:
                self._as_is[id(trees[0])] = (trees[0], out)  # holding the tree keeps its id unique
            return out
        raw = {k: v for k, v, _ in nd.params} if nd is not None else {}
        by_path: dict[tuple, ast.expr] = {}
        for path, value in first:
            values = differ.get(path, [value] * len(trees))
            param = owners.get(path)
            same = path not in differ
            left_out = same and at_torch_default(trees[0], path, value)  # a keyword at torch's default stays out
            expr = self.from_spec(param, raw, nd, values, envs, consts, forced_only=same, prefer=not left_out)
            if expr is None and not same:
                expr = self.search(values, envs, f"{nd.name if nd else 'value'}_{param or 'value'}", units, copies,
                                   bound=set(consts))
            elif expr is None and param in inferred and param not in raw and not left_out:
                expr = self.same_size(values, envs)
            if expr is not None:
                by_path[path] = expr
        return c.trim(replace(trees[0], by_path))  # type: ignore[arg-type]

    def as_is(self, trees: list[ast.expr]) -> ast.expr | None:
        """The written form of a constructor shared by nodes built alike (see plan.py) that ``written`` found
        to have nothing to rewrite, when it was asked for it before (for one use, nothing forced)."""
        if len(trees) == 1 and not self.s.forced and id(trees[0]) in self._as_is:
            return self._as_is[id(trees[0])][1]
        return None

    def from_spec(
        self,
        param: str | None,
        raw: dict[str, Any],
        nd: NodeDef | None,
        values: list[Any],
        envs: list[dict[str, Any]],
        consts: dict[str, Any],
        *,
        forced_only: bool,
        prefer: bool = True,
    ) -> ast.expr | None:
        """The spec's expression for a parameter's value, when it reproduces every use."""
        if param is None or nd is None:
            return None
        value = raw.get(param)
        if isinstance(value, Template):
            if forced_only and not (_reads(value) & self.s.forced) and not (
                prefer and self.preferred(_reads(value) - set(consts))
            ):
                return None
            return self.verified(value, values, envs, consts)
        if param not in raw and nd.inherit and param in self.spec_names:
            if forced_only and param not in self.s.forced and not (prefer and self.preferred({param})):
                return None
            same = all(same_value(env.get(param), v) for env, v in zip(envs, values, strict=True))
            if same and self.readable({param}):
                self.note(param)
                return c.ref(self.arg(param))
        return None

    def may_prefer(self, nd: NodeDef | None) -> bool:
        """Could a literal of this node be written as the spec's expression though it is the same in every use?"""
        if self.is_root or nd is None:
            return False
        return bool(nd.inherit) or any(isinstance(v, Template) for _, v, _ in nd.params)

    def preferred(self, reads: set[str]) -> bool:
        """Write a literal that is the same in every use as the spec's expression reading ``reads``? In
        the first pass, remember ``reads`` (are they all arguments of the class in the end?); in the
        second, yes when they are. Never at the root (one use: its literals are the values) nor for the
        copy index ``i``."""
        if self.is_root or not reads or "i" in reads:
            return False
        if self.prefer is None:
            self.candidates.append(reads)
            return False
        return reads <= self.prefer

    def same_size(self, values: list[Any], envs: list[dict[str, Any]]) -> ast.expr | None:
        """An inferred size (``in_channels``) the same in every use, as the one argument of the class
        equal to it in every use (``C``, ``cout``); an input size wins a tie with a parameter."""
        if type(values[0]) is not int:  # (never at the root: its constructors pass no inferred fields)
            return None
        names = [n for n in self.spec_names if n != "i" and self.readable({n})
                 and all(same_value(env.get(n), v) for env, v in zip(envs, values, strict=True))]
        if self.prefer is None:
            self.candidates += [{n} for n in names]
            return None
        names = [n for n in names if n in self.prefer]
        if len(names) > 1:
            symbols = {n for n, _ in self.units[0].const_symbols}
            names = [n for n in names if n in symbols]
        if len(names) != 1:
            return None
        self.note(names[0])
        return c.ref(self.arg(names[0]))

    def verified(
        self, template: Template, values: list[Any], envs: list[dict[str, Any]], consts: dict[str, Any]
    ) -> ast.expr | None:
        if not template.whole:
            return None
        reads = _reads(template) - set(consts)
        if not self.readable(reads):
            return None
        try:
            if not all(same_value(evaluate_value(template, env), v) for env, v in zip(envs, values, strict=True)):
                return None
        except (ExprError, NeedConcrete):
            return None
        return self.spec_expr(template, consts)

    def spec_expr(self, template: Template, consts: dict[str, Any] | None) -> ast.expr | None:
        reads = _reads(template) - set(consts or {})
        mapping = {n: self.arg(n) for n in reads if n != "i"}
        if "i" in reads:
            mapping["i"] = "i"
        try:
            expr = translate(template.expr, mapping)
        except Untranslatable:
            return None
        if consts:
            expr = _bind(expr, {mapping.get(k, k): v for k, v in consts.items()})
        for n in reads:
            if n != "i":
                self.note(n)
        return expr

    def search(
        self, values: list[Any], envs: list[dict[str, Any]], fallback: str, units: list[int], copies: list[int] | None,
        bound: set[str] | frozenset[str] = frozenset(),
    ) -> ast.expr:
        """A formula for values that differ between uses; else a new argument (a list indexed by the
        copy inside a comprehension). ``bound``: names that are numbers where the formula is written
        (``i`` of a copy written out, not looped over), so not variables it may read."""
        names = [n for n in self.spec_names if self.readable({n}) and n not in bound]
        names += ["i"] if "i" not in bound and all("i" in e for e in envs) else []
        safe = {n: self.arg(n) if n != "i" else "i" for n in names}
        uses = [{safe[n]: env[n] for n in names if n in env} for env in envs]
        expr = explain(values, uses, list(safe.values()))
        if expr is not None:
            by_arg = {v: k for k, v in safe.items()}
            for name in c.names_in(expr):
                if name in by_arg and by_arg[name] != "i":
                    self.note(by_arg[name])
            return expr
        if self.is_root and copies is None:  # the root has one use: a literal needs no argument
            return c.const(values[0])
        arg = self.names.take(fallback)
        per_unit: list[Any] = [None] * len(self.units)
        if copies is None:
            for u, v in zip(units, values, strict=True):
                per_unit[u] = v
            first = values[0]
            per_unit = [first if v is None else v for v in per_unit]
            self.new.append((arg, fallback, per_unit))
            return c.ref(arg)
        lists: list[list[Any]] = [[] for _ in self.units]
        for u, _, v in sorted(zip(units, copies, values, strict=True), key=lambda t: (t[0], t[1])):
            lists[u].append(v)
        self.new.append((arg, fallback, lists))
        return c.index(c.ref(arg), c.ref("i"))

    def note(self, spec: str) -> None:
        if spec not in self.used:
            self.used.append(spec)

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


def _bind(expr: ast.expr, consts: dict[str, Any]) -> ast.expr:
    """``expr`` with names replaced by literals (``i`` of an explicit copy)."""

    class Bind(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return c.const(consts[node.id]) if node.id in consts else node

    return Bind().visit(expr)  # type: ignore[no-any-return]


def _is_list(v: Any) -> bool:
    return isinstance(v, (list, dict))


def _reserved() -> frozenset[str]:
    from vibench.compiler.codegen.namer import RESERVED

    return RESERVED | {"i"}


__all__ = ["explain_structure", "constant_value"]
