"""Causal (optionally weight-normalised) dilated convolution over [B, C, L], the layer of a TCN.

Bai, Kolter and Koltun, "An Empirical Evaluation of Generic Convolutional and Recurrent Networks for
Sequence Modeling" (2018): output step t sees only input steps <= t, so the input is padded on the
left by ``dilation * (kernel_size - 1)`` zeros and the output keeps the length L.
"""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_cnn import CausalConv1dParams


@register
class CausalConv1d(Block):
    """Causal dilated 1D convolution, [B, C, L] -> [B, out_channels, L]; optionally weight-normalised.

    Equal to a ``conv1d`` with padding ``dilation * (kernel_size - 1)`` on both sides whose last
    ``padding`` outputs are dropped (the "chomp" of TCN code). With ``weight_norm: true`` the kernel is
    ``weight_g * weight_v / |weight_v|`` (norm per output channel), the parametrisation and ``state_dict``
    names of ``torch.nn.utils.weight_norm``; ``weight_g`` adds out_channels parameters.
    """

    name = "causal_conv1d"
    Params = CausalConv1dParams
    category = "convolution"
    natives = ("CausalConv1d", "WeightNormCausalConv1d")
    imports = ("F",)

    def infer(self, p: CausalConv1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.in_channels is not None:
            ctx.equal(t.shape[1], p.in_channels, port="x", what="input channels", t=t, param="in_channels")
        ctx.set("in_channels", ctx.concrete(t.shape[1], "input channels", port="x"))
        b, _, length = t.shape
        return [TensorType((b, p.out_channels, length), t.dtype)]

    def param_count(self, p: CausalConv1dParams, ins: list[TensorType]) -> int:
        assert p.in_channels is not None
        extra = (p.out_channels if p.bias else 0) + (p.out_channels if p.weight_norm else 0)
        return p.out_channels * p.in_channels * p.kernel_size + extra

    def flops(self, p: CausalConv1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_channels is not None
        b, c, length = outs[0].shape
        return 2 * b * c * length * p.in_channels * p.kernel_size

    def native_classes(self, p: CausalConv1dParams) -> tuple[str, ...]:
        return ("WeightNormCausalConv1d",) if p.weight_norm else ("CausalConv1d",)

    def init_code(self, p: CausalConv1dParams) -> str:
        cls = "WeightNormCausalConv1d" if p.weight_norm else "CausalConv1d"
        return call(cls, p.in_channels, p.out_channels, p.kernel_size, dilation=non_default(p.dilation, 1),
                    bias=non_default(p.bias, True))
