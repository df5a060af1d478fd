"""Keys written on a node that its block leaves unread, for W104 (:mod:`vibench.compiler.build_warnings`).

AttentionCNN writes `reduction: attention_reduction` on its `layers` node; at `use_attention: false` its
AttentionBlock builds no CBAM, so nothing reads `reduction`, and the user's `attention_reduction` has no effect
though a node built reads it by name; Informer's prob_sparse_attention reads no `seed` at `mode: top_k`.
:func:`dead_keys` finds such keys (every copy's composite has the key in its ``Unit.unread``, or its catalogue block
names it in ``Block.unread_params``), :func:`~vibench.compiler.unread_params.built_reads` then counts them as reading
nothing, :func:`dead_readers` says, for W104's message, which node passed a value on to which block, and
:func:`component_readers` what in a component would read a key (one walk per component). These read the elaborated
unit and its typed nodes and write nothing; :class:`HeldKeyWarnings` keeps the W104 of a definition's keys until
every use of it is built.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from vibench.compiler import registry
from vibench.compiler.blocks.base import Block
from vibench.compiler.diagnostics import Collector, Diagnostic
from vibench.compiler.elaborated import Elaborated
from vibench.compiler.expr import template_names
from vibench.compiler.ir import Instance, Node, NodeDef, SpecValue, Template, Unit, UnitDef
from vibench.compiler.plugin_calls import is_plugin
from vibench.compiler.unread_params import idle_readers, let_reads, node_reads, value_readers


def dead_keys(elaborated: Elaborated, nodes: Mapping[str, Node]) -> dict[str, dict[str, str | None]]:
    """Each node built (as written, by name) -> the keys written on it (its own keys and `with:`, a value other than
    null), in the order written, that every copy's block leaves unread, each with when the block would read it, or
    how it passes it on unread (None: not said): a composite's ``Unit.unread`` (``Unit.unread_why``), a catalogue
    block's :meth:`~vibench.compiler.blocks.base.Block.unread_params` (prob_sparse_attention's `factor` at `mode:
    top_k`). A key one copy reads is read (a `repeat:` whose copy 1 takes another branch, a copy of a `for_each` over a
    mapping, each a node named by its key, of the same block or another); a copy not typed reads everything. One pass
    over the built nodes; a catalogue block is asked whether it says what it does not read once."""
    group_of = {key: name for name, keys in elaborated.groups.items() for key in keys}
    written_as = {nd.name: nd for nd in elaborated.udef.nodes} if group_of else {}
    asks: dict[str, bool] = {}
    found: dict[str, dict[str, str | None]] = {}
    for en in elaborated.nodes:
        name, nd = en.name, en.nd
        if name in group_of:  # a copy of a `for_each` over a mapping: its node as written
            name = group_of[name]
            nd = written_as.get(name, nd)
        node = nodes.get(en.name)
        if en.mode == "off" or not (nd.params or isinstance(nd.with_, dict)):
            continue
        if node is None or not node.copies:
            found[name] = {}  # (not typed: reads everything)
            continue
        unread = [_unread_by(node, copy, asks) for copy in node.copies]
        if not all(unread):  # a copy that leaves nothing unread (most do): no key of the node is dead
            found[name] = {}
            continue
        kept = found.get(name)
        found[name] = {key: unread[0][key] for key, value in written(nd) if value is not None
                       and all(key in each for each in unread) and (kept is None or key in kept)}
    return {name: keys for name, keys in found.items() if keys}


def _unread_by(node: Node, copy: Instance, asks: dict[str, bool]) -> Mapping[str, str | None]:
    """The parameters ``copy`` of ``node`` does not read -> when its block would (None: not said); ``asks``: each
    catalogue block's :func:`_asks`, by name."""
    if copy.unit is not None:
        if not copy.unit.unread:
            return {}
        why = dict(copy.unit.unread_why)
        return {name: why.get(name) for name in copy.unit.unread}
    if node.kind != "primitive" or isinstance(copy.params, tuple):
        return {}
    name = copy.block or node.block
    if name not in asks:
        asks[name] = _asks(registry.get(name))
    block = registry.get(name) if asks[name] else None
    if block is None:  # (most blocks read every parameter: not asked)
        return {}
    return {param: f"reads it only {when}" for param, when in block.unread_params(copy.params).items()}


