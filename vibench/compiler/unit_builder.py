"""The body of one unit in the shapes pass: its nodes visited in order, each typed.

:class:`UnitBuilder` specialises one UnitDef for one set of parameters and compile-time
dimensions (see :mod:`vibench.compiler.shapes` for the pass as a whole): it evaluates the unit's
``when``/``repeat``/``for_each``, binds each node's inputs to ports, validates a primitive's
parameters and runs its shape rule, unifies a composite's declared input shapes with the caller's
and has the specialiser build its body, then collects outputs, metadata, reference renames and
the W104 warnings of settings no component reads.

This module is the driver (the unit's inputs, the visit of each node, its outputs); the work is in
the builder's parts: :mod:`vibench.compiler.elaborate` (values, ``when``/``for_each``/``with``/
``inherit``, node limits), :mod:`vibench.compiler.typecheck` (ports, parameters, shapes) and
:mod:`vibench.compiler.build_warnings` (W104/W105, ``node.*`` outputs, reference renames).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.blocks.base import Block
from vibench.compiler.build_warnings import BuildWarnings
from vibench.compiler.constraints import SymbolSpace
from vibench.compiler.diagnostics import Diagnostic, one_of, suggest
from vibench.compiler.elaborate import (
    Elaborate,
    Failed,
    Refs,
    _connected,
    _expr_diag,
    _live_nodes,
    _output_count,
    freeze,
)
from vibench.compiler.expr import ExprError, Unknown, contains_template, evaluate_value
from vibench.compiler.ir import (
    Constraint,
    Instance,
    Node,
    NodeDef,
    Pos,
    Ref,
    TensorType,
    Unit,
    UnitDef,
    ValueRef,
)
from vibench.compiler.keyed import group_value
from vibench.compiler.lets import let_reads, run_checks
from vibench.compiler.promises import check_promise
from vibench.compiler.symbolic import Dim, Expr, NeedConcrete
from vibench.compiler.typecheck import TypeCheck

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

__all__ = ["Failed", "UnitBuilder"]


class UnitBuilder(Elaborate, TypeCheck, BuildWarnings):
    """Builds one Unit: visits the nodes of one specialisation in order."""

    def __init__(self, owner: _Specializer, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
                 positions: dict[str, Pos | None] | None = None) -> None:
        self.owner = owner
        self.udef = udef
        self.params = params
        self.concrete = concrete
        self.space = SymbolSpace()
        self.env: dict[str, Any] = dict(params)
        self.types: dict[tuple[str, str | None], TensorType] = {}
        self.aliases: dict[str, ValueRef] = {}
        self.failed: set[str] = set()
        self.nodes: list[Node] = []
        self.node_index: dict[str, Node] = {}
        # Shape-rule results per (block, params, input types); per unit because verdicts depend on
        # this unit's symbol bounds (which only tighten as nodes are visited).
        self.prim_memo: dict[tuple[Any, ...], tuple[Instance, tuple[Constraint, ...]]] = {}
        self.copy: tuple[int, int] | None = None  # (index, count) while building a copy of a `repeat` node
        self.inactive_inputs: set[str] = set()
        self.from_list = False  # the current node reads a `for_each` node's whole list
        self.soft_ports: set[str] = set()  # `port?:` connections of the node being bound
        self.inherited: set[str] = set()  # parameters some `inherit: true` node passed on
        # Where each parameter's value was set: the caller's setting when known, else the declaration.
        self.param_pos = {d.name: (positions or {}).get(d.name) or d.pos for d in udef.params}
        self.let_reads = let_reads(udef)  # let name -> the parameters it reads
        self.groups: dict[str, tuple[str, ...]] = {}  # `for_each` over a mapping: node -> its keys
        self.count = 0  # nodes of this unit so far, expanded (limit: owner.max_nodes, E213)
        self.param_total = 0  # parameter elements of this unit so far (limit: owner.max_params, E307)

    def error(self, diag: Diagnostic) -> Failed:
        if self.copy is not None and self.copy[0] > 0 and diag.code.startswith("E3"):
            k, n = self.copy
            diag = replace(diag, notes=diag.notes + (f"in copy {k + 1} of {n} (`repeat`), whose input is the output "
                                                     f"of copy {k}",))
        self.owner.diags.add(diag)
        return Failed()

    def build(self) -> Unit:
        udef = self.udef
        self.warn_unused(udef)  # first: the warning comes with the errors of the nodes below
        deferred = []  # `let:` values that read the inputs' dimensions: computed once those are bound
        for let in udef.lets:
            try:
                self.env[let.name] = evaluate_value(let.value, self.env) if contains_template(let.value) else let.value
            except (ExprError, NeedConcrete):
                deferred.append(let)
        failures = run_checks(udef, self.env, self.param_pos) if not deferred else []
        for d in failures:
            self.owner.diags.add(d)
        if any(d.severity == "error" for d in failures):
            raise Failed()
        active_inputs = [d for d in udef.inputs if self.flag(d.when, d.pos, f"`when` of input `{d.name}`")]
        self.inactive_inputs = {d.name for d in udef.inputs} - {d.name for d in active_inputs}
        declared = {d.name: self.declared(d) for d in active_inputs}
        symbols = [d for dims in declared.values() for d in dims if isinstance(d, str)]
        for s in symbols:
            if s in self.concrete:
                self.env[s] = self.concrete[s]
            elif s not in self.env:
                self.env[s] = Unknown(f"`{s}` is a free dimension of {udef.name}'s input", symbol=s)
        inputs = []
        lets = {let.name for let in udef.lets if let not in deferred}
        for decl in active_inputs:
            dims: list[Dim] = []
            for d in declared[decl.name]:
                if isinstance(d, int):
                    dims.append(d)
                elif isinstance(d, str) and (d in self.params or d in lets):  # a name reads the value
                    value = self.env[d]
                    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                        raise self.error(Diagnostic("E212", f"a dimension of input `{decl.name}` must be a positive "
                                                    "integer", decl.pos, found=f"{d} = {value!r}"[:80]))
                    dims.append(value)
                elif isinstance(d, str):
                    dims.append(self.concrete.get(d, Expr.symbol(d)))
                else:
                    try:
                        value = evaluate_value(d, self.env)
                    except ExprError as err:
                        raise self.error(_expr_diag(err, d.pos, f"the shape of input `{decl.name}`")) from None
                    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                        raise self.error(Diagnostic("E212", f"a dimension of input `{decl.name}` must be a positive "
                                                    "integer", d.pos, found=repr(value)))
                    dims.append(value)
            t = TensorType(tuple(dims), decl.dtype)
            inputs.append((decl.name, t))
            self.types[(decl.name, None)] = t
        for let in deferred:
            self.env[let.name] = self.evaluate(let.value, self.env, let.pos, f"`let.{let.name}`", udef.name)
        if deferred:
            failures = run_checks(udef, self.env, self.param_pos)
            for d in failures:
                self.owner.diags.add(d)
            if any(d.severity == "error" for d in failures):
                raise Failed()
        active_outputs = [o for o in udef.outputs if self.flag(o.when, o.pos, f"`when` of output `{o.name}`")]
        if not active_outputs:
            raise self.error(Diagnostic("E103", f"every output of `{udef.name}` is switched off", udef.pos,
                                        expected="at least one output whose `when` is true"))
        # With every output on, every node is live (the graph pass refuses a node that reaches no output).
        live = _live_nodes(udef, active_outputs) if len(active_outputs) < len(udef.outputs) else None
        for nd in udef.nodes:
            if live is not None and nd.name not in live:
                continue  # feeds only switched-off outputs: not built
            try:
                self.visit(nd)
            except Failed:
                self.failed.add(nd.name)
        if self.failed:
            raise Failed()
        outputs = []
        for out in active_outputs:
            if out.ref.port == "*":  # `from: node.*`: every output of the node, under its port names
                produced = self.every_output(out)
            else:
                ref = self.value(out.ref, None)
                produced = [(out.name, ref, self.type_of(ref))]
            for name, _, t in produced if out.shape is not None else ():
                broken = check_promise(out, name, t, self.env, self.space, udef.name)
                if broken is not None:
                    raise self.error(broken)
            outputs += produced
        seen: dict[str, str] = {}
        for name, ref, _ in outputs:
            if name in seen:
                raise self.error(Diagnostic("E405", f"two outputs are named `{name}`", udef.pos,
                                            found=f"{seen[name]} and {self.spelling(ref)}",
                                            hint="rename one of them (a `node.*` output takes its ports' names)"))
            seen[name] = self.spelling(ref)
        if any(d.optional for d in active_inputs):  # `optional: true` inputs that no node reads are not taken
            read = {v.node for n in self.nodes for _, v in n.inputs} | {ref.node for _, ref, _ in outputs}
            dropped = {d.name for d in active_inputs if d.optional and d.name not in read}
            inputs = [(name, t) for name, t in inputs if name not in dropped]
        if len(self.owner.stack) == 1:
            self.warn_unread(udef)
        metadata = None
        if udef.metadata is not None:
            pos = udef.pos
            metadata = self.evaluate(udef.metadata, self.env, pos, "`metadata`", udef.name)
        return Unit(
            key=(udef.qualname, freeze(self.params), tuple(sorted(self.concrete.items()))),
            name=udef.name, qualname=udef.qualname, doc=udef.doc,
            params=tuple((p.name, self.params.get(p.name)) for p in udef.params),
            inputs=tuple(inputs), nodes=tuple(self.nodes), outputs=tuple(outputs),
            constraints=tuple(self.space.constraints), const_symbols=tuple(sorted(self.concrete.items())),
            file=udef.file, pos=udef.pos, metadata=metadata,
            state_dict_renames=self.renames(udef), definition=udef,
        )

    # -- values ----------------------------------------------------------------------------------

    def value(self, ref: Ref, node: str | None) -> ValueRef:
        """The produced value a reference names (graph checks guarantee the name exists)."""
        name = ref.node
        if name in self.failed:
            raise Failed()
        if name in self.groups:
            return group_value(self, ref, node)
        if name in self.inactive_inputs:
            raise self.error(Diagnostic("E405", f"input `{name}` is switched off (its `when` is false)", ref.pos,
                                        node=node, hint="switch this node off too, or feed it another value"))
        if name in self.aliases:
            if ref.port is not None:
                raise self.error(Diagnostic("E405", f"`{name}` is switched off (`when`/`repeat: 0`), so it has no "
                                            f"port `{ref.port}`", ref.pos, node=node,
                                            hint=f"read it as `{name}`: a switched-off node passes its input through"))
            return self.aliases[name]
        if (name, None) in self.types and name not in self.node_index:
            return ValueRef(name, None)
        outputs = self.node_index[name].outputs
        if ref.port is None:
            return ValueRef(name, outputs[0][0])
        ports = [p for p, _ in outputs]
        if ref.port not in ports:
            raise self.error(Diagnostic("E405", f"node `{name}` has no output port `{ref.port}`", ref.pos, node=node,
                                        expected="one of " + one_of(ports), hint=suggest(ref.port, ports)))
        return ValueRef(name, ref.port)

    def spelling(self, ref: ValueRef) -> str:
        """How a spec names a value: `pool` for the only output of `pool`, `qkv.q` for one of several."""
        node = self.node_index.get(ref.node)
        if node is not None and len(node.outputs) == 1:
            return ref.node
        return str(ref)

    def type_of(self, ref: ValueRef) -> TensorType:
        return self.types[(ref.node, ref.port)]

    # -- nodes -----------------------------------------------------------------------------------

    def visit(self, nd: NodeDef) -> None:
        env = self.env
        self.from_list = False
        refs = []
        for port, ref in nd.inputs:
            if port is not None and ref.port is None and ref.node in self.inactive_inputs:
                continue  # `port: input` with a switched-off input: the port is simply not connected
            value = self.value(ref, nd.name)
            target = self.node_index.get(value.node)
            if ref.port is None and target is not None and target.parallel:
                refs += [(port, ValueRef(value.node, p), ref.pos) for p, _ in target.outputs]  # the whole list
                self.from_list = True  # a list may hold a single value
            else:
                refs.append((port, value, ref.pos))
        if nd.when is not None:
            when_pos = getattr(nd.when, "pos", None) or nd.pos
            when = self.evaluate(nd.when, env, when_pos, "`when`", nd.name)
            if not isinstance(when, bool):
                raise self.error(Diagnostic("E211", f"`when` of node `{nd.name}` must be true or false", when_pos,
                                            node=nd.name, expected="true or false", found=repr(when),
                                            hint="write a comparison, e.g. `${stride != 1}`"))
            if not when:
                self.alias(nd, refs)
                return
        if nd.for_each is not None:
            self.visit_each(nd, refs)
            return
        self.build_node(nd, refs, env)

    def build_node(self, nd: NodeDef, refs: Refs, env: dict[str, Any]) -> None:
        """A node switched on: its `repeat` copies (or one), each an instance of its block."""
        copies = 1
        if nd.repeat is not None:
            repeat_pos = getattr(nd.repeat, "pos", None) or nd.pos
            copies = self.evaluate(nd.repeat, env, repeat_pos, "`repeat`", nd.name)
            if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
                raise self.error(Diagnostic("E211", f"`repeat` of node `{nd.name}` must be a non-negative integer",
                                            repeat_pos, node=nd.name, expected="0, 1, 2, ...", found=repr(copies)))
            if copies == 0:
                self.alias(nd, refs)
                return
            self.make_room(nd, copies, repeat_pos, f"`repeat: {copies}`")
        block_name = nd.block if isinstance(nd.block, str) else self.evaluate(nd.block, env, nd.block_pos, "`block`",
                                                                              nd.name)
        if not isinstance(block_name, str):
            raise self.error(Diagnostic("E110", "`block` must name a block", nd.block_pos, node=nd.name,
                                        found=repr(block_name)))
        block = self.owner.lookup_block(block_name, self.udef, nd.block_pos, nd.name)
        ports = self.bind_ports(nd, block, refs)
        if nd.repeat is not None and (len(ports) != 1 or _output_count(block) != 1):
            raise self.error(Diagnostic("E405", f"`repeat` chains copies through one input and one output; "
                                        f"`{block_name}` has {len(ports)} input(s) and {_output_count(block)} "
                                        "output(s)", nd.pos, node=nd.name))
        instances: list[Instance] = []
        types = self.types
        in_types = [types[(v.node, v.port)] for _, v, _ in ports]
        if nd.repeat is None:  # one copy, in the unit's environment
            instances.append(self.instance(nd, block, block_name, env, ports, in_types))
            self.tally(nd, instances[0], 0, 1)
        for k in range(copies if nd.repeat is not None else 0):
            self.copy = (k, copies)
            try:
                inst = self.instance(nd, block, block_name, {**env, "i": k}, ports, in_types)
            finally:
                self.copy = None
            instances.append(inst)
            self.tally(nd, inst, k, copies)
            in_types = [inst.outputs[0][1]]
        kind = "composite" if isinstance(block, UnitDef) else "primitive"
        if nd.checkpoint and kind == "primitive" and not block.has_module(instances[0].params):  # type: ignore[union-attr]
            raise self.error(Diagnostic("E211", f"`checkpoint` of node `{nd.name}` needs a node with a submodule",
                                        nd.pos, node=nd.name, found=f"`{block_name}` has no weights to recompute",
                                        hint="checkpoint a layer or a composite block (a group of layers)"))
        if instances[0].unit is not None:
            ports = _connected(ports, instances[0])
        node = Node(name=nd.name, block=block.qualname if isinstance(block, UnitDef) else block_name, kind=kind,
                    inputs=tuple([(p, v) for p, v, _ in ports]), copies=tuple(instances),
                    repeated=nd.repeat is not None, pos=nd.pos, doc=nd.doc, checkpoint=nd.checkpoint)
        self.nodes.append(node)
        self.node_index[nd.name] = node
        for port, t in instances[-1].outputs:  # node.outputs (its copies run in a chain)
            types[(nd.name, port)] = t

    def instance(self, nd: NodeDef, block: Block | UnitDef, block_name: str, env: dict[str, Any],
                 ports: list[tuple[str, ValueRef, Pos | None]], in_types: list[TensorType]) -> Instance:
        values, positions = self.node_values(nd, block, env)
        if isinstance(block, UnitDef):
            return self.composite(nd, block, values, positions, ports, in_types, {p: pos for p, _, pos in ports})
        return self.primitive(nd, block, values, positions, ports, in_types)
