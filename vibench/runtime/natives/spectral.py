"""The spectral convolution of Fourier neural operators (Li et al., 2021)."""

import torch
from torch import nn


class SpectralConv1d(nn.Module):
    """Multiply the lowest ``modes`` Fourier coefficients of [B, C_in, L] by learned complex weights.

    rFFT over L, keep bins ``0..modes-1``, mix channels with ``weights`` (C_in, C_out, modes) complex
    (initialised ``rand / (C_in * C_out)`` for real and imaginary parts, as in PHM-Vibench), zero the
    other bins, inverse rFFT back to length L. Needs ``modes <= L // 2 + 1``.
    """

    def __init__(self, in_channels: int, out_channels: int, modes: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.modes = modes
        scale = 1.0 / (in_channels * out_channels)
        self.weights = nn.Parameter(scale * torch.rand(in_channels, out_channels, modes, dtype=torch.cfloat))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        spectrum = torch.fft.rfft(x, dim=-1)
        out = torch.zeros(x.shape[0], self.out_channels, length // 2 + 1, dtype=torch.cfloat, device=x.device)
        out[:, :, : self.modes] = torch.einsum("bix,iox->box", spectrum[:, :, : self.modes], self.weights)
        return torch.fft.irfft(out, n=length, dim=-1)
