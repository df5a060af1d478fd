"""Constraints on symbolic dimensions, and the context a shape rule talks to.

A :class:`SymbolSpace` belongs to one unit specialisation. Shape rules state what they need
(``ctx.require(L, ">=", 7)``, ``ctx.equal(C, 64)``); each statement is decided right away when it
can be: true for every value (dropped), false for every value (E302, or E301 for mismatched
dimensions), or else recorded as a :class:`Constraint` on the free symbols, reported by
``--check`` and in model.py's docstring and checked against ``--input``.

Deciding uses interval bounds (symbols range over [1, inf) unless a recorded constraint narrowed
them) and, for equalities, evaluation at a few sample sizes: ``L == (L + 1) // 2`` holds only for
L = 1, so it is reported as a mismatch, not kept as a constraint nobody can meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vibench.compiler.blocks.base import ShapeError
from vibench.compiler.ir import Constraint, Pos, TensorType
from vibench.compiler.symbolic import INF, Dim, Expr, NeedConcrete, bounds, fmt_shape, free_symbols

_SAMPLES = (64, 1000, 4099)


class SymbolSpace:
    """Bounds and recorded constraints of one unit's symbols."""

    def __init__(self) -> None:
        self.bounds: dict[str, tuple[float, float]] = {}
        self.constraints: list[Constraint] = []
        self._keys: set[tuple] = set()

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

    def decide_ge(self, e: Dim) -> bool | None:
        """True / False when ``e >= 0`` holds for all / no values, None when it depends."""
        lo, hi = bounds(e, self.bounds)
        if lo >= 0:
            return True
        if hi < 0:
            return False
        return None

    def decide_eq(self, e: Dim) -> bool | None:
        if isinstance(e, int):
            return e == 0
        lo, hi = e.bounds(self.bounds)
        if lo > 0 or hi < 0:
            return False
        linear = all(len(mono) == 1 and isinstance(mono[0], str) for mono, _ in e.terms)
        if linear and len(e.terms) == 1:
            # c*S + k == 0 has the one solution S = -k / c: possible when it is a whole number in range.
            (mono, c), k = e.terms[0], e.const
            s_lo, s_hi = self.bounds.get(mono[0], (1, INF))
            return None if k % c == 0 and s_lo <= -k // c <= s_hi else False
        if linear:
            return None  # several free sizes: some choice meets it (checked once bound with --input)
        symbols = e.symbols()
        if len(symbols) == 1:
            # One size with floor division: near-linear, so a root lies near the root of the line
            # through two far points; look there exhaustively (sampling alone missed `L // 32 == 32`).
            return None if self._has_root(e, next(iter(symbols))) else False
        if all(e.evaluate(env) != 0 for env in self._samples(symbols)):
            return False  # e.g. L == (L + 1) // 2 holds only for L = 1
        return None

    def _has_root(self, e: Expr, s: str, window: int = 4096) -> bool:
        low, high = self.bounds.get(s, (1, INF))
        lo, hi = int(low), int(min(high, 2**40))

        def f(v: int) -> int:
            return int(e.evaluate({s: v}))

        candidates = range(lo, min(hi, lo + window) + 1)
        if any(f(v) == 0 for v in candidates):
            return True
        a, b = 2**20, 2**21
        slope = (f(b) - f(a)) / (b - a)
        if slope == 0:
            return False  # constant beyond the small values, and not zero there
        root = int(a - f(a) / slope)
        return any(f(v) == 0 for v in range(max(lo, root - window), min(hi, root + window) + 1))

    def decide_mod(self, e: Dim, m: int) -> bool | None:
        if isinstance(e, int):
            return e % m == 0
        if e.const % m == 0 and all(c % m == 0 for _, c in e.terms):
            return True  # e.g. 2 * B is always even
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

    def _redundant(self, lhs: Dim, s: str, op: str, k: int) -> bool:
        # A one-symbol bound built the interval it would be checked against: it is redundant only next
        # to a bound on the same side that is at least as strong (`L >= 2` after `L >= 8`, not after `B >= 2`).
        solved = solve_ge(lhs)
        if solved is None:
            return self.decide_ge(lhs) is True
        s2, op2, k2 = solved
        return s2 == s and op2 == op and (k >= k2 if op == ">=" else k <= k2)


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
    import math

    g = 0
    for _, c in e.terms:
        g = math.gcd(g, c)
    g = math.gcd(g, m)
    return g > 1 and e.const % g != 0


def ge_text(e: Dim) -> str:
    """A readable ``lhs >= bound`` for ``e >= 0``: ``(L + 3) // 4 - 7`` reads ``L >= 25``."""
    solved = solve_ge(e)
    if solved is not None:
        s, op, k = solved
        return f"{s} {op} {k}"
    if isinstance(e, int):
        return f"{e} >= 0"
    k = e.const
    t = e - k
    return f"{t} >= {-k}" if not isinstance(t, int) else f"{e} >= 0"


def eq_text(lhs: Dim, rhs: Dim) -> str:
    """A readable ``lhs == rhs``: ``L // 128 - 32 == 0`` reads ``L // 128 == 32``."""
    if isinstance(rhs, int) and rhs == 0 and not isinstance(lhs, int) and lhs.const != 0:
        return f"{lhs - lhs.const} == {-lhs.const}"
    return f"{lhs} == {rhs}"


