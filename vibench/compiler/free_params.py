"""Free parameters: the template parameters model.py's class takes as real constructor arguments.

A parameter is free when every read of it is an output size of a head (a block parameter whose shape rule
only places it whole at output axes: :mod:`vibench.compiler.free_sizes`; ``num_classes`` of a classifier's
``out_features``) or a head's setting that its shape rule never touches and whose pydantic field checks
nothing the class does not check too (a dropout ``p``, a norm's ``eps``: :mod:`vibench.compiler.free_bounds`;
the class checks those fields' bounds with the parameter's own,
:func:`~vibench.compiler.free_candidates.reached_bounds`), and the compiler
shows that another value changes no structure, no other size and no constraint (see
:func:`free_parameters`): it compiles the whole spec again with another value of each candidate and
compares the code and every node's output types. That probing is bounded
(:func:`probe_limit`): a spec of many candidates on a large body would otherwise cost one compilation and
two fingerprints per candidate, quadratic in the spec's size. Candidates past the bound stay fixed
(model.py takes only their compiled values, a correct and conservative answer) and note I105 says how many
(:func:`unprobed_note`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.free_candidates import _probes, candidates, code_names, keyword_of
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

