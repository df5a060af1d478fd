"""A node's parameter values, gathered in elaboration: its own keys, then `with:`, then what `inherit: true` passes on.

:class:`NodeValues` holds the methods of :class:`~vibench.compiler.elaborate.Elaborator` that give each copy of
a node its values (``${...}`` evaluated, a plain name read where the block's parameter takes no text) and where
each was set, so that an error about a value is reported there: the node's key, the key of its `with:` mapping,
or the user's setting in another file that the value reads (an entry of it, a key of that entry, when known).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vibench.compiler.blocks.base import Block
from vibench.compiler.composite_uses import charge, counted, too_much_work
from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.expr import contains_template, template_names
from vibench.compiler.ir import NodeDef, Pos, Template, UnitDef
from vibench.compiler.names import named_value
from vibench.compiler.param_types import takes_null
from vibench.compiler.setting_places import SettingPlaces, entry_read

if TYPE_CHECKING:
    from vibench.compiler.elaborated import Failed
    from vibench.compiler.shapes import _Specializer


class NodeValues(SettingPlaces):
    """The value-gathering methods of :class:`~vibench.compiler.elaborate.Elaborator`, which sets the state
    below (see its ``__init__``)."""

    owner: _Specializer
    params: dict[str, Any]
    given: set[str]
    inherited: set[str]
    set_elsewhere: set[str]
    # The values of the node whose copies are being made, when they share them: (node, block, values and places).
    shared_values: tuple[NodeDef, Block | UnitDef, tuple[dict[str, Any], dict[str, Pos | None]]] | None = None

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...
        def evaluate(self, value: Any, env: Mapping[str, Any], pos: Pos | None, where: str, node: str | None, *,
                     nested: bool = False) -> Any: ...

    def entry_keys(self, nd: NodeDef, env: Mapping[str, Any]) -> dict[str, Pos | None]:
        """Where each key is written of the entry of a user's setting that `with: ${...}` of ``nd`` reads, when
        it reads one written out as a mapping (`c: {out_featurs: 3}` of `task_configs` for the copy `c`)."""
        read = self.parameters_read(self.names_read(nd.with_, nd)) & self.set_elsewhere
        first = next((d.name for d in self.udef.params if d.name in read), None)  # as `setting_pos` picks it
        places = self.places.get(first) if first is not None else None
        if first is None or places is None:
            return {}
        entry = entry_read(nd.with_, env, first, lambda names: first in self.parameters_read(names), nd.for_each)
        children = places.loc.children
        if isinstance(children, dict) and entry in children:
            written = children[entry][1]
        elif isinstance(children, list) and entry.__class__ is int and 0 <= entry < len(children):
            written = children[entry]
        else:
            return {}
        inner = written.children
        return {k: Pos(places.file, *at) for k, (at, _) in inner.items()} if isinstance(inner, dict) else {}

    def node_values(self, nd: NodeDef, block: Block | UnitDef,
                    env: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Pos | None]]:
        """A node's parameter values (and where each was set): its own keys, then `with:`, then what
        `inherit: true` passes on (explicit values win).

        The copies of a `repeat` or `for_each` node differ only in the loop variables (`i`, `key`, `item`): where
        its values read none (and no value is placed at a user's setting in another file, which may depend on the
        copy's entry), every copy after the first shares the first's values, read again by no one (a `with:` of
        10,000 keys was gathered again for each of 1,000 copies). The keys a `with:` gives count towards the
        compilation's limit of declarations processed (:mod:`~vibench.compiler.composite_uses`)."""
        shared = self.shared_values
        if shared is not None and shared[0] is nd and shared[1] is block:
            return shared[2]
        gathered = self.gather(nd, block, env)
        if (nd.repeat is not None or nd.for_each is not None) and not self.set_elsewhere and not _reads_loop(nd):
            self.shared_values = (nd, block, gathered)
        return gathered

    def gather(self, nd: NodeDef, block: Block | UnitDef,
               env: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Pos | None]]:
        values: dict[str, Any] = {}
        positions: dict[str, Pos | None] = {}
        for key, raw, pos in nd.params:
            kind = raw.__class__
            if not (kind is int or kind is bool or raw is None):  # a number or a flag is its own value
                raw = named_value(block, key, raw, env, pos)  # a plain name may read a parameter (`block: ${...}`)
                if contains_template(raw):
                    # Expression errors point at the `${...}` value; other errors about the parameter at its key,
                    # or at the setting elsewhere of a parameter the value reads (see `setting_pos`).
                    read = raw
                    raw = self.evaluate(raw, env, getattr(raw, "pos", None) or pos, f"parameter `{key}`", nd.name)
                    pos = self.value_setting(read, nd, env) or pos
            values[key] = raw
            positions[key] = pos
        if nd.with_ is not None:
            where = f"`with` of node `{nd.name}`"
            extra = self.evaluate(nd.with_, env, getattr(nd.with_, "pos", None) or nd.with_pos, where, nd.name)
            if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
                raise self.error(Diagnostic("E211", f"{where} must give a mapping of parameters", nd.with_pos,
                                            node=nd.name, expected="{name: value, ...}", found=clip(repr(extra), 80)))
            with_pos = self.source_pos(nd.with_, nd, env=env)
            written = nd.with_ if isinstance(nd.with_, dict) else {}
            if written:  # plain names written in the mapping read parameters too
                extra = dict(extra)
                for key, raw in written.items():
                    named_ = named_value(block, key, raw, env, nd.with_pos)
                    if named_ is not raw:
                        extra[key] = self.evaluate(named_, env, nd.with_pos, where, nd.name)
            self.count_with(nd, len(extra), env.get("i") if nd.repeat is not None or nd.for_each is not None else None)
            # A mapping written out: each value is where its key sets it; one read from a user's setting: its key there.
            keys = dict(nd.with_keys) or self.entry_keys(nd, env)
            held: dict[str, list[Any]] | None = None  # what the values `with:` reads set (made at need)
            for key, value in extra.items():
                if key not in values:  # explicit parameters win
                    values[key] = value
                    if key in written and key in keys:
                        positions[key] = self.source_pos(written[key], nd, keys[key], env)
                    elif key in keys:
                        positions[key] = keys[key]
                    else:  # from what `with:` reads (a parameter's value): there; one the expression adds: at `with:`
                        if held is None:
                            held = _settings(env[n] for n in self.names_read(nd.with_, nd) if n in env)
                        given = held.get(key, ())
                        positions[key] = with_pos if any(v.__class__ is value.__class__ and v == value
                                                         for v in given) else nd.with_pos
        if nd.inherit:
            # The block takes every parameter of this unit that it declares (explicit values win).
            accepted = [d.name for d in block.params] if isinstance(block, UnitDef) else list(block.Params.model_fields)
            for name in accepted:
                # A null nobody set (a default, a slot-scoped parameter) means "not set here": the block keeps its own
                # default. A null a user wrote is passed on where the block takes null: `act: null` in a flat ISFM
                # config is H_03's "no activation", as in the reference (it was dropped, and H_03 kept its default
                # relu). Where the block takes no null (`moving_avg: null` for B_04_Dlinear, whose reference never
                # reads the key) it still means "not set", as PHM-Vibench's configs write it.
                if name in values or name not in self.params or name in self.udef.own:
                    continue  # (a parameter of a spec that extends this one is that spec's own)
                if self.params[name] is not None or (name in self.given and takes_null(block, name)):
                    values[name] = self.params[name]
                    # A bad value is reported where it was set (`with:` of the user's spec), if known.
                    positions[name] = self.param_pos.get(name) or nd.pos
                    self.inherited.add(name)
        return values, positions

    def count_with(self, nd: NodeDef, keys: int, copy_index: Any) -> None:
        """Count the ``keys`` a copy's `with:` gives against the compilation's limit: E213 at the `with:` past it.
        ``copy_index``: the copy's `i` (None: the node's one copy)."""
        if keys == 0:
            return

        def where(spent: int, limit: int) -> Diagnostic:
            copy = f"copy {copy_index + 1:,} of " if isinstance(copy_index, int) else ""
            return too_much_work(f"the `with:` of {copy}node `{nd.name}`", nd.with_pos or nd.pos, nd.name, spent,
                                 limit, f"the {counted(keys, 'key')} its `with:` gives")

        charge(self.owner, keys, where)


