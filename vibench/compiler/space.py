"""Deciding statements about symbolic dimensions: the bounds and recorded constraints of one unit.

A :class:`SymbolSpace` belongs to one unit specialisation. It decides ``e >= 0``, ``e == 0`` and
``e % m == 0`` with interval bounds (symbols range over [1, inf) unless a recorded ``S >= k``
narrowed them) and, for a statement in one symbol, the exact search of :mod:`vibench.compiler.solve`
over sizes up to 2**31: no size fits -> False; every size fits -> True. With several symbols a
statement is False only when bounds or divisibility prove it (never on samples). The statements
and what they mean for a spec are described in :mod:`vibench.compiler.constraints`.
"""

from __future__ import annotations

import math

from vibench.compiler.ir import Constraint
from vibench.compiler.solve import (
    MAX_DIM,
    Solutions,
    quadratic_roots,
    single_symbol,
    solutions,
    strip_common_factor,
)
from vibench.compiler.symbolic import Dim, Expr, bounds
from vibench.compiler.symbolic_intervals import INF

_SAMPLES = (64, 1000, 4099)


class SymbolSpace:
    """Bounds and recorded constraints of one unit's symbols."""

    def __init__(self) -> None:
        self.bounds: dict[str, tuple[float, float]] = {}
        self.constraints: list[Constraint] = []
        self._keys: set[tuple] = set()
        # A node's own space (its rule's statements) shares the unit's bounds; the unit's constraints,
        # which set them, are read here for messages only (which node bounds `L <= 5`).
        self.outer: list[Constraint] = []

    def _samples(self, symbols: set[str]) -> list[dict[str, int]]:
        out = []
        for k, base in enumerate(_SAMPLES):
            env = {}
            for j, s in enumerate(sorted(symbols)):
                lo, hi = self.bounds.get(s, (1, INF))
                v = base + 7 * j * (k + 1)
                v = int(max(lo, min(hi, v)))
                env[s] = v
            out.append(env)
        return out

    def solve(self, e: Dim, op: str, mod: int = 0) -> Solutions | None:
        """The sizes of the one symbol of ``e`` (after common factors) with ``e op 0``, searched exactly
        over its interval up to 2**31; None with several symbols or past the search budget."""
        if op != "%":
            e = strip_common_factor(e)
        if op == "==":
            quadratic = quadratic_roots(e)
            if quadratic is not None:  # "X == r1 or X == r2": the union of two disjoint solution sets
                x, roots = quadratic
                parts = [self.solve(x - r, "==") for r in roots]
                if any(p is None for p in parts):
                    return None
                firsts = [p.first for p in parts if p is not None and p.first is not None]
                return Solutions(min(2, sum(p.count for p in parts if p is not None)), min(firsts, default=None),
                                 any(p.every for p in parts if p is not None))
        s = single_symbol(e)
        if s is None:
            return None
        lo, hi = self.bounds.get(s, (1, INF))
        return solutions(e, op, int(lo), int(min(hi, MAX_DIM)), mod)

    def decide_ge(self, e: Dim) -> bool | None:
        """True / False when ``e >= 0`` holds for all / no values, None when it depends."""
        lo, hi = bounds(e, self.bounds)
        if lo >= 0:
            return True
        if hi < 0:
            return False
        return _verdict(self.solve(e, ">="))

    def decide_eq(self, e: Dim) -> bool | None:
        if isinstance(e, int):
            return e == 0
        lo, hi = e.bounds(self.bounds)
        if lo > 0 or hi < 0:
            return False
        verdict = _verdict(self.solve(e, "=="))
        if verdict is not None:
            return verdict
        if all(len(mono) == 1 and isinstance(mono[0], str) for mono, _ in e.terms):
            # c1*S1 + c2*S2 + ... + k == 0 needs gcd(c1, c2, ...) to divide k.
            g = 0
            for _, c in e.terms:
                g = math.gcd(g, c)
            if e.const % g:
                return False
        return None  # several free sizes: not refused on samples (checked once bound with --input)

    def pinned(self, e: Dim, op: str, mod: int = 0, *, size_requirement: bool = True) -> tuple[str, int] | None:
        """``(S, v)`` when ``e op 0`` holds for exactly one size ``v`` of its one free symbol ``S``,
        unless it is a size requirement (see :mod:`vibench.compiler.constraints`; ``size_requirement=False`` for the
        "is 1" case of broadcasting, which never is)."""
        base = strip_common_factor(e) if op != "%" else e
        if size_requirement and compares_with_number(base):
            return None
        s = single_symbol(base)
        found = self.solve(e, op, mod)
        if s is None or found is None or found.count != 1 or found.first is None:
            return None
        return s, found.first

    def decide_mod(self, e: Dim, m: int) -> bool | None:
        if isinstance(e, int):
            return e % m == 0
        if e.const % m == 0 and all(c % m == 0 for _, c in e.terms):
            return True  # e.g. 2 * B is always even
        verdict = _verdict(self.solve(e, "%", m))
        if verdict is not None:
            return verdict
        if all(e.evaluate(env) % m != 0 for env in self._samples(e.symbols())):
            # e.g. 2*L + 1 is never even; but L + 1 may be: only refuse when no sample fits.
            return False if _never_divisible(e, m) else None
        return None

    def record(self, c: Constraint) -> None:
        key = (c.op, c.lhs, c.mod)
        if key in self._keys:
            return
        self._keys.add(key)
        self.constraints.append(c)
        if c.op == ">=":
            self._tighten(c.lhs)
        elif c.op == "==" and _pin(c.lhs) is not None:
            # `L == 3` narrows L to [3, 3]: a later `L == 4` (another node's, another output's promise) is then
            # decided impossible (both were recorded, and no size met them: an unsound accept)
            self._tighten(c.lhs)
            self._tighten(-c.lhs)

    def _tighten(self, e: Dim) -> None:
        # A constraint that reads `S >= k` (or `S <= k`) for one symbol narrows S's interval, and
        # earlier constraints the new interval implies are dropped (`L >= 2` after `L >= 8`).
        solved = solve_ge(e)
        if solved is None:
            return
        s, op, k = solved
        lo, hi = self.bounds.get(s, (1, INF))
        self.bounds[s] = (max(lo, k), hi) if op == ">=" else (lo, min(hi, k))
        kept = []
        for c in self.constraints:
            if c.op == ">=" and c.lhs is not e and self._redundant(c.lhs, s, op, k):
                self._keys.discard((c.op, c.lhs, c.mod))
                continue
            kept.append(c)
        self.constraints = kept

    def bound_sources(self, s: str) -> list[Constraint]:
        """The recorded constraints that set the bounds of ``s`` (`L >= 10`, `L <= 5`), lower bound first."""
        lo, hi = self.bounds.get(s, (1, INF))
        found: dict[str, Constraint] = {}
        for c in self.outer + self.constraints:
            if c.op == "==" and _pin(c.lhs) == (s, lo) and lo == hi:  # `L == 3`: both bounds
                found.setdefault(">=", c)
                found.setdefault("<=", c)
            solved = solve_ge(c.lhs) if c.op == ">=" else None
            if solved is not None and solved[0] == s and solved[2] == (lo if solved[1] == ">=" else hi):
                found.setdefault(solved[1], c)
        return list(dict.fromkeys(found[op] for op in (">=", "<=") if op in found))

    def _redundant(self, lhs: Dim, s: str, op: str, k: int) -> bool:
        # A one-symbol bound built the interval it would be checked against: it is redundant only next
        # to a bound on the same side that is at least as strong (`L >= 2` after `L >= 8`, not after `B >= 2`).
        solved = solve_ge(lhs)
        if solved is None:
            return self.decide_ge(lhs) is True
        s2, op2, k2 = solved
        return s2 == s and op2 == op and (k >= k2 if op == ">=" else k <= k2)


