"""Step 3 of :mod:`vibench.compiler.codegen.structure`, literal by literal: one constructor across the uses.

:class:`LiteralWriter` writes a constructor that differs between the uses of a class (anti-unified by
:mod:`~vibench.compiler.codegen.unify`): each literal as the spec's own expression where that reproduces
every use (``4 * channels``), a formula found by search (:mod:`~vibench.compiler.codegen.formula`), a
new argument of the class, or itself; and it names the class's arguments (the spec names the code
reads). :mod:`vibench.compiler.codegen.explain` builds the constructors and the argument list with it.
"""

from __future__ import annotations

import ast
from typing import Any

from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.formula import FormulaNames, Untranslatable, explain, same_value, translate
from vibench.compiler.codegen.namer import Namespace
from vibench.compiler.codegen.plan import leaves
from vibench.compiler.codegen.structure import Classes, Structure, _reads, env_of
from vibench.compiler.codegen.unify import at_torch_default, differences, replace
from vibench.compiler.expr import ExprError, evaluate_value
from vibench.compiler.ir import NodeDef, Template
from vibench.compiler.symbolic_errors import NeedConcrete


class LiteralWriter:
    """The state of one structure's constructors being written: its spec names, the arguments taken so
    far, and how each literal is written across the uses."""

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
        self._spec_set = set(self.spec_names)  # (built per check, it made each search quadratic in the names)
        self.names = Namespace(reserved=_reserved())
        self.arg_of: dict[str, str] = {}  # spec name -> argument name
        self.used: list[str] = []  # spec names read by the code, in first-use order
        self.new: list[tuple[str, str, list[Any]]] = []  # (argument, what it replaces, value per unit)
        self._keywords: dict[tuple, set[str]] = {}
        self._by_uses: dict[frozenset[int], tuple[FormulaNames | None, dict[int, list[str]]]] = {}  # names_in_uses
        self._taken = False  # has every name its argument name (see search)?
        self._as_is: dict[int, tuple[ast.expr, ast.expr]] = {}  # tree -> itself written, when nothing varies

    # -- names --------------------------------------------------------------------------------

    def arg(self, spec: str) -> str:
        if spec not in self.arg_of:
            self.arg_of[spec] = self.names.take(spec)
        return self.arg_of[spec]

    def readable(self, spec_names: set[str]) -> bool:
        """May the code read these spec names (as arguments)?"""
        allowed = self.s.forced if self.is_root else self._spec_set
        return spec_names - {"i"} <= allowed

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
        differ = _differences(trees) if len(trees) > 1 else {p: [v] for p, v in first if v != v}
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
                own = raw.get(param) if param is not None else None
                reads = _reads(own) if isinstance(own, Template) else set()
                expr = self.search(values, envs, f"{nd.name if nd else 'value'}_{param or 'value'}", units, copies,
                                   bound=set(consts), reads=reads)
            elif expr is None and param in inferred and param not in raw and not left_out:
                expr = self.same_size(values, units)
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

    def same_size(self, values: list[Any], units: list[int]) -> ast.expr | None:
        """An inferred size (``in_channels``) the same in every use (``units``), as the one argument of the class
        equal to it in every use (``C``, ``cout``); an input size wins a tie with a parameter."""
        if type(values[0]) is not int:  # (never at the root: its constructors pass no inferred fields)
            return None
        names = self.names_in_uses(units)[1].get(values[0], [])
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
        bound: set[str] | frozenset[str] = frozenset(), reads: set[str] | frozenset[str] = frozenset(),
    ) -> ast.expr:
        """A formula for values that differ between uses; else a new argument (a list indexed by the
        copy inside a comprehension). ``bound``: names that are numbers where the formula is written
        (``i`` of a copy written out, not looped over), so not variables it may read; ``reads``: the names the
        value's own expression reads (searched first where a class has many)."""
        if not self._taken:  # every name takes its argument name, in their order, whichever the formula reads
            for n in self.spec_names:
                if n != "i" and self.readable({n}):
                    self.arg(n)
            self._taken = True
        searched = self.names_in_uses(units)[0]
        spec_names = self.spec_names if searched is None else searched.pick(reads)
        names = [n for n in spec_names if self.readable({n}) and n not in bound]
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

    def names_in_uses(self, units: list[int]) -> tuple[FormulaNames | None, dict[int, list[str]]]:
        """The readable spec names a formula over the uses ``units`` may read (None: every name, where ``i`` is one:
        its value is the copy's); and the integer names the same in those uses, by value (:meth:`same_size`).
        Found once per set of uses: a scan of every name per literal made a class of 1,000 nodes and 1,000 `let:`
        values take seconds."""
        key = frozenset(units)
        known = self._by_uses.get(key)
        if known is None:
            envs = [self.envs[u] for u in sorted(key)]
            names = [n for n in self.spec_names if self.readable({n})]
            by_value: dict[int, list[str]] = {}
            for n in names:
                first = envs[0][n]
                if n != "i" and type(first) is int and all(same_value(env[n], first) for env in envs[1:]):
                    by_value.setdefault(first, []).append(n)
            known = self._by_uses[key] = (None if "i" in names else FormulaNames(names, envs), by_value)
        return known

    def note(self, spec: str) -> None:
        if spec not in self.used:
            self.used.append(spec)


def _differences(trees: list[ast.expr]) -> dict[tuple, list[Any]]:
    """:func:`~vibench.compiler.codegen.unify.differences` of the uses' trees, each distinct tree walked once: the uses
    share the trees of nodes built alike (plan.py) and of a chain of layers written with the same values
    (``_Writer.inlined``). Blocks nested n deep, each using the one below twice, walked the tree of every use: all
    2^n layers at each level."""
    index: dict[int, int] = {}  # id of a tree -> its place in `distinct`
    distinct: list[ast.expr] = []
    for tree in trees:
        if id(tree) not in index:
            index[id(tree)] = len(distinct)
            distinct.append(tree)
    if len(distinct) == len(trees):
        return differences(trees)
    where = [index[id(tree)] for tree in trees]
    return {path: [values[k] for k in where] for path, values in differences(distinct).items()}


def _bind(expr: ast.expr, consts: dict[str, Any]) -> ast.expr:
    """``expr`` with names replaced by literals (``i`` of an explicit copy)."""

    class Bind(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return c.const(consts[node.id]) if node.id in consts else node

    return Bind().visit(expr)  # type: ignore[no-any-return]


def _reserved() -> frozenset[str]:
    from vibench.compiler.codegen.namer import RESERVED

    return RESERVED | {"i"}
