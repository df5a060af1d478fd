"""Laying out code nodes as text that ``ruff format`` leaves unchanged (line length 120).

Expressions are printed flat (:func:`flat`, from :mod:`~vibench.compiler.codegen.flat_expressions`)
with Python's precedence and ruff's spacing; a line that does not fit is split the way ruff (and
black) split it: at the last bracket pair, its contents on one indented line when they fit, else
one item per line with a trailing comma, each item split again as needed (:func:`split`). Strings
are written by :func:`string` (the one escaping path for text in code); a string too long for its
line becomes an implicit concatenation in parentheses; comments and docstrings are cleaned of line
breaks and control characters by :func:`comment_text` and :func:`docstring`.

``tests/test_codegen.py`` checks the output against ``ruff format`` on generated trees.

>>> from vibench.compiler.codegen import code as c
>>> flat(c.binop(c.ref("a"), "**", 2))
'a**2'
>>> print("\\n".join(split("self.head = ", c.call("nn.Linear", 4096, 10), "", indent=100)))
self.head = nn.Linear(
    4096, 10
)
"""

from __future__ import annotations

import ast

from vibench.compiler.codegen.flat_expressions import (
    ATOM,
    BINOP_PREC,
    BINOP_TEXT,
    CMP,
    CMP_TEXT,
    OR,
    POW,
    TERNARY,
    comprehension_parts,
    dict_item,
    flat,
    flat_bare,
    flat_in,
    precedence,
)
from vibench.compiler.codegen.text import WIDTH, comment_lines, comment_text, docstring, long_string, string
from vibench.compiler.codegen.text import width as columns  # (`width` here: a line's width)

__all__ = ["WIDTH", "comment_lines", "comment_text", "docstring", "flat", "split", "string"]


class _Group:
    """The last bracket pair of an expression: ``head`` + items + ``close``."""

    def __init__(
        self,
        head: str,
        items: list[tuple[str, ast.expr, str]],
        close: str,
        *,
        commas: bool = True,
        sole_comma: bool = False,
        collection: bool = False,
    ) -> None:
        self.head = head  # text up to and including the opening bracket
        self.items = items  # (prefix, expression, flat text) of each item
        self.close = close  # the closing bracket (and anything after it on the line)
        self.commas = commas  # items are comma-separated (comprehension clauses are not)
        self.sole_comma = sole_comma  # a one-item tuple keeps its comma
        self.collection = collection  # a list, tuple or dict literal: split, it takes one item per line


def _group(e: ast.expr) -> _Group | None:
    if isinstance(e, ast.Call):
        items: list[tuple[str, ast.expr, str]] = [("", a, flat_in(a, TERNARY)) for a in e.args]
        for kw in e.keywords:
            prefix = f"{kw.arg}=" if kw.arg else "**"
            items.append((prefix, kw.value, prefix + flat_in(kw.value, TERNARY if kw.arg else ATOM)))
        return _Group(flat_in(e.func, ATOM) + "(", items, ")")
    if isinstance(e, ast.List):
        return _Group("[", [("", x, flat_in(x, TERNARY)) for x in e.elts], "]", collection=True)
    if isinstance(e, ast.Tuple):
        return _Group(
            "(", [("", x, flat_in(x, TERNARY)) for x in e.elts], ")", sole_comma=len(e.elts) == 1, collection=True
        )
    if isinstance(e, ast.Dict):
        dict_items: list[tuple[str, ast.expr, str]] = []
        for k, v in zip(e.keys, e.values, strict=True):
            prefix = "**" if k is None else flat_in(k, TERNARY) + ": "
            dict_items.append((prefix, v, dict_item(k, v)))
        return _Group("{", dict_items, "}", collection=True)
    if isinstance(e, ast.Subscript):
        key = e.slice
        if isinstance(key, ast.Tuple) or isinstance(key, ast.Slice):
            return None  # index tuples and slices are short in emitted code; they stay on their line
        return _Group(flat_in(e.value, ATOM) + "[", [("", key, flat_in(key, TERNARY))], "]")
    if isinstance(e, ast.ListComp | ast.GeneratorExp):
        parts = comprehension_parts(e)
        first = e.elt
        items = [("", first, parts[0])] + [("", ast.Constant(value=None), p) for p in parts[1:]]
        opening, closing = ("[", "]") if isinstance(e, ast.ListComp) else ("(", ")")
        return _Group(opening, items, closing, commas=False)
    if isinstance(e, ast.Starred):
        inner = _group(e.value)
        if inner is None:
            return None
        inner.head = "*" + inner.head
        return inner
    if isinstance(e, ast.BinOp | ast.Compare | ast.BoolOp) and precedence(e) < ATOM:
        # The last bracket of the line is in the last operand (ruff's right-hand split).
        last = (
            e.right if isinstance(e, ast.BinOp) else e.comparators[-1] if isinstance(e, ast.Compare) else e.values[-1]
        )
        full = flat_in(e, TERNARY)
        last_text = flat_in(last, TERNARY)
        if not full.endswith(last_text) or flat_bare(last) != last_text:
            return None
        inner = _group(last)
        if inner is None:
            return None
        inner.head = full[: len(full) - len(last_text)] + inner.head
        return inner
    return None


