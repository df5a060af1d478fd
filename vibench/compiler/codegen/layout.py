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
    flat,
    flat_bare,
    flat_in,
    precedence,
)
from vibench.compiler.codegen.text import WIDTH, comment_lines, comment_text, docstring, long_string, string
from vibench.compiler.codegen.text import width as columns  # (`width` here: a line's width)

__all__ = ["WIDTH", "comment_lines", "comment_text", "docstring", "flat", "split", "string"]


class _Item:
    """One item between a group's brackets: ``prefix`` + its expression, written in a context of precedence
    ``context``. Its text is made when asked (or given: a comprehension's clauses), so that an item that
    :func:`split` lays out over several lines is never flattened whole at each bracket around it."""

    __slots__ = ("prefix", "expr", "context", "_text")

    def __init__(self, prefix: str, expr: ast.expr, context: int = TERNARY, text: str | None = None) -> None:
        self.prefix = prefix
        self.expr = expr
        self.context = context
        self._text = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.prefix + flat_in(self.expr, self.context)
        return self._text

    def least(self, room: int) -> int:
        """At most the columns of :attr:`text`, and more than ``room`` when it is wider (see :func:`least_width`)."""
        if self._text is not None:
            return columns(self._text)
        head = columns(self.prefix)
        return head + least_width(self.expr, room - head)


class _Group:
    """The last bracket pair of an expression: ``head`` + items + ``close``."""

    def __init__(
        self,
        head: str,
        items: list[_Item],
        close: str,
        *,
        commas: bool = True,
        sole_comma: bool = False,
        collection: bool = False,
    ) -> None:
        self.head = head  # text up to and including the opening bracket
        self.items = items
        self.close = close  # the closing bracket (and anything after it on the line)
        self.commas = commas  # items are comma-separated (comprehension clauses are not)
        self.sole_comma = sole_comma  # a one-item tuple keeps its comma
        self.collection = collection  # a list, tuple or dict literal: split, it takes one item per line

    def joined(self, room: int) -> str | None:
        """The items on one line, or None when they are wider than ``room`` columns (known without writing
        them when they are much wider)."""
        separator = ", " if self.commas else " "
        least = len(separator) * (len(self.items) - 1) + self.sole_comma
        for item in self.items:
            least += item.least(room - least)
            if least > room:
                return None
        text = separator.join(item.text for item in self.items) + ("," if self.sole_comma else "")
        return text if columns(text) <= room else None


