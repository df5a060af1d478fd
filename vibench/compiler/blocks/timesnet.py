"""TimesNet's block (B_06_TimesNet): fold [B, T, D] along its dominant periods and convolve in 2-D."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.codegen.support import _bare
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


class TimesBlockParams(BlockParams):
    d_ff: int = Field(ge=1, description="Channels between the two inception blocks.")
    top_k: int = Field(5, ge=1, description="Dominant periods folded per call (largest FFT amplitudes).")
    num_kernels: int = Field(
        6, ge=1, description="Square kernels per inception block: sizes 1, 3, ..., 2 * num_kernels - 1."
    )
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, T, D] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class InceptionBlock2d(nn.Module):
    """The mean of ``num_kernels`` same-padded square Conv2d (sizes 1, 3, ..., 2n - 1) over [B, C, H, W].

    The parameters are the separate convolutions ``kernels.<i>`` (TimesNet's Inception_Block_V1,
    Kaiming-normal fan-out initialisation, zero biases). ``forward`` runs them as one convolution:
    the kernels are zero-padded to the largest size and averaged, and the taps that can only meet
    the zero padding of an H x W grid are cropped — the same sum, fewer multiply-adds.
    """

    def __init__(self, in_channels: int, out_channels: int, num_kernels: int = 6) -> None:
        super().__init__()
        self.num_kernels = num_kernels
        self.in_channels = in_channels
        self.out_channels = out_channels
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size=2 * i + 1, padding=i) for i in range(num_kernels)]
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)
        self.kernels = nn.ModuleList(convs)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_kernels={self.num_kernels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # hooked or replaced kernels (see _bare): each called, then averaged
            if not all(_bare(conv, nn.Conv2d) for conv in self.kernels):
                return torch.stack([conv(x) for conv in self.kernels], dim=-1).mean(-1)
        reach_h = min(self.num_kernels - 1, x.shape[2] - 1)
        reach_w = min(self.num_kernels - 1, x.shape[3] - 1)
        like = self.kernels[0].weight  # the kernels' dtype (after model.double(), .bfloat16()) and device
        assert isinstance(like, torch.Tensor)
        weight = like.new_zeros(self.out_channels, x.shape[1], 2 * reach_h + 1, 2 * reach_w + 1)
        bias = like.new_zeros(self.out_channels)
        for i, conv in enumerate(self.kernels):
            h, w = min(i, reach_h), min(i, reach_w)
            taps, shift = conv.weight, conv.bias
            assert isinstance(taps, torch.Tensor) and isinstance(shift, torch.Tensor)
            weight[:, :, reach_h - h : reach_h + h + 1, reach_w - w : reach_w + w + 1] += taps[
                :, :, i - h : i + h + 1, i - w : i + w + 1
            ]
            bias = bias + shift
        return F.conv2d(x, weight / self.num_kernels, bias / self.num_kernels, padding=(reach_h, reach_w))


class TimesBlock(nn.Module):
    """One TimesNet block over [B, T, D]: period folding, two inception blocks, weighted sum, residual.

    The amplitude spectrum (rFFT over T, averaged over batch and channels, DC bin zeroed) picks the
    ``top_k`` strongest bins f; each gives a period p = T // f. For each period the series is
    zero-padded to a multiple of p, folded to a [B, D, rows, p] grid, passed through ``conv``
    (inception D -> d_ff, GELU, inception d_ff -> D), unfolded and cropped to T. The k results are
    summed with per-sample softmax weights of their amplitudes, and the input is added. Needs
    T >= 2 * top_k (enough non-DC bins); the periods depend on the data, so the loop is not a
    static graph.
    """

    def __init__(self, d_model: int, d_ff: int, top_k: int = 5, num_kernels: int = 6) -> None:
        super().__init__()
        self.top_k = top_k
        self.conv = nn.Sequential(
            InceptionBlock2d(d_model, d_ff, num_kernels), nn.GELU(), InceptionBlock2d(d_ff, d_model, num_kernels)
        )

    def extra_repr(self) -> str:
        return f"top_k={self.top_k}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        amplitude = torch.fft.rfft(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x, dim=1).abs()
        spectrum = amplitude.mean(0).mean(-1)
        spectrum[0] = 0
        bins = torch.topk(spectrum, self.top_k).indices
        weights = F.softmax(amplitude.mean(-1)[:, bins], dim=1).to(x.dtype)
        frequencies: list[int] = bins.tolist()
        total = torch.zeros_like(x)
        for k, frequency in enumerate(frequencies):
            period = length // max(frequency, 1)
            rows = (length + period - 1) // period
            padded = F.pad(x, (0, 0, 0, rows * period - length))
            grid = padded.reshape(batch, rows, period, channels).permute(0, 3, 1, 2)
            folded = self.conv(grid).permute(0, 2, 3, 1).reshape(batch, rows * period, channels)[:, :length]
            total = total + folded * weights[:, k].reshape(batch, 1, 1)
        return total + x


def inception_taps(num_kernels: int) -> int:
    """Weights per input/output channel pair of an inception block: 1 + 9 + 25 + ... + (2n - 1)^2."""
    return num_kernels * (2 * num_kernels - 1) * (2 * num_kernels + 1) // 3  # the sum in closed form


# -- block ------------------------------------------------------------------------------------


@register
class TimesBlockBlock(Block):
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
    natives = (InceptionBlock2d, TimesBlock, _bare)
    imports = ("F",)
    fresh_output = True  # total + x: the sum's backward keeps neither operand
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

    def init_code(self, p: TimesBlockParams) -> Code:
        return c.call(TimesBlock.__name__, p.d_model, p.d_ff, top_k=non_default(p.top_k, 5),
                      num_kernels=non_default(p.num_kernels, 6))
