"""Fusing the outputs of several models that read the same input (ensembles).

One class per strategy; each takes the list of N same-shaped tensors [..., D] and returns [..., D].
"""

import torch
from torch import nn


class MeanFusion(nn.Module):
    """Average the members."""

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(members, dim=-2).mean(dim=-2)


class ConcatFusion(nn.Module):
    """Concatenate the members' features and project N*D back to D."""

    def __init__(self, num_members: int, d_model: int) -> None:
        super().__init__()
        self.proj = nn.Linear(num_members * d_model, d_model)

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        return self.proj(torch.cat(members, dim=-1))


class GatedFusion(nn.Module):
    """Per-position softmax gates over the members, computed from their concatenated features."""

    def __init__(self, num_members: int, d_model: int) -> None:
        super().__init__()
        self.gate = nn.Linear(num_members * d_model, num_members)

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        weights = torch.softmax(self.gate(torch.cat(members, dim=-1)), dim=-1)  # [..., N]
        return (weights.unsqueeze(-1) * torch.stack(members, dim=-2)).sum(dim=-2)


class AttentionFusion(nn.Module):
    """Additive attention over the members per position: softmax of ``v . tanh(W h + b)``."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.score = nn.Linear(d_model, d_model)
        self.context = nn.Linear(d_model, 1, bias=False)

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(members, dim=-2)  # [..., N, D]
        weights = torch.softmax(self.context(torch.tanh(self.score(stacked))).squeeze(-1), dim=-1)
        return (weights.unsqueeze(-1) * stacked).sum(dim=-2)
