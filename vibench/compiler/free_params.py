"""Free parameters: the template parameters model.py's class takes as real constructor arguments.

A parameter is free when every read of it is an output size of a head (a block parameter whose shape rule
only places it whole at output axes: :mod:`vibench.compiler.free_sizes`; ``num_classes`` of a classifier's
``out_features``) or a head's setting that its shape rule never touches and whose pydantic field checks
nothing the class does not check too (a dropout ``p``, a norm's ``eps``: :mod:`vibench.compiler.free_bounds`;
the class checks those fields' bounds with the parameter's own, :func:`reached_bounds`), and the compiler
shows that another value changes no structure, no other size and no constraint (see
:func:`free_parameters`): it compiles the whole spec again with another value of each candidate and
compares the code and every node's output types. That probing is bounded
(:func:`probe_limit`): a spec of many candidates on a large body would otherwise cost one compilation and
two fingerprints per candidate, quadratic in the spec's size. Candidates past the bound stay fixed
(model.py takes only their compiled values, a correct and conservative answer) and note I105 says how many
(:func:`unprobed_note`).
"""

from __future__ import annotations

import ast
import gc
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.free_bounds import Bounds, admits, as_size
from vibench.compiler.free_sizes import model_float_dtype, read_bounds
from vibench.compiler.ir import CompileRequest, Program, Unit

MAX_PROBES = 4
"""Candidates probed per compilation at most: -o then costs at most 4 compilations and 8 fingerprints (each
about an emission) more than without free parameters, whatever the spec. What the library needs: most
models have one candidate (``num_classes``) or none, H_05_RUL_pred 2 (``dropout``, ``rul_max_value``); 4
leaves a model of several heads its head widths."""

PROBE_NODES = 20_000
"""Expanded nodes compiled by the probes together at most (``nodes × probed candidates``), except that one
candidate is always probed: a model of 20,000 nodes or more probes one, one of 5,000 or fewer up to
:data:`MAX_PROBES`. One probe of a 20,000-node body costs about 4 s (a compilation and two fingerprints,
measured), so the probes of any model past 5,000 nodes add at most about that much, or one probe's worth."""


def free_parameters(program: Program, compile_program: Callable[..., Program],
                    sizes: dict[tuple[str, str, int], str] | None = None) -> frozenset[str]:
    """The template parameters the emitted model class may take other values of; ``sizes`` (given) gets
    the sizes that are such a parameter, (node, port, axis) -> its name (a head's width: ``num_classes``),
    for the comments and the docstring to name. ``compile_program`` is :func:`vibench.compiler.pipeline.
    compile_program` (passed in: the pipeline imports this module).

    A candidate (:func:`candidates`) is a number parameter that only sizes the model's output layers. It is
    free when compiling the spec with another finite value in its declared bounds (:func:`_probes`) succeeds,
    gives every node the same types but at the sizes that are the parameter (:func:`_only_sizes_moved`) and
    gives the same code (the parameter appears in it by name) — so it changes no structure, no other size and
    no constraint. The class takes it under the name :func:`keyword_of` gives (the spec's own ``classes`` of
    ``with: {num_classes: classes}``). The emitted class then checks a new value against the declared type and
    bounds. A value that is not finite (nan, inf) is never free: no other value can be shown to give the same
    code. Only the first :func:`probe_limit` candidates are probed (``num_classes`` first, then by name); the
    others stay fixed.
    """
    request = program.request
    names = candidates(program)
    if request is None or not names:
        return frozenset()
    decls = {d.name: d for d in program.root.definition.params} if program.root.definition is not None else {}
    values = dict(program.root.params)
    free = set()
    plans: dict[Any, Any] = {}  # the program's unit plans, shared by its fingerprints
    for name in names[:probe_limit(program)]:
        keyword = keyword_of(program, name)
        probes = _probes(decls[keyword], values[keyword])
        moved = _probe(program, compile_program, request, (name, keyword), probes, plans) if probes else None
        if not gc.isenabled():  # compile_source pauses the collector: free this probe's programs now
            # Only the youngest generation, where everything made since the collector paused is: a full
            # collection walks the caller's whole heap (0.5 s each with 2M objects, as in a training script
            # or a test process; it made the test suite take 17 minutes instead of 7).
            gc.collect(0)
        if moved is not None:
            free.add(keyword)
            if sizes is not None:
                sizes.update(moved)
    return frozenset(free)


