"""State-space sequence mixing (B_05_Mamba): RMS normalisation and the Mamba selective-scan mixer.

Both act on token sequences [B, L, D] and keep their shape; the width D sizes the weights, so it
must be known at compile time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
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


class RmsNormParams(BlockParams):
    eps: float | None = Field(
        None, gt=0, description="Added to the mean square for stability (None: the dtype's machine epsilon, torch's "
        "default)."
    )
    elementwise_affine: bool = Field(True, description="Learnable per-feature scale.")
    normalized_shape: int | None = Field(None, ge=1, description="Width of the last dimension (inferred).")


class MambaMixerParams(BlockParams):
    d_state: int = Field(16, ge=1, description="State size N of the selective state-space model.")
    expand: int = Field(2, ge=1, description="Inner width as a multiple of the model width (E = expand * D).")
    d_conv: int = Field(4, ge=1, description="Width of the causal depthwise convolution.")
    dt_rank: int | None = Field(
        None, ge=1, description="Rank of the step-size projection (inferred: ceil(D / 16))."
    )
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class MambaMixer(nn.Module):
    """Mamba's mixer over [B, L, D]: gated causal convolution, then a selective state-space scan.

    ``in_proj`` maps D to a signal and a gate of width E = expand * D each; the signal passes a
    causal depthwise ``conv1d`` (width d_conv) and SiLU; ``x_proj`` gives per-step rank-``dt_rank``
    steps and the input/output matrices B and C (d_state wide); ``dt_proj`` + softplus gives the step
    sizes; ``A = -exp(A_log)`` and the skip ``D`` are learned. The recurrence
    ``h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t``, ``y_t = C_t h_t + D u_t`` runs as a loop over
    the L steps (no CUDA kernel: it runs anywhere). The output ``y * silu(gate)`` is projected back
    to D by ``out_proj``. Initialisation as PHM-Vibench: ``A_log = log(1..d_state)``, ``D = 1``.
    """

    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, dt_rank: int = 1) -> None:
        super().__init__()
        inner = expand * d_model
        self.inner = inner
        self.d_state = d_state
        self.dt_rank = dt_rank
        self.in_proj = nn.Linear(d_model, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, kernel_size=d_conv, padding=d_conv - 1, groups=inner)
        self.x_proj = nn.Linear(inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, inner)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32).repeat(inner, 1)))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, d_model, bias=False)

    def extra_repr(self) -> str:
        d_model = self.in_proj.in_features
        sizes = f"d_model={d_model}, d_state={self.d_state}, expand={self.inner // d_model}"
        return f"{sizes}, d_conv={self.conv1d.kernel_size[0]}, dt_rank={self.dt_rank}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        signal, gate = self.in_proj(x).split([self.inner, self.inner], dim=-1)
        signal = F.silu(self.conv1d(signal.transpose(1, 2))[:, :, :length].transpose(1, 2))
        step, b, c = self.x_proj(signal).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(step))  # [B, L, E]
        decay = torch.exp(delta.unsqueeze(-1) * -torch.exp(self.A_log))  # [B, L, E, N]
        drive = (delta * signal).unsqueeze(-1) * b.unsqueeze(2)  # [B, L, E, N]
        state = torch.zeros_like(drive[:, 0])
        outputs = []
        for t in range(length):
            state = decay[:, t] * state + drive[:, t]
            outputs.append(torch.matmul(state, c[:, t].unsqueeze(-1)).squeeze(-1))
        y = torch.stack(outputs, dim=1) + signal * self.D
        return self.out_proj(y * F.silu(gate))


# -- blocks -----------------------------------------------------------------------------------


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
    fresh_output = True
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

    def init_code(self, p: RmsNormParams) -> Code:
        return c.call("nn.RMSNorm", p.normalized_shape, eps=non_default(p.eps, None),
                      elementwise_affine=non_default(p.elementwise_affine, True))


@register
class MambaMixerBlock(Block):
    """Mamba selective state-space mixer over [B, L, D] (Gu & Dao, 2023), with a pure-PyTorch scan.

    Gated causal depthwise convolution and input-dependent state-space recurrence of state size
    ``d_state`` on an inner width E = expand * D; output [B, L, D]. The scan is a loop over L in
    plain torch (no CUDA kernel), so it runs on any device. Parameters: ``in_proj``, ``conv1d``,
    ``x_proj``, ``dt_proj``, ``A_log``, ``D``, ``out_proj`` (PHM-Vibench's MambaBlock names).
    """

    name = "mamba_mixer"
    Params = MambaMixerParams
    category = "recurrent"
    natives = (MambaMixer,)
    imports = ("F",)
    fresh_output = True  # the output projection's result
    test_layouts = (("B L D",),)
    test_hints = {"d_state": (1, 2, 4), "expand": (1, 2), "d_conv": (1, 2, 4)}

    def infer(self, p: MambaMixerParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, D]")
        width = _width(ctx, t, p.d_model, "d_model")
        ctx.set("d_model", width)
        ctx.set("dt_rank", p.dt_rank if p.dt_rank is not None else math.ceil(width / 16))
        return [t]

    def internal_tensors(self, p: MambaMixerParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        assert p.d_model is not None
        b, length, _ = ins[0].shape  # the convolution pads d_conv - 1 steps on both sides; forward keeps L
        conv = TensorType((b, p.expand * p.d_model, length + p.d_conv - 1), ins[0].dtype)
        return (("the causal convolution's output before it is cut to L", conv),) if p.d_conv > 1 else ()

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

    def init_code(self, p: MambaMixerParams) -> Code:
        return c.call(MambaMixer.__name__, p.d_model, d_state=p.d_state, expand=p.expand, d_conv=p.d_conv,
                      dt_rank=p.dt_rank)
