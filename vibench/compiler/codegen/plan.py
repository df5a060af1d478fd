"""What each node of one specialised unit contributes to its class: a :class:`Slot`.

A slot holds the node's constructor expressions (one per copy) and the expression its forward line
evaluates, with placeholders where the emitter later puts variables (``_vb_in0``...) and the
submodule (``_vb_mod``). A composite copy's constructor is a :class:`Child` node, replaced by a
call of the child's class once the classes are known (:mod:`vibench.compiler.codegen.structure`).

Each constant of a primitive's constructor is mapped to the block parameter it came from by
re-running ``init_code`` with that parameter perturbed (:func:`field_positions`), so the emitter
can write the spec's own expression for it (``out_channels=channels``) without the blocks having
to say which literal is which.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from vibench.compiler import plugin_calls, registry
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.ir import Instance, Node, Unit, ValueRef
from vibench.compiler.plugin_calls import PluginFailure, is_plugin

IN = "_vb_in"
MOD = "_vb_mod"


class Child(ast.expr):
    """Placeholder for the constructor call of a composite copy (its class is decided later)."""

    _fields = ()

    def __init__(self, unit: Unit | None = None) -> None:
        super().__init__()
        self.unit = unit


@dataclass
class Slot:
    """One node of a unit as code."""

    name: str
    node: Node
    block: Block | None  # None for composites
    ctors: list[ast.expr]  # one per copy (a Child for composites); empty when the node has no module
    call: ast.expr  # the forward expression, with IN<k> for its inputs and MOD for its module
    inplace: ast.expr | None = None  # the in-place form of ``call`` (activations), if any
    fields: list[dict[tuple, str]] = field(default_factory=list)  # per copy: constant position -> parameter
    # `repeat` whose copies' calls differ (of a block without a module, or with one whose forward expression
    # depends on the copy): each copy's call; with modules, copy k's MOD is the container's item k.
    chain: list[ast.expr] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.node.parallel:
            return "parallel"
        if self.node.repeated and self.chain:
            return "chain"
        if self.node.repeated:
            return "repeat"
        return "module" if self.ctors else "function"

    def __post_init__(self) -> None:
        self.inputs: tuple[ValueRef, ...] = tuple(v for _, v in self.node.inputs)
        call = self.call
        self.plain = (  # the forward expression is ``module(input)``
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == MOD
            and len(call.args) == 1
            and not call.keywords
            and isinstance(call.args[0], ast.Name)
            and call.args[0].id == f"{IN}0"
        )

    @functools.cached_property
    def code_key(self) -> str:
        """The forward expressions as text (equal keys: the same forward line)."""
        return ast.dump(self.call) + ("" if self.inplace is None else ast.dump(self.inplace)) + "".join(
            ast.dump(x) for x in self.chain)


@dataclass
class UnitPlan:
    unit: Unit
    slots: dict[str, Slot]  # in node order


def written_alike(copies: list[ast.expr]) -> bool:
    """Three or more copies written the same (and reading no loop variable): one comprehension,
    ``[copy for _ in range(n)]``, reads better than the list."""
    if len(copies) < 3 or {"_", "i"} & c.names_in(copies[0]):
        return False
    text = ast.dump(copies[0])
    return all(ast.dump(x) == text for x in copies[1:])


def container_of(slot: Slot) -> str:
    """The list that holds a node's copies: parameters (a learned table) go in an ``nn.ParameterList``."""
    parameters = slot.block is not None and slot.block.init_kind == "parameter"
    return "nn.ParameterList" if parameters else "nn.ModuleList"


def inferred_fields(slot: Slot, k: int) -> frozenset[str]:
    """The parameters of a primitive copy that shape inference fills in (``in_channels``: no default)."""
    if slot.node.kind == "composite" or k >= len(slot.node.copies):
        return frozenset()
    params = slot.node.copies[k].params
    if not isinstance(params, BaseModel):
        return frozenset()
    return _unset_fields(type(params))


@functools.lru_cache(maxsize=512)
def _unset_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if f.default is None and not f.is_required())


def placeholders(n: int) -> list[ast.expr]:
    return [c.ref(f"{IN}{k}") for k in range(n)]


def plan_unit(unit: Unit, built: dict[Any, Any] | None = None) -> UnitPlan:
    """The slots of a unit. ``built``: the code already built for a block and parameters (by
    :func:`_slot`), shared by the units of one grouping; the trees in it are shared, never changed."""
    built = {} if built is None else built
    slots: dict[str, Slot] = {}
    for node in unit.nodes:
        try:
            slots[node.name] = _slot(node, built)
        except PluginFailure as failure:  # a plug-in block's code raised or is not code nodes: E114 at the node
            raise SpecError([failure.diagnostic(node.pos, node.name)]) from None
    return UnitPlan(unit, slots)


