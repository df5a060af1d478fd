"""The IR between the two halves of the shapes pass: one unit elaborated, not yet typed.

:func:`~vibench.compiler.elaborate.elaborate` turns a :class:`~vibench.compiler.ir.UnitDef` and one set
of parameter values and compile-time dimensions into an :class:`Elaborated` unit: every ``let:``,
``when:``, ``repeat:``, ``for_each:``, ``with:`` and ``inherit:`` evaluated, so each node is a list of
copies, each a block with concrete parameter values (not yet validated). No tensor type exists yet
except the unit's declared inputs. :func:`~vibench.compiler.unit_builder.typecheck` then binds ports,
validates parameters and runs shape rules over it, and gives the :class:`~vibench.compiler.ir.Unit`.

Both are frozen; :func:`verify_elaborated` checks the invariants the type checker relies on (the
tests run it after every elaboration). The module also holds the helpers both halves share:
:class:`Failed`, an input's declared dimensions, the nodes live for the active outputs, ``freeze``.
"""

from __future__ import annotations

import keyword
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from vibench.compiler.diagnostics import Diagnostic, clip, one_of, suggest
from vibench.compiler.expr import ExprError, Unknown, evaluate_value
from vibench.compiler.fast_init import fast_init
from vibench.compiler.ir import NodeDef, OutputDef, Pos, Ref, SpecValue, Template, TensorType, UnitDef, ValueRef

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block

Refs = list[tuple[str | None, ValueRef, Pos | None]]  # a node's inputs, resolved: (port or None, value, where)
Ports = list[tuple[str, ValueRef, Pos | None]]  # the same bound to the block's ports
Mode = Literal["one", "repeat", "each", "off"]  # one copy; a chain of copies; copies side by side; switched off
EnvValue: TypeAlias = "SpecValue | Unknown"  # a value in a unit: a parameter, `let` or dimension (Unknown: free)


class Failed(Exception):
    """A node (or the block it uses) failed; the diagnostics are already collected."""


@fast_init
@dataclass(frozen=True, slots=True)
class ElabCopy:
    """One copy of a node: its block, and its parameter values with ``${...}`` evaluated (not yet
    validated) and where each was set (a bad value is reported there)."""

    block: Block | UnitDef
    block_name: str  # as the spec names it (a `for_each` over block names gives each copy its own)
    values: Mapping[str, SpecValue]
    positions: Mapping[str, Pos | None]


@fast_init
@dataclass(frozen=True, slots=True)
class ElabNode:
    """One node of the concrete graph, in the unit's order.

    ``mode`` "off" (``when: false``, ``repeat: 0``): no copies; the node's value is its first input.
    "one": one copy. "repeat": copies chained through their one input. "each": copies side by side
    (``for_each`` over a list); a ``for_each`` over a mapping gives one "one" node per key instead,
    named by the key (the unit's ``groups`` lists them)."""

    nd: NodeDef
    refs: tuple[tuple[str | None, Ref, Pos | None], ...]  # `in:` as written, less switched-off `port: input`s
    mode: Mode
    copies: tuple[ElabCopy, ...]

    @property
    def name(self) -> str:
        return self.nd.name


@dataclass(frozen=True)
class Elaborated:
    """A unit with one set of parameters elaborated (see the module docstring)."""

    udef: UnitDef
    params: Mapping[str, SpecValue]
    concrete: Mapping[str, int]  # the input dimensions known at compile time
    env: Mapping[str, EnvValue]  # parameters, `let:` values and input dimensions (``Unknown`` when free)
    inputs: tuple[tuple[str, TensorType], ...]  # the active inputs, typed from their declarations
    inactive_inputs: frozenset[str]  # inputs whose `when` is false
    outputs: tuple[OutputDef, ...]  # the active outputs
    nodes: tuple[ElabNode, ...]
    groups: Mapping[str, tuple[str, ...]]  # `for_each` over a mapping: the node as written -> its keys
    failed: frozenset[str]  # nodes whose elaboration failed (their diagnostics are collected)
    broken: bool  # the unit failed outside its nodes (e.g. `metadata:`); typing still reports its nodes
    inherited: frozenset[str]  # parameters some `inherit: true` node passed on
    metadata: SpecValue = None  # `metadata:` evaluated


