"""Pass 5, shapes: definitions -> a :class:`Program` of typed, specialised units.

Pre: the root UnitDef from ``resolve`` (parameters bound) and a Library for the specs it uses.
Post: a Program whose units have every parameter concrete, every ``${...}`` evaluated, every
block's parameters validated, every tensor typed with a symbolic shape, and every node annotated
with parameter count and FLOPs; or a SpecError listing every independent problem found.

How it works:

* nodes are visited in the order the graph pass gives; each reads the types of the values it names;
* a primitive node's parameters are validated by its block's pydantic model, then its shape rule
  runs with a :class:`NodeContext` (results are memoised: long chains of identical layers cost one
  rule evaluation);
* a composite node binds its parameters, unifies the caller's shapes with the block's declared
  input shapes (``[B, C, L]`` binds B, C and L), and specialises the block body once per distinct
  (parameters, compile-time dimensions); its output shapes and constraints are substituted back;
* a dimension is made a compile-time integer only when a rule or expression needs it
  (:class:`NeedConcrete`): the block is specialised again with it known when the caller knows
  it, the need propagates up otherwise, and at the root ``--input`` may satisfy it (E303 if not).
"""

from __future__ import annotations

import os
from typing import Any

from vibench.compiler import registry
from vibench.compiler.blocks.base import Block, model_float_dtype
from vibench.compiler.build_warnings import forgive_unused
from vibench.compiler.constraints import found_text
from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError, one_of, suggest
from vibench.compiler.elaborate import elaborate
from vibench.compiler.elaborated import Elaborated, Failed, declared_dims, freeze, verify_elaborated
from vibench.compiler.expr import ExprError, evaluate_value
from vibench.compiler.graph import UnusedNodes, check_graph
from vibench.compiler.ir import (
    Pos,
    Program,
    SourceInfo,
    Template,
    Unit,
    UnitDef,
)
from vibench.compiler.ir_verify import verify
from vibench.compiler.lets import let_env
from vibench.compiler.limits import MAX_ACTIVATION, MAX_NESTING, MAX_NODES, MAX_PARAMS
from vibench.compiler.resolve import Library
from vibench.compiler.suggestions import Suggestions
from vibench.compiler.symbolic import evaluate, free_symbols
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.typecheck import decl_text
from vibench.compiler.unit_builder import typecheck


def infer_program(root: UnitDef, library: Library, source: SourceInfo,
                  input_dims: dict[str, tuple[int, ...]] | None = None, *,
                  max_nodes: int = MAX_NODES, max_params: int = MAX_PARAMS, max_activation: int = MAX_ACTIVATION,
                  verify_ir: bool = False) -> Program:
    """Specialise the root unit and everything it uses (see the module docstring).

    A model of more than ``max_nodes`` nodes after expansion is E213, one of more than
    ``max_params`` parameter elements E307, an activation of more than ``max_activation`` elements at the
    smallest input E309 (see :mod:`vibench.compiler.limits`). With ``verify_ir``
    (the tests), the IR invariants are checked after each pass over each unit."""
    float_dtype: str | None = None  # the model's: from the root's inputs (see _Specializer.passes)
    while True:
        spec = _Specializer(library)
        spec.verify_ir, spec.fixed_float_dtype = verify_ir, float_dtype
        spec.max_nodes, spec.max_params, spec.max_activation = max_nodes, max_params, max_activation
        bindings: dict[str, int] = {}
        if input_dims:
            bindings = spec.bind_inputs(root, input_dims)
        unit = spec.root(root, bindings)
        spec.diags.raise_if_any()
        assert unit is not None
        # The module is cast to the float dtype of the inputs it takes (emit's `self.to(...)`), known for sure
        # only now: should they give another than the one guessed before typing (_cast_dtype), type again.
        float_dtype = model_float_dtype(t.dtype for _, t in unit.inputs)
        if float_dtype == spec.float_dtype or spec.fixed_float_dtype is not None:
            break
    if input_dims:
        spec.refuse_untaken(root, unit, input_dims)
        spec.check_bindings(unit, bindings)
        spec.diags.raise_if_any()
    return Program(root=unit, units=tuple(spec.order), source=source, bindings=tuple(sorted(bindings.items())),
                   warnings=tuple(d for d in spec.diags.items if d.severity != "error"))


