"""`let:` values and `checks:` of a unit, evaluated for one set of parameters.

A ``let`` entry is computed once per specialisation, in order, from the parameters and the entries
before it; the result is read by every ``${...}`` of the unit like a parameter (it is not an
argument of the emitted class: its value is a consequence of the arguments). An entry that reads
a dimension symbol of the unit's inputs (``${C * factor}``) is computed once the inputs are bound;
the input declarations themselves can then not read it.

A ``check`` is a condition the parameters must meet. When it is false the compile stops with E215:
the check's message (never its expression), located where the user set the parameter named by
``at`` (the ``with:`` key of their spec, a PHM-Vibench config key; the parameter's declaration for
``--set`` and defaults), so that an error about the user's value points into the user's file.

Example (a template)::

    let:
      per_system: "${is_mapping(num_classes)}"
    checks:
      - {that: "${not per_system or len(num_classes) > 0}", message: "num_classes maps no system", at: num_classes}
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.expr import ExprError, contains_template, evaluate_value, template_names
from vibench.compiler.ir import CheckDef, LetDef, Pos, UnitDef
from vibench.compiler.symbolic_errors import NeedConcrete

CODES = {"error": "E215", "warning": "W106", "note": "I104"}
"""The code of a failed check, by its `severity`."""


def inherited_checks(base: UnitDef) -> tuple[CheckDef, ...]:
    """``base``'s checks, as a unit that extends it carries them: each still owned by the template that wrote it
    (through a chain of `extends:`, the first)."""
    return tuple(c if c.owner is not None else replace(c, owner=base.name) for c in base.checks)


def let_env(udef: UnitDef, params: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """``params`` plus the unit's `let:` values (ExprError / NeedConcrete propagate; with ``partial``,
    a value that cannot be computed from ``params`` alone, e.g. one that reads a dimension, is left out).

    >>> from vibench.compiler.ir import LetDef
    >>> from vibench.compiler.expr import parse_value
    >>> u = UnitDef("U", "U", None, (), (), (), (), "f", None, lets=(LetDef("w2", parse_value("${w * 2}", None)),))
    >>> let_env(u, {"w": 3})["w2"]
    6
    """
    if not udef.lets:
        return params
    env = dict(params)
    for let in udef.lets:
        try:
            env[let.name] = evaluate_value(let.value, env) if contains_template(let.value) else let.value
        except (ExprError, NeedConcrete):
            if not partial:
                raise
    return env


def let_reads(udef: UnitDef) -> dict[str, set[str]]:
    """The parameters each `let:` value reads, through the entries before it (once per definition: every use of a
    composite asks; the sets are shared, to be read only)."""
    facts = _facts(udef)
    if facts.reads is None:
        params = {d.name for d in udef.params}
        out: dict[str, set[str]] = {}
        for let in udef.lets:
            names = template_names(let.value)
            out[let.name] = {n for n in names if n in params}.union(*(out[n] for n in names if n in out))
        facts.reads = out
    return facts.reads


def run_checks(udef: UnitDef, env: dict[str, Any], positions: dict[str, Pos | None],
               node: str | None = None) -> list[Diagnostic]:
    """E215 (W106, I104 by `severity`) for every check of ``udef`` that ``env`` fails; E204/E211 for a check
    that cannot be decided.

    ``positions`` says where each parameter's value was set (absent: its declaration). A check is decided once
    per definition and what it reads (the values of the names it reads, where its ``at`` parameter was set): the
    uses of a composite that differ in other parameters only look its outcome up.
    """
    out: list[Diagnostic] = []
    facts = _facts(udef)
    for k, check in enumerate(udef.checks):
        key = facts.key(k, env, positions, node)
        if key is not None and key in facts.outcomes:
            kept = facts.outcomes[key]
        else:
            kept, certain = _decide(udef, check, env, positions, node, facts)
            if certain and key is not None and len(facts.outcomes) < MAX_KEPT_OUTCOMES:
                facts.outcomes[key] = kept
        if kept is not None:
            out.append(kept)
    return out


def _decide(udef: UnitDef, check: CheckDef, env: dict[str, Any], positions: dict[str, Pos | None],
            node: str | None, facts: _Facts) -> tuple[Diagnostic | None, bool]:
    """The diagnostic of ``check`` in ``env`` (None: it holds), and whether it is certain: an expression that
    failed may have failed for the compilation's budget of expression steps, spent by then."""
    owner = check.owner or udef.name
    that_pos = getattr(check.that, "pos", None) or check.pos  # at the `that:` expression, not the list item
    try:
        ok = evaluate_value(check.that, env) if contains_template(check.that) else check.that
    except ExprError as err:
        return Diagnostic("E204", f"{err.message} in a check of `{owner}`", that_pos, node=node, hint=err.hint), False
    if not isinstance(ok, bool):
        return Diagnostic("E211", f"a check of `{owner}` must give true or false", that_pos, node=node,
                          expected="true or false", found=clip(repr(ok), 80)), True
    if ok:
        return None, True
    certain = True
    try:
        message = evaluate_value(check.message, env) if contains_template(check.message) else check.message
    except ExprError as err:
        message = f"a check of `{owner}` failed (its message cannot be written: {err.message})"
        certain = False
    # clipped once, after its line breaks are written `\\r`, `\\n`: the count of characters left out is right
    text = clip(str(message))
    at = check.at
    pos = positions.get(at) or facts.declared(udef).get(at) if at is not None else None
    found = f"`{at}` = {_shown(env.get(at))}" if at is not None else None
    notes = (f"checked by {owner}" + (f" at {check.pos}" if check.pos is not None else ""),)
    code = CODES[check.severity]
    return Diagnostic(code, text, pos or check.pos or udef.pos, node=node, found=found, notes=notes,
                      severity=check.severity), certain


