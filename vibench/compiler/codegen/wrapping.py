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

from vibench.compiler.codegen.layout import (
    _ATOM,
    _BINOP_PREC,
    _BINOP_TEXT,
    _CMP,
    _CMP_TEXT,
    _POW,
    WIDTH,
    _flat,
    _group,
    _prec,
    flat,
    split,
)

INDENT = 4


def _operands(e: ast.expr) -> list[tuple[str, ast.expr, str]]:
    """``e``'s operands at its loosest operator level, each as (leading operator, operand, flat text): a
    left-associative chain ``a + b - c`` is three operands; a tighter operand (``b * c`` in
    ``a + b * c``) is one."""
    if isinstance(e, ast.BinOp):
        prec = _BINOP_PREC[type(e.op)]
        left = e.left
        same = isinstance(left, ast.BinOp) and _prec(left) == prec and prec != _POW
        head = _operands(left) if same else [("", left, _flat(left, prec))]
        return head + [(_BINOP_TEXT[type(e.op)], e.right, _flat(e.right, prec + 1))]
    if isinstance(e, ast.BoolOp):
        word = "or" if isinstance(e.op, ast.Or) else "and"
        prec = _prec(e)
        return [("" if k == 0 else word, v, _flat(v, prec + 1)) for k, v in enumerate(e.values)]
    assert isinstance(e, ast.Compare)
    rest = [(_CMP_TEXT[type(op)], v, _flat(v, _CMP + 1)) for op, v in zip(e.ops, e.comparators, strict=True)]
    return [("", e.left, _flat(e.left, _CMP + 1)), *rest]


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
    if not isinstance(e, ast.BinOp | ast.BoolOp | ast.Compare) or _prec(e) >= _ATOM:
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
        if indent + len(first + text) <= width or text != flat(operand):  # fits, or in parentheses: whole
            lines.append(first + text)
        elif isinstance(operand, ast.BinOp | ast.BoolOp | ast.Compare) and not _is_power(operand):
            lines += operator_lines(first, operand, indent, width)
        else:  # an operand with brackets splits at them (`+ self.f(\n    x\n)`)
            lines += split(first, operand, "", indent, width, inside=True)
    lines[-1] += suffix
    return lines


def _is_power(e: ast.expr) -> bool:
    return isinstance(e, ast.BinOp) and isinstance(e.op, ast.Pow)


def chain(prefix: str, e: ast.expr, suffix: str, indent: int, width: int = WIDTH) -> list[str]:
    """``prefix (``, the operands on one line or one per line (the operator leading), ``)suffix``."""
    inner = flat(e)
    if indent + INDENT + len(inner) <= width:
        return [prefix + "(", " " * INDENT + inner, ")" + suffix]
    body = operator_lines("", e, indent + INDENT, width)
    return [prefix + "("] + [" " * INDENT + x for x in body] + [")" + suffix]


def assigned(prefix: str, value: ast.expr, indent: int, suffix: str = "") -> list[str]:
    """``prefix + value`` (an assignment's right side, a returned value) as ruff lays it out."""
    if indent + len(prefix + flat(value) + suffix) > WIDTH and parenthesized(value):
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
    if indent + len(head + flat(value)) <= WIDTH:
        return [head + flat(value)]
    group = _group(value) if isinstance(value, ast.Call | ast.Subscript | ast.Attribute) else None
    if group is not None and group.items and indent + len(head + group.head) <= WIDTH:
        return split(head, value, "", indent)
    if indent + len(head) + 1 <= WIDTH:
        return [head + "("] + [" " * INDENT + x for x in split("", value, "", indent + INDENT)] + [")"]
    lines = ["("] + [" " * INDENT + item + "," for item in items]
    return lines + assigned(") = ", value, indent)


def delete(names: list[str], indent: int) -> list[str]:
    """``del a, b``; too long, ``del (\\n    a,\\n    b,\\n)``."""
    line = "del " + ", ".join(names)
    if indent + len(line) <= WIDTH:
        return [line]
    return ["del ("] + [" " * INDENT + n + "," for n in names] + [")"]
