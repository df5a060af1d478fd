"""Explaining a value of one class's code by the class's arguments.

A composite block used several times becomes one class; where its uses differ (a channel count, a
stride), the class's code computes the value from ``__init__`` arguments. :func:`explain` finds
the expression: first the spec's own ``${...}`` that set the value, translated to Python
(:func:`translate`), then a small search over the arguments (``channels``, ``4 * channels``,
``C + i * growth_rate``, ``2 if i == 0 else 1``...). Every candidate is checked against every
use, so the emitted class computes exactly the values the compiler checked.

>>> import ast
>>> expr = ast.parse("4 * channels if stride == 1 else cout", mode="eval").body
>>> from vibench.compiler.codegen.layout import flat
>>> flat(translate(expr, {"channels": "channels", "stride": "stride", "cout": "out_channels"}))
'4 * channels if stride == 1 else out_channels'
>>> uses = [{"channels": 64, "i": 0}, {"channels": 64, "i": 1}, {"channels": 128, "i": 0}]
>>> flat(explain([256, 256, 512], uses, ["channels", "i"]))
'4 * channels'
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from vibench.compiler.codegen import code as c

# Spec functions with a Python equivalent (the others, get/keys/omit/dict/require, stay compile-time).
_BUILTINS = {"min", "max", "abs", "len", "int", "float", "round", "sum", "bool", "str", "list", "range", "all", "any"}
_MATH = {"ceil": "math.ceil", "floor": "math.floor", "log2": "math.log2", "sqrt": "math.sqrt"}


class Untranslatable(Exception):
    """The expression uses something model.py cannot compute from the class's arguments."""


def translate(expr: ast.expr, names: dict[str, str], *, imports: set[str] | None = None) -> ast.expr:
    """A spec expression as Python over the class's arguments (``names``: spec name -> argument name).

    Raises :class:`Untranslatable` for names outside ``names`` and for the spec-only functions.
    """
    return _Translator(names, imports if imports is not None else set()).visit(expr)


class _Translator:
    def __init__(self, names: dict[str, str], imports: set[str]) -> None:
        self.names = names
        self.imports = imports
        self.local: set[str] = set()

    def visit(self, e: ast.expr) -> ast.expr:
        if isinstance(e, ast.Constant):
            if not isinstance(e.value, (int, float, str, bool, type(None))):
                raise Untranslatable("literal")
            return c.const(e.value)
        if isinstance(e, ast.Name):
            if e.id in self.local:
                return c.ref(e.id)
            if e.id in ("true", "false", "null"):
                return c.const({"true": True, "false": False, "null": None}[e.id])
            if e.id not in self.names:
                raise Untranslatable(e.id)
            return c.ref(self.names[e.id])
        if isinstance(e, ast.BinOp):
            return ast.BinOp(left=self.visit(e.left), op=type(e.op)(), right=self.visit(e.right))
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.Invert):
                raise Untranslatable("~")
            return ast.UnaryOp(op=type(e.op)(), operand=self.visit(e.operand))
        if isinstance(e, ast.BoolOp):
            return ast.BoolOp(op=type(e.op)(), values=[self.visit(v) for v in e.values])
        if isinstance(e, ast.Compare):
            ops: list[ast.cmpop] = []
            for op, right in zip(e.ops, e.comparators, strict=True):
                none = (
                    isinstance(right, ast.Constant)
                    and right.value is None
                    or (isinstance(right, ast.Name) and right.id == "null")
                )
                # The spec's `is` compares values (`x is 2` means x == 2); Python's compares identity.
                if isinstance(op, ast.Is) and not none:
                    ops.append(ast.Eq())
                elif isinstance(op, ast.IsNot) and not none:
                    ops.append(ast.NotEq())
                else:
                    ops.append(type(op)())
            return ast.Compare(left=self.visit(e.left), ops=ops, comparators=[self.visit(x) for x in e.comparators])
        if isinstance(e, ast.IfExp):
            return ast.IfExp(test=self.visit(e.test), body=self.visit(e.body), orelse=self.visit(e.orelse))
        if isinstance(e, ast.Subscript):
            key = e.slice
            if isinstance(key, ast.Slice):
                new_key: ast.expr = ast.Slice(
                    lower=key.lower and self.visit(key.lower),
                    upper=key.upper and self.visit(key.upper),
                    step=key.step and self.visit(key.step),
                )
            else:
                new_key = self.visit(key)
            return ast.Subscript(value=self.visit(e.value), slice=new_key, ctx=ast.Load())
        if isinstance(e, ast.List | ast.Tuple):
            return c.list_of(*[self.visit(x) for x in e.elts])
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            fn = e.func.id
            if fn in _MATH:
                self.imports.add("math")
                return c.call(_MATH[fn], *[self.visit(a) for a in e.args])
            if fn in _BUILTINS:
                return c.call(fn, *[self.visit(a) for a in e.args])
            raise Untranslatable(fn)
        if isinstance(e, ast.ListComp) and len(e.generators) == 1:
            gen = e.generators[0]
            if not isinstance(gen.target, ast.Name):
                raise Untranslatable("comprehension")
            iterable = self.visit(gen.iter)
            self.local.add(gen.target.id)
            try:
                comp = c.list_comp(self.visit(e.elt), gen.target.id, iterable)
                comp.generators[0].ifs = [self.visit(x) for x in gen.ifs]
            finally:
                self.local.discard(gen.target.id)
            return comp
        raise Untranslatable(type(e).__name__)