def _probe(program: Program, compile_program: Callable[..., Program], request: CompileRequest,
           names: tuple[str, str], probes: list[Any], plans: dict[Any, Any]) -> dict[tuple[str, str, int], str] | None:
    """The sizes that are the free parameter when each probe value compiles to the same code, else None.
    ``names``: (the parameter the code reads, the one model.py's class takes: :func:`keyword_of`); the
    probes are values of the second. The probe's program is released on return."""
    from vibench.compiler.emit import fingerprint

    name, keyword = names
    value = dict(program.root.params)[keyword]
    expected: tuple[Any, ...] | None = None
    moved: dict[tuple[str, str, int], str] = {}
    for probe in probes:
        try:
            other = compile_program(request.path, text=request.text,
                                    params={**dict(request.params), keyword: probe},
                                    inputs=dict(request.inputs) or None, search_path=list(request.search_path),
                                    display=request.display, locate_settings=False, **limits_of(request))
        except SpecError:
            return None
        if not _only_sizes_moved(program, other, value, probe):  # cheap first: another size changed
            return None
        expected = expected or fingerprint(program, frozenset(names), plans, code_names(program, frozenset(names)))
        if fingerprint(other, frozenset(names), reads=code_names(other, frozenset(names))) != expected:
            return None
        moved = _moved(program, other, keyword, value, probe)
        del other
    return moved


def limits_of(request: CompileRequest) -> dict[str, int]:
    """The limits the program was compiled under, as keywords of ``compile_program`` (a model that needed
    ``--max-params`` raised is probed under the same limit)."""
    if request.limits is None:
        return {}
    return dict(zip(("max_nodes", "max_params", "max_activation"), request.limits, strict=True))


def candidates(program: Program) -> list[str]:
    """The parameters :func:`free_parameters` may find free, in the order it probes them (``num_classes``
    first, then by name): number parameters that only size the model's output layers or set what their
    shape rules never read. The only ``${...}`` that read one are whole ``${p}`` parameters of built nodes
    whose value the model only returns (a classifier head's ``out_features: ${num_classes}``) and ``when:``
    tests of whether it is set (``${p is not None}``); no ``inherit:`` passes it on. Nothing else reads it:
    no ``let:``, no ``checks:``, no ``when:``, ``repeat:``, ``for_each:``, ``with:``, ``checkpoint:``, shape
    or other expression. Where such a head is a composite, the parameter it takes the value as is read the
    same way inside it (:func:`_sizes_only`, recursively) and declares no type or bound that the model's
    parameter does not imply (the class checks only the model's). Reads the spec as written (no
    compilation), with the compiled composites for the bodies the heads build.

    A built-in head must take it, as one node (no ``repeat:``, ``for_each:``), as a parameter its shape
    rule only places whole at output axes (``out_features``, not ``stride``, ``kernel_size`` or
    ``num_groups``) or never touches, with a field whose every check the class makes too (a dropout ``p``,
    a norm's ``eps``): :func:`~vibench.compiler.free_sizes.read_bounds`; :func:`reached_bounds` says what the
    class then checks. One probe (:func:`_probes`) then proves a value free: a value read only so cannot
    cross a threshold of the spec's own (``${8 if n < 100 else 9}``, ``when: ${n < 100}``) nor of a block's
    rules, as another probe value could not show."""
    return sorted(_candidates(program), key=lambda name: (name != "num_classes", name))


def reached_bounds(program: Program) -> dict[str, tuple[Bounds, ...]]:
    """Each candidate, as the parameter model.py's class takes (:func:`keyword_of`) -> the bounds of the block
    fields it reaches that the class checks too (a dropout's ``ge: 0, le: 1``; none for an output size)."""
    return {keyword_of(program, name): bounds for name, bounds in _candidates(program).items()}


def _candidates(program: Program) -> dict[str, tuple[Bounds, ...]]:
    """:func:`candidates` -> the bounds of the block fields each reaches (:func:`reached_bounds`)."""
    root = program.root
    if program.request is None or root.definition is None:
        return {}
    elsewhere, uses, inherits = _reads(root.definition, root)
    if inherits:
        return {}
    decls = {d.name: d for d in root.definition.params}
    values = dict(root.params)
    memo: _Memo = {}
    dtype = model_float_dtype(root)
    read: dict[str, tuple[Bounds, ...]] = {}
    for nd, key, name in uses:  # (a value no probe can try, such as a string, stays fixed anyway: not read)
        read.setdefault(name, ())
        if name not in decls or name not in values or name in elsewhere:
            continue
        keyword = keyword_of(program, name)
        outer = (decls[keyword], values[keyword])  # what the class checks (of the parameter it takes)
        # The class also checks that a size is at least 1 (emit's `_bounds`): `classes` with no bound admits
        # `num_classes: {ge: 1}`. (Composites are still asked to admit what the declaration alone admits.)
        sized = (as_size(*outer), values[keyword])
        bounds = _passed_as_size(root, nd.name, key, outer, memo, dtype) if _probes(*outer) and (
            keyword == name or admits(*sized, decls[name])) else None
        if bounds is None:
            elsewhere.add(name)
        else:
            read[name] += bounds
    return {name: bounds for name, bounds in read.items() if name not in elsewhere and name in values
            and name in decls}


