"""Building blocks of neural operators: a stack of dense layers and a coordinate grid (DeepONet)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks import BlockParams


class DenseStackParams(BlockParams):
    widths: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        min_length=1, description="Output width of each layer, e.g. [128, 128, 128]."
    )
    activation: Literal["relu", "gelu"] = Field("relu", description="Activation after every layer.")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout after every activation (kept at p = 0 too).")
    bias: bool = Field(True, description="Biases in the linear layers.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")


class CoordinateGridParams(BlockParams):
    channels: int = Field(1, ge=1, description="Copies of the coordinate per step (DeepONet's coord_dim).")
    start: float = Field(0.0, description="Coordinate of the first step.")
    end: float = Field(1.0, description="Coordinate of the last step.")


_ACTIVATIONS = {"relu": "nn.ReLU", "gelu": "nn.GELU"}


@register
class DenseStack(Block):
    """Stack of dense layers over the last dimension: (Linear -> activation -> Dropout) per width.

    One ``nn.Sequential`` whose linear layers sit at indices 0, 3, 6, ... (DeepONet's branch and
    trunk networks in PHM-Vibench); the activation and dropout follow every layer, the last one
    included. [*, in_features] -> [*, widths[-1]].
    """

    name = "dense_stack"
    Params = DenseStackParams
    category = "dense"
    stochastic = True
    test_ranks = (2, 3)
    test_hints = {"widths": ((4,), (8, 8), (3, 5, 2))}

    def infer(self, p: DenseStackParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(1, 9), "[*, in_features]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.in_features is not None:
            ctx.equal(t.shape[-1], p.in_features, port="x", what="input features (in_features)", t=t,
                      param="in_features")
        ctx.set("in_features", ctx.concrete(t.shape[-1], "the input features (last dimension)", port="x"))
        return [TensorType((*t.shape[:-1], p.widths[-1]), t.dtype)]

    def _sizes(self, p: DenseStackParams) -> list[tuple[int, int]]:
        assert p.in_features is not None
        widths = [p.in_features, *p.widths]
        return list(zip(widths[:-1], widths[1:], strict=True))

    def param_count(self, p: DenseStackParams, ins: list[TensorType]) -> int:
        return sum(a * b + (b if p.bias else 0) for a, b in self._sizes(p))

    def flops(self, p: DenseStackParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        rows = product(ins[0].shape[:-1])
        return sum(rows * (2 * a * b + 2 * b) for a, b in self._sizes(p))

    def init_code(self, p: DenseStackParams) -> Code:
        layers: list[Code] = []
        for a, b in self._sizes(p):
            layers.append(c.call("nn.Linear", a, b, bias=non_default(p.bias, True)))
            layers += [c.call(_ACTIVATIONS[p.activation]), c.call("nn.Dropout", p.dropout)]
        return c.call("nn.Sequential", *layers)


@register
class CoordinateGrid(Block):
    """Evenly spaced coordinates along the length of [B, L, *]: [B, L, channels] from start to end.

    ``torch.linspace(start, end, L)`` repeated over the batch and ``channels`` times per step: the
    evaluation points of DeepONet's trunk network. Reads only the input's shape; no parameters.
    """

    name = "coordinate_grid"
    Params = CoordinateGridParams
    category = "position"
    test_layouts = (("B L C",),)

    def infer(self, p: CoordinateGridParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, C]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, length, _ = t.shape
        return [TensorType((b, length, p.channels), t.dtype)]

    def call_code(self, p: CoordinateGridParams, args: list[Code], mod: Code) -> Code:
        shape = c.attr(args[0], "shape")
        grid = c.method(c.call("torch.linspace", p.start, p.end, c.index(shape, 1)), "to", args[0])
        return c.method(c.index(grid, None, c.span(), None), "expand", c.index(shape, 0), -1, p.channels)
