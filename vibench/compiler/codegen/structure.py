"""From specialised units to parameterised classes: one class per composite *structure*.

The shapes pass specialises a composite once per use (parameters + the input sizes its body needs
as numbers), which keeps shape checking exact. model.py instead gets one class per structure, the
way a person writes it: uses whose code differs only in literals share a class, and the literals
that differ become ``__init__`` arguments (``BasicBlock(in_channels, channels, stride)``).

1. :func:`group` puts each unit into the first structure of its definition whose code matches
   (:mod:`unify`); a node switched off by ``when`` in some uses is kept when it is a plain
   one-input module and its condition can be written in Python (it becomes ``nn.Identity()``
   there); anything else that differs starts another structure. Past a few structures of one
   definition, a unit is tried only against those that share its
   :func:`~vibench.compiler.codegen.class_keys.class_key` (no other can take it), at most
   :data:`~vibench.compiler.codegen.class_keys.MAX_CLASS_TRIES` of them.
2. :func:`thread` marks, top-down, the parameters that carry the model's *free* parameters (those
   the emitted model class accepts other values of) so their values stay expressions all the way.
3. :func:`explain_structure`, bottom-up, writes every constructor: a literal that differs between
   uses — or that carries a free parameter — is written as the spec's own expression when that
   reproduces every use (``4 * channels``), else as a formula found by search, else as a new
   argument. The class's arguments are the names those expressions read. A second pass writes a
   literal that is the same in every use as the spec's expression too when that reads only those
   arguments (``cout``, not ``25``), and an inferred size as the argument equal to it.
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibench.compiler.codegen.class_keys import ClassIndex
from vibench.compiler.codegen.plan import Child, Slot, UnitPlan, plan_unit
from vibench.compiler.codegen.unify import matches
from vibench.compiler.expr import ExprError, evaluate_value
from vibench.compiler.ir import NodeDef, Program, Template, Unit, UnitDef, ValueRef
from vibench.compiler.symbolic_errors import NeedConcrete

if TYPE_CHECKING:
    from vibench.compiler.codegen.formula import FormulaNames


@dataclass
class Arg:
    """One ``__init__`` argument of a class."""

    name: str  # the Python name
    spec: str  # the spec's name (a parameter, an input-size symbol) or the node parameter it replaces
    annotation: str
    default: Any = None
    has_default: bool = False
    doc: str | None = None
    symbol: bool = False  # an input size or a new argument (not a spec parameter a caller may set)


@dataclass
class Member:
    """``self.<attr> = <ctor>`` of one node."""

    slot: str
    ctor: ast.expr


@dataclass
class Structure:
    id: int
    definition: UnitDef | None
    plans: list[UnitPlan]
    rep: int = 0  # index of the plan that has every slot
    is_root: bool = False
    inline: bool = False  # a plain chain of layers: written at each use as nn.Sequential(OrderedDict(...))
    optional: dict[str, Any] = field(default_factory=dict)  # slot -> its `when` (spec form)
    name: str = ""
    forced: set[str] = field(default_factory=set)
    args: list[Arg] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)  # per unit: arg name -> value
    members: list[Member] = field(default_factory=list)
    every: set[str] | None = None  # the slots every use has (kept by _try_add; None: not counted yet)
    any: set[str] | None = None  # the slots some use has
    positions: dict[int, int] = field(default_factory=dict, repr=False)  # id(unit) -> its index (see position)
    comment_names: tuple[FormulaNames, dict[str, set[str]]] | None = field(default=None, repr=False)  # see comments

    @property
    def units(self) -> list[Unit]:
        return [p.unit for p in self.plans]

    def position(self, unit: Unit) -> int:
        """The index of one of this structure's units (by identity), from an index of them built once per
        number of uses (a scan per lookup is quadratic in the uses of a composite)."""
        if len(self.positions) != len(self.plans):
            self.positions = {id(p.unit): k for k, p in reversed(list(enumerate(self.plans)))}
        k = self.positions.get(id(unit))
        if k is None or self.plans[k].unit is not unit:
            raise KeyError(unit.name)
        return k

    @property
    def representative(self) -> UnitPlan:
        return self.plans[self.rep]

    def members_chainable(self) -> bool:
        for plan in self.plans:
            unit = plan.unit
            if len(unit.inputs) != 1 or len(unit.outputs) != 1 or not plan.slots:
                return False
            previous = ValueRef(unit.inputs[0][0], None)
            for slot in plan.slots.values():
                chained = slot.kind == "module" and slot.plain or slot.kind == "repeat" and (
                    slot.plain or slot.node.kind == "composite")
                if not chained or slot.node.checkpoint or slot.inputs != (previous,) or len(slot.node.outputs) != 1:
                    return False
                previous = ValueRef(slot.name, slot.node.outputs[0][0])
            if unit.outputs[0][1] != previous:
                return False
        return True


@dataclass
class Classes:
    """Every structure of a program, children first, and which structure each unit belongs to."""

    structures: list[Structure]
    of_unit: dict[tuple, Structure]
    root: Structure


def env_of(unit: Unit) -> dict[str, Any]:
    """The names a unit's expressions may read: its parameters, compile-time sizes and `let:` values."""
    env = {**dict(unit.params), **dict(unit.const_symbols)}
    if unit.definition is not None and unit.definition.lets:
        from vibench.compiler.lets import let_env

        env = let_env(unit.definition, env, partial=True)
    return env


