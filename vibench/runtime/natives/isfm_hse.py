"""Native modules of the hierarchical signal embeddings (ISFM E_01_HSE and E_02_HSE_v2).

Both read a signal [B, L, C] and its sampling frequency ``fs`` [B] (Hz) and give every sample its
time stamps ``index / fs`` (seconds from the window start) as extra channels.
"""

import torch
from torch import nn


class HsePatchSampler(nn.Module):
    """E_01_HSE's patches: ``num_patches`` blocks of patch_size_L steps x patch_size_C channels per sample.

    Each block is gathered at a random start in time and in channels (channel indices wrap around)
    together with its time stamps (repeated over the block's channels) and flattened time-major to
    ``2 * patch_size_L * patch_size_C`` features: [B, L, C], fs [B] -> [B, P, 2 * pL * pC]. A signal
    shorter than a patch (or with fewer channels) first has every step (channel) repeated
    ``ceil(patch / size)`` times. Starts are redrawn on every call in training; in eval mode
    ``eval_sampling`` picks them: "random" (as in training: the reference), "seeded" (one draw of
    start fractions made at construction from ``seed``, the same for every call and sample) or
    "evenly_spaced" (time starts spread from the first to the last possible start, channel starts
    cycling). Draws use the global torch generator in the reference's order (time starts, then
    channel starts), so ``torch.manual_seed`` reproduces the reference's patches.
    """

    fractions: torch.Tensor

    def __init__(self, patch_size_L: int, patch_size_C: int, num_patches: int, eval_sampling: str = "random",
                 seed: int = 0) -> None:
        super().__init__()
        self.patch_size_L = patch_size_L
        self.patch_size_C = patch_size_C
        self.num_patches = num_patches
        self.eval_sampling = eval_sampling
        fractions = torch.rand(2, num_patches, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("fractions", fractions, persistent=False)

    def forward(self, x: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        time = torch.arange(length, device=x.device, dtype=x.dtype).unsqueeze(0) * (1.0 / fs).unsqueeze(1)
        if self.patch_size_L > length:
            repeats = (self.patch_size_L + length - 1) // length
            x = x.repeat_interleave(repeats, dim=1)
            time = time.repeat_interleave(repeats, dim=1)
            length = x.shape[1]
        if self.patch_size_C > channels:
            x = x.repeat_interleave((self.patch_size_C + channels - 1) // channels, dim=2)
            channels = x.shape[2]
        last_l = length - self.patch_size_L
        last_c = channels - self.patch_size_C
        if self.training or self.eval_sampling == "random":
            start_l = torch.randint(0, last_l + 1, (batch, self.num_patches), device=x.device)
            start_c = torch.randint(0, last_c + 1, (batch, self.num_patches), device=x.device)
        elif self.eval_sampling == "seeded":
            start_l = (self.fractions[0] * (last_l + 1)).long().clamp(max=last_l).expand(batch, -1)
            start_c = (self.fractions[1] * (last_c + 1)).long().clamp(max=last_c).expand(batch, -1)
        else:
            start_l = torch.linspace(0, last_l, self.num_patches, device=x.device).round().long().expand(batch, -1)
            start_c = (torch.arange(self.num_patches, device=x.device) % (last_c + 1)).expand(batch, -1)
        steps = start_l.unsqueeze(-1) + torch.arange(self.patch_size_L, device=x.device)  # [B, P, pL]
        chans = (start_c.unsqueeze(-1) + torch.arange(self.patch_size_C, device=x.device)) % channels  # [B, P, pC]
        rows = torch.arange(batch, device=x.device).view(batch, 1, 1)
        values = x[rows.unsqueeze(-1), steps.unsqueeze(-1), chans.unsqueeze(2)]  # [B, P, pL, pC]
        stamps = time[rows, steps].unsqueeze(-1).expand(-1, -1, -1, self.patch_size_C)
        return torch.cat([values, stamps], dim=-1).flatten(2)


class HseSequencePatches(nn.Module):
    """E_02_HSE_v2's patches: the signal with a time channel, cut into evenly spaced windows.

    The time channel ``index / fs`` is appended after the C signal channels; ``num_patches`` windows
    of ``patch_size_L`` steps start at ``round(linspace(0, L - patch_size_L, num_patches))``, so they
    overlap or leave gaps: [B, L, C], fs [B] -> [B, P, patch_size_L, C + 1]. Deterministic.
    """

    def __init__(self, num_patches: int, patch_size_L: int) -> None:
        super().__init__()
        self.num_patches = num_patches
        self.patch_size_L = patch_size_L

    def forward(self, x: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        time = (torch.arange(length, device=x.device).unsqueeze(0) / fs.unsqueeze(1)).to(x.dtype)
        signal = torch.cat([x, time.unsqueeze(-1)], dim=-1)
        starts = torch.linspace(0, length - self.patch_size_L, self.num_patches, device=x.device).round().long()
        steps = starts.unsqueeze(1) + torch.arange(self.patch_size_L, device=x.device)  # [P, pL]
        return signal[:, steps]


class HsePositionTable(nn.Module):
    """Add E_02_HSE_v2's fixed sine-cosine table [1, P, D] to tokens [B, P, D].

    Row ``p`` holds ``sin(p * w_k)`` in the first D/2 features and ``cos(p * w_k)`` in the last D/2,
    ``w_k = 10000 ** (-2k / D)``. The table is a frozen parameter (``requires_grad=False``): it is in
    ``state_dict`` and counted among the parameters, as in the reference.
    """

    def __init__(self, num_patches: int, dim: int) -> None:
        super().__init__()
        position = torch.arange(num_patches, dtype=torch.float64)
        omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
        angles = position.unsqueeze(1) * omega.unsqueeze(0)
        table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()
        self.table = nn.Parameter(table.unsqueeze(0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table.to(x.dtype)
