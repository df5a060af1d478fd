"""Series decomposition (Autoformer / DLinear): a moving-average trend and the remainder."""

import torch
import torch.nn.functional as F
from torch import nn


class MovingAverage(nn.Module):
    """Moving average along one dimension with edge-replicated padding (Autoformer's `moving_avg`).

    ``(kernel_size - 1) // 2`` copies of the first and last step are added on each side, then an
    average pool of width ``kernel_size`` and stride 1 runs: an odd kernel keeps the length, an even
    one shortens it by one. No parameters.
    """

    def __init__(self, kernel_size: int, dim: int = 1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(self.dim, -1)
        pad = (self.kernel_size - 1) // 2
        flat = x.reshape(-1, 1, x.shape[-1])
        if pad > 0:
            flat = F.pad(flat, (pad, pad), mode="replicate")
        mean = F.avg_pool1d(flat, self.kernel_size, stride=1)
        shape = list(x.shape[:-1]) + [mean.shape[-1]]
        return mean.reshape(shape).movedim(-1, self.dim)


class SeriesDecomposition(nn.Module):
    """Split a series into seasonal (x minus trend) and trend (moving average) parts, same shape."""

    def __init__(self, kernel_size: int, dim: int = 1) -> None:
        super().__init__()
        self.moving_avg = MovingAverage(kernel_size, dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        trend = self.moving_avg(x)
        return x - trend, trend
