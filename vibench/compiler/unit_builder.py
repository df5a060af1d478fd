"""The body of one unit in the shapes pass: its nodes visited in order, each typed.

:class:`UnitBuilder` specialises one UnitDef for one set of parameters and compile-time
dimensions (see :mod:`vibench.compiler.shapes` for the pass as a whole): it evaluates the unit's
``when``/``repeat``/``for_each``, binds each node's inputs to ports, validates a primitive's
parameters and runs its shape rule, unifies a composite's declared input shapes with the caller's
and has the specialiser build its body, then collects outputs, metadata, reference renames and
the W104 warnings of settings no component reads.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.blocks.base import Block, ShapeError
from vibench.compiler.constraints import NodeContext, SymbolSpace
from vibench.compiler.diagnostics import Diagnostic, one_of, suggest
from vibench.compiler.expr import (ExprError, Unknown, bare_name, contains_template, evaluate_value, parse_value,
                                   template_names)
from vibench.compiler.ir import (
    Constraint,
    Instance,
    Node,
    NodeDef,
    OutputDef,
    ParamDecl,
    Pos,
    Ref,
    Template,
    TensorType,
    Unit,
    UnitDef,
    ValueRef,
)
from vibench.compiler.keyed import group_value, visit_keyed
from vibench.compiler.lets import let_env, let_reads, run_checks
from vibench.compiler.limits import MAX_FOR_EACH
from vibench.compiler.names import named_value
from vibench.compiler.params import bind_params
from vibench.compiler.promises import check_promise
from vibench.compiler.symbolic import Dim, Expr, NeedConcrete, fmt_shape, free_symbols, subs

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


class Failed(Exception):
    """A node (or the block it uses) failed; the diagnostics are already collected."""


class UnitBuilder:
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
        self.prim_memo: dict[tuple, tuple] = {}
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
        live = _live_nodes(udef, active_outputs)
        for nd in udef.nodes:
            if nd.name not in live:
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

    def warn_unused(self, udef: UnitDef) -> None:
        """W105, once per definition, for a declared parameter that no `${...}` reads (usually a typo
        where it should be used). A warning, so that the file's other problems are reported with it."""
        from vibench.compiler.diagnostics import closest
        from vibench.compiler.resolve import expression_names

        key = (udef.qualname, udef.file)
        if key in self.owner.warned_unused:
            return
        self.owner.warned_unused.add(key)
        used, inherits = expression_names(udef)
        if inherits:
            return  # the node's block may read any of them (W104 says when none does)
        declared = {d.name for d in udef.params} | {let.name for let in udef.lets} | {"i", "item", "key"}
        for decl in udef.params:
            if decl.name not in used:
                typo = closest(decl.name, used - declared)
                hint = f"`{typo}` is used but not declared; did you mean `{decl.name}` there?" if typo else None
                self.owner.diags.add(Diagnostic("W105", f"parameter `{decl.name}` is declared but never used",
                                                decl.pos, severity="warning",
                                                hint=hint or "use it as `${" + decl.name + "}`, or remove it"))

    def warn_unread(self, udef: UnitDef) -> None:
        """W104 for a parameter the user set (in `with:` or a PHM-Vibench config) that no
        expression reads and no `inherit: true` node passed on: with these slot fillings it has no
        effect (the reference, which hands one namespace to every component, ignores it too)."""
        from vibench.compiler.resolve import expression_names

        if not any(nd.inherit for nd in udef.nodes):
            return  # W105 covers unused parameters of a spec without inherit
        used, _ = expression_names(udef)
        takers = [os.path.splitext(n.block.rsplit("/", 1)[-1])[0] for n in self.nodes if n.kind == "composite"]
        found = ("the components here: " + ", ".join(takers)) if takers else None
        for decl in udef.params:
            by_user = decl.pos is not None and decl.pos.file != udef.file  # `with:` of the user's spec
            overridden = decl.name in udef.overridden  # --set, or a keyword of vibench.build
            if ((by_user or overridden) and self.params.get(decl.name) is not None
                    and decl.name not in used and decl.name not in self.inherited):
                what = f"`{decl.name}`" + (" (from --set)" if overridden and not by_user else "")
                self.owner.diags.add(Diagnostic(
                    "W104", f"{what} has no effect here: no component of this {udef.name} reads it",
                    decl.pos if by_user else udef.overridden[decl.name], severity="warning", found=found,
                    hint=_unread_hint(decl)))

    def component_renames(self) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for node in self.nodes:
            unit = node.copies[0].unit if len(node.copies) == 1 and not node.parallel else None
            for pattern, replacement in unit.state_dict_renames if unit is not None else ():
                if pattern.startswith("^"):  # an unanchored rule cannot be scoped to the node
                    out.append((f"^{re.escape(node.name)}\\.{pattern[1:]}", f"{node.name}.{replacement}"))
        return tuple(out)

    def every_output(self, out: OutputDef) -> list[tuple[str, ValueRef, TensorType]]:
        name = out.ref.node
        if self.failed & {name}:
            raise Failed()
        if name in self.groups:  # `for_each` over a mapping: each copy's first output, under its key
            return [(key, self.value(Ref(name, key, out.ref.pos), None), self.node_index[key].outputs[0][1])
                    for key in self.groups[name]]
        target = self.node_index.get(name)
        if target is None or name in self.aliases:
            raise self.error(Diagnostic("E405", f"`{name}.*` names every output of a node, and `{name}` is "
                                        + ("switched off" if name in self.aliases else "not a node"), out.ref.pos,
                                        hint=f"return it as `{name}`"))
        if self.failed & {name}:
            raise Failed()
        return [(port, ValueRef(name, port), t) for port, t in target.outputs]

    def renames(self, udef: UnitDef) -> tuple[tuple[str, str], ...]:
        """`reference.state_dict_renames`: [pattern, replacement] pairs, or one `${...}` giving them.

        A spec that declares none takes its single-copy components' own renames, scoped to the node
        (`^(weight|bias)` of the head becomes `^task_head\\.(weight|bias)`): a composite of library
        components loads the reference composite's checkpoint without restating them.
        """
        if udef.reference is None or not udef.reference.state_dict_renames:
            return self.component_renames()
        value = udef.reference.state_dict_renames
        if isinstance(value, str):
            where = "`reference.state_dict_renames`"
            try:
                value = self.evaluate(parse_value(value, udef.pos), self.env, udef.pos, where, udef.name)
            except ExprError as err:
                raise self.error(_expr_diag(err, udef.pos, where)) from None
            pairs = isinstance(value, list) and all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(s, str) for s in r) for r in value)
            bad = next((r[0] for r in value if not _is_regex(r[0])), None) if pairs else None
            if not pairs or bad is not None:
                raise self.error(Diagnostic("E210", f"{where} must give [pattern, replacement] pairs of strings with "
                                            "valid regular expressions", udef.pos, found=repr(bad or value)[:120]))
        return tuple((pattern, replacement) for pattern, replacement in value)

    def flag(self, value: Any, pos: Pos | None, where: str) -> bool:
        """Evaluate a `when:` (None means true)."""
        if value is None:
            return True
        result = self.evaluate(value, self.env, getattr(value, "pos", None) or pos, where, self.udef.name)
        if not isinstance(result, bool):
            raise self.error(Diagnostic("E211", f"{where} must be true or false", getattr(value, "pos", None) or pos,
                                        expected="true or false", found=repr(result)))
        return result

    def declared(self, decl: Any) -> list[Any]:
        try:
            return declared_dims(decl, self.env)
        except ExprError as err:
            raise self.error(_expr_diag(err, decl.pos, f"the shape of input `{decl.name}`")) from None
        except ValueError as err:
            raise self.error(Diagnostic("E212", f"invalid shape for input `{decl.name}`: {err}", decl.pos,
                                        expected="a list of integers and symbol names")) from None

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
        target = self.node_index[name]
        ports = [p for p, _ in target.outputs]
        if ref.port is None:
            return ValueRef(name, ports[0])
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

    def evaluate(self, value: Any, env: dict[str, Any], pos: Pos | None, where: str, node: str) -> Any:
        if not contains_template(value):
            return value
        try:
            return evaluate_value(value, env)
        except ExprError as err:
            raise self.error(_expr_diag(err, pos, where, node)) from None
        except NeedConcrete as need:
            need.node = node
            need.pos = pos
            raise

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

    def build_node(self, nd: NodeDef, refs: list, env: dict[str, Any]) -> None:
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
        block_name = self.evaluate(nd.block, env, nd.block_pos, "`block`", nd.name)
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
        in_types = [self.type_of(v) for _, v, _ in ports]
        for k in range(copies):
            local = env if nd.repeat is None else {**env, "i": k}
            self.copy = (k, copies) if nd.repeat is not None else None
            try:
                inst = self.instance(nd, block, block_name, local, ports, in_types)
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
        ports = _connected(ports, instances[0])
        node = Node(name=nd.name, block=block.qualname if isinstance(block, UnitDef) else block_name, kind=kind,
                    inputs=tuple((p, v) for p, v, _ in ports), copies=tuple(instances),
                    repeated=nd.repeat is not None, pos=nd.pos, doc=nd.doc, checkpoint=nd.checkpoint)
        self.nodes.append(node)
        self.node_index[nd.name] = node
        for port, t in node.outputs:
            self.types[(nd.name, port)] = t

    def visit_each(self, nd: NodeDef, refs: list) -> None:
        """A `for_each` node: one copy per element, all on the same inputs, side by side."""
        pos = getattr(nd.for_each, "pos", None) or nd.pos
        items = self.evaluate(nd.for_each, self.env, pos, "`for_each`", nd.name)
        if isinstance(items, dict) and items:
            self.make_room(nd, len(items), pos, f"`for_each` over {len(items):,} keys")
            visit_keyed(self, nd, refs, items, pos)
            return
        if not isinstance(items, list) or not items:
            raise self.error(Diagnostic("E211", f"`for_each` of node `{nd.name}` must give a non-empty list or "
                                        "mapping", pos, node=nd.name, found=repr(items)[:80]))
        if len(items) > MAX_FOR_EACH:
            raise self.error(Diagnostic("E213", f"`for_each` of node `{nd.name}` gives too many items", pos,
                                        node=nd.name, expected=f"at most {MAX_FOR_EACH:,} copies side by side",
                                        found=f"{len(items):,} items", hint="for_each builds parallel branches; "
                                        "a chain of copies is `repeat:`"))
        self.make_room(nd, len(items), pos, f"`for_each` over {len(items):,} items")
        instances: list[Instance] = []
        first_ports: list | None = None
        names: list[str] = []
        for k, item in enumerate(items):
            local = {**self.env, "i": k, "item": item}
            block_name = self.evaluate(nd.block, local, nd.block_pos, "`block`", nd.name)
            if not isinstance(block_name, str):
                raise self.error(Diagnostic("E110", "`block` must name a block", nd.block_pos, node=nd.name,
                                            found=repr(block_name)))
            block = self.owner.lookup_block(block_name, self.udef, nd.block_pos, nd.name)
            if _output_count(block) != 1:
                raise self.error(Diagnostic("E405", f"`for_each` copies give one value each; `{block_name}` has "
                                            f"{_output_count(block)} outputs", nd.block_pos, node=nd.name))
            ports = self.bind_ports(nd, block, refs)
            if first_ports is None:
                first_ports = ports
            elif [p for p, _, _ in ports] != [p for p, _, _ in first_ports]:
                raise self.error(Diagnostic("E405", f"the copies of `{nd.name}` take different inputs", nd.pos,
                                            node=nd.name, found=f"`{names[0]}` vs `{block_name}`"))
            in_types = [self.type_of(v) for _, v, _ in ports]
            self.copy = (k, len(items))
            try:
                inst = self.instance(nd, block, block_name, local, ports, in_types)
            finally:
                self.copy = None
            name = block.qualname if isinstance(block, UnitDef) else block_name
            instances.append(replace(inst, block=name))
            self.tally(nd, inst, k, len(items))
            names.append(block_name)
        assert first_ports is not None
        first_ports = _connected(first_ports, instances[0])
        kinds = {"composite" if c.unit is not None else "primitive" for c in instances}
        if len(kinds) > 1:
            raise self.error(Diagnostic("E405", f"the copies of `{nd.name}` mix catalogue and composite blocks",
                                        nd.pos, node=nd.name, found=", ".join(names)))
        node = Node(name=nd.name, block=instances[0].block, kind=kinds.pop(),
                    inputs=tuple((p, v) for p, v, _ in first_ports), copies=tuple(instances), repeated=False,
                    pos=nd.pos, doc=nd.doc, parallel=True)
        self.nodes.append(node)
        self.node_index[nd.name] = node
        for port, t in node.outputs:
            self.types[(nd.name, port)] = t

    def make_room(self, nd: NodeDef, copies: int, pos: Pos | None, what: str) -> None:
        """E213 before building, when ``copies`` copies cannot fit in the node budget."""
        room = self.owner.max_nodes - self.count
        if copies > room:
            self.owner.limit_hit = True
            raise self.error(Diagnostic(
                "E213", f"{what} makes more nodes than a model may have", pos, node=nd.name,
                expected=f"at most {self.owner.max_nodes:,} nodes after expansion"
                + (f" ({room:,} left here)" if room < self.owner.max_nodes else ""),
                found=f"{copies:,} copies", hint=_LIMIT_HINT))

    def tally(self, nd: NodeDef, inst: Instance, k: int, copies: int) -> None:
        """Count one copy of a node towards the model's limits: nodes after expansion (E213) and
        parameter elements (E307), both before any weight exists. Reported once per compilation."""
        if self.owner.limit_hit:
            raise Failed()
        self.count += 1 + (self.owner.node_count(inst.unit) if inst.unit is not None else 0)
        which = f"copy {k + 1} of {copies} of node `{nd.name}`" if copies > 1 else f"node `{nd.name}`"
        if self.count > self.owner.max_nodes:
            self.owner.limit_hit = True
            raise self.error(Diagnostic(
                "E213", f"the model has more nodes than allowed at {which}", nd.pos, node=nd.name,
                expected=f"at most {self.owner.max_nodes:,} nodes after expansion", found=f"{self.count:,} so far",
                notes=("composite blocks count once plus the nodes of their body, for every copy",),
                hint=_LIMIT_HINT))
        count = inst.param_count
        if isinstance(count, int):
            self.param_total += count
            if self.param_total > self.owner.max_params:
                self.owner.limit_hit = True
                alone = count > self.owner.max_params
                raise self.error(Diagnostic(
                    "E307", f"{which} has more parameters than the budget" if alone else
                    f"the model exceeds the parameter budget at {which}", nd.pos, node=nd.name,
                    expected=f"at most {self.owner.max_params:,} parameter elements per model",
                    found=f"{count:,} in this node" + ("" if alone else f", {self.param_total:,} so far"),
                    hint="check the sizes of this node's parameters (channels, features); if the model "
                    "really is this large, raise the budget with --max-params (max_params= in the API)"))

    def alias(self, nd: NodeDef, refs: list) -> None:
        if not refs:
            raise self.error(Diagnostic("E405", f"node `{nd.name}` is switched off but has no input to pass through",
                                        nd.pos, node=nd.name))
        self.aliases[nd.name] = refs[0][1]

    def bind_ports(self, nd: NodeDef, block: Block | UnitDef, refs: list) -> list[tuple[str, ValueRef, Pos | None]]:
        optional: tuple[str, ...]
        if isinstance(block, UnitDef):
            names = tuple(i.name for i in block.inputs)
            optional = tuple(i.name for i in block.inputs if i.when is not None or i.optional)
            variadic, minimum = False, len(names) - len(optional)
        else:
            names, variadic, optional, minimum = block.inputs, block.variadic, block.optional_inputs, block.min_inputs
        what = f"`{block.name}`"
        if variadic:
            if any(port is not None for port, _, _ in refs):
                raise self.error(Diagnostic("E405", f"{what} takes a list of inputs, not named ports", nd.pos,
                                            node=nd.name, hint="write `in: [a, b, ...]`"))
            if len(refs) < (1 if self.from_list else minimum):
                raise self.error(Diagnostic("E405", f"{what} needs at least {minimum} inputs",
                                            refs[0][2] if refs and refs[0][2] else nd.pos, node=nd.name,
                                            found=f"{len(refs)}", hint="list them: `in: [a, b, ...]`"))
            return [(names[0], v, pos) for _, v, pos in refs]
        bound: dict[str, tuple[ValueRef, Pos | None]] = {}
        positional = [r for r in refs if r[0] is None]
        if positional and len(positional) != len(refs):
            raise self.error(Diagnostic("E405", "`in:` mixes named and positional inputs", nd.pos, node=nd.name))
        if positional:
            if len(positional) > len(names):
                raise self.error(Diagnostic(
                    "E405", f"{what} takes {len(names)} input{'s' if len(names) != 1 else ''}",
                    positional[len(names)][2], node=nd.name, expected=", ".join(names) or "no inputs",
                    found=f"{len(positional)} inputs"))
            for port, (_, v, pos) in zip(names, positional, strict=False):
                bound[port] = (v, pos)
        self.soft_ports.clear()
        for port, v, pos in refs:
            if port is None:
                continue
            if port.endswith("?"):  # `port?: name`: connected only if the block has that port (switched on)
                port = port[:-1]
                if port not in names:
                    continue
                self.soft_ports.add(port)
            if port not in names:
                raise self.error(Diagnostic("E405", f"{what} has no input port `{port}`", pos, node=nd.name,
                                            expected="one of " + one_of(names), hint=suggest(port, names)))
            bound[port] = (v, pos)
        missing = [p for p in names if p not in bound and p not in optional]
        if missing:
            # `inn: x` is read as a block parameter; say so rather than only "no input".
            typo = next(((k, pos) for k, _, pos in nd.params if k != "in" and suggest(k, ["in"])), None)
            hint = (f"`{typo[0]}` is not a node key: did you mean `in`?" if typo
                    else "name the inputs with `in:` (one name, a list, or port: name)")
            raise self.error(Diagnostic("E405", f"node `{nd.name}` gives no input for port"
                                        f"{'s' if len(missing) > 1 else ''} {', '.join(f'`{m}`' for m in missing)}"
                                        f" of {what}", typo[1] if typo else nd.pos, node=nd.name, hint=hint))
        return [(p, bound[p][0], bound[p][1]) for p in names if p in bound]

    def instance(self, nd: NodeDef, block: Block | UnitDef, block_name: str, env: dict[str, Any],
                 ports: list[tuple[str, ValueRef, Pos | None]], in_types: list[TensorType]) -> Instance:
        values: dict[str, Any] = {}
        positions: dict[str, Pos | None] = {}
        for key, raw, pos in nd.params:
            raw = named_value(block, key, raw, env, pos)  # `block: ${...}`: known only now
            # Expression errors point at the `${...}` value; other errors about the parameter at its key.
            values[key] = self.evaluate(raw, env, getattr(raw, "pos", None) or pos, f"parameter `{key}`", nd.name)
            positions[key] = pos
        if nd.with_ is not None:
            where = f"`with` of node `{nd.name}`"
            extra = self.evaluate(nd.with_, env, getattr(nd.with_, "pos", None) or nd.with_pos, where, nd.name)
            if not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra):
                raise self.error(Diagnostic("E211", f"{where} must give a mapping of parameters", nd.with_pos,
                                            node=nd.name, expected="{name: value, ...}", found=repr(extra)[:80]))
            with_pos = self.source_pos(nd)
            if isinstance(nd.with_, dict):  # plain names written in the mapping read parameters too
                extra = dict(extra)
                for key, raw in nd.with_.items():
                    named_ = named_value(block, key, raw, env, nd.with_pos)
                    if named_ is not raw:
                        extra[key] = self.evaluate(named_, env, nd.with_pos, where, nd.name)
            for key, value in extra.items():
                if key not in values:  # explicit parameters win
                    values[key] = value
                    positions[key] = with_pos
        if nd.inherit:
            # The block takes every parameter of this unit that it declares (explicit values win).
            accepted = [d.name for d in block.params] if isinstance(block, UnitDef) else list(block.Params.model_fields)
            for name in accepted:
                # null means "not set here": the block keeps its own default.
                if name not in values and self.params.get(name) is not None:
                    values[name] = self.params[name]
                    # A bad value is reported where it was set (`with:` of the user's spec), if known.
                    positions[name] = self.param_pos.get(name) or nd.pos
                    self.inherited.add(name)
        port_pos = {p: pos for p, _, pos in ports}
        if isinstance(block, UnitDef):
            return self.composite(nd, block, values, positions, ports, in_types, port_pos)
        return self.primitive(nd, block, values, positions, ports, in_types, port_pos)

    def source_pos(self, nd: NodeDef) -> Pos | None:
        """Where the values of a node's `with:` come from: the user's setting of the parameter it reads
        (`${task_configs[key]}`, through `let:` values and `for_each`), else the `with:` itself."""
        names = set(template_names(nd.with_))
        if names & {"item", "key"}:
            names |= template_names(nd.for_each)
        read: set[str] = set()
        for n in names:
            read |= self.let_reads.get(n, {n} if n in self.param_pos else set())
        order = [d.name for d in self.udef.params if d.name in read]
        users = [n for n in order if (p := self.param_pos.get(n)) is not None and p.file != self.udef.file]
        if users:
            return self.param_pos[users[0]]
        return self.param_pos[order[0]] if len(order) == 1 else nd.with_pos

    def primitive(self, nd: NodeDef, block: Block, values: dict[str, Any], positions: dict[str, Pos | None],
                  ports: list, in_types: list[TensorType], port_pos: dict[str, Pos | None]) -> Instance:
        p = self.validate_params(nd, block, values, positions)
        key = (block.name, p, tuple(in_types))
        memo = self.prim_memo.get(key)
        if memo is None:
            ctx = NodeContext(SymbolSpace(), nd.name, block.name, nd.pos, positions, port_pos)
            ctx.space.bounds = self.space.bounds
            try:
                outs = block.infer(p, list(in_types) if block.variadic else in_types, ctx)
            except ShapeError as err:
                raise self.error(self.shape_diag(err, nd, block.name, positions, port_pos, in_types, ports)) from None
            except NeedConcrete as need:
                need.node = nd.name
                need.pos = need.pos or nd.pos
                raise
            final = p.model_copy(update=ctx.resolved) if ctx.resolved else p
            names = block.outputs if len(outs) == len(block.outputs) else tuple(str(k) for k in range(len(outs)))
            outputs = tuple(zip(names, outs, strict=False))
            memo = (final, outputs, block.param_count(final, in_types), block.flops(final, in_types, list(outs)),
                    tuple(ctx.space.constraints))
            self.prim_memo[key] = memo
        final, outputs, count, flops, constraints = memo
        for c in constraints:
            self.space.record(Constraint(c.lhs, c.op, c.text, c.reason, c.mod, nd.name, nd.pos))
        return Instance(params=final, unit=None, outputs=outputs, param_count=count, flops=flops)

    def validate_params(self, nd: NodeDef, block: Block, values: dict[str, Any],
                        positions: dict[str, Pos | None]) -> Any:
        key = (block.name, freeze(values))
        cached = self.owner.param_memo.get(key)
        if cached is not None:
            return cached
        from pydantic import ValidationError

        try:
            p = block.Params.model_validate(values)
        except ValidationError as err:
            fields = list(block.Params.model_fields)
            diags = []
            invalid: dict[str, list[Any]] = {}  # field -> its errors (a union gives one per member)
            for e in err.errors(include_url=False):
                loc = e["loc"]
                field = str(loc[0]) if loc else None
                pos = positions.get(field, nd.pos) if field else nd.pos
                if e["type"] == "extra_forbidden":
                    hint = suggest(field or "", fields + ["in", "block", "repeat", "when", "doc"])
                    diags.append(Diagnostic("E111", f"unknown parameter `{field}` for block `{block.name}`", pos,
                                            node=nd.name, span=len(field or ""),
                                            expected="one of " + one_of(fields) if fields else "no parameters",
                                            hint=hint or f"`vibench-compile --blocks` describes `{block.name}`"))
                elif e["type"] == "missing":
                    doc = _field_doc(block, field)
                    diags.append(Diagnostic("E113", f"block `{block.name}` needs parameter `{field}`", nd.pos,
                                            node=nd.name, expected=f"`{field}`" + (f" ({doc})" if doc else ""),
                                            hint=f"add `{field}: ...` to node `{nd.name}`"))
                else:
                    invalid.setdefault(str(loc[0]) if loc else "", []).append(e)
            for field, errors in invalid.items():
                pos = positions.get(field, nd.pos)
                value = errors[0].get("input")
                if all(e["type"] in _RANGE_ERRORS for e in errors):
                    diags.append(Diagnostic("E104", f"value out of range for parameter `{field}` of `{block.name}`",
                                            pos, node=nd.name, expected=_expected(errors), found=repr(value)[:60]))
                else:
                    diags.append(Diagnostic("E112", f"invalid value for parameter `{field}` of `{block.name}`",
                                            pos, node=nd.name, expected=_expected(errors), found=repr(value)[:60],
                                            hint=self.name_hint(block, field, value)))
            for d in diags:
                self.owner.diags.add(d)
            raise Failed() from None
        self.owner.param_memo[key] = p
        return p

    def name_hint(self, block: Block, field: str, value: Any) -> str | None:
        """For a plain name that was taken as text: how to read the parameter, or which name was meant."""
        name = bare_name(value)
        if name is None:
            return None
        scope = [*self.env, "i", "key", "item"]
        if name in scope:
            return f"`{field}` takes text, so `{name}` is the text {name!r} here: write `${{{name}}}` to read `{name}`"
        near = suggest(name, [n for n in self.env if not isinstance(self.env[n], Unknown)])
        return f"a plain name reads a parameter, `let` or loop variable; none is named `{name}`" + (
            f" ({near})" if near else "")

    def composite(self, nd: NodeDef, block: UnitDef, values: dict[str, Any], positions: dict[str, Pos | None],
                  ports: list, in_types: list[TensorType], port_pos: dict[str, Pos | None]) -> Instance:
        given = {k: (v, positions.get(k)) for k, v in values.items()}
        bound, diags = bind_params(block.params, given, env={}, where=f"block `{block.name}`", unknown_code="E111",
                                   call_pos=nd.pos)
        if diags:
            for d in diags:
                self.owner.diags.add(_with_node(d, nd.name))
            raise Failed()
        named = dict(zip([p for p, _, _ in ports], in_types, strict=True))
        env = let_env(block, bound, partial=True)  # the block's own pass reports a value it cannot compute
        for decl in block.inputs:
            if decl.when is None:
                continue
            try:
                active = evaluate_value(decl.when, env)
            except ExprError as err:
                raise self.error(_expr_diag(err, decl.pos, f"`when` of input `{decl.name}`", nd.name)) from None
            if active and decl.name not in named:
                raise self.error(Diagnostic("E405", f"block `{block.name}` needs input `{decl.name}` here", nd.pos,
                                            node=nd.name, hint=f"add `{decl.name}: <node>` to `in:`"))
            if not active and decl.name in named and decl.name in self.soft_ports:
                del named[decl.name]  # an optional connection to a port switched off for these parameters
                continue
            if not active and decl.name in named:
                raise self.error(Diagnostic("E405", f"input `{decl.name}` of block `{block.name}` is switched off "
                                            "for these parameters", port_pos.get(decl.name, nd.pos), node=nd.name,
                                            hint="remove it from `in:`"))
        binding, call_constraints = self.unify(nd, block, env, named, port_pos)
        allowed = {s: v for s, v in binding.items() if isinstance(v, int)}
        try:
            unit = self.owner.specialize(block, bound, allowed, nd.pos, positions)
        except NeedConcrete as need:
            # The block needs some of its symbols known; they are bound to our non-constant dims.
            ours: set[str] = set()
            for s in need.symbols:
                ours |= free_symbols(binding.get(s, 0))
            if not ours:
                raise
            outer = NeedConcrete(frozenset(ours), f"{need.what} in block `{block.name}`")
            outer.node = nd.name
            outer.pos = nd.pos
            raise outer from None
        missing = [name for name, _ in unit.inputs if name not in named]
        if missing:  # an `optional: true` input the body reads here
            raise self.error(Diagnostic("E405", f"block `{block.name}` needs input `{missing[0]}` here", nd.pos,
                                        node=nd.name, hint=f"add `{missing[0]}: <node>` to `in:`"))
        mapping = {s: d for s, d in binding.items()}
        for c in call_constraints + list(unit.constraints):
            lhs = subs(c.lhs, mapping)
            ctx = NodeContext(self.space, nd.name, block.name, nd.pos, positions, port_pos)
            try:
                if c.op == ">=":
                    ctx.require(lhs, ">=", 0, f"{c.reason} (in block `{block.name}`)")
                elif c.op == "==":
                    ctx.require(lhs, "==", 0, f"{c.reason} (in block `{block.name}`)")
                else:
                    ctx.require(lhs, "%", c.mod, f"{c.reason} (in block `{block.name}`)")
            except ShapeError as err:
                notes = (f"the block states `{c.text}`" + (f" at {c.pos}" if c.pos else ""),)
                raise self.error(Diagnostic(err.code, err.message, nd.pos, node=nd.name, expected=err.expected,
                                            found=err.found, notes=notes)) from None
        outputs = tuple((name, TensorType(tuple(subs(d, mapping) for d in t.shape), t.dtype))
                        for name, _, t in unit.outputs)
        flops = subs(unit.flops, mapping)
        return Instance(params=tuple(sorted(bound.items())), unit=unit, outputs=outputs,
                        param_count=unit.param_count, flops=flops)

    def unify(self, nd: NodeDef, block: UnitDef, params: dict[str, Any], in_types: dict[str, TensorType],
              port_pos: dict[str, Pos | None]) -> tuple[dict[str, Dim], list[Constraint]]:
        binding: dict[str, Dim] = {}
        constraints: list[Constraint] = []
        for decl in block.inputs:
            if decl.name not in in_types:
                continue
            t = in_types[decl.name]
            pos = port_pos.get(decl.name, nd.pos)
            try:
                shape = declared_dims(decl, params)
            except (ExprError, ValueError) as err:
                raise self.error(Diagnostic("E212", f"invalid shape for input `{decl.name}` of block `{block.name}`: "
                                            f"{getattr(err, 'message', err)}", decl.pos, node=nd.name)) from None
            if t.dtype != decl.dtype:
                raise self.error(Diagnostic("E304", f"block `{block.name}` input `{decl.name}` is {decl.dtype}", pos,
                                            node=nd.name, port=decl.name, expected=decl.dtype, found=t.dtype))
            if len(t.shape) != len(shape):
                raise self.error(Diagnostic("E301", f"block `{block.name}` expects a rank-{len(shape)} "
                                            f"`{decl.name}`", pos, node=nd.name, port=decl.name,
                                            expected=decl_text(shape), found=fmt_shape(t.shape)))
            for want, got in zip(shape, t.shape, strict=False):
                if isinstance(want, Template):
                    want = self.evaluate(want, {**params}, pos, f"the shape of `{decl.name}`", nd.name)
                if isinstance(want, str) and want in params:
                    want = params[want]
                if isinstance(want, str):
                    if want in binding:
                        want = binding[want]
                    else:
                        binding[want] = got
                        continue
                e = got - want
                verdict = self.space.decide_eq(e)
                if verdict is False:
                    raise self.error(Diagnostic("E301", f"shape mismatch at input `{decl.name}` of block "
                                                f"`{block.name}`", pos, node=nd.name, port=decl.name,
                                                expected=decl_text(shape, params),
                                                found=fmt_shape(t.shape)))
                if verdict is None:
                    constraints.append(Constraint(e, "==", f"{got} == {want}", f"input `{decl.name}` of "
                                                  f"`{block.name}` fits", pos=pos))
        return binding, constraints

    def shape_diag(self, err: ShapeError, nd: NodeDef, block: str, positions: dict[str, Pos | None],
                   port_pos: dict[str, Pos | None], in_types: list[TensorType], ports: list) -> Diagnostic:
        pos = nd.pos
        if err.param and positions.get(err.param):
            pos = positions[err.param]
        elif err.port and port_pos.get(err.port):
            pos = port_pos[err.port]
        found = err.found
        notes = list(err.notes)
        for port, v, _ in ports:
            # The input the rule complains about, or all of them when it names none.
            if port == err.port or (err.port is None and err.code in ("E301", "E302")):
                notes.append(f"`{self.spelling(v)}` gives {fmt_shape(self.type_of(v).shape)}")
        return Diagnostic(err.code, f"{err.message}", pos, node=nd.name, port=err.port,
                          expected=err.expected, found=found, hint=err.hint, notes=tuple(notes))


