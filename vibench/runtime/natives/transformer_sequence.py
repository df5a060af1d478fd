"""Sequence helpers of the Transformer family: position tables (stored, interpolated) and length matching."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class SinusoidalPositionBuffer(nn.Module):
    """Add the fixed sine/cosine position table to [B, L, D], kept as the buffer ``pe`` [max_len, 1, D].

    The table is that of "Attention Is All You Need" (sine in even columns, cosine in odd ones); unlike
    ``SinusoidalPositionalEncoding`` it is a persistent buffer, so it is part of ``state_dict`` as in
    PatchTST checkpoints. Needs ``L <= max_len``.
    """

    pe: torch.Tensor

    def __init__(self, d_model: int, max_len: int = 5000) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * frequency)
        table[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
        self.register_buffer("pe", table.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]].transpose(0, 1).to(x.dtype)


class MatchLength(nn.Module):
    """Crop or pad dimension ``dim`` of x to the size of dimension ``like_dim`` of ``like``.

    A longer x keeps its first steps; a shorter one is extended at the end by repeating its last step
    (``replicate``) or with zeros.
    """

    def __init__(self, dim: int = -1, like_dim: int = 1, mode: str = "replicate") -> None:
        super().__init__()
        self.dim = dim
        self.like_dim = like_dim
        self.mode = mode

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        target = like.shape[self.like_dim]
        length = x.shape[self.dim]
        if length >= target:
            return x.narrow(self.dim, 0, target)
        edge = x.narrow(self.dim, length - 1, 1)
        if self.mode == "zeros":
            edge = torch.zeros_like(edge)
        shape = list(x.shape)
        shape[self.dim] = target - length
        return torch.cat([x, edge.expand(shape)], dim=self.dim)


class InterpolatedPositionalEncoding(nn.Module):
    """Add a learned position table [1, max_len, D] to [B, L, D]; longer sequences stretch it.

    For ``L <= max_len`` the first L rows are added; for a longer sequence the table is resized to L
    rows by linear interpolation (as PHM-Vibench's Informer and Linformer do). Normal initialisation
    with standard deviation ``init_std``.
    """

    def __init__(self, d_model: int, max_len: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(1, max_len, d_model) * init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        if length <= self.table.shape[1]:
            return x + self.table[:, :length]
        stretched = F.interpolate(self.table.transpose(1, 2), size=length, mode="linear", align_corners=False)
        return x + stretched.transpose(1, 2)