class NodeContext:
    """The :class:`ShapeContext` given to a block's shape rule for one node."""

    def __init__(self, space: SymbolSpace, node: str, block: str, pos: Pos | None,
                 param_pos: dict[str, Pos | None], port_pos: dict[str, Pos | None]) -> None:
        self.space = space
        self.node = node
        self.block = block
        self.pos = pos
        self.param_pos = param_pos
        self.port_pos = port_pos
        self.resolved: dict[str, Any] = {}

    def fail(self, message: str, *, code: str = "E301", port: str | None = None, expected: str | None = None,
             found: str | None = None, hint: str | None = None, param: str | None = None) -> ShapeError:
        return ShapeError(code, message, port=port, expected=expected, found=found, hint=hint, param=param)

    def rank(self, port: str, t: TensorType, ranks: int | Sequence[int], layout: str = "") -> None:
        allowed = [ranks] if isinstance(ranks, int) else list(ranks)
        if len(t.shape) not in allowed:
            if len(allowed) == 1:
                want = f"rank {allowed[0]}"
            elif allowed == list(range(allowed[0], allowed[-1] + 1)) and len(allowed) > 3:
                want = f"rank >= {allowed[0]}"
            else:
                want = "rank " + " or ".join(map(str, allowed))
            raise ShapeError("E301", f"`{self.block}` expects a {want} input" + (f" {layout}" if layout else ""),
                             port=port, expected=(layout or want), found=f"{fmt_shape(t.shape)} (rank {len(t.shape)})",
                             hint=_rank_hint(len(t.shape), allowed))

    def equal(self, found: Dim, expected: Dim, *, port: str | None, what: str, t: TensorType | None = None,
              param: str | None = None, hint: str | None = None) -> None:
        e = found - expected
        verdict = self.space.decide_eq(e)
        if verdict is True:
            return
        shape = f" (input shape {fmt_shape(t.shape)})" if t is not None else ""
        if verdict is False:
            raise ShapeError("E301", f"{what} does not match", port=port, param=param,
                             expected=str(expected), found=f"{found}{shape}", hint=hint)
        self.space.record(Constraint(e, "==", f"{found} == {expected}", what, node=self.node, pos=self.pos))

    def require(self, lhs: Dim, op: str, rhs: Dim, reason: str, *, param: str | None = None) -> None:
        if op == "%":
            assert isinstance(rhs, int)
            verdict = self.space.decide_mod(lhs, rhs)
            if verdict is False:
                raise ShapeError("E302", f"{reason}: {lhs} is never divisible by {rhs}", param=param,
                                 expected=f"{lhs} % {rhs} == 0", found=str(lhs))
            if verdict is None:
                self.space.record(Constraint(lhs, "%", f"{lhs} % {rhs} == 0", reason, mod=rhs, node=self.node,
                                             pos=self.pos))
            return
        if op == "==":
            e = lhs - rhs
            verdict = self.space.decide_eq(e)
            if verdict is False:
                raise ShapeError("E302", f"impossible constraint: {reason}", param=param,
                                 expected=eq_text(lhs, rhs), found=_values(lhs, rhs))
            if verdict is None:
                self.space.record(Constraint(e, "==", eq_text(lhs, rhs), reason, node=self.node, pos=self.pos))
            return
        e = {">=": lambda: lhs - rhs, ">": lambda: lhs - rhs - 1,
             "<=": lambda: rhs - lhs, "<": lambda: rhs - lhs - 1}[op]()
        verdict = self.space.decide_ge(e)
        if verdict is False:
            raise ShapeError("E302", f"impossible constraint: {reason}", param=param,
                             expected=ge_text(e) if rhs == 0 else f"{lhs} {op} {rhs}",
                             found=self._conflict(e) or _values(lhs, rhs))
        if verdict is None:
            self.space.record(Constraint(e, ">=", ge_text(e), reason, node=self.node, pos=self.pos))

    def _conflict(self, e: Dim) -> str | None:
        """The earlier constraint that makes ``e >= 0`` impossible, when one does (not ``e`` alone)."""
        if isinstance(e, int) or bounds(e, {})[1] < 0:
            return None
        symbols = free_symbols(e)
        for c in reversed(self.space.constraints):
            if c.op == ">=" and free_symbols(c.lhs) & symbols:
                return f"`{c.text}`, needed by node `{c.node}`: {c.reason}"
        return None

    def concrete(self, d: Dim, what: str, *, port: str | None = None) -> int:
        if isinstance(d, int):
            return d
        err = NeedConcrete(frozenset(free_symbols(d)), f"{what} `{d}`")
        err.node = self.node
        err.pos = self.port_pos.get(port) if port else self.pos
        raise err

    def set(self, name: str, value: Any) -> None:
        self.resolved[name] = value

    def dtype(self, port: str, t: TensorType, allowed: frozenset[str], what: str = "") -> None:
        if t.dtype not in allowed:
            raise ShapeError("E304", f"`{self.block}` cannot take {_article(t.dtype)} {t.dtype} input", port=port,
                             expected=what or " or ".join(sorted(allowed)), found=t.dtype,
                             hint=_dtype_hint(t.dtype, allowed))


def _values(lhs: Dim, rhs: Dim) -> str:
    return f"{lhs} vs {rhs}"


def _rank_hint(found: int, allowed: list[int]) -> str | None:
    if found == 3 and 2 in allowed:
        return "insert `{block: flatten, in: ...}` or a pooling block before this node"
    if found == 2 and 3 in allowed:
        return "insert `{block: unsqueeze, in: ..., dim: 1}` to add a channel dimension"
    return None


def _dtype_hint(found: str, allowed: frozenset[str]) -> str | None:
    if found.startswith("complex") and any(a.startswith("float") for a in allowed):
        return "take the magnitude first (`{block: abs, ...}`) or use irfft"
    if found.startswith("float") and "int64" in allowed:
        return "this block reads integer ids; declare the input with `dtype: int64`"
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
