"""Arithmetic that combines tensors: element-wise sums and products, matmul, concat, split, reductions."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from vibench.compiler.blocks.base import (
    COMPLEX_DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    NUMERIC_DTYPES,
    Block,
    ShapeContext,
    norm_axis,
    numel,
    py,
)
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.limits import MAX_FOR_EACH
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, fmt_shape
from vibench.schemas.blocks import BlockParams, NoParams


class ConcatParams(BlockParams):
    dim: int = Field(1, description="Dimension to concatenate along; all other dimensions must match.")


class SplitParams(BlockParams):
    sizes: tuple[int, ...] = Field(description="Size of each piece along `dim` (their sum is the dimension).")
    dim: int = Field(-1, description="Dimension to split.")


class ChunkParams(BlockParams):
    chunks: int = Field(ge=1, le=MAX_FOR_EACH,
                        description="Number of equal pieces (the dimension must divide by it; one output each).")
    dim: int = Field(-1, description="Dimension to split.")


class ReduceParams(BlockParams):
    dim: int | tuple[int, ...] = Field(description="Dimension(s) to reduce.")
    keepdim: bool = Field(False, description="Keep reduced dimensions with size 1.")


def broadcast(ctx: ShapeContext, types: list[TensorType], port: str) -> tuple[Dim, ...]:
    """numpy/torch broadcasting of several shapes (size-1 dimensions stretch; others must agree).

    A symbolic dimension against a fixed size, `L` vs 4, needs `L == 1 or L == 4` and gives 4
    (see :meth:`vibench.compiler.constraints.NodeContext.broadcast`)."""
    rank = max(len(t.shape) for t in types)
    out: list[Dim] = []
    for k in range(rank):
        dims = [t.shape[len(t.shape) - rank + k] for t in types if len(t.shape) - rank + k >= 0]
        stretched = [d for d in dims if d != 1]
        if not stretched:
            out.append(1)
            continue
        out.append(ctx.broadcast(stretched, port=port, what=f"dimension {k - rank} of the inputs "
                                 f"({' vs '.join(fmt_shape(t.shape) for t in types)})"))
    return tuple(out)


def _same_dtype(ctx: ShapeContext, types: list[TensorType], port: str) -> str:
    dtypes = {t.dtype for t in types}
    if len(dtypes) > 1:
        raise ctx.fail("inputs have different element types", code="E304", port=port,
                       expected="one dtype", found=", ".join(sorted(dtypes)))
    dtype = dtypes.pop()
    ctx.dtype(port, types[0], NUMERIC_DTYPES)
    return dtype


class _Elementwise(Block):
    Params = NoParams
    category = "arithmetic"
    inputs: ClassVar[tuple[str, ...]] = ("inputs",)
    variadic = True
    min_inputs = 2
    fresh_output = True
    op: ClassVar[str]  # the operator, also the augmented assignment's (`a += b`)

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        dtype = _same_dtype(ctx, ins, "inputs")
        return [TensorType(broadcast(ctx, ins, "inputs"), dtype)]

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return (len(ins) - 1) * numel(outs[0])

    def call_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        if len(args) > MAX_CHAIN:
            return self.folded(args[0], c.list_of(*args[1:]))
        return c.chain(self.op, args)

    def folded(self, first: Code, rest: Code) -> Code:
        """``first op rest[0] op rest[1] ...`` as one call (more than :data:`MAX_CHAIN` inputs)."""
        raise NotImplementedError


MAX_CHAIN = 300
"""Inputs of `add` and `mul` written as one ``a + b + c ...``. More are written as one call, ``sum([b, c, ...],
a)`` or ``math.prod([b, c, ...], start=a)``, which adds (multiplies) from left to right as the chain does, each
step the same ``+`` (``*``) of two tensors, so the result is the same to the bit: an expression nests once per
operator, and 600 inputs (a `for_each` may make 1,000; an `in:` list is longer) passed the depth Python compiles
(about 3,000 nested operators in CPython 3.11) and the depth its own tools walk (ast.unparse stops before 500).
TorchScript compiles neither call; it compiled the chain up to about 330 inputs (measured: 320 scripted, 335 hit
its recursion limit), so up to 300 the chain is kept and what was scriptable stays so (a limit of 100 made models
of 101 to 300 inputs unscriptable)."""


@register
class Add(_Elementwise):
    """Element-wise sum of two or more tensors (with broadcasting), e.g. a residual connection.

    Summed from left to right; more than 300 inputs are written as one ``sum([...], first)`` call (the same
    result to the bit), which TorchScript cannot compile.

    Broadcasting stretches a dimension of size 1 as torch does, but for one case: two symbolic sizes that may
    both be 1 (``L`` against ``M``) give one of them, the first input's unless it is 1 at more input sizes than
    the second, and need the other to be 1 or equal (``M == 1 or L == M``). The case torch takes too, the kept
    one 1 and the other longer (``L == 1 < M``), is refused: E305 for sizes given with ``--input``, a
    ``ValueError`` when the model runs. Taking it, the output's size would be ``L`` or ``M`` by the sizes
    given, not one expression. An operand meant to be 1 long says so with a literal 1 in its shape (an input
    declared ``[B, C, 1]``, a ``mean`` with ``keepdim: true``): the other's ``M`` then takes any size.
    """

    name = "add"
    op = "+"
    augmented = "+"

    def folded(self, first: Code, rest: Code) -> Code:
        return c.call("sum", rest, first)


@register
class Mul(_Elementwise):
    """Element-wise product of two or more tensors (with broadcasting), e.g. gating or attention weights.

    Multiplied from left to right; more than 300 inputs are written as one ``math.prod([...], start=first)``
    call (the same result to the bit), which TorchScript cannot compile.

    Broadcasting as ``add``'s: of two symbolic sizes that may both be 1, ``L`` against ``M``, the case
    ``L == 1 < M`` is refused (E305, or a ``ValueError`` when the model runs); a gate meant to be 1 long says so
    with a literal 1 in its shape (``[B, C, 1]``, a ``mean`` with ``keepdim: true``).
    """

    name = "mul"
    op = "*"
    augmented = "*"
    imports = ("math",)

    def folded(self, first: Code, rest: Code) -> Code:
        return c.call("math.prod", rest, start=first)


@register
class Sub(_Elementwise):
    """Element-wise difference of two tensors, first minus second (with broadcasting).

    Broadcasting as ``add``'s: of two symbolic sizes that may both be 1, ``L`` against ``M``, the case
    ``L == 1 < M`` is refused (E305, or a ``ValueError`` when the model runs); an operand meant to be 1 long
    says so with a literal 1 in its shape (``[B, C, 1]``, a ``mean`` with ``keepdim: true``).
    """

    name = "sub"
    op = "-"
    augmented = "-"
    min_inputs = 2
    inputs = ("x", "y")
    variadic = False


@register
class Matmul(Block):
    """Matrix product over the last two dimensions, [*, n, k] @ [*, k, m] -> [*, n, m] (torch.matmul)."""

    name = "matmul"
    Params = NoParams
    category = "arithmetic"
    inputs = ("x", "y")
    fresh_output = True
    test_ranks = (3,)
    test_layouts = (("B N K", "B K M"), ("B N K", "K M"))

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        a, b = ins
        ctx.rank("x", a, range(2, 9), "[*, n, k]")
        ctx.rank("y", b, range(2, 9), "[*, k, m]")
        dtype = _same_dtype(ctx, ins, "x")
        ctx.equal(b.shape[-2], a.shape[-1], port="y", what="inner dimension k", t=b)
        batch = broadcast(ctx, [TensorType(a.shape[:-2], dtype), TensorType(b.shape[:-2], dtype)], "x")
        return [TensorType(batch + (a.shape[-2], b.shape[-1]), dtype)]

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(outs[0]) * ins[0].shape[-1]

    def call_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        return c.call("torch.matmul", args[0], args[1])


@register
class Concat(Block):
    """Concatenate two or more tensors along one dimension (torch.cat); the others must match."""

    name = "concat"
    Params = ConcatParams
    category = "arithmetic"
    inputs = ("inputs",)
    variadic = True
    min_inputs = 2
    fresh_output = True

    def infer(self, p: ConcatParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        dtype = _same_dtype(ctx, ins, "inputs")
        rank = len(ins[0].shape)
        for t in ins[1:]:
            if len(t.shape) != rank:
                raise ctx.fail("concat inputs must have the same rank", port="inputs",
                               expected=f"rank {rank}", found=" vs ".join(fmt_shape(x.shape) for x in ins))
        axis = norm_axis(ctx, p.dim, rank)
        total: Dim = 0
        for t in ins:
            total = total + t.shape[axis]
        for k in range(rank):
            if k != axis:
                for t in ins[1:]:
                    ctx.equal(t.shape[k], ins[0].shape[k], port="inputs",
                              what=f"dimension {k} of the concatenated inputs", t=t)
        shape = list(ins[0].shape)
        shape[axis] = total
        return [TensorType(tuple(shape), dtype)]

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0

    def call_code(self, p: ConcatParams, args: list[Code], mod: Code) -> Code:
        return c.call("torch.cat", c.list_of(*args), dim=p.dim)


class _Pieces(Block):
    category = "arithmetic"
    outputs: ClassVar[tuple[str, ...]] = ()  # one port per piece: `node.0`, `node.1`, ...

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0


def _pieces(split: Code, count: int) -> Code:
    """The pieces of a split, unpacked by ``unpack``; a single piece is taken out of its tuple here."""
    return c.index(split, 0) if count == 1 else split


@register
class Split(_Pieces):
    """Split along one dimension into pieces of the given sizes (torch.split); read them as `node.0`, `node.1`..."""

    name = "split"
    Params = SplitParams
    test_layouts = (("B C 8",),)
    test_hints = {"sizes": ((4, 4), (2, 6), (1, 7), (1, 3, 4), (8,)), "dim": (-1, 2)}

    def infer(self, p: SplitParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis = norm_axis(ctx, p.dim, len(t.shape))
        if any(s < 1 for s in p.sizes):
            raise ctx.fail("split sizes must be positive", param="sizes", found=py(list(p.sizes)))
        ctx.equal(t.shape[axis], sum(p.sizes), port="x", what=f"dimension {p.dim} (the sum of `sizes`)", t=t,
                  param="sizes")
        outs = []
        for s in p.sizes:
            shape = list(t.shape)
            shape[axis] = s
            outs.append(TensorType(tuple(shape), t.dtype))
        return outs

    def call_code(self, p: SplitParams, args: list[Code], mod: Code) -> Code:
        return _pieces(c.call("torch.split", args[0], list(p.sizes), dim=p.dim), len(p.sizes))


@register
class Chunk(_Pieces):
    """Split along one dimension into equal pieces (torch.chunk); read them as `node.0`, `node.1`..."""

    name = "chunk"
    test_hints = {"chunks": (4, 2, 1)}  # what drawn axes divide into (16 to 64 seldom do: filtered draws)
    Params = ChunkParams

    def infer(self, p: ChunkParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis = norm_axis(ctx, p.dim, len(t.shape))
        ctx.require(t.shape[axis], "%", p.chunks, f"dimension {p.dim} divides into {p.chunks} equal chunks",
                    param="chunks")
        shape = list(t.shape)
        shape[axis] = t.shape[axis] // p.chunks
        return [TensorType(tuple(shape), t.dtype) for _ in range(p.chunks)]

    def call_code(self, p: ChunkParams, args: list[Code], mod: Code) -> Code:
        return _pieces(c.call("torch.chunk", args[0], p.chunks, dim=p.dim), p.chunks)


class _Reduce(Block):
    Params = ReduceParams
    category = "arithmetic"
    fresh_output = True
    fn: ClassVar[str]  # the tensor method, e.g. mean
    dtypes: ClassVar[frozenset[str]] = NUMERIC_DTYPES  # the input element types torch reduces

    def result_dtype(self, dtype: str) -> str:
        """The element type of the result for an input of ``dtype`` (torch's)."""
        return dtype

    def infer(self, p: ReduceParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, self.dtypes)
        rank = len(t.shape)
        dims = (p.dim,) if isinstance(p.dim, int) else p.dim
        if not dims:  # torch reads `dim=[]` as every dimension, which no one writes `[]` to mean
            raise ctx.fail("`dim` names no dimension", code="E104", param="dim", found="[]",
                           expected="a dimension, or a non-empty list of them",
                           hint=f"to reduce over every dimension, name them all: `dim: {list(range(rank))}`")
        axes = {norm_axis(ctx, d, rank) for d in dims}
        if len(axes) != len(dims):
            raise ctx.fail("`dim` names a dimension twice", param="dim", found=py(list(dims)))
        if p.keepdim:
            shape = tuple(1 if k in axes else d for k, d in enumerate(t.shape))
        else:
            shape = tuple(d for k, d in enumerate(t.shape) if k not in axes)
        return [TensorType(shape, self.result_dtype(t.dtype))]

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(ins[0])

    def call_code(self, p: ReduceParams, args: list[Code], mod: Code) -> Code:
        dim = p.dim if isinstance(p.dim, int) else list(p.dim)
        return c.method(args[0], self.fn, dim=dim, keepdim=non_default(p.keepdim, False))


@register
class Mean(_Reduce):
    """Mean over one or more dimensions, e.g. dim 1 pools [B, L, D] tokens to [B, D]."""

    name = "mean"
    fn = "mean"
    dtypes = FLOAT_DTYPES | COMPLEX_DTYPES  # torch: "mean(): could not infer output dtype" for integers


@register
class Sum(_Reduce):
    """Sum over one or more dimensions."""

    name = "sum"
    fn = "sum"

    def result_dtype(self, dtype: str) -> str:
        return "int64" if dtype in INT_DTYPES else dtype  # torch sums integers (int32 too) in int64
