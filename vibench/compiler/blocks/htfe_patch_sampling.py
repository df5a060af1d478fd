"""``htfe_patch_sampling``: E_01_HTFE's random patches with time stamps and channel indices (ISFM).

Like E_01_HSE's patches, but each of a patch's ``patch_size_C`` channels is drawn independently
(uniformly, with repetition) and every step carries three kinds of values: the channels' samples,
the step's time stamp ``index / f_s`` (one fixed sampling rate) and the drawn channels' indices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class HtfePatchSamplingParams(BlockParams):
    patch_size_L: int = Field(ge=1, description="Samples per patch along time (the reference's patch_size_L).")
    patch_size_C: int = Field(1, ge=1, description="Channels drawn per patch (the reference's patch_size_C).")
    num_patches: int = Field(ge=1, description="Patches drawn per sample (the output's token count P).")
    f_s: float = Field(gt=0, description="Sampling rate in Hz of every sample (time stamps are index / f_s).")


class HtfePatchSampler(nn.Module):
    """E_01_HTFE's patches: [B, L, C] -> [B, P, patch_size_L, 2 * patch_size_C + 1].

    Per sample, ``num_patches`` windows of ``patch_size_L`` steps start at random positions; each
    takes ``patch_size_C`` channels drawn independently (with repetition). A step holds the drawn
    channels' samples, its time stamp ``index / f_s`` and the drawn channels' indices (as floats). A
    signal shorter than a window, or with fewer channels, has each step (channel) repeated first.
    Draws use the global generator in the reference's order (window starts, then channels).
    """

    def __init__(self, patch_size_L: int, patch_size_C: int, num_patches: int, f_s: float) -> None:
        super().__init__()
        self.patch_size_L = patch_size_L
        self.patch_size_C = patch_size_C
        self.num_patches = num_patches
        self.period = 1.0 / f_s
        self.f_s = f_s

    def extra_repr(self) -> str:
        patch = f"patch_size_L={self.patch_size_L}, patch_size_C={self.patch_size_C}"
        return f"{patch}, num_patches={self.num_patches}, f_s={self.f_s}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        time = torch.arange(length, device=x.device).to(x.dtype) * self.period
        index = torch.arange(channels, device=x.device)
        if self.patch_size_L > length:
            repeats = (self.patch_size_L + length - 1) // length
            x = x.repeat_interleave(repeats, dim=1)
            time = time.repeat_interleave(repeats)
            length = x.shape[1]
        if self.patch_size_C > channels:
            repeats = (self.patch_size_C + channels - 1) // channels
            x = x.repeat_interleave(repeats, dim=2)
            index = index.repeat_interleave(repeats)
            channels = x.shape[2]
        starts = torch.randint(0, length - self.patch_size_L + 1, (batch, self.num_patches), device=x.device)
        chans = torch.randint(0, channels, (batch, self.num_patches, self.patch_size_C), device=x.device)
        steps = starts.unsqueeze(-1) + torch.arange(self.patch_size_L, device=x.device)  # [B, P, pL]
        rows = torch.arange(batch, device=x.device).view(batch, 1, 1, 1)
        values = x[rows, steps.unsqueeze(-1), chans.unsqueeze(2)]  # [B, P, pL, pC]
        stamps = time[steps].unsqueeze(-1)  # [B, P, pL, 1]
        ids = index[chans].to(x.dtype).unsqueeze(2).expand(-1, -1, self.patch_size_L, -1)  # [B, P, pL, pC]
        return torch.cat([values, stamps, ids], dim=-1)


@register
class HtfePatchSampling(Block):
    """Random patches with time stamps and channel indices (ISFM E_01_HTFE): [B, L, C] -> [B, P, pL, 2*pC + 1].

    ``num_patches`` windows of ``patch_size_L`` steps at random starts, ``patch_size_C`` channels
    drawn independently per patch; each step holds the samples, its time stamp ``index / f_s`` and
    the channel indices. Any L and C work (shorter signals repeat each step first). Redrawn on every
    call, in eval mode too (as the reference). No parameters.
    """

    name = "htfe_patch_sampling"
    Params = HtfePatchSamplingParams
    category = "embedding"
    natives = (HtfePatchSampler,)
    fresh_output = True
    stochastic = True
    test_hints = {"patch_size_L": (4, 16), "patch_size_C": (1, 2), "num_patches": (3, 8), "f_s": (100.0,)}

    def infer(self, p: HtfePatchSamplingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (x,) = ins
        ctx.rank("x", x, 3, "[B, L, C]")
        ctx.dtype("x", x, FLOAT_DTYPES)
        return [TensorType((x.shape[0], p.num_patches, p.patch_size_L, 2 * p.patch_size_C + 1), x.dtype)]

    def internal_tensors(self, p: HtfePatchSamplingParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        # forward repeats each step (channel) of a signal shorter (narrower) than a patch: at most L + patch_size_L
        # steps and C + patch_size_C channels (a [1, 1, 4096] input and a 1,048,576-step patch took 17 GB)
        b, length, channels = ins[0].shape
        return (("the signal repeated to a patch's size",
                 TensorType((b, length + p.patch_size_L, channels + p.patch_size_C), ins[0].dtype)),)

    def flops(self, p: HtfePatchSamplingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0

    def init_code(self, p: HtfePatchSamplingParams) -> Code:
        return c.call(HtfePatchSampler.__name__, p.patch_size_L, p.patch_size_C, p.num_patches, p.f_s)
