"""A chain of layers written where it is used: ``nn.Sequential(OrderedDict(...))`` with this use's values.

A block that is only a chain of layers (a shortcut, a decoder) gets no class of its own (see
:mod:`vibench.compiler.codegen.structure`): its members are written at each use with the use's values
bound in, each literal remembering the parameter it carries (``vb_owner``), so that the class that
builds it can write the spec's expression there (``stride=stride``).
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.structure import Structure


def inlined(child: Structure, values: dict[str, Any]) -> ast.expr:
    """``nn.Sequential(OrderedDict(name=..., ...))`` for a chain-of-layers block, its arguments
    written as this use's values (each literal remembers the parameter it carries)."""
    by_arg = {a.name: a for a in child.args}

    def bound(tree: ast.AST) -> ast.AST:
        """A copy of ``tree`` (as :func:`~vibench.compiler.codegen.code.clone` copies: its marks left out) with the
        block's arguments bound, in one pass: a chain written inline holds the chains inside it, so each level of
        nested blocks copies all that it holds again, and a copy and then a rewrite of it was twice that."""
        kind = tree.__class__
        if kind is ast.Name and tree.id in by_arg:  # type: ignore[attr-defined]
            literal = c.const(values[tree.id])  # type: ignore[attr-defined]
            if not by_arg[tree.id].symbol:  # type: ignore[attr-defined]
                literal.vb_owner = by_arg[tree.id].spec  # type: ignore[attr-defined]
            return literal
        new: Any = kind.__new__(kind)
        for name in tree._fields:
            value = getattr(tree, name, _ABSENT)
            if isinstance(value, ast.AST):
                value = bound(value)
            elif isinstance(value, list):
                value = [bound(item) if isinstance(item, ast.AST) else item for item in value]
            elif value is _ABSENT:
                continue
            setattr(new, name, value)
        for name in tree._attributes:
            if hasattr(tree, name):
                setattr(new, name, getattr(tree, name))
        return _folded(new) if kind is ast.BinOp else new

    layers = {m.slot: bound(m.ctor) for m in child.members}
    for layer in layers.values():  # the copies left out the keywords' marks: nothing for code.trim to walk
        layer.vb_trimmed = True  # type: ignore[attr-defined]
    return c.call("nn.Sequential", c.call("OrderedDict", **layers))


def _folded(node: ast.BinOp) -> ast.expr:
    """``32 + D`` with D = 64 is written 96."""
    fold = _FOLD.get(type(node.op))
    left, right = node.left, node.right
    if (fold is not None and isinstance(left, ast.Constant) and isinstance(right, ast.Constant)
            and type(left.value) is int and type(right.value) is int
            and (right.value != 0 or isinstance(node.op, ast.Add | ast.Sub | ast.Mult))):
        return c.const(fold(left.value, right.value))
    return node


def tagged(tree: ast.expr) -> dict[tuple, str]:
    """Literal position -> the parameter it carries, for an inlined block's layers."""
    out: dict[tuple, str] = {}

    def walk(node: ast.AST, path: tuple) -> None:
        owner = getattr(node, "vb_owner", None)
        if owner is not None:
            out[path] = owner
            return
        for name, child in ast.iter_fields(node):
            if isinstance(child, ast.AST):
                walk(child, path + (name,))
            elif isinstance(child, list):
                for k, item in enumerate(child):
                    if isinstance(item, ast.AST):
                        walk(item, path + (name, k))

    walk(tree, ())
    return out


_ABSENT = object()
_FOLD: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
