"""Statements and class parts as text lines (the jinja2 template only places them in the file).

Every line goes through :mod:`vibench.compiler.codegen.layout`, so the file is what ``ruff
format`` writes; comments that would overflow a line move above their statement.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from vibench.compiler.codegen.layout import WIDTH, comment_lines, flat, operator_lines, split
from vibench.compiler.codegen.statements import Line
from vibench.compiler.codegen.text import width
from vibench.compiler.codegen.wrapping import assigned, delete, unpacking

INDENT = 4


def target_text(t: ast.expr) -> str:
    if isinstance(t, ast.Tuple):
        inner = ", ".join(target_text(e) if not isinstance(e, ast.Tuple) else f"({target_text(e)})" for e in t.elts)
        return f"({inner},)" if len(t.elts) == 1 else inner
    return flat(t)


def statement(stmt: ast.stmt, indent: int) -> list[str]:
    if isinstance(stmt, ast.Assign):
        if isinstance(stmt.targets[0], ast.Tuple):
            return unpacking(stmt.targets[0], stmt.value, indent)
        return assigned(target_text(stmt.targets[0]) + " = ", stmt.value, indent)
    if isinstance(stmt, ast.AugAssign):
        op = {ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*="}[type(stmt.op)]
        return assigned(f"{target_text(stmt.target)} {op} ", stmt.value, indent)
    if isinstance(stmt, ast.Return):
        assert stmt.value is not None
        if isinstance(stmt.value, ast.Tuple):
            text = "return " + ", ".join(flat(e) for e in stmt.value.elts)
            if indent + width(text) <= WIDTH:
                return [text]
        return assigned("return ", stmt.value, indent)
    if isinstance(stmt, ast.Delete):
        return delete([flat(t) for t in stmt.targets], indent)
    if isinstance(stmt, ast.Expr):
        return split("", stmt.value, "", indent)
    if isinstance(stmt, ast.For):
        return [f"for {flat(stmt.target)} in {flat(stmt.iter)}:"]
    if isinstance(stmt, ast.If):
        return _if(stmt.test, indent)
    raise TypeError(f"cannot lay out {type(stmt).__name__} (this is a bug)")


def _if(test: ast.expr, indent: int) -> list[str]:
    """``if test:``; too long, ``if a or not (b and c ...):`` splits as ruff splits it: the last
    parentheses open at the end of the line, their operands on one line or one per line."""
    line = f"if {flat(test)}:"
    if indent + width(line) <= WIDTH or not (
        isinstance(test, ast.BoolOp)
        and isinstance(test.op, ast.Or)
        and isinstance(test.values[-1], ast.UnaryOp)
        and isinstance(test.values[-1].op, ast.Not)
        and isinstance(test.values[-1].operand, ast.BoolOp)
        and isinstance(test.values[-1].operand.op, ast.And)
    ):
        return [line]
    head = " or ".join(flat(v) for v in test.values[:-1])
    inner = flat(test.values[-1].operand)  # type: ignore[attr-defined]
    if indent + INDENT + width(inner) <= WIDTH:
        return [f"if {head} or not (", " " * INDENT + inner, "):"]
    body = operator_lines("", test.values[-1].operand, indent + INDENT)  # type: ignore[attr-defined]
    return [f"if {head} or not ("] + [" " * INDENT + x for x in body] + ["):"]


def body(lines: Sequence[Line], indent: int) -> list[str]:
    """Statements (with comments and nested bodies) as lines relative to ``indent``."""
    out: list[str] = []
    for line in lines:
        text = statement(line.stmt, indent)
        if line.comment:
            trailing = f"{text[-1]}  # {line.comment}"
            if len(text) == 1 and indent + width(trailing) <= WIDTH:
                text = [trailing]
            else:
                out += comment_lines(line.comment, indent)
        out += text
        if line.body:
            out += [" " * INDENT + x for x in body(line.body, indent + INDENT)]
        if line.orelse:
            out.append("else:")
            out += [" " * INDENT + x for x in body(line.orelse, indent + INDENT)]
    return out


def signature(name: str, params: Sequence[str], returns: str, indent: int = INDENT) -> list[str]:
    """``def name(params) -> returns:`` on one line, or split like ruff splits it."""
    line = f"def {name}({', '.join(params)}) -> {returns}:"
    if indent + width(line) <= WIDTH:
        return [line]
    joined = ", ".join(params)
    if indent + INDENT + width(joined) <= WIDTH:
        return [f"def {name}(", " " * INDENT + joined, f") -> {returns}:"]
    return [f"def {name}("] + [" " * INDENT + p + "," for p in params] + [f") -> {returns}:"]