def _slot(node: Node, built: dict[Any, Any]) -> Slot:
    if node.kind == "composite":
        args = placeholders(len(node.inputs))
        ctors: list[ast.expr] = [Child(copy.unit) for copy in node.copies if copy.unit is not None]
        return Slot(node.name, node, None, ctors, c.call(c.ref(MOD), *args[:1] if node.repeated else args))
    # Nodes built alike share their instances (a chain's layers share a few): what a slot holds besides its node
    # is made once per instances and form (plan_unit of 10,000 nodes: 57 -> 23 ms); the entry holds the instances.
    n = 1 if node.repeated else len(node.inputs)
    key = ("slot", tuple(map(id, node.copies)), node.block, node.repeated, node.parallel, n)
    known = built.get(key)
    if known is None:
        parts, shared = _slot_parts(node, n, built)
        if not shared:  # (code built for this node alone: so is its slot)
            return Slot(node.name, node, *parts)
        known = built[key] = (node.copies, parts)
    return Slot(node.name, node, *known[1])


def _slot_parts(node: Node, n: int, built: dict[Any, Any]) -> tuple[tuple[Any, ...], bool]:
    """The fields of a primitive node's slot after its name and node (block, ctors, call, inplace, fields, chain),
    and whether its code is shared (every copy's built per block and parameters, see :func:`_code_of`)."""
    blocks = [_block(copy.block or node.block) for copy in node.copies]
    made = [_code_of(b, copy, built) for b, copy in zip(blocks, node.copies, strict=True)]
    codes = [code for code, _ in made]
    shared = all(keyed for _, keyed in made)
    ctors = [code.ctor for code in codes if code.ctor is not None]
    fields = [code.fields for code in codes if code.ctor is not None]
    if (node.repeated or node.parallel) and not ctors:  # copies without modules: one line each in forward
        chain = [code.calls(n, False)[0] for code in codes]
        return (blocks[0], [], chain[0], None, [], chain), shared
    call, inplace = codes[0].calls(n, not (node.repeated or node.parallel))
    if (node.repeated or node.parallel) and len(ctors) == len(codes) > 1 and any(c is not codes[0] for c in codes):
        calls = [code.calls(n, False)[0] for code in codes]  # (equal parameters share one code: one call)
        if any(ast.dump(other) != ast.dump(calls[0]) for other in calls[1:]):
            # Copies whose forward expressions differ (a `dim` computed from `i` or `item`): a line per copy,
            # each with its own module; one `nn.Sequential`, loop or call would run copy 0's expression for all.
            return (blocks[0], ctors, calls[0], None, fields, calls), shared
    return (blocks[0], ctors, call, inplace, fields, []), shared


class _Code:
    """The code of one block with one set of parameters: its constructor (torch's defaults put back,
    see ``code.full``) with the literal positions of its parameters, and its forward expressions. Built
    once per grouping for the nodes that share them; the trees are shared and never changed."""

    def __init__(self, block: Block, copy: Instance) -> None:
        self.block = block
        self.params = copy.params
        made = _init_code(block, copy.params)
        self.ctor: ast.expr | None = None if made is None else c.full(made)
        self.fields = {} if made is None else field_positions(block, copy)
        self._calls: dict[tuple[int, bool], tuple[ast.expr, ast.expr | None]] = {}

    def calls(self, n: int, inplace: bool) -> tuple[ast.expr, ast.expr | None]:
        """The forward expression with ``n`` inputs and (when asked) its in-place form."""
        if (n, inplace) not in self._calls:
            args, mod = placeholders(n), c.ref(MOD)
            self._calls[n, inplace] = (
                _call_code(self.block, self.params, args, mod),
                _inplace_code(self.block, self.params, args, mod) if inplace else None,
            )
        return self._calls[n, inplace]


def _code_of(block: Block, copy: Instance, built: dict[Any, Any]) -> tuple[_Code, bool]:
    """The code of one copy, and whether it is shared (built per block and parameters: those are hashable)."""
    key = _key(block, copy)
    if key is None:
        return _Code(block, copy), False
    code = built.get(key)
    if code is None:
        code = built[key] = _Code(block, copy)
    return code, True


def _key(block: Block, copy: Instance) -> Any:
    """What a block's code depends on: its parameters, and the types inside them (``1``, ``1.0`` and
    ``True`` are equal but written differently, and so are ``0.0`` and ``-0.0``); None when the
    parameters are not a hashable pydantic model (then the code is built for each node)."""
    params = copy.params
    if not isinstance(params, BaseModel):
        return None
    try:
        hash(params)
    except TypeError:
        return None
    values = params.__dict__.values()
    kinds = tuple(map(type, values))
    if not _SCALARS.issuperset(kinds):
        kinds = tuple(k if k in _SCALARS else _types(v) for k, v in zip(kinds, values, strict=True))
    return block.name, params, kinds


_SCALARS = frozenset({int, bool, str, type(None)})  # floats are told apart by their text (-0.0 == 0.0)


