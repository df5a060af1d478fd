"""Sequence blocks of the Transformer family: sliding-window patches, length matching, position tables."""

from __future__ import annotations

from vibench.compiler.blocks.base import (
    ALL_DTYPES,
    FLOAT_DTYPES,
    Block,
    ShapeContext,
    call,
    non_default,
    norm_axis,
    numel,
)
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_transformer import (
    InterpolatedPositionalEncodingParams,
    MatchLengthParams,
    SinusoidalPositionalBufferParams,
    SlidingWindowsParams,
)


@register
class SlidingWindows(Block):
    """Cut one dimension into windows of ``size`` every ``step`` samples (torch.Tensor.unfold).

    [..., L, ...] -> [..., N, ..., size] with N = (L - size) // step + 1: the dimension becomes the
    window count and the window is a new last dimension; a remainder shorter than a window is
    dropped. Overlapping patches (step < size) as in PatchTST. Needs ``L >= size``.
    """

    name = "sliding_windows"
    Params = SlidingWindowsParams
    category = "shape"
    test_ranks = (2, 3)
    test_hints = {"dim": (-1, 1)}
    test_dtypes = ("float32", "int64")

    def infer(self, p: SlidingWindowsParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, ALL_DTYPES)
        ctx.rank("x", t, range(1, 8), "[..., L, ...]")
        axis = norm_axis(ctx, p.dim, len(t.shape))
        length = t.shape[axis]
        ctx.require(length, ">=", p.size, f"the dimension holds at least one window of {p.size}", param="size")
        shape = list(t.shape)
        shape[axis] = (length - p.size) // p.step + 1
        return [TensorType((*shape, p.size), t.dtype)]

    def flops(self, p: SlidingWindowsParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0  # a view

    def call_code(self, p: SlidingWindowsParams, args: list[str], mod: str) -> str:
        return f"{args[0]}.unfold({p.dim}, {p.size}, {p.step})"


@register
class MatchLength(Block):
    """Crop or pad one dimension of ``x`` to the size of a dimension of ``like`` (e.g. back to the input L).

    A longer x keeps its first steps; a shorter one is padded at the end, repeating its last step
    (``replicate``) or with zeros. Output: x's shape with ``dim`` replaced by ``like``'s ``like_dim``.
    """

    name = "match_length"
    Params = MatchLengthParams
    category = "shape"
    inputs = ("x", "like")
    natives = ("MatchLength",)
    test_layouts = (("B N D", "B L C"),)
    test_hints = {"dim": (1, -2), "like_dim": (1, 2, -2)}

    def infer(self, p: MatchLengthParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x, like = ins
        ctx.dtype("x", x, ALL_DTYPES)
        ctx.rank("x", x, range(1, 8), "[..., N, ...]")
        ctx.rank("like", like, range(1, 8), "[..., L, ...]")
        axis = norm_axis(ctx, p.dim, len(x.shape))
        target = like.shape[norm_axis(ctx, p.like_dim, len(like.shape), "like_dim")]
        shape = list(x.shape)
        shape[axis] = target
        return [TensorType(tuple(shape), x.dtype)]

    def init_code(self, p: MatchLengthParams) -> str:
        return call("MatchLength", dim=non_default(p.dim, -1), like_dim=non_default(p.like_dim, 1),
                    mode=non_default(p.mode, "replicate"))


def _position_width(ctx: ShapeContext, t: TensorType, given: int | None) -> int:
    ctx.rank("x", t, 3, "[B, L, D]")
    ctx.dtype("x", t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[2], given, port="x", what="model width D (d_model)", t=t, param="d_model")
    return ctx.concrete(t.shape[2], "the model width D (d_model)", port="x")


@register
class SinusoidalPositionalBuffer(Block):
    """Add the fixed sine/cosine position table to [B, L, D], stored in ``state_dict`` as ``pe`` [max_len, 1, D].

    The values of ``sinusoidal_positional_encoding``, kept as a persistent buffer so that checkpoints
    holding the table (PHM-Vibench's PatchTST) load unchanged. No learned parameters; needs
    ``L <= max_len``.
    """

    name = "sinusoidal_positional_buffer"
    Params = SinusoidalPositionalBufferParams
    category = "position"
    natives = ("SinusoidalPositionBuffer",)
    imports = ("math",)
    test_layouts = (("B L D",),)
    test_hints = {"max_len": (32, 64, 5000)}

    def infer(self, p: SinusoidalPositionalBufferParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _position_width(ctx, t, p.d_model))
        ctx.require(t.shape[1], "<=", p.max_len, f"the sequence fits the position table (max_len = {p.max_len})",
                    param="max_len")
        return [t]

    def init_code(self, p: SinusoidalPositionalBufferParams) -> str:
        return call("SinusoidalPositionBuffer", p.d_model, max_len=non_default(p.max_len, 5000))


@register
class InterpolatedPositionalEncoding(Block):
    """Add a learned position table [1, max_len, D] to [B, L, D], stretched linearly when L > max_len.

    Sequences up to ``max_len`` add the table's first L rows; longer ones add the table resized to
    L rows by linear interpolation (PHM-Vibench's Informer and Linformer). The table is the parameter
    ``<node>.table`` (max_len * D parameters).
    """

    name = "interpolated_positional_encoding"
    Params = InterpolatedPositionalEncodingParams
    category = "position"
    natives = ("InterpolatedPositionalEncoding",)
    imports = ("F",)
    test_layouts = (("B L D",),)

    def infer(self, p: InterpolatedPositionalEncodingParams, ins: list[TensorType],
              ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _position_width(ctx, t, p.d_model))
        return [t]

    def param_count(self, p: InterpolatedPositionalEncodingParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        return p.max_len * p.d_model

    def flops(self, p: InterpolatedPositionalEncodingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(outs[0])

    def init_code(self, p: InterpolatedPositionalEncodingParams) -> str:
        return call("InterpolatedPositionalEncoding", p.d_model, p.max_len, init_std=non_default(p.init_std, 0.02))