MAX_KEPT_OUTCOMES = 4_096
"""Outcomes of checks kept per definition (:func:`run_checks`): a definition lives as long as the library that
loaded it, for a language server the process, so what it keeps is bounded; past it, checks are decided anew."""

_UNDECIDED = object()


@dataclass(eq=False)
class _Facts:
    """What is computed once per definition: its `let:` values' reads, their order's problem, and its checks'
    outcomes by what each reads."""

    checks: tuple[CheckDef, ...]
    reads: dict[str, set[str]] | None = None
    order: Diagnostic | None | object = _UNDECIDED
    read_by: list[tuple[tuple[str, ...], str | None]] | None = None  # per check: the names it reads, its `at`
    outcomes: dict[tuple[Any, ...], Diagnostic | None] = field(default_factory=dict)
    declarations: dict[str, Pos | None] | None = None

    def declared(self, udef: UnitDef) -> dict[str, Pos | None]:
        """Where each parameter is declared."""
        if self.declarations is None:
            self.declarations = {d.name: d.pos for d in udef.params}
        return self.declarations

    def key(self, k: int, env: dict[str, Any], positions: dict[str, Pos | None],
            node: str | None) -> tuple[Any, ...] | None:
        """What the outcome of the ``k``-th check depends on besides the definition: the values it reads (each with
        its type: 1, 1.0 and true are told apart, and -0.0 from 0.0), where its `at` parameter was set, the node.
        None where it reads a list or a mapping (their size is unbounded; the expression budget charges reading
        them) or a dimension."""
        if self.read_by is None:
            self.read_by = [(tuple(sorted(template_names(c.that) | template_names(c.message)
                                          | ({c.at} if c.at is not None else set()))), c.at) for c in self.checks]
        names, at = self.read_by[k]
        values = []
        for n in names:
            value = env.get(n, _UNDECIDED)
            if value is not _UNDECIDED and value.__class__ not in _SCALARS:
                return None
            # A float by its exact bits: -0.0 == 0.0, but str() and a check's message tell them apart.
            values.append((value.__class__, value.hex() if value.__class__ is float else value))
        return (k, node, positions.get(at) if at is not None else None, *values)


_SCALARS = frozenset({int, float, str, bool, type(None)})
_FACTS: weakref.WeakKeyDictionary[UnitDef, _Facts] = weakref.WeakKeyDictionary()


def _facts(udef: UnitDef) -> _Facts:
    """The facts of ``udef``, kept while it lives (a definition is immutable)."""
    facts = _FACTS.get(udef)
    if facts is None:
        facts = _FACTS[udef] = _Facts(udef.checks)
    return facts


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def let_order_problem(udef: UnitDef) -> Diagnostic | None:
    """E204 for the first `let:` value of ``udef`` that reads itself or one defined below it (they are computed
    in order, as docs/language.md says), else None.

    One pass with each name's place looked up: a unit of thousands of `let` values (and every use of a
    composite that has them) took time in the square of their count when each value listed the names below it.
    """
    if not udef.lets:
        return None
    facts = _facts(udef)
    if facts.order is _UNDECIDED:
        facts.order = _order_problem(udef)
    return facts.order  # type: ignore[return-value]


def _order_problem(udef: UnitDef) -> Diagnostic | None:
    place: dict[str, int] = {}
    for k, let in enumerate(udef.lets):
        place.setdefault(let.name, k)
    for k, let in enumerate(udef.lets):
        read = template_names(let.value)
        ahead = [place[n] for n in read if place.get(n, -1) >= k]
        if ahead:
            return _read_below(let, udef.lets[min(ahead)])
    return None


def _read_below(let: LetDef, other: LetDef) -> Diagnostic:
    """E204 for ``let``, which reads ``other``: itself or a value defined below it."""
    name = other.name
    text = getattr(let.value, "text", None)
    if name == let.name:
        return Diagnostic("E204", f"`let.{name}` reads itself", let.pos, found=text,
                          hint="a `let` value reads the parameters, the inputs' sizes and the `let` values above it")
    cycle = let.name in template_names(other.value)
    return Diagnostic(
        "E204", f"`let.{let.name}` reads `{name}`, which is defined below it", let.pos, found=text,
        notes=(f"`{name}` is defined at {other.pos}",) if other.pos else (),
        hint=(f"`{let.name}` and `{name}` read each other: compute one of them from the parameters" if cycle
              else f"`let` values are computed in order: move `{name}` above `{let.name}`"))
