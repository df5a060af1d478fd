"""The least number of nodes a copy of a node expands to, known before any composite body is specialised.

The node limit (E213, :data:`~vibench.compiler.limits.MAX_NODES`) counts every copy and every composite body as the
built model has them, which the type checker knows exactly once each body is specialised. Where each use is a body
of its own, that came too late: a chain of blocks each using the one below twice with a value of its own
(`j: "${j * 2 + i}"`) is 2**k distinct bodies, and at 16 levels (196,607 nodes) it took 33 s and 1.2 GB to reach the
count (and spent the expression budget first, E204). So:

* elaboration counts each copy of a node with the least its block expands to (:func:`least_nodes`), and refuses the
  copy that takes a unit past the room it has before any body is specialised (E213 at that copy);
* the type checker gives each body it specialises the room the rest of the model leaves it (:func:`body_room`):
  the nodes typed so far and the least the unit's other copies will have. The body's own elaboration then counts
  its `repeat` and `for_each` copies, evaluated with its parameters, against it. Once a limit is reported, no
  further body is specialised.

A definition's least count reads what it writes as constants: `repeat: 3`, a `for_each` list or mapping written out,
each body below at its own least. A `when:` (of a node, or of an output the node feeds), a `repeat` given by
``${...}`` may leave a node out (none counted; a `for_each` gives at least one copy); a `block: ${...}` or a spec
reference names a body not loaded yet, and a catalogue block's per-channel modules are known once its parameters
are validated (the node alone is counted). A block that uses itself, or nests deeper than the limit, counts none
(E206 says so when it is specialised). It is memoised per definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.elaborated import LIMIT_HINT, ElabNode, live_nodes
from vibench.compiler.ir import NodeDef, Pos, UnitDef
from vibench.compiler.limits import MAX_NESTING

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.elaborated import Failed
    from vibench.compiler.shapes import _Specializer

_CAP = 2**62  # a body's count stops here (32 levels of `repeat: 100000` would be a number of 160 digits)


class NodeRoom:
    """The node-limit methods of :class:`~vibench.compiler.elaborate.Elaborator`, which sets the state below (see
    its ``__init__``)."""

    owner: _Specializer
    udef: UnitDef
    count: int  # the least nodes the copies made so far expand to
    room: int  # the nodes the unit may have, the rest of the model counted

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...

    def make_room(self, nd: NodeDef, copies: int, pos: Pos | None, what: str) -> None:
        """E213 before making ``copies`` copies that cannot fit in the node budget."""
        room = self.room - self.count
        if copies > room:
            self.owner.limit_hit = True
            raise self.error(Diagnostic(
                "E213", f"{what} makes more nodes than a model may have", pos, node=nd.name,
                expected=f"at most {self.owner.max_nodes:,} nodes after expansion"
                + (f" ({room:,} left here)" if room < self.owner.max_nodes else ""),
                found=f"{copies:,} copies", hint=LIMIT_HINT))

    def fit_bodies(self, nd: NodeDef, least: list[int], block_names: Sequence[str]) -> None:
        """E213 at the copy of ``nd`` that takes the unit past its room, each copy counted with the least its block
        (``block_names``, one per copy) expands to (``least``: a composite's body, before it is specialised)."""
        room = self.room - self.count
        if sum(least) <= room:
            return
        total, k = 0, 0
        while total + least[k] <= room:
            total, k = total + least[k], k + 1
        copies, max_nodes = len(least), self.owner.max_nodes
        which = f"copy {k + 1} of {copies} of node `{nd.name}`" if copies > 1 else f"node `{nd.name}`"
        inside = f" in block `{self.udef.name}`" if len(self.owner.stack) > 1 else ""
        rest = f", where the rest of the model has at least {max_nodes - self.room:,}" if self.room < max_nodes else ""
        self.owner.limit_hit = True
        raise self.error(Diagnostic(
            "E213", f"the model has more nodes than allowed at {which}", nd.pos, node=nd.name,
            expected=f"at most {max_nodes:,} nodes after expansion",
            found=f"at least {self.count + total + least[k]:,} so far{inside}{rest}",
            notes=("composite blocks count once plus the nodes of their body, for every copy",
                   f"a copy of `{block_names[k]}` is at least {least[k]:,} nodes (with the `repeat` and `for_each` "
                   "counts its body writes as numbers), counted before any copy is built"),
            hint=LIMIT_HINT))


def least_nodes(owner: _Specializer, block: Block | UnitDef) -> int:
    """The least nodes one copy of a node of ``block`` expands to: the node, and a composite block's body at its least
    (at most :data:`_CAP`, a number a message still shows: 2**62)."""
    if not isinstance(block, UnitDef):
        return 1
    return 1 + (_body(owner.least_bodies, block, _CAP, set()) or 0)


def least_of(owner: _Specializer, nodes: tuple[ElabNode, ...] | list[ElabNode]) -> int:
    """The least nodes the copies of the elaborated ``nodes`` expand to (a `repeat`'s copies share one block)."""
    total = 0
    for node in nodes:
        if node.mode == "repeat":
            total += len(node.copies) * least_nodes(owner, node.copies[0].block)
        else:
            total += sum(least_nodes(owner, c.block) for c in node.copies)
    return total


def body_room(room: int, typed: int, rest: int) -> int:
    """The nodes the body of the copy being typed may have: what the unit's ``room`` leaves once its nodes ``typed``
    so far (exactly), the least ``rest`` of its copies after this one and the copy itself are counted."""
    return room - typed - rest - 1


def _body(memo: dict[int, tuple[UnitDef, int | None]], udef: UnitDef, cap: int, inside: set[int]) -> int | None:
    """The least nodes ``udef``'s body expands to, at most ``cap``; ``inside``: the definitions being counted. None
    where the body uses itself, or nests deeper than :data:`MAX_NESTING`, through the blocks it names: E206 when it is
    specialised, which no count should say before it."""
    entry = memo.get(id(udef))
    if entry is not None and entry[0] is udef:  # (ids are kept with their definition: compared, not trusted)
        return entry[1]
    if id(udef) in inside or len(inside) > MAX_NESTING:
        return None
    inside.add(id(udef))
    try:
        total = _count(memo, udef, cap, inside)
    finally:
        inside.discard(id(udef))
    memo[id(udef)] = (udef, total)
    return total


def _count(memo: dict[int, tuple[UnitDef, int | None]], udef: UnitDef, cap: int, inside: set[int]) -> int | None:
    always = [o for o in udef.outputs if o.when is None or o.when is True]
    live = None if len(always) == len(udef.outputs) else live_nodes(udef, always)
    total = 0
    for nd in udef.nodes:
        if (live is not None and nd.name not in live) or not (nd.when is None or nd.when is True):
            continue  # (it may be switched off)
        if nd.for_each is not None:
            copies = len(nd.for_each) if isinstance(nd.for_each, list | tuple | dict) else 1
        elif nd.repeat is None:
            copies = 1
        else:
            copies = nd.repeat if isinstance(nd.repeat, int) and not isinstance(nd.repeat, bool) else 0
        if not copies:
            continue
        child = udef.blocks.get(nd.block) if isinstance(nd.block, str) else None
        body = _body(memo, child, cap, inside) if child is not None else 0
        if body is None:
            return None
        total = min(cap, total + copies * (1 + body))
    return total