class _Specializer:
    def __init__(self, library: Library) -> None:
        self.library = library
        self.diags = Collector(sources=library.sources)
        self.cache: dict[tuple[object, ...], Unit | None] = {}
        self.needed: dict[tuple[object, ...], frozenset[str]] = {}
        self.order: list[Unit] = []
        self.stack: list[UnitDef] = []
        self.checked: dict[int, UnitDef] = {}
        self.param_memo: dict[tuple[object, ...], Any] = {}
        self.switched_off: set[str] = set()  # inputs `--input` bound although their `when` is false (E305 said)
        self.warned_unused: set[tuple[str, str]] = set()  # definitions checked for unused parameters
        self.block_names: dict[int, Suggestions] = {}  # id of a definition -> its block names, for E110's hint
        self.max_nodes = MAX_NODES
        self.max_params = MAX_PARAMS
        self.max_activation = MAX_ACTIVATION
        self.node_counts: dict[int, int] = {}  # id(unit) -> its nodes after expansion
        self.limit_hit = False  # E213 or E307 reported: other nodes over the limit stay silent
        self.verify_ir = False  # check the IR after each pass (the tests)
        # The dtype of the model's float weights and buffers (blocks.base.model_float_dtype), which the shape rules
        # read (ShapeContext.float_dtype): from the root unit's active inputs once it is elaborated, or fixed.
        self.float_dtype = "float32"
        self.fixed_float_dtype: str | None = None

    def node_count(self, unit: Unit) -> int:
        """How many nodes ``unit`` has once every copy and composite body is expanded."""
        count = self.node_counts.get(id(unit))
        if count is None:
            count = sum(1 + c.submodules + (self.node_count(c.unit) if c.unit is not None else 0)
                        for n in unit.nodes for c in n.copies)
            self.node_counts[id(unit)] = count
        return count

    # -- entry points ----------------------------------------------------------------------------

    def bind_inputs(self, root: UnitDef, input_dims: dict[str, tuple[int, ...]]) -> dict[str, int]:
        bindings: dict[str, int] = {}
        names = {i.name: i for i in root.inputs}
        env = dict(root.param_values or {})
        env = let_env(root, env, partial=True)  # the shapes pass reports a value it cannot compute
        for name, dims in input_dims.items():
            decl, label = names.get(name), self.library.input_named(name)
            if decl is None:
                first = root.inputs[0].pos if root.inputs else root.pos
                given = "`inputs`" if self.library.in_python else "--input"
                self.diags.add(Diagnostic("E305", f"{given} names unknown input `{name}`", first,
                                          expected="one of " + one_of(names),
                                          hint=suggest(name, names) or "bind the inputs the spec declares"))
                continue
            try:  # an input switched off by its `when` is not the model's: binding it is E305, as an unknown name
                on = evaluate_value(decl.when, env) if decl.when is not None else True
            except (ExprError, NeedConcrete):
                on = True  # elaboration reports the `when` itself
            if on is False:
                given = "`inputs`" if self.library.in_python else "--input"
                self.diags.add(Diagnostic("E305", f"{given} binds input `{name}`, which is switched off (its `when` "
                                          "is false)", decl.pos, hint="leave it out, or set the parameters that "
                                          "switch it on"))
                self.switched_off.add(name)
                continue
            try:
                shape = declared_dims(decl, env)
            except (ExprError, ValueError, NeedConcrete):
                continue  # the shapes pass reports the declaration itself
            if len(dims) != len(shape):
                self.diags.add(Diagnostic("E305", f"{label} has {len(dims)} dimensions, the input has "
                                          f"{len(shape)}", decl.pos, expected=decl_text(shape),
                                          found=",".join(map(str, dims)) or "() (no sizes)"))
                continue
            for k, (want, got) in enumerate(zip(shape, dims, strict=False)):
                if isinstance(want, Template):
                    try:
                        want = evaluate_value(want, env)
                    except (ExprError, NeedConcrete):
                        continue
                    if isinstance(want, bool) or not isinstance(want, int | str) or (type(want) is int and want < 1):
                        continue  # not a size (`${n - 4}` at n = 4): the shapes pass's E212, at the declaration
                if isinstance(want, int):
                    if want != got:
                        self.diags.add(Diagnostic("E305", f"{label}: dimension {k} is fixed to {want}",
                                                  decl.pos, expected=decl_text(shape),
                                                  found=",".join(map(str, dims)) or "() (no sizes)"))
                elif isinstance(want, str):
                    if want in bindings and bindings[want] != got:
                        both = "the inputs bind" if self.library.in_python else "--input binds"
                        self.diags.add(Diagnostic("E305", f"{both} `{want}` to both {bindings[want]} and {got}",
                                                  decl.pos))
                    bindings[want] = got
        self.diags.raise_if_any()
        return bindings

    def root(self, udef: UnitDef, bindings: dict[str, int]) -> Unit | None:
        params = dict(udef.param_values or {})
        allowed = dict(bindings)
        try:
            return self.specialize(udef, params, allowed, call_pos=None)
        except NeedConcrete as need:
            self.report_need(need, allowed, udef)
            return None
        except Failed:
            return None

    def report_need(self, need: NeedConcrete, allowed: dict[str, int], root: UnitDef) -> None:
        missing = sorted(need.symbols - set(allowed))
        pos = need.pos if isinstance(need.pos, Pos) else None
        names = ", ".join(f"`{s}`" for s in missing)
        example = ""
        for decl in root.inputs:
            shape = decl.shape if isinstance(decl.shape, tuple) else ()
            if any(d in missing for d in shape if isinstance(d, str)):
                dims = [f"<{d}>" if isinstance(d, str) else str(d) if isinstance(d, int) else "?" for d in shape]
                example = (f" (`inputs={{{decl.name!r}: ({', '.join(dims)})}}` with numbers)" if self.library.in_python
                           else f" (`--input {decl.name}={','.join(dims)}` with numbers)")
                break
        bind = "`inputs=`" if self.library.in_python else "--input"
        self.diags.add(Diagnostic(
            "E303", f"{need.what} must be known at compile time", pos, node=need.node,
            found=f"it depends on {names}, which the input shape leaves free",
            hint=_time_axis_hint(root, need.node, missing)
            or f"give {names} a number in `inputs:` (or make it a parameter), bind it with {bind}{example}, "
               "or reduce that dimension first (e.g. pooling to a fixed size)"))

    def refuse_untaken(self, root: UnitDef, unit: Unit, input_dims: dict[str, tuple[int, ...]]) -> None:
        """E305 for a bound input the typed model does not take: `optional: true` and read by no node here
        (M_01_ISFM's system_id with one num_classes for every sample); the sizes it bound are not the model's."""
        taken = {name for name, _ in unit.inputs}
        given = "`inputs`" if self.library.in_python else "--input"
        for decl in root.inputs:
            if decl.name in input_dims and decl.name not in taken and decl.name not in self.switched_off:
                self.diags.add(Diagnostic("E305", f"{given} binds input `{decl.name}`, which this model does not "
                                          "take: it is optional and nothing reads it here", decl.pos,
                                          hint="leave it out (forward has no such argument)"))

    def check_bindings(self, unit: Unit, bindings: dict[str, int]) -> None:
        for c in unit.constraints:
            if not free_symbols(c.lhs) <= set(bindings):
                continue
            value = evaluate(c.lhs, bindings)
            ok = value >= 0 if c.op == ">=" else value == 0 if c.op == "==" else value % c.mod == 0
            if not ok:  # found: `L = 1024, so L // 128 = 8` for `L // 128 == 32`
                what = "break a promised shape" if c.code == "E308" else "violate a constraint"
                self.diags.add(Diagnostic(c.code, f"the input shapes {what}: {c.text}", c.pos,
                                          node=c.node, expected=c.text, found=found_text(c, bindings),
                                          notes=(f"needed because {c.reason}",)))

    # -- specialisation ------------------------------------------------------------------------

    def graph(self, udef: UnitDef) -> UnitDef:
        key = id(udef)
        if key not in self.checked:
            try:
                self.checked[key] = check_graph(udef, self.library.sources)
            except UnusedNodes as err:  # E403: reported with the problems the later passes find
                self.diags.extend(err.diagnostics)
                self.checked[key] = err.unit
            except SpecError as err:
                self.diags.extend(err.diagnostics)
                raise Failed() from None
        return self.checked[key]

    def specialize(self, udef: UnitDef, params: dict[str, Any], allowed: dict[str, int],
                   call_pos: Pos | None, positions: dict[str, Pos | None] | None = None) -> Unit:
        """Specialise with the fewest compile-time symbols that work; NeedConcrete if more are needed
        than ``allowed`` provides."""
        pkey = (id(udef), freeze(params))
        needed = self.needed.get(pkey, frozenset())
        while True:
            concrete = {s: allowed[s] for s in needed if s in allowed}
            key = pkey + (tuple(sorted(concrete.items())),)
            if key in self.cache:
                unit = self.cache[key]
                if unit is None:
                    raise Failed()
                return unit
            try:
                unit = self.specialize_once(udef, params, concrete, call_pos, positions)
            except NeedConcrete as need:
                if need.symbols <= set(allowed) and not need.symbols <= needed:
                    needed = needed | need.symbols
                    self.needed[pkey] = needed
                    continue
                raise
            except Failed:
                self.cache[key] = None
                raise
            self.cache[key] = unit
            self.order.append(unit) if self.stack else None
            return unit

    def specialize_once(self, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
                        call_pos: Pos | None, positions: dict[str, Pos | None] | None = None) -> Unit:
        """``positions``: where the caller set each parameter (errors about a value are located there)."""
        # The stack holds the definitions as given (``graph`` returns a reordered copy).
        if any(u is udef or (u.qualname == udef.qualname and u.file == udef.file) for u in self.stack):
            chain = " -> ".join(u.name for u in self.stack) + f" -> {udef.name}"
            self.diags.add(Diagnostic("E206", f"block `{udef.name}` uses itself", call_pos, found=chain,
                                      hint="composite blocks cannot be recursive; use `repeat:` to chain copies"))
            raise Failed()
        if len(self.stack) > MAX_NESTING:  # the model's unit and MAX_NESTING levels of blocks inside it
            shown = " -> ".join(u.name for u in self.stack[:3]) + " -> ... -> " + udef.name
            self.diags.add(Diagnostic("E206", f"composite blocks nest deeper than {MAX_NESTING} levels", call_pos,
                                      found=f"{len(self.stack)} levels: {shown}",
                                      hint="flatten the hierarchy: put a block's nodes in its user, or chain "
                                      "copies with `repeat:`"))
            raise Failed()
        self.stack.append(udef)
        try:
            return self.passes(self.graph(udef), params, concrete, positions)
        finally:
            self.stack.pop()

    def passes(self, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
               positions: dict[str, Pos | None] | None) -> Unit:
        """The unit passes in order: elaborate (values, `when`/`repeat`/`for_each`/`with`/`inherit`: a
        concrete graph), then type-check (ports, parameters, shapes, constraints). Each takes the frozen
        result of the one before; with ``verify_ir`` its result's invariants are checked."""
        elaborated = elaborate(self, udef, params, concrete, positions)
        if self.verify_ir:
            verify_elaborated(elaborated)
        if len(self.stack) == 1:  # the root: its inputs decide the model's float dtype (before any node is typed)
            self.float_dtype = self.fixed_float_dtype or _cast_dtype(elaborated)
        unit = typecheck(self, elaborated)
        if self.verify_ir:
            verify(unit)
        return unit

    # -- helpers used by the unit builder ----------------------------------------------------------

    def known_block(self, name: str, udef: UnitDef, pos: Pos | None) -> Block | UnitDef | None:
        """The block ``name`` names in ``udef``: one of its `blocks:`, a registered block, or a spec
        reference (``path#Block``; its load errors raise SpecError). None when it names nothing."""
        if name in udef.blocks:
            return udef.blocks[name]
        block = registry.get(name)
        if block is not None:
            return block
        if "/" in name or "#" in name or name.endswith((".yaml", ".yml", ".json")):
            from_dir = os.path.dirname(udef.path) if udef.path else self.library.cwd
            return self.library.block(name, from_dir, pos)
        return None

    def lookup_block(self, name: str, udef: UnitDef, pos: Pos | None, node: str,
                     setting: Pos | None = None) -> Block | UnitDef:
        """The block ``name`` names; E110 when none. ``setting``: where a user set the name a template's
        `block: ${...}` reads, in another file (the unknown name is reported there, with a note naming
        the template's node, as E301 is: ``typecheck.set_elsewhere``)."""
        try:
            found = self.known_block(name, udef, pos)
        except SpecError as err:
            self.diags.extend(err.diagnostics)
            forgive_unused(self, udef, node)
            raise Failed() from None
        if found is not None:
            return found
        # one sorted candidate list per definition, and a cap on the work of all its lookups (suggestions.py)
        names = self.block_names.setdefault(id(udef), Suggestions([*registry.all_blocks(), *udef.blocks]))
        notes = registry.unknown_block_notes(name)  # a plug-in that failed or was refused
        origin, span = None, len(name)
        if setting is not None and pos is not None and setting.file != pos.file:
            origin, pos, span = pos, setting, 1  # (the carets cover the token there: a key, or the value)
            notes = (f"the value set here reaches `block` of node `{node}` at {origin}", *notes)
        self.diags.add(Diagnostic("E110", f"unknown block `{name}`", pos, node=node, span=span,
                                  hint=names.hint(name) or "run `vibench-compile --blocks` for the catalogue",
                                  notes=tuple(notes), origin=origin))
        forgive_unused(self, udef, node)  # whether it reads the parameters its values name is unknown
        raise Failed()


