"""Element-wise activations and softmax. All are functional: no submodule, no state."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, norm_axis
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams, NoParams


class GeluParams(BlockParams):
    approximate: Literal["none", "tanh"] = Field("none", description="'tanh' uses the tanh approximation.")


class LeakyReluParams(BlockParams):
    negative_slope: float = Field(0.01, description="Slope for negative inputs.")


class EluParams(BlockParams):
    alpha: float = Field(1.0, description="Saturation value for negative inputs.")


class SoftmaxParams(BlockParams):
    dim: int = Field(-1, description="Dimension that sums to one.")


class _Elementwise(Block):
    Params: ClassVar[type[BlockParams]] = NoParams
    category = "activation"
    test_ranks = (2, 3)
    fn: ClassVar[str]  # the function, e.g. torch.relu
    fn_: ClassVar[str | None] = None  # its in-place form, e.g. torch.relu_

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        return [t]

    def call_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        return c.call(self.fn, args[0])

    def inplace_code(self, p: Any, args: list[Code], mod: Code) -> Code | None:
        return None if self.fn_ is None else c.call(self.fn_, args[0])


@register
class Relu(_Elementwise):
    """Rectified linear unit, max(x, 0)."""

    name = "relu"
    fn = "torch.relu"
    fn_ = "torch.relu_"


@register
class Relu6(_Elementwise):
    """ReLU clipped at 6, min(max(x, 0), 6) (MobileNet)."""

    name = "relu6"
    fn = "F.relu6"
    imports = ("F",)

    def inplace_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        return c.call("F.relu6", args[0], inplace=True)


@register
class Silu(_Elementwise):
    """Sigmoid-weighted linear unit (swish), x * sigmoid(x)."""

    name = "silu"
    fn = "F.silu"
    imports = ("F",)

    def inplace_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        return c.call("F.silu", args[0], inplace=True)


@register
class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    name = "tanh"
    fn = "torch.tanh"
    fn_ = "torch.tanh_"


@register
class Sigmoid(_Elementwise):
    """Logistic sigmoid, 1 / (1 + exp(-x))."""

    name = "sigmoid"
    fn = "torch.sigmoid"
    fn_ = "torch.sigmoid_"


@register
class Gelu(_Elementwise):
    """Gaussian error linear unit (exact, or the tanh approximation)."""

    name = "gelu"
    Params = GeluParams
    imports = ("F",)

    def call_code(self, p: GeluParams, args: list[Code], mod: Code) -> Code:
        if p.approximate == "none":
            return c.call("F.gelu", args[0])
        return c.call("F.gelu", args[0], approximate=p.approximate)


@register
class LeakyRelu(_Elementwise):
    """Leaky ReLU: x for x >= 0, negative_slope * x otherwise."""

    name = "leaky_relu"
    Params = LeakyReluParams
    imports = ("F",)

    def call_code(self, p: LeakyReluParams, args: list[Code], mod: Code) -> Code:
        return c.call("F.leaky_relu", args[0], p.negative_slope)

    def inplace_code(self, p: LeakyReluParams, args: list[Code], mod: Code) -> Code | None:
        if not p.negative_slope >= 0:  # torch has no in-place backward for a negative (or nan) slope
            return None
        return c.call("F.leaky_relu", args[0], p.negative_slope, inplace=True)


@register
class Elu(_Elementwise):
    """Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise."""

    name = "elu"
    Params = EluParams
    imports = ("F",)

    def call_code(self, p: EluParams, args: list[Code], mod: Code) -> Code:
        return c.call("F.elu", args[0], p.alpha)

    def inplace_code(self, p: EluParams, args: list[Code], mod: Code) -> Code | None:
        if not p.alpha >= 0:  # torch has no in-place backward for a negative (or nan) alpha
            return None
        return c.call("F.elu", args[0], p.alpha, inplace=True)


@register
class Softmax(_Elementwise):
    """Softmax along one dimension (the values along it sum to one)."""

    name = "softmax"
    Params = SoftmaxParams

    def infer(self, p: SoftmaxParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        norm_axis(ctx, p.dim, len(t.shape))
        return [t]

    def call_code(self, p: SoftmaxParams, args: list[Code], mod: Code) -> Code:
        return c.call("torch.softmax", args[0], dim=p.dim)
