"""Anti-unification of code trees: which literals differ between the uses of one class.

Two trees *match* when they are equal except for literals (a number, a string, a list of them...);
a composite's constructor (:class:`~vibench.compiler.codegen.plan.Child`) matches another when both
children belong to the same class. :func:`differences` lists the literal positions whose values
differ, and :func:`replace` puts expressions at positions.

>>> from vibench.compiler.codegen import code as c
>>> a, b = c.call("nn.Conv1d", 64, 128, stride=2), c.call("nn.Conv1d", 128, 128, stride=1)
>>> matches(a, b, lambda x, y: False)
True
>>> sorted(differences([a, b]).items())
[(('args', 0), [64, 128]), (('keywords', 0, 'value'), [2, 1])]
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from vibench.compiler.codegen.formula import same_value
from vibench.compiler.codegen.plan import Child, constant_value, leaves


def matches(a: ast.AST, b: ast.AST, same_child: Callable[[Child, Child], bool]) -> bool:
    """Equal up to literals (and children of one class)."""
    ok_a, _ = constant_value(a)
    ok_b, _ = constant_value(b)
    if ok_a or ok_b:
        return ok_a and ok_b
    if isinstance(a, Child) or isinstance(b, Child):
        return isinstance(a, Child) and isinstance(b, Child) and same_child(a, b)
    if type(a) is not type(b):
        return False
    for (name, x), (_, y) in zip(ast.iter_fields(a), ast.iter_fields(b), strict=True):
        if isinstance(x, ast.AST) or isinstance(y, ast.AST):
            if not (isinstance(x, ast.AST) and isinstance(y, ast.AST) and matches(x, y, same_child)):
                return False
        elif isinstance(x, list) or isinstance(y, list):
            if not (isinstance(x, list) and isinstance(y, list) and len(x) == len(y)):
                return False
            for p, q in zip(x, y, strict=True):
                if isinstance(p, ast.AST) and isinstance(q, ast.AST):
                    if not matches(p, q, same_child):
                        return False
                elif p != q:
                    return False
        elif name != "ctx" and x != y:
            return False
    return True


def differences(trees: Sequence[ast.AST]) -> dict[tuple, list[Any]]:
    """Literal positions of matching trees whose values are not all the same (:func:`~vibench.compiler.codegen.
    formula.same_value`: 0.0 and -0.0 differ), with every tree's value."""
    columns: dict[tuple, list[Any]] = {}
    for tree in trees:
        for path, value in leaves(tree):
            columns.setdefault(path, []).append(value)
    return {
        path: values
        for path, values in columns.items()
        if any(not same_value(v, values[0]) for v in values)
    }


def replace(tree: ast.AST, by_path: dict[tuple, ast.expr]) -> ast.AST:
    """A copy of ``tree`` with the subtree at each path replaced."""
    if () in by_path:
        return by_path[()]
    node = type(tree)()
    for name, child in ast.iter_fields(tree):
        inner = {p[1:]: e for p, e in by_path.items() if p[0] == name}
        if isinstance(child, ast.AST):
            setattr(node, name, replace(child, inner) if inner else child)
        elif isinstance(child, list):
            items = []
            for k, item in enumerate(child):
                sub = {p[1:]: e for p, e in inner.items() if p and p[0] == k}
                items.append(replace(item, sub) if sub and isinstance(item, ast.AST) else item)
            setattr(node, name, items)
        else:
            setattr(node, name, child)
    if isinstance(tree, Child):
        node.unit = tree.unit  # type: ignore[attr-defined]
    if hasattr(tree, "vb_default"):
        node.vb_default = tree.vb_default  # type: ignore[attr-defined]
    return node


def find(tree: ast.AST, path: tuple) -> Any:
    node: Any = tree
    for part in path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def at_torch_default(tree: ast.AST, path: tuple, value: Any) -> bool:
    """Is the literal at ``path`` a keyword argument equal to torch's default (left out when written)?"""
    if len(path) < 2 or path[-1] != "value":
        return False
    kw = find(tree, path[:-1])
    default = getattr(kw, "vb_default", _NONE)
    return isinstance(kw, ast.keyword) and same_value(default, value)


_NONE = object()

