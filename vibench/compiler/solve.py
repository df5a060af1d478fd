"""Exact decisions for constraints in one symbol: which sizes satisfy ``e == 0``, ``e >= 0`` or ``e % m == 0``.

Sizes range over ``[lo, hi]`` with ``hi`` at most :data:`MAX_DIM` (2**31, the realistic range of a
tensor dimension). An expression whose monomials are single atoms (the symbol ``S`` or floor
divisions of such expressions) is *quasi-linear*: ``e(S) = r*S + h(S)`` with a rational rate ``r``
and a remainder ``h`` that stays in an interval computed from the floor divisions
(``num // d == num/d - f`` with ``0 <= f <= (d-1)/d``); ``e(S + P) == e(S) + r*P`` for a period ``P``
built from the divisors. So:

* when ``r != 0``, the sign of ``e`` is fixed outside a window of width ``(hmax - hmin) / |r|`` and
  every size inside the window is evaluated (``L // 128 == 32`` scans 4096..4223);
* when ``r == 0`` (or for ``%``), ``e`` repeats with period ``P`` and one period is evaluated.

Each decision evaluates at most :data:`BUDGET` sizes; past that it answers "unknown" (``None``),
which the caller treats as "may hold" — never as a rejection.

    >>> L = Expr.symbol("L")
    >>> solutions((L + 1) // 2 - L, "==", 1, MAX_DIM)          # holds only at L = 1
    Solutions(count=1, first=1, every=False)
    >>> solutions(L // 128 - 32, "==", 1, MAX_DIM)
    Solutions(count=2, first=4096, every=False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from vibench.compiler.symbolic import Dim, Expr, FloorDiv

MAX_DIM = 2**31
"""The largest size a free dimension is assumed to take (a constraint with no solution up to it is an error)."""

BUDGET = 1 << 14
"""The most sizes one decision evaluates."""


@dataclass(frozen=True)
class Solutions:
    """The sizes in a range that satisfy a constraint: ``count`` is 0, 1 or 2 (two or more), ``first``
    the smallest one (None when there is none) and ``every`` whether all sizes in the range do."""

    count: int
    first: int | None
    every: bool


def single_symbol(e: Dim) -> str | None:
    """The one symbol ``e`` depends on, or None (a constant, or several symbols)."""
    if isinstance(e, int):
        return None
    symbols = e.symbols()
    return next(iter(symbols)) if len(symbols) == 1 else None


def strip_common_factor(e: Dim) -> Dim:
    """``e`` divided by the symbols that multiply every term (each at least 1, so ``e == 0`` and
    ``e >= 0`` keep their meaning): ``B * ((L + 1) // 2) - B * L`` gives ``(L + 1) // 2 - L``."""
    while isinstance(e, Expr) and e.const == 0:
        common: set[str] | None = None
        for mono, _ in e.terms:
            names = {a for a in mono if isinstance(a, str)}
            common = names if common is None else common & names
        if not common:
            return e
        s = min(common)
        terms: dict[tuple, int] = {}
        for mono, c in e.terms:
            k = mono.index(s)
            terms[mono[:k] + mono[k + 1:]] = c
        const = terms.pop((), 0)
        e = Expr._make(terms, const)
    return e


def is_quasi_linear(e: Dim) -> bool:
    """True when every monomial (inside floor divisions too) is a single atom."""
    if isinstance(e, int):
        return True
    return all(len(mono) == 1 and (isinstance(mono[0], str) or is_quasi_linear(mono[0].num)) for mono, _ in e.terms)


def _analyse(e: Expr) -> tuple[Fraction, Fraction, Fraction, int]:
    """(rate r, min of h, max of h, period P) of a quasi-linear ``e`` in one symbol."""
    rate = Fraction(0)
    lo = hi = Fraction(e.const)
    period = 1
    for mono, c in e.terms:
        atom = mono[0]
        if isinstance(atom, str):
            ar, alo, ahi, ap = Fraction(1), Fraction(0), Fraction(0), 1
        else:
            nr, nlo, nhi, np_ = _analyse(atom.num)
            d = atom.den
            ar, alo, ahi = nr / d, nlo / d - Fraction(d - 1, d), nhi / d
            step = nr * np_  # an integer: num(S + np_) == num(S) + step
            ap = np_ * (d // math.gcd(int(step), d))
        rate += c * ar
        lo, hi = (lo + c * alo, hi + c * ahi) if c > 0 else (lo + c * ahi, hi + c * alo)
        period = period * ap // math.gcd(period, ap)
    return rate, lo, hi, period


def _holds(e: Expr, s: str, op: str, mod: int, v: int) -> bool:
    x = e.evaluate({s: v})
    return x == 0 if op == "==" else x >= 0 if op == ">=" else x % mod == 0


class _Tally:
    """Counts satisfying sizes (up to two) while runs of sizes are added in increasing order."""

    def __init__(self) -> None:
        self.count = 0
        self.first: int | None = None
        self.every = True

    def run(self, start: int, stop: int, satisfied: bool) -> None:
        """Sizes start..stop (inclusive), all satisfying or none."""
        if start > stop:
            return
        if not satisfied:
            self.every = False
            return
        if self.first is None:
            self.first = start
        self.count = min(2, self.count + stop - start + 1)

    def result(self) -> Solutions:
        return Solutions(self.count, self.first, self.every and self.count > 0)


def solutions(e: Dim, op: str, lo: int, hi: int, mod: int = 0) -> Solutions | None:
    """The sizes ``S`` in ``[lo, hi]`` (``hi`` capped at :data:`MAX_DIM`) with ``e(S) op 0``
    (``op`` is ``==``, ``>=`` or ``%``, the last meaning ``e % mod == 0``); None when ``e`` is not
    quasi-linear in one symbol or the answer needs more than :data:`BUDGET` evaluations."""
    s = single_symbol(e)
    if s is None or not isinstance(e, Expr) or not is_quasi_linear(e):
        return None
    hi = min(hi, MAX_DIM)
    tally = _Tally()
    if lo > hi:
        return tally.result()
    if op != "%" and len(e.terms) == 1 and e.terms[0][0] == (s,):  # c*S + k: solved directly
        c, k = e.terms[0][1], e.const
        if op == "==":
            root = -k // c
            if c * root + k == 0 and lo <= root <= hi:
                tally.run(lo, root - 1, False)
                tally.run(root, root, True)
                tally.run(root + 1, hi, False)
            else:
                tally.run(lo, hi, False)
        else:
            t = -(k // c) if c > 0 else k // -c  # S >= t (c > 0) or S <= t (c < 0)
            below, above = (False, True) if c > 0 else (True, False)
            split = t if c > 0 else t + 1
            tally.run(lo, min(hi, split - 1), below)
            tally.run(max(lo, split), hi, above)
        return tally.result()
    if hi - lo < 64:  # a handful of sizes: look at each
        for v in range(lo, hi + 1):
            tally.run(v, v, _holds(e, s, op, mod, v))
        return tally.result()
    rate, hlo, hhi, period = _analyse(e)
    if op == "%" or rate == 0:
        if op == "%":
            period *= mod  # e(S + P*mod) == e(S) + r*P*mod, a multiple of mod
        elif op == "==" and (hlo > 0 or hhi < 0):
            return tally.result()
        elif op == ">=" and (hlo >= 0 or hhi < 0):
            tally.run(lo, hi, hlo >= 0)
            return tally.result()
        if period > BUDGET:
            return None
        # Which sizes satisfy it repeats with the period: one period (from lo) decides.
        for v in range(lo, min(hi, lo + period - 1) + 1):
            tally.run(v, v, _holds(e, s, op, mod, v))
        if tally.first is not None and tally.first + period <= hi:
            tally.count = 2
        return tally.result()
    # r != 0: e < 0 on one side of the window and e > 0 on the other.
    a, b = -hhi / rate, -hlo / rate
    w0, w1 = max(lo, math.ceil(min(a, b))), min(hi, math.floor(max(a, b)))
    if w1 - w0 + 1 > BUDGET:
        return None
    positive_left = rate < 0
    tally.run(lo, min(hi, w0 - 1), op == ">=" and positive_left)
    for v in range(w0, w1 + 1):
        tally.run(v, v, _holds(e, s, op, mod, v))
    tally.run(max(lo, w1 + 1), hi, op == ">=" and not positive_left)
    return tally.result()


def quadratic_roots(e: Dim) -> tuple[Expr, tuple[int, ...]] | None:
    """``e`` as ``a*X*X + b*X + c`` in one atom X with a != 0: (X, its integer roots ascending);
    None for any other form. A recorded "X == r1 or X == r2" is stored as ``(X - r1) * (X - r2)``."""
    if not isinstance(e, Expr):
        return None
    atom: str | FloorDiv | None = None
    a = b = 0
    for mono, c in e.terms:
        if len(mono) == 2 and mono[0] == mono[1] and atom in (None, mono[0]):
            atom, a = mono[0], c
        elif len(mono) == 1 and atom in (None, mono[0]):
            atom, b = mono[0], c
        else:
            return None
    if atom is None or a == 0:
        return None
    c0 = e.const
    disc = b * b - 4 * a * c0
    roots: set[int] = set()
    if disc >= 0:
        root = math.isqrt(disc)
        if root * root == disc:
            for num in (-b - root, -b + root):
                if num % (2 * a) == 0:
                    roots.add(num // (2 * a))
    return Expr({(atom,): 1}, 0), tuple(sorted(roots))
