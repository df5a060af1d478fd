"""The Mamba selective state-space mixer (Gu & Dao, 2023) with a pure-PyTorch scan (B_05_Mamba)."""

import torch
import torch.nn.functional as F
from torch import nn


class MambaMixer(nn.Module):
    """Mamba's mixer over [B, L, D]: gated causal convolution, then a selective state-space scan.

    ``in_proj`` maps D to a signal and a gate of width E = expand * D each; the signal passes a
    causal depthwise ``conv1d`` (width d_conv) and SiLU; ``x_proj`` gives per-step rank-``dt_rank``
    steps and the input/output matrices B and C (d_state wide); ``dt_proj`` + softplus gives the step
    sizes; ``A = -exp(A_log)`` and the skip ``D`` are learned. The recurrence
    ``h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t``, ``y_t = C_t h_t + D u_t`` runs as a loop over
    the L steps (no CUDA kernel: it runs anywhere). The output ``y * silu(gate)`` is projected back
    to D by ``out_proj``. Initialisation as PHM-Vibench: ``A_log = log(1..d_state)``, ``D = 1``.
    """

    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, dt_rank: int = 1) -> None:
        super().__init__()
        inner = expand * d_model
        self.inner = inner
        self.d_state = d_state
        self.dt_rank = dt_rank
        self.in_proj = nn.Linear(d_model, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, kernel_size=d_conv, padding=d_conv - 1, groups=inner)
        self.x_proj = nn.Linear(inner, dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, inner)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32).repeat(inner, 1)))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        signal, gate = self.in_proj(x).split([self.inner, self.inner], dim=-1)
        signal = F.silu(self.conv1d(signal.transpose(1, 2))[:, :, :length].transpose(1, 2))
        step, b, c = self.x_proj(signal).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(step))  # [B, L, E]
        decay = torch.exp(delta.unsqueeze(-1) * -torch.exp(self.A_log))  # [B, L, E, N]
        drive = (delta * signal).unsqueeze(-1) * b.unsqueeze(2)  # [B, L, E, N]
        state = torch.zeros_like(drive[:, 0])
        outputs = []
        for t in range(length):
            state = decay[:, t] * state + drive[:, t]
            outputs.append(torch.matmul(state, c[:, t].unsqueeze(-1)).squeeze(-1))
        y = torch.stack(outputs, dim=1) + signal * self.D
        return self.out_proj(y * F.silu(gate))
