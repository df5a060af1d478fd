"""TimesNet's block (Wu et al., ICLR 2023): fold the series along its dominant periods, convolve in 2-D."""

import torch
import torch.nn.functional as F
from torch import nn


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
        self.out_channels = out_channels
        convs = [nn.Conv2d(in_channels, out_channels, kernel_size=2 * i + 1, padding=i) for i in range(num_kernels)]
        for conv in convs:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            assert conv.bias is not None
            nn.init.zeros_(conv.bias)
        self.kernels = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reach_h = min(self.num_kernels - 1, x.shape[2] - 1)
        reach_w = min(self.num_kernels - 1, x.shape[3] - 1)
        weight = torch.zeros(self.out_channels, x.shape[1], 2 * reach_h + 1, 2 * reach_w + 1, device=x.device)
        bias = torch.zeros(self.out_channels, device=x.device)
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        amplitude = torch.fft.rfft(x, dim=1).abs()
        spectrum = amplitude.mean(0).mean(-1)
        spectrum[0] = 0
        bins = torch.topk(spectrum, self.top_k).indices
        weights = F.softmax(amplitude.mean(-1)[:, bins], dim=1)
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
