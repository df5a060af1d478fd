"""The statements a method body is made of (:class:`Line`), what :mod:`~vibench.compiler.codegen.forward`
gives the emitter (:class:`Forward`, with the :class:`Method` of a checkpointed call), and the small tree
operations it builds statements with."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.plan import IN, MOD


@dataclass
class Line:
    """One statement of a method body, with its trailing comment and nested body (``for``/``if``)."""

    stmt: ast.stmt
    comment: str = ""
    body: list[Line] = field(default_factory=list)
    orelse: list[Line] = field(default_factory=list)
    in_place: bool = False  # works in place (``out += x``, ``torch.relu_(out)``): allocates nothing


def without_idle_deletes(lines: list[Line]) -> list[Line]:
    """Drop a ``del`` that only in-place lines follow: it frees memory early for what comes after,
    and nothing after it allocates (ResNet's ``out += x`` then ``torch.relu_(out)``)."""
    kept: list[Line] = []
    idle = True  # every line after this point allocates nothing
    for line in reversed(lines):
        if isinstance(line.stmt, ast.Delete) and idle:
            continue
        idle = idle and line.in_place
        kept.append(line)
    return kept[::-1]


@dataclass
class Method:
    """A method of the class beside ``forward``: ``def name(self, module, *params): return body``, the call of a
    checkpointed node that is not ``module(x)``."""

    name: str
    params: list[str]
    body: ast.expr
    returns_tuple: bool  # a node of several outputs: its call gives a tuple


@dataclass
class Forward:
    args: list[tuple[str, str]]  # (parameter name, annotation)
    returns: str
    lines: list[Line]
    helpers: set[str] = field(default_factory=set)
    methods: list[Method] = field(default_factory=list)


def assign_to(target: ast.expr, value: ast.expr) -> ast.stmt:
    if isinstance(target, ast.Name) and not isinstance(target.ctx, ast.Store):  # never a chain's (see ref)
        target = ast.Name(id=target.id, ctx=ast.Store())
    return ast.Assign([target], value, lineno=0)  # (fields by position: see code.ref)


def fill_markers(tree: ast.expr, ins: list[str], mod: ast.expr, ref: Callable[[str], ast.expr]) -> ast.expr:
    """A block's call with its markers for the module and the inputs replaced by them (the inputs'
    name nodes made by ``ref``). The nodes on the way to a marker are copies; the rest is shared with
    the slot's call."""

    def fill(node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.Name):
            if node.id == MOD:
                return mod
            if node.id.startswith(IN):
                return ref(ins[int(node.id[len(IN) :])])
            return node
        return None  # (its children are filled)

    return c.rewrite(tree, fill)  # type: ignore[return-value]


def _is_marker(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and (node.id == MOD or node.id.startswith(IN))


class Filler:
    """:func:`fill_markers` for the trees of one body, each tree looked at once: a call whose markers are
    its function or its direct arguments (``torch.relu_(x)``, ``module(x, y)``: nearly every node's) is
    filled by copying the call alone; any other tree goes through :func:`fill_markers`. The same tree and
    the same nodes shared as :func:`fill_markers` gives (a 10,000-node chain's 3,000 calls: 26 -> 8 ms)."""

    def __init__(self, ref: Callable[[str], ast.expr]) -> None:
        self.ref = ref
        # id(tree) -> (the tree, kept so that its id stays its own; which of the func and args are markers)
        self.plans: dict[int, tuple[ast.expr, tuple[bool, list[bool]] | None]] = {}

    def __call__(self, tree: ast.expr, ins: list[str], mod: ast.expr) -> ast.expr:
        known = self.plans.get(id(tree))
        if known is None:
            known = self.plans[id(tree)] = (tree, _call_plan(tree))
        plan = known[1]
        if plan is None:
            return fill_markers(tree, ins, mod, self.ref)
        assert isinstance(tree, ast.Call)
        func_marked, marked = plan
        filled: dict[int, ast.expr] = {}  # a marker node met twice is filled once, as by c.rewrite

        def fill(node: ast.expr) -> ast.expr:
            if id(node) not in filled:
                name = node.id  # type: ignore[attr-defined]
                filled[id(node)] = mod if name == MOD else self.ref(ins[int(name[len(IN) :])])
            return filled[id(node)]

        changed: dict[str, Any] = {}
        if func_marked:
            changed["func"] = fill(tree.func)
        if any(marked):
            changed["args"] = [fill(a) if m else a for a, m in zip(tree.args, marked, strict=True)]
        return c.updated(tree, changed)  # type: ignore[return-value]


def _call_plan(tree: ast.expr) -> tuple[bool, list[bool]] | None:
    """Which of a call's function and arguments are markers, when no marker is anywhere else in it; else None."""
    if not isinstance(tree, ast.Call):
        return None
    func_marked = _is_marker(tree.func)
    marked = [_is_marker(a) for a in tree.args]
    rest = [a for a, m in zip(tree.args, marked, strict=True) if not m] + [k.value for k in tree.keywords]
    if not func_marked:
        rest.append(tree.func)
    if any(_is_marker(n) for e in rest for n in c.walk(e)):
        return None
    return func_marked, marked
