"""The order model.py defines the natives of its blocks in: each after every native it needs while Python
defines it. model.py has no ``from __future__ import annotations``, so a native's base classes, decorators,
class attributes, default values and annotations are evaluated as it is defined (:func:`definition_reads`),
and so is whatever that code runs: a generator or a lambda its class body consumes, a native function it
calls, and the natives those read in turn (:func:`definition_needs`). :func:`definition_order` writes them in
that order, and names the natives that need each other (no order defines either first: the block contract
refuses them, W121). Everything here is iterative: 1,100 natives, each subclassing the one before it and
listed last first, were a RecursionError at ``-o``.

>>> needs = definition_needs(("class B(A):\\n    w = make()", "def make():\\n    return C.size", "class A:\\n    pass",
...                           "class C:\\n    pass"), names=("B", "make", "A", "C"))
>>> sorted(needs["B"]), definition_order(("B", "make", "A", "C"), needs)
(['A', 'C', 'make'], (['make', 'A', 'C', 'B'], ()))
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

MAX_NATIVES = 256
"""Natives one block may bring (W121 beyond): far more than any block needs (a built-in brings at most a
handful). Registering a block reads each native's source out of its module file, a cost that grows with the
count times the file's length: 500 natives took 10 s, 1,100 took 30 s."""

_EAGER = frozenset({"listcomp", "setcomp", "dictcomp", "genexpr", "lambda"})
"""The scopes a class body runs as it is defined: its comprehensions, and (conservatively) its generator
expressions and lambdas, which what consumes them (``tuple(A.size * k for k in ...)``, ``map(lambda ...)``)
usually runs there too."""


@functools.lru_cache(maxsize=4096)
def definition_reads(source: str) -> frozenset[str]:
    """The global names the top-level definition in ``source`` reads while Python defines it, not when it
    runs: its decorators and base classes, its class body's statements (a class attribute, a nested class, a
    comprehension or generator, a function of the class body that the class body calls), and its functions'
    default values and annotations (model.py has no ``from __future__ import annotations``: they are evaluated
    as the native is defined). Its own name counts when it reads it then (``-> Tag`` in a method of class
    ``Tag``: a NameError in model.py). The natives it runs then are :func:`definition_needs`'s business.

    >>> sorted(definition_reads("class B(A):\\n    kind = Inner\\n    def f(self, x: T = D) -> B:\\n        return R"))
    ['A', 'B', 'D', 'Inner', 'T']
    >>> source = "class B:\\n    def _n():\\n        return N\\n    n = _n()\\n    s = tuple(A for k in K)"
    >>> sorted(definition_reads(source))
    ['A', 'K', 'N', 'tuple']
    """
    import symtable

    called = _facts(source).direct
    top = symtable.symtable(source, "<native>", "exec")
    read: set[str] = set()
    tables: list[tuple[Any, bool]] = [(top, False)]
    while tables:
        table, running = tables.pop()
        symbols = table.get_symbols()
        read |= {s.get_name() for s in symbols if s.is_referenced() and (s.is_global() or table is top)}
        if running:  # (a scope that runs: everything inside it may run too)
            tables += [(t, True) for t in table.get_children()]
            continue
        own = {s.get_name() for s in symbols if s.is_referenced()} if table.get_type() == "class" else set()
        for t in table.get_children():
            name = t.get_name()
            runs = t.get_type() == "function" and (name in _EAGER or (name in own and name in called))
            if runs or t.get_type() == "class":
                tables.append((t, runs))
    return frozenset(read)


class _Facts(NamedTuple):
    function: bool  # a top-level function (else a class)
    reads: frozenset[str]  # every global name the source reads, its bodies' included
    calls: frozenset[str]  # the names at the root of what it calls or decorates with: X(...), X.f(...), @X.f
    direct: frozenset[str]  # the names it calls as they are: X(...), @X


@functools.lru_cache(maxsize=4096)
def _facts(source: str) -> _Facts:
    import symtable

    tree = ast.parse(source)
    calls: set[str] = set()
    direct: set[str] = set()
    for node in ast.walk(tree):  # (iterative)
        called = [node.func] if isinstance(node, ast.Call) else []
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            called += node.decorator_list
        for expr in called:
            if isinstance(expr, ast.Name):
                direct.add(expr.id)
            while isinstance(expr, ast.Attribute | ast.Call | ast.Subscript):
                expr = expr.func if isinstance(expr, ast.Call) else expr.value
            if isinstance(expr, ast.Name):
                calls.add(expr.id)
    top = symtable.symtable(source, "<native>", "exec")
    reads: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        reads |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and (s.is_global() or table is top)}
        tables += table.get_children()
    function = bool(tree.body) and isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef)
    return _Facts(function, frozenset(reads), frozenset(calls), frozenset(direct))


