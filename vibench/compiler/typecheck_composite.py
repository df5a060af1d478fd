"""Type checking a node whose block is a composite, in the shapes pass.

The :class:`CompositeCheck` part of :class:`~vibench.compiler.unit_builder.TypeChecker` (through
:class:`~vibench.compiler.typecheck.TypeCheck`) counts the use's declarations against the compilation's limit
(E213) and binds the node's values to the block's parameters (E111), sharing what earlier uses bound
(:mod:`~vibench.compiler.composite_uses`), checks the inputs the block's `when` switches on or off (E405),
unifies the caller's input types with the block's declared input shapes (E212, E301, E304), has the specialiser
build the body
(an error inside it gets a note naming this call: :meth:`CompositeCheck.name_call`) and substitutes the
body's output shapes and constraints back. It reads the builder's types; it
writes the unit's symbol space (the constraints) and returns the copy as an
:class:`~vibench.compiler.ir.Instance`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from vibench.compiler.blocks.base import ShapeError
from vibench.compiler.composite_uses import bind_use, charge, counted, inputs_env, too_much_work
from vibench.compiler.constraints import NodeContext, SymbolSpace
from vibench.compiler.diagnostics import Diagnostic, comment_hint
from vibench.compiler.elaborated import Failed, LayoutError, Ports, declared_dims, expr_diag, freeze
from vibench.compiler.expr import ExprError, evaluate_value
from vibench.compiler.ir import Constraint, Instance, Node, NodeDef, Pos, Template, TensorType, UnitDef, ValueRef
from vibench.compiler.symbolic import Dim, Expr, fmt_shape, free_symbols, subs
from vibench.compiler.symbolic_errors import NeedConcrete

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


class CompositeCheck:
    """The type-checking methods of :class:`~vibench.compiler.unit_builder.TypeChecker` for a composite
    block, which sets the state below (see its ``__init__``)."""

    owner: _Specializer
    space: SymbolSpace
    soft_ports: set[str]
    node_index: dict[str, Node]
    udef: UnitDef
    copy: tuple[int, int] | None  # (index, count) while typing a copy of a `repeat` or `for_each` node

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...
        def spelling(self, ref: ValueRef) -> str: ...
        def type_of(self, ref: ValueRef) -> TensorType: ...
        def evaluate(self, value: Any, env: Mapping[str, Any], pos: Pos | None, where: str, node: str) -> Any: ...

    def composite(self, nd: NodeDef, block: UnitDef, values: dict[str, Any], positions: dict[str, Pos | None],
                  ports: Ports, in_types: list[TensorType], port_pos: dict[str, Pos | None]) -> Instance:
        self.count_use(nd, block)
        own = {k for k, _, _ in nd.params} | (set(nd.with_) if isinstance(nd.with_, dict) else set())
        passed = {k for k in values if nd.inherit and k not in own and k in self.udef.overridden}
        library = self.owner.library
        copy = ""  # which copy a use is, for an E213 about the values it binds again
        if self.copy is not None and self.copy[1] > 1:
            copy = f"copy {self.copy[0] + 1:,} of {self.copy[1]:,} of node `{nd.name}`"
        bound, diags = bind_use(self.owner, block, values, positions, nd.pos,
                                origin=lambda k: library.value_origin(k) if k in passed else "", copy=copy)
        if diags:
            commented = {positions.get(k): hint for k in values if (hint := comment_hint(k)) is not None}
            for d in diags:  # `/* width */ "out_channels"`: a comment YAML read as part of a key
                if d.code == "E111" and d.pos is not None and d.pos in commented:
                    d = replace(d, hint=commented[d.pos])
                self.owner.diags.add(_with_node(d, nd.name))
            raise Failed()
        named = dict(zip([p for p, _, _ in ports], in_types, strict=True))
        env = inputs_env(self.owner, block, bound)
        for decl in block.inputs:
            if decl.when is None:
                continue
            try:
                active = evaluate_value(decl.when, env)
            except ExprError as err:
                raise self.error(expr_diag(err, decl.pos, f"`when` of input `{decl.name}`", nd.name)) from None
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
        sources = {p: v for p, v, _ in ports}
        binding, call_constraints, origins = self.unify(nd, block, env, named, port_pos, sources)
        allowed = {s: v for s, v in binding.items() if isinstance(v, int)}
        known = {id(d) for d in self.owner.diags.items}  # (a W105 dropped meanwhile shifts the list: not by index)
        try:
            unit = self.owner.specialize(block, bound, allowed, nd.pos, positions)
        except Failed:
            if len(self.owner.stack) > MAX_CALL_NOTES:  # (this unit's depth: the model's is 1)
                self.name_call(known, nd.pos, DEEPER_CALLS)
                raise
            # The body is checked once per (values, input sizes it needed known): say which sizes, as
            # ``specialize`` keys them, so "the first call" is the first of that body.
            needed = self.owner.needed.get((id(block), freeze(bound)), frozenset())
            self.name_call(known, nd.pos, call_note(nd, block, values,
                                                    {s: allowed[s] for s in needed if s in allowed}, self.copy))
            raise
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
        # The call's own constraints are in the caller's symbols already; the body's are in the block's, whose
        # names may be the caller's too (the block's L bound to 7 and the caller's L == 4 are not 7 == 4).
        stated: list[tuple[Constraint, Dim, Callable[[], tuple[str, str] | None] | None]]
        stated = [(c, c.lhs, None) for c in call_constraints]
        stated += [(c, subs(c.lhs, mapping), partial(self.given, c, mapping, origins, named, sources))
                   for c in unit.constraints]
        for c, lhs, given in stated:
            ctx = NodeContext(self.space, nd.name, block.name, nd.pos, positions, port_pos)
            try:
                ctx.require(lhs, c.op, c.mod if c.op == "%" else 0, f"{c.reason} (in block `{block.name}`)",
                            code=c.code, stated=given)
            except ShapeError as err:
                sizes = given() if given is not None else None  # (said in `found` when the statement is broken alone)
                also = f", with {sizes[1]}" if sizes is not None and sizes[1] != err.found else ""
                notes = (f"the block states `{c.text}`" + (f" at {c.pos}" if c.pos else "") + also, *err.notes)
                code = "E308" if c.code == "E308" else err.code  # a promise of the block's, broken at this call
                raise self.error(Diagnostic(code, err.message, nd.pos, node=nd.name, expected=err.expected,
                                            found=err.found, notes=notes)) from None
        outputs = tuple((name, TensorType(tuple(subs(d, mapping) for d in t.shape), t.dtype))
                        for name, _, t in unit.outputs)
        flops = subs(unit.flops, mapping)
        return Instance(params=tuple(sorted(bound.items())), unit=unit, outputs=outputs,
                        param_count=unit.param_count, flops=flops, buffer_count=unit.buffer_count)

    def count_use(self, nd: NodeDef, block: UnitDef) -> None:
        """Count this use's declarations (the block's parameters, `let:` values and checks) against the
        compilation's limit (:func:`~vibench.compiler.composite_uses.charge`): E213 at the use past it."""
        count = len(block.params) + len(block.lets) + len(block.checks)
        if count:
            charge(self.owner, count, lambda spent, limit: self.too_much(nd, block, spent, limit))

    def too_much(self, nd: NodeDef, block: UnitDef, spent: int, limit: int) -> Diagnostic:
        which = f"node `{nd.name}`" if self.copy is None else \
            f"copy {self.copy[0] + 1:,} of {self.copy[1]:,} of node `{nd.name}`"
        declared = ((len(block.params), "parameter"), (len(block.lets), "`let` value"), (len(block.checks), "check"))
        per_use = ", ".join(counted(n, what) for n, what in declared if n) + f" of block `{block.name}`"
        return too_much_work(which, nd.pos, nd.name, spent, limit, per_use)

    def name_call(self, known: set[int], call: Pos | None, note: str) -> None:
        """Say which call an error raised inside a block's body comes from (its position is in the body, which
        every call shares): ``note`` goes before the error's other notes, so an error nested in several
        composites lists the calls outermost first (each caller adds its own as the failure passes through).
        ``known``: the ids of the diagnostics there before the call; one at the ``call`` itself (E206) needs none."""
        items = self.owner.diags.items
        for i, d in enumerate(items):
            if id(d) not in known and d.severity == "error" and (d.pos != call or call is None):
                if note == DEEPER_CALLS and d.notes[:1] == (DEEPER_CALLS,):
                    continue  # said once for all the calls below the listed ones
                items[i] = replace(d, notes=(note, *d.notes))

    def given(self, c: Constraint, mapping: Mapping[str, Dim], origins: Mapping[str, str],
              named: Mapping[str, TensorType], sources: Mapping[str, ValueRef]) -> tuple[str, str] | None:
        """The block's constraint ``c`` as it states it, and the sizes the call gives its symbols with the input
        that gives each (`P >= 10`; `P = 8 at this call (`embedding` gives input `x` [B, 8, 16])`); None when the
        call leaves them as they are."""
        symbols = sorted(s for s in free_symbols(c.lhs) if s in mapping and mapping[s] != Expr.symbol(s))
        if not symbols:
            return None
        ports = list(dict.fromkeys(origins[s] for s in symbols if s in origins))
        inputs = "; ".join((f"`{self.spelling(sources[p])}` gives " if p in sources else "") +
                           f"input `{p}` {fmt_shape(named[p].shape)}" for p in ports if p in named)
        return c.text, " and ".join(f"{s} = {mapping[s]}" for s in symbols) + " at this call" + (
            f" ({inputs})" if inputs else "")

    def gives(self, v: ValueRef) -> tuple[str, ...]:
        """The note on a value a composite's output gave: which block (and file) made it, the component a
        slot chose (`backbone` (B_21_Bad, ...) gives [B, 32, 64] in M_01_ISFM); none for other values."""
        node = self.node_index.get(v.node)
        unit = node.copies[0].unit if node is not None and node.copies else None
        if unit is None:
            return ()
        return (f"`{self.spelling(v)}` ({unit.name}, {unit.file}) gives {fmt_shape(self.type_of(v).shape)}",)

    def unify(self, nd: NodeDef, block: UnitDef, params: dict[str, Any], in_types: dict[str, TensorType],
              port_pos: dict[str, Pos | None],
              sources: Mapping[str, ValueRef] | None = None
              ) -> tuple[dict[str, Dim], list[Constraint], dict[str, str]]:
        """The caller's dimension bound to each symbol of the block's input shapes, the constraints the call
        needs (in the caller's symbols) and the input that binds each symbol."""
        binding: dict[str, Dim] = {}
        origins: dict[str, str] = {}
        constraints: list[Constraint] = []
        for decl in block.inputs:
            if decl.name not in in_types:
                continue
            t = in_types[decl.name]
            pos = port_pos.get(decl.name, nd.pos)
            source = (sources or {}).get(decl.name)
            notes = self.gives(source) if source is not None else ()
            try:
                shape = declared_dims(decl, params)
            except LayoutError as err:
                raise self.error(Diagnostic("E212", f"the layout of input `{decl.name}` of block `{block.name}` must "
                                            "be BLC or BCL", getattr(decl.layout, "pos", None) or decl.pos,
                                            node=nd.name, expected="BLC or BCL", found=str(err))) from None
            except (ExprError, ValueError) as err:
                raise self.error(Diagnostic("E212", f"invalid shape for input `{decl.name}` of block `{block.name}`: "
                                            f"{getattr(err, 'message', err)}", decl.pos, node=nd.name)) from None
            if t.dtype != decl.dtype:
                raise self.error(Diagnostic("E304", f"block `{block.name}` input `{decl.name}` is {decl.dtype}", pos,
                                            node=nd.name, port=decl.name, expected=decl.dtype, found=t.dtype))
            if len(t.shape) != len(shape):
                raise self.error(Diagnostic("E301", f"block `{block.name}` expects a rank-{len(shape)} "
                                            f"`{decl.name}`", pos, node=nd.name, port=decl.name,
                                            expected=decl_text(shape), found=fmt_shape(t.shape), notes=notes))
            for want, got in zip(shape, t.shape, strict=False):
                at = (want.pos if isinstance(want, Template) else None) or decl.pos or pos
                if isinstance(want, Template):
                    want = self.evaluate(want, {**params}, pos, f"the shape of `{decl.name}`", nd.name)
                if isinstance(want, str) and want in params:
                    want = params[want]
                if isinstance(want, bool) or not isinstance(want, (int, str, Expr)) or (isinstance(want, int)
                                                                                       and want < 1):
                    raise self.error(Diagnostic("E212", f"a dimension of input `{decl.name}` of block `{block.name}` "
                                                "must be a positive integer", at,
                                                node=nd.name, found=repr(want),
                                                notes=(f"at the call of `{block.name}` at {pos}",) if pos else ()))
                if isinstance(want, str):
                    if want in binding:
                        want = binding[want]
                    else:
                        binding[want] = got
                        origins[want] = decl.name
                        continue
                e = got - want
                verdict = self.space.decide_eq(e)
                if verdict is False:
                    raise self.error(Diagnostic("E301", f"shape mismatch at input `{decl.name}` of block "
                                                f"`{block.name}`", pos, node=nd.name, port=decl.name,
                                                expected=decl_text(shape, params),
                                                found=fmt_shape(t.shape), notes=notes))
                if verdict is None:
                    constraints.append(Constraint(e, "==", f"{got} == {want}", f"input `{decl.name}` of "
                                                  f"`{block.name}` fits", pos=pos))
        return binding, constraints, origins