# --------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


MAX_FORMULA_NAMES = 32
"""Names a formula for one value may read, of those whose value differs between the uses and of the integer
names that do not (:class:`FormulaNames`): a composite may bind thousands (its `let:` values, its parameters,
the input sizes, the arguments of its class), and the search tried five formulas per pair of them (1,000 `let:`
values: 18 s of CPU for one literal) and every name for every literal (1,000 nodes of a class of 1,000 arguments:
8 s). No library template's class reads more than a dozen."""


class FormulaNames:
    """The names a formula for values that differ between some uses may read, found once for those uses: the
    names whose value differs between them (a formula of names that do not gives every use one value) and the
    first :data:`MAX_FORMULA_NAMES` integer names that do not (a sum or a product may read one); beyond
    :data:`MAX_FORMULA_NAMES` names that differ, those the value's own expression reads and the first others.

    >>> uses = [{"C": 16, "t": {"k": 3}, "g": 8}, {"C": 32, "t": {"k": 5}, "g": 8}]
    >>> FormulaNames(["C", "t", "g"], uses).pick()
    ['C', 't', 'g']
    """

    def __init__(self, names: Sequence[str], uses: Sequence[Mapping[str, Any]]) -> None:
        self.differing: list[str] = []
        self.fixed: list[str] = []  # the first integer names the same in every use
        for name in names:
            if _varies(name, uses):
                self.differing.append(name)
            elif len(self.fixed) < MAX_FORMULA_NAMES and uses and _int(uses[0].get(name)):
                self.fixed.append(name)
        self._set = set(self.differing)
        self.order = {n: k for k, n in enumerate(names) if n in self._set or n in self.fixed}
        self._all = sorted(self.order, key=self.order.__getitem__)

    def pick(self, first: Iterable[str] = ()) -> list[str]:
        """The names to search, in their order; ``first``: those the value's own expression reads."""
        if len(self.differing) <= MAX_FORMULA_NAMES:
            return self._all
        own = {n for n in first if n in self._set}
        chosen = own.union(self.differing[:max(0, MAX_FORMULA_NAMES - len(own))], self.fixed)
        return sorted(chosen, key=self.order.__getitem__)


def _candidates(
    names: Sequence[str], uses: Sequence[dict[str, Any]], values: Sequence[Any]
) -> Iterator[tuple[Callable[[], ast.expr], Callable[[dict], Any]]]:
    """Formulas over the integer arguments that can give ``values`` (which differ), simplest first: each as a
    function building its code and one computing it, so that only the formula that fits is built. Formulas
    of names the same in every use are left out (they give one value), and so are the integer formulas where
    a value is no integer; pairs are formed of at most :data:`MAX_FORMULA_NAMES` names."""
    varying = [n for n in names if _varies(n, uses)]
    differing = {n for n in varying if all(_int(u.get(n)) for u in uses)}  # the integer names among them
    for n in [n for n in varying if n not in differing] + [n for n in varying if n in differing]:
        yield (lambda n=n: c.ref(n)), lambda u, n=n: u[n]
    if not differing or not all(type(v) is int for v in values):
        return  # each formula below gives an integer, and reads an integer name that differs
    ints = [n for n in names if n in differing or all(_int(u.get(n)) for u in uses)]
    for n in ints:
        if n not in differing:
            continue
        for k in (2, 4, 3, 8):
            yield _code(k, "*", n), lambda u, n=n, k=k: k * u[n]
            yield _code(n, "//", k), lambda u, n=n, k=k: u[n] // k
        for k in (1, 2, -1, -2):
            yield _code(n, "+" if k > 0 else "-", abs(k)), lambda u, n=n, k=k: u[n] + k
    pool = _pair_names(ints, differing)
    index = "i" in pool
    for a, b in itertools.permutations(pool, 2):
        if a == "i":
            continue
        if a in differing or b in differing:
            yield _code(a, "+", b), lambda u, a=a, b=b: u[a] + u[b]
            yield _code(a, "*", b), lambda u, a=a, b=b: u[a] * u[b]
            yield _code(a, "//", b), lambda u, a=a, b=b: u[a] // u[b] if u[b] else None
            yield _code(a, "-", b), lambda u, a=a, b=b: u[a] - u[b]
        if index and b != "i" and (a in differing or b in differing or "i" in differing):
            yield _code(a, "+", ("i", "*", b)), lambda u, a=a, b=b: u[a] + u["i"] * u[b]