def _group(e: ast.expr) -> _Group | None:
    if isinstance(e, ast.Call):
        items = [_Item("", a) for a in e.args]
        items += [_Item(f"{kw.arg}=", kw.value) if kw.arg else _Item("**", kw.value, ATOM) for kw in e.keywords]
        return _Group(flat_in(e.func, ATOM) + "(", items, ")")
    if isinstance(e, ast.List):
        return _Group("[", [_Item("", x) for x in e.elts], "]", collection=True)
    if isinstance(e, ast.Tuple):
        return _Group("(", [_Item("", x) for x in e.elts], ")", sole_comma=len(e.elts) == 1, collection=True)
    if isinstance(e, ast.Dict):  # (an item as flat_expressions.dict_item writes it)
        dict_items = [_Item("**", v, ATOM) if k is None else _Item(flat_in(k, TERNARY) + ": ", v)
                      for k, v in zip(e.keys, e.values, strict=True)]
        return _Group("{", dict_items, "}", collection=True)
    if isinstance(e, ast.Subscript):
        key = e.slice
        if isinstance(key, ast.Tuple) or isinstance(key, ast.Slice):
            return None  # index tuples and slices are short in emitted code; they stay on their line
        return _Group(flat_in(e.value, ATOM) + "[", [_Item("", key)], "]")
    if isinstance(e, ast.ListComp | ast.GeneratorExp):
        parts = comprehension_parts(e)
        items = [_Item("", e.elt, text=parts[0])] + [_Item("", ast.Constant(value=None), text=p) for p in parts[1:]]
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
    room = width - indent - columns(prefix) - columns(suffix)
    # An expression surely too wide (a deep constructor) is not flattened here: each level of brackets would
    # write all that it holds again, and nested blocks took time in their depth times their size.
    text = None if least_width(e, room) > room else prefix + flat_in(e, TERNARY) + suffix
    if text is not None and indent + columns(text) <= width:
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
        return [text if text is not None else prefix + flat_in(e, TERNARY) + suffix]
    if isinstance(e, ast.Subscript) and indent + columns(prefix + group.head) > width:
        # The line up to the subscript's bracket does not fit: ruff leaves the subscript (`[0]`) after the
        # bracket before it, as black's omitted trailers do (`x = f(\n    ...\n)[0]`).
        trailer = flat_bare(e)[len(flat_in(e.value, ATOM)) :]
        return split(prefix, e.value, trailer + suffix, indent, width, inside=inside)
    inner = indent + 4
    lines = [prefix + group.head]
    joined = group.joined(width - inner)
    if len(group.items) == 1 or not group.commas:
        if joined is not None:
            lines.append("    " + joined)
        elif not group.commas:
            for k, item in enumerate(group.items):
                body = split(item.prefix, item.expr, "", inner, width, inside=True) if k == 0 else [item.text]
                lines += ["    " + b for b in body]
        else:
            item = group.items[0]
            body = split(item.prefix, item.expr, "," if group.sole_comma else "", inner, width, inside=True)
            lines += ["    " + b for b in body]
    elif joined is not None and not group.collection:
        lines.append("    " + joined)
    else:
        for item in group.items:
            lines += ["    " + b for b in split(item.prefix, item.expr, ",", inner, width, inside=True)]
    lines.append(group.close + suffix)
    return lines


def least_width(e: ast.expr, room: int) -> int:
    """At most the columns of ``flat(e)``, and more than ``room`` when ``flat(e)`` is wider than ``room``: the
    columns each node writes of its own (a name its letters, a call its brackets, a keyword its ``=``), added up
    until they pass ``room``. So a wide expression is known to be wide after at most ``room`` nodes, without
    writing it (:func:`split` asks this at every level of a constructor's brackets). Non-ASCII names count
    none: a name may be letters of no width, as ruff measures them."""
    least = 0
    stack: list[ast.AST] = [e]
    while stack and least <= room:
        node = stack.pop()
        kind = node.__class__
        if kind is ast.Call:  # (the nodes of a constructor first: most of what a deep one holds)
            least += 2  # its brackets
            stack.append(node.func)  # type: ignore[attr-defined]
            stack += node.args  # type: ignore[attr-defined]
            stack += node.keywords  # type: ignore[attr-defined]
        elif kind is ast.Name:
            least += len(node.id) if node.id.isascii() else 0  # type: ignore[attr-defined]
        elif kind is ast.keyword:
            arg = node.arg  # type: ignore[attr-defined]
            least += 2 if arg is None else 1 + (len(arg) if arg.isascii() else 0)
            stack.append(node.value)  # type: ignore[attr-defined]
        elif kind is ast.Attribute:
            least += 1 + (len(node.attr) if node.attr.isascii() else 0)  # type: ignore[attr-defined]
            stack.append(node.value)  # type: ignore[attr-defined]
        else:
            if kind is ast.Constant and isinstance(node.value, str):  # type: ignore[attr-defined]
                least += 2  # its quotes
            elif kind in _BRACKETED:
                least += 2
            elif kind is not ast.Tuple:  # (an index tuple is written without brackets)
                least += 1  # a number, a constant, an operator, a `*`, a slice's `:`, a clause's `for`...
            for name in node._fields:
                child = getattr(node, name, None)
                if isinstance(child, _WRITTEN):
                    stack.append(child)
                elif isinstance(child, list):
                    stack += [x for x in child if isinstance(x, _WRITTEN)]
    return least


_BRACKETED = frozenset({ast.List, ast.Dict, ast.Subscript, ast.ListComp, ast.GeneratorExp})
_WRITTEN = (ast.expr, ast.keyword, ast.comprehension)  # the nodes flat() writes text of (not a Load, not an op)


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
