"""Expressions printed on one line (:func:`flat`), with Python's precedence and ruff's spacing.

A child weaker than its context is parenthesised (:func:`flat_in` takes the context's precedence);
numbers, slices, comprehensions and powers are spaced as ``ruff format`` spaces them. The other half
of :mod:`vibench.compiler.codegen.layout`, which splits the lines that do not fit.

>>> import ast
>>> e = ast.parse("a + b[1:n + 1] ** 2", mode="eval").body
>>> flat(e), flat_in(e, ATOM)
('a + b[1 : n + 1] ** 2', '(a + b[1 : n + 1] ** 2)')
"""

from __future__ import annotations

import ast

from vibench.compiler.codegen.text import string

# Precedence, lowest first (Python's grammar); a child weaker than its context is parenthesised.
TERNARY, OR, AND, NOT, CMP, BOR, BXOR, BAND, SHIFT, ARITH, TERM, UNARY, POW, ATOM = range(14)
BINOP_TEXT = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
BINOP_PREC = {
    ast.Add: ARITH,
    ast.Sub: ARITH,
    ast.Mult: TERM,
    ast.Div: TERM,
    ast.FloorDiv: TERM,
    ast.Mod: TERM,
    ast.MatMult: TERM,
    ast.Pow: POW,
    ast.BitOr: BOR,
    ast.BitAnd: BAND,
    ast.BitXor: BXOR,
    ast.LShift: SHIFT,
    ast.RShift: SHIFT,
}
CMP_TEXT = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


def flat(e: ast.expr) -> str:
    """One-line source of an expression, spaced as ruff spaces it."""
    return flat_in(e, TERNARY)


def _number(value: int | float | complex) -> str:
    """A number as ruff format writes it: ``repr``, less the ``+`` of a positive exponent.

    >>> _number(1e16), _number(1.5e-05), _number(-1e308), _number(3)
    ('1e16', '1.5e-05', '-1e308', '3')
    """
    text = repr(value)
    return text.replace("e+", "e") if isinstance(value, float | complex) else text


_ATOMS = frozenset({ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.ListComp})


def precedence(e: ast.expr) -> int:
    """How tightly ``e`` binds: one of the levels above, ``TERNARY`` (loosest) to ``ATOM``."""
    if e.__class__ in _ATOMS:  # the most common nodes, answered before the tests below
        return ATOM
    if isinstance(e, ast.IfExp):
        return TERNARY
    if isinstance(e, ast.BoolOp):
        return OR if isinstance(e.op, ast.Or) else AND
    if isinstance(e, ast.UnaryOp):
        return NOT if isinstance(e.op, ast.Not) else UNARY
    if isinstance(e, ast.Compare):
        return CMP
    if isinstance(e, ast.BinOp):
        return BINOP_PREC[type(e.op)]
    if isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
        return UNARY if e.value < 0 else ATOM  # `-1` binds like a unary minus
    if isinstance(e, ast.Starred):
        return TERNARY
    return ATOM


def flat_in(e: ast.expr, context: int) -> str:
    """:func:`flat` of ``e`` as a child in a context of precedence ``context``: in parentheses if weaker."""
    if e.__class__ is ast.Name:  # the most common node (a variable, `self`, `torch`): an atom, as it is
        return e.id
    text = flat_bare(e)
    if context > TERNARY and precedence(e) < context:  # (nothing binds looser than a ternary: no test needed)
        return f"({text})"
    return text


def _simple_power(e: ast.expr) -> bool:
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return _simple_power(e.operand)
    if isinstance(e, ast.Constant):
        return isinstance(e.value, (int, float)) and not isinstance(e.value, bool)
    if isinstance(e, ast.Name):
        return True
    if isinstance(e, ast.Attribute):
        return _simple_power(e.value) if not isinstance(e.value, ast.Constant) else False
    return False


LAID_OUT = (ast.Constant, ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Dict,
            ast.Starred, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.ListComp, ast.GeneratorExp)
"""The expression nodes :func:`flat_bare` writes (a plug-in's code with another is refused: plugin_calls)."""


