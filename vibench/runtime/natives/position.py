"""Positional encodings that are not a single torch layer."""

import math

import torch
from torch import nn


class SinusoidalPositionalEncoding(nn.Module):
    """Add the fixed sine/cosine position table of "Attention Is All You Need" to [B, L, D].

    Row ``t`` of the table holds ``sin(t * w_k)`` in even columns and ``cos(t * w_k)`` in odd ones,
    ``w_k = 10000 ** (-2k / D)``. The table is a non-persistent buffer: it follows ``.to(device)``
    but is not part of ``state_dict`` (it is recomputed, never learned). Needs ``L <= max_len``.
    """

    table: torch.Tensor

    def __init__(self, d_model: int, max_len: int = 5000) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
        self.register_buffer("table", table, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table[: x.shape[1]].to(x.dtype)
