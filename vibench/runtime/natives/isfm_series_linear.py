"""Linear maps along a series (DLinear's token/time-axis projections), shared or one per channel."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class SeriesLinear(nn.Module):
    """Affine map over the last dimension with torch.nn.Linear's parameters and initialisation.

    ``average_init`` starts every weight at 1 / in_features instead, so that each output begins as
    the mean of the input series (DLinear's choice); the bias keeps torch's initialisation.
    """

    def __init__(self, in_features: int, out_features: int, average_init: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.uniform_(self.bias, -1 / math.sqrt(in_features), 1 / math.sqrt(in_features))
        if average_init:
            nn.init.constant_(self.weight, 1.0 / in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class ChannelwiseLinear(nn.Module):
    """One SeriesLinear per channel of [B, C, L] (``layers.<c>``): channel c's series goes through layer c.

    DLinear's ``individual`` mode.
    """

    def __init__(self, channels: int, in_features: int, out_features: int, average_init: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList([SeriesLinear(in_features, out_features, average_init) for _ in range(channels)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([layer(x[:, c]) for c, layer in enumerate(self.layers)], dim=1)
