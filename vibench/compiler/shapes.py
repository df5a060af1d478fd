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
from vibench.compiler.composite_uses import frozen_values
from vibench.compiler.constraints import found_text
from vibench.compiler.dead_keys import HeldKeyWarnings
from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError
from vibench.compiler.elaborate import elaborate
from vibench.compiler.elaborated import Elaborated, Failed, freeze, verify_elaborated
from vibench.compiler.graph import UnusedNodes, check_graph
from vibench.compiler.input_bindings import bind_inputs
from vibench.compiler.ir import (
    Pos,
    Program,
    SourceInfo,
    Unit,
    UnitDef,
)
from vibench.compiler.ir_verify import verify
from vibench.compiler.limits import MAX_ACTIVATION, MAX_NESTING, MAX_NODES, MAX_PARAMS
from vibench.compiler.resolve import Library
from vibench.compiler.shape_hints import need_diagnostic, time_axis_hint
from vibench.compiler.suggestions import Suggestions
from vibench.compiler.symbolic import evaluate, free_symbols
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.unit_builder import typecheck
from vibench.compiler.unused_params import forgive_unused

PROBE_SIZE = 1_000
"""The size the free symbols take when an E303 is probed for the check it hides (:meth:`_Specializer.probe_mismatch`):
a length a signal has, which no explicit size (channels, features) is likely to meet."""


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
            bindings = bind_inputs(spec, root, input_dims)
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
        self.held_keys = HeldKeyWarnings()  # W104 of keys of composite definitions, said once the model is built
        self.block_names: dict[int, Suggestions] = {}  # id of a definition -> its block names, for E110's hint
        self.max_nodes = MAX_NODES
        self.max_params = MAX_PARAMS
        self.max_activation = MAX_ACTIVATION
        self.node_counts: dict[int, int] = {}  # id(unit) -> its nodes after expansion
        self.least_bodies: dict[int, tuple[UnitDef, int | None]] = {}  # a definition's least nodes (node_bounds)
        # The nodes the next unit specialised may have, the rest of the model counted (node_bounds.body_room): set
        # by the type checker before it has a composite's body specialised; the model's limit at the root.
        self.node_room = MAX_NODES
        self.limit_hit = False  # E213 or E307 reported: other nodes over the limit stay silent
        self.verify_ir = False  # check the IR after each pass (the tests)
        # The dtype of the model's float weights and buffers (blocks.base.model_float_dtype), which the shape rules
        # read (ShapeContext.float_dtype): from the root unit's active inputs once it is elaborated, or fixed.
        self.float_dtype = "float32"
        self.fixed_float_dtype: str | None = None
        self.probing = False  # typing again with the free sizes bound, for E303's hint (probe_mismatch)

    def node_count(self, unit: Unit) -> int:
        """How many nodes ``unit`` has once every copy and composite body is expanded."""
        count = self.node_counts.get(id(unit))
        if count is None:
            count = sum(1 + c.submodules + (self.node_count(c.unit) if c.unit is not None else 0)
                        for n in unit.nodes for c in n.copies)
            self.node_counts[id(unit)] = count
        return count

    # -- entry points ----------------------------------------------------------------------------

    def root(self, udef: UnitDef, bindings: dict[str, int]) -> Unit | None:
        params = dict(udef.param_values or {})
        allowed = dict(bindings)
        self.node_room = self.max_nodes
        try:
            return self.specialize(udef, params, allowed, call_pos=None)
        except NeedConcrete as need:
            self.report_need(need, allowed, udef)
            return None
        except Failed:
            return None
        finally:  # W104 of the definitions' keys no use built so far read, said beside the errors too (once)
            self.held_keys.flush(self.diags)

    def report_need(self, need: NeedConcrete, allowed: dict[str, int], root: UnitDef) -> None:
        missing = sorted(need.symbols - set(allowed))
        mismatch = self.probe_mismatch(need, allowed, missing, root)
        self.diags.add(need_diagnostic(need, missing, root, self.library, mismatch))

    def probe_mismatch(self, need: NeedConcrete, allowed: dict[str, int], missing: list[str],
                       root: UnitDef) -> Diagnostic | None:
        """The E301 that ``need``'s node reports at one of its parameters once the free symbols are numbers
        (:data:`PROBE_SIZE`): `in_features: 8` compared with a last dimension `L - 2`, which binding `L` shows
        is the real problem (linear maps the last dimension). Found by typing ``root`` again with them bound, on
        this failing path only and never from a probe itself; None when the node reports nothing such there."""
        if self.probing or time_axis_hint(root, need.node, missing) is not None:
            return None  # (a channels-first block reading the time axis: that hint says what is wrong)
        probe = _Specializer(self.library)
        probe.probing, probe.verify_ir = True, False
        probe.float_dtype, probe.fixed_float_dtype = self.float_dtype, self.fixed_float_dtype
        probe.max_nodes, probe.max_params, probe.max_activation = self.max_nodes, self.max_params, self.max_activation
        probe.root(root, {**allowed, **dict.fromkeys(missing, PROBE_SIZE)})
        return next((d for d in probe.diags.errors if d.code == "E301" and d.node == need.node
                     and d.pos is not None and d.pos != need.pos), None)

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
        pkey = (id(udef), freeze(params, frozen_values(self)))
        needed = self.needed.get(pkey, frozenset())
        room = self.node_room  # (typing the body sets it for the bodies inside: read once, for every try)
        while True:
            concrete = {s: allowed[s] for s in needed if s in allowed}
            key = pkey + (tuple(sorted(concrete.items())),)
            if key in self.cache:
                unit = self.cache[key]
                if unit is None:
                    raise Failed()
                return unit
            try:
                unit = self.specialize_once(udef, params, concrete, call_pos, positions, room)
            except NeedConcrete as need:
                if need.symbols <= set(allowed) and not need.symbols <= needed:
                    needed = needed | need.symbols
                    self.needed[pkey] = needed
                    _release(need)
                    continue
                raise
            except Failed:
                self.cache[key] = None
                raise
            self.cache[key] = unit
            self.order.append(unit) if self.stack else None
            return unit

    def specialize_once(self, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
                        call_pos: Pos | None, positions: dict[str, Pos | None] | None, room: int) -> Unit:
        """``positions``: where the caller set each parameter (errors about a value are located there); ``room``:
        the nodes the unit may have (:attr:`node_room`)."""
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
            return self.passes(self.graph(udef), params, concrete, positions, room)
        finally:
            self.stack.pop()

    def passes(self, udef: UnitDef, params: dict[str, Any], concrete: dict[str, int],
               positions: dict[str, Pos | None] | None, room: int) -> Unit:
        """The unit passes in order: elaborate (values, `when`/`repeat`/`for_each`/`with`/`inherit`: a
        concrete graph), then type-check (ports, parameters, shapes, constraints), both within ``room`` nodes
        (E213). Each takes the frozen result of the one before; with ``verify_ir`` its result's invariants are
        checked."""
        elaborated = elaborate(self, udef, params, concrete, positions, room)
        if self.verify_ir:
            verify_elaborated(elaborated)
        if len(self.stack) == 1:  # the root: its inputs decide the model's float dtype (before any node is typed)
            self.float_dtype = self.fixed_float_dtype or _cast_dtype(elaborated)
        unit = typecheck(self, elaborated, room)
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
        the template's node, as E301 is: ``param_notes.set_elsewhere``)."""
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


def _release(need: NeedConcrete) -> None:
    """Let the frames of a try that needed more sizes known go now. The collector is paused while compiling
    (``pipeline.paused_gc``), and a frame that raised another exception for the one it caught (a composite's body
    that needs a size its caller binds) holds it, in a cycle with its traceback: every such try kept all its frames
    and what they held (blocks nested 13 deep, each use tried first without its input size: `--check` 865 MB, 210 MB
    with them let go)."""
    error: BaseException | None = need
    while error is not None:
        error.__traceback__ = None
        error = error.__context__


def _cast_dtype(root: Elaborated) -> str:
    """The float dtype of the root's inputs as model.py takes them (an `optional: true` input that nothing
    reads is not taken; ``infer_program`` checks the guess against the typed unit): the module's float dtype."""
    optional = {d.name for d in root.udef.inputs if d.optional}
    if not optional:  # (the reads are a walk over every node: 10,000 nodes, ~5 ms)
        return model_float_dtype(t.dtype for _, t in root.inputs)
    read = {ref.node for n in root.nodes if n.copies for _, ref, _ in n.refs} | {o.ref.node for o in root.outputs}
    return model_float_dtype(t.dtype for name, t in root.inputs if name not in optional or name in read)
