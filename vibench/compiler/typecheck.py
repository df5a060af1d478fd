"""Type checking, in the shapes pass: each copy of a node typed against its block.

The :class:`TypeCheck` part of :class:`~vibench.compiler.unit_builder.TypeChecker` binds a node's
inputs to its block's ports (E405); for a catalogue block it validates the parameters with the block's
pydantic model (E104, E111-E113, what they say besides their message: :mod:`~vibench.compiler.param_notes`)
and runs its shape rule (memoised per unit; a plug-in block's through
:mod:`~vibench.compiler.plugin_calls`, which checks what it returns and runs its code: E114), and refuses a
parameter, input or `let` named like a native the block copies into model.py (E106); for a composite block
(:mod:`~vibench.compiler.typecheck_composite`) it binds the parameters, unifies the caller's input types
with the block's declared input shapes (E301, E304), has the specialiser build the body and substitutes
the body's output shapes and constraints back.
It reads the builder's types and the node values elaboration gathered; it writes the unit's symbol
space (the constraints) and returns each copy as an :class:`~vibench.compiler.ir.Instance`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeError
from vibench.compiler.constraints import NodeContext, SymbolSpace
from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, Diagnostic, clip, comment_hint, one_of, plain, suggest
from vibench.compiler.elaborated import Failed, Ports, Refs, freeze
from vibench.compiler.ir import Constraint, Instance, NodeDef, Pos, TensorType, UnitDef, ValueRef
from vibench.compiler.param_notes import accepted, field_doc, fixed_hint, origin_of, set_elsewhere, unwritten_keys
from vibench.compiler.plugin_calls import PluginFailure, is_plugin
from vibench.compiler.plugin_calls import failure as plugin_failure
from vibench.compiler.plugin_calls import validated as plugin_validated
from vibench.compiler.plugin_rule import rule as plugin_rule
from vibench.compiler.symbolic import fmt_shape
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.text_hints import value_hint
from vibench.compiler.typecheck_composite import CompositeCheck, connected, decl_text

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

__all__ = ["TypeCheck", "connected", "decl_text", "origin_of", "set_elsewhere", "unwritten_keys"]


class TypeCheck(CompositeCheck):
    """The type-checking methods of :class:`~vibench.compiler.unit_builder.TypeChecker` (a composite block's
    are :class:`CompositeCheck`'s), which sets the state below (see its ``__init__``)."""

    owner: _Specializer
    udef: UnitDef
    env: Mapping[str, Any]
    space: SymbolSpace
    prim_memo: dict[tuple[Any, ...], tuple[Instance, tuple[Constraint, ...]]]
    from_list: bool
    soft_ports: set[str]
    dropped_soft: bool

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...
        def type_of(self, ref: ValueRef) -> TensorType: ...
        def spelling(self, ref: ValueRef) -> str: ...
        def evaluate(self, value: Any, env: Mapping[str, Any], pos: Pos | None, where: str, node: str) -> Any: ...

    def bind_ports(self, nd: NodeDef, block: Block | UnitDef, refs: Refs) -> Ports:
        optional: tuple[str, ...]
        if isinstance(block, UnitDef):
            names = tuple(i.name for i in block.inputs)
            optional = tuple(i.name for i in block.inputs if i.when is not None or i.optional)
            variadic, minimum = False, len(names) - len(optional)
        else:
            names, variadic, optional, minimum = block.inputs, block.variadic, block.optional_inputs, block.min_inputs
        if not variadic:
            self.soft_ports.clear()
            if len(refs) == 1 == len(names) and refs[0][0] is None:  # one input for the one port (the common case)
                return [(names[0], refs[0][1], refs[0][2])]
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
        positional = [r for r in refs if r[0] is None]
        bound: dict[str, tuple[ValueRef, Pos | None]] = {}
        port: str | None  # a block port below, then a port as written in `in:`
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
        for port, v, pos in refs:
            if port is None:
                continue
            if port.endswith("?"):  # `port?: name`: connected only if the block has that port (switched on)
                port = port[:-1]
                if port not in names and isinstance(nd.block, str):  # one block, whatever the values: a typo
                    raise self.error(Diagnostic(
                        "E405", f"{what} has no input port `{port}`", pos, node=nd.name,
                        expected="one of " + one_of(names), hint=suggest(port, names) or "`port?:` leaves out a port "
                        "that the block chosen by `block: ${...}` lacks; this node's block is always " + what))
                if port not in names:
                    self.dropped_soft = True  # what it names may now be read by no one (W108)
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

    def primitive(self, nd: NodeDef, block: Block, values: dict[str, Any], positions: dict[str, Pos | None],
                  ports: Ports, in_types: list[TensorType]) -> Instance:
        frozen = (block.name, freeze(values))
        # Two memos, one answer: by the values as written (cheap to hash; a long chain of identical layers
        # hits it), else by the validated parameters (equal models from different spellings share a result).
        by_values = (frozen, tuple(in_types))
        memo: tuple[Instance, tuple[Constraint, ...]] | None = self.prim_memo.get(by_values)
        if memo is None:
            p = self.validate_params(nd, block, values, positions, frozen)
            key = _params_key(block.name, p, by_values[1])
            memo = self.prim_memo.get(key) if key is not None else None
            if memo is None:
                memo = self.run_rule(nd, block, p, positions, ports, in_types)
                if key is not None:
                    self.prim_memo[key] = memo
            self.prim_memo[by_values] = memo
        instance, constraints = memo
        for c in constraints:
            self.space.record(Constraint(c.lhs, c.op, c.text, c.reason, c.mod, nd.name, nd.pos, c.code))
        if block.natives:
            self.check_native_names(nd, block, instance.params)
        return instance

    def check_native_names(self, nd: NodeDef, block: Block, p: Any) -> None:
        """E106 for a parameter, input or `let` of this unit, or of a unit around it, named like a native class
        or function this node's block copies into model.py: as an argument of the emitted constructor or
        forward it would hide the native (`def __init__(self, MovingAverage: int = 4)` made the constructor's
        `MovingAverage(5)` call an int). Arguments are the caller's names, which the emitter cannot rename."""
        natives = {n if isinstance(n, str) else n.__name__: n for n in block.native_classes(p)}
        for udef in self.owner.stack:
            for what, decls in (("parameter", udef.params), ("input", udef.inputs), ("let", udef.lets)):
                for d in decls:
                    if d.name in natives:
                        kind = "function" if inspect.isfunction(natives[d.name]) else "class"
                        why = "a forward" if what == "input" else "a constructor"
                        self.owner.diags.add(Diagnostic(
                            "E106", f"{what} name `{d.name}` is taken in model.py", d.pos,
                            found=f"block `{block.name}` (node `{nd.name}`) brings the native {kind} `{d.name}` "
                            f"into model.py, and {why} argument of that name would hide it",
                            hint=f"rename the {what}, e.g. `{d.name}_`"))

    def run_rule(self, nd: NodeDef, block: Block, p: Any, positions: dict[str, Pos | None], ports: Ports,
                 in_types: list[TensorType]) -> tuple[Instance, tuple[Constraint, ...]]:
        """A catalogue block's shape rule on validated parameters: the copy (shared by equal uses) and the
        constraints it states."""
        port_pos = {port: pos for port, _, pos in ports}
        ctx = NodeContext(SymbolSpace(), nd.name, block.name, nd.pos, positions, port_pos, self.owner.float_dtype)
        ctx.space.bounds = self.space.bounds
        ctx.space.outer = self.space.constraints  # (what set the bounds, for messages)
        try:
            if is_plugin(block):  # checked: what a plug-in's methods raise or return wrongly is E114 here
                instance = plugin_rule(block, p, in_types, ctx)
            else:
                instance = self.builtin_rule(block, p, in_types, ctx)
        except ShapeError as err:
            raise self.error(self.shape_diag(err, nd, block.name, positions, port_pos, in_types, ports)) from None
        except NeedConcrete as need:
            need.node = nd.name
            need.pos = need.pos or nd.pos
            raise
        except PluginFailure as failure:
            raise self.error(failure.diagnostic(nd.pos, nd.name)) from None
        self.weights_dtype(nd, block, instance, ports, in_types)  # (a plug-in's weights too: E304)
        return instance, tuple(ctx.space.constraints)

    @staticmethod
    def builtin_rule(block: Block, p: Any, in_types: list[TensorType], ctx: NodeContext) -> Instance:
        """A built-in block's copy on one node: its shape rule and counts (trusted: a failure is a bug)."""
        outs = block.infer(p, list(in_types) if block.variadic else in_types, ctx)
        final = p.model_copy(update=ctx.resolved) if ctx.resolved else p
        names = block.outputs if len(outs) == len(block.outputs) else tuple(str(k) for k in range(len(outs)))
        return Instance(params=final, unit=None, outputs=tuple(zip(names, outs, strict=False)),
                        param_count=block.param_count(final, in_types),
                        flops=block.flops(final, in_types, list(outs)),
                        buffer_count=block.buffer_count(final, in_types),
                        submodules=block.submodule_count(final, in_types))

    def weights_dtype(self, nd: NodeDef, block: Block, instance: Instance, ports: Ports,
                      in_types: list[TensorType]) -> None:
        """E304 for a float input of a block with weights whose dtype is not the model's float dtype: model.py
        casts the module to the one float dtype its inputs share, and leaves it float32 when they have several
        (x float64 and z float16 into two linears compiled, and torch refused the float64 x: "mat1 and mat2 must
        have the same dtype"). A port the block reads in any float dtype (``any_float_inputs``) is exempt."""
        model = self.owner.float_dtype
        for (port, _, pos), t in zip(ports, in_types, strict=False):
            if t.dtype == model or t.dtype not in FLOAT_DTYPES:  # (the common case first: every node runs this)
                continue
            weightless = isinstance(instance.param_count, int) and instance.param_count == 0
            if not weightless and port not in block.any_float_inputs:
                raise self.error(Diagnostic(
                    "E304", f"block `{block.name}` holds {model} weights, and its input `{port}` is {t.dtype}",
                    pos or nd.pos, node=nd.name, port=port, expected=model, found=t.dtype,
                    hint="model.py casts its module to the float dtype of its inputs when they share one, and "
                         "leaves it float32 when they have several: give the float inputs one dtype"))

    def validate_params(self, nd: NodeDef, block: Block, values: dict[str, Any],
                        positions: dict[str, Pos | None], key: tuple[str, Any] | None = None) -> Any:
        """The block's validated parameters (memoised per compilation by ``key``, the values frozen);
        E104, E111-E113 located at this node's keys."""
        key = key or (block.name, freeze(values))
        cached = self.owner.param_memo.get(key)
        if cached is not None:
            return cached
        from pydantic import ValidationError

        try:
            p = plugin_validated(block, values) if is_plugin(block) else block.Params.model_validate(values)
        except PluginFailure as failure:  # a validator of the plug-in's that raised a RuntimeError, a KeyError...
            raise self.error(failure.diagnostic(nd.pos, nd.name)) from None
        except ValidationError as err:
            fields = list(block.Params.model_fields)
            diags = []
            invalid: dict[str, list[Any]] = {}  # field -> its errors (a union gives one per member)
            candidates: list[str] | None = None  # the did-you-mean candidates, made once (per key: quadratic,
            unknown = 0  # 8,000 unknown keys on one node took 5 s, 300,000 hours); unknown keys past MAX_DIAGNOSTICS
            for e in err.errors(include_url=False):  # are counted, not built (as validate's)
                loc = e["loc"]
                field = str(loc[0]) if loc else None
                pos = positions.get(field, nd.pos) if field else nd.pos
                if e["type"] == "extra_forbidden":
                    unknown += 1
                    if unknown > MAX_DIAGNOSTICS:
                        continue
                    if candidates is None:
                        candidates = unwritten_keys(nd, fields)
                    hint = comment_hint(field) or suggest(field or "", candidates)
                    diags.append(Diagnostic("E111", f"unknown parameter `{field}` for block `{block.name}`", pos,
                                            node=nd.name, span=len(field or ""),
                                            expected="one of " + one_of(fields) if fields else "no parameters",
                                            hint=hint or f"`vibench-compile --blocks` describes `{block.name}`"))
                elif e["type"] == "missing":
                    doc = field_doc(block, field)
                    diags.append(Diagnostic("E113", f"block `{block.name}` needs parameter `{field}`", nd.pos,
                                            node=nd.name, expected=f"`{field}`" + (f" ({doc})" if doc else ""),
                                            hint=f"add `{field}: ...` to node `{nd.name}`"))
                elif not loc:  # about no one parameter (a block's model validator): its text says what to do
                    given = ", ".join(f"{k}: {v!r}" for k, v in values.items())
                    text = plain(str(e["msg"]))
                    diags.append(Diagnostic("E112", f"block `{block.name}` at node `{nd.name}`: {text}", nd.pos,
                                            node=nd.name, found=given or "no parameters",
                                            hint=f"`vibench-compile --blocks {block.name}` describes its parameters"))
                else:
                    invalid.setdefault(str(loc[0]), []).append(e)
            for field, errors in invalid.items():
                pos = positions.get(field, nd.pos)
                value = errors[0].get("input")
                found = clip(repr(value), 60)
                where = errors[0]["loc"][1:2]
                if where and type(where[0]) is int and field in values:  # an item of a list: which one, of what
                    found += f" (item {where[0]} of {clip(repr(values[field]), 60)})"
                if all(e["type"] in _RANGE_ERRORS for e in errors):
                    diags.append(Diagnostic("E104", f"value out of range for parameter `{field}` of `{block.name}`",
                                            pos, node=nd.name, expected=accepted(errors), found=found,
                                            notes=set_elsewhere(nd, field, pos), origin=origin_of(nd, pos)))
                else:
                    diags.append(Diagnostic("E112", f"invalid value for parameter `{field}` of `{block.name}`",
                                            pos, node=nd.name, expected=accepted(errors), found=found,
                                            hint=value_hint(self.udef, self.env, self.owner.diags, nd, field,
                                                            value, block.Params, errors),
                                            notes=set_elsewhere(nd, field, pos), origin=origin_of(nd, pos)))
            if unknown > MAX_DIAGNOSTICS:  # the count on the last unknown key's E111 (SpecError.total counts it)
                rest = unknown - MAX_DIAGNOSTICS
                k = max(i for i, d in enumerate(diags) if d.code == "E111")
                diags[k] = replace(diags[k], more=rest, notes=(*diags[k].notes, f"{rest:,} more unknown parameter"
                                   f"{'s' * (rest != 1)} of node `{nd.name}` follow{'s' * (rest == 1)}, counted but "
                                   f"not listed"))
            for d in diags:
                self.owner.diags.add(d)
            raise Failed() from None
        field = _not_finite(p, block.infinite_ok)
        if field is not None and is_plugin(block) and not {field, block.Params.model_fields[field].alias} & set(values):
            # the node never set it: the plug-in's default (or its model validator) made it, not the spec
            value = clip(repr(getattr(p, field)), 60)
            raise self.error(plugin_failure(
                block, f"its parameter `{field}` is {value} although node `{nd.name}` does not set it: the plug-in's "
                "default (or its parameter model) is not a finite number", found=f"`{field}` = {value}",
                expected="a finite default (NaN or infinity given in a spec is E104)").diagnostic(nd.pos, nd.name))
        if field is not None:  # `factor: .nan`, `1e400`, `${1e308 * 10}`: model.py would compute with nan or inf
            pos = positions.get(field, nd.pos)
            infinite = field in block.infinite_ok
            self.owner.diags.add(Diagnostic(
                "E104", f"value out of range for parameter `{field}` of `{block.name}`", pos, node=nd.name,
                expected="a number, or -inf or inf" if infinite else "a finite number",
                found=clip(repr(values.get(field, getattr(p, field))), 60),
                hint="NaN compares false with every number, so the outputs would be NaN" if infinite else
                     "NaN or infinity (a number too large for a float, 1e400, is infinity) here would reach the "
                     "outputs as NaN or infinity", notes=set_elsewhere(nd, field, pos), origin=origin_of(nd, pos)))
            raise Failed()
        self.owner.param_memo[key] = p
        return p

    def shape_diag(self, err: ShapeError, nd: NodeDef, block: str, positions: dict[str, Pos | None],
                   port_pos: dict[str, Pos | None], in_types: list[TensorType], ports: Ports) -> Diagnostic:
        pos = nd.pos
        if err.param and positions.get(err.param):
            pos = positions[err.param]
        elif err.port and port_pos.get(err.port):
            pos = port_pos[err.port]
        found = err.found
        notes = list(err.notes) + list(set_elsewhere(nd, err.param, pos) if err.param else ())
        for port, v, _ in ports:
            # The input the rule complains about, or all of them when it names none.
            if port == err.port or (err.port is None and err.code in ("E301", "E302")):
                note = (*self.gives(v), f"`{self.spelling(v)}` gives {fmt_shape(self.type_of(v).shape)}")[0]
                if note not in notes:  # `in: [x, x, x]`: once
                    notes.append(note)
        if nd.adapter is not None:  # the transpose of an `as:`: say so, not "dim1 out of range"
            rank = len(in_types[0].shape) if in_types else 0
            return Diagnostic("E212", f"`{nd.adapter}` needs a value with three dimensions [B, C, L] or [B, L, C]",
                              nd.pos, found=f"rank {rank}", notes=tuple(notes),
                              hint="`as:` and `layout:` are for [B, L, C] signals; remove them from this output")
        hint = err.hint
        if err.param and len(self.owner.stack) > 1:  # a number the body of a composite writes: no call changes it
            hint = fixed_hint(self.udef, self.env, nd, err.param, hint, in_types) or hint
        return Diagnostic(err.code, f"{err.message}", pos, node=nd.name, port=err.port,
                          expected=err.expected, found=found, hint=hint, notes=tuple(notes),
                          origin=origin_of(nd, pos))


def _params_key(block: str, p: Any, in_types: tuple[TensorType, ...]) -> tuple[Any, ...] | None:
    """The memo key of a block's validated parameters on these input types: the values frozen (a list or
    mapping a plug-in's parameter holds is not hashable: `dims: list[int]`) with their model class; None when a
    value is not hashable even so (an object of a plug-in's own, which then runs the rule again)."""
    key = (block, type(p), freeze({name: getattr(p, name, None) for name in type(p).model_fields}), in_types)
    try:
        hash(key)
    except TypeError:
        return None
    return key


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _not_finite(p: Any, infinite_ok: frozenset[str] = frozenset()) -> str | None:
    """The first parameter of validated block parameters ``p`` holding a float NaN, or an infinity where the block
    does not take one (``infinite_ok``), also inside a list, tuple or mapping; else None."""
    def bad(value: Any, infinite: bool) -> bool:
        if isinstance(value, float):
            return math.isnan(value) or (math.isinf(value) and not infinite)
        if isinstance(value, (list, tuple)):
            return any(bad(v, infinite) for v in value)
        if isinstance(value, dict):
            return any(bad(v, infinite) for v in value.values())
        return False

    return next((name for name in type(p).model_fields if bad(getattr(p, name, None), name in infinite_ok)), None)