def declared_dims(decl: Any, params: dict[str, Any]) -> list[Any]:
    """An input's declared dims (ints, symbol names, templates); a whole-shape template is evaluated
    with the parameters (ExprError / ValueError when it does not give a list of dims)."""
    if not isinstance(decl.shape, Template):  # a name of a parameter or `let` reads it (a symbol otherwise)
        dims = [params[d] if isinstance(d, str) and _is_size(params.get(d)) else d for d in decl.shape]
        return _laid_out(decl, dims, params)
    value = evaluate_value(decl.shape, params)
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"`{decl.shape.text}` gives {value!r}, not a list of dimensions")
    out: list[Any] = []
    for d in value:
        if isinstance(d, bool) or not isinstance(d, (int, str)):
            raise ValueError(f"dimension {d!r} is neither an integer nor a symbol name")
        if isinstance(d, int) and d < 1:
            raise ValueError(f"dimension {d} is not positive")
        if isinstance(d, str) and not d.isidentifier():
            raise ValueError(f"dimension {d!r} is not a symbol name")
        out.append(d)
    return _laid_out(decl, out, params)


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _laid_out(decl: Any, dims: list[Any], params: dict[str, Any]) -> list[Any]:
    """``dims`` written channels-last, in the order the input's `layout:` says the caller passes."""
    layout = getattr(decl, "layout", None)
    if layout is None:
        return dims
    value = evaluate_value(layout, params) if isinstance(layout, Template) else layout
    if value not in ("BLC", "BCL"):
        raise ValueError(f"its layout must be BLC or BCL, found {value!r}"[:120])
    if len(dims) != 3:
        raise ValueError(f"with a layout its shape is [B, L, C], found {len(dims)} dimensions")
    return [dims[0], dims[2], dims[1]] if value == "BCL" else dims


