"""Plain names as values: ``out_channels: channels`` reads the parameter ``channels``.

A spec reads a parameter, ``let`` value, loop variable (``i``, ``key``, ``item``) or input symbol by
writing its name where a value of another kind than text is expected — a number, a flag, a list —
exactly as a name does in a shape (``shape: [B, L, input_dim]``). In a parameter that takes text
(``str``, a choice of strings, ``any``) a plain name stays text: ``activation: relu`` is the text,
and reading a parameter there is written ``${activation}``. So no literal changes meaning, and a
misspelt name in a number field is an error that suggests the name (E112), never a silent string.

This pass runs once per spec file after resolution: every such name becomes the ``${name}``
template it stands for, so later passes (type checking, the back end's parameterised classes,
``free_parameters``) see one representation. A node whose block is only known once the
parameters are (``block: ${backbone}``) is named the same way when it is built (:func:`named_value`).
"""

from __future__ import annotations

import types
import typing
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError
from vibench.compiler.expr import bare_name, is_written_name, name_template
from vibench.compiler.ir import NodeDef, Pos, Template, UnitDef
from vibench.compiler.param_types import TypeSyntaxError, admits_text, parse_type
from vibench.compiler.suggestions import SuggestionSets

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library


def named_value(block: Any, key: str, raw: Any, scope: Any, pos: Pos | None) -> Any:
    """``raw``, or the ``${name}`` a plain name in ``scope`` stands for in a parameter of ``block`` (a
    composite's :class:`UnitDef` or a catalogue block) that takes no text; inside a list or mapping
    the item type decides (``sizes: {h: num_heads}`` for a ``dict[str, int]``)."""
    if isinstance(raw, str):
        name = bare_name(raw)
        if name is None or name not in scope or takes_text(block, key):
            return raw
        return name_template(name, pos)
    if isinstance(raw, (list, dict)) and _holds_name(raw):
        annotation = _annotation(block, key)
        return raw if annotation is None else _name_in(annotation, raw, scope, pos)
    return raw


def takes_text(block: Any, key: str) -> bool:
    """Whether ``block``'s parameter ``key`` takes a string (an unknown parameter: True)."""
    annotation = _annotation(block, key)
    return annotation is None or admits_text(annotation)


def _annotation(block: Any, key: str) -> Any:
    """The type of ``block``'s parameter ``key`` (a typing object), None when unknown."""
    if isinstance(block, UnitDef):
        decl = block.param(key)
        if decl is None:
            return None
        try:
            return parse_type(decl.type)
        except TypeSyntaxError:
            return None
    field = block.Params.model_fields.get(key)
    return None if field is None else field.annotation


def _name_in(annotation: Any, raw: Any, scope: Any, pos: Pos | None) -> Any:
    if isinstance(raw, str):
        name = bare_name(raw)
        return name_template(name, pos) if name is not None and name in scope and not admits_text(annotation) else raw
    if isinstance(raw, list):
        items = _item_types(annotation, len(raw))
        return raw if items is None else [_name_in(item, v, scope, pos) for item, v in zip(items, raw, strict=True)]
    if isinstance(raw, dict):
        value = _value_type(annotation)
        return raw if value is None else {k: _name_in(value, v, scope, pos) for k, v in raw.items()}
    return raw


def _item_types(annotation: Any, count: int) -> list[Any] | None:
    """The type of each of ``count`` items of a list or tuple type, looking through unions: by position for
    ``tuple[int, str]`` (its second item takes text, so a plain name there stays text), the one item type for
    ``list[int]`` and ``tuple[int, ...]``. None when no member fits ``count`` items (the type check says so)."""
    origin = typing.get_origin(annotation)
    if origin is list or origin is tuple:
        args = typing.get_args(annotation)
        if not args:
            return None
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return list(args) if len(args) == count else None
        return [args[0]] * count
    if _is_union(origin):
        for member in typing.get_args(annotation):
            found = _item_types(member, count)
            if found is not None:
                return found
    return None