# --------------------------------------------------------------------------------------------
# 1. grouping
# --------------------------------------------------------------------------------------------


def group(program: Program, plans: dict[int, UnitPlan] | None = None) -> Classes:
    """``plans``: a cache of the units' plans (by unit identity) shared by several groupings of one program."""
    structures: list[Structure] = []
    of_unit: dict[tuple, Structure] = {}
    cache = plans if plans is not None else {}
    built: dict[Any, Any] = {}  # code built per block and parameters, shared by the units' plans

    def plan_of(unit: Unit) -> UnitPlan:
        if id(unit) not in cache:
            cache[id(unit)] = plan_unit(unit, built)
        return cache[id(unit)]

    def child_class(child: Child) -> int | None:
        home = of_unit.get(child.unit.key) if child.unit is not None else None
        return None if home is None else home.id

    # Only the structures of the use's key can take it (see class_keys): a composite with many structures tries
    # each use against those of its key, not every one found before (quadratic in its distinct uses).
    index = ClassIndex(child_class, node_defs)
    match = _matcher(of_unit)
    for unit in program.units:
        plan = plan_of(unit)
        home = None
        candidates, key = index.candidates(plan)
        for s in candidates:
            if _try_add(s, plan, match):
                home = s
                break
        if home is None:
            home = Structure(len(structures), unit.definition, [plan])
            structures.append(home)
            index.add(home, key)
        of_unit[unit.key] = home
    root = Structure(len(structures), program.root.definition, [plan_of(program.root)], is_root=True)
    structures.append(root)
    of_unit[program.root.key] = root
    ordered = _children_first(root, of_unit)
    for s in ordered:
        s.inline = _chain_of_layers(s)
    return Classes(ordered, of_unit, root)


def _chain_of_layers(s: Structure) -> bool:
    """Is the block one input through a chain of layers to one output, every layer called on the
    previous one's value? Such a block reads best as ``nn.Sequential`` at its uses (as the references
    write shortcuts and decoders), not as a class of its own."""
    if s.is_root or s.optional or not s.members_chainable():
        return False
    return True


def _children_first(root: Structure, of_unit: dict[tuple, Structure]) -> list[Structure]:
    """Every structure after the structures its uses build (a structure joins its group when its
    first use is met, which can be before a child first used by a later use)."""
    order: list[Structure] = []
    seen: set[int] = set()

    def visit(s: Structure) -> None:
        if s.id in seen:
            return
        seen.add(s.id)
        for plan in s.plans:
            for slot in plan.slots.values():
                for copy in slot.node.copies:
                    if copy.unit is not None:
                        visit(of_unit[copy.unit.key])
        order.append(s)

    visit(root)
    return order


