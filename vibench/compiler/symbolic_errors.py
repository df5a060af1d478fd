"""The exceptions of the symbolic algebra: a division by a symbol, and a size that needs its symbols as numbers.

They live apart from :mod:`vibench.compiler.symbolic` because most of the compiler handles them without doing
any arithmetic (the shapes pass, the expression evaluator, the plug-in checks catch :class:`NeedConcrete`);
:mod:`~vibench.compiler.symbolic` raises all three and imports them back, so importing them from there works too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.symbolic import Dim


class NonConstantDivisor(Exception):
    """Raised when an expression would divide by a symbolic value."""

    def __init__(self, divisor: Dim) -> None:
        super().__init__(f"cannot divide by the symbolic value {divisor}")
        self.divisor = divisor


class NeedConcrete(Exception):
    """A shape rule or expression needs these symbols as compile-time integers.

    The shapes pass catches it and specialises again with the symbols known when its caller (or
    ``--input``) knows them; otherwise it reports E303.
    """

    def __init__(self, symbols: frozenset[str], what: str) -> None:
        super().__init__(f"{what} needs {', '.join(sorted(symbols))} at compile time")
        self.symbols = symbols
        self.what = what
        self.node: str | None = None
        self.pos: object = None


class ExpressionTooLarge(NeedConcrete):
    """A size whose formula would pass a bound of :mod:`vibench.compiler.symbolic`'s docstring; ``found`` says
    how it grew (``"multiplies 65 factors (at most 64)"``). As any :class:`NeedConcrete`, the shapes pass specialises
    again with the symbols known where the caller or ``--input`` knows them, and reports E303 otherwise."""

    def __init__(self, symbols: set[str], found: str) -> None:
        names = sorted(symbols)
        listed = ", ".join(f"`{s}`" for s in names[:8]) + (f" and {len(names) - 8:,} more" if len(names) > 8 else "")
        super().__init__(frozenset(symbols), f"a size whose formula in {listed} {found}")