def connected(ports: Ports, inst: Instance) -> Ports:
    """The ports a composite's specialised body still takes (optional `port?` ones may be switched off)."""
    if inst.unit is None:
        return ports
    live = {name for name, _ in inst.unit.inputs}
    return [p for p in ports if p[0] in live]


MAX_SHOWN_VALUES = 4  # parameter values a call note shows (M_01_ISFM's components take dozens)
MAX_CALL_NOTES = 8  # calls an error's notes list, outermost first (the library nests 4 deep; the limit is 32)
DEEPER_CALLS = f"in calls nested more than {MAX_CALL_NOTES} deep, not listed"


def call_note(nd: NodeDef, block: UnitDef, values: Mapping[str, Any], sizes: Mapping[str, int],
              copy: tuple[int, int] | None) -> str:
    """The note that names the call of a composite an error in its body comes from: `in `b` at
    comp2.yaml:16:3, the first call of `Blk` with n = 0`. A later call with the same values (and input
    ``sizes`` the body needed known) shares the checked body and its errors, so the note names the first."""
    order = [p.name for p in block.params if p.name in values]
    order += sorted(k for k in values if k not in order)
    shown = ", ".join(f"{k} = {_value_text(values[k])}" for k in order[:MAX_SHOWN_VALUES])
    if len(order) > MAX_SHOWN_VALUES:
        shown += f" and {len(order) - MAX_SHOWN_VALUES} more values"
    shown = shown or "its default values"
    if sizes:
        shown += f" and input size{'s' if len(sizes) > 1 else ''} " + ", ".join(
            f"{s} = {v}" for s, v in sorted(sizes.items()))
    which = f"`{nd.name}`" if copy is None else f"`{nd.name}` (copy {copy[0] + 1} of {copy[1]})"
    where = f" at {nd.pos}" if nd.pos is not None else ""
    return f"in {which}{where}, the first call of `{block.name}` with {shown}"


def _value_text(value: Any) -> str:
    """A parameter value as JSON writes it (`0`, `"relu"`, `[2, 2]`), cut at 40 characters."""
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError, RecursionError):  # (a value the loader bounds; a type it does not know)
        text = f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _with_node(d: Diagnostic, node: str) -> Diagnostic:
    return replace(d, node=d.node or node)


def decl_text(shape: tuple[Any, ...] | list[Any], params: dict[str, Any] | None = None) -> str:
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
