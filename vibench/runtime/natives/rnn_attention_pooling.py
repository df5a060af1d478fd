"""Additive attention pooling over time (AttentionLSTM)."""

import torch
from torch import nn


class AttentionPooling(nn.Module):
    """Additive (Bahdanau) attention pooling: [B, L, D] -> the weighted sum [B, D] and the weights [B, L].

    Step t is scored ``context_vector(tanh(attention_linear(x_t)))``; a softmax over the L steps
    gives the weights.
    """

    def __init__(self, d_model: int, attention_dim: int) -> None:
        super().__init__()
        self.attention_linear = nn.Linear(d_model, attention_dim)
        self.context_vector = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.context_vector(torch.tanh(self.attention_linear(x))).squeeze(-1)  # [B, L]
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), x).squeeze(1), weights