def verify_elaborated(unit: Elaborated) -> None:
    """The invariants :func:`~vibench.compiler.unit_builder.typecheck` relies on (used by the tests
    after every elaboration): node names are unique and never shadow an input; every input a node
    reads is an input of the unit or an earlier node (or group); a node is switched off exactly when
    it has no copies, and a single copy is one copy; each copy's values have their positions."""
    seen = {name for name, _ in unit.inputs} | set(unit.inactive_inputs)
    groups = dict(unit.groups)
    for node in unit.nodes:
        assert node.name not in seen, f"{node.name}: duplicate or shadowing name"
        for _, ref, _ in node.refs:
            assert ref.node in seen or ref.node in groups or ref.node in unit.failed, \
                f"{node.name} reads {ref} before it exists"
        assert (node.mode == "off") == (not node.copies), f"{node.name}: a switched-off node has no copies"
        assert node.mode != "one" or len(node.copies) == 1, f"{node.name}: one copy"
        for copy in node.copies:
            assert set(copy.values) <= set(copy.positions), f"{node.name}: a value without its position"
        seen.add(node.name)
    for name, keys in groups.items():
        assert all(k in seen for k in keys), f"group {name}: a key's node is missing"
    assert unit.failed or unit.broken or unit.outputs, f"{unit.udef.name}: no active output"


class LayoutError(ValueError):
    """An input's `layout:` gives neither BLC nor BCL (the message: what it gives)."""


def declared_dims(decl: Any, params: Mapping[str, Any]) -> list[Any]:
    """An input's declared dims (ints, symbol names, templates); a whole-shape template is evaluated
    with the parameters (ExprError / ValueError when it does not give a list of dims; LayoutError when
    the `layout:` is neither BLC nor BCL)."""
    if not isinstance(decl.shape, Template):  # a name of a parameter or `let` reads it (a symbol otherwise)
        dims = [params[d] if isinstance(d, str) and _is_size(params.get(d)) else d for d in decl.shape]
        return _laid_out(decl, dims, params)
    value = evaluate_value(decl.shape, dict(params))
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"`{decl.shape.text}` gives {value!r}, not a list of dimensions")
    out: list[Any] = []
    for k, d in enumerate(value):  # (said by position: "dimension 0" would read as the first, not a size of 0)
        if isinstance(d, bool) or not isinstance(d, (int, str)):
            raise ValueError(f"the entry at position {k}, {d!r}, is neither an integer nor a symbol name")
        if isinstance(d, int) and d < 1:
            raise ValueError(f"the size at position {k} is {d}, not a positive integer")
        if isinstance(d, str) and (not d.isidentifier() or keyword.iskeyword(d)):
            raise ValueError(f"the entry at position {k}, {d!r}, is not a symbol name")
        out.append(d)
    return _laid_out(decl, out, params)


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _laid_out(decl: Any, dims: list[Any], params: Mapping[str, Any]) -> list[Any]:
    """``dims`` written channels-last, in the order the input's `layout:` says the caller passes."""
    layout = getattr(decl, "layout", None)
    if layout is None:
        return dims
    value = evaluate_value(layout, dict(params)) if isinstance(layout, Template) else layout
    if value not in ("BLC", "BCL"):
        raise LayoutError(clip(repr(value), 80))
    if len(dims) != 3:
        raise ValueError(f"with a layout its shape is [B, L, C], found {len(dims)} dimensions")
    return [dims[0], dims[2], dims[1]] if value == "BCL" else dims


def live_nodes(udef: UnitDef, outputs: list[OutputDef]) -> set[str]:
    """Nodes some active output depends on (by name, through `in:`)."""
    by_name = {n.name: n for n in udef.nodes}
    live: set[str] = set()
    stack = [o.ref.node for o in outputs]
    while stack:
        name = stack.pop()
        if name in live or name not in by_name:
            continue
        live.add(name)
        stack.extend(ref.node for _, ref in by_name[name].inputs)
    return live