def _live_nodes(udef: UnitDef, outputs: list) -> set[str]:
    """Nodes some active output depends on (by name, through `in:`)."""
    by_name = {n.name: n for n in udef.nodes}
    live: set[str] = set()
    stack = [o.ref.node for o in outputs]
    while stack:
        name = stack.pop()
        if name in live or name not in by_name:
            continue
        live.add(name)
        stack.extend(ref.node for _, ref in by_name[name].inputs)
    return live


def _output_count(block: Block | UnitDef) -> int:
    return len(block.outputs)


_LIMIT_HINT = ("if the model really is this large, raise the limit with --max-nodes (max_nodes= in the API); "
               "otherwise check the `repeat`/`for_each` values")

_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _expected(errors: list[dict]) -> str:
    """What a parameter accepts, from pydantic's errors on it (one per member of a union)."""
    texts = []
    for e in errors:
        msg = str(e["msg"])
        for lead in ("Input should be a valid ", "Input should be "):
            msg = msg.removeprefix(lead)
        msg = msg.split(",", 1)[0] if msg.startswith(("integer", "number", "boolean", "string")) else msg
        if msg not in texts:
            texts.append(msg)
    return " or ".join(texts)


def _field_doc(block: Block, field: str | None) -> str | None:
    if field is None:
        return None
    info = block.Params.model_fields.get(field)
    return info.description if info is not None else None