def _code(left: Any, op: str, right: Any) -> Callable[[], ast.expr]:
    """Builds ``left op right`` when called: each side a name, a number or such a triple."""
    return lambda: c.binop(_operand(left), op, _operand(right))


def _operand(x: Any) -> Any:
    if isinstance(x, tuple):
        return c.binop(_operand(x[0]), x[1], _operand(x[2]))
    return c.ref(x) if isinstance(x, str) else x


def _varies(name: str, uses: Sequence[Mapping[str, Any]]) -> bool:
    """Does the name have another value (or none) in some use? (:func:`same_value`: 0.0 and -0.0 differ.)"""
    first = uses[0].get(name, _MISSING) if uses else _MISSING
    return any(not same_value(u.get(name, _MISSING), first) for u in uses[1:])


_MISSING = object()


def _pair_names(ints: list[str], differing: set[str]) -> list[str]:
    """The integer names pairs are formed of, in their order: all of them up to :data:`MAX_FORMULA_NAMES`, else the
    copy index ``i`` and the names that differ between uses first, then the first others."""
    if len(ints) <= MAX_FORMULA_NAMES:
        return ints
    ranked = sorted(ints, key=lambda n: (n != "i", n not in differing))  # (stable: in their order otherwise)
    chosen = set(ranked[:MAX_FORMULA_NAMES])
    return [n for n in ints if n in chosen]


def explain(values: Sequence[Any], uses: Sequence[dict[str, Any]], names: Sequence[str]) -> ast.expr | None:
    """An expression over ``names`` that gives ``values[k]`` under ``uses[k]`` for every k, or None.

    Constants stay literals; ``i`` (a copy index) may also select the first copy's value
    (``2 if i == 0 else 1``).
    """
    first = values[0]
    if all(same_value(v, first) for v in values):
        return c.const(first)
    for build, fn in _candidates(names, uses, values):
        try:
            if all(same_value(fn(u), v) for u, v in zip(uses, values, strict=True)):
                return build()
        except (KeyError, TypeError, ZeroDivisionError):
            continue
    if "i" in names and all("i" in u for u in uses):
        firsts = [(u, v) for u, v in zip(uses, values, strict=True) if u["i"] == 0]
        rest = [(u, v) for u, v in zip(uses, values, strict=True) if u["i"] != 0]
        if firsts and rest:
            others = [n for n in names if n != "i"]
            head = explain([v for _, v in firsts], [u for u, _ in firsts], others)
            tail = explain([v for _, v in rest], [u for u, _ in rest], others)
            if head is not None and tail is not None:
                return c.if_else(c.compare(c.ref("i"), "==", 0), head, tail)
    return None


def same_value(a: Any, b: Any) -> bool:
    """The same value, exactly: of the same types all the way down (``1`` is not ``True`` nor ``1.0``, ``[1]`` not
    ``[1.0]`` nor ``(1,)``), a mapping's keys in the same order, and floats by their bits as model.py writes them
    (by ``float.hex``, as ``freeze`` keys them: ``0.0`` is not ``-0.0``, and a NaN is a NaN).

    >>> same_value(0.0, -0.0), same_value([1], [1.0]), same_value(float("nan"), float("nan"))
    (False, False, True)
    """
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is float:
        return a.hex() == b.hex()
    if kind is list or kind is tuple:
        if len(a) != len(b):
            return False
        if _EQUAL_IF_SAME.issuperset(map(type, a)) and _EQUAL_IF_SAME.issuperset(map(type, b)):
            return bool(a == b)  # (compared in C: a list of a million ints, 0.3 s -> 0.09 s)
        return all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if kind is dict:
        return len(a) == len(b) and all(same_value(k, m) and same_value(v, w)
                                        for (k, v), (m, w) in zip(a.items(), b.items(), strict=True))
    return bool(a == b)


