"""Elaboration, the first half of the shapes pass: a unit's definition and values -> its concrete graph.

:func:`elaborate` takes one :class:`~vibench.compiler.ir.UnitDef` with one set of parameter values and
compile-time dimensions and gives an :class:`~vibench.compiler.elaborated.Elaborated` unit, before any
node is typed: the ``let:`` values and ``checks:`` (E215), the active inputs typed from their
declarations, the active outputs, and each node's ``when``, ``repeat``, ``for_each`` (over a list:
copies side by side; over a mapping: one node per key) and, for every copy, its block and parameter
values gathered from its keys, ``with:`` and ``inherit: true`` (:mod:`~vibench.compiler.node_values`); a
component's slot values are checked first (E214, :func:`~vibench.compiler.slots.check_nested_slots`). It counts
copies against the node limit before making them, and each composite body at its least before any is
specialised (E213, :mod:`~vibench.compiler.node_bounds`), and reports W105 once per definition. It
reads the definition, the values and the specialiser's block table; it writes only diagnostics (and the
specialiser's ``limit_hit``). :func:`~vibench.compiler.unit_builder.typecheck` types the result.

A node that fails is left out with its diagnostics collected; the nodes after it are still
elaborated, except those that read it (whose problem is the failure already reported).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.blocks.base import Block
from vibench.compiler.dead_checks import check_dead_node, check_unused_composites
from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborate_inputs import InputTypes
from vibench.compiler.elaborate_lets import LetValues
from vibench.compiler.elaborated import (
    ElabCopy,
    ElabNode,
    Elaborated,
    Failed,
    expr_diag,
    live_nodes,
    output_count,
    ref_problem,
)
from vibench.compiler.expr import ExprError, contains_template, evaluate_value, template_names
from vibench.compiler.ir import CheckDef, LetDef, NodeDef, Pos, Ref, SpecValue, UnitDef
from vibench.compiler.keyed import elaborate_keyed
from vibench.compiler.lets import let_order_problem, let_reads
from vibench.compiler.limits import MAX_FOR_EACH
from vibench.compiler.metadata_bounds import evaluate_metadata
from vibench.compiler.node_bounds import NodeRoom, least_nodes, least_of
from vibench.compiler.node_values import NodeValues
from vibench.compiler.slots import check_nested_slots
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.unused_params import warn_unused

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

RawRefs = list[tuple[str | None, Ref, Pos | None]]  # a node's inputs as written: (port or None, ref, where)


def elaborate(owner: _Specializer, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
              positions: Mapping[str, Pos | None] | None = None, room: int | None = None) -> Elaborated:
    """``udef`` with ``params`` and the compile-time dimensions ``concrete``, elaborated (see the module
    docstring). ``positions``: where the caller set each parameter; ``room``: the nodes the unit may have, the
    rest of the model counted (None: the model's limit). Raises :class:`Failed` when the
    unit as a whole fails (a check, an input's shape, every output switched off), NeedConcrete when a
    value needs a dimension the caller may know."""
    return Elaborator(owner, udef, params, concrete, positions, room).run()


class Evaluates:
    """``${...}`` evaluation with located errors, shared by both halves of the shapes pass."""

    owner: _Specializer

    def error(self, diag: Diagnostic) -> Failed:
        self.owner.diags.add(diag)
        return Failed()

    def evaluate(self, value: Any, env: Mapping[str, Any], pos: Pos | None, where: str, node: str | None, *,
                 nested: bool = False) -> Any:  # nested: an error is at the template that failed, when known
        if not contains_template(value):
            return value
        try:
            return evaluate_value(value, env)
        except ExprError as err:
            raise self.error(expr_diag(err, (err.pos if nested else None) or pos, where, node)) from None
        except NeedConcrete as need:
            need.node = node
            need.pos = pos
            raise


class Elaborator(Evaluates, NodeValues, LetValues, InputTypes, NodeRoom):
    """The state of one elaboration: the unit's environment and the nodes made so far."""

    def __init__(self, owner: _Specializer, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
                 positions: Mapping[str, Pos | None] | None, room: int | None = None) -> None:
        self.owner = owner
        self.udef = udef
        self.params = params
        self.concrete = concrete
        self.env: dict[str, Any] = dict(params)
        # Where each parameter's value was set: the caller's setting when known, else the declaration.
        self.param_pos = {d.name: (positions or {}).get(d.name) or d.pos for d in udef.params}
        # The parameters set in another file than this unit's (a user's `with:` of a library template,
        # a PHM-Vibench config): an error about a node value that reads one is reported at that setting.
        self.set_elsewhere = {n for n, p in self.param_pos.items() if p is not None and p.file != udef.file}
        # Where each entry of such a value is written: the file's `with:` (not a caller's setting, not --set).
        self.places = {d.name: d.places for d in udef.params if d.places is not None and d.name in self.set_elsewhere
                       and d.name not in (positions or {}) and d.name not in udef.overridden}
        # The parameters a caller set, null included: a node's keys, `with:` of an extending spec, --set, keyword
        # arguments of vibench.build, a PHM-Vibench config's keys. `inherit: true` passes on a null set here.
        self.given = set(positions or ()) | set(udef.overridden) | {d.name for d in udef.params if d.given}
        self.let_reads = let_reads(udef)  # let name -> the parameters it reads
        self.waiting: dict[str, LetDef] = {}  # `let:` values that read the inputs' sizes (elaborate_lets)
        self.later_checks: list[CheckDef] = []  # the checks that read one of them
        self.inherited: set[str] = set()
        self.inactive_inputs: frozenset[str] = frozenset()
        self.nodes: list[ElabNode] = []
        self.names: set[str] = set()  # nodes made so far (a `for_each` over a mapping: its keys)
        self.off: set[str] = set()  # nodes switched off: their value is their first input
        self.void: dict[str, str] = {}  # nodes switched off that pass on a switched-off input: that input
        self.groups: dict[str, tuple[str, ...]] = {}
        self.failed: set[str] = set()
        # The least nodes the copies made so far expand to (node_bounds), bodies included, within `room` (E213).
        self.count = 0
        self.room = owner.max_nodes if room is None else room
        self.catalogue: dict[str, Block] = {}  # the catalogue blocks the nodes so far named, by name

    def run(self) -> Elaborated:
        udef = self.udef
        warn_unused(self.owner, udef)  # first: the warning comes with the errors of the nodes below
        check_unused_composites(self.owner, udef)  # never built here, so their names are checked now
        if len(self.owner.stack) > 1:  # a component's slots (the model's own are checked when it is resolved)
            misfits = check_nested_slots(udef, self.params, self.param_pos, self.owner.library, self.owner.stack[0])
            if misfits:
                self.owner.diags.extend(misfits)
                raise Failed()
        order = let_order_problem(udef)  # E204 before any is computed (computing one reports nothing yet)
        if order is not None:
            raise self.error(order)
        self.first_lets()  # and the checks that read no value waiting for the inputs' sizes
        active = []
        for d in udef.inputs:
            self.refuse_waiting(d.when, d.pos, f"the `when` of input `{d.name}`")
            if self.flag(d.when, d.pos, f"`when` of input `{d.name}`"):
                active.append(d)
        self.inactive_inputs = frozenset(d.name for d in udef.inputs) - {d.name for d in active}
        inputs = self.input_types(active)
        self.last_lets()  # and the checks that read them
        outputs = [o for o in udef.outputs if self.flag(o.when, o.pos, f"`when` of output `{o.name}`")]
        if not outputs:  # at the first output's `when:` (it was at 1:1)
            first = udef.outputs[0] if udef.outputs else None
            where = (getattr(first.when, "pos", None) or first.pos) if first is not None else None
            raise self.error(Diagnostic("E103", f"every output of `{udef.name}` is switched off", where or udef.pos,
                                        expected="at least one output whose `when` is true"))
        # With every output on, every node is live (the graph pass refuses a node that reaches no output).
        live = live_nodes(udef, outputs) if len(outputs) < len(udef.outputs) else None
        for nd in udef.nodes:
            if live is not None and nd.name not in live:  # feeds only switched-off outputs: not built
                try:
                    check_dead_node(self.owner, udef, nd)  # but a typo in its names is still one
                except Failed:
                    pass
                continue
            try:
                self.visit(nd)
            except Failed:
                self.failed.add(nd.name)
        void = [self.void_problem(o.ref, None) for o in outputs if o.ref.node in self.void]
        if void:
            self.owner.diags.extend(void)
            raise Failed()
        metadata: SpecValue = None
        broken = False
        if udef.metadata is not None:
            try:
                metadata, too_large = evaluate_metadata(udef.metadata, lambda t: self.evaluate(
                    t, self.env, t.pos or udef.pos, "`metadata`", None, nested=True))
                if too_large is not None:  # at the `${...}` that took it past, before any after it is built
                    raise self.error(replace(too_large, pos=too_large.pos or udef.pos))
            except Failed:
                broken = True
        return Elaborated(
            udef=udef, params=self.params, concrete=self.concrete, env=self.env,
            inputs=tuple(inputs), inactive_inputs=self.inactive_inputs, outputs=tuple(outputs),
            nodes=tuple(self.nodes), groups=self.groups, failed=frozenset(self.failed), broken=broken,
            inherited=frozenset(self.inherited), metadata=metadata)

    def flag(self, value: Any, pos: Pos | None, where: str, node: str | None = None, hint: str | None = None) -> bool:
        """Evaluate a `when:` (None means true) or a node's `checkpoint:` written as an expression or a name;
        E211 unless it gives a bool. ``where`` names the key (with ``node``: the node's key, `when`)."""
        if value is None:
            return True
        at = getattr(value, "pos", None) or pos
        result = self.evaluate(value, self.env, at, where, node)  # None: the unit's own key, no node's
        if not isinstance(result, bool):
            what = f"{where} of node `{node}`" if node is not None else where
            raise self.error(Diagnostic("E211", f"{what} must be true or false", at, node=node,
                                        expected="true or false", found=repr(result), hint=hint))
        return result

    # -- nodes -----------------------------------------------------------------------------------

    def visit(self, nd: NodeDef) -> None:
        # First its `when`: a node switched off reads nothing, so a switched-off input, a node that passes one on,
        # or a port of a switched-off node is no error there (the graph pass checked that each name it reads
        # exists); only what it passes on is checked (switch_off).
        on = nd.when is None or self.flag(nd.when, nd.pos, "`when`", nd.name,
                                          "write a comparison, e.g. `${stride != 1}`")
        refs: RawRefs = []
        for port, ref in nd.inputs:
            if on and port is not None and ref.port is None and (ref.node in self.inactive_inputs
                                                                 or ref.node in self.void):
                continue  # `port: input` with a switched-off input (or a node passing one): the port is not connected
            if ref.node in self.failed:
                raise Failed()
            problem = ref_problem(ref, nd.name, self.groups, *((self.inactive_inputs, self.off) if on else
                                                               (frozenset(), ())))
            if problem is None and on and ref.node in self.void:
                problem = self.void_problem(ref, nd.name)
            if problem is not None:
                raise self.error(problem)
            refs.append((port, ref, ref.pos))
        if not on:
            self.switch_off(nd, refs)
            return
        if nd.checkpoint.__class__ is not bool:  # `checkpoint: "${recompute}"`; None: a name that read nothing
            on = nd.checkpoint is not None and self.flag(nd.checkpoint, nd.pos, "`checkpoint`", nd.name,
                                                         "write a flag parameter, e.g. `${recompute}`, or a comparison")
            nd = replace(nd, checkpoint=on)
        if nd.for_each is not None:
            self.visit_each(nd, refs)
            return
        self.build_node(nd, refs, self.env)

    def add(self, node: ElabNode) -> None:
        self.nodes.append(node)
        self.names.add(node.nd.name)
        self.count += least_of(self.owner, (node,))

    def switch_off(self, nd: NodeDef, refs: RawRefs) -> None:
        if not refs:
            raise self.error(Diagnostic("E405", f"node `{nd.name}` is switched off but has no input to pass through",
                                        nd.pos, node=nd.name))
        # Its names are checked as a built node's (E110, E111); its values only hold when it is on.
        block = check_dead_node(self.owner, self.udef, nd)
        if len(refs) > 1 and refs[0][0] is not None and block is not None:
            # `in: {y: z, x: x}`: the block's first port passes through, whatever order the mapping is written in
            ports = [i.name for i in block.inputs] if isinstance(block, UnitDef) else list(block.inputs)
            refs = sorted(refs, key=lambda r: ports.index(r[0]) if r[0] in ports else len(ports))
        problem = ref_problem(refs[0][1], nd.name, {}, frozenset(), self.off)  # a port of a switched-off node
        if problem is not None:
            raise self.error(problem)
        self.off.add(nd.name)
        first = refs[0][1].node
        if first in self.inactive_inputs or first in self.void:  # it passes on no value: one that reads it is E405
            self.void[nd.name] = self.void.get(first, first)
            self.names.add(nd.name)
            return
        # Its other inputs that have no value are left out: the type check resolves each input it keeps.
        refs = [r for r in refs if r[1].node not in self.inactive_inputs and r[1].node not in self.void
                and (r[1].node not in self.off or r[1].port is None)]
        self.add(ElabNode(nd, tuple(refs), "off", ()))

    def void_problem(self, ref: Ref, node: str | None) -> Diagnostic:
        """E405 for ``ref`` (read by node ``node``; None: an output) naming a switched-off node that passes on a
        switched-off input, so has no value."""
        source = self.void[ref.node]
        return Diagnostic("E405", f"`{ref.node}` is switched off and passes on input `{source}`, which is switched "
                          "off (its `when` is false)", ref.pos, node=node,
                          hint="switch this " + ("node" if node is not None else "output") + " off too, or feed "
                          "it another value")

    def build_node(self, nd: NodeDef, refs: RawRefs, env: dict[str, Any]) -> None:
        """A node switched on: its `repeat` copies (or one), each with its block and values."""
        copies = 1
        if nd.repeat is not None:
            repeat_pos = getattr(nd.repeat, "pos", None) or nd.pos
            copies = self.evaluate(nd.repeat, env, repeat_pos, "`repeat`", nd.name)
            if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
                raise self.error(Diagnostic("E211", f"`repeat` of node `{nd.name}` must be a non-negative integer",
                                            repeat_pos, node=nd.name, expected="0, 1, 2, ...", found=repr(copies)))
            if copies == 0:
                self.switch_off(nd, refs)
                return
            self.make_room(nd, copies, repeat_pos, f"`repeat: {copies}`")
            if not isinstance(nd.block, str) and "i" in template_names(nd.block) and "i" not in env:
                # The copies of a chain are one block (one class in model.py); only their values may differ.
                raise self.error(Diagnostic("E211", f"`block` of node `{nd.name}` reads `i`, but the copies of "
                                            "`repeat` are all one block", nd.block_pos, node=nd.name,
                                            found=f"block: {clip(getattr(nd.block, 'text', str(nd.block)), 80)}",
                                            hint="vary the copies through their parameters (`${i}` works there), "
                                            "or write the different blocks as nodes of their own"))
        block_name = nd.block if isinstance(nd.block, str) else self.evaluate(nd.block, env, nd.block_pos, "`block`",
                                                                              nd.name)
        if not isinstance(block_name, str):
            raise self.error(Diagnostic("E110", "`block` must name a block", nd.block_pos, node=nd.name,
                                        found=repr(block_name)))
        # A catalogue block that a node before named is known (10,000 nodes: 41 -> 36 ms); only a catalogue
        # block, which the registry gives the same for every node (a spec reference is loaded where it is named).
        block: Block | UnitDef | None = self.catalogue.get(block_name)
        if block is None:
            block = self.owner.lookup_block(block_name, self.udef, nd.block_pos, nd.name, self.block_setting(nd))
            if isinstance(block, Block):
                self.catalogue[block_name] = block
        if isinstance(block, UnitDef):  # its body counted at its least, before any copy is made or specialised
            self.fit_bodies(nd, [least_nodes(self.owner, block)] * copies, [block_name] * copies)
        if nd.repeat is None:  # one copy, in the unit's environment
            copy = ElabCopy(block, block_name, *self.node_values(nd, block, env))
            self.add(ElabNode(nd, tuple(refs), "one", (copy,)))
            return
        made = tuple(ElabCopy(block, block_name, *self.node_values(nd, block, {**env, "i": k})) for k in range(copies))
        self.add(ElabNode(nd, tuple(refs), "repeat", made))

    def visit_each(self, nd: NodeDef, refs: RawRefs) -> None:
        """A `for_each` node: one copy per element, all on the same inputs, side by side."""
        pos = getattr(nd.for_each, "pos", None) or nd.pos
        items = self.evaluate(nd.for_each, self.env, pos, "`for_each`", nd.name)
        if isinstance(items, dict) and items:
            self.make_room(nd, len(items), pos, f"`for_each` over {len(items):,} keys")
            elaborate_keyed(self, nd, refs, items, pos)
            return
        if not isinstance(items, list) or not items:
            raise self.error(Diagnostic("E211", f"`for_each` of node `{nd.name}` must give a non-empty list or "
                                        "mapping", pos, node=nd.name, found=clip(repr(items), 80)))
        if len(items) > MAX_FOR_EACH:
            raise self.error(Diagnostic("E213", f"`for_each` of node `{nd.name}` gives too many items", pos,
                                        node=nd.name, expected=f"at most {MAX_FOR_EACH:,} copies side by side",
                                        found=f"{len(items):,} items", hint="for_each builds parallel branches; "
                                        "a chain of copies is `repeat:`"))
        self.make_room(nd, len(items), pos, f"`for_each` over {len(items):,} items")
        copies = []
        for k, item in enumerate(items):
            local = {**self.env, "i": k, "item": item}
            block_name = self.evaluate(nd.block, local, nd.block_pos, "`block`", nd.name)
            if not isinstance(block_name, str):
                raise self.error(Diagnostic("E110", "`block` must name a block", nd.block_pos, node=nd.name,
                                            found=repr(block_name)))
            block = self.owner.lookup_block(block_name, self.udef, nd.block_pos, nd.name,
                                        self.block_setting(nd))
            count = surely_given(block)
            if count > 1 or (count == 0 and isinstance(block, Block)):
                raise self.error(Diagnostic("E405", f"`for_each` copies give one value each; `{block_name}` has "
                                            f"{count} outputs", nd.block_pos, node=nd.name))
            copies.append(ElabCopy(block, block_name, *self.node_values(nd, block, local)))
        if any(isinstance(c.block, UnitDef) for c in copies):
            self.fit_bodies(nd, [least_nodes(self.owner, c.block) for c in copies], [c.block_name for c in copies])
        self.add(ElabNode(nd, tuple(refs), "each", tuple(copies)))


def surely_given(block: Block | UnitDef) -> int:
    """The outputs ``block`` gives whatever its parameters: a catalogue block's (none: numbered ones), a
    composite's without a `when:` (a `{from: node.*}` may give none). The others count once the copy is
    specialised (:meth:`~vibench.compiler.unit_builder.TypeChecker.visit_each`)."""
    if isinstance(block, Block):
        return output_count(block)
    return sum(1 for o in block.outputs if o.when in (None, True) and o.ref.port != "*")
