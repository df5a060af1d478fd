"""Building the Python that model.py holds, as :mod:`ast` nodes — never as pasted text.

A block describes what it adds to ``__init__`` and ``forward`` with these helpers; the emitter
lays the nodes out (:mod:`vibench.compiler.codegen.layout`). Data enters code only as
:func:`const` (a literal the formatter renders, with every string escaped by one function) and
names only through :func:`ref` / :func:`dotted`, which accept identifiers and nothing else. So a
string from a spec, a file name or the command line can never become code.

>>> from vibench.compiler.codegen.layout import flat
>>> flat(call("nn.Conv1d", 1, 16, kernel_size=7, bias=SKIP))
'nn.Conv1d(1, 16, kernel_size=7)'
>>> flat(method(ref("x"), "transpose", 1, 2))
'x.transpose(1, 2)'
>>> flat(const({"name": 'say "hi"', "k": [1, 2.5, None]}))
'{"name": \\'say "hi"\\', "k": [1, 2.5, None]}'
"""

from __future__ import annotations

import ast
import keyword
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Code = ast.expr
"""A Python expression of the emitted file."""


class _Skip:
    """Marks a keyword argument to leave out (``non_default`` gives it for torch's defaults)."""

    def __repr__(self) -> str:
        return "SKIP"


SKIP: Any = _Skip()


class _Default:
    """A keyword argument equal to torch's default: left out of the call, but remembered, so that the
    calls of two uses of one class line up (:func:`full`) before the emitter decides what to write."""

    def __init__(self, value: Any) -> None:
        self.value = value


def clone(tree: Any) -> Any:
    """A deep copy of an AST (nodes and lists copied; constants, names and positions shared, as they are
    immutable). copy.deepcopy does the same with its memo and reduce machinery, about 4x slower: it was
    a seventh of emitting a 3,000-node spec."""
    if isinstance(tree, ast.AST):
        new = tree.__class__.__new__(tree.__class__)
        for name in tree._fields:
            if hasattr(tree, name):
                setattr(new, name, clone(getattr(tree, name)))
        for name in tree._attributes:
            if hasattr(tree, name):
                setattr(new, name, getattr(tree, name))
        return new
    if isinstance(tree, list):
        return [clone(item) for item in tree]
    return tree


def walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` (depth first): ast.walk without its generator per node, about 3x faster
    on the small trees of one constructor or call."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for name in node._fields:
            child = getattr(node, name, None)
            if isinstance(child, ast.AST):
                stack.append(child)
            elif isinstance(child, list):
                stack.extend(item for item in child if isinstance(item, ast.AST))


def non_default(value: Any, default: Any) -> Any:
    """``value``, or a marker that leaves the keyword out when it equals torch's default."""
    return _Default(value) if value == default and type(value) is type(default) else value


def is_identifier(name: str) -> bool:
    return isinstance(name, str) and name.isidentifier() and name.isascii() and not keyword.iskeyword(name)


# One context node for every name and attribute read: no pass changes a context node (a store
# replaces it, see ``ref``), as Python's own parser shares them. Fields are passed positionally: an
# AST constructor takes keywords about 2.5x slower, and these two make most nodes of ``forward``.
_LOAD = ast.Load()


def ref(name: str, ctx: ast.expr_context = _LOAD) -> ast.Name:
    """A name of the emitted code (a local, an argument, a class); refuses anything but an identifier.
    ``ctx``: ``ast.Store()`` for an assignment's target, ``ast.Del()`` for a ``del``."""
    if not is_identifier(name):
        raise ValueError(f"not an identifier: {name!r} (this is a bug)")
    return ast.Name(name, ctx)


def dotted(path: str) -> Code:
    """``torch.relu``, ``nn.Conv1d``, ``F.gelu``, ``math.sqrt`` or a class name, as nodes."""
    parts = path.split(".")
    node: Code = ref(parts[0])
    for part in parts[1:]:
        node = attr(node, part)
    return node


def attr(value: Code, name: str) -> ast.Attribute:
    if not is_identifier(name):
        raise ValueError(f"not an attribute name: {name!r} (this is a bug)")
    return ast.Attribute(value, name, _LOAD)


def const(value: Any) -> Code:
    """A literal for plain data: None, bools, ints, floats, strings, and lists / tuples / dicts of them."""
    if isinstance(value, ast.AST):
        return value  # type: ignore[return-value]
    if value is None or isinstance(value, (bool, int, str)):
        return ast.Constant(value=value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return call("float", str(value))  # float("inf"), float("-inf"), float("nan")
        return ast.Constant(value=value)
    if isinstance(value, list):
        return ast.List(elts=[const(v) for v in value], ctx=ast.Load())
    if isinstance(value, tuple):
        return ast.Tuple(elts=[const(v) for v in value], ctx=ast.Load())
    if isinstance(value, dict):
        return ast.Dict(keys=[const(k) for k in value], values=[const(v) for v in value.values()])
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a literal: model.py writes only plain data "
                    "(None, bool, int, float, str, and lists, tuples and dicts of them)")


def _arg(value: Any) -> Code:
    return value if isinstance(value, ast.AST) else const(value)  # type: ignore[return-value]


def call(func: str | Code, *args: Any, **kwargs: Any) -> ast.Call:
    """``func(arg, ..., key=value, ...)``; plain values become literals, :data:`SKIP` keywords are dropped."""
    target = dotted(func) if isinstance(func, str) else func
    keywords: list[ast.keyword] = []
    omitted: list[tuple[int, str, Any]] = []
    for k, v in kwargs.items():
        if not is_identifier(k):
            raise ValueError(f"not a keyword: {k!r} (this is a bug)")
        if v is SKIP:
            continue
        if isinstance(v, _Default):
            omitted.append((len(keywords) + len(omitted), k, v.value))
            continue
        keywords.append(ast.keyword(arg=k, value=_arg(v)))
    node = ast.Call(func=target, args=[_arg(a) for a in args], keywords=keywords)
    if omitted:
        node.vb_omitted = omitted  # type: ignore[attr-defined]
    return node


def full(tree: ast.expr) -> ast.expr:
    """``tree`` (a block's freshly built constructor, changed in place) with every keyword left out
    for being torch's default put back, marked so that :func:`trim` can leave it out again."""
    for node in walk(tree):
        if isinstance(node, ast.Call) and getattr(node, "vb_omitted", None):
            for position, name, value in node.vb_omitted:  # type: ignore[attr-defined]
                kw = ast.keyword(arg=name, value=const(value))
                kw.vb_default = value  # type: ignore[attr-defined]
                node.keywords.insert(position, kw)
            node.vb_omitted = []  # type: ignore[attr-defined]
    return tree


def trim(tree: ast.expr) -> ast.expr:
    """Leave out again the put-back keywords that are still literally torch's default. ``tree`` is not
    changed (one block's constructor is shared by the nodes that build it alike): a call that loses a
    keyword, and every node above it, is a copy. A tree marked ``vb_trimmed`` holds no put-back keyword (a chain of
    layers written at a use, :func:`~vibench.compiler.codegen.inline.inlined`) and is not walked: only
    :func:`full` puts keywords back, on a block's own constructor, so no later pass adds one under it."""
    return rewrite(tree, _kept_trimmed, _trimmed)  # type: ignore[return-value]


def _kept_trimmed(node: ast.AST) -> ast.AST | None:
    return node if getattr(node, "vb_trimmed", False) else None


def _trimmed(node: ast.AST, changed: dict[str, Any]) -> ast.AST:
    if isinstance(node, ast.Call):
        keywords = changed.get("keywords", node.keywords)
        kept = [kw for kw in keywords if not _still_default(kw)]
        if len(kept) != len(keywords):
            changed["keywords"] = kept
    return updated(node, changed)


def rewrite(
    tree: ast.AST,
    replace: Callable[[ast.AST], ast.AST | None],
    rebuild: Callable[[ast.AST, dict[str, Any]], ast.AST] | None = None,
) -> ast.AST:
    """``tree`` with every node that ``replace`` gives a node for replaced by it (None: keep the node and
    rewrite its children), copying only the nodes on the way to a change: ``rebuild(node, changed)`` makes
    a node of its rewritten children (default :func:`updated`). A node met twice is rewritten once.

    It walks with a stack of its own, not Python's: a block's code may nest as deep as it has inputs
    (``a + b + ...`` of 600 inputs was a RecursionError of ``add``), and no depth is refused here."""
    finish = rebuild or updated
    done: dict[int, ast.AST] = {}
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done[id(node)] = finish(node, children(node, lambda child: done[id(child)]))
            continue
        new = replace(node)
        if new is not None:
            done[id(node)] = new
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in _child_nodes(node) if id(child) not in done)
    return done[id(tree)]


def _child_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """The children :func:`children` visits: the nodes of ``node``'s fields and lists, contexts left out."""
    for name in node._fields:
        child = getattr(node, name, None)
        if isinstance(child, ast.AST):
            if not isinstance(child, ast.expr_context):
                yield child
        elif isinstance(child, list):
            yield from (item for item in child if isinstance(item, ast.AST))


def children(node: ast.AST, visit: Callable[[ast.AST], ast.AST]) -> dict[str, Any]:
    """The fields of ``node`` that ``visit`` changes (it returns a child itself to leave it), with their
    new values: a rewrite that copies only the nodes on the way to a change (see :func:`updated`).
    Expression contexts (``Load``, ``Store``) are left as they are, unvisited."""
    changed: dict[str, Any] = {}
    for name in node._fields:
        child = getattr(node, name, None)
        if isinstance(child, ast.AST):
            if isinstance(child, ast.expr_context):
                continue
            new = visit(child)
            if new is not child:
                changed[name] = new
        elif isinstance(child, list):
            items = [visit(item) if isinstance(item, ast.AST) else item for item in child]
            if any(a is not b for a, b in zip(items, child, strict=True)):
                changed[name] = items
    return changed


def updated(node: ast.AST, changed: dict[str, Any]) -> ast.AST:
    """``node`` itself when nothing changed, else a copy (with every attribute, marks included) with
    the changed fields."""
    if not changed:
        return node
    copy = node.__class__.__new__(node.__class__)
    copy.__dict__.update(node.__dict__)
    copy.__dict__.update(changed)
    return copy


def _still_default(kw: ast.keyword) -> bool:
    return (
        hasattr(kw, "vb_default")
        and isinstance(kw.value, ast.Constant)
        and type(kw.value.value) is type(kw.vb_default)
        and kw.value.value == kw.vb_default
    )


def method(obj: Code, name: str, *args: Any, **kwargs: Any) -> ast.Call:
    """``obj.name(...)``."""
    return call(attr(obj, name), *args, **kwargs)


def starred(value: Code) -> ast.Starred:
    return ast.Starred(value=value, ctx=ast.Load())


def index(obj: Code, *items: Any) -> ast.Subscript:
    """``obj[item, ...]``; an item is a value, an expression or a :func:`span`."""
    parts = [_arg(i) for i in items]
    key: Code = parts[0] if len(parts) == 1 else ast.Tuple(elts=parts, ctx=ast.Load())
    return ast.Subscript(value=obj, slice=key, ctx=ast.Load())


def span(start: Any = None, stop: Any = None, step: Any = None) -> ast.Slice:
    """A slice ``start:stop:step`` for :func:`index` (None parts are left out)."""
    return ast.Slice(
        lower=None if start is None else _arg(start),
        upper=None if stop is None else _arg(stop),
        step=None if step is None else _arg(step),
    )


ELLIPSIS = ast.Constant(value=Ellipsis)

_BINOPS: dict[str, type[ast.operator]] = {
    "+": ast.Add,
    "-": ast.Sub,
    "*": ast.Mult,
    "/": ast.Div,
    "//": ast.FloorDiv,
    "%": ast.Mod,
    "**": ast.Pow,
    "@": ast.MatMult,
}
_CMPOPS: dict[str, type[ast.cmpop]] = {
    "==": ast.Eq,
    "!=": ast.NotEq,
    "<": ast.Lt,
    "<=": ast.LtE,
    ">": ast.Gt,
    ">=": ast.GtE,
    "is": ast.Is,
    "is not": ast.IsNot,
    "in": ast.In,
    "not in": ast.NotIn,
}


def binop(left: Any, op: str, right: Any) -> ast.BinOp:
    return ast.BinOp(left=_arg(left), op=_BINOPS[op](), right=_arg(right))


def chain(op: str, values: Sequence[Any]) -> Code:
    """``a op b op c ...`` (left-associative)."""
    out = _arg(values[0])
    for v in values[1:]:
        out = binop(out, op, v)
    return out


def compare(left: Any, op: str, right: Any) -> ast.Compare:
    return ast.Compare(left=_arg(left), ops=[_CMPOPS[op]()], comparators=[_arg(right)])


def neg(value: Any) -> ast.UnaryOp:
    return ast.UnaryOp(op=ast.USub(), operand=_arg(value))


def not_(value: Any) -> ast.UnaryOp:
    return ast.UnaryOp(op=ast.Not(), operand=_arg(value))


def both(values: Sequence[Any], op: str = "and") -> ast.BoolOp:
    return ast.BoolOp(op=ast.And() if op == "and" else ast.Or(), values=[_arg(v) for v in values])


def if_else(test: Any, body: Any, orelse: Any) -> ast.IfExp:
    return ast.IfExp(test=_arg(test), body=_arg(body), orelse=_arg(orelse))


def tuple_of(*items: Any) -> ast.Tuple:
    return ast.Tuple(elts=[_arg(i) for i in items], ctx=ast.Load())


def list_of(*items: Any) -> ast.List:
    return ast.List(elts=[_arg(i) for i in items], ctx=ast.Load())


def list_comp(element: Code, var: str, iterable: Code) -> ast.ListComp:
    """``[element for var in iterable]``."""
    target = ast.Name(id=ref(var).id, ctx=ast.Store())
    return ast.ListComp(elt=element, generators=[ast.comprehension(target=target, iter=iterable, ifs=[], is_async=0)])


def names_in(node: ast.AST) -> set[str]:
    """Every name an expression reads."""
    return {n.id for n in walk(node) if isinstance(n, ast.Name)}
