"""gMLP's spatial gating unit."""

import torch
from torch import nn


class SpatialGatingUnit(nn.Module):
    """Split [B, L, D] into halves u, v; return u * spatial_proj(norm(v)) with the projection across the L steps.

    ``spatial_proj`` starts at weights 0 and biases 1 (the gate passes u through), as in Liu et al.
    """

    def __init__(self, d_model: int, seq_len: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model // 2)
        self.spatial_proj = nn.Linear(seq_len, seq_len)
        nn.init.zeros_(self.spatial_proj.weight)
        nn.init.ones_(self.spatial_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = x.chunk(2, dim=-1)
        v = self.spatial_proj(self.norm(v).transpose(1, 2)).transpose(1, 2)
        return u * v