_LOOP = frozenset({"i", "key", "item"})  # the names a copy of a `repeat` or `for_each` node has of its own


def _reads_loop(nd: NodeDef) -> bool:
    """Whether a value of ``nd`` (its keys, its `with:`) reads a loop variable: in a `${...}`, or as a plain name
    (``out_features: i``, which reads it where the parameter takes no text)."""
    return any(_names_loop(raw) for _, raw, _ in nd.params) or _names_loop(nd.with_)


def _names_loop(value: Any) -> bool:
    kind = value.__class__
    if kind is str:
        return value in _LOOP
    if kind is list:
        return any(_names_loop(v) for v in value)
    if kind is dict:
        return any(_names_loop(v) for v in value.values())
    return isinstance(value, Template) and not _LOOP.isdisjoint(template_names(value))


def _settings(read: Any) -> dict[str, list[Any]]:
    """The values that the mappings a node's `with:` reads set, by key: a mapping's own keys and those of the mappings
    it holds (`cfg`, or `cfgs` whose entry `${cfgs[key]}` is), so a key of `with: ${merge(cfg, ...)}` that `cfg` gives
    is told from one the expression adds or changes. Made once per node and bounded (:data:`MAX_SETTINGS` entries
    looked at): a key looked up in each value it reads, walking it whole, took 29 s for a `with:` of 2,000 keys
    that reads a list of 90,000 items (0.7 s before any lookup)."""
    out: dict[str, list[Any]] = {}
    left = MAX_SETTINGS  # entries still to look at, the items of a list and the keys of a mapping alike
    for value in read:
        outer = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for mapping in itertools.chain([value] if isinstance(value, dict) else [], outer):
            if left <= 0:
                return out
            left -= 1
            if isinstance(mapping, dict):
                for key, item in itertools.islice(mapping.items(), left):
                    out.setdefault(key, []).append(item)
                left -= min(len(mapping), left)
    return out


MAX_SETTINGS = 10_000
"""Entries of the values a node's `with:` reads that are looked at to place its keys (past them a key is placed at
the `with:`)."""
