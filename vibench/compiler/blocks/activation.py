"""Element-wise activations and softmax. All are functional: no submodule, no state."""

from __future__ import annotations

from typing import Any, ClassVar

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, norm_axis, py
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams, EluParams, GeluParams, LeakyReluParams, NoParams, SoftmaxParams


class _Elementwise(Block):
    Params: ClassVar[type[BlockParams]] = NoParams
    category = "activation"
    test_ranks = (2, 3)
    fn: ClassVar[str]

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        return [t]

    def call_code(self, p: Any, args: list[str], mod: str) -> str:
        return f"{self.fn}({args[0]})"


@register
class Relu(_Elementwise):
    """Rectified linear unit, max(x, 0)."""

    name = "relu"
    fn = "torch.relu"


@register
class Relu6(_Elementwise):
    """ReLU clipped at 6, min(max(x, 0), 6) (MobileNet)."""

    name = "relu6"
    fn = "F.relu6"
    imports = ("F",)


@register
class Silu(_Elementwise):
    """Sigmoid-weighted linear unit (swish), x * sigmoid(x)."""

    name = "silu"
    fn = "F.silu"
    imports = ("F",)


@register
class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    name = "tanh"
    fn = "torch.tanh"


@register
class Sigmoid(_Elementwise):
    """Logistic sigmoid, 1 / (1 + exp(-x))."""

    name = "sigmoid"
    fn = "torch.sigmoid"


@register
class Gelu(_Elementwise):
    """Gaussian error linear unit (exact, or the tanh approximation)."""

    name = "gelu"
    Params = GeluParams
    imports = ("F",)

    def call_code(self, p: GeluParams, args: list[str], mod: str) -> str:
        if p.approximate == "none":
            return f"F.gelu({args[0]})"
        return f"F.gelu({args[0]}, approximate={py(p.approximate)})"


@register
class LeakyRelu(_Elementwise):
    """Leaky ReLU: x for x >= 0, negative_slope * x otherwise."""

    name = "leaky_relu"
    Params = LeakyReluParams
    imports = ("F",)

    def call_code(self, p: LeakyReluParams, args: list[str], mod: str) -> str:
        return f"F.leaky_relu({args[0]}, {py(p.negative_slope)})"


@register
class Elu(_Elementwise):
    """Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise."""

    name = "elu"
    Params = EluParams
    imports = ("F",)

    def call_code(self, p: EluParams, args: list[str], mod: str) -> str:
        return f"F.elu({args[0]}, {py(p.alpha)})"


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

    def call_code(self, p: SoftmaxParams, args: list[str], mod: str) -> str:
        return f"torch.softmax({args[0]}, dim={p.dim})"