def _try_add(s: Structure, plan: UnitPlan, match: Callable[[ast.expr, ast.expr], bool]) -> bool:
    """Add ``plan`` to ``s`` if its code matches the structure's (see :func:`group`). Linear in the new plan's size
    and the structure's slots, not in its uses: the slot names every use has and any use has are kept up to
    date, and the uses already in ``s`` match its representative, so while that stays only the new use is
    checked (scanning the uses for each new one made 5,000 uses of one composite take over a minute)."""
    names = set(plan.slots)
    if s.every is None or s.any is None:
        s.every = set[str].intersection(*(set(p.slots) for p in s.plans))
        s.any = set().union(*(set(p.slots) for p in s.plans))
    union = s.any | names
    common = s.every & names
    old_rep = s.plans[s.rep]
    # The first use with the most slots represents the structure (`max` keeps the first of equals).
    rep = len(s.plans) if len(names) > len(old_rep.slots) else s.rep
    r = plan if rep == len(s.plans) else old_rep
    if set(r.slots) != union:
        return False
    plans = [*s.plans, plan]
    optional: dict[str, Any] = {}
    for name in sorted(union - common):  # (sorted: the `when` of each is looked up in the same order every run)
        known = rep == s.rep and name in s.optional  # checked for the uses already in s: only the new one is left
        when = _optional_condition(s.definition, plans, rep, name, [plan] if known else plans)
        if when is None:
            return False
        optional[name] = when
    optional = {name: optional.get(name, when) for name, when in s.optional.items()} | optional
    unchanged = rep == s.rep and optional.keys() == s.optional.keys()
    for p in [plan] if unchanged else plans:
        if p is r:
            continue
        if not _same_interface(r, p, optional):
            return False
        for name, slot in p.slots.items():
            if not _same_slot(r.slots[name], slot, match, r, p, optional):
                return False
    s.plans = plans
    s.rep = rep
    s.optional = optional
    s.every, s.any = common, union
    return True


def _matcher(of_unit: dict[tuple, Structure]) -> Callable[[ast.expr, ast.expr], bool]:
    """:func:`~vibench.compiler.codegen.unify.matches` of two constructors (children match in one class), each pair
    of trees compared once: nodes built alike share their trees (plan.py), so the uses of a class meet the same
    pairs again and again (n uses of a class holding a for_each of m copies compared n * m trees, each in full)."""
    known: dict[tuple[int, int], bool] = {}  # (the trees live in the grouping's plans: their ids stay theirs)

    def same_child(a: Child, b: Child) -> bool:
        return a.unit is not None and b.unit is not None and of_unit[a.unit.key] is of_unit[b.unit.key]

    def match(a: ast.expr, b: ast.expr) -> bool:
        if isinstance(a, Child) or isinstance(b, Child):  # (made for each copy: never met again)
            return matches(a, b, same_child)
        if a is b:  # (a primitive's constructor: it holds no child, and matches itself)
            return True
        key = (id(a), id(b))
        found = known.get(key)
        if found is None:
            found = known[key] = matches(a, b, same_child)
        return found

    return match


def _expected(ref: ValueRef, rep: UnitPlan, plan: UnitPlan) -> ValueRef:
    """What ``plan`` reads where ``rep`` reads ``ref`` (an absent optional slot passes its input through)."""
    while ref.node in rep.slots and ref.node not in plan.slots:
        ref = rep.slots[ref.node].inputs[0]
    return ref


def _same_interface(rep: UnitPlan, plan: UnitPlan, optional: dict[str, Any]) -> bool:
    a, b = rep.unit, plan.unit
    if [n for n, _ in a.inputs] != [n for n, _ in b.inputs]:
        return False
    if [n for n, _, _ in a.outputs] != [n for n, _, _ in b.outputs]:
        return False
    return all(_expected(ra, rep, plan) == rb for (_, ra, _), (_, rb, _) in zip(a.outputs, b.outputs, strict=True))


