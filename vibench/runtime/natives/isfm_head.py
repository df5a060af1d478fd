"""Native modules of the ISFM task heads: per-system routing, class prototypes, cross-attention and the
universal projection of H_03_Linear_pred."""

import torch
import torch.nn.functional as F
from torch import nn


class SystemRouter(nn.Module):
    """Run each sample through the head of its system and gather the results in batch order.

    ``heads`` maps system ids (integers written as strings, the reference's ``str(Dataset_id)``) to
    modules over the last dimension; ``in_features`` gives each head's input width. A sample of
    system ``s`` goes through ``heads[str(s)]``; outputs narrower than ``out_features`` (systems with
    fewer classes) are padded with ``-inf``, so softmax gives those classes probability 0. Without
    ``system_id`` every sample goes through the only head. An id without a head, or a head whose
    input width differs from x's, raises ValueError.
    """

    def __init__(self, heads: dict[str, nn.Module], in_features: dict[str, int], out_features: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict(heads)
        self.in_features = in_features
        self.out_features = out_features

    def forward(self, x: torch.Tensor, system_id: torch.Tensor | None = None) -> torch.Tensor:
        batch = x.shape[0]
        out = x.new_full(list(x.shape[:-1]) + [self.out_features], float("-inf"))
        routed = torch.zeros(batch, dtype=torch.bool, device=x.device)
        for key, head in self.heads.items():
            if system_id is None:
                mask = torch.ones(batch, dtype=torch.bool, device=x.device)
            else:
                mask = system_id == int(key)
            routed = routed | mask
            if bool(mask.any()):
                if x.shape[-1] != self.in_features[key]:
                    raise ValueError("SystemRouter: a sample's system expects another input width (channels)")
                y = head(x[mask])
                missing = self.out_features - y.shape[-1]
                if missing > 0:
                    y = torch.cat([y, y.new_full(list(y.shape[:-1]) + [missing], float("-inf"))], dim=-1)
                out[mask] = y
        if not bool(routed.all()):
            raise ValueError("SystemRouter: system_id holds an id that has no head")
        return out


class PrototypeLogits(nn.Module):
    """Class logits as dot products of features [N, D] with learned class prototypes [1, n, D] (N(0, 1) init)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(1, num_classes, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.tokens[0].t()


class IsfmCrossAttention(nn.Module):
    """Multi-head cross-attention: ``query`` [B, M, D] attends over ``x`` [B, N, D] -> [B, M, D].

    Separate projections ``q`` (D -> D) and ``kv`` (D -> 2D), scaled dot-product attention per head,
    and an output projection ``proj`` (timm's CrossAttention layout, as in H_02_distance_cla).
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, query: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        queries = query.shape[1]
        q = self.q(query).reshape(batch, queries, self.num_heads, self.head_dim).transpose(1, 2)
        kv = self.kv(x).reshape(batch, length, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, kv[0], kv[1])  # [B, heads, M, head_dim]
        return self.proj(attended.transpose(1, 2).reshape(batch, queries, dim))


class UniversalProjection(nn.Module):
    """H_03_Linear_pred's "universal projection": features [B, F] -> [B, max_len, max_out], cropped.

    ``weight`` is [F, max_len * max_out] (N(0, 1) init, as the reference) and ``bias`` zeros. The
    result is cropped to the first ``length`` steps and ``channels`` channels; asking for more than
    the projection holds raises ValueError (the reference silently returned less).
    """

    def __init__(self, in_features: int, max_len: int, max_out: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.max_out = max_out
        self.weight = nn.Parameter(torch.randn(in_features, max_len * max_out))
        self.bias = nn.Parameter(torch.zeros(max_len * max_out))

    def forward(self, x: torch.Tensor, length: int, channels: int) -> torch.Tensor:
        if length > self.max_len or channels > self.max_out:
            raise ValueError("UniversalProjection: the requested prediction is longer or wider than max_len x max_out")
        y = (x @ self.weight + self.bias).view(x.shape[0], self.max_len, self.max_out)
        return y[:, :length, :channels]
