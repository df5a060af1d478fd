"""FITS, frequency interpolation of time series (Xu et al., ICLR 2024), as PHM-Vibench's B_03_FITS."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class ComplexLinear(nn.Module):
    """Affine map over the last dimension with complex64 weight and bias (complex input).

    Initialised like torch.nn.Linear converted to complex (real parts from torch's initialisation,
    imaginary parts zero), as PHM-Vibench's ``nn.Linear(...).to(torch.cfloat)``.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        weight = torch.empty(out_features, in_features)
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        bias = torch.empty(out_features).uniform_(-1 / math.sqrt(in_features), 1 / math.sqrt(in_features))
        self.weight = nn.Parameter(weight.to(torch.cfloat))
        self.bias = nn.Parameter(bias.to(torch.cfloat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class FrequencyInterpolation(nn.Module):
    """Low-pass and re-sample a series [B, T, C] in the frequency domain -> [B, T + pred_len, C].

    Each channel is normalised over time (mean, unbiased variance + 1e-5); its rFFT is cut to the
    lowest ``cut_freq`` bins, which the channel's complex linear map (``freq_upsampler.<c>``) turns
    into ``int(cut_freq * ratio)`` bins, ratio = (T + pred_len) / T; these are zero-padded and
    inverse-transformed to T + pred_len samples, scaled by the ratio and de-normalised. Needs
    T // 2 + 1 >= cut_freq and T >= 2.
    """

    def __init__(self, cut_freq: int, channels: int, seq_len: int = 0, pred_len: int = 0) -> None:
        super().__init__()
        self.cut_freq = cut_freq
        self.pred_len = pred_len
        self.ratio = (seq_len + pred_len) / seq_len if seq_len > 0 else 1.0
        out_freq = int(cut_freq * self.ratio)
        self.freq_upsampler = nn.ModuleList([ComplexLinear(cut_freq, out_freq) for _ in range(channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        centred = x - mean
        std = torch.sqrt(torch.var(centred, dim=1, keepdim=True) + 1e-5)
        low = torch.fft.rfft(centred / std, dim=1)[:, : self.cut_freq].transpose(1, 2)  # [B, C, cut_freq]
        mapped = torch.stack([layer(low[:, i]) for i, layer in enumerate(self.freq_upsampler)], dim=1)
        out_len = x.shape[1] + self.pred_len
        series = torch.fft.irfft(mapped.transpose(1, 2), n=out_len, dim=1) * self.ratio
        return series * std + mean