def _types(value: Any) -> Any:
    if isinstance(value, float | complex):  # the common case (a norm's `eps`, a dropout's `p`) first
        return type(value), repr(value)
    if isinstance(value, BaseModel):
        return type(value), tuple(_types(v) for v in value.__dict__.values())
    if isinstance(value, (tuple, list)):
        return type(value), tuple(_types(v) for v in value)
    if isinstance(value, dict):
        # the keys themselves, in order: equal mappings written in another order build another model
        # (per-system heads, their state_dict keys), which pydantic's equality does not tell apart
        return dict, tuple((k, _types(k), _types(v)) for k, v in value.items())
    return type(value)


def _block(name: str) -> Block:
    block = registry.get(name)
    if block is None:  # pragma: no cover - the shapes pass resolved every block
        raise RuntimeError(f"block `{name}` vanished from the registry (this is a bug)")
    return block


# --------------------------------------------------------------------------------------------
# which literal came from which parameter
# --------------------------------------------------------------------------------------------


def constant_value(e: ast.AST) -> tuple[bool, Any]:
    """``(True, value)`` when ``e`` is a literal (possibly nested in lists, tuples, dicts), else ``(False, None)``."""
    if isinstance(e, ast.Constant):
        return True, e.value
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant):
        return True, -e.operand.value  # type: ignore[operator]  # a number: the emitter writes no other
    if isinstance(e, ast.List | ast.Tuple):
        items = [constant_value(x) for x in e.elts]
        if all(ok for ok, _ in items):
            values = [v for _, v in items]
            return True, values if isinstance(e, ast.List) else tuple(values)
        return False, None
    if isinstance(e, ast.Dict):
        keys = [constant_value(k) if k is not None else (False, None) for k in e.keys]
        values = [constant_value(v) for v in e.values]
        if all(ok for ok, _ in keys) and all(ok for ok, _ in values):
            return True, {k: v for (_, k), (_, v) in zip(keys, values, strict=True)}
        return False, None
    if (
        isinstance(e, ast.Call)
        and isinstance(e.func, ast.Name)
        and e.func.id == "float"
        and len(e.args) == 1
        and isinstance(e.args[0], ast.Constant)
        and isinstance(e.args[0].value, str)
    ):
        return True, float(e.args[0].value)
    return False, None


def leaves(e: ast.AST, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every maximal literal of a tree with its path (field names and list indexes from the root)."""
    ok, value = constant_value(e)
    if ok:
        return [(path, value)]
    out: list[tuple[tuple, Any]] = []
    for name in e._fields:
        child = getattr(e, name, None)
        if isinstance(child, ast.AST):
            if not isinstance(child, ast.expr_context):
                out += leaves(child, path + (name,))
        elif isinstance(child, list):
            for k, item in enumerate(child):
                if isinstance(item, ast.AST):
                    out += leaves(item, path + (name, k))
    return out


def _perturbed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7919
    if isinstance(value, float):
        return value + 0.123456789
    return None


def field_positions(block: Block, copy: Instance) -> dict[tuple, str]:
    """Constructor literal position -> the block parameter whose value it is (when exactly one is)."""
    key = _key(block, copy)
    if key is None:  # parameters holding a mapping or a list: not memoised
        return _positions(block, copy.params)
    return _cached_positions(*key)


@functools.lru_cache(maxsize=4096)
def _cached_positions(name: str, params: Any, kinds: Any) -> dict[tuple, str]:
    """``kinds``: :func:`_key`'s, so that equal parameters of other types or key orders are told apart."""
    return _positions(_block(name), params)


def _positions(block: Block, params: Any) -> dict[tuple, str]:
    base = _init_code(block, params)
    if base is None:
        return {}
    before = dict(leaves(c.full(base)))
    owners: dict[tuple, list[str]] = {}
    for name in type(params).model_fields:
        value = getattr(params, name)
        probe = _perturbed(value)
        if probe is None:
            continue
        try:
            after = _init_code(block, params.model_copy(update={name: probe}))
        except Exception:  # noqa: BLE001 - a perturbed value the block cannot take maps nothing
            continue
        if after is None:
            continue
        for path, new in leaves(c.full(after)):
            if path in before and before[path] != new and new == probe and before[path] == value:
                owners.setdefault(path, []).append(name)
    return {path: names[0] for path, names in owners.items() if len(names) == 1}


# -- the blocks' code: a plug-in's checked ------------------------------------------------------


def _init_code(block: Block, params: Any) -> ast.expr | None:
    """The expression building the node's submodule (None: it has none). A plug-in block's is checked to be
    code nodes (:mod:`vibench.compiler.plugin_calls`): text is refused, never parsed."""
    if is_plugin(block):
        return plugin_calls.optional_code(block, "init_code", params)
    return block.init_code(params)


def _call_code(block: Block, p: Any, args: list[ast.expr], mod: ast.expr) -> ast.expr:
    if is_plugin(block):
        return plugin_calls.code(block, "call_code", p, args, mod)
    return block.call_code(p, args, mod)


def _inplace_code(block: Block, p: Any, args: list[ast.expr], mod: ast.expr) -> ast.expr | None:
    if is_plugin(block):
        return plugin_calls.optional_code(block, "inplace_code", p, args, mod)
    return block.inplace_code(p, args, mod)
