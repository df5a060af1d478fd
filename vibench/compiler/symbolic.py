"""Canonical integer expressions for symbolic tensor dimensions.

A dimension is either a Python ``int`` or an :class:`Expr`: an integer polynomial whose atoms are
symbols (``B``, ``L``) and floor divisions of an expression by a positive integer. Every operation
returns the canonical form, so two dimensions that the rules below can prove equal compare equal,
and a constant result is always a plain ``int``::

    >>> L = Expr.symbol("L")
    >>> (L + 2 * 3 - 7) // 2 + 1          # conv1d, kernel 7, stride 2, padding 3
    Expr('(L + 1) // 2')
    >>> ((L + 1) // 2 + 2 - 3) // 2 + 1  # then max-pool, kernel 3, stride 2, padding 1
    Expr('(L + 3) // 4')

Rules applied by ``e // m`` (all exact for integer-valued ``e`` and ``m > 0``):

* pull multiples out: ``(m*a + r) // m == a + r // m``, leaving coefficients in ``[0, m)``;
* gcd reduction: ``(g*a + c) // (g*n) == (a + c // g) // n``;
* merge nested divisions: ``(A + e // n) // m == (A*n + e) // (n*m)``.

Why not sympy (measured on these machines, see DESIGN.md): sympy spends about 3.3 ms per floor
division and its nested ``floor(floor(...)/2)`` terms never merge, so a 100-layer strided chain takes
29 s; this form stays constant-size on every conv/pool chain and costs microseconds per node.

Some sizes have no small form: re-pooling a value concatenated along its length with its own pooled
copy (``L + (L - 1) // 2``, again and again) nests a floor division whose numerator holds every
earlier one, so the written formula doubles at each step (depth 22 of such a chain took 48 s and
320 MB, depth 30 would take hours); a product of sums multiplies out (14 lengths joined, squared by a
``matmul`` with its transpose and flattened, three times: ``(L0 + ... + L13) ** 8``, 203,490 terms, a
33 MB model.py). A floor division's numerator may hold :data:`MAX_EXPR_SIZE` terms, a monomial
:data:`MAX_DEGREE` factors, a product :data:`MAX_TERMS` terms (checked before it is built; a sum only grows
by its operands and is not bounded: a model's FLOP total sums every node's);
in the library's templates: one symbol, 15 terms, 3 factors. Past them the operation raises
:class:`ExpressionTooLarge`, a :class:`NeedConcrete`: with the symbols known (``--input``) every size is
an integer, and otherwise the shapes pass reports E303 at the node whose rule built it, in milliseconds.
"""

from __future__ import annotations

import math
from typing import Union

from vibench.compiler.symbolic_errors import ExpressionTooLarge, NeedConcrete, NonConstantDivisor
from vibench.compiler.symbolic_intervals import expr_bounds

Dim = Union[int, "Expr"]  # noqa: UP007 - forward reference in a runtime alias
"""A tensor dimension: a known integer or a symbolic expression."""

MAX_EXPR_SIZE = 2_000
"""Terms (symbols and floor divisions, as written) a floor division's numerator may hold."""
MAX_DEGREE = 64
"""Factors one monomial of a product may have (``L * L * ...``)."""
MAX_TERMS = 1_000
"""Terms (monomials, and the constant) one formula may have: ``(L0 + L1 + L2) * (L0 + L1 + L2)`` has 6."""
MAX_SHOWN_DIGITS = 100
"""Digits a number shows in a message or a formula; a longer one is written by its length (:func:`fmt_int`)."""
_SHOWN_BELOW = 10**MAX_SHOWN_DIGITS


def term_count(d: Dim) -> int:
    """The terms of a dimension as a sum: ``term_count(L * L + 2 * L + 1) == 3``, an int has one."""
    return 1 if isinstance(d, int) else len(d.terms) + (1 if d.const else 0)


class FloorDiv:
    """The atom ``num // den`` where ``num`` is a non-constant :class:`Expr` and ``den >= 2``."""

    __slots__ = ("num", "den", "key", "_hash", "size")

    def __init__(self, num: Expr, den: int) -> None:
        if num.size > MAX_EXPR_SIZE:
            raise ExpressionTooLarge(num.symbols(), f"grows to {num.size:,} terms under a floor division "
                                     f"(at most {MAX_EXPR_SIZE:,})")
        self.num = num
        self.den = den
        self.size: int = num.size + 1
        self.key: tuple = (1, num.key, den)
        self._hash = hash(self.key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FloorDiv) and self.key == other.key