def _verdict(found: Solutions | None) -> bool | None:
    if found is None:
        return None
    return True if found.every else False if found.count == 0 else None


def compares_with_number(e: Dim) -> bool:
    """True for a size requirement: every non-constant term on one side (`D - 128`,
    `L // 2 + L - 127`), or "X == r1 or X == r2" (each alternative compares X with a number)."""
    if isinstance(e, int) or quadratic_roots(e) is not None:
        return True
    signs = {c > 0 for _, c in e.terms}
    return len(signs) == 1


def _pin(e: Dim) -> tuple[str, int] | None:
    """``e == 0`` as ``S == k`` for one symbol S and a whole k (``2*L - 6``: L == 3), else None."""
    if isinstance(e, int):
        return None
    up, down = solve_ge(e), solve_ge(-e)
    if up is None or down is None or up[0] != down[0] or {up[1], down[1]} != {">=", "<="} or up[2] != down[2]:
        return None
    return up[0], up[2]


def solve_ge(e: Dim) -> tuple[str, str, int] | None:
    """``e >= 0`` as ``S >= k`` or ``S <= k`` for one symbol S, when floor divisions allow it."""
    if isinstance(e, int):
        return None
    while True:
        if isinstance(e, int):
            return None
        k = e.const
        t = e - k
        if isinstance(t, int) or len(t.terms) != 1:
            return None
        (mono, c) = t.terms[0]
        if len(mono) != 1:
            return None
        atom = mono[0]
        if isinstance(atom, str):
            # c*S + k >= 0
            return (atom, ">=", -(k // c)) if c > 0 else (atom, "<=", k // (-c))
        if c == -1:
            # k - (num // m) >= 0  <=>  num // m <= k  <=>  (k + 1)*m - 1 - num >= 0
            nxt = (k + 1) * atom.den - 1 - atom.num
            if isinstance(nxt, int):
                return None
            e = nxt
            continue
        if c != 1:
            return None
        # (num // m) + k >= 0  <=>  num >= -k*m
        nxt = atom.num + k * atom.den
        if isinstance(nxt, int):
            return None
        e = nxt


def _never_divisible(e: Expr, m: int) -> bool:
    # All non-constant coefficients divisible by g and the constant is not: e % m never 0 when g | m.
    g = 0
    for _, c in e.terms:
        g = math.gcd(g, c)
    g = math.gcd(g, m)
    return g > 1 and e.const % g != 0
