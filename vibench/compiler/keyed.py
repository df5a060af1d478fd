"""`for_each` over a mapping: one node per key, named by the key.

``for_each: ${task_configs}`` on node ``heads`` builds, for each key of the mapping (in order), a
node named after the key (``classification``, ``prediction``...), with ``${key}`` the key, ``${item}``
its value and ``${i}`` its index. The copies are ordinary nodes of the unit (so ``state_dict`` keys
read ``classification.fc.weight``); ``heads.classification`` reads one, and an output
``{from: heads.*}`` returns each under its key: the root's ``forward`` returns a dict by key, one key
included (:func:`returned_by_key`). Each copy gives one value, so its block has one output (else E405,
as over a list). :func:`elaborate_keyed` makes the nodes (elaboration), :func:`group_value` reads
one (type checking), :func:`vibench.compiler.elaborated.group_problem` says what is wrong with a reference to the group.
"""

from __future__ import annotations

import keyword
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborated import Failed
from vibench.compiler.ir import NodeDef, Pos, Ref, Unit, UnitDef, ValueRef
from vibench.compiler.limits import MAX_FOR_EACH

if TYPE_CHECKING:
    from vibench.compiler.elaborate import Elaborator, RawRefs
    from vibench.compiler.unit_builder import TypeChecker


def elaborate_keyed(e: Elaborator, nd: NodeDef, refs: RawRefs, items: dict[Any, Any], pos: Pos | None) -> None:
    """Make node ``nd`` once per key of ``items`` (see the module docstring)."""
    from vibench.compiler.resolve_decls import AMBIGUOUS_NAMES, MAX_NAME, RESERVED_NAMES

    if len(items) > MAX_FOR_EACH:
        raise e.error(Diagnostic("E213", f"`for_each` of node `{nd.name}` gives too many keys", pos, node=nd.name,
                                 expected=f"at most {MAX_FOR_EACH:,} copies side by side",
                                 found=f"{len(items):,} keys"))
    taken = {n.name for n in e.udef.nodes} | {d.name for d in e.udef.inputs}
    keys: list[str] = []
    for k, (key, item) in enumerate(items.items()):
        shown = clip(repr(key), 60)
        if key in AMBIGUOUS_NAMES:  # reserved, but not for the reason the next refusal gives: say why, as a node does
            raise e.error(Diagnostic("E106", f"`for_each` of node `{nd.name}` would make a node named {shown}", pos,
                                     node=nd.name, expected="keys that read as words (node names)",
                                     found=f"`{key}` reads like {AMBIGUOUS_NAMES[key]}, and ruff refuses it as a "
                                     "Python name (E741); model.py's forward names a variable after the copy",
                                     hint="rename the mapping's key with a word it stands for"))
        if (not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key) or key.startswith("_")
                or not key.isascii() or key in RESERVED_NAMES):
            raise e.error(Diagnostic("E106", f"`for_each` of node `{nd.name}` would make a node named {shown}", pos,
                                     node=nd.name,
                                     expected="ASCII identifiers (not reserved names) as the mapping's keys",
                                     hint="the keys name the copies, their attributes and state_dict keys"))
        if len(key) > MAX_NAME:
            raise e.error(Diagnostic("E106", f"`for_each` of node `{nd.name}` would make a node named {shown}", pos,
                                     node=nd.name, expected=f"keys of at most {MAX_NAME} characters (node names)",
                                     found=f"{len(key):,} characters"))
        if key in taken or key in e.names:
            raise e.error(Diagnostic("E106", f"`for_each` of node `{nd.name}` would make a second node `{key}`", pos,
                                     node=nd.name, hint="rename the node or input, or the mapping's key"))
        local = {**e.env, "i": k, "key": key, "item": item}
        e.build_node(replace(nd, name=key), refs, local)
        keys.append(key)
    e.groups[nd.name] = tuple(keys)


def group_value(b: TypeChecker, ref: Ref) -> ValueRef:
    """The value ``group.key`` names: the copy's one output (E405, once, at the node when its block has
    several: ``group.key`` and ``{from: group.*}`` give one value per copy, and the others were built and
    computed but never returned); elaboration checked the key. The count is the typed copy's: a composite's
    outputs may be switched off by its parameters (MultiTaskHead with one `task_id` returns one)."""
    key = ref.port
    assert key is not None
    if key in b.failed:
        raise Failed()
    outputs = b.node_index[key].outputs
    if len(outputs) != 1:
        b.failed.add(key)  # one report, however many read the group
        made = next(en for en in b.elaborated.nodes if en.name == key)
        copy = made.copies[0]
        block, ports = copy.block_name, ", ".join(f"`{port}`" for port, _ in outputs)
        fix = f"give `{block}` one output" if isinstance(copy.block, UnitDef) else "use a block with one output"
        raise b.error(Diagnostic(
            "E405", f"`for_each` copies give one value each; `{block}` has {len(outputs)} outputs",
            made.nd.block_pos or made.nd.pos, node=ref.node, expected="a block with one output",
            found=f"`{block}` returns {ports}",
            hint=f"a copy's value is its block's one output (`{ref.node}.<key>`; `{{from: {ref.node}.*}}` returns "
            f"each under its key): {fix} (a task head gives its task one tensor, which "
            "PHM-Vibench's multi-task trainer reads by task name)"))
    return ValueRef(key, outputs[0][0])


def returned_by_key(unit: Unit) -> bool:
    """Whether the root ``unit``'s one output is a copy returned under its key by ``{from: group.*}``: then
    ``forward`` returns a dict by key as it does for several keys, so a caller reads ``out["classification"]``
    whatever the number of tasks (M_01_ISFM's ``task_configs``; PHM-Vibench's multi-task trainer reads its
    outputs by task name); so does one copy of a list returned by ``{from: group.*}`` (``"0"``), as two are. A copy
    is named by its key, which no node or input of the spec may be named (E106)."""
    definition = unit.definition
    if definition is None or len(unit.outputs) != 1:
        return False
    name, value, _ = unit.outputs[0]
    written = {nd.name for nd in definition.nodes} | {d.name for d in definition.inputs}
    grouped = {nd.name for nd in definition.nodes if nd.for_each is not None}
    by_key = value.node == name and name not in written  # a mapping's copy, named by its key
    by_index = value.node in grouped and value.port == name  # a list's copy `lin.0`, returned as "0"
    if not (by_key or by_index):
        return False  # not a copy returned under its key
    # `classification: task_heads.classification` names its output: one tensor (the output named like the key
    # is the one written, unless its `when` switched it off for a `{from: ...*}` of the same key: not told here).
    return (any(o.ref.port == "*" and o.ref.node in grouped for o in definition.outputs)
            and not any(o.name == name and o.ref.port != "*" for o in definition.outputs))