def _asks(block: Block | None) -> bool:
    """Whether ``block`` says what it does not read: most read every parameter (not asked), and a plug-in's answer
    would reach W104's text unchecked (so it is not asked either, as for Block.internal_tensors)."""
    return block is not None and type(block).unread_params is not Block.unread_params and not is_plugin(block)


def written(nd: NodeDef) -> list[tuple[str, SpecValue]]:
    """The keys written on ``nd`` with their values: its own keys, then its `with:` (when written as a mapping)."""
    out: list[tuple[str, SpecValue]] = [(key, value) for key, value, _ in nd.params]
    if isinstance(nd.with_, dict):
        out += list(nd.with_.items())
    return out


@dataclass(frozen=True)
class DeadReader:
    """A node built that passes a value on under ``key`` to ``component``, which reads nothing of it: ``idle``, the
    component's nodes not built that would, or ``where`` it reads the key without using it."""

    node: str
    key: str
    written: str  # the key's value as written (`attention_reduction`, `${r * 2}`)
    component: str
    idle: tuple[NodeDef, ...]
    where: str | None  # else, the value of the component that reads it without using it (a branch not taken)
    why: str | None  # else, when the block would read it, or how its nodes pass it on unread
    settings: str | None = None  # of a catalogue block, the node's keys its `why` names (`num_layers: ode_layers`)


def dead_readers(udef: UnitDef, dead: Mapping[str, Mapping[str, str | None]], typed: Mapping[str, Node],
                 groups: Mapping[str, tuple[str, ...]], names: set[str]) -> dict[str, DeadReader]:
    """Each of ``names`` that the value of a dead key (``dead``, of the nodes of ``udef``) reads, itself or through a
    `let` -> the first such key, with the component it reaches and the nodes of that component not built that read
    it. ``typed``: the unit's typed nodes, by name; ``groups``: a `for_each` over a mapping's node -> its keys (its
    copies' names). One pass over the dead keys, not one per name."""
    through = let_reads(udef.lets) if dead else {}
    passed: dict[str, tuple[str, str, str, Unit | None, str, str | None, str | None]] = {}  # name -> node, key, ...
    for nd in udef.nodes:
        keys = dead.get(nd.name)
        if not keys:
            continue
        node = typed.get(groups[nd.name][0] if groups.get(nd.name) else nd.name)
        if node is None or not node.copies:
            continue
        unit = node.copies[0].unit
        block = unit.name if unit is not None else node.copies[0].block or node.block
        for key, value in written(nd):
            if key not in keys:
                continue
            read = set(_reads(nd, key, value))
            for let in read & through.keys():
                read |= through[let]
            shown = shown_value(value)
            for name in [n for n in read & names if n not in passed]:  # (`- passed.keys()` copies them: quadratic)
                passed[name] = (nd.name, key, shown, unit, block, keys[key], _named_settings(nd, keys[key], unit))
    # what in each component reads the keys: one walk of a component for all its keys (one per key: 400 values
    # passed on to a component of 400 nodes switched off took 1.8 s)
    asked: dict[int, tuple[Unit, set[str]]] = {}
    for _, key, _, unit, _, _, _ in passed.values():
        if unit is not None and unit.definition is not None:
            asked.setdefault(id(unit), (unit, set()))[1].add(key)
    memo: ReadersMemo = {}
    readers = {uid: component_readers(unit, keys, memo) for uid, (unit, keys) in asked.items()}
    found: dict[str, DeadReader] = {}
    for name, (node_name, key, shown, unit, block, why, settings) in passed.items():
        idle, where = readers.get(id(unit), ({}, {})) if unit is not None else ({}, {})
        found[name] = DeadReader(node_name, key, shown, block, tuple(idle.get(key, ())),
                                 None if key in idle else where.get(key), why, settings)
    return found


