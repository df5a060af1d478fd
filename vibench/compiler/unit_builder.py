"""Type checking, the second half of the shapes pass: an elaborated unit -> a typed :class:`Unit`.

:func:`typecheck` takes what :func:`~vibench.compiler.elaborate.elaborate` made of one unit and types
it, node by node in order: it resolves each input to the value it names (through switched-off nodes
and `for_each` groups), binds it to a port of the copy's block, validates a catalogue block's
parameters and runs its shape rule, or unifies a composite block's declared input shapes with the
caller's and has the specialiser build its body; then it counts the copies against the model's limits
(E213, E307), types the outputs and checks their promised shapes, and adds W104, the reference renames
and the metadata. It reads the elaborated unit; it writes the symbol space of the unit it returns and
diagnostics.

This module is the driver (the visit of each node, the outputs); the port, parameter and shape work
is :mod:`vibench.compiler.typecheck`'s, the limits :mod:`vibench.compiler.copy_limits`' and the warnings
:mod:`vibench.compiler.build_warnings`'.
A node that fails is left out with its diagnostics collected; the nodes that read it fail silently.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.build_warnings import BuildWarnings
from vibench.compiler.constraints import SymbolSpace
from vibench.compiler.copy_limits import CopyLimits
from vibench.compiler.diagnostics import Diagnostic, clip, one_of, suggest
from vibench.compiler.elaborate import Evaluates
from vibench.compiler.elaborated import (
    ElabCopy,
    ElabNode,
    Elaborated,
    Failed,
    Ports,
    Refs,
    each_inputs_problem,
    freeze,
    ref_problem,
)
from vibench.compiler.expr import ExprError, contains_template, evaluate_value
from vibench.compiler.ir import Constraint, Instance, Node, NodeDef, Ref, TensorType, Unit, UnitDef, ValueRef
from vibench.compiler.keyed import group_value
from vibench.compiler.node_bounds import body_room, least_nodes, least_of
from vibench.compiler.promises import check_promise
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.typecheck import TypeCheck, connected
from vibench.compiler.yaml_text import yaml_text

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

__all__ = ["Failed", "TypeChecker", "typecheck"]


def typecheck(owner: _Specializer, elaborated: Elaborated, room: int | None = None) -> Unit:
    """The typed unit (see the module docstring); :class:`Failed` when a node or output failed (the
    diagnostics are collected), NeedConcrete when a rule needs a dimension the caller may know. ``room``: the
    nodes the unit may have, the rest of the model counted (None: the model's limit)."""
    return TypeChecker(owner, elaborated, room).run()


class TypeChecker(Evaluates, TypeCheck, CopyLimits, BuildWarnings):
    """The state of one type check: the types of the values so far and the unit's symbol space."""

    def __init__(self, owner: _Specializer, elaborated: Elaborated, room: int | None = None) -> None:
        self.owner = owner
        self.elaborated = elaborated
        self.udef = elaborated.udef
        self.params = elaborated.params
        self.env = elaborated.env
        self.inherited = elaborated.inherited
        self.groups = elaborated.groups
        self.space = SymbolSpace()
        self.types: dict[tuple[str, str | None], TensorType] = {(name, None): t for name, t in elaborated.inputs}
        self.aliases: dict[str, ValueRef] = {}
        self.failed: set[str] = set(elaborated.failed)
        self.nodes: list[Node] = []
        self.node_index: dict[str, Node] = {}
        # Shape-rule results per (block, params, input types); per unit because verdicts depend on
        # this unit's symbol bounds (which only tighten as nodes are visited).
        self.prim_memo: dict[tuple[Any, ...], tuple[Instance, tuple[Constraint, ...]]] = {}
        self.copy: tuple[int, int] | None = None  # (index, count) while typing a copy of a `repeat` or `for_each` node
        self.copied: ElabNode | None = None  # that node: its mode says which of the two made the copy
        self.from_list = False  # the current node reads a `for_each` node's whole list
        self.soft_ports: set[str] = set()  # `port?:` connections of the node being bound
        self.dropped_soft = False  # a `port?:` connection left out: its block lacks the port
        self.count = 0  # nodes of this unit so far, expanded (limit: room, E213)
        self.room = owner.max_nodes if room is None else room
        self.least_left = least_of(owner, elaborated.nodes)  # the least nodes of the copies not typed yet
        self.param_total = 0  # parameter elements of this unit so far (limit: owner.max_params, E307)
        self.sized: set[int] = set()  # ids of the instances whose outputs were measured (E309)

    def error(self, diag: Diagnostic) -> Failed:
        if self.copy is not None and self.copied is not None and diag.code.startswith("E3"):
            note = copy_note(self.copied, *self.copy, self.env)
            if note is not None:
                diag = replace(diag, notes=diag.notes + (note,))
        self.owner.diags.add(diag)
        return Failed()

    def run(self) -> Unit:
        el, udef = self.elaborated, self.udef
        for node in el.nodes:
            if node.nd.name in self.failed:
                continue
            try:
                self.visit(node)
            except Failed:
                self.failed.add(node.name)
            except NeedConcrete as need:  # raised past a shape rule (a composite's sizes put back, a FLOP count)
                if need.node is None:
                    need.node, need.pos = node.name, node.nd.pos
                raise
        if self.failed or el.broken:
            raise Failed()
        outputs = []
        seen: dict[str, str] = {}
        for out in el.outputs:
            if out.ref.port == "*":  # `from: node.*`: every output of the node, under its port names
                produced = self.every_output(out)
            else:
                ref = self.value(out.ref, None)
                whole = self.whole_list(ref)
                if whole is not None:
                    raise self.error(self.list_taken(out.ref, whole, None, f"output `{out.name}` is one tensor"))
                produced = [(out.name, ref, self.type_of(ref))]
            for name, _, t in produced if out.shape is not None else ():
                broken = check_promise(out, name, t, dict(self.env), self.space, udef.name)
                if broken is not None:
                    raise self.error(broken)
            for name, _, _ in produced:  # located at the output that repeats a name (it was at 1:1)
                # Which two entries: `y: {from: h.*}` gives `z` (its key), and `z: h.y` is named so.
                src = out.ref.node
                entry = (f"`{out.name}: {{from: {src}.*}}` gives `{name}` (`{src}.{name}`)" if out.ref.port == "*"
                         else f"`{out.name}: {src}{'' if out.ref.port is None else '.' + out.ref.port}`")
                if name in seen:
                    raise self.error(Diagnostic("E405", f"two outputs are named `{name}`", out.pos or udef.pos,
                                                found=f"{seen[name]} and {entry}",
                                                hint="rename one of them (a `node.*` output takes its ports' names)"))
                seen[name] = entry
            outputs += produced
        inputs = el.inputs
        optional = {d.name for d in udef.inputs if d.optional}
        if optional:  # `optional: true` inputs that no node reads are not taken
            read = {v.node for n in self.nodes for _, v in n.inputs} | {ref.node for _, ref, _ in outputs}
            inputs = tuple((name, t) for name, t in inputs if name not in optional or name in read)
        self.warn_passed_keys()
        unread: tuple[frozenset[str], tuple[tuple[str, str], ...]] = (frozenset(), ())
        if len(self.owner.stack) == 1:
            self.warn_unread(udef)
        else:  # what its caller's W104 asks of what it passed on, or gave as a key
            unread = self.component_unread(udef)
        if self.dropped_soft:
            self.warn_unread_nodes(udef, outputs)
        return Unit(
            key=(udef.qualname, freeze(self.params), tuple(sorted(el.concrete.items()))),
            name=udef.name, qualname=udef.qualname, doc=udef.doc,
            params=tuple((p.name, self.params.get(p.name)) for p in udef.params),
            inputs=inputs, nodes=tuple(self.nodes), outputs=tuple(outputs),
            constraints=tuple(self.space.constraints), const_symbols=tuple(sorted(el.concrete.items())),
            file=udef.file, pos=udef.pos, metadata=el.metadata,
            state_dict_renames=self.renames(udef), definition=udef, unread=unread[0], unread_why=unread[1],
        )

    # -- values ----------------------------------------------------------------------------------

    def value(self, ref: Ref, node: str | None) -> ValueRef:
        """The produced value a reference names (graph checks guarantee the name exists). A bare name reads
        a node's one output, or the first of its named outputs (`lstm` is `lstm.out`); a `for_each` node's
        is its whole list, ``ValueRef(node, None)`` (:meth:`whole_list`), which its reader takes whole or
        refuses; numbered outputs (`chunk`'s pieces) have no first one: E405."""
        name = ref.node
        if name in self.failed:
            raise Failed()
        if node is None:  # an output's (elaboration checked the nodes' inputs)
            problem = ref_problem(ref, node, self.groups, self.elaborated.inactive_inputs, self.aliases)
            if problem is not None:
                raise self.error(problem)
        if name in self.groups:
            return group_value(self, ref)
        if name in self.aliases:
            return self.aliases[name]
        target = self.node_index.get(name)
        if target is None:  # an input of the unit (graph checks guarantee one of the two)
            if (name, None) in self.types:
                return ValueRef(name, None)
            target = self.node_index[name]
        outputs = target.outputs
        if ref.port is None:
            if target.parallel:
                return ValueRef(name, None)
            if len(outputs) > 1 and outputs[0][0].isdigit():  # numbered first (also beside named ones: `c.*, z`)
                numbered = [p for p, _ in outputs if p.isdigit()]
                named = [f"`{name}.{p}`" for p, _ in outputs if not p.isdigit()]
                last = len(numbered) - 1
                pieces = (f"`{name}.0`" if last == 0 else f"`{name}.0` or `{name}.1`" if last == 1 else
                          f"one of `{name}.0` to `{name}.{last}`")
                raise self.error(Diagnostic(
                    "E405", f"a bare `{name}` names none of the {len(numbered)} numbered outputs of node `{name}`",
                    ref.pos, node=node, found=f"`{name}`",
                    expected=pieces + (f", or {', '.join(named)}" if named else ""),
                    hint=f"read one as `{name}.0`; a bare name reads a node's first output only when that one is "
                    "named (`lstm` is `lstm.out`)"))
            return ValueRef(name, outputs[0][0])
        ports = [p for p, _ in outputs]
        if ref.port not in ports:
            raise self.error(Diagnostic("E405", f"node `{name}` has no output port `{ref.port}`", ref.pos, node=node,
                                        expected="one of " + one_of(ports), hint=suggest(ref.port, ports)))
        return ValueRef(name, ref.port)

    def whole_list(self, value: ValueRef) -> Node | None:
        """The `for_each` node when ``value`` is its whole list (see :meth:`value`), else None."""
        target = self.node_index.get(value.node) if value.port is None else None
        return target if target is not None and target.parallel else None

    def list_taken(self, ref: Ref, whole: Node, node: str | None, reader: str) -> Diagnostic:
        """E405 for a `for_each` node's whole list where one value is needed: ``ref`` names the list of
        ``whole``'s copies, and ``reader`` says why one value is needed (a block that takes no list, an output)."""
        name, count = whole.name, len(whole.outputs)
        copies = f"{count} cop{'y' if count == 1 else 'ies'}"
        passed = f"`{ref.node}` (switched off: it passes `{name}` through)" if ref.node != name else f"`{name}`"
        more = f"; or return each: `{{from: {name}.*}}`" if node is None else ""
        return Diagnostic(
            "E405", f"{passed} is the list of the copies of `for_each` node `{name}`; {reader}",
            ref.pos, node=node, expected=f"one copy: `{name}.0`" + (f" to `{name}.{count - 1}`" if count > 1 else ""),
            found=f"the whole list ({copies})",
            hint=f"read one copy as `{name}.0`, or take them all with a block that takes a list of inputs (`concat`, "
            f"`add`, `ensemble_fusion`){more}")

    def spelling(self, ref: ValueRef) -> str:
        """How a spec names a value: `pool` for the only output of `pool`, `qkv.q` for one of several."""
        node = self.node_index.get(ref.node)
        if node is not None and len(node.outputs) == 1:
            return ref.node
        return str(ref)

    def type_of(self, ref: ValueRef) -> TensorType:
        return self.types[(ref.node, ref.port)]

    # -- nodes -----------------------------------------------------------------------------------

    def visit(self, en: ElabNode) -> None:
        self.from_list = False
        refs: Refs = []
        for port, ref, pos in en.refs:
            value = self.value(ref, en.nd.name)
            whole = self.whole_list(value)
            if whole is None or en.mode == "off":  # a switched-off node passes a list through whole
                refs.append((port, value, pos))
                continue
            single = next((c for c in en.copies if isinstance(c.block, UnitDef) or not c.block.variadic), None)
            if single is not None:  # only a block that takes a list of inputs (`concat`...) takes it whole
                reader = f"`{single.block_name}` takes one value per input"
                raise self.error(self.list_taken(ref, whole, en.name, reader))
            refs += [(port, ValueRef(whole.name, p), pos) for p, _ in whole.outputs]
            self.from_list = True  # a list may hold a single value
        if en.mode == "off":
            self.aliases[en.name] = refs[0][1]  # elaboration made sure there is one
        elif en.mode == "each":
            self.visit_each(en, refs)
        else:
            self.build_node(en, refs)

    def visit_each(self, en: ElabNode, refs: Refs) -> None:
        """A `for_each` node's copies, each typed on the same inputs, side by side."""
        nd = en.nd
        instances: list[Instance] = []
        first_ports: Ports | None = None
        names: list[str] = []
        for k, copy in enumerate(en.copies):
            block = copy.block
            ports = self.bind_ports(nd, block, refs)
            if first_ports is None:
                first_ports = ports
            elif [p for p, _, _ in ports] != [p for p, _, _ in first_ports]:
                raise self.error(Diagnostic("E405", f"the copies of `{nd.name}` take different inputs", nd.pos,
                                            node=nd.name, found=f"`{names[0]}` vs `{copy.block_name}`"))
            in_types = [self.type_of(v) for _, v, _ in ports]
            self.copy, self.copied = (k, len(en.copies)), en
            try:
                inst = self.instance(nd, copy, ports, in_types)
            finally:
                self.copy = self.copied = None
            if len(inst.outputs) != 1:  # a composite's, its outputs' `when` read with this copy's values
                raise self.error(Diagnostic(
                    "E405", f"`for_each` copies give one value each; `{copy.block_name}` has {len(inst.outputs)} "
                    "outputs", nd.block_pos or nd.pos, node=nd.name,
                    found=f"`{copy.block_name}` returns " + ", ".join(f"`{port}`" for port, _ in inst.outputs)))
            self.check_checkpoint(nd, block, inst, copy.block_name)
            instances.append(replace(inst, block=block.qualname if isinstance(block, UnitDef) else copy.block_name))
            self.tally(nd, inst, k, len(en.copies), block, in_types)
            names.append(copy.block_name)
        assert first_ports is not None
        problem = each_inputs_problem(nd, [[p for p, _, _ in connected(first_ports, inst)] for inst in instances])
        if problem is not None:
            raise self.error(problem)
        first_ports = connected(first_ports, instances[0])
        kinds = {"composite" if c.unit is not None else "primitive" for c in instances}
        if len(kinds) > 1:
            raise self.error(Diagnostic("E405", f"the copies of `{nd.name}` mix catalogue and composite blocks",
                                        nd.pos, node=nd.name, found=", ".join(names)))
        self.add(Node(name=nd.name, block=instances[0].block, kind=kinds.pop(),
                      inputs=tuple((p, v) for p, v, _ in first_ports), copies=tuple(instances), repeated=False,
                      pos=nd.pos, doc=nd.doc, parallel=True, checkpoint=nd.checkpoint is True))

    def build_node(self, en: ElabNode, refs: Refs) -> None:
        """A node's copies (one, or a `repeat` chain), each an instance of its block."""
        nd = en.nd
        first = en.copies[0]
        block = first.block
        ports = self.bind_ports(nd, block, refs)
        repeated = en.mode == "repeat"
        if repeated and not isinstance(block, UnitDef):  # a composite's are counted as each copy is specialised
            self.check_chain(nd, first.block_name, len(ports), len(block.outputs))
        types = self.types
        in_types = [types[(v.node, v.port)] for _, v, _ in ports]
        if not repeated:  # one copy (the common case)
            instances = [self.instance(nd, first, ports, in_types)]
            self.tally(nd, instances[0], 0, 1, block, in_types)
        else:
            instances = []
            copies = len(en.copies)
            given, chained = in_types, None
            for k, copy in enumerate(en.copies):
                self.copy, self.copied = (k, copies), en
                try:
                    inst = self.instance(nd, copy, ports, in_types)
                finally:
                    self.copy = self.copied = None
                live = [p for p, _, _ in connected(ports, inst)]  # of every input given: those its values switch on
                if inst.unit is not None:
                    self.check_chain(nd, copy.block_name, len(live), len(inst.outputs), chained, live)
                instances.append(inst)
                self.tally(nd, inst, k, copies, copy.block, in_types)
                chained = live[0]
                in_types = [inst.outputs[0][1] if ports[j][0] == chained else t for j, t in enumerate(given)]
        composite = instances[0].unit is not None
        if nd.checkpoint is True:
            self.check_checkpoint(nd, block, instances[0], first.block_name)
        if composite:
            ports = connected(ports, instances[0])
        name = block.qualname if composite else first.block_name  # type: ignore[union-attr]
        # The fields in order, not by keyword: a frozen dataclass's keywords are gathered into a dict on each call
        # (10,000 nodes: 73 -> 69 ms).
        self.add(Node(nd.name, name, "composite" if composite else "primitive", tuple([(p, v) for p, v, _ in ports]),
                      tuple(instances), repeated, nd.pos, nd.doc, False, nd.checkpoint is True))

    def check_chain(self, nd: NodeDef, block_name: str, inputs: int, outputs: int, before: str | None = None,
                    live: list[str] | None = None) -> None:
        """E405 unless a `repeat` copy of ``block_name`` takes one input and gives one output (no outputs: a catalogue
        block's numbered ones), a composite's copy (``live``: its ports on) the port ``before`` the copy before took."""
        if inputs != 1 or outputs != 1:
            given = f"{outputs} output(s)" if outputs else "numbered outputs (`node.0`, ...)"
            raise self.error(Diagnostic("E405", f"`repeat` chains copies through one input and one output; "
                                        f"`{block_name}` has {inputs} input(s) and {given}", nd.pos, node=nd.name))
        if before is not None and live is not None and live != [before]:
            raise self.error(Diagnostic("E405", "`repeat` chains copies through one input; the copies of "
                                        f"`{block_name}` take `{before}`, then `{live[0]}`", nd.pos, node=nd.name))

    def check_checkpoint(self, nd: NodeDef, block: Any, inst: Instance, block_name: str) -> None:
        """E211 for `checkpoint: true` on a node without a submodule (nothing to recompute)."""
        if nd.checkpoint is True and inst.unit is None and not block.has_module(inst.params):
            raise self.error(Diagnostic("E211", f"`checkpoint` of node `{nd.name}` needs a node with a submodule",
                                        nd.pos, node=nd.name, found=f"`{block_name}` has no weights to recompute",
                                        hint="checkpoint a layer or a composite block (a group of layers)"))

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        self.node_index[node.name] = node
        for port, t in node.outputs:
            self.types[(node.name, port)] = t

    def instance(self, nd: NodeDef, copy: ElabCopy, ports: Ports, in_types: list[TensorType]) -> Instance:
        block = copy.block
        values, positions = dict(copy.values), dict(copy.positions)
        self.least_left -= least_nodes(self.owner, block)
        if isinstance(block, UnitDef):  # its body's room: its own elaboration refuses more (E213), early
            if self.owner.limit_hit:  # (said already: no body is built past it, whatever its cost)
                raise Failed()
            self.owner.node_room = body_room(self.room, self.count, self.least_left)
            return self.composite(nd, block, values, positions, ports, in_types, {p: pos for p, _, pos in ports})
        return self.primitive(nd, block, values, positions, ports, in_types)


def copy_note(en: ElabNode, k: int, copies: int, env: Any) -> str | None:
    """The note of a shape error in copy ``k`` of node ``en``, naming what made the copy: `repeat` (copy ``k`` reads
    the output of the one before; the first reads the node's own input, so it needs no note), or `for_each` (each
    copy reads the node's inputs; its item is what differs). None when there is nothing to add."""
    if en.mode == "repeat":
        return f"in copy {k + 1} of {copies} (`repeat`), whose input is the output of copy {k}" if k > 0 else None
    if en.mode != "each" or copies < 2:
        return None
    item = ""
    items = en.nd.for_each
    try:  # what elaboration evaluated in this environment; a template again only on this failing path
        items = evaluate_value(items, env) if contains_template(items) else items
    except ExprError:  # (the compilation's budget of expression steps spent meanwhile: the note goes without it)
        items = None
    if isinstance(items, list) and k < len(items):
        item = f", item `{clip(yaml_text(items[k]), 40)}`"
    return f"in copy {k + 1} of {copies} (`for_each`{item}), which reads the same inputs as the other copies"
