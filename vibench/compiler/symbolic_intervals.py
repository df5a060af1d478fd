"""Interval arithmetic over symbolic dimensions: the range of values an :class:`~vibench.compiler.symbolic.Expr`
takes when each symbol ranges over an interval (:meth:`Expr.bounds <vibench.compiler.symbolic.Expr.bounds>`).

Kept apart from :mod:`vibench.compiler.symbolic`, whose canonical forms hold exact integers only: an interval's
ends mix those integers with float infinities, and the helpers here keep the two from mixing badly. The shape
constraints (``constraints.py``, ``space.py``) use :data:`INF` for an unbounded end.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.symbolic import Expr

INF = math.inf


def expr_bounds(expr: Expr, sym_bounds: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """An interval containing every value of ``expr``, symbols ranging over ``sym_bounds`` (default [1, inf))."""
    lo: float = expr.const
    hi: float = expr.const
    for mono, c in expr.terms:
        mlo: float = 1
        mhi: float = 1
        for atom in mono:
            if isinstance(atom, str):
                alo, ahi = sym_bounds.get(atom, (1, INF))
            else:
                nlo, nhi = atom.num.bounds(sym_bounds)
                alo = nlo // atom.den if nlo not in (INF, -INF) else nlo
                ahi = nhi // atom.den if nhi not in (INF, -INF) else nhi
            mlo, mhi = _interval_mul(mlo, mhi, alo, ahi)
        tlo, thi = _interval_mul(mlo, mhi, c, c)
        lo, hi = _add(lo, tlo), _add(hi, thi)
    return lo, hi


def _interval_mul(alo: float, ahi: float, blo: float, bhi: float) -> tuple[float, float]:
    products = []
    for x in (alo, ahi):
        for y in (blo, bhi):
            products.append(_mul(x, y))
    return min(products), max(products)


# Bounds mix exact ints with float infinities. A nest of floor divisions (5,000 strided layers) gives
# integers beyond the float range, and `int + inf` or `int * inf` would convert the int to a float
# and overflow; these two keep the integers exact and let an infinity absorb them.
def _is_inf(x: float) -> bool:
    return isinstance(x, float) and math.isinf(x)


def _mul(x: float, y: float) -> float:
    if _is_inf(x) or _is_inf(y):
        if x == 0 or y == 0:
            return 0
        return INF if (x > 0) == (y > 0) else -INF
    return x * y


def _add(x: float, y: float) -> float:
    if _is_inf(x):
        return x
    if _is_inf(y):
        return y
    return x + y