def _reads(definition: Any, unit: Unit) -> tuple[set[str], list[tuple[Any, str, str]], bool]:
    """What a body as written (``definition``, compiled as ``unit``) reads: (the names read anywhere but
    as a whole ``${p}`` parameter of a head, those uses as (node, parameter, name), whether a node
    outside the heads has ``inherit: true``). A head is a built node whose value the body only returns
    (none of its nodes reads it) and that inherits nothing; a ``when:`` that tests only whether names are
    set (``${p is not None}``) reads no value."""
    from vibench.compiler.expr import template_names
    from vibench.compiler.ir import Template, UnitDef
    from vibench.compiler.resolve_decls import _names_written, expression_names

    built = {n.name for n in unit.nodes}
    consumed = {v.node for n in unit.nodes for _, v in n.inputs}
    heads = {ref.node for _, ref, _ in unit.outputs} - consumed
    head_defs = [nd for nd in definition.nodes if nd.name in heads and nd.name in built and not nd.inherit]
    elsewhere: set[str] = set()  # read by a head in anything but a whole `${p}`
    uses: list[tuple[Any, str, str]] = []
    for nd in head_defs:
        for key, raw, _ in nd.params:
            if isinstance(raw, Template) and raw.whole and isinstance(raw.parts[0], ast.Name):
                uses.append((nd, key, raw.parts[0].id))
            else:
                elsewhere |= template_names(raw) | _names_written(raw)
        elsewhere |= template_names(nd.block) | template_names(nd.repeat) | template_names(nd.checkpoint)
        elsewhere |= set() if _none_test(nd.when) else template_names(nd.when)
        elsewhere |= template_names(nd.for_each) | template_names(nd.with_) | _names_written(nd.with_)
    # `when: ${p is not None}` reads only whether p is set: a number for a number keeps the structure.
    outputs = tuple(replace(o, when=None) if _none_test(o.when) else o for o in definition.outputs)
    head_ids = {id(nd) for nd in head_defs}  # (`nd not in head_defs` compared nodes: quadratic in the heads)
    nodes = tuple(replace(nd, when=None) if _none_test(nd.when) else nd for nd in definition.nodes
                  if id(nd) not in head_ids)
    # Everything but the heads, `let:` and `checks:` included: a name they read is no size only.
    others = UnitDef(definition.name, definition.qualname, None, definition.params, definition.inputs, nodes,
                     outputs, definition.file, None, metadata=definition.metadata, lets=definition.lets)
    names, inherits = expression_names(others)
    for check in definition.checks:  # (a name a check only tests for being set reads no value, as in `when:`)
        names |= _value_names(check.that) | template_names(check.message) | ({check.at} if check.at else set())
    return elsewhere | names, uses, inherits


def _value_names(value: Any) -> set[str]:
    """The names an expression reads the value of: all it reads but those it only tests for being set
    (``p is None``, ``p is not None``). GraphNO's check ``${num_classes is not None or output_dim <= ...}``
    reads ``num_classes`` only so: a classifier's count stays a constructor argument."""
    from vibench.compiler.expr import template_names
    from vibench.compiler.ir import Template

    names = set(template_names(value))
    if not isinstance(value, Template):
        return names
    tested: set[int] = set()  # the Name nodes that are a none test's operand
    read: set[str] = set()
    for part in value.parts:
        if isinstance(part, str):
            continue
        for e in ast.walk(part):
            if (isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.Is | ast.IsNot)
                    and isinstance(e.left, ast.Name) and isinstance(e.comparators[0], ast.Constant)
                    and e.comparators[0].value is None):
                tested.add(id(e.left))
        read |= {e.id for e in ast.walk(part) if isinstance(e, ast.Name) and id(e) not in tested}
    return names & read


_Memo = dict[tuple[int, str, str], "tuple[Bounds, ...] | None"]  # (body, parameter, model's parameter) -> bounds


