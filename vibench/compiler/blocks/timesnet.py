"""TimesNet's block (B_06_TimesNet): fold [B, T, D] along its dominant periods and convolve in 2-D."""

from __future__ import annotations

from vibench.compiler.blocks.base import Block, ShapeContext, call, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_isfm_backbones import TimesBlockParams


def inception_taps(num_kernels: int) -> int:
    """Weights per input/output channel pair of an inception block: 1 + 9 + 25 + ... + (2n - 1)^2."""
    return sum((2 * i + 1) ** 2 for i in range(num_kernels))


@register
class TimesBlock(Block):
    """TimesNet block over [B, T, D]: fold along the top-k FFT periods, 2-D inception convolutions, residual.

    For each of the ``top_k`` strongest non-DC frequencies f (amplitudes averaged over batch and
    channels) the series is zero-padded to a multiple of p = T // f, folded to a [B, D, T/p, p]
    grid, passed through inception (D -> d_ff, kernels 1x1 ... (2n-1)x(2n-1)), GELU, inception
    (d_ff -> D), and unfolded; the k results are mixed with per-sample softmax weights of their
    amplitudes and added to the input. Output [B, T, D]. Needs T >= 2 * top_k: fewer tokens leave
    fewer than top_k non-DC frequencies. Parameters ``conv.0.kernels.<i>``, ``conv.2.kernels.<i>``.
    """

    name = "times_block"
    Params = TimesBlockParams
    category = "convolution"
    natives = ("InceptionBlock2d", "TimesBlock")
    imports = ("F",)
    test_layouts = (("B L D",),)
    test_hints = {"d_ff": (1, 4, 8), "top_k": (1, 2, 3), "num_kernels": (1, 2, 3)}

    def infer(self, p: TimesBlockParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, T, D]")
        ctx.dtype("x", t, frozenset({"float32"}))
        if p.d_model is not None:
            ctx.equal(t.shape[2], p.d_model, port="x", what="model width D (d_model)", t=t, param="d_model")
        ctx.set("d_model", ctx.concrete(t.shape[2], "the model width D (d_model)", port="x"))
        ctx.require(t.shape[1], ">=", 2 * p.top_k,
                    f"the series has at least top_k = {p.top_k} non-DC frequencies (T >= 2 * top_k)",
                    param="top_k")
        return [t]

    def param_count(self, p: TimesBlockParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        taps = inception_taps(p.num_kernels)
        return 2 * taps * p.d_model * p.d_ff + p.num_kernels * (p.d_ff + p.d_model)

    def flops(self, p: TimesBlockParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        b, length, _ = ins[0].shape
        # per period a grid of at most 2T cells; the merged kernel has at most (2n - 1)^2 taps
        side = 2 * p.num_kernels - 1
        return p.top_k * b * 2 * length * (4 * side * side * p.d_model * p.d_ff)

    def init_code(self, p: TimesBlockParams) -> str:
        return call("TimesBlock", p.d_model, p.d_ff, top_k=non_default(p.top_k, 5),
                    num_kernels=non_default(p.num_kernels, 6))