def ref_problem(ref: Ref, node: str | None, groups: Mapping[str, tuple[str, ...]], inactive: frozenset[str],
                off: Container[str]) -> Diagnostic | None:
    """E405 when ``ref`` names a value that the elaborated graph does not have: a switched-off input, a
    port of a switched-off node, or a `for_each` group as a whole (``node`` reads it; None: an output)."""
    name = ref.node
    if name in groups:
        return group_problem(ref, node, groups[name])
    if name in inactive:
        return Diagnostic("E405", f"input `{name}` is switched off (its `when` is false)", ref.pos, node=node,
                          hint="switch this node off too, or feed it another value")
    if name in off and ref.port is not None:
        return Diagnostic("E405", f"`{name}` is switched off (`when`/`repeat: 0`), so it has no port `{ref.port}`",
                          ref.pos, node=node, hint=f"read it as `{name}`: a switched-off node passes its input through")
    return None


def each_inputs_problem(nd: NodeDef, taken: list[list[str]]) -> Diagnostic | None:
    """E405 when the copies of `for_each` node ``nd`` over a list take different inputs (``taken``: each copy's
    ports switched on for its values): model.py calls them side by side with one list of arguments (a
    `for_each` over a mapping makes a node per key, each called alone)."""
    k = next((k for k, ports in enumerate(taken) if ports != taken[0]), 0)
    if not k:
        return None
    shown = [", ".join(f"`{p}`" for p in taken[j]) or "nothing" for j in (0, k)]
    return Diagnostic("E405", f"the copies of a `for_each` over a list take different inputs: copy 0 takes "
                      f"{shown[0]}; copy {k} takes {shown[1]}", nd.pos, node=nd.name,
                      hint="use a mapping (`for_each: {name: value, ...}`: a node per key, each with the inputs it "
                      "takes), or switch the same inputs on in every copy")


def output_count(block: Block | UnitDef) -> int:
    return len(block.outputs)


LIMIT_HINT = ("if the model really is this large, raise the limit with --max-nodes (max_nodes= in the API); "
              "otherwise check the `repeat`/`for_each` values")


def expr_diag(err: ExprError, pos: Pos | None, where: str, node: str | None = None) -> Diagnostic:
    return Diagnostic("E203" if err.syntax else "E204", f"{err.message} in {where}", pos, node=node,
                      found=err.text or None, hint=err.hint)


FreezeMemo: TypeAlias = "dict[int, tuple[Any, Any, int]]"  # id of a list or mapping -> (it, its key, values it holds)


def freeze(params: Mapping[str, Any], memo: FreezeMemo | None = None) -> tuple[Any, ...]:
    """``params`` (parameter name -> value) as a hashable key: the names sorted, as their order is no part of
    the model (a default that reads another parameter binds it first, so equal settings come in several
    orders, and a unit is specialised once for them); each value by :func:`_frozen`, where a mapping keeps
    its keys' order, which is the model's (the order of per-system heads and their state_dict keys).

    ``memo``: the keys of the large lists and mappings frozen so far in this compilation, by the object's
    identity (a compilation's values are never changed in place). The copies of a `repeat` node share their
    values' objects, so each copy's use of a list of a million items is a lookup, not a walk of it (300 copies
    of such a list took over 100 s).

    >>> freeze({"b": {"2": 5, "1": 3}, "a": 1.0}) == freeze({"a": 1.0, "b": {"2": 5, "1": 3}})
    True
    >>> freeze({"b": {"2": 5, "1": 3}}) == freeze({"b": {"1": 3, "2": 5}})
    False
    >>> freeze({"m": {1: 5}}) == freeze({"m": {True: 5}}) or freeze({"s": 0.0}) == freeze({"s": -0.0})
    False
    """
    if not params:  # (a block without parameters, most of a chain's nodes: 0.38 -> 0.10 us)
        return ()
    # ``str``: a name of another type (none reaches here: E102) is ordered too rather than raise.
    named = sorted(params.items(), key=lambda item: str(item[0]))
    return tuple([(name, v if v.__class__ in _PLAIN else _frozen(v, memo)[0]) for name, v in named])