Atom = Union[str, FloorDiv]  # noqa: UP007 - a runtime alias
Monomial = tuple  # tuple[Atom, ...], sorted by atom key, repeated atoms for powers


def _atom_key(atom: Atom) -> tuple:
    return (0, atom) if isinstance(atom, str) else atom.key


def _mono_key(mono: Monomial) -> tuple:
    return tuple(_atom_key(a) for a in mono)


class Expr:
    """A canonical, immutable, hashable integer expression (see the module docstring)."""

    __slots__ = ("terms", "const", "key", "_hash", "_text", "size")

    def __init__(self, terms: dict[Monomial, int], const: int) -> None:
        self._text: str | None = None
        # Callers pass terms without zero coefficients; order them canonically.
        items = sorted(terms.items(), key=lambda kv: _mono_key(kv[0]))
        self.terms: tuple[tuple[Monomial, int], ...] = tuple(items)
        self.const = const
        # Terms as written: each symbol and floor division (with its numerator's), however often it occurs.
        self.size: int = sum(len(m) + sum(a.size - 1 for a in m if isinstance(a, FloorDiv)) for m, _ in items)
        self.key: tuple = (tuple((_mono_key(m), c) for m, c in items), const)
        self._hash = hash(self.key)

    # -- construction -------------------------------------------------------------------------

    @staticmethod
    def symbol(name: str) -> Expr:
        return Expr({(name,): 1}, 0)

    @staticmethod
    def _make(terms: dict[Monomial, int], const: int) -> Dim:
        terms = {m: c for m, c in terms.items() if c}
        if not terms:
            return const
        return Expr(terms, const)

    # -- queries ------------------------------------------------------------------------------

    def symbols(self) -> set[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for atom in mono:
                if isinstance(atom, str):
                    out.add(atom)
                else:
                    out |= atom.num.symbols()
        return out

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and self.key == other.key

    def __repr__(self) -> str:
        return f"Expr({str(self)!r})"

    # -- arithmetic ---------------------------------------------------------------------------

    def __add__(self, other: Dim) -> Dim:
        if isinstance(other, int):
            if not other:
                return self
            total = Expr._make(dict(self.terms), self.const + other)
        elif isinstance(other, Expr):
            terms = dict(self.terms)
            for mono, c in other.terms:
                terms[mono] = terms.get(mono, 0) + c
            total = Expr._make(terms, self.const + other.const)
        else:
            return NotImplemented
        # (a sum is not bounded: it grows only by its operands, and a model's FLOP total is one over every node)
        return total

    __radd__ = __add__

    def __neg__(self) -> Expr:
        return Expr({m: -c for m, c in self.terms}, -self.const)

    def __sub__(self, other: Dim) -> Dim:
        if isinstance(other, int):
            return self + (-other)
        if not isinstance(other, Expr):
            return NotImplemented
        return self + (-other)

    def __rsub__(self, other: Dim) -> Dim:
        return (-self) + other

    def __mul__(self, other: Dim) -> Dim:
        if isinstance(other, int):
            if other == 0:
                return 0
            if other == 1:
                return self
            return Expr({m: c * other for m, c in self.terms}, self.const * other)
        if not isinstance(other, Expr):
            return NotImplemented
        most = term_count(self) * term_count(other)  # each term times each: refused before any is built
        if most > MAX_TERMS:
            raise ExpressionTooLarge(self.symbols() | other.symbols(), f"multiplies formulas of {term_count(self):,} "
                                     f"and {term_count(other):,} terms (up to {most:,}, at most {MAX_TERMS:,})")
        terms: dict[Monomial, int] = {}
        for ma, ca in self.terms:
            for mb, cb in other.terms:
                if len(ma) + len(mb) > MAX_DEGREE:
                    raise ExpressionTooLarge(Expr({ma + mb: 1}, 0).symbols(), f"multiplies {len(ma) + len(mb)} "
                                             f"factors (at most {MAX_DEGREE})")
                mono = tuple(sorted(ma + mb, key=_atom_key))
                terms[mono] = terms.get(mono, 0) + ca * cb
            if other.const:
                terms[ma] = terms.get(ma, 0) + ca * other.const
        if self.const:
            for mb, cb in other.terms:
                terms[mb] = terms.get(mb, 0) + cb * self.const
        return Expr._make(terms, self.const * other.const)

    __rmul__ = __mul__

    def __floordiv__(self, other: Dim) -> Dim:
        if isinstance(other, Expr):
            raise NonConstantDivisor(other)
        if not isinstance(other, int):
            return NotImplemented
        return floordiv(self, other)

    def __rfloordiv__(self, other: Dim) -> Dim:
        raise NonConstantDivisor(self)

    def __mod__(self, other: Dim) -> Dim:
        if not isinstance(other, int):
            raise NonConstantDivisor(other)  # type: ignore[arg-type]
        return self - other * floordiv(self, other)

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(self, env: dict[str, int]) -> int:
        """The integer value with every symbol taken from ``env`` (KeyError if one is missing)."""
        total = self.const
        for mono, c in self.terms:
            v = c
            for atom in mono:
                v *= env[atom] if isinstance(atom, str) else atom.num.evaluate(env) // atom.den
            total += v
        return total

    def subs(self, mapping: dict[str, Dim]) -> Dim:
        """Replace symbols by dimensions; symbols not in ``mapping`` stay. The terms are summed into one table,
        made canonical once (adding each to a running total copied it: quadratic, 27 s for 4,000 terms)."""
        terms: dict[Monomial, int] = {}
        const = self.const
        for mono, c in self.terms:
            v: Dim = c
            for atom in mono:
                if isinstance(atom, str):
                    v = v * mapping.get(atom, Expr.symbol(atom))
                else:
                    v = v * (subs(atom.num, mapping) // atom.den)
            if isinstance(v, int):
                const += v
                continue
            for m, k in v.terms:
                terms[m] = terms.get(m, 0) + k
            const += v.const
        return Expr._make(terms, const)

    def bounds(self, sym_bounds: dict[str, tuple[float, float]]) -> tuple[float, float]:
        """An interval containing every value, symbols ranging over ``sym_bounds`` (default [1, inf))."""
        return expr_bounds(self, sym_bounds)

    # -- rendering ----------------------------------------------------------------------------

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._render()
        return self._text

    def _render(self) -> str:
        parts: list[tuple[bool, str]] = []  # (negative, magnitude text)
        # Higher-degree terms first, then by atom order; the constant last.
        ordered = sorted(self.terms, key=lambda t: (-len(t[0]), _mono_key(t[0])))
        for k, (mono, c) in enumerate(ordered):
            # A leading "-" binds tighter than "//": write -(L // 2), never -L // 2.
            alone = len(mono) == 1 and abs(c) == 1 and not (k == 0 and c < 0)
            factors = [_render_atom(a, alone=alone) for a in mono]
            mag = abs(c)
            body = " * ".join(([fmt_int(mag)] if mag != 1 else []) + factors)
            parts.append((c < 0, body))
        if self.const:
            parts.append((self.const < 0, fmt_int(abs(self.const))))
        text = ("-" if parts[0][0] else "") + parts[0][1]
        for neg, body in parts[1:]:
            text += (" - " if neg else " + ") + body
        return text


def _render_atom(atom: Atom, alone: bool) -> str:
    if isinstance(atom, str):
        return atom
    num = atom.num
    simple = len(num.terms) == 1 and num.const == 0 and num.terms[0][1] == 1 and len(num.terms[0][0]) == 1
    inner = str(num) if simple else f"({num})"
    text = f"{inner} // {atom.den}"
    return text if alone else f"({text})"


def floordiv(e: Dim, m: int) -> Dim:
    """Canonical ``e // m`` for a positive integer ``m``."""
    if m <= 0:
        raise ZeroDivisionError(f"floor division by {m}")
    if isinstance(e, int):
        return e // m
    if m == 1:
        return e
    # Pull out multiples of m: coefficients and constant end up in [0, m).
    whole: dict[Monomial, int] = {}
    rest: dict[Monomial, int] = {}
    for mono, c in e.terms:
        q, r = divmod(c, m)
        if q:
            whole[mono] = q
        if r:
            rest[mono] = r
    qc, rc = divmod(e.const, m)
    if not rest:
        return Expr._make(whole, qc)  # rc // m == 0
    # gcd reduction over the non-constant coefficients and m.
    g = m
    for c in rest.values():
        g = math.gcd(g, c)
    if g > 1:
        rest = {mono: c // g for mono, c in rest.items()}
        rc //= g
        m //= g
    inner: Dim
    if m == 1:
        inner = Expr._make(rest, rc)
    else:
        inner = _merge_nested(rest, rc, m)
    quotient = Expr._make(whole, qc)
    return quotient + inner


def _merge_nested(rest: dict[Monomial, int], rc: int, m: int) -> Dim:
    """``(rest + rc) // m`` with coefficients already in [1, m); merge a nested floor division."""
    nested = [mono for mono, c in rest.items() if c == 1 and len(mono) == 1 and isinstance(mono[0], FloorDiv)]
    if len(nested) == 1:
        atom: FloorDiv = nested[0][0]
        others = {mono: c for mono, c in rest.items() if mono != nested[0]}
        # (A + e // n) // m == (A*n + e) // (n*m) for integer-valued A.
        a_times_n: Dim = Expr._make({mono: c * atom.den for mono, c in others.items()}, rc * atom.den)
        return floordiv(a_times_n + atom.num, atom.den * m)
    num = Expr(rest, rc)
    return Expr({(FloorDiv(num, m),): 1}, 0)


def subs(d: Dim, mapping: dict[str, Dim]) -> Dim:
    """Substitute symbols in a dimension (ints pass through)."""
    return d if isinstance(d, int) else d.subs(mapping)


def evaluate(d: Dim, env: dict[str, int]) -> int:
    return d if isinstance(d, int) else d.evaluate(env)


def free_symbols(d: Dim) -> set[str]:
    return set() if isinstance(d, int) else d.symbols()


def bounds(d: Dim, sym_bounds: dict[str, tuple[float, float]]) -> tuple[float, float]:
    return (d, d) if isinstance(d, int) else d.bounds(sym_bounds)


def ceildiv(e: Dim, m: int) -> Dim:
    """``ceil(e / m)`` as ``(e + m - 1) // m``."""
    return floordiv(e + (m - 1), m)


def fmt_int(n: int, grouped: bool = False) -> str:
    """``n`` as a message writes it (``grouped``: with thousands separators), a number of more than
    :data:`MAX_SHOWN_DIGITS` digits by its length: Python refuses ``str`` of an int past 4,300 digits (the
    elements of 240 sizes of 10**18 crashed the compiler), and a number of a thousand digits reads no better.

    >>> fmt_int(2**31, grouped=True), fmt_int(-(10**5000))
    ('2,147,483,648', '-(a number of 5,001 digits)')
    """
    size = abs(n)
    if size < _SHOWN_BELOW:
        return f"{n:,}" if grouped else str(n)
    digits = int(math.log10(size)) + 1  # (a float estimate, off by one at most near a power of 10)
    digits += (size >= 10**digits) - (size < 10 ** (digits - 1))
    return ("-" if n < 0 else "") + f"(a number of {digits:,} digits)"


def fmt_dim(d: Dim) -> str:
    return fmt_int(d) if isinstance(d, int) else str(d)


def fmt_shape(shape: tuple[Dim, ...]) -> str:
    return "[" + ", ".join(fmt_dim(d) for d in shape) + "]"


def product(dims: tuple[Dim, ...] | list[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d
    return out


def bound(d: Dim, env: dict[str, int]) -> Dim:
    """``d`` with the symbols ``env`` binds (``--input``) put in and simplified: an int when it binds them all,
    else the formula in the others (`--input x=3,8` of inputs `x [B, 8]`, `z [N, 8]` joined: ``N + 3``; only a
    dimension whose symbols were all bound was evaluated, and `B + N` was shown beside `bound: B=3`).

    >>> B, N = Expr.symbol("B"), Expr.symbol("N")
    >>> bound(64 * B + 64 * N, {"B": 3}), bound(B + N, {"B": 3, "N": 2})
    (Expr('64 * N + 192'), 5)
    """
    if isinstance(d, int) or not env:
        return d
    symbols = free_symbols(d)
    if symbols <= set(env):
        return evaluate(d, env)
    if symbols.isdisjoint(env):
        return d
    try:
        return subs(d, {name: env[name] for name in symbols & set(env)})
    except NeedConcrete:  # a product the substitution multiplies out past the symbolic limits: unbound, still true
        return d