def _value_type(annotation: Any) -> Any:
    """The value type of a mapping type, looking through unions."""
    origin = typing.get_origin(annotation)
    if origin is dict:
        args = typing.get_args(annotation)
        return args[-1] if args else None
    if _is_union(origin):
        for member in typing.get_args(annotation):
            found = _value_type(member)
            if found is not None:
                return found
    return None


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType or origin is typing.Annotated


def _holds_name(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return bare_name(value) is not None
    if kind is list:
        return any(_holds_name(v) for v in value)
    if kind is dict:
        return any(_holds_name(v) for v in value.values())
    return False  # numbers, flags, templates (the common case: one type test)


def name_units(root: UnitDef, blocks: dict[str, UnitDef], library: Library, from_dir: str | None,
               diags: Collector, written: dict[str, set[str]] | None = None) -> UnitDef:
    """``root`` and ``blocks`` (replaced in place) with their plain-name values made templates; a
    ``repeat``/``when``/``for_each``/``checkpoint`` name that reads nothing is E211. ``written``: the names each
    unit's ``params:`` and ``let:`` sections write, by the unit's qualname; a name written there whose declaration
    failed (left out of the unit, its error already reported) is not E211 as well: "no parameter or `let` is named
    so" would be false, and the declaration's own error says what to fix."""
    hints = SuggestionSets()  # one "did you mean" budget for the pass (one lookup per name took 2,000 names 8 s)
    written = written or {}
    for bname in list(blocks):
        unit = blocks[bname]
        blocks[bname] = _name_unit(unit, blocks, library, from_dir, diags, hints, written.get(unit.qualname, set()))
    return _name_unit(root, blocks, library, from_dir, diags, hints, written.get(root.qualname, set()))


_NO_LOOPS: frozenset[str] = frozenset()


def _name_unit(unit: UnitDef, blocks: dict[str, UnitDef], library: Library, from_dir: str | None,
               diags: Collector, hints: SuggestionSets, written: set[str]) -> UnitDef:
    values = {d.name for d in unit.params} | {let.name for let in unit.lets}
    failed = written - values if diags.errors else set()  # (a declaration is only left out with an error)
    scope = set(values)
    for decl in unit.inputs:
        if not isinstance(decl.shape, Template):
            scope |= {d for d in decl.shape if isinstance(d, str)}
    names = _Names(scope, values, failed, diags, hints, id(unit))
    nodes = []
    for nd in unit.nodes:
        new = nd
        if nd.repeat is not None or nd.when is not None or nd.for_each is not None or nd.checkpoint is not False:
            for key in ("repeat", "when", "for_each", "checkpoint"):
                raw = getattr(nd, key)
                if is_written_name(raw):
                    new = replace(new, **{key: names.flag(raw, key, nd)})
        if is_written_name(nd.with_):  # `with: settings`, or a copy's `with: item` (evaluated per copy)
            loops = _REPEAT if nd.repeat is not None else _FOR_EACH if nd.for_each is not None else _NO_LOOPS
            new = replace(new, with_=names.flag(nd.with_, "with", nd, loops))
        nodes.append(_name_node(new, scope, blocks, library, from_dir) if new.params or new.with_ is not None
                     else new)
    # an input's or output's `when` reads no shape symbol
    params = _Names(values, values, failed, diags, hints, id(unit))
    inputs = tuple(replace(d, when=params.flag(d.when, "when", d)) if is_written_name(d.when)
                   else d for d in unit.inputs)
    outputs = tuple(replace(o, when=params.flag(o.when, "when", o)) if is_written_name(o.when)
                    else o for o in unit.outputs)
    return replace(unit, nodes=tuple(nodes), inputs=inputs, outputs=outputs)


_REPEAT, _FOR_EACH = frozenset({"i"}), frozenset({"key", "item"})  # the names a copy has of its own


_EXPECTED = {"repeat": "an integer, a parameter's name or `${...}`", "when": "true, false, a parameter's name or "
             "`${...}`", "for_each": "a list, a parameter's name or `${...}`",
             "checkpoint": "true, false, a parameter's name or `${...}`",
             "with": "a mapping, a parameter's name or `${...}`"}
_NO_NAME = {"repeat": "no parameter or `let` is named so: write a count such as `repeat: 2`",
            "checkpoint": "no parameter or `let` is named so: write `checkpoint: true`, or a parameter's name",
            "for_each": "no parameter or `let` is named so: write a list such as `for_each: [3, 5]`, or a "
                        "parameter's name",
            "with": "no parameter or `let` is named so: write the block's parameters as a mapping such as "
                    "`with: {out_features: 8}`, or a parameter's name"}


class _Names:
    """The names a unit's values may read (``scope``), those a misspelt one is compared with (``values``: its
    parameters and `let` values), those whose declaration failed (``failed``, reported already), and the pass's
    "did you mean" (``hints``, whose sets are keyed by ``unit``)."""

    def __init__(self, scope: set[str], values: set[str], failed: set[str], diags: Collector, hints: SuggestionSets,
                 unit: int) -> None:
        self.scope, self.values, self.failed, self.diags, self.hints, self.unit = (
            scope, values, failed, diags, hints, unit)

    def flag(self, written: Template, key: str, owner: Any, loops: frozenset[str] = _NO_LOOPS) -> Any:
        """``repeat: layers``, ``when: classify``, ``for_each: tasks``, ``checkpoint: recompute``, ``with: settings``:
        the template of a name in scope (or one of a copy's ``loops``), else E211 (located at the value) and None;
        None alone for a name whose declaration failed (its error ends the pass)."""
        name, pos = written.text, written.pos
        if name in self.scope or name in loops:
            return name_template(name, pos)
        if name in self.failed:
            return None
        kind = "node" if isinstance(owner, NodeDef) else "input" if hasattr(owner, "dtype") else "output"
        hint = self.hints.hint((self.unit, loops), lambda: self.values | loops, name)
        self.diags.add(Diagnostic(
            "E211", f"`{key}` of {kind} `{owner.name}` must be {_EXPECTED[key]}", pos, found=repr(name),
            node=owner.name if kind == "node" else None,
            hint=hint or _NO_NAME.get(key, "no parameter or `let` is named so; write a condition such as "
                                           "`when: \"${stride != 1}\"`")))
        return None


def _name_node(nd: NodeDef, scope: set[str], blocks: dict[str, UnitDef], library: Library,
               from_dir: str | None) -> NodeDef:
    candidates = [key for key, raw, _ in nd.params if _holds_name(raw)]
    if isinstance(nd.with_, dict):
        candidates += [key for key, raw in nd.with_.items() if _holds_name(raw)]
    if not candidates or not isinstance(nd.block, str):
        return nd  # nothing to name, or a block named by an expression: named when built
    block = _block(nd.block, blocks, library, from_dir)
    if block is None:
        return nd  # an unknown block: reported when the node is built
    own = (_REPEAT if nd.repeat is not None else _NO_LOOPS) | (_FOR_EACH if nd.for_each is not None else _NO_LOOPS)
    local = _Scope(scope, own) if own else scope
    params = tuple((key, named_value(block, key, raw, local, pos), pos) for key, raw, pos in nd.params)
    with_ = nd.with_
    if isinstance(with_, dict):
        with_ = {key: named_value(block, key, raw, local, nd.with_pos) for key, raw in with_.items()}
    return replace(nd, params=params, with_=with_)


class _Scope:
    """A unit's names and a copy's own (`i`; `key`, `item`), looked up without copying the unit's names for each
    node (`scope | {"i"}` per node: 16,000 parameters and nodes spent 1.3 s copying; 32,000 most of 23 s)."""

    __slots__ = ("names", "own")

    def __init__(self, names: set[str], own: frozenset[str]) -> None:
        self.names, self.own = names, own

    def __contains__(self, name: object) -> bool:
        return name in self.own or name in self.names


def _block(name: str, blocks: dict[str, UnitDef], library: Library, from_dir: str | None) -> Any:
    from vibench.compiler import registry

    if name in blocks:
        return blocks[name]
    block = registry.get(name)
    if block is not None:
        return block
    if "/" in name or "#" in name or name.endswith((".yaml", ".yml", ".json")):
        try:
            return library.block(name, from_dir or library.cwd, None)  # never os.getcwd(): the folder may be gone
        except SpecError:
            return None  # reported, with its position, when the node is built
    return None