def _same_slot(a: Slot, b: Slot, match: Callable[[ast.expr, ast.expr], bool], rep: UnitPlan, plan: UnitPlan,
               optional: dict[str, Any]) -> bool:
    if a.kind != b.kind or a.node.block != b.node.block or a.node.kind != b.node.kind:
        return False
    if a.node.checkpoint != b.node.checkpoint:  # `checkpoint: save` of a composite's parameter: another forward
        return False
    if a.code_key != b.code_key:
        return False
    if [p for p, _ in a.node.outputs] != [p for p, _ in b.node.outputs]:
        return False
    if len(a.inputs) != len(b.inputs):
        return False
    if any(_expected(x, rep, plan) != y for x, y in zip(a.inputs, b.inputs, strict=True)):
        return False
    if a.kind == "repeat" and len(a.ctors) != len(b.ctors):
        pool = a.ctors + b.ctors  # a different number of copies: every copy must match every other
        return all(match(pool[0], x) for x in pool[1:])
    if len(a.ctors) != len(b.ctors):
        return False
    return all(match(x, y) for x, y in zip(a.ctors, b.ctors, strict=True))


def _optional_condition(definition: UnitDef | None, plans: list[UnitPlan], rep: int, name: str,
                        checked: list[UnitPlan]) -> Any:
    """The `when` of a node present in some uses only, if it can make the class (else None); ``checked``: the
    uses of ``plans`` whose presence of the node is left to compare with the condition."""
    if definition is None:
        return None
    nd = _node_def(definition, name)
    slot = plans[rep].slots[name]
    if nd is None or nd.when is None or len(slot.node.outputs) != 1:
        return None
    if not (slot.kind == "module" and slot.plain) and not (slot.kind == "function" and _sole_reader(plans[rep], slot)):
        return None
    for p in checked:
        try:
            present = evaluate_value(nd.when, env_of(p.unit))
        except (ExprError, NeedConcrete):
            return None
        if present is not (name in p.slots):
            return None
    return nd.when


def _sole_reader(plan: UnitPlan, slot: Slot) -> bool:
    """Does nothing but ``slot`` read its first input? Then an ``if`` around the slot's line keeps
    the variable right whether the line runs or not (it rewrites its input's variable)."""
    if not slot.inputs:
        return False
    first = slot.inputs[0]
    readers = sum(r == first for s in plan.slots.values() for r in s.inputs)
    readers += sum(r == first for _, r, _ in plan.unit.outputs)
    return readers == 1 and first.node in plan.slots and slot.inputs.count(first) == 1


def _node_def(definition: UnitDef, name: str) -> NodeDef | None:
    return node_defs(definition).get(name)


def node_defs(definition: UnitDef) -> dict[str, NodeDef]:
    """A definition's nodes by name (the first of a name). Indexed once per definition (a scan per lookup made a
    3,000-node emit spend 3.3 s here)."""
    index = _NODE_DEFS.get(definition)
    if index is None:
        index = {}
        for nd in definition.nodes:
            index.setdefault(nd.name, nd)
        _NODE_DEFS[definition] = index
    return index


_NODE_DEFS: weakref.WeakKeyDictionary[UnitDef, dict[str, NodeDef]] = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------------------------
# 2. threading the free parameters
# --------------------------------------------------------------------------------------------


def thread(classes: Classes, free: set[str]) -> None:
    """Mark the parameters of each structure that carry a free parameter of the model."""
    classes.root.forced = set(free)
    for s in reversed(classes.structures):  # parents before children
        if not s.forced or s.definition is None:
            continue
        for plan in s.plans:
            for slot in plan.slots.values():
                nd = _node_def(s.definition, slot.name)
                if nd is None or slot.node.kind != "composite":
                    continue
                for copy in slot.node.copies:
                    if copy.unit is None:
                        continue
                    child = classes.of_unit[copy.unit.key]
                    raw = dict((k, v) for k, v, _ in nd.params)
                    for q, _ in copy.unit.params:
                        value = raw.get(q)
                        if isinstance(value, Template) and _reads(value) & s.forced:
                            child.forced.add(q)
                        elif q not in raw and nd.inherit and q in s.forced:
                            child.forced.add(q)


def _reads(t: Template) -> set[str]:
    from vibench.compiler.expr import template_names

    return set(template_names(t))