_EQUAL_IF_SAME = frozenset({int, str, type(None)})  # values equal to another only of their own type, and exactly


# A size that differs between the uses of a class and depends on a symbol of its inputs (the length
# L of a strided block), written for a shape comment by one argument of the class: the forms strided
# layers give, each checked at every value 1..256 of the symbol in every use (a comment, not code:
# what the class computes is checked by the shapes pass).
_LENGTH_FORMS: tuple[tuple[str, Callable[[int, int], int | None]], ...] = (
    ("({s} - 1) // {a} + 1", lambda v, a: (v - 1) // a + 1 if a > 0 else None),
    ("({s} + {a} - 1) // {a}", lambda v, a: (v + a - 1) // a if a > 0 else None),
    ("{s} // {a}", lambda v, a: v // a if a > 0 else None),
    ("{s} * {a}", lambda v, a: v * a),
    ("{s} + {a}", lambda v, a: v + a),
    ("{s} - {a}", lambda v, a: v - a),
)
_SAMPLES = range(1, 257)


def explain_symbolic(column: Sequence[Any], uses: Sequence[dict[str, Any]],
                     names: Sequence[str] | None = None) -> str | None:
    """Shape-comment text for a dimension with a symbol in some use (``(L - 1) // stride + 1``,
    ``(L + 1) // 2 if distil else L``), or None. ``names``: those to try (:class:`FormulaNames`; None: every
    name of the uses). A name the same in every use gives every use one size, so it fits only where they
    have one: then every name is tried. (Every name per line made 1,000 lines of a class of 1,000 arguments
    take 8 s.)"""
    from vibench.compiler.symbolic import evaluate, fmt_dim, free_symbols

    if not uses or len(uses) != len(column) or any(x is None for x in column):
        return None
    flags = uses[0] if names is None else names
    for name in flags:  # a flag that splits the uses into two groups of one size each
        if all(isinstance(u.get(name), bool) for u in uses) and name.isidentifier():
            on = {fmt_dim(x) for x, u in zip(column, uses, strict=True) if u[name]}
            off = {fmt_dim(x) for x, u in zip(column, uses, strict=True) if not u[name]}
            if len(on) == 1 and len(off) == 1:
                return f"{on.pop()} if {name} else {off.pop()}"
    symbols = set().union(*(free_symbols(x) for x in column))
    if len(symbols) != 1:
        return None
    (symbol,) = symbols
    exact = [[evaluate(x, {symbol: v}) for v in _SAMPLES] for x in column]
    for name in uses[0] if names is None or all(row == exact[0] for row in exact) else names:
        if not name.isidentifier() or not all(_int(u.get(name)) for u in uses):
            continue
        for text, form in _LENGTH_FORMS:
            if all(form(v, u[name]) == want[k] for u, want in zip(uses, exact, strict=True)
                   for k, v in enumerate(_SAMPLES)):
                return text.format(s=symbol, a=name)
    return None


def explain_offset(values: Sequence[Any], uses: Sequence[dict[str, Any]], names: Sequence[str]) -> str | None:
    """Shape-comment text for integer sizes that are one argument plus (or times) the same constant in
    every use (``D + 32``, ``3 * C``); None when none is. For comments only: in code a new argument
    says more than a constant."""
    if not uses or not all(_int(v) for v in values):
        return None
    for name in names:
        if not name.isidentifier() or not all(_int(u.get(name)) for u in uses):
            continue
        offset = values[0] - uses[0][name]
        if all(v - u[name] == offset for u, v in zip(uses, values, strict=True)):
            return f"{name} + {offset}" if offset > 0 else f"{name} - {-offset}" if offset < 0 else name
        base = uses[0][name]
        if base and values[0] % base == 0:
            factor = values[0] // base
            if all(v == factor * u[name] for u, v in zip(uses, values, strict=True)):
                return f"{factor} * {name}"
    return None
