"""Causal dilated convolutions over [B, C, L] (the layers of a temporal convolutional network)."""

import torch
import torch.nn.functional as F
from torch import nn


class CausalConv1d(nn.Module):
    """Dilated convolution whose output step t sees only input steps <= t; keeps the length L.

    The input gets ``dilation * (kernel_size - 1)`` zeros on the left, then a plain convolution runs:
    the same result as padding both sides and dropping the last outputs ("chomp"). Parameters and
    their initialisation are those of ``nn.Conv1d``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.weight = conv.weight
        self.bias = conv.bias
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(F.pad(x, (self.padding, 0)), self.weight, self.bias, dilation=self.dilation)


class WeightNormCausalConv1d(nn.Module):
    """A causal dilated convolution with weight normalisation: kernel = weight_g * weight_v / |weight_v|.

    The norm is taken per output channel, as ``torch.nn.utils.weight_norm`` does, and the parameters
    carry its ``state_dict`` names (``weight_g`` [out, 1, 1], ``weight_v`` [out, in, k], ``bias``).
    ``weight_v`` starts as ``nn.Conv1d`` would initialise its weight and ``weight_g`` as its norm.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias)
        self.weight_g = nn.Parameter(torch.linalg.vector_norm(conv.weight.detach(), dim=(1, 2), keepdim=True))
        self.weight_v = conv.weight
        self.bias = conv.bias
        self.dilation = dilation
        self.padding = dilation * (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_v * (self.weight_g / torch.linalg.vector_norm(self.weight_v, dim=(1, 2), keepdim=True))
        return F.conv1d(F.pad(x, (self.padding, 0)), weight, self.bias, dilation=self.dilation)