def flat_bare(e: ast.expr) -> str:
    """:func:`flat` of ``e`` without the parentheses its context may need."""
    # (the node kinds exclude one another: the most common are tested first; 10,000 lines of forward, 38 -> 36 ms)
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Call):
        return f"{flat_in(e.func, ATOM)}({', '.join(_call_items(e))})"
    if isinstance(e, ast.Attribute):
        base = flat_in(e.value, ATOM)
        if isinstance(e.value, ast.Constant) and isinstance(e.value.value, int):
            base = f"({base})"
        return f"{base}.{e.attr}"
    if isinstance(e, ast.Constant):
        v = e.value
        if v is Ellipsis:
            return "..."
        if isinstance(v, str):
            return string(v)
        if isinstance(v, bool) or v is None:
            return repr(v)
        assert not isinstance(v, bytes)  # the emitter never writes bytes literals (a plug-in's are E114: plugin_checks)
        return _number(v)
    if isinstance(e, ast.Subscript):
        return f"{flat_in(e.value, ATOM)}[{_subscript_text(e.slice)}]"
    if isinstance(e, ast.List):
        return "[" + ", ".join(flat_in(x, TERNARY) for x in e.elts) + "]"
    if isinstance(e, ast.Tuple):
        inner = ", ".join(flat_in(x, TERNARY) for x in e.elts)
        return f"({inner},)" if len(e.elts) == 1 else f"({inner})"
    if isinstance(e, ast.Dict):
        return "{" + ", ".join(dict_item(k, v) for k, v in zip(e.keys, e.values, strict=True)) + "}"
    if isinstance(e, ast.Starred):
        return "*" + flat_in(e.value, ATOM)
    if isinstance(e, ast.BinOp):
        prec = BINOP_PREC[type(e.op)]
        op = BINOP_TEXT[type(e.op)]
        if isinstance(e.op, ast.Pow):  # right-associative
            left, right = flat_in(e.left, prec + 1), flat_in(e.right, prec)
            if _simple_power(e.left) and _simple_power(e.right) and not left.startswith("("):
                return f"{left}**{right}"
            return f"{left} ** {right}"
        return f"{flat_in(e.left, prec)} {op} {flat_in(e.right, prec + 1)}"
    if isinstance(e, ast.UnaryOp):
        if isinstance(e.op, ast.Not):
            return "not " + flat_in(e.operand, NOT)
        sign = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}[type(e.op)]
        return sign + flat_in(e.operand, UNARY)
    if isinstance(e, ast.BoolOp):
        prec = precedence(e)
        word = " or " if isinstance(e.op, ast.Or) else " and "
        return word.join(flat_in(v, prec + 1) for v in e.values)
    if isinstance(e, ast.Compare):
        parts = [flat_in(e.left, CMP + 1)]
        for cmp, comp in zip(e.ops, e.comparators, strict=True):
            parts.append(f"{CMP_TEXT[type(cmp)]} {flat_in(comp, CMP + 1)}")
        return " ".join(parts)
    if isinstance(e, ast.IfExp):
        return f"{flat_in(e.body, OR)} if {flat_in(e.test, OR)} else {flat_in(e.orelse, TERNARY)}"
    if isinstance(e, ast.ListComp | ast.GeneratorExp):
        inner = " ".join(comprehension_parts(e))
        return f"[{inner}]" if isinstance(e, ast.ListComp) else f"({inner})"
    raise TypeError(f"cannot lay out {type(e).__name__} (this is a bug)")


def dict_item(k: ast.expr | None, v: ast.expr) -> str:
    if k is None:
        return "**" + flat_in(v, ATOM)
    return f"{flat_in(k, TERNARY)}: {flat_in(v, TERNARY)}"


def _call_items(e: ast.Call) -> list[str]:
    items = [flat_in(a, TERNARY) for a in e.args]
    for kw in e.keywords:
        items.append(f"{kw.arg}={flat_in(kw.value, TERNARY)}" if kw.arg else "**" + flat_in(kw.value, ATOM))
    return items


def comprehension_parts(e: ast.ListComp | ast.GeneratorExp) -> list[str]:
    parts = [flat_in(e.elt, TERNARY)]
    for gen in e.generators:
        parts.append(f"for {flat_in(gen.target, TERNARY)} in {flat_in(gen.iter, OR)}")
        parts += [f"if {flat_in(cond, OR)}" for cond in gen.ifs]
    return parts


def _complex_slice_part(e: ast.expr | None) -> bool:
    if e is None or isinstance(e, ast.Name | ast.Constant):
        return False
    if isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Name | ast.Constant):
        return False
    return True


def _slice_text(s: ast.Slice, spaced: bool) -> str:
    lo = "" if s.lower is None else flat_in(s.lower, TERNARY)
    hi = "" if s.upper is None else flat_in(s.upper, TERNARY)
    if not spaced:
        text = f"{lo}:{hi}"
        if s.step is not None:
            text += ":" + flat_in(s.step, TERNARY)
        return text
    text = (f"{lo} :" if lo else ":") + (f" {hi}" if hi else "")
    if s.step is not None:
        text += " : " + flat_in(s.step, TERNARY) if hi or lo else ": " + flat_in(s.step, TERNARY)
    return text


def _subscript_text(key: ast.expr) -> str:
    parts = key.elts if isinstance(key, ast.Tuple) else [key]
    spaced = any(
        isinstance(p, ast.Slice) and any(_complex_slice_part(x) for x in (p.lower, p.upper, p.step)) for p in parts
    )
    texts = [_slice_text(p, spaced) if isinstance(p, ast.Slice) else flat_in(p, TERNARY) for p in parts]
    if isinstance(key, ast.Tuple) and len(parts) == 1:
        return texts[0] + ","
    return ", ".join(texts)
