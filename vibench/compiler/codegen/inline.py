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

    class Bind(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id not in by_arg:
                return node
            literal = c.const(values[node.id])
            if not by_arg[node.id].symbol:
                literal.vb_owner = by_arg[node.id].spec  # type: ignore[attr-defined]
            return literal

        def visit_BinOp(self, node: ast.BinOp) -> ast.AST:  # `32 + D` with D = 64 is written 96
            self.generic_visit(node)
            fold = _FOLD.get(type(node.op))
            left, right = node.left, node.right
            if (fold is not None and isinstance(left, ast.Constant) and isinstance(right, ast.Constant)
                    and type(left.value) is int and type(right.value) is int
                    and (right.value != 0 or isinstance(node.op, ast.Add | ast.Sub | ast.Mult))):
                return c.const(fold(left.value, right.value))
            return node

    layers = {m.slot: Bind().visit(c.clone(m.ctor)) for m in child.members}
    return c.call("nn.Sequential", c.call("OrderedDict", **layers))


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


_FOLD: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
