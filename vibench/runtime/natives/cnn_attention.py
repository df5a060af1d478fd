"""CBAM-style attention gates over [B, C, L] (channel and spatial), as in Woo et al., ECCV 2018."""

import torch
from torch import nn


class ChannelAttention1d(nn.Module):
    """Scale the channels of [B, C, L] by sigmoid gates from a shared MLP on pooled descriptors.

    The per-channel average over L (and, with ``pooling="avg_max"``, the maximum) goes through the
    same MLP ``fc`` (C -> C // reduction -> C with a ReLU between); the results are summed, squashed
    by a sigmoid and multiply the channels.
    """

    def __init__(self, in_channels: int, reduction: int = 16, pooling: str = "avg_max", bias: bool = False) -> None:
        super().__init__()
        hidden = in_channels // reduction
        self.fc = nn.Sequential(nn.Linear(in_channels, hidden, bias=bias), nn.ReLU(),
                                nn.Linear(hidden, in_channels, bias=bias))
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(x.mean(dim=2))
        if self.pooling == "avg_max":
            logits = logits + self.fc(x.amax(dim=2))
        return x * torch.sigmoid(logits).unsqueeze(2)


class SpatialAttention1d(nn.Module):
    """Scale the positions of [B, C, L] by sigmoid gates from a conv over the channel mean and max."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))
