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
from collections.abc import Callable, Iterator, Sequence
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


def _candidates(
    names: Sequence[str], uses: Sequence[dict[str, Any]]
) -> Iterator[tuple[ast.expr, Callable[[dict], Any]]]:
    """Formulas over the integer arguments, simplest first (each with a function computing it)."""
    ints = [n for n in names if all(_int(u.get(n)) for u in uses)]
    others = [n for n in names if n not in ints]
    for n in others + ints:
        yield c.ref(n), lambda u, n=n: u[n]
    for n in ints:
        for k in (2, 4, 3, 8):
            yield c.binop(k, "*", c.ref(n)), lambda u, n=n, k=k: k * u[n]
            yield c.binop(c.ref(n), "//", k), lambda u, n=n, k=k: u[n] // k
        for k in (1, 2, -1, -2):
            yield c.binop(c.ref(n), "+" if k > 0 else "-", abs(k)), lambda u, n=n, k=k: u[n] + k
    for a, b in itertools.permutations(ints, 2):
        if a == "i":
            continue
        yield c.binop(c.ref(a), "+", c.ref(b)), lambda u, a=a, b=b: u[a] + u[b]
        yield c.binop(c.ref(a), "*", c.ref(b)), lambda u, a=a, b=b: u[a] * u[b]
        yield c.binop(c.ref(a), "//", c.ref(b)), lambda u, a=a, b=b: u[a] // u[b] if u[b] else None
        yield c.binop(c.ref(a), "-", c.ref(b)), lambda u, a=a, b=b: u[a] - u[b]
        if "i" in ints and b != "i":
            yield c.binop(c.ref(a), "+", c.binop(c.ref("i"), "*", c.ref(b))), lambda u, a=a, b=b: u[a] + u["i"] * u[b]


def explain(values: Sequence[Any], uses: Sequence[dict[str, Any]], names: Sequence[str]) -> ast.expr | None:
    """An expression over ``names`` that gives ``values[k]`` under ``uses[k]`` for every k, or None.

    Constants stay literals; ``i`` (a copy index) may also select the first copy's value
    (``2 if i == 0 else 1``).
    """
    first = values[0]
    if all(same_value(v, first) for v in values):
        return c.const(first)
    for expr, fn in _candidates(names, uses):
        try:
            if all(same_value(fn(u), v) for u, v in zip(uses, values, strict=True)):
                return expr
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
    """Equal and of the same type (``1`` is not ``True`` nor ``1.0``)."""
    return type(a) is type(b) and a == b


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


def explain_symbolic(column: Sequence[Any], uses: Sequence[dict[str, Any]]) -> str | None:
    """Shape-comment text for a dimension with a symbol in some use (``(L - 1) // stride + 1``,
    ``(L + 1) // 2 if distil else L``), or None."""
    from vibench.compiler.symbolic import evaluate, fmt_dim, free_symbols

    if not uses or len(uses) != len(column) or any(x is None for x in column):
        return None
    for name in uses[0]:  # a flag that splits the uses into two groups of one size each
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
    for name in uses[0]:
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
