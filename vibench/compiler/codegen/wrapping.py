"""Statements that ``ruff format`` wraps outside an expression's last bracket pair: an operator chain
(``a + b + c``, ``a * b``, ``a and b``) in parentheses with one operand per line, a tuple of targets
split one per line (``(\\n    a,\\n    b,\\n) = self.node(x)``), and a long ``del`` in parentheses.

Each is kept on one line when it fits; these layouts are what ruff writes when it does not (the
oracle is ``ruff format``: ``tests/test_emitted_wrapping.py``).

>>> from vibench.compiler.codegen import code as c
>>> print("\\n".join(assigned("total = ", c.chain("+", [c.ref("a" * 40), c.ref("b" * 40), c.ref("c" * 40)]), 8)))
total = (
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    + bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
    + cccccccccccccccccccccccccccccccccccccccc
)
"""

from __future__ import annotations

import ast

from vibench.compiler.codegen.layout import WIDTH, _group, flat, operator_lines, parenthesized, split
from vibench.compiler.codegen.text import width as columns  # (`width` here: a line's width)

INDENT = 4


def chain(prefix: str, e: ast.expr, suffix: str, indent: int, width: int = WIDTH) -> list[str]:
    """``prefix (``, the operands on one line or one per line (the operator leading), ``)suffix``."""
    inner = flat(e)
    if indent + INDENT + columns(inner) <= width:
        return [prefix + "(", " " * INDENT + inner, ")" + suffix]
    body = operator_lines("", e, indent + INDENT, width)
    return [prefix + "("] + [" " * INDENT + x for x in body] + [")" + suffix]


def assigned(prefix: str, value: ast.expr, indent: int, suffix: str = "") -> list[str]:
    """``prefix + value`` (an assignment's right side, a returned value) as ruff lays it out."""
    text = prefix + flat(value) + suffix
    if indent + columns(text) <= WIDTH:
        return [text]  # what split gives when it fits, flattened once, not twice (10,000 lines: 53 -> 38 ms)
    if parenthesized(value):
        return chain(prefix, value, suffix, indent)
    return split(prefix, value, suffix, indent)


def _target_items(t: ast.Tuple) -> list[str]:
    return [f"({', '.join(_target_items(e))})" if isinstance(e, ast.Tuple) else flat(e) for e in t.elts]


def unpacking(target: ast.Tuple, value: ast.expr, indent: int) -> list[str]:
    """``a, b = value``; too long, ruff splits the value at its brackets when ``a, b = f(`` fits, else
    puts the value in parentheses when ``a, b = (`` fits, else splits the targets one per line:
    ``(\\n    a,\\n    b,\\n) = value``."""
    items = _target_items(target)
    targets = f"({items[0]},)" if len(items) == 1 else ", ".join(items)
    head = targets + " = "
    if indent + columns(head + flat(value)) <= WIDTH:
        return [head + flat(value)]
    group = _group(value) if isinstance(value, ast.Call | ast.Subscript | ast.Attribute) else None
    if group is not None and group.items and indent + columns(head + group.head) <= WIDTH:
        return split(head, value, "", indent)
    if indent + columns(head) + 1 <= WIDTH:
        return [head + "("] + [" " * INDENT + x for x in split("", value, "", indent + INDENT)] + [")"]
    lines = ["("] + [" " * INDENT + item + "," for item in items]
    return lines + assigned(") = ", value, indent)


def delete(names: list[str], indent: int) -> list[str]:
    """``del a, b``; too long, ``del (\\n    a,\\n    b,\\n)``."""
    line = "del " + ", ".join(names)
    if indent + columns(line) <= WIDTH:
        return [line]
    return ["del ("] + [" " * INDENT + n + "," for n in names] + [")"]
