"""The activation limit (E309) on one tensor: what its symbolic shape holds at the smallest input, and what one
more step of a size the inputs leave open adds.

A size the spec fixes can exhaust memory however small the data: a padding of 10**9 at the smallest input,
an upsampling by 10**12 at the next one (1 element at L = 1, 10**12 at L = 2: only the smallest input would
run). Open sizes are measured from 1, their least, so nothing a real input makes smaller is refused, and a
step is measured from 1 to 2, where a shape that grows faster with its sizes grows least.

>>> from vibench.compiler.symbolic import Expr
>>> L = Expr.symbol("L")
>>> over_limit((1, 10**12 * L - 10**12 + 1), 2**31)
Step(symbol='L', before=1, after=1000000000001)
>>> over_limit((8, L + 10**9), 2**31)
Least(elements=8000000008)
>>> over_limit((4, 4 * L), 2**31) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos, TensorType
from vibench.compiler.symbolic import Dim, evaluate, free_symbols

__all__ = ["Least", "Step", "activation_error", "over_limit"]

_RAISE = "if the model really is this large, raise the limit with --max-activation (max_activation= in the API)"


@dataclass(frozen=True)
class Least:
    """The tensor holds more than the limit at the smallest input: at least ``elements``."""

    elements: int


@dataclass(frozen=True)
class Step:
    """One more step of open size ``symbol`` (1 to 2, every other open size at 1) adds more than the limit:
    the tensor holds ``before`` elements, then ``after``."""

    symbol: str
    before: int
    after: int


class _Sizes(dict[str, int]):
    """The open sizes given, every other at ``rest`` (:meth:`Expr.evaluate` reads symbols by subscript)."""

    def __init__(self, given: dict[str, int] | None = None, rest: int = 1) -> None:
        super().__init__(given or {})
        self.rest = rest

    def __missing__(self, key: str) -> int:
        return self.rest


_ONES, _TWOS = _Sizes(), _Sizes(rest=2)


def _elements(shape: tuple[Dim, ...], sizes: dict[str, int]) -> int:
    total = 1
    for d in shape:
        total *= max(0, d if isinstance(d, int) else evaluate(d, sizes))
    return total


def over_limit(shape: tuple[Dim, ...], limit: int) -> Least | Step | None:
    """Why a tensor of ``shape`` breaks the activation limit, or None (the common case, decided by two quick
    evaluations). :class:`Least`: more than ``limit`` elements at the smallest input (every open size at its
    least over sizes >= 1, a lower bound); :class:`Step`: a size whose step from 1 to 2 adds more than ``limit``."""
    at_ones = _elements(shape, _ONES)  # at least the smallest (a size may need more than 1)
    if at_ones > limit:
        least = 1
        for d in shape:
            low = d if isinstance(d, int) else d.bounds({})[0]  # the least over open sizes >= 1
            least *= int(low) if low > 0 else 0
        if least > limit:
            return Least(least)
    if _elements(shape, _TWOS) - at_ones <= limit:  # shapes grow with their sizes: no one step adds more
        return None
    for symbol in sorted(set().union(*(free_symbols(d) for d in shape))):
        after = _elements(shape, _Sizes({symbol: 2}))
        if after - at_ones > limit:
            return Step(symbol, at_ones, after)
    return None


def _count(elements: int) -> str:
    return f"{elements:,} element" + ("" if elements == 1 else "s")


def activation_error(excess: Least | Step, what: str, t: TensorType, limit: int, pos: Pos | None,
                     node: str) -> Diagnostic:
    """E309 for tensor ``t`` of node ``node``, which ``what`` names ("the output of node `up`")."""
    if isinstance(excess, Least):
        return Diagnostic("E309", f"{what} is too large to compute", pos, node=node,
                          expected=f"at most {limit:,} elements in one activation, at the smallest input",
                          found=f"{t} = at least {excess.elements:,} elements",
                          hint="check the sizes this node's parameters give (padding, kernel sizes, dilations, "
                          "scale factors, repeats, widths); " + _RAISE)
    size = excess.symbol
    return Diagnostic("E309", f"{what} is too large to compute for any input but the smallest", pos, node=node,
                      expected=f"at most {limit:,} elements more in one activation for one more step of `{size}`",
                      found=f"{t} = {_count(excess.before)} with every open size at 1, {excess.after:,} with "
                      f"{size} = 2",
                      hint="check the factors this node's parameters give (strides, scale factors, repeats); "
                      + _RAISE)
