"""``signal_features``: classic condition-monitoring statistics of each channel (TSPN's feature extractors).

Over the last dimension of [B, C, L], each named statistic gives one value per channel; the values
are concatenated feature by feature: [B, C, L] -> [B, len(features) * C] (all channels of the first
feature, then of the second, ...). The statistics, as PHM-Vibench's X_model/Feature_extract
computes them (Std and Var unbiased):

Mean, Std, Var, Entropy (``mean(x * log softmax(x))``), Max, Min, AbsMean, Kurtosis
(``mean((x - mean)^4) / Var^2``), RMS, CrestFactor (Max / RMS), Skewness (``mean((x - mean)^3) /
Std^3``), ClearanceFactor (Max / AbsMean), ShapeFactor (RMS / AbsMean). No parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch

Feature = Literal["Mean", "Std", "Var", "Entropy", "Max", "Min", "AbsMean", "Kurtosis", "RMS", "CrestFactor",
                  "Skewness", "ClearanceFactor", "ShapeFactor"]


class SignalFeaturesParams(BlockParams):
    features: tuple[Feature, ...] = Field(min_length=1, description="Statistics to compute, in output order.")


# -- torch implementation (copied into model.py) ---------------------------------------------


class SignalFeatures(nn.Module):
    """Statistics of each channel of [B, C, L] over L -> [B, len(features) * C], feature-major."""

    def __init__(self, features: list[str]) -> None:
        super().__init__()
        self.features = features

    def extra_repr(self) -> str:
        return f"features={self.features}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        rms = torch.sqrt(torch.mean(x**2, dim=-1, keepdim=True))
        abs_mean = x.abs().mean(dim=-1, keepdim=True)
        peak = x.max(dim=-1, keepdim=True)[0]
        outputs: list[torch.Tensor] = []
        for name in self.features:
            if name == "Mean":
                value = mean
            elif name == "Std":
                value = torch.std(x, dim=-1, keepdim=True)
            elif name == "Var":
                value = torch.var(x, dim=-1, keepdim=True)
            elif name == "Entropy":
                value = (x * torch.log(torch.softmax(x, dim=-1))).mean(dim=-1, keepdim=True)
            elif name == "Max":
                value = peak
            elif name == "Min":
                value = x.min(dim=-1, keepdim=True)[0]
            elif name == "AbsMean":
                value = abs_mean
            elif name == "Kurtosis":
                value = ((x - mean) ** 4).mean(dim=-1, keepdim=True) / torch.var(x, dim=-1, keepdim=True) ** 2
            elif name == "RMS":
                value = rms
            elif name == "CrestFactor":
                value = peak / rms
            elif name == "Skewness":
                value = ((x - mean) ** 3).mean(dim=-1, keepdim=True) / torch.std(x, dim=-1, keepdim=True) ** 3
            elif name == "ClearanceFactor":
                value = peak / abs_mean
            else:
                value = rms / abs_mean
            outputs.append(value)
        return torch.cat(outputs, dim=1).flatten(1)


# -- block ------------------------------------------------------------------------------------


@register
class SignalFeaturesBlock(Block):
    """Statistics of each channel over time (mean, std, kurtosis, crest factor, ...): [B, C, L] -> [B, F * C].

    One value per statistic and channel, feature-major (all channels of the first statistic first),
    as TSPN's feature extractors; no parameters. Std, Var, Kurtosis and Skewness need L >= 2.
    """

    name = "signal_features"
    Params = SignalFeaturesParams
    category = "pooling"
    natives = (SignalFeatures,)
    fresh_output = True
    test_hints = {"features": (["Mean"], ["RMS", "Max", "Min"], ["AbsMean", "CrestFactor", "ShapeFactor"],
                               ["Entropy", "Mean"])}

    def infer(self, p: SignalFeaturesParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if {"Std", "Var", "Kurtosis", "Skewness"} & set(p.features):
            ctx.require(t.shape[2], ">=", 2, "unbiased statistics need two samples", param="features")
        return [TensorType((t.shape[0], len(p.features) * t.shape[1]), t.dtype)]

    def flops(self, p: SignalFeaturesParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 4 * len(p.features) * numel(ins[0])

    def init_code(self, p: SignalFeaturesParams) -> Code:
        return c.call(SignalFeatures.__name__, list(p.features))