def _cast_dtype(root: Elaborated) -> str:
    """The float dtype of the root's inputs as model.py takes them (an `optional: true` input that nothing
    reads is not taken; ``infer_program`` checks the guess against the typed unit): the module's float dtype."""
    optional = {d.name for d in root.udef.inputs if d.optional}
    if not optional:  # (the reads are a walk over every node: 10,000 nodes, ~5 ms)
        return model_float_dtype(t.dtype for _, t in root.inputs)
    read = {ref.node for n in root.nodes if n.copies for _, ref, _ in n.refs} | {o.ref.node for o in root.outputs}
    return model_float_dtype(t.dtype for name, t in root.inputs if name not in optional or name in read)


def _time_axis_hint(root: UnitDef, node: str | None, missing: list[str]) -> str | None:
    """For a node of ``root`` whose block reads channels (see :mod:`~vibench.compiler.roles`) and needs a
    free symbol that is an input's time axis by its `layout:` (a shape with a layout is written [B, L, C]):
    the axes are swapped, so binding the length is the wrong fix (``x [B, L, 4], layout: BLC`` into a
    ``conv1d`` reads L as its channels; with ``[B, 128, 4]`` it is W107)."""
    from vibench.compiler.roles import CHANNELS_FIRST, RECURRENT

    nd = next((n for n in root.nodes if n.name == node), None)
    if nd is None or not isinstance(nd.block, str) or nd.block not in CHANNELS_FIRST | RECURRENT:
        return None
    by_name = {n.name: n for n in root.nodes}
    read: set[str] = set()  # the inputs the node's value comes from, through nodes before it (a dropout, a norm)
    todo = [ref.node for _, ref in nd.inputs]
    while todo:
        name = todo.pop()
        if name in read:
            continue
        read.add(name)
        if name in by_name:
            todo += [ref.node for _, ref in by_name[name].inputs]
    for decl in root.inputs:
        shape = decl.shape if isinstance(decl.shape, tuple) else ()
        if decl.name not in read:  # another input's (one read through its `as:` adapter has its axes swapped)
            continue
        if decl.layout is not None and len(shape) == 3 and shape[1] in missing:
            time = shape[1]
            if nd.block in RECURRENT:
                what, order = "its features from the last dimension", "BLC"
            else:
                what, order = "its channels from dimension 1", "BCL"
            return (f"`{time}` is the time axis of input `{decl.name}` by its `layout:`, and `{nd.block}` reads "
                    f"{what}: transpose first (`{{block: transpose, dim0: 1, dim1: 2}}`), or read the input "
                    f"`as: {order}`")
    return None
