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

from vibench.compiler import registry
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import Instance, Node, Unit, ValueRef

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
    chain: list[ast.expr] = field(default_factory=list)  # `repeat` of a block without a module: each copy's call

    @property
    def kind(self) -> str:
        if self.node.parallel:
            return "parallel"
        if self.node.repeated and self.chain:
            return "chain"
        if self.node.repeated:
            return "repeat"
        return "module" if self.ctors else "function"

    @property
    def plain(self) -> bool:
        """The forward expression is ``module(input)``."""
        call = self.call
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == MOD
            and len(call.args) == 1
            and not call.keywords
            and isinstance(call.args[0], ast.Name)
            and call.args[0].id == f"{IN}0"
        )

    @property
    def inputs(self) -> tuple[ValueRef, ...]:
        return tuple(v for _, v in self.node.inputs)

    @functools.cached_property
    def code_key(self) -> str:
        """The forward expressions as text (equal keys: the same forward line)."""
        return ast.dump(self.call) + ("" if self.inplace is None else ast.dump(self.inplace)) + "".join(
            ast.dump(x) for x in self.chain)


@dataclass
class UnitPlan:
    unit: Unit
    slots: dict[str, Slot]  # in node order


def placeholders(n: int) -> list[ast.expr]:
    return [c.ref(f"{IN}{k}") for k in range(n)]


def plan_unit(unit: Unit) -> UnitPlan:
    slots: dict[str, Slot] = {}
    for node in unit.nodes:
        slots[node.name] = _slot(node)
    return UnitPlan(unit, slots)


def _slot(node: Node) -> Slot:
    args = placeholders(len(node.inputs))
    mod = c.ref(MOD)
    if node.kind == "composite":
        ctors: list[ast.expr] = [Child(copy.unit) for copy in node.copies if copy.unit is not None]
        return Slot(node.name, node, None, ctors, c.call(mod, *args[:1] if node.repeated else args))
    blocks = [_block(copy.block or node.block) for copy in node.copies]
    block = blocks[0]
    ctors = []
    fields = []
    for b, copy in zip(blocks, node.copies, strict=True):
        made = _code(b.init_code(copy.params))
        if made is not None:
            ctors.append(c.full(made))
            fields.append(field_positions(b, copy))
    first = node.copies[0].params
    if (node.repeated or node.parallel) and not ctors:  # copies without modules: one line each in forward
        ins = args[:1] if node.repeated else args
        chain = [_call_code(b, copy.params, ins, mod) for b, copy in zip(blocks, node.copies, strict=True)]
        return Slot(node.name, node, block, [], chain[0], None, [], chain)
    call = _call_code(block, first, args[:1] if node.repeated else args, mod)
    inplace = None if node.repeated or node.parallel else block.inplace_code(first, args, mod)
    return Slot(node.name, node, block, ctors, call, inplace, fields)


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
    try:
        hash(copy.params)
    except TypeError:  # parameters holding a mapping or a list: not memoised
        return _positions(block, copy.params)
    return _cached_positions(block.name, copy.params)


@functools.lru_cache(maxsize=4096)
def _cached_positions(name: str, params: Any) -> dict[tuple, str]:
    return _positions(_block(name), params)


def _positions(block: Block, params: Any) -> dict[tuple, str]:
    base = _code(block.init_code(params))
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
            after = _code(block.init_code(params.model_copy(update={name: probe})))
        except Exception:  # noqa: BLE001 - a perturbed value the block cannot take maps nothing
            continue
        if after is None:
            continue
        for path, new in leaves(c.full(after)):
            if path in before and before[path] != new and new == probe and before[path] == value:
                owners.setdefault(path, []).append(name)
    return {path: names[0] for path, names in owners.items() if len(names) == 1}


# -- transition: blocks whose code generation still returns text -------------------------------


def _code(made: Any) -> Any:
    if isinstance(made, str):
        return ast.parse(made, mode="eval").body
    return made


def _call_code(block: Block, p: Any, args: list[ast.expr], mod: ast.expr) -> ast.expr:
    made: Any
    try:
        made = block.call_code(p, args, mod)
    except (TypeError, AttributeError, ValueError):
        made = ""
    if isinstance(made, str):
        made = block.call_code(p, [a.id for a in args], MOD)  # type: ignore[arg-type,attr-defined]
        return ast.parse(made, mode="eval").body
    return made  # type: ignore[no-any-return]
