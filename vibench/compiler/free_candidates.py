"""Candidate free parameters: which template parameters could be free, read from the spec as written.

A candidate (:func:`candidates`) is a number parameter whose every read is a whole ``${p}`` parameter of an
output head that only sizes its outputs or sets a field no shape rule reads, and that declares bounds leaving
another value to try (:func:`_probes`). Finding them reads the spec and the compiled composites, and compiles
nothing; :mod:`vibench.compiler.free_params` then compiles the spec again with each candidate's probe value to
prove it free. Kept apart from that probing because the code generator and the pipeline read these answers
(:func:`reached_bounds`, :func:`code_names`, :func:`keyword_of`) for a program whose probes already ran.
"""

from __future__ import annotations

import ast
import math
from dataclasses import replace
from typing import Any

from vibench.compiler.free_bounds import Bounds, admits, as_size
from vibench.compiler.free_sizes import model_float_dtype, read_bounds
from vibench.compiler.ir import Program, Unit


def candidates(program: Program) -> list[str]:
    """The parameters :mod:`~vibench.compiler.free_params` may find free, in the order it probes them (``num_classes``
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
    memo = _Memo()
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


class _Memo:
    """What the walk found: each (body, parameter, model's parameter) -> the bounds reached (None: no size only),
    and what each body reads (:func:`_reads`, its uses by the name they read), by id."""

    def __init__(self) -> None:
        self.sizes: dict[tuple[int, str, str], tuple[Bounds, ...] | None] = {}
        self.reads: dict[int, tuple[set[str], dict[str, list[tuple[Any, str]]], bool]] = {}  # uses by name


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
    if memo_key in memo.sizes:
        return memo.sizes[memo_key]
    memo.sizes[memo_key] = None  # (a body cannot contain itself; conservative if one did)
    definition = body.definition
    inner = definition.param(key) if definition is not None else None
    found: tuple[Bounds, ...] | None = None
    if inner is not None and admits(*outer, inner):
        # What the body reads, once for all its keys (once per key: 1,000 parameters passed to a composite of
        # 1,000 nodes took 13 s, quadratic)
        if id(body) not in memo.reads:
            elsewhere, uses, inherits = _reads(definition, body)
            by_name: dict[str, list[tuple[Any, str]]] = {}
            for nd, k, name in uses:
                by_name.setdefault(name, []).append((nd, k))
            memo.reads[id(body)] = (elsewhere, by_name, inherits)
        elsewhere, uses_of, inherits = memo.reads[id(body)]
        if not inherits and key not in elsewhere:
            found = ()
            for nd, k in uses_of.get(key, ()):
                bounds = _passed_as_size(body, nd.name, k, outer, memo, dtype)
                if bounds is None:
                    found = None
                    break
                found += bounds
    memo.sizes[memo_key] = found
    return found


def _none_test(value: Any) -> bool:
    """Is this `when:` a test of whether parameters are set (`p is None`, `p is not None`, and/or)?"""
    if value is None:  # most nodes have none (the import below: free_parameters of 10,000 nodes, 17 -> 9 ms)
        return False
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


def keyword_of(program: Program, name: str) -> str:
    """The parameter model.py's class takes for free parameter ``name``: the spec's own parameter ``p``
    when ``name`` is only bound to it by ``with: {name: p}`` (a spec that ``extends:`` a template,
    ``Mine(classes=3)`` for ``with: {num_classes: classes}``), nothing else reads ``p`` and the
    compilation did not set ``name`` itself; else ``name``."""
    from vibench.compiler.ir import Template

    definition = program.root.definition
    if definition is None or program.request is None or name in dict(program.request.params):
        return name
    decl = definition.param(name)
    default = decl.default if decl is not None else None
    if not (isinstance(default, Template) and default.whole and isinstance(default.expr, ast.Name)
            and decl is not None and decl.given):
        return name
    keyword = default.expr.id
    values = dict(program.root.params)
    if definition.param(keyword) is None or keyword not in values \
            or type(values[keyword]) is not type(values.get(name)) or values[keyword] != values[name]:
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
