"""Sequence blocks of the Transformer family: sliding-window patches, length matching, position tables."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from vibench.compiler.blocks.base import ALL_DTYPES, FLOAT_DTYPES, Block, ShapeContext, norm_axis, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch


class SlidingWindowsParams(BlockParams):
    size: int = Field(ge=1, description="Window length (samples per patch).")
    step: int = Field(ge=1, description="Step between window starts (equal to size: non-overlapping patches).")
    dim: int = Field(-1, description="Dimension to cut into windows; the window becomes a new last dimension.")


class MatchLengthParams(BlockParams):
    dim: int = Field(-1, description="Dimension of x to crop or pad.")
    like_dim: int = Field(1, description="Dimension of `like` whose size is the target length.")
    mode: Literal["replicate", "zeros"] = Field(
        "replicate", description="How a short x is padded at the end: repeat its last step, or zeros."
    )


class SinusoidalPositionalBufferParams(BlockParams):
    max_len: int = Field(5000, ge=1, description="Rows of the fixed table (the longest sequence).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    batch_first: bool = Field(True, description="x is [B, L, D] (true) or [L, B, D], sequence first (false: the "
                              "positions run along dimension 0, as in torch's sequence-first layers).")


class InterpolatedPositionalEncodingParams(BlockParams):
    max_len: int = Field(ge=1, description="Rows of the learned table; longer sequences interpolate it linearly.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    init_std: float = Field(0.02, ge=0, description="Standard deviation of the initial table (normal).")


# -- torch implementations (copied into model.py) --------------------------------------------


class SinusoidalPositionBuffer(nn.Module):
    """Add the fixed sine/cosine position table to [B, L, D], kept as the buffer ``pe`` [max_len, 1, D].

    The table is that of "Attention Is All You Need" (sine in even columns, cosine in odd ones); unlike
    ``SinusoidalPositionalEncoding`` it is a persistent buffer, so it is part of ``state_dict`` as in
    PatchTST checkpoints. Needs ``L <= max_len``.
    """

    pe: torch.Tensor
    batch_first: torch.jit.Final[bool]

    def __init__(self, d_model: int, max_len: int = 5000, batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = batch_first  # False: x is [L, B, D], the positions along dimension 0
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
        self.register_buffer("pe", table.unsqueeze(1))

    def extra_repr(self) -> str:
        return f"d_model={self.pe.shape[2]}, max_len={self.pe.shape[0]}, batch_first={self.batch_first}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.batch_first:
            return x + self.pe[: x.shape[0]].to(x.dtype)
        return x + self.pe[: x.shape[1]].transpose(0, 1).to(x.dtype)


class MatchLength(nn.Module):
    """Crop or pad dimension ``dim`` of x to the size of dimension ``like_dim`` of ``like``.

    A longer x keeps its first steps; a shorter one is extended at the end by repeating its last step
    (``replicate``) or with zeros.
    """

    def __init__(self, dim: int = -1, like_dim: int = 1, mode: str = "replicate") -> None:
        super().__init__()
        self.dim = dim
        self.like_dim = like_dim
        self.mode = mode

    def extra_repr(self) -> str:
        return f"dim={self.dim}, like_dim={self.like_dim}, mode={self.mode!r}"

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        target = like.shape[self.like_dim]
        length = x.shape[self.dim]
        if length >= target:
            return x.narrow(self.dim, 0, target)
        edge = x.narrow(self.dim, length - 1, 1)
        if self.mode == "zeros":
            edge = torch.zeros_like(edge)
        shape = list(x.shape)
        shape[self.dim] = target - length
        return torch.cat([x, edge.expand(shape)], dim=self.dim)


class InterpolatedPositionalEncoding(nn.Module):
    """Add a learned position table [1, max_len, D] to [B, L, D]; longer sequences stretch it.

    For ``L <= max_len`` the first L rows are added; for a longer sequence the table is resized to L
    rows by linear interpolation (as PHM-Vibench's Informer and Linformer do). Normal initialisation
    with standard deviation ``init_std``.
    """

    def __init__(self, d_model: int, max_len: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(1, max_len, d_model) * init_std)

    def extra_repr(self) -> str:
        return f"d_model={self.table.shape[2]}, max_len={self.table.shape[1]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        if length <= self.table.shape[1]:
            return x + self.table[:, :length]
        stretched = F.interpolate(self.table.transpose(1, 2), size=length, mode="linear", align_corners=False)
        return x + stretched.transpose(1, 2)


# -- blocks -----------------------------------------------------------------------------------


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

    def call_code(self, p: SlidingWindowsParams, args: list[Code], mod: Code) -> Code:
        return c.method(args[0], "unfold", p.dim, p.size, p.step)


@register
class MatchLengthBlock(Block):
    """Crop or pad one dimension of ``x`` to the size of a dimension of ``like`` (e.g. back to the input L).

    A longer x keeps its first steps; a shorter one is padded at the end, repeating its last step
    (``replicate``) or with zeros. Output: x's shape with ``dim`` replaced by ``like``'s ``like_dim``.
    """

    name = "match_length"
    Params = MatchLengthParams
    category = "shape"
    inputs = ("x", "like")
    natives = (MatchLength,)
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

    def init_code(self, p: MatchLengthParams) -> Code:
        return c.call(MatchLength.__name__, dim=non_default(p.dim, -1), like_dim=non_default(p.like_dim, 1),
                      mode=non_default(p.mode, "replicate"))


def _position_width(ctx: ShapeContext, t: TensorType, given: int | None, layout: str = "[B, L, D]") -> int:
    ctx.rank("x", t, 3, layout)
    ctx.dtype("x", t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[2], given, port="x", what="model width D (d_model)", t=t, param="d_model")
    return ctx.concrete(t.shape[2], "the model width D (d_model)", port="x")


@register
class SinusoidalPositionalBuffer(Block):
    """Add the fixed sine/cosine position table to [B, L, D], stored in ``state_dict`` as ``pe`` [max_len, 1, D].

    The values of ``sinusoidal_positional_encoding``, kept as a persistent buffer so that checkpoints
    holding the table (PHM-Vibench's PatchTST) load unchanged. No learned parameters; needs
    ``L <= max_len``. ``batch_first: false`` takes [L, B, D] (the positions along dimension 0), the
    layout of torch's sequence-first layers.
    """

    name = "sinusoidal_positional_buffer"
    Params = SinusoidalPositionalBufferParams
    category = "position"
    natives = (SinusoidalPositionBuffer,)
    imports = ("math",)
    fresh_output = True  # x + table: autograd keeps neither
    test_layouts = (("B L D",),)
    test_hints = {"max_len": (32, 64, 5000)}

    def infer(self, p: SinusoidalPositionalBufferParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.set("d_model", _position_width(ctx, t, p.d_model, "[B, L, D]" if p.batch_first else "[L, B, D]"))
        ctx.require(t.shape[1 if p.batch_first else 0], "<=", p.max_len,
                    f"the sequence fits the position table (max_len = {p.max_len})", param="max_len")
        return [t]

    def buffer_count(self, p: SinusoidalPositionalBufferParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        return p.max_len * p.d_model  # ``pe``

    def init_code(self, p: SinusoidalPositionalBufferParams) -> Code:
        return c.call(SinusoidalPositionBuffer.__name__, p.d_model, max_len=non_default(p.max_len, 5000),
                      batch_first=non_default(p.batch_first, True))


@register
class InterpolatedPositionalEncodingBlock(Block):
    """Add a learned position table [1, max_len, D] to [B, L, D], stretched linearly when L > max_len.

    Sequences up to ``max_len`` add the table's first L rows; longer ones add the table resized to
    L rows by linear interpolation (PHM-Vibench's Informer and Linformer). The table is the parameter
    ``<node>.table`` (max_len * D parameters).
    """

    name = "interpolated_positional_encoding"
    Params = InterpolatedPositionalEncodingParams
    category = "position"
    natives = (InterpolatedPositionalEncoding,)
    imports = ("F",)
    fresh_output = True  # x + table: autograd keeps neither
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

    def init_code(self, p: InterpolatedPositionalEncodingParams) -> Code:
        return c.call(InterpolatedPositionalEncoding.__name__, p.d_model, p.max_len,
                      init_std=non_default(p.init_std, 0.02))