def split(prefix: str, e: ast.expr, suffix: str, indent: int, width: int = WIDTH, *, inside: bool = False) -> list[str]:
    """``prefix + e + suffix`` as one or more lines (the first unindented, the rest indented relative
    to it), split like ruff when it does not fit in ``width`` at column ``indent`` (``inside``: the
    expression is an item between brackets already)."""
    text = prefix + flat_in(e, TERNARY) + suffix
    if indent + columns(text) <= width:
        return [text]
    if isinstance(e, ast.IfExp):  # `a if c else b`: one part per line, in parentheses unless inside brackets
        at = indent if inside and not prefix else indent + 4
        parts = split("", e.body, "", at, width, inside=True) + [f"if {flat_in(e.test, OR)}"]
        parts += split("else ", e.orelse, "", at, width, inside=True)
        if inside and not prefix:
            return parts[:-1] + [parts[-1] + suffix]
        return [prefix + "("] + ["    " + p for p in parts] + [")" + suffix]
    if isinstance(e, ast.Constant) and isinstance(e.value, str):
        room = width - indent - 4
        return [prefix + "("] + ["    " + p for p in long_string(e.value, room)] + [")" + suffix]
    group = _group(e)
    if inside and not prefix and isinstance(e, ast.BinOp | ast.BoolOp | ast.Compare):
        if parenthesized(e):  # an operand chain between brackets: one operand per line, as ruff splits it
            return operator_lines("", e, indent, width, suffix)
    if group is None or not group.items:
        return [text]
    if isinstance(e, ast.Subscript) and indent + columns(prefix + group.head) > width:
        # The line up to the subscript's bracket does not fit: ruff leaves the subscript (`[0]`) after the
        # bracket before it, as black's omitted trailers do (`x = f(\n    ...\n)[0]`).
        trailer = flat_bare(e)[len(flat_in(e.value, ATOM)) :]
        return split(prefix, e.value, trailer + suffix, indent, width, inside=inside)
    inner = indent + 4
    lines = [prefix + group.head]
    joined = (", " if group.commas else " ").join(t for _, _, t in group.items)
    if group.sole_comma:
        joined += ","
    if len(group.items) == 1 or not group.commas:
        if inner + columns(joined) <= width:
            lines.append("    " + joined)
        elif not group.commas:
            for k, (item_prefix, item, item_text) in enumerate(group.items):
                body = split(item_prefix, item, "", inner, width, inside=True) if k == 0 else [item_text]
                lines += ["    " + b for b in body]
        else:
            item_prefix, item, _ = group.items[0]
            body = split(item_prefix, item, "," if group.sole_comma else "", inner, width, inside=True)
            lines += ["    " + b for b in body]
    elif inner + columns(joined) <= width and not group.collection:
        lines.append("    " + joined)
    else:
        for item_prefix, item, _ in group.items:
            lines += ["    " + b for b in split(item_prefix, item, ",", inner, width, inside=True)]
    lines.append(group.close + suffix)
    return lines


# Operator chains, split as ruff splits them (also used by codegen/wrapping.py's statements).


def _operands(e: ast.expr) -> list[tuple[str, ast.expr, str]]:
    """``e``'s operands at its loosest operator level, each as (leading operator, operand, flat text): a
    left-associative chain ``a + b - c`` is three operands; a tighter operand (``b * c`` in
    ``a + b * c``) is one."""
    if isinstance(e, ast.BinOp):
        prec = BINOP_PREC[type(e.op)]
        left = e.left
        same = isinstance(left, ast.BinOp) and precedence(left) == prec and prec != POW
        head = _operands(left) if same else [("", left, flat_in(left, prec))]
        return head + [(BINOP_TEXT[type(e.op)], e.right, flat_in(e.right, prec + 1))]
    if isinstance(e, ast.BoolOp):
        word = "or" if isinstance(e.op, ast.Or) else "and"
        prec = precedence(e)
        return [("" if k == 0 else word, v, flat_in(v, prec + 1)) for k, v in enumerate(e.values)]
    assert isinstance(e, ast.Compare)
    rest = [(CMP_TEXT[type(op)], v, flat_in(v, CMP + 1)) for op, v in zip(e.ops, e.comparators, strict=True)]
    return [("", e.left, flat_in(e.left, CMP + 1)), *rest]


def _last_operand(e: ast.expr) -> ast.expr:
    if isinstance(e, ast.BinOp):
        return e.right
    if isinstance(e, ast.BoolOp):
        return e.values[-1]
    assert isinstance(e, ast.Compare)
    return e.comparators[-1]


def parenthesized(e: ast.expr) -> bool:
    """Whether ruff puts ``e`` (an assigned or returned value too long for its line) in parentheses
    and splits it at its operators, rather than at its last operand's brackets: ruff omits the
    parentheses only for one operator whose right operand has brackets (``a + self.f(\\n    x\\n)``)."""
    if not isinstance(e, ast.BinOp | ast.BoolOp | ast.Compare) or precedence(e) >= ATOM:
        return False
    if _is_power(e):
        return False  # `a**b` is not split (the emitter's powers are short)
    return len(_operands(e)) > 2 or _group(_last_operand(e)) is None


def operator_lines(lead: str, e: ast.expr, indent: int, width: int = WIDTH, suffix: str = "") -> list[str]:
    """``e`` between brackets at column ``indent``, one operand per line with its operator leading
    (``lead`` before the first); an operand too long for its line splits the same way at its own
    operators, on the same column (``and a.shape[2]\n+ b.shape[2]\n== 0``), or at its brackets."""
    lines: list[str] = []
    for k, (op, operand, text) in enumerate(_operands(e)):
        first = lead if k == 0 else f"{op} "
        if indent + columns(first + text) <= width or text != flat(operand):  # fits, or in parentheses: whole
            lines.append(first + text)
        elif isinstance(operand, ast.BinOp | ast.BoolOp | ast.Compare) and not _is_power(operand):
            lines += operator_lines(first, operand, indent, width)
        else:  # an operand with brackets splits at them (`+ self.f(\n    x\n)`)
            lines += split(first, operand, "", indent, width, inside=True)
    lines[-1] += suffix
    return lines


def _is_power(e: ast.expr) -> bool:
    return isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow)
