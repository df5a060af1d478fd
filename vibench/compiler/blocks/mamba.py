"""State-space sequence mixing (B_05_Mamba): RMS normalisation and the Mamba selective-scan mixer.

Both act on token sequences [B, L, D] and keep their shape; the width D sizes the weights, so it
must be known at compile time.
"""

from __future__ import annotations

import math

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_isfm_backbones import MambaMixerParams, RmsNormParams


def _width(ctx: ShapeContext, t: TensorType, given: int | None, param: str) -> int:
    ctx.dtype("x", t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[-1], given, port="x", what=f"last dimension ({param})", t=t, param=param)
    return ctx.concrete(t.shape[-1], f"the last dimension ({param})", port="x")


@register
class RmsNorm(Block):
    """Root-mean-square normalisation over the last dimension (torch.nn.RMSNorm): x / rms(x) * weight.

    No centring and no bias (Zhang & Sennrich, 2019); the output has the input's shape.
    ``normalized_shape`` is taken from the input.
    """

    name = "rms_norm"
    Params = RmsNormParams
    category = "normalisation"
    test_ranks = (2, 3)

    def infer(self, p: RmsNormParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(1, 9), "[..., D]")
        ctx.set("normalized_shape", _width(ctx, t, p.normalized_shape, "normalized_shape"))
        return [t]

    def param_count(self, p: RmsNormParams, ins: list[TensorType]) -> int:
        assert p.normalized_shape is not None
        return p.normalized_shape if p.elementwise_affine else 0

    def flops(self, p: RmsNormParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 4 * numel(outs[0])

    def init_code(self, p: RmsNormParams) -> str:
        return call("nn.RMSNorm", p.normalized_shape, eps=non_default(p.eps, None),
                    elementwise_affine=non_default(p.elementwise_affine, True))


@register
class MambaMixer(Block):
    """Mamba selective state-space mixer over [B, L, D] (Gu & Dao, 2023), with a pure-PyTorch scan.

    Gated causal depthwise convolution and input-dependent state-space recurrence of state size
    ``d_state`` on an inner width E = expand * D; output [B, L, D]. The scan is a loop over L in
    plain torch (no CUDA kernel), so it runs on any device. Parameters: ``in_proj``, ``conv1d``,
    ``x_proj``, ``dt_proj``, ``A_log``, ``D``, ``out_proj`` (PHM-Vibench's MambaBlock names).
    """

    name = "mamba_mixer"
    Params = MambaMixerParams
    category = "recurrent"
    natives = ("MambaMixer",)
    imports = ("F",)
    test_layouts = (("B L D",),)
    test_hints = {"d_state": (1, 2, 4), "expand": (1, 2), "d_conv": (1, 2, 4)}

    def infer(self, p: MambaMixerParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, D]")
        width = _width(ctx, t, p.d_model, "d_model")
        ctx.set("d_model", width)
        ctx.set("dt_rank", p.dt_rank if p.dt_rank is not None else math.ceil(width / 16))
        return [t]

    def param_count(self, p: MambaMixerParams, ins: list[TensorType]) -> int:
        d, rank = p.d_model, p.dt_rank
        assert d is not None and rank is not None
        inner = p.expand * d
        projections = d * 2 * inner + inner * (rank + 2 * p.d_state) + inner * d
        return projections + inner * (p.d_conv + 1) + rank * inner + inner + inner * p.d_state + inner

    def flops(self, p: MambaMixerParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        d, rank = p.d_model, p.dt_rank
        assert d is not None and rank is not None
        inner = p.expand * d
        per_token = 2 * (d * 2 * inner + inner * (rank + 2 * p.d_state) + rank * inner + inner * d)
        per_token += 2 * inner * p.d_conv + 8 * inner * p.d_state  # convolution; discretise, scan, read out
        b, length, _ = ins[0].shape
        return b * length * per_token

    def init_code(self, p: MambaMixerParams) -> str:
        return call("MambaMixer", p.d_model, d_state=p.d_state, expand=p.expand, d_conv=p.d_conv, dt_rank=p.dt_rank)
