"""What reads a unit's parameters, for the warnings of :mod:`vibench.compiler.build_warnings` (W101, W104).

Which file's values are the user's (:func:`user_file`), what the part of a unit built reads (:func:`built_reads`)
and what the components its `inherit: true` nodes passed values to do not (:func:`passed_unread`), which nodes not
built read a name (:func:`idle_readers`, one pass over the nodes), which names `metadata:` reads in the branches
taken (:func:`metadata_reads`, under a budget of its own: :func:`metadata_reads_apart`), which keys PHM-Vibench's
references need (:func:`needed_by_reference`); the components chosen are
:mod:`vibench.compiler.chosen_components`'s. Each reads the definition or the built nodes; none writes anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any

from vibench.compiler.expr import ExprError, evaluate_template, template_names
from vibench.compiler.ir import LetDef, Node, NodeDef, ParamDecl, Pos, Template, UnitDef
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
    """Whether the file or folder ``file`` is the spec library's (or in it): a path, or a position's file as messages
    name a library file (`vibench/specs/cnn/AttentionCNN.yaml`, wherever vibench is installed: read as a path from
    the working folder, it was the library's only there)."""
    from vibench.compiler.spec_files import LIBRARY_DIR
    from vibench.compiler.spec_paths import within

    if file == "vibench/specs" or file.startswith("vibench/specs/"):
        return True
    return within(os.path.realpath(file), [os.path.realpath(LIBRARY_DIR)])


def set_in(decl: ParamDecl, file: str | None) -> bool:
    """Whether ``decl``'s value is written in ``file`` (:func:`user_file`; None: no file is the user's)."""
    return file is not None and decl.pos is not None and decl.pos.file == file


def line_col(pos: Pos | None) -> tuple[int, int]:
    """A sort key: where ``pos`` stands in its file (first when there is none)."""
    return (0, 0) if pos is None else (pos.line, pos.col)


def stem(block: str) -> str:
    """A component's name: `isfm/embedding/E_01_HSE` and `.../isfm/embedding/E_01_HSE.yaml` are `E_01_HSE`; a block
    of a file's `blocks:` (`.../cnn/AttentionCNN.yaml#AttentionBlock`) is its own name, not its file's."""
    if "#" in block:
        return block.rsplit("#", 1)[1]
    return os.path.splitext(block.rsplit("/", 1)[-1])[0]


def node_reads(nd: NodeDef) -> frozenset[str]:
    """The names node ``nd``'s own values read once it is built: its block, its keys, its `with:`."""
    from vibench.compiler.resolve_decls import expression_names

    alone = UnitDef(nd.name, nd.name, None, (), (), (nd,), (), "", None)
    return frozenset(expression_names(alone)[0])


def idle_readers(idle: list[NodeDef], names: set[str], lets: Sequence[LetDef] = ()) -> dict[str, list[NodeDef]]:
    """Each of ``names`` that a node of ``idle`` (not built) reads, itself or through the unit's ``lets`` -> those
    nodes, in order: one pass over the nodes, not one per name."""
    through = let_reads(lets)
    readers: dict[str, list[NodeDef]] = {}
    for nd in idle:
        read = node_reads(nd)
        for let in read & through.keys():
            read |= through[let]
        for name in read & names:
            readers.setdefault(name, []).append(nd)
    return readers


def let_reads(lets: Sequence[LetDef]) -> dict[str, frozenset[str]]:
    """Each `let` -> the names it reads, through the `let`s it reads too: one pass, as a `let` reads only those
    above it."""
    found: dict[str, frozenset[str]] = {}
    for let in lets:
        read = template_names(let.value)
        found[let.name] = read.union(*(found[name] for name in read & found.keys()))
    return found


def value_reader(udef: UnitDef, name: str) -> str | None:
    """The first value of ``udef`` besides its nodes' plain keys that reads ``name`` (a `let`, a check, the `when` of
    an input, output or node, a node's key that branches, `metadata:`, an input's shape), as W104 shows it:
    `` `let` `channels` (`${input_dim if individual else 'C'}`)``."""
    return value_readers(udef, {name}).get(name)


def value_readers(udef: UnitDef, names: Collection[str]) -> dict[str, str]:
    """:func:`value_reader` of each of ``names`` (those read so), in one pass over ``udef``."""
    places: list[tuple[str, Any]] = [(f"`let` `{let.name}`", let.value) for let in udef.lets]
    places += [("a check", check.that) for check in udef.checks]
    places += [(f"the `when` of {kind} `{item.name}`", item.when) for kind, items in
               (("input", udef.inputs), ("output", udef.outputs), ("node", udef.nodes)) for item in items]
    places += [(f"key `{key}` of node `{nd.name}`", value) for nd in udef.nodes for key, value, _ in nd.params
               if isinstance(value, Template) and _BRANCHES.search(value.text)]
    places.append(("`metadata:`", udef.metadata))
    places += [(f"the shape of input `{inp.name}`", inp.shape) for inp in udef.inputs]
    found: dict[str, str] = {}
    left = set(names)
    for where, value in places:
        if not left:
            break
        read = template_names(list(value) if isinstance(value, tuple) else value)
        if isinstance(value, tuple):  # (a shape: its `${...}` entries, its plain names)
            read = read | {dim for dim in value if isinstance(dim, str)}
        for name in read & left:
            shown = f" (`{value.text}`)" if isinstance(value, Template) and len(value.text) <= 80 else ""
            found[name] = where + shown
        left -= read
    return found


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


def without_keys(nd: NodeDef, keys: Collection[str]) -> NodeDef:
    """``nd`` with ``keys`` (dead: :func:`~vibench.compiler.dead_keys.dead_keys`) taken off its own keys and its
    `with:`."""
    with_ = ({k: v for k, v in nd.with_.items() if k not in keys} if isinstance(nd.with_, dict) else nd.with_)
    return replace(nd, params=tuple(p for p in nd.params if p[0] not in keys), with_=with_)


_BRANCHES = re.compile(r"\b(if|and|or)\b")  # a `${...}` that may leave a name unread


def built_reads(udef: UnitDef, elaborated: Elaborated, given: Collection[str] = (), root: bool = True,
                dead: Mapping[str, Collection[str]] | None = None) -> tuple[set[str], list[NodeDef]]:
    """The names the part of ``udef`` built (``elaborated``) reads in its own values (not `metadata:`, whose branches
    :func:`metadata_reads` tells), and the nodes not built: what switched one off (or left it out) was read too, but
    not the `when` of a node that feeds only switched-off outputs (MultiTaskHead's classification layers at
    `task_id: rul_prediction`: their `when` reads `num_classes`, which then shapes nothing). A `when`, a check's
    `that` and a `let` read the names of the branches taken, as `metadata:` does (`${task_id == 'all' and
    is_mapping(num_classes)}` reads no `num_classes` when the task is another), a `let` only when something counted
    reads it, a check's `at:` and message nothing (they say where and what, not whether). The default of a parameter
    ``given`` a value reads nothing (:func:`fallback_only`). The `metadata:` of a unit not the ``root`` reads nothing
    (model.py writes the model's alone). The keys ``dead`` on a node (:func:`~vibench.compiler.dead_keys.dead_keys`:
    its component reads none of them) read nothing."""
    from vibench.compiler.elaborated import live_nodes
    from vibench.compiler.resolve_decls import expression_names

    built = {node.name for node in elaborated.nodes if node.mode != "off"}
    built |= {name for name, keys in elaborated.groups.items() if keys}  # `for_each` over a mapping: its keys
    idle = [nd for nd in udef.nodes if nd.name not in built]
    # A node that feeds only switched-off outputs was never reached: its own `when` decided nothing.
    live = live_nodes(udef, list(elaborated.outputs)) if len(elaborated.outputs) < len(udef.outputs) else None
    reached = [nd for nd in idle if live is None or nd.name in live]
    taken: list[Any] = [check.that for check in udef.checks]  # read in the branches taken

    def apart(item: Any) -> Any:
        if dead and isinstance(item, NodeDef) and item.name in dead:
            item = without_keys(item, dead[item.name])
        if isinstance(item, NodeDef) and item.repeat is None and item.for_each is None and item.name in built:
            # a key's `${a if c else b}` of a node built once reads the branch taken (NeuralODE's `steps` reads no
            # `num_steps` without `num_classes`); a copy's (`i`, a `for_each` item) reads all its names
            branching = [p for p in item.params if isinstance(p[1], Template) and _BRANCHES.search(p[1].text)]
            if branching:
                taken.extend(value for _, value, _ in branching)
                item = replace(item, params=tuple(p for p in item.params if p not in branching))
        if isinstance(item.when, Template):
            taken.append(item.when)
            return replace(item, when=None)
        return item

    off = elaborated.inactive_inputs  # (the shape of an input switched off is read by nothing)
    inputs = [replace(inp, shape=(), layout=None) if inp.name in off else inp for inp in udef.inputs]
    used, _ = expression_names(replace(
        udef, params=tuple(d for d in udef.params if d.name not in given), inputs=tuple(map(apart, inputs)),
        outputs=tuple(map(apart, udef.outputs)), nodes=tuple(apart(nd) for nd in udef.nodes if nd.name in built),
        metadata=None, lets=(), checks=()))
    for nd in map(apart, reached):
        used |= template_names(nd.when) | template_names(nd.repeat) | template_names(nd.for_each)
    lets = {let.name: let.value for let in udef.lets}
    with _own_budget():
        used |= metadata_reads(taken, elaborated.env, set().union(*map(template_names, taken)))
        if lets and root:
            used |= metadata_reads(udef.metadata, elaborated.env, set(lets))
        waiting = [name for name in lets if name in used]
        while waiting:  # each `let` once: what a counted one reads is counted, `let`s it reads in turn
            value = lets.pop(waiting.pop())
            found = metadata_reads(value, elaborated.env, set(template_names(value))) - used
            used |= found
            waiting += [name for name in found if name in lets]
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
    """:func:`metadata_reads` under a budget of steps of its own (:func:`_own_budget`)."""
    with _own_budget():
        return metadata_reads(value, env, names)


@contextmanager
def _own_budget() -> Iterator[None]:
    """A budget of steps as large as the compilation's, for evaluating again what the unit evaluated: evaluating
    `metadata:` again spent the compilation's, so that a valid spec failed with E204 in a later expression. It is
    still bounded; evaluated again, the `${...}` take the steps they took when the unit was elaborated, and one
    that runs out reads every name it holds (no warning)."""
    from vibench.compiler.expr_budget import BUDGET, budget
    from vibench.compiler.expr_functions import MAX_TOTAL_STEPS

    shared = BUDGET.get()
    with budget(shared.limit if shared is not None else MAX_TOTAL_STEPS):
        yield
