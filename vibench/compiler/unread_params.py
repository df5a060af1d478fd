"""What reads a unit's parameters, for the warnings of :mod:`vibench.compiler.build_warnings` (W101, W104).

Which file's values are the user's (:func:`user_file`), what the part of a unit built reads (:func:`built_reads`)
and what the components its `inherit: true` nodes passed values to do not (:func:`passed_unread`), which nodes not
built read a name (:func:`idle_readers`, one pass over the nodes), which names `metadata:` reads in the branches
taken (:func:`metadata_reads`, under a budget of its own: :func:`metadata_reads_apart`), which keys PHM-Vibench's
references need (:func:`needed_by_reference`), which components were built, those inside them too
(:class:`ChosenComponents`), and where a `with:` key is written (:class:`KeyColumns`). Each reads the definition,
the built nodes or the source texts; none writes anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any

from vibench.compiler.expr import ExprError, evaluate_template, template_names
from vibench.compiler.ir import Instance, Node, NodeDef, ParamDecl, Pos, Template, Unit, UnitDef
from vibench.compiler.symbolic_errors import NeedConcrete

if TYPE_CHECKING:
    from vibench.compiler.elaborated import Elaborated
    from vibench.compiler.resolve import Library
    from vibench.compiler.shapes import _Specializer


def user_file(udef: UnitDef, library: Library) -> str | None:
    """The file whose values the user set: the file compiled (``udef.pos``, the outermost of an `extends:` chain,
    whose unit keeps its base's ``udef.file``), unless it is the unit's own or a library file compiled by name (its
    `with:` is the library's, as M_02_ISFM_heterogeneous_batch's `task_head` over M_01_ISFM's declaration, which no
    user can remove). Values of templates between them are theirs, too; values given with the compile are
    ``udef.overridden``."""
    if udef.pos is None or udef.pos.file == udef.file:
        return None
    home = library.home  # the compiled file's folder (resolve sets it)
    return None if home is not None and _library_file(home) else udef.pos.file


def within_library(pos: Pos | None) -> bool:
    """Whether ``pos`` is in a file of the spec library (a template's node, which is not the user's to change)."""
    return pos is None or _library_file(pos.file)


@cache
def _library_file(file: str) -> bool:
    """Whether the file or folder ``file`` is the spec library's (or in it)."""
    from vibench.compiler.spec_files import LIBRARY_DIR
    from vibench.compiler.spec_paths import within

    return within(os.path.realpath(file), [os.path.realpath(LIBRARY_DIR)])


def set_in(decl: ParamDecl, file: str | None) -> bool:
    """Whether ``decl``'s value is written in ``file`` (:func:`user_file`; None: no file is the user's)."""
    return file is not None and decl.pos is not None and decl.pos.file == file


def line_col(pos: Pos | None) -> tuple[int, int]:
    """A sort key: where ``pos`` stands in its file (first when there is none)."""
    return (0, 0) if pos is None else (pos.line, pos.col)


def stem(block: str) -> str:
    """A component's name: `isfm/embedding/E_01_HSE` and `.../isfm/embedding/E_01_HSE.yaml` are `E_01_HSE`."""
    return os.path.splitext(block.rsplit("/", 1)[-1])[0]


def node_reads(nd: NodeDef) -> frozenset[str]:
    """The names node ``nd``'s own values read once it is built: its block, its keys, its `with:`."""
    from vibench.compiler.resolve_decls import expression_names

    alone = UnitDef(nd.name, nd.name, None, (), (), (nd,), (), "", None)
    return frozenset(expression_names(alone)[0])


def idle_readers(idle: list[NodeDef], names: set[str]) -> dict[str, list[NodeDef]]:
    """Each of ``names`` that a node of ``idle`` (not built) reads -> those nodes, in order: one pass over the
    nodes, not one per name."""
    readers: dict[str, list[NodeDef]] = {}
    for nd in idle:
        for name in node_reads(nd) & names:
            readers.setdefault(name, []).append(nd)
    return readers


def needed_by_reference(udef: UnitDef, chosen: list[Node], params: Mapping[str, Any]) -> dict[str, str]:
    """Each key that PHM-Vibench's reference of ``udef`` or of a component chosen here cannot be built without ->
    that reference's name: W112 asks a PHM-Vibench config for it (B_08_PatchTST's `factor`), so W101 must not say
    "remove it" (:func:`vibench.compiler.phm_reference.required`)."""
    from vibench.compiler.phm_reference import required

    composite = udef.reference.model if udef.reference is not None else None
    models = dict.fromkeys([composite] + [
        c.unit.definition.reference.model for n in chosen for c in n.copies
        if c.unit is not None and c.unit.definition is not None and c.unit.definition.reference is not None])
    needed: dict[str, str] = {}
    for model in (m for m in models if m):
        for key in required(model, params, None if model == composite else composite):
            needed.setdefault(key, model.rsplit("/", 1)[-1])
    return needed


def built_reads(udef: UnitDef, elaborated: Elaborated, given: Collection[str] = ()) -> tuple[set[str], list[NodeDef]]:
    """The names the part of ``udef`` built (``elaborated``) reads in its own values (not `metadata:`, whose branches
    :func:`metadata_reads` tells), and the nodes not built: what switched one off (or left it out) was read too. The
    default of a parameter ``given`` a value reads nothing (:func:`fallback_only`)."""
    from vibench.compiler.resolve_decls import expression_names

    built = {node.name for node in elaborated.nodes if node.mode != "off"}
    built |= {name for name, keys in elaborated.groups.items() if keys}  # `for_each` over a mapping: its keys
    idle = [nd for nd in udef.nodes if nd.name not in built]
    used, _ = expression_names(replace(udef, params=tuple(d for d in udef.params if d.name not in given),
                                       nodes=tuple(nd for nd in udef.nodes if nd.name in built), metadata=None))
    for nd in idle:
        used |= template_names(nd.when) | template_names(nd.repeat) | template_names(nd.for_each)
    return used, idle


def fallback_only(definition: UnitDef, given: Collection[str]) -> dict[str, list[str]]:
    """Each parameter of ``definition`` that nothing reads but the declared defaults of parameters ``given`` a value ->
    those parameters: B_09_FNO's `d_model`, the default of `width`, when `width` is given (a key fallback: the
    reference takes `width` when both are given). Empty where a node has `inherit: true` (it may pass one on by
    name). Only a definition with such a default is walked."""
    from vibench.compiler.resolve_decls import expression_names

    readers: dict[str, list[str]] = {}
    for decl in definition.params:
        if decl.name in given:  # (a default holding `${...}` in a list or mapping reads its names too)
            for name in template_names(decl.default) - {decl.name}:
                readers.setdefault(name, []).append(decl.name)
    if not readers:
        return readers
    used, inherits = expression_names(replace(definition, params=tuple(
        d for d in definition.params if d.name not in given)))
    return {} if inherits else {name: found for name, found in readers.items() if name not in used}


def passed_unread(elaborated: Elaborated, nodes: Mapping[str, Node], names: set[str]) -> set[str]:
    """Those of ``names`` (parameters an `inherit: true` node passed on) that no copy they were passed to reads: a
    catalogue block reads every value it takes; a composite (``nodes``: the typed nodes, by name) all but its
    ``Unit.unread``, what it passes on in turn to components that do not read it (B_11_MomentumEncoder takes every
    backbone's parameters, and its B_04_Dlinear reads no `e_layers`), and neither reads a value only the default of
    another value it took reads (:func:`fallback_only`: B_09_FNO's `d_model` beside `width`). A copy took the value
    where it holds the unit's own object (a value its node's keys or `with:` give instead is another one). Each copy
    is looked at once, for the fewer of its values and the names left; a definition's fallbacks are found once for
    the values its copies were given."""
    params = elaborated.params
    left = set(names)
    fallbacks: dict[tuple[int, frozenset[str]], set[str]] = {}  # a definition's, by the values given: copies share
    for en in elaborated.nodes:
        if not en.nd.inherit or en.mode == "off":
            continue
        typed = nodes[en.name].copies if en.name in nodes else ()
        for k, ecopy in enumerate(en.copies):
            unit = typed[k].unit if k < len(typed) else None  # (a copy not typed: said to read what it took)
            values, unread = ecopy.values, (unit.unread if unit is not None else frozenset())
            if unit is not None and unit.definition is not None:
                took = frozenset(given_values(values))
                key = (id(unit.definition), took)
                if key not in fallbacks:
                    fallbacks[key] = set(fallback_only(unit.definition, took))
                unread = unread | fallbacks[key]
            for name in [n for n in (left if len(left) < len(values) else values) if n in left and n in values]:
                if values[name] is params[name] and name not in unread:
                    left.discard(name)
            if not left:
                return left
    return left


def given_values(values: Mapping[str, Any]) -> set[str]:
    """The names ``values`` gives a value (a null keeps the default, which may read another name)."""
    return {name for name, value in values.items() if value is not None}


def fallback_readers(elaborated: Elaborated, nodes: Mapping[str, Node], given: Collection[str],
                     names: set[str]) -> dict[str, tuple[str | None, list[str]]]:
    """Each of ``names`` (unread) that only the defaults of parameters given a value read -> the component that
    declares them (None: the unit ``elaborated``, whose parameters ``given`` are set) and those parameters
    (:func:`fallback_only`): in the unit, or in a component an `inherit: true` node passed both to (``nodes``: the
    typed nodes, by name). Walks the copies only while a name passed on is left."""
    found: dict[str, tuple[str | None, list[str]]] = {
        name: (None, params) for name, params in fallback_only(elaborated.udef, given).items() if name in names}
    for en in elaborated.nodes:
        if not en.nd.inherit or en.mode == "off" or not (names & elaborated.inherited) - set(found):
            continue
        typed = nodes[en.name].copies if en.name in nodes else ()
        for ecopy, copy in zip(en.copies, typed, strict=False):
            if copy.unit is None or copy.unit.definition is None:
                continue
            took = given_values(ecopy.values)
            for name, params in fallback_only(copy.unit.definition, took).items():
                if name in names and name in took and ecopy.values[name] is elaborated.params.get(name):
                    found.setdefault(name, (stem(copy.unit.qualname), params))
    return found


def extension_takers(owner: _Specializer, udef: UnitDef, decl: ParamDecl) -> set[str]:
    """The components that declare ``decl`` (slot-scoped) whose PHM-Vibench reference does not read it, as note I106
    knows them (:data:`~vibench.compiler.phm_reference.EXTENSIONS`: E_02_HSE_v2's `input_dim`); none where ``udef``
    has no reference. ``owner`` loads each (its library caches them); one that fails to load is not marked."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.phm_reference import EXTENSIONS

    if udef.reference is None:
        return set()
    marked = set()
    for path in decl.scope:
        try:
            block = owner.known_block(path, udef, decl.pos)
        except SpecError:
            continue
        model = block.reference.model if isinstance(block, UnitDef) and block.reference is not None else None
        if model is not None and decl.name in EXTENSIONS.get(model, {}):
            marked.add(stem(path))
    return marked


def inner_components(unit: Unit, seen: dict[int, list[str]]) -> list[str]:
    """The components (spec files) built inside ``unit``, each once, in order, those inside them too; through its
    own `blocks:` (H_09_multiple_task's TaskHeads), which are no components. ``seen``: each unit's, by id (a unit
    that many copies share is walked once)."""
    found = seen.get(id(unit))
    if found is None:
        inside: dict[str, None] = {}
        for node in unit.nodes:
            for copy in node.copies:
                if copy.unit is not None:
                    if "#" not in copy.unit.qualname:
                        inside[stem(copy.unit.qualname)] = None
                    inside.update(dict.fromkeys(inner_components(copy.unit, seen)))
        found = seen[id(unit)] = list(inside)
    return found


class ChosenComponents:
    """The components that the composite nodes built (``chosen``) are, by name (`B_08_PatchTST`), in the order they
    are built: each copy's own (a `for_each` over ``ensemble_backbones`` builds one backbone a copy). ``nodes``: each
    component -> the nodes that build it, as messages name them (a copy of a `for_each` over a mapping, which is a
    node named by its key, by that key and its node: ``groups`` maps such a node to its keys); :meth:`value`: what
    its first copy holds for a parameter. One pass over the copies."""

    def __init__(self, chosen: list[Node], groups: Mapping[str, tuple[str, ...]]) -> None:
        group_of = {key: name for name, keys in groups.items() for key in keys}
        self.nodes: dict[str, list[str]] = {}
        self.first: dict[str, Instance] = {}
        for node in chosen:
            named = (f"copy `{node.name}` of node `{group_of[node.name]}`" if node.name in group_of
                     else f"node `{node.name}`")
            for copy in node.copies:
                name = stem(copy.block or node.block)
                self.first.setdefault(name, copy)
                built = self.nodes.setdefault(name, [])
                if not built or built[-1] != named:  # (a node's copies come one after another)
                    built.append(named)

    def shown(self) -> str:
        """The components, each with those built inside it: `B_11_MomentumEncoder (its B_04_Dlinear)`."""
        seen: dict[int, list[str]] = {}
        out = []
        for name, copy in self.first.items():
            inner = inner_components(copy.unit, seen) if copy.unit is not None else []
            out.append(f"{name} (its {', '.join(inner)})" if inner else name)
        return ", ".join(out)

    def value(self, component: str, param: str) -> Any:
        """The value of parameter ``param`` of the first copy of ``component`` (None: it has none)."""
        unit = self.first[component].unit
        return None if unit is None else next((v for k, v in unit.params if k == param), None)

    def declaring(self, param: str) -> list[str]:
        """The components whose (first copy's) unit declares ``param``."""
        return [name for name, copy in self.first.items()
                if copy.unit is not None and any(k == param for k, _ in copy.unit.params)]


class KeyColumns:
    """The lines of the compilation's source texts, each file split once (at need)."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources
        self.lines: dict[str, list[str]] = {}

    def key_pos(self, pos: Pos | None, key: str) -> Pos | None:
        """Where the key ``key`` of the value at ``pos`` is written on its line (`  prompt_dim: 8`, `{prompt_dim: 8}`,
        `"prompt_dim": 8`); ``pos`` when it is not there (a block value is set at its key already)."""
        line = self.line(pos)
        if pos is None or line is None:
            return pos
        found = re.search(r"([\"']?)" + re.escape(key) + r"\1\s*:\s*$", line[: pos.col - 1])
        return pos if found is None else Pos(pos.file, pos.line, found.start() + 1)

    def written_key(self, pos: Pos | None) -> str | None:
        """The name of the key written at ``pos`` (`in_channels` of `  in_channels: 2`), or of the key whose value
        is at ``pos`` (`{in_channels: 2}`); None where no key is there (a value a base config gave)."""
        line = self.line(pos)
        if pos is None or line is None:
            return None
        found = re.match(r"([\"']?)([A-Za-z_]\w*)\1\s*:(\s|$)", line[pos.col - 1:]) or re.search(
            r"([\"']?)([A-Za-z_]\w*)\1\s*:\s*$", line[: pos.col - 1])
        return None if found is None else found.group(2)

    def line(self, pos: Pos | None) -> str | None:
        """The line of its file that ``pos`` stands on (None: no such line of a source text)."""
        if pos is None or pos.file not in self.sources:
            return None
        if pos.file not in self.lines:
            self.lines[pos.file] = self.sources[pos.file].splitlines()
        lines = self.lines[pos.file]
        return lines[pos.line - 1] if 0 < pos.line <= len(lines) else None


class _Seen(Mapping[str, Any]):
    """An environment that notes the names an evaluation looks up (the evaluator asks ``in``, then reads)."""

    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        self.read.add(name)
        return self.env[name]

    def __contains__(self, name: object) -> bool:
        return name in self.env

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)


def metadata_reads(value: Any, env: Mapping[str, Any], names: set[str]) -> set[str]:
    """Those of ``names`` that `metadata:` (``value``, its `${...}` parsed) reads as evaluated in ``env``: a branch
    not taken reads nothing, so M_01_ISFM's `${task_head if task_configs is None else None}` beside task_configs
    does not read `task_head`. Only a `${...}` that names one of them is evaluated again; one that fails to (it did
    not when the unit was elaborated) reads every name it holds.

    >>> from vibench.compiler.expr import parse_value
    >>> table = {"head": parse_value("${head if tasks is None else None}", None)}
    >>> sorted(metadata_reads(table, {"head": "H_01", "tasks": {"a": {}}}, {"head", "tasks"}))
    ['tasks']
    """
    if isinstance(value, Template):
        written = template_names(value) & names
        if not written:
            return set()
        seen = _Seen(env)
        try:
            evaluate_template(value, seen)
        except (ExprError, NeedConcrete):
            return set(written)
        return seen.read & names
    if isinstance(value, (list, dict)):
        return set().union(*(metadata_reads(v, env, names) for v in (value if isinstance(value, list)
                                                                       else value.values())))
    return set()


def metadata_reads_apart(value: Any, env: Mapping[str, Any], names: set[str]) -> set[str]:
    """:func:`metadata_reads` under a budget of steps of its own, as large as the compilation's: evaluating
    `metadata:` again spent the compilation's, so that a valid spec failed with E204 in a later expression. It is
    still bounded; evaluated again, the `${...}` take the steps they took when the unit was elaborated, and one
    that runs out reads every name it holds (no warning)."""
    from vibench.compiler.expr_budget import BUDGET, budget
    from vibench.compiler.expr_functions import MAX_TOTAL_STEPS

    shared = BUDGET.get()
    with budget(shared.limit if shared is not None else MAX_TOTAL_STEPS):
        return metadata_reads(value, env, names)
