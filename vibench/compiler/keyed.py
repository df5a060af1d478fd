"""`for_each` over a mapping: one node per key, named by the key.

``for_each: ${task_configs}`` on node ``heads`` builds, for each key of the mapping (in order), a
node named after the key (``classification``, ``prediction``...), with ``${key}`` the key, ``${item}``
its value and ``${i}`` its index. The copies are ordinary nodes of the unit (so ``state_dict`` keys
read ``classification.fc.weight``); ``heads.classification`` reads one, and an output
``{from: heads.*}`` returns each under its key. :func:`elaborate_keyed` makes the nodes (elaboration),
:func:`group_value` reads one (type checking).
"""

from __future__ import annotations

import keyword
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborated import Failed
from vibench.compiler.ir import NodeDef, Pos, Ref, ValueRef
from vibench.compiler.limits import MAX_FOR_EACH

if TYPE_CHECKING:
    from vibench.compiler.elaborate import Elaborator, RawRefs
    from vibench.compiler.unit_builder import TypeChecker


def elaborate_keyed(e: Elaborator, nd: NodeDef, refs: RawRefs, items: dict[Any, Any], pos: Pos | None) -> None:
    """Make node ``nd`` once per key of ``items`` (see the module docstring)."""
    from vibench.compiler.resolve_decls import MAX_NAME, RESERVED_NAMES

    if len(items) > MAX_FOR_EACH:
        raise e.error(Diagnostic("E213", f"`for_each` of node `{nd.name}` gives too many keys", pos, node=nd.name,
                                 expected=f"at most {MAX_FOR_EACH:,} copies side by side",
                                 found=f"{len(items):,} keys"))
    taken = {n.name for n in e.udef.nodes} | {d.name for d in e.udef.inputs}
    keys: list[str] = []
    for k, (key, item) in enumerate(items.items()):
        shown = clip(repr(key), 60)
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
    """The value ``group.key`` names (the copy's first output); elaboration checked the key."""
    key = ref.port
    assert key is not None
    if key in b.failed:
        raise Failed()
    return ValueRef(key, b.node_index[key].outputs[0][0])