def _frozen(value: Any, memo: FreezeMemo | None) -> tuple[Any, int]:
    """``value`` as a hashable key that tells apart every two values the language does, and its size (itself and
    the values it holds at any depth, a mapping's keys too). 1, 1.0 and True are three values, also as a
    mapping's keys (`{1: 5}` and `{true: 5}`, of which a `dict[int, int]` takes one); so are 0.0 and -0.0
    (`str()` tells them apart), and a list and a mapping. A mapping's keys count in their order (keys of mixed
    types, `{1: 3, "2": 5}`, are never compared). A list or mapping of :data:`_SHARED_SIZE` values or more is
    memoised in ``memo`` (see :func:`freeze`) and its key hashed once."""
    kind = value.__class__
    if kind in _PLAIN:  # the common case first
        return value, 1
    if isinstance(value, bool):
        return ("__bool__", value), 1
    if isinstance(value, float):  # (its hex text: -0.0 is not 0.0, and every NaN is one value, as `str()` says)
        return ("__float__", value.hex()), 1
    if not isinstance(value, (dict, list, tuple)):
        return value, 1  # (an object of the compiler's own, a symbolic size: hashed and compared as itself)
    if memo is not None:
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1], hit[2] + 1
    size = 1
    parts: list[Any] = ["__dict__" if isinstance(value, dict) else "__list__"]
    if isinstance(value, dict):
        for k, v in value.items():
            fk, nk = (k, 1) if k.__class__ in _PLAIN else _frozen(k, memo)
            fv, nv = (v, 1) if v.__class__ in _PLAIN else _frozen(v, memo)
            parts.append((fk, fv))
            size += nk + nv
    else:
        for v in value:
            fv, nv = (v, 1) if v.__class__ in _PLAIN else _frozen(v, memo)
            parts.append(fv)
            size += nv
    if size < _SHARED_SIZE:
        return tuple(parts), size
    key = _HashedKey(tuple(parts))
    if memo is not None:
        memo[id(value)] = (value, key, size - 1)  # (the value kept: its id is not reused while the entry is)
    return key, size


_PLAIN = frozenset({str, int, type(None)})  # values that are their own key
_SHARED_SIZE = 64  # a list or mapping of this size or more is memoised by identity


class _HashedKey:
    """The key of a large list or mapping, hashed once: a tuple's hash walks all of it at every lookup. Whether a
    value's key is one depends only on its size, so equal values have equal keys."""

    __slots__ = ("parts", "hash")

    def __init__(self, parts: tuple[Any, ...]) -> None:
        self.parts = parts
        self.hash = hash(parts)

    def __hash__(self) -> int:
        return self.hash

    def __reduce__(self) -> tuple[type[_HashedKey], tuple[tuple[Any, ...]]]:
        return _HashedKey, (self.parts,)  # (hashed again where unpickled: a str's hash differs between processes)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return isinstance(other, _HashedKey) and self.hash == other.hash and self.parts == other.parts


def group_problem(ref: Ref, node: str | None, keys: tuple[str, ...]) -> Diagnostic | None:
    """E405 when ``ref`` reads `for_each` group ``ref.node`` other than as ``group.key`` (``node`` reads it;
    None: an output): the group as a whole, a key it does not have, or a port of a copy (``group.key.port``:
    a copy gives one value, its block's one output, so no port of it is read by name)."""
    name = ref.node
    key, dot, port = (ref.port or "").partition(".")
    if key in keys and not dot:
        return None
    if key in keys:
        return Diagnostic("E405", f"`{name}.{key}` is one value (a `for_each` copy gives one); it has no port "
                          f"`{port}`", ref.pos, node=node, expected=f"`{name}.{key}`", found=f"`{name}.{ref.port}`",
                          hint=f"read it as `{name}.{key}`, its block's one output (a block with several outputs "
                          "is not copied by `for_each`)")
    return Diagnostic("E405", f"`{name}` is one node per key; read one as `{name}.<key>`", ref.pos, node=node,
                      expected="one of " + one_of(keys),
                      hint=suggest(key, keys) or f"or return them all: `from: {name}.*`")