def _with_node(d: Diagnostic, node: str) -> Diagnostic:
    from dataclasses import replace

    return replace(d, node=d.node or node)


def _connected(ports: list, inst: Instance) -> list:
    """The ports a composite's specialised body still takes (optional `port?` ones may be switched off)."""
    if inst.unit is None:
        return ports
    live = {name for name, _ in inst.unit.inputs}
    return [p for p in ports if p[0] in live]


def _is_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _expr_diag(err: ExprError, pos: Pos | None, where: str, node: str | None = None) -> Diagnostic:
    return Diagnostic("E203" if err.syntax else "E204", f"{err.message} in {where}", pos, node=node,
                      found=err.text or None, hint=err.hint)


def decl_text(shape: tuple | list, params: dict[str, Any] | None = None) -> str:
    parts = []
    for d in shape:
        if isinstance(d, Template):
            try:  # the block's own parameters: show `[B, 64]`, not `[B, ${width}]`
                value = evaluate_value(d, params or {})
            except (ExprError, NeedConcrete):
                value = None
            parts.append(str(value) if isinstance(value, int) else d.text)
        elif isinstance(d, str) and params and d in params:
            parts.append(str(params[d]))
        else:
            parts.append(str(d))
    return "[" + ", ".join(parts) + "]"


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("__list__",) + tuple(freeze(v) for v in value)
    if isinstance(value, float):
        return ("__float__", value)
    if isinstance(value, bool):
        return ("__bool__", value)
    return value


def _unread_hint(decl: ParamDecl) -> str:
    if not decl.scope:
        return "it reaches only the components that declare it; remove it, or pick a component that takes it"
    takers = [t.rsplit("/", 1)[-1] for t in decl.scope]
    shown = ", ".join(takers[:6]) + (f" and {len(takers) - 6} more" if len(takers) > 6 else "")
    return f"it is read by {shown}; remove it, or pick one of them"