ReadersMemo = dict[int, tuple[frozenset[str], dict[str, list[NodeDef]], dict[str, str]]]
""":func:`component_readers`' answers, by the id of the unit: the keys asked, and what reads them."""


def component_readers(unit: Unit, keys: set[str], memo: ReadersMemo) -> tuple[dict[str, list[NodeDef]],
                                                                               dict[str, str]]:
    """Of ``keys`` (parameters of ``unit``, which nothing it builds reads): those its nodes not built read, with
    them (through its `let`s too), and the others' value that reads them without using them (a branch not taken).
    One walk of a unit for all the keys asked of it (``memo``: a component that 800 nodes use was walked 800 times)."""
    known = memo.get(id(unit))
    if known is not None and keys <= known[0]:
        return known[1], known[2]
    asked = keys | known[0] if known is not None else frozenset(keys)
    definition = unit.definition
    if definition is None:
        return {}, {}
    names = {node.name for node in unit.nodes}
    places = {node.pos for node in unit.nodes if node.pos is not None}  # (a `for_each` copy is named by its key)
    idle = idle_readers([nd for nd in definition.nodes if nd.name not in names and nd.pos not in places],
                        set(asked), definition.lets)
    where = value_readers(definition, asked - idle.keys())
    memo[id(unit)] = (frozenset(asked), idle, where)
    return idle, where


def _named_settings(nd: NodeDef, why: str | None, unit: Unit | None) -> str | None:
    """Of a catalogue block's node (no ``unit``), the keys written on ``nd`` that the block's reason (``why``) names,
    as written (`num_layers: ode_layers`); None when it names none (or the node is a composite's)."""
    if unit is not None or why is None:
        return None
    named = set(re.findall(r"`(\w+)", why))
    shown = [f"`{key}: {shown_value(value)}`" for key, value in written(nd)
             if key in named and not _same_name(key, value)]
    return ", ".join(shown) or None


def _same_name(key: str, value: SpecValue) -> bool:
    """Whether ``value`` is the parameter named like ``key`` (`mode: ${mode}`: says nothing the reason does not)."""
    return isinstance(value, Template) and value.whole and isinstance(value.expr, ast.Name) and value.expr.id == key


def shown_value(value: SpecValue) -> str:
    """A key's value as W104 quotes it: a `${...}` as its text (a plain name the names pass read as a parameter too:
    `reduction: ${attention_reduction}`, which means what `reduction: attention_reduction` does, where a bare name
    for a key that takes text would be that text)."""
    return value.text if isinstance(value, Template) else str(value)


def _reads(nd: NodeDef, key: str, value: SpecValue) -> frozenset[str]:
    """The names the value of ``nd``'s key ``key`` reads, as :func:`~vibench.compiler.unread_params.node_reads` counts
    them (a plain name of a node whose block is an expression too), not its block's."""
    alone = replace(nd, params=((key, value, None),), with_=None, repeat=None, when=None, for_each=None,
                    checkpoint=False)
    return node_reads(alone) - template_names(nd.block)


class HeldKeyWarnings:
    """W104 of the keys written on the nodes of a composite definition, held until the model is built: a definition
    that several nodes use, with other values, has a key no effect only where none of its uses reads it (`factor` of
    a prob_sparse_attention in a block used once at `mode: prob_sparse` and once at `top_k` has an effect)."""

    def __init__(self) -> None:
        # (file, unit, node, key) -> its W104; None: a use reads it
        self.held: dict[tuple[str, str, str, str], Diagnostic | None] = {}

    def note(self, unit: UnitDef, nd: NodeDef, read: list[str], said: Mapping[str, Diagnostic]) -> None:
        """The keys of node ``nd`` of ``unit`` that this use of it reads, and the W104 of those it does not."""
        for key in read:
            self.held[(unit.file, unit.qualname, nd.name, key)] = None
        for key, warning in said.items():
            self.held.setdefault((unit.file, unit.qualname, nd.name, key), warning)

    def flush(self, diags: Collector) -> None:
        """Said: the keys no use read."""
        diags.extend(warning for warning in self.held.values() if warning is not None)
        self.held.clear()
