"""The activation limit (E309) on one tensor: what its symbolic shape holds at the smallest input, and what one
more step of a size the inputs leave open adds.

A size the spec fixes can exhaust memory however small the data: a padding of 10**9 at the smallest input,
an upsampling by 10**12 at the next one (1 element at L = 1, 10**12 at L = 2: only the smallest input would
run). Open sizes are measured from their least (1, or what the constraints so far require: `L >= 3` after a
pool of 3), so nothing a real input makes smaller is refused, and a step from there to one more, where a
shape that grows faster with its sizes grows least.

>>> from vibench.compiler.symbolic import Expr
>>> L = Expr.symbol("L")
>>> over_limit((1, 10**12 * L - 10**12 + 1), 2**31)
Step(symbol='L', before=1, after=1000000000001, at=1)
>>> over_limit((8, L + 10**9), 2**31)
Least(elements=8000000008)
>>> over_limit((4, 4 * L), 2**31) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos, TensorType
from vibench.compiler.limits import MAX_RANK
from vibench.compiler.symbolic import Dim, evaluate, fmt_int, free_symbols

__all__ = ["Least", "Rank", "Step", "activation_error", "over_limit"]

_RAISE = "if the model really is this large, raise the limit with --max-activation (max_activation= in the API)"


@dataclass(frozen=True)
class Least:
    """The tensor holds more than the limit at the smallest input: at least ``elements``."""

    elements: int


@dataclass(frozen=True)
class Step:
    """One more step of open size ``symbol`` (from its least, every other open size at its least) adds more than
    the limit: the tensor holds ``before`` elements, then ``after``."""

    symbol: str
    before: int
    after: int
    at: int = 1  # the symbol's least, where ``before`` is measured


@dataclass(frozen=True)
class Rank:
    """The tensor has more than :data:`~vibench.compiler.limits.MAX_RANK` dimensions: ``dims``."""

    dims: int


class _Sizes(dict[str, int]):
    """The open sizes given, every other at ``rest`` (:meth:`Expr.evaluate` reads symbols by subscript)."""

    def __init__(self, given: dict[str, int] | None = None, rest: int = 1) -> None:
        super().__init__(given or {})
        self.rest = rest

    def __missing__(self, key: str) -> int:
        return self.rest


def _elements(shape: tuple[Dim, ...], sizes: dict[str, int]) -> int:
    total = 1
    for d in shape:
        total *= max(0, d if isinstance(d, int) else evaluate(d, sizes))
    return total


def over_limit(shape: tuple[Dim, ...], limit: int,
               sym_bounds: dict[str, tuple[float, float]] | None = None) -> Least | Step | Rank | None:
    """Why a tensor of ``shape`` breaks the activation limit, or None (the common case, decided by two quick
    evaluations). :class:`Least`: more than ``limit`` elements at the smallest input (every open size at its
    least, a lower bound); :class:`Step`: a size whose step from its least to one more adds more than ``limit``.
    ``sym_bounds``: the open sizes' bounds the constraints so far give (a model that needs L >= 3 is measured
    from 3: a shape 0 at L = 1 and 2 hid an upsampling there); default: each at least 1. :class:`Rank`: more
    dimensions than torch takes (a `reshape` to 15,000 sizes of 1), before any size is multiplied out."""
    if len(shape) > MAX_RANK:
        return Rank(len(shape))
    bounds = sym_bounds or {}
    symbols = sorted(set().union(*(free_symbols(d) for d in shape)))
    least = {s: max(1, int(bounds.get(s, (1, 0))[0])) for s in symbols if bounds.get(s, (1, 0))[0] > 1}
    at_least = _elements(shape, _Sizes(least))  # at least the smallest (a size may need more)
    if at_least > limit:
        smallest = 1
        for d in shape:
            low = d if isinstance(d, int) else d.bounds(bounds)[0]  # the least over the open sizes' bounds
            smallest *= int(low) if low > 0 else 0
        if smallest > limit:
            return Least(smallest)
    if _elements(shape, _Sizes({s: least.get(s, 1) + 1 for s in symbols})) - at_least <= limit:
        return None  # shapes grow with their sizes: no one step adds more
    for symbol in symbols:
        after = _elements(shape, _Sizes({**least, symbol: least.get(symbol, 1) + 1}))
        if after - at_least > limit:
            return Step(symbol, at_least, after, least.get(symbol, 1))
    return None


def _count(elements: int) -> str:
    return f"{fmt_int(elements, grouped=True)} element" + ("" if elements == 1 else "s")


def activation_error(excess: Least | Step | Rank, what: str, t: TensorType, limit: int, pos: Pos | None,
                     node: str) -> Diagnostic:
    """E309 for tensor ``t`` of node ``node``, which ``what`` names ("the output of node `up`")."""
    if isinstance(excess, Rank):
        return Diagnostic("E309", f"{what} has too many dimensions", pos, node=node,
                          expected=f"at most {MAX_RANK} dimensions (torch refuses more in many operations)",
                          found=f"{excess.dims:,} dimensions",
                          hint="check the shapes of the inputs and the sizes this node's parameters give (a reshape's)")
    most = fmt_int(limit, grouped=True)
    if isinstance(excess, Least):
        return Diagnostic("E309", f"{what} is too large to compute", pos, node=node,
                          expected=f"at most {most} elements in one activation, at the smallest input",
                          found=f"{t} = at least {_count(excess.elements)}",
                          hint="check the sizes this node's parameters give (padding, kernel sizes, dilations, "
                          "scale factors, repeats, widths); " + _RAISE)
    size = excess.symbol
    return Diagnostic("E309", f"{what} is too large to compute for any input but the smallest", pos, node=node,
                      expected=f"at most {most} elements more in one activation for one more step of `{size}`",
                      found=f"{t} = {_count(excess.before)} with every open size at "
                      + ("1" if excess.at == 1 else f"its least ({size} = {excess.at:,})")
                      + f", {fmt_int(excess.after, grouped=True)} with {size} = {excess.at + 1:,}",
                      hint="check the factors this node's parameters give (strides, scale factors, repeats); "
                      + _RAISE)
