"""DLinear's projection along time: one linear layer shared by all channels, or one per channel."""

import torch
import torch.nn.functional as F
from torch import nn


class TemporalLinear(nn.Module):
    """Linear map along the last dimension of [B, C, L] -> [B, C, out_features].

    Shared (``channels`` None): one layer, whose ``weight`` and ``bias`` are this module's own (the
    ``state_dict`` of an ``nn.Linear``). Individual: one ``nn.Linear`` per channel, children ``0``,
    ``1``, ... (an ``nn.ModuleList``'s keys). ``average_init`` starts every weight at 1 / L, DLinear's
    initialisation (the output starts as the mean over time plus a bias).
    """

    def __init__(self, in_features: int, out_features: int, channels: int | None = None,
                 average_init: bool = False) -> None:
        super().__init__()
        layers = [nn.Linear(in_features, out_features) for _ in range(channels or 1)]
        if average_init:
            for layer in layers:
                nn.init.constant_(layer.weight, 1.0 / in_features)
        self.individual = channels is not None
        if self.individual:
            for k, layer in enumerate(layers):
                self.add_module(str(k), layer)
        else:
            self.weight = layers[0].weight
            self.bias = layers[0].bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.individual:
            return F.linear(x, self.weight, self.bias)
        return torch.stack([layer(x[:, k]) for k, layer in enumerate(self.children())], dim=1)
