"""Elaboration, in the shapes pass: which nodes a unit has and with which values, before typing.

The :class:`Elaborate` part of :class:`~vibench.compiler.unit_builder.UnitBuilder` evaluates
``${...}`` values and ``when:`` flags in the unit's environment (parameters, ``let:`` values, loop
variables), gathers a node's parameter values from its keys, ``with:`` and ``inherit: true``, expands
``for_each`` into copies side by side, lets a switched-off node pass its input through, and counts
nodes and parameter elements against the model's limits (E213, E307) before any weight exists.
It reads the builder's parameters and environment; it writes the builder's nodes, types, aliases and
counts (typing each copy is :mod:`vibench.compiler.typecheck`'s: ``bind_ports``, ``primitive``,
``composite``). :class:`Failed`, raised by every part of the builder, is defined here, at the bottom
of the builder's imports.

The module-level helpers are pure: an input's declared dimensions (``declared_dims``, in the order of
its ``layout:``), the nodes the active outputs depend on, and ``freeze`` (values as a hashable key).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from vibench.compiler.blocks.base import Block
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.expr import ExprError, contains_template, evaluate_value, template_names
from vibench.compiler.ir import Instance, Node, NodeDef, OutputDef, Pos, Template, TensorType, UnitDef, ValueRef
from vibench.compiler.keyed import visit_keyed
from vibench.compiler.limits import MAX_FOR_EACH
from vibench.compiler.names import named_value
from vibench.compiler.symbolic import NeedConcrete

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer
    from vibench.compiler.unit_builder import UnitBuilder

Refs = list[tuple[str | None, ValueRef, Pos | None]]  # a node's inputs as written: (port or None, value, where)
Ports = list[tuple[str, ValueRef, Pos | None]]  # the same bound to the block's ports


class Failed(Exception):
    """A node (or the block it uses) failed; the diagnostics are already collected."""


class Elaborate:
    """The elaboration methods of :class:`~vibench.compiler.unit_builder.UnitBuilder`, which sets the
    state below (see its ``__init__``)."""

    owner: _Specializer
    udef: UnitDef
    params: dict[str, Any]
    env: dict[str, Any]
    types: dict[tuple[str, str | None], TensorType]
    aliases: dict[str, ValueRef]
    nodes: list[Node]
    node_index: dict[str, Node]
    copy: tuple[int, int] | None
    inherited: set[str]
    param_pos: dict[str, Pos | None]
    let_reads: dict[str, set[str]]
    count: int
    param_total: int

    if TYPE_CHECKING:  # the driver's and the type checker's
        def error(self, diag: Diagnostic) -> Failed: ...
        def type_of(self, ref: ValueRef) -> TensorType: ...
        def bind_ports(self, nd: NodeDef, block: Block | UnitDef, refs: Refs) -> Ports: ...
        def instance(self, nd: NodeDef, block: Block | UnitDef, block_name: str, env: dict[str, Any],
                     ports: Ports, in_types: list[TensorType]) -> Instance: ...

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

    def visit_each(self, nd: NodeDef, refs: Refs) -> None:
        """A `for_each` node: one copy per element, all on the same inputs, side by side."""
        pos = getattr(nd.for_each, "pos", None) or nd.pos
        items = self.evaluate(nd.for_each, self.env, pos, "`for_each`", nd.name)
        if isinstance(items, dict) and items:
            self.make_room(nd, len(items), pos, f"`for_each` over {len(items):,} keys")
            visit_keyed(cast("UnitBuilder", self), nd, refs, items, pos)
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
        first_ports: Ports | None = None
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
        count = inst.param_count
        if isinstance(count, int):
            self.param_total += count
        if self.count <= self.owner.max_nodes and self.param_total <= self.owner.max_params:
            return  # within both limits (the common case: no message to write)
        which = f"copy {k + 1} of {copies} of node `{nd.name}`" if copies > 1 else f"node `{nd.name}`"
        if self.count > self.owner.max_nodes:
            self.owner.limit_hit = True
            raise self.error(Diagnostic(
                "E213", f"the model has more nodes than allowed at {which}", nd.pos, node=nd.name,
                expected=f"at most {self.owner.max_nodes:,} nodes after expansion", found=f"{self.count:,} so far",
                notes=("composite blocks count once plus the nodes of their body, for every copy",),
                hint=_LIMIT_HINT))
        self.owner.limit_hit = True
        alone = count > self.owner.max_params
        raise self.error(Diagnostic(
            "E307", f"{which} has more parameters than the budget" if alone else
            f"the model exceeds the parameter budget at {which}", nd.pos, node=nd.name,
            expected=f"at most {self.owner.max_params:,} parameter elements per model",
            found=f"{count:,} in this node" + ("" if alone else f", {self.param_total:,} so far"),
            hint="check the sizes of this node's parameters (channels, features); if the model "
            "really is this large, raise the budget with --max-params (max_params= in the API)"))

    def alias(self, nd: NodeDef, refs: Refs) -> None:
        if not refs:
            raise self.error(Diagnostic("E405", f"node `{nd.name}` is switched off but has no input to pass through",
                                        nd.pos, node=nd.name))
        self.aliases[nd.name] = refs[0][1]

    def node_values(self, nd: NodeDef, block: Block | UnitDef,
                    env: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Pos | None]]:
        """A node's parameter values (and where each was set): its own keys, then `with:`, then what
        `inherit: true` passes on (explicit values win)."""
        values: dict[str, Any] = {}
        positions: dict[str, Pos | None] = {}
        for key, raw, pos in nd.params:
            kind = raw.__class__
            if not (kind is int or kind is bool or raw is None):  # a number or a flag is its own value
                raw = named_value(block, key, raw, env, pos)  # a plain name may read a parameter (`block: ${...}`)
                if contains_template(raw):
                    # Expression errors point at the `${...}` value; other errors about the parameter at its key.
                    raw = self.evaluate(raw, env, getattr(raw, "pos", None) or pos, f"parameter `{key}`", nd.name)
            values[key] = raw
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
        return values, positions

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


def _live_nodes(udef: UnitDef, outputs: list[OutputDef]) -> set[str]:
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


def _connected(ports: Ports, inst: Instance) -> Ports:
    """The ports a composite's specialised body still takes (optional `port?` ones may be switched off)."""
    if inst.unit is None:
        return ports
    live = {name for name, _ in inst.unit.inputs}
    return [p for p in ports if p[0] in live]


_LIMIT_HINT = ("if the model really is this large, raise the limit with --max-nodes (max_nodes= in the API); "
               "otherwise check the `repeat`/`for_each` values")


def _expr_diag(err: ExprError, pos: Pos | None, where: str, node: str | None = None) -> Diagnostic:
    return Diagnostic("E203" if err.syntax else "E204", f"{err.message} in {where}", pos, node=node,
                      found=err.text or None, hint=err.hint)


def freeze(value: Any) -> Any:
    """``value`` as a hashable key in which 1, 1.0 and True (and a list and a tuple) differ."""
    kind = value.__class__
    if kind is str or kind is int or value is None:  # the common case first
        return value
    if isinstance(value, dict):
        return tuple(sorted([(k, v if v.__class__ in _PLAIN else freeze(v)) for k, v in value.items()]))
    if isinstance(value, (list, tuple)):
        return ("__list__",) + tuple(freeze(v) for v in value)
    if isinstance(value, float):
        return ("__float__", value)
    if isinstance(value, bool):
        return ("__bool__", value)
    return value


_PLAIN = frozenset({str, int, type(None)})  # values that are their own key
