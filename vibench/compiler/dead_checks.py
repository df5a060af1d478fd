"""Name-level checks of the nodes a compilation does not build, in the shapes pass.

A node switched off (`when: false`, `repeat: 0`), a node that feeds only switched-off outputs and every
node of a composite block nobody uses here are never typed, so a typo in them would pass silently until
other parameter values build them. :func:`check_dead_node` and :func:`check_unused_composites` check
what does not depend on any value: the block's name exists (E110), the node's keys are the block's
parameters (E111), and, for a composite not built, its graph (E401 for an `in:` or an output that names
nothing, as :func:`~vibench.compiler.graph.check_graph` checks a built one). Values stay unchecked: a
switched-off node may hold values that are valid only when it is on (`out_features: ${n - 4}` at n = 4),
and a required parameter it leaves out is needed only then. A block chosen by `block: ${...}` names no
block until values are known, and a plug-in's parameters are known only to its own validator: both are
left to the pass that builds them. Each error is the one the built node gets, at the same place, so a
composite checked here and built later reports it once. It reads the definitions; it writes only
diagnostics (and the specialiser's memo of checked graphs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vibench.compiler.blocks.base import Block
from vibench.compiler.diagnostics import Diagnostic, comment_hint, one_of
from vibench.compiler.elaborated import Failed
from vibench.compiler.ir import NodeDef, Pos, UnitDef
from vibench.compiler.plugin_calls import is_plugin
from vibench.compiler.suggestions import SuggestionSets
from vibench.compiler.typecheck import unwritten_keys

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


def check_dead_node(owner: _Specializer, udef: UnitDef, nd: NodeDef,
                    seen: set[int] | None = None) -> Block | UnitDef | None:
    """Node ``nd`` of ``udef``, not built: E110 for an unknown block, E111 for a key that is none of its
    parameters; a composite block's own nodes are checked in turn (``seen``: the composites checked by this
    call). Returns the block (None for `block: ${...}`); raises Failed after reporting an error."""
    if not isinstance(nd.block, str):
        return None
    block = owner.lookup_block(nd.block, udef, nd.block_pos, nd.name)  # E110 with "did you mean", and Failed
    hints = owner.param_memo.get((_HINTS,))
    if hints is None:  # one "did you mean" budget per compilation (one lookup per key: 3,000 keys of a block took 22 s)
        hints = owner.param_memo[(_HINTS,)] = SuggestionSets()
    keys = _Keys(block, nd, hints)
    errors = [d for key, _, pos in nd.params if (d := keys.unknown(key, pos)) is not None]
    owner.diags.extend(errors)
    if isinstance(block, UnitDef):
        check_unit(owner, block, set() if seen is None else seen)
    if errors:
        raise Failed()
    return block


def check_unused_composites(owner: _Specializer, udef: UnitDef) -> None:
    """The composites of ``udef``'s file that none of its nodes reaches by name, checked as nodes not built.
    Only for a file's model (a composite shares its file's `blocks:`, and what the model uses is the file's
    use). One chosen by `block: ${...}` is checked here too: its errors are the ones its build reports."""
    if not udef.blocks or "#" in udef.qualname:
        return
    reached: set[str] = set()
    todo = [udef]
    while todo:
        for nd in todo.pop().nodes:
            # `./m.yaml#Inner` may be this file's own `Inner` read from disk, checked there: counted as reached
            # (else the error came twice, under two names of the file, in the editor)
            name = nd.block.rpartition("#")[2] if isinstance(nd.block, str) else None
            if name is not None and name in udef.blocks and name not in reached:
                reached.add(name)
                todo.append(udef.blocks[name])
    seen: set[int] = set()
    for name, block in udef.blocks.items():
        if name not in reached:
            check_unit(owner, block, seen)


def check_unit(owner: _Specializer, unit: UnitDef, seen: set[int]) -> None:
    """A composite not built here: its graph (E401-E404, once per definition, as a built one's) and each node."""
    if id(unit) in owner.checked or id(unit) in seen:
        return  # built (so checked in full), or checked already: also ends a composite that names itself
    seen.add(id(unit))
    try:
        owner.graph(unit)
    except Failed:
        pass  # reported; its nodes are still checked, as a built unit's are after E403
    for nd in unit.nodes:
        try:
            check_dead_node(owner, unit, nd, seen)
        except Failed:
            continue


class _Keys:
    """E111 for the keys of node ``nd`` that are none of ``block``'s parameters, worded as the built node's error;
    what the messages share (the parameters, `expected`, the "did you mean" candidates) is made once per node, at
    its first unknown key (made again for each, a node's 3,000 keys took time in the square of their number)."""

    def __init__(self, block: Block | UnitDef, nd: NodeDef, hints: SuggestionSets) -> None:
        self.block, self.nd, self.hints = block, nd, hints
        self.names: list[str] | None = None  # the parameters (a catalogue block's fields and aliases too)
        self.known: set[str] = set()
        self.expected = ""
        self.candidates: list[str] = []

    def unknown(self, key: str, pos: Pos | None) -> Diagnostic | None:
        """E111 for ``key`` when the block has no such parameter (None: it has, or only its validator knows)."""
        block, nd = self.block, self.nd
        if not isinstance(block, UnitDef) and (is_plugin(block) or block.Params.model_config.get("extra") != "forbid"):
            return None  # its validator alone knows what it takes
        if self.names is None:
            self.names = self.parameters()
        if key in self.known:
            return None
        if isinstance(block, UnitDef):  # as `bind_params` says it for a composite
            return Diagnostic("E111", f"unknown parameter `{key}` for block `{block.name}`", pos, node=nd.name,
                              expected=self.expected, hint=comment_hint(key)
                              or self.hints.hint(id(block), lambda: self.candidates, key)
                              or "remove it, or declare it in `params:`")
        return Diagnostic("E111", f"unknown parameter `{key}` for block `{block.name}`", pos, node=nd.name,
                          expected=self.expected, hint=comment_hint(key)
                          or self.hints.hint((block.name, *self.candidates), lambda: self.candidates, key)
                          or f"`vibench-compile --blocks` describes `{block.name}`")

    def parameters(self) -> list[str]:
        block = self.block
        if isinstance(block, UnitDef):
            names = [d.name for d in block.params]
            self.known = set(names)
            self.expected = "one of " + (one_of(names) or "(none)")
            self.candidates = names
            return names
        fields = block.Params.model_fields
        self.known = set(fields) | {info.alias for info in fields.values() if isinstance(info.alias, str)}
        self.expected = "one of " + one_of(fields) if fields else "no parameters"
        self.candidates = unwritten_keys(self.nd, fields)  # (a node's own: the parameters it does not write)
        return list(fields)


_HINTS = object()  # the key of the compilation's "did you mean" in the specialiser's memo