def _passed_as_size(unit: Unit, node: str, key: str, outer: tuple[Any, Any], memo: _Memo,
                    dtype: str) -> tuple[Bounds, ...] | None:
    """Is a value of the model's parameter ``outer`` (what the class checks of it, and its compiled value)
    that head ``node`` of ``unit`` takes as its parameter ``key`` (a whole ``${p}``) only a size there, or a
    setting no shape rule reads? Then the bounds of the block fields it reaches (:func:`reached_bounds`), else
    None. For a built-in block, :func:`~vibench.compiler.free_sizes.read_bounds` (``dtype``: the model's
    float dtype); for a composite, when its one copy's body reads ``key`` only so (:func:`_sizes_only`). A
    node of several copies (``repeat:``, ``for_each:``) is neither: one copy's input is another's output."""
    compiled = unit.node(node)
    if compiled.kind == "primitive":
        bounds = read_bounds(unit, compiled, key, dtype)
        return None if bounds is None else (bounds,)
    if compiled.repeated or compiled.parallel or len(compiled.copies) != 1 or compiled.copies[0].unit is None:
        return None
    body = compiled.copies[0].unit
    return _sizes_only(body, key, outer, memo, dtype)


def _sizes_only(body: Unit, key: str, outer: tuple[Any, Any], memo: _Memo, dtype: str) -> tuple[Bounds, ...] | None:
    """Does composite ``body`` read its parameter ``key``, given a value of the model's parameter
    ``outer`` (declaration, value), only as :func:`candidates` asks of the model (its heads' sizes or
    settings no shape rule reads), recursively through the composites those heads are, and does ``key``'s
    declaration admit every value the class admits (:func:`~vibench.compiler.free_bounds.admits`: the class
    checks the model's declared type and bounds, not the composites')? Then the bounds of the block fields
    it reaches, else None."""
    memo_key = (id(body), key, outer[0].name)
    if memo_key in memo:
        return memo[memo_key]
    memo[memo_key] = None  # (a body cannot contain itself; conservative if one did)
    definition = body.definition
    inner = definition.param(key) if definition is not None else None
    found: tuple[Bounds, ...] | None = None
    if inner is not None and admits(*outer, inner):
        elsewhere, uses, inherits = _reads(definition, body)
        if not inherits and key not in elsewhere:
            found = ()
            for nd, k, name in uses:
                bounds = _passed_as_size(body, nd.name, k, outer, memo, dtype) if name == key else ()
                if bounds is None:
                    found = None
                    break
                found += bounds
    memo[memo_key] = found
    return found


def expanded_nodes(program: Program) -> int:
    """The model's nodes once every copy and composite body is expanded (as the ``max_nodes`` limit counts
    them): what one compilation of the spec costs, about."""
    counts: dict[int, int] = {}

    def count(unit: Unit) -> int:
        if id(unit) not in counts:
            counts[id(unit)] = sum(1 + c.submodules + (count(c.unit) if c.unit is not None else 0)
                                   for n in unit.nodes for c in n.copies)
        return counts[id(unit)]

    return count(program.root)


