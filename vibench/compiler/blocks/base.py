"""What a block type is: parameters, ports, a shape rule and code generation, in one class.

A block subclasses :class:`Block`, sets ``name`` and ``Params`` (a pydantic model from
:mod:`vibench.schemas.blocks`), and implements:

* ``infer(p, ins, ctx)`` — the torch-free shape rule: input :class:`TensorType` s to output ones.
  It states what it needs through ``ctx`` (ranks, equal dims, constraints, compile-time values) and
  fills in inferred parameters with ``ctx.set`` (``in_channels`` from the input, say);
* ``param_count`` and ``flops`` — static estimates (FLOPs count a multiply-add as 2);
* ``init_code`` — the Python expression that builds its submodule (None: no submodule), and
  ``call_code`` — the expression that computes its output(s) in ``forward``.

Native blocks (logic that is not a DAG of primitives) list the classes they need in ``natives``;
their source lives in :mod:`vibench.runtime.natives` and is copied into the emitted file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from vibench.compiler.ir import TensorType
from vibench.compiler.symbolic import Dim, product

FLOAT_DTYPES = frozenset({"float32", "float64", "float16", "bfloat16"})
COMPLEX_DTYPES = frozenset({"complex64", "complex128"})
INT_DTYPES = frozenset({"int64", "int32"})
ALL_DTYPES = FLOAT_DTYPES | COMPLEX_DTYPES | INT_DTYPES | {"bool"}
NUMERIC_DTYPES = FLOAT_DTYPES | COMPLEX_DTYPES | INT_DTYPES


class ShapeError(Exception):
    """Raised by a shape rule (through ``ctx.fail``); the shapes pass turns it into a diagnostic."""

    def __init__(self, code: str, message: str, *, port: str | None = None, expected: str | None = None,
                 found: str | None = None, hint: str | None = None, param: str | None = None,
                 notes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.port = port
        self.expected = expected
        self.found = found
        self.hint = hint
        self.param = param
        self.notes = notes


class ShapeContext(Protocol):
    """What a shape rule may ask of the compiler (implemented by the shapes pass)."""

    def fail(self, message: str, *, code: str = "E301", port: str | None = None, expected: str | None = None,
             found: str | None = None, hint: str | None = None, param: str | None = None) -> ShapeError: ...

    def rank(self, port: str, t: TensorType, ranks: int | Sequence[int], layout: str = "") -> None: ...

    def equal(self, found: Dim, expected: Dim, *, port: str | None, what: str, t: TensorType | None = None,
              param: str | None = None, hint: str | None = None) -> None: ...

    def require(self, lhs: Dim, op: str, rhs: Dim, reason: str, *, param: str | None = None) -> None: ...

    def concrete(self, d: Dim, what: str, *, port: str | None = None) -> int: ...

    def set(self, name: str, value: Any) -> None: ...

    def dtype(self, port: str, t: TensorType, allowed: frozenset[str], what: str = "") -> None: ...


class Block:
    """Base class of every block type (see the module docstring)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    variadic: ClassVar[bool] = False  # one port taking any number (>= min_inputs) of tensors
    min_inputs: ClassVar[int] = 1
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    category: ClassVar[str] = "misc"
    imports: ClassVar[tuple[str, ...]] = ()  # extra imports the emitted code needs: "F", "math"
    natives: ClassVar[tuple[str, ...]] = ()  # classes copied from vibench.runtime.natives
    # What init_code builds: "module", or "parameter" (an nn.Parameter attribute; `repeat` then keeps
    # the copies in an nn.ParameterList instead of an nn.ModuleList).
    init_kind: ClassVar[str] = "module"
    test_ranks: ClassVar[tuple[int, ...]] = (3,)  # input ranks the property tests draw
    # What vibench.testing draws besides test_ranks (plain data: the compiler never imports hypothesis).
    # test_hints: parameter -> value choices; a tuple of parameters -> choices of value tuples, for
    # parameters that must agree (a rearrange pattern and its sizes). Unlisted parameters are drawn
    # from the pydantic field's type and bounds.
    test_hints: ClassVar[dict[str | tuple[str, ...], tuple[Any, ...]]] = {}
    test_dtypes: ClassVar[tuple[str, ...]] = ("float32",)  # input element types the property tests draw
    # Input layouts per port, symbols shared across ports, e.g. (("B N K", "B K M"),) for matmul;
    # empty: every input gets the same shape of a rank from test_ranks.
    test_layouts: ClassVar[tuple[tuple[str, ...], ...]] = ()
    stochastic: ClassVar[bool] = False  # output differs between calls in train mode (dropout)

    @property
    def description(self) -> str:
        doc = (type(self).__doc__ or "").strip()
        return doc.splitlines()[0] if doc else self.name

    @property
    def long_description(self) -> str:
        return (type(self).__doc__ or "").strip()

    # -- shape rule ----------------------------------------------------------------------------

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        raise NotImplementedError(f"block {self.name} has no shape rule")  # every subclass overrides

    def param_count(self, p: Any, ins: list[TensorType]) -> int:
        return 0

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    # -- code generation -----------------------------------------------------------------------

    def init_code(self, p: Any) -> str | None:
        """Python expression building this node's submodule (``None``: the node has none)."""
        return None

    def call_code(self, p: Any, args: list[str], mod: str) -> str:
        """Python expression computing the output(s); ``mod`` is ``self.<node>``."""
        return f"{mod}({', '.join(args)})"

    def unpack(self, outs: list[str]) -> str:
        """Left-hand side that receives the outputs of ``call_code``."""
        return ", ".join(outs)

    def native_classes(self, p: Any) -> tuple[str, ...]:
        """The native classes these parameters need (default: all of ``natives``), in source order."""
        return self.natives

    def has_module(self, p: Any) -> bool:
        return self.init_code(p) is not None


# --------------------------------------------------------------------------------------------
# helpers shared by block definitions
# --------------------------------------------------------------------------------------------


def numel(t: TensorType) -> Dim:
    return product(t.shape)


def py(value: Any) -> str:
    """A deterministic Python literal for a parameter value."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f'float("{value}")'
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1] + '"'  # the quotes black and ruff format would choose
        return text
    return repr(value)


def call(fn: str, *args: Any, **kwargs: Any) -> str:
    """``fn(arg, ..., key=value, ...)`` with literals rendered by :func:`py`; None kwargs dropped."""
    parts = [a if isinstance(a, str) else py(a) for a in args]
    parts += [f"{k}={py(v)}" for k, v in kwargs.items() if v is not _SKIP]
    return f"{fn}({', '.join(parts)})"


_SKIP = object()


def non_default(value: Any, default: Any) -> Any:
    """``value`` if it differs from torch's default, else a marker that :func:`call` drops."""
    return _SKIP if value == default else value


def norm_axis(ctx: ShapeContext, axis: int, rank: int, param: str = "dim") -> int:
    """Normalise a possibly negative axis against a rank (error when out of range)."""
    if not -rank <= axis < rank:
        raise ctx.fail(f"`{param}` {axis} is out of range for a rank-{rank} input", code="E301", param=param,
                       expected=f"{param} in [{-rank}, {rank - 1}]", found=str(axis))
    return axis % rank