def definition_needs(sources: Sequence[str], names: Sequence[str]) -> dict[str, frozenset[str]]:
    """Each native (``names[k]``, whose source is ``sources[k]``) -> the natives of ``names`` that must be
    defined before it, itself included when it reads itself then: those its definition reads
    (:func:`definition_reads`), and every native read by the body of a native that its definition runs, and
    so on. A native function its definition reads counts as run (a call, a decorator, ``map(make, ...)``), a
    native class when the source calls it or one of its attributes (``Helper()``, ``Helper.build()``): its
    whole body counts then, conservatively.

    ``class B: w = make()`` with ``def make(): return A.size`` needs ``make`` and ``A``; ``class B(Base)``
    does not need what ``Base``'s methods read.
    """
    index = {name: k for k, name in enumerate(names)}
    facts = [_facts(source) for source in sources]

    def bits(found: frozenset[str]) -> int:
        return functools.reduce(lambda b, k: b | 1 << k, (index[o] for o in found if o in index), 0)

    def runs(caller: _Facts, read: frozenset[str]) -> list[int]:
        return [k for o in read if (k := index.get(o)) is not None and (facts[k].function or o in caller.calls)]

    # What running each native reads, the natives it runs in turn included: callees first, until nothing grows
    # (a cycle of functions calling each other takes another pass).
    edges = [runs(f, f.reads) for f in facts]
    reached = [bits(f.reads) for f in facts]
    order, _ = _postorder(range(len(names)), edges)
    changed = True
    while changed:
        changed = False
        for k in order:
            grown = functools.reduce(lambda b, o: b | reached[o], edges[k], reached[k])
            changed |= grown != reached[k]
            reached[k] = grown
    needs = {}
    for k, source in enumerate(sources):
        eager = definition_reads(source)
        found = functools.reduce(lambda b, o: b | reached[o], runs(facts[k], eager), bits(eager))
        needs[names[k]] = frozenset(names[o] for o in _ones(found))
    return needs


def native_name(native: Any) -> str:
    """The name model.py defines for a native (a class, a function, or a built-in native's name)."""
    return native if isinstance(native, str) else str(native.__name__)


@functools.lru_cache(maxsize=64)
def needs_of(natives: tuple[Any, ...]) -> dict[str, frozenset[str]]:
    """:func:`definition_needs` of ``natives`` (classes, functions, built-in natives' names), read from their
    source; a name listed twice counts once. (Cached: the shapes pass asks at every node of a block, the
    emitter once per model.py; do not change what it returns.)"""
    from vibench.compiler.blocks.base import native_source

    by_name = {native_name(n): n for n in reversed(natives)}
    names = list(dict.fromkeys(native_name(n) for n in natives))
    return definition_needs([native_source(by_name[name]) for name in names], names)


def run_reading(natives: tuple[Any, ...], name: str) -> str | None:
    """A native that the definition of native ``name`` runs (or one those run, and so on) whose body reads
    ``name`` (None: none), for the message that refuses it."""
    from vibench.compiler.blocks.base import native_source

    by_name = {native_name(n): n for n in reversed(natives)}
    facts = {o: _facts(native_source(n)) for o, n in by_name.items()}

    def runs(caller: _Facts, read: frozenset[str]) -> list[str]:
        return sorted(o for o in read if o in facts and (facts[o].function or o in caller.calls))

    todo = runs(facts[name], definition_reads(native_source(by_name[name])))
    seen = set(todo)
    while todo:
        other = todo.pop(0)
        if name in facts[other].reads:
            return other
        todo += [o for o in runs(facts[other], facts[other].reads) if o not in seen]
        seen.update(todo)
    return None


def _ones(found: int) -> list[int]:
    """The positions of the bits set in ``found``, lowest first."""
    out = []
    while found:
        low = found & -found
        out.append(low.bit_length() - 1)
        found ^= low
    return out


def definition_order(names: Sequence[str], needs: Mapping[str, frozenset[str]]) -> tuple[list[str], tuple[str, ...]]:
    """``names`` each moved after the natives it needs (``needs``: :func:`definition_needs`), in the order they
    are listed when nothing says otherwise (natives already in such an order keep it); and the first natives
    met that need each other (empty: none), each needing the next and the last the first."""
    position = {name: k for k, name in enumerate(names)}
    edges = {
        name: sorted((o for o in needs[name] if o != name and o in position), key=position.__getitem__)
        for name in names
    }
    return _postorder(names, edges)


def _postorder(names: Any, edges: Any) -> tuple[list[Any], tuple[Any, ...]]:
    """Each of ``names`` after those its ``edges`` reach (depth first from each name in turn, edges in their
    order), with an explicit stack; and the first cycle met (the names on it, in order; empty: none)."""
    done: set[Any] = set()
    order: list[Any] = []
    cycle: tuple[Any, ...] = ()
    for root in names:
        if root in done:
            continue
        done.add(root)
        stack = [(root, iter(edges[root]))]
        active = {root}
        while stack:
            node, todo = stack[-1]
            step = next((o for o in todo if o not in done or (o in active and o != node)), None)
            if step is None:
                stack.pop()
                active.discard(node)
                order.append(node)
            elif step in active:  # a name on the stack: the names from it to here need each other
                if not cycle:
                    path = [n for n, _ in stack]
                    cycle = tuple(path[path.index(step) :])
            else:
                done.add(step)
                active.add(step)
                stack.append((step, iter(edges[step])))
    return order, cycle
