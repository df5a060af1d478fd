"""Blocks that move, merge, split or select dimensions without arithmetic on values."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vibench.compiler.blocks.base import Block, ShapeContext, norm_axis, py
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, fmt_shape, product
from vibench.schemas.blocks import BlockParams, NoParams


class FlattenParams(BlockParams):
    start_dim: int = Field(1, description="First dimension to merge.")
    end_dim: int = Field(-1, description="Last dimension to merge.")


class ReshapeParams(BlockParams):
    shape: tuple[int, ...] = Field(
        description="New shape: positive sizes, at most one -1 (inferred), and 0 to keep the input's "
        "dimension at that position (e.g. [0, 16, -1] keeps the batch)."
    )


class PermuteParams(BlockParams):
    dims: tuple[int, ...] = Field(description="The new order of the dimensions, e.g. [0, 2, 1].")


class TransposeParams(BlockParams):
    dim0: int = Field(description="First dimension to swap.")
    dim1: int = Field(description="Second dimension to swap.")
    contiguous: bool = Field(False, description="Copy the result into contiguous memory (Tensor.contiguous()).")


class UnsqueezeParams(BlockParams):
    dim: int = Field(description="Position of the new size-1 dimension.")


class SqueezeParams(BlockParams):
    dim: int = Field(description="Dimension of size 1 to remove.")


class SliceParams(BlockParams):
    dim: int = Field(description="Dimension to slice.")
    start: int = Field(0, description="First index (negative counts from the end).")
    end: int | None = Field(
        None, description="One past the last index (negative counts from the end; None: to the end)."
    )
    step: int = Field(1, ge=1, description="Step.")


class _Layout(Block):
    category = "shape"
    test_ranks = (2, 3, 4)

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0


@register
class Identity(_Layout):
    """Pass the input through unchanged."""

    name = "identity"
    Params = NoParams

    def infer(self, p: NoParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        return [ins[0]]

    def call_code(self, p: NoParams, args: list[Code], mod: Code) -> Code:
        return args[0]


@register
class Flatten(_Layout):
    """Merge dimensions start_dim..end_dim into one (torch.flatten)."""

    name = "flatten"
    Params = FlattenParams

    def infer(self, p: FlattenParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        rank = len(t.shape)
        if rank == 0:  # torch reads the axes of a scalar as those of a rank-1 tensor: -1 or 0, giving [1]
            for param, axis in (("start_dim", p.start_dim), ("end_dim", p.end_dim)):
                if axis not in (-1, 0):
                    raise ctx.fail(f"`{param}` {axis} is out of range for a rank-0 input", code="E301", param=param,
                                   expected=f"{param} in [-1, 0] (torch reads a rank-0 input's axes as rank 1's)",
                                   found=str(axis), hint="to flatten a scalar to [1], write `start_dim: 0`")
            return [TensorType((1,), t.dtype)]
        start = norm_axis(ctx, p.start_dim, rank, "start_dim")
        end = norm_axis(ctx, p.end_dim, rank, "end_dim")
        if start > end:
            raise ctx.fail("start_dim comes after end_dim", param="start_dim", expected=f"start_dim <= {end}",
                           found=str(start))
        merged = product(t.shape[start : end + 1])
        return [TensorType(t.shape[:start] + (merged,) + t.shape[end + 1 :], t.dtype)]

    def call_code(self, p: FlattenParams, args: list[Code], mod: Code) -> Code:
        if p.end_dim == -1:
            return c.call("torch.flatten", args[0], p.start_dim)
        return c.call("torch.flatten", args[0], p.start_dim, p.end_dim)


@register
class Reshape(_Layout):
    """Give the elements a new shape (torch.reshape); ``0`` keeps the input's dimension, ``-1`` is inferred."""

    name = "reshape"
    Params = ReshapeParams
    test_hints = {"shape": ((0, -1), (-1,), (0, 0, -1), (0, -1, 1), (0, 1, -1), (-1, 4), (0, 2, -1))}

    def infer(self, p: ReshapeParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        if p.shape.count(-1) > 1:
            raise ctx.fail("at most one -1 in `shape`", param="shape", found=py(list(p.shape)))
        out: list[Dim] = []
        remaining = list(t.shape)
        for k, d in enumerate(p.shape):
            if d == 0:
                if k >= len(t.shape):
                    raise ctx.fail(f"`shape` keeps dimension {k} (0) that the input does not have", param="shape",
                                   found=f"input {fmt_shape(t.shape)}")
                out.append(t.shape[k])
                remaining[k] = 1
            elif d < -1:
                raise ctx.fail("sizes in `shape` are positive, 0 (keep) or -1 (infer)", param="shape", found=str(d))
            else:
                out.append(d)
        total = product(remaining)
        explicit = product([d for d, spec in zip(out, p.shape, strict=True) if spec > 0])
        if -1 in p.shape:
            ctx.require(total, "%", explicit, f"the elements ({total}) divide into the given sizes ({explicit})",
                        param="shape")
            out[p.shape.index(-1)] = total // explicit
        else:
            ctx.equal(explicit, total, port="x", what="number of elements", t=t, param="shape")
        return [TensorType(tuple(out), t.dtype)]

    def call_code(self, p: ReshapeParams, args: list[Code], mod: Code) -> Code:
        x = args[0]
        dims = [c.index(c.attr(x, "shape"), k) if d == 0 else d for k, d in enumerate(p.shape)]
        # a scalar result is `reshape(())`: `reshape()`, with no sizes, is a TypeError
        return c.method(x, "reshape", *dims) if dims else c.method(x, "reshape", c.tuple_of())


@register
class Permute(_Layout):
    """Reorder dimensions (torch.permute), e.g. dims [0, 2, 1] turns [B, C, L] into [B, L, C]."""

    name = "permute"
    Params = PermuteParams
    test_hints = {"dims": ((1, 0), (0, 2, 1), (2, 0, 1), (0, 1, 2), (-1, 0, 1), (0, 2, 1, 3), (3, 1, 2, 0))}

    def infer(self, p: PermuteParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        rank = len(t.shape)
        if len(p.dims) != rank:
            raise ctx.fail(f"`dims` must list all {rank} dimensions of the input", param="dims",
                           expected=f"a permutation of 0..{rank - 1}", found=py(list(p.dims)))
        axes = [norm_axis(ctx, d, rank, "dims") for d in p.dims]
        if sorted(axes) != list(range(rank)):
            raise ctx.fail("`dims` must name each dimension once", param="dims", found=py(list(p.dims)))
        return [TensorType(tuple(t.shape[a] for a in axes), t.dtype)]

    def call_code(self, p: PermuteParams, args: list[Code], mod: Code) -> Code:
        # a scalar input is `permute(())`: `permute()`, with no dims, is a TypeError
        return c.method(args[0], "permute", *p.dims) if p.dims else c.method(args[0], "permute", c.tuple_of())


@register
class Transpose(_Layout):
    """Swap two dimensions (torch.transpose).

    The result is a view of the input; ``contiguous: true`` copies it into contiguous memory
    (``x.transpose(1, 2).contiguous()``). A channels-first view that ``batch_norm1d`` reads needs it when a
    ``linear`` follows the transpose back (B_08_PatchTST): torch 2.13 traces batch norm as keeping its input's
    strides while the CPU kernel returns a contiguous tensor, so ``torch.compile``'s ``aot_eager`` back-end
    fails in the linear (``view size is not compatible with input tensor's size and stride``).
    """

    name = "transpose"
    Params = TransposeParams

    def infer(self, p: TransposeParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        rank = len(t.shape)
        a = norm_axis(ctx, p.dim0, rank, "dim0")
        b = norm_axis(ctx, p.dim1, rank, "dim1")
        shape = list(t.shape)
        shape[a], shape[b] = shape[b], shape[a]
        return [TensorType(tuple(shape), t.dtype)]

    def call_code(self, p: TransposeParams, args: list[Code], mod: Code) -> Code:
        swapped = c.method(args[0], "transpose", p.dim0, p.dim1)
        return c.method(swapped, "contiguous") if p.contiguous else swapped


@register
class Unsqueeze(_Layout):
    """Insert a dimension of size 1 (torch.unsqueeze)."""

    name = "unsqueeze"
    Params = UnsqueezeParams

    def infer(self, p: UnsqueezeParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis = norm_axis(ctx, p.dim, len(t.shape) + 1)
        return [TensorType(t.shape[:axis] + (1,) + t.shape[axis:], t.dtype)]

    def call_code(self, p: UnsqueezeParams, args: list[Code], mod: Code) -> Code:
        return c.method(args[0], "unsqueeze", p.dim)


@register
class Squeeze(_Layout):
    """Remove a dimension of size 1 (torch.squeeze with a dim)."""

    name = "squeeze"
    Params = SqueezeParams
    test_layouts = (("B 1 L",), ("B C 1",), ("B 1 H L",))
    test_hints = {"dim": (1, 2, -1)}

    def infer(self, p: SqueezeParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis = norm_axis(ctx, p.dim, len(t.shape))
        ctx.equal(t.shape[axis], 1, port="x", what=f"dimension {p.dim} (squeezed)", t=t, param="dim")
        return [TensorType(t.shape[:axis] + t.shape[axis + 1 :], t.dtype)]

    def call_code(self, p: SqueezeParams, args: list[Code], mod: Code) -> Code:
        return c.method(args[0], "squeeze", p.dim)


@register
class Slice(_Layout):
    """Take ``start:end:step`` along one dimension (like ``x[:, :, start:end]``).

    ``start`` and ``end`` lie inside the dimension (``-n <= start, end <= n`` for a size ``n``) and the slice
    holds at least one element, unlike a Python slice, which torch clamps (``x[:, :, -4:]`` of a length 3 takes
    all 3): the output's size stays one exact expression (``L - 4``, ``end - start``), never one that depends on
    whether the input is long enough. A fixed size too short is E302; a symbolic one gives a constraint
    (``L >= 4``), checked against ``--input`` sizes (E305) and when the model runs (a ``ValueError``).
    """

    name = "slice"
    Params = SliceParams

    def infer(self, p: SliceParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        axis = norm_axis(ctx, p.dim, len(t.shape))
        n = t.shape[axis]
        lo = _bound(ctx, n, p.start, "start")
        hi = n if p.end is None else _bound(ctx, n, p.end, "end")
        ctx.require(hi - lo, ">=", 1, f"the slice {p.start}:{p.end} is not empty", param="end")
        size = (hi - lo + p.step - 1) // p.step
        shape = list(t.shape)
        shape[axis] = size
        return [TensorType(tuple(shape), t.dtype)]

    def call_code(self, p: SliceParams, args: list[Code], mod: Code) -> Code:
        index = c.span(None if p.start == 0 else p.start, p.end, None if p.step == 1 else p.step)
        if p.dim >= 0:
            return c.index(args[0], *[c.span() for _ in range(p.dim)], index)
        return c.index(args[0], c.ELLIPSIS, index, *[c.span() for _ in range(-p.dim - 1)])


def _bound(ctx: ShapeContext, n: Dim, value: int, param: str) -> Dim:
    if value >= 0:
        ctx.require(n, ">=", value, f"`{param}` {value} lies inside the dimension", param=param)
        return value
    ctx.require(n, ">=", -value, f"`{param}` {value} lies inside the dimension", param=param)
    return n + value