def probe_limit(program: Program) -> int:
    """How many candidates :func:`free_parameters` probes: at most :data:`MAX_PROBES`, and at most
    :data:`PROBE_NODES` expanded nodes compiled by the probes together, but always one."""
    return min(MAX_PROBES, max(1, PROBE_NODES // max(1, expanded_nodes(program))))


def unprobed_note(program: Program) -> Diagnostic | None:
    """I105 when :func:`free_parameters` leaves candidates unprobed (fixed at their compiled values)."""
    if program.root.definition is None:
        return None
    limit = probe_limit(program)
    if len(program.root.definition.params) <= limit:  # candidates are declared parameters: no more than these
        return None  # (and reading the spec for them is skipped: 12 ms of a 10,000-node spec's 370 ms --check)
    names = candidates(program)
    if len(names) <= limit:
        return None
    left = names[limit:]
    decls = {d.name: d for d in program.root.definition.params}
    shown = ", ".join(left[:10]) + (f" and {len(left) - 10:,} more" if len(left) > 10 else "")
    plural = "s" if limit != 1 else ""
    return Diagnostic(
        "I105", f"{len(left):,} of {len(names):,} parameters that only size the model's outputs were not probed: "
        "model.py's class takes them at their compiled values only",
        decls[left[0]].pos, severity="note",
        notes=(f"not probed: {shown}",
               f"whether a parameter is free is proved by compiling the whole spec again with another value; "
               f"a model of {expanded_nodes(program):,} nodes gets {limit} such compilation{plural}"),
        hint="compile with another value to change one (--set NAME=VALUE, or the keyword in vibench.build)")


def _moved(program: Program, other: Program, name: str, value: Any, probe: Any) -> dict[tuple[str, str, int], str]:
    """The model's sizes that are parameter ``name``: equal to its value here and to ``probe`` in ``other``
    (the program compiled with the probe), (node, port, axis) -> ``name``."""
    moved = {}
    for x, y in zip(program.root.nodes, other.root.nodes, strict=True):
        for (port, a), (_, b) in zip(x.outputs, y.outputs, strict=True):
            moved.update({(x.name, port, k): name for k, (d, e) in enumerate(zip(a.shape, b.shape, strict=False))
                          if type(d) is int and d == value and e == probe})
    return moved


def _none_test(value: Any) -> bool:
    """Is this `when:` a test of whether parameters are set (`p is None`, `p is not None`, and/or)?"""
    from vibench.compiler.ir import Template

    if not isinstance(value, Template) or not value.whole:
        return False

    def only(e: ast.expr) -> bool:
        if isinstance(e, ast.BoolOp):
            return all(only(v) for v in e.values)
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            return only(e.operand)
        return (isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.Is | ast.IsNot)
                and isinstance(e.left, ast.Name) and isinstance(e.comparators[0], ast.Constant)
                and e.comparators[0].value is None)

    return only(value.expr)


def _only_sizes_moved(a: Program, b: Program, value: Any, probe: Any) -> bool:
    """Do both programs build the same nodes with the same output types, but for sizes that are the free
    parameter (``value`` in ``a``, ``probe`` in ``b``)? A head's other sizes count too: a `stride` that
    sets an output's length is no free parameter."""
    if [n.name for n in a.root.nodes] != [n.name for n in b.root.nodes]:
        return False
    for x, y in zip(a.root.nodes, b.root.nodes, strict=True):
        ours, theirs = x.outputs, y.outputs
        if [(port, t.dtype, len(t.shape)) for port, t in ours] != [(port, t.dtype, len(t.shape)) for port, t in theirs]:
            return False
        for (_, s), (_, t) in zip(ours, theirs, strict=True):
            if any(d != e and not (type(d) is int and d == value and e == probe)
                   for d, e in zip(s.shape, t.shape, strict=True)):
                return False
    return True


def keyword_of(program: Program, name: str) -> str:
    """The parameter model.py's class takes for free parameter ``name``: the spec's own parameter ``p``
    when ``name`` is only bound to it by ``with: {name: p}`` (a spec that ``extends:`` a template,
    ``Mine(classes=3)`` for ``with: {num_classes: classes}``), nothing else reads ``p`` and the
    compilation did not set ``name`` itself; else ``name``."""
    from vibench.compiler.ir import Template

    definition = program.root.definition
    if definition is None or program.request is None or name in dict(program.request.params):
        return name
    decls = {d.name: d for d in definition.params}
    values = dict(program.root.params)
    default = decls[name].default if name in decls else None
    if not (isinstance(default, Template) and default.whole and isinstance(default.expr, ast.Name)
            and decls[name].given):
        return name
    keyword = default.expr.id
    if keyword not in decls or keyword not in values or type(values[keyword]) is not type(values.get(name)) \
            or values[keyword] != values[name]:
        return name
    rest = replace(definition, params=tuple(replace(d, default=None) if d.name == name else d
                                            for d in definition.params))
    elsewhere, uses, inherits = _reads(rest, program.root)
    if inherits or keyword in elsewhere or any(n == keyword for _, _, n in uses):
        return name
    return keyword


def code_names(program: Program, free: frozenset[str]) -> dict[str, str]:
    """Each free parameter -> the parameter the code reads for it (:func:`keyword_of`: ``classes`` ->
    ``num_classes``; itself for most)."""
    fed = {}
    for name, _ in program.root.params:
        keyword = keyword_of(program, name)
        if keyword != name:
            fed[keyword] = name
    return {n: fed.get(n, n) for n in free}


def _probes(decl: Any, value: Any) -> list[Any]:
    """Another value of a number parameter within its declared bounds: finite and not close to ``value``
    (none for other types, and none for a value that is not finite: nan/2 is nan again, and nan differs
    from itself, so a nan "probe" proved nothing)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or decl.choices is not None:
        return []
    if isinstance(value, float) and not math.isfinite(value):
        return []
    if isinstance(value, int):
        options: list[float] = [value + 1, value - 1]
    else:
        options = [value / 2 + 0.01, (value + 1.0) / 2]

    def ok(v: float) -> bool:
        differs = v != value if isinstance(v, int) else math.isfinite(v) and not math.isclose(v, value, rel_tol=1e-6)
        return (differs and (decl.ge is None or v >= decl.ge) and (decl.gt is None or v > decl.gt)
                and (decl.le is None or v <= decl.le) and (decl.lt is None or v < decl.lt))

    return [v for v in options if ok(v)][:1]  # one other value: the syntactic rules of `candidates` do the rest
