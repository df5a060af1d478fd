"""Normalisation layers and dropout."""

from __future__ import annotations

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks import BlockParams


class BatchNorm1dParams(BlockParams):
    num_features: int | None = Field(None, ge=1, description="Channels C of [B, C] or [B, C, L] (inferred).")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    momentum: float | None = Field(0.1, ge=0, le=1, description="Running-statistics momentum (None: average).")
    affine: bool = Field(True, description="Learnable scale and shift.")
    track_running_stats: bool = Field(True, description="Keep running mean and variance for eval mode.")


class LayerNormParams(BlockParams):
    normalized_shape: int | tuple[int, ...] | None = Field(
        None, description="Trailing dimensions to normalise (default: the last dimension)."
    )
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    elementwise_affine: bool = Field(True, description="Learnable scale (and shift).")
    bias: bool = Field(True, description="Learnable shift (with elementwise_affine).")


class GroupNormParams(BlockParams):
    num_groups: int = Field(ge=1, description="Groups the channels are split into.")
    num_channels: int | None = Field(None, ge=1, description="Channels C of [B, C, ...] (inferred).")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    affine: bool = Field(True, description="Learnable per-channel scale and shift.")


class DropoutParams(BlockParams):
    p: float = Field(0.5, ge=0, le=1, description="Probability of zeroing an element in training mode.")


@register
class BatchNorm1d(Block):
    """Batch normalisation over the channels of [B, C] or [B, C, L] (torch.nn.BatchNorm1d)."""

    name = "batch_norm1d"
    Params = BatchNorm1dParams
    category = "normalisation"
    fresh_output = True
    test_ranks = (2, 3)

    def infer(self, p: BatchNorm1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, (2, 3), "[B, C] or [B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.num_features is not None:
            ctx.equal(t.shape[1], p.num_features, port="x", what="channels (num_features)", t=t, param="num_features")
        ctx.set("num_features", ctx.concrete(t.shape[1], "the channel count (num_features)", port="x"))
        if not p.track_running_stats:  # batch statistics in eval mode too: torch refuses one value per channel
            values = t.shape[0] if len(t.shape) == 2 else t.shape[0] * t.shape[2]
            ctx.require(values, ">=", 2, "without running statistics every call normalises with batch "
                        "statistics, which need more than one value per channel", param="track_running_stats")
        return [t]

    def param_count(self, p: BatchNorm1dParams, ins: list[TensorType]) -> int:
        assert p.num_features is not None
        return 2 * p.num_features if p.affine else 0

    def flops(self, p: BatchNorm1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(outs[0])

    def init_code(self, p: BatchNorm1dParams) -> Code:
        return c.call("nn.BatchNorm1d", p.num_features, eps=non_default(p.eps, 1e-5),
                      momentum=non_default(p.momentum, 0.1), affine=non_default(p.affine, True),
                      track_running_stats=non_default(p.track_running_stats, True))


@register
class LayerNorm(Block):
    """Layer normalisation over the trailing dimension(s) (torch.nn.LayerNorm); default: the last one."""

    name = "layer_norm"
    Params = LayerNormParams
    category = "normalisation"
    fresh_output = True
    test_ranks = (2, 3)

    def unread_params(self, p: LayerNormParams) -> dict[str, str]:
        return {} if p.elementwise_affine else {"bias": "with `elementwise_affine: true`"}

    def infer(self, p: LayerNormParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        given = p.normalized_shape
        dims = (given,) if isinstance(given, int) else given
        if dims == ():  # torch's LayerNorm refuses it when called, never when built
            raise ctx.fail("`normalized_shape` names no dimension", code="E104", param="normalized_shape",
                           expected="a size, or a non-empty list of the trailing sizes", found="[]",
                           hint="leave `normalized_shape` out to normalise the last dimension")
        count = 1 if dims is None else len(dims)
        ctx.rank("x", t, range(count, 9), f"[*, {count} normalised dimension(s)]")
        trailing = t.shape[len(t.shape) - count :]
        if dims is not None:
            for k, (found, want) in enumerate(zip(trailing, dims, strict=True)):
                ctx.equal(found, want, port="x", what=f"normalised dimension {k}", t=t, param="normalized_shape")
        shape = tuple(ctx.concrete(d, "the normalised dimensions", port="x") for d in trailing)
        ctx.set("normalized_shape", shape[0] if len(shape) == 1 else shape)
        return [t]

    def param_count(self, p: LayerNormParams, ins: list[TensorType]) -> int:
        ns = p.normalized_shape
        size = ns if isinstance(ns, int) else (1 if ns is None else _prod(ns))
        if not p.elementwise_affine:
            return 0
        return size * (2 if p.bias else 1)

    def flops(self, p: LayerNormParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 5 * numel(outs[0])

    def init_code(self, p: LayerNormParams) -> Code:
        return c.call("nn.LayerNorm", p.normalized_shape, eps=non_default(p.eps, 1e-5),
                      elementwise_affine=non_default(p.elementwise_affine, True), bias=non_default(p.bias, True))


def _prod(values: tuple[int, ...]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


@register
class GroupNorm(Block):
    """Group normalisation over channel groups of [B, C, ...] (torch.nn.GroupNorm)."""

    name = "group_norm"
    Params = GroupNormParams
    category = "normalisation"
    fresh_output = True
    test_ranks = (3,)

    def infer(self, p: GroupNormParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(2, 9), "[B, C, ...]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.num_channels is not None:
            ctx.equal(t.shape[1], p.num_channels, port="x", what="channels (num_channels)", t=t, param="num_channels")
        channels = ctx.concrete(t.shape[1], "the channel count (num_channels)", port="x")
        if channels % p.num_groups:
            raise ctx.fail(f"{channels} channels do not divide into {p.num_groups} groups", param="num_groups",
                           expected=f"a divisor of {channels}", found=str(p.num_groups))
        ctx.set("num_channels", channels)
        # Group statistics come from the input in every mode; torch refuses a single value per group.
        values = product(t.shape[2:]) * t.shape[0] * (channels // p.num_groups)
        ctx.require(values, ">=", 2, "every group normalises more than one value", param="num_groups")
        return [t]

    def param_count(self, p: GroupNormParams, ins: list[TensorType]) -> int:
        assert p.num_channels is not None
        return 2 * p.num_channels if p.affine else 0

    def flops(self, p: GroupNormParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 5 * numel(outs[0])

    def init_code(self, p: GroupNormParams) -> Code:
        return c.call("nn.GroupNorm", p.num_groups, p.num_channels, eps=non_default(p.eps, 1e-5),
                      affine=non_default(p.affine, True))


@register
class Dropout(Block):
    """Zero random elements with probability p in training mode; identity in eval mode."""

    name = "dropout"
    Params = DropoutParams
    category = "regularisation"
    imports = ("F",)
    stochastic = True
    inplace_allocates = True  # the mask, in training
    test_ranks = (2, 3)

    def infer(self, p: DropoutParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        return [t]

    def call_code(self, p: DropoutParams, args: list[Code], mod: Code) -> Code:
        return c.call("F.dropout", args[0], p=p.p, training=c.dotted("self.training"))

    def inplace_code(self, p: DropoutParams, args: list[Code], mod: Code) -> Code:
        return c.call("F.dropout", args[0], p=p.p, training=c.dotted("self.training"), inplace=True)
