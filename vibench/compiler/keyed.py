"""`for_each` over a mapping: one node per key, named by the key.

``for_each: ${task_configs}`` on node ``heads`` builds, for each key of the mapping (in order), a
node named after the key (``classification``, ``prediction``...), with ``${key}`` the key, ``${item}``
its value and ``${i}`` its index. The copies are ordinary nodes of the unit (so ``state_dict`` keys
read ``classification.fc.weight``); ``heads.classification`` reads one, and an output
``{from: heads.*}`` returns each under its key.
"""

from __future__ import annotations

import keyword
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, one_of, suggest
from vibench.compiler.ir import NodeDef, Pos, Ref, ValueRef
from vibench.compiler.limits import MAX_FOR_EACH

if TYPE_CHECKING:
    from vibench.compiler.unit_builder import UnitBuilder


def visit_keyed(b: UnitBuilder, nd: NodeDef, refs: list, items: dict[Any, Any], pos: Pos | None) -> None:
    """Build node ``nd`` once per key of ``items`` (see the module docstring)."""
    from vibench.compiler.resolve_decls import RESERVED_NAMES

    if len(items) > MAX_FOR_EACH:
        raise b.error(Diagnostic("E213", f"`for_each` of node `{nd.name}` gives too many keys", pos, node=nd.name,
                                 expected=f"at most {MAX_FOR_EACH:,} copies side by side",
                                 found=f"{len(items):,} keys"))
    taken = {n.name for n in b.udef.nodes} | {d.name for d in b.udef.inputs}
    keys: list[str] = []
    for k, (key, item) in enumerate(items.items()):
        shown = repr(key)[:60]
        if (not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key) or key.startswith("_")
                or unicodedata.normalize("NFKC", key) != key or key in RESERVED_NAMES):
            raise b.error(Diagnostic("E106", f"`for_each` of node `{nd.name}` would make a node named {shown}", pos,
                                     node=nd.name, expected="identifiers (not reserved names) as the mapping's keys",
                                     hint="the keys name the copies, their attributes and state_dict keys"))
        if key in taken or key in b.node_index:
            raise b.error(Diagnostic("E106", f"`for_each` of node `{nd.name}` would make a second node `{key}`", pos,
                                     node=nd.name, hint="rename the node or input, or the mapping's key"))
        local = {**b.env, "i": k, "key": key, "item": item}
        b.build_node(replace(nd, name=key), refs, local)
        keys.append(key)
    b.groups[nd.name] = tuple(keys)


def group_value(b: UnitBuilder, ref: Ref, node: str | None) -> ValueRef:
    """The value ``group.key`` names (the copy's first output)."""
    keys = b.groups[ref.node]
    if ref.port is None or ref.port not in keys:
        raise b.error(Diagnostic("E405", f"`{ref.node}` is one node per key; read one as `{ref.node}.<key>`",
                                 ref.pos, node=node, expected="one of " + one_of(keys),
                                 hint=suggest(ref.port or "", keys) or f"or return them all: `from: {ref.node}.*`"))
    target = b.node_index[ref.port]
    return ValueRef(ref.port, target.outputs[0][0])
