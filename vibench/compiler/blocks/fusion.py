"""Ensemble fusion: several same-shaped outputs (e.g. of a `for_each` node) into one.

One torch class per strategy; each takes the list of N same-shaped tensors [..., D] and returns [..., D].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, fmt_shape
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class EnsembleFusionParams(BlockParams):
    strategy: Literal["attention", "mean", "concat", "gated"] = Field(
        "attention",
        description="mean: average; concat: concatenate features, project back to D; gated: per-token softmax "
        "gates from the concatenated features; attention: per-token additive attention over the members.",
    )
    d_model: int | None = Field(None, ge=1, description="Feature width D (inferred from the inputs).")
    num_members: int | None = Field(None, ge=1, description="Number of fused tensors (inferred from the inputs).")


# -- torch implementations (copied into model.py) --------------------------------------------


class MeanFusion(nn.Module):
    """Average the members."""

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(members, dim=-2).mean(dim=-2)


class ConcatFusion(nn.Module):
    """Concatenate the members' features and project N*D back to D."""

    def __init__(self, num_members: int, d_model: int) -> None:
        super().__init__()
        self.proj = nn.Linear(num_members * d_model, d_model)

    def extra_repr(self) -> str:
        return f"num_members={self.proj.in_features // self.proj.out_features}, d_model={self.proj.out_features}"

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        return self.proj(torch.cat(members, dim=-1))


class GatedFusion(nn.Module):
    """Per-position softmax gates over the members, computed from their concatenated features."""

    def __init__(self, num_members: int, d_model: int) -> None:
        super().__init__()
        self.gate = nn.Linear(num_members * d_model, num_members)

    def extra_repr(self) -> str:
        return f"num_members={self.gate.out_features}, d_model={self.gate.in_features // self.gate.out_features}"

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        weights = torch.softmax(self.gate(torch.cat(members, dim=-1)), dim=-1)  # [..., N]
        return (weights.unsqueeze(-1) * torch.stack(members, dim=-2)).sum(dim=-2)


class AttentionFusion(nn.Module):
    """Additive attention over the members per position: softmax of ``v . tanh(W h + b)``."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.score = nn.Linear(d_model, d_model)
        self.context = nn.Linear(d_model, 1, bias=False)

    def extra_repr(self) -> str:
        return f"d_model={self.score.in_features}"

    def forward(self, members: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(members, dim=-2)  # [..., N, D]
        weights = torch.softmax(self.context(torch.tanh(self.score(stacked))).squeeze(-1), dim=-1)
        return (weights.unsqueeze(-1) * stacked).sum(dim=-2)


# -- blocks -----------------------------------------------------------------------------------

_CLASSES = {"mean": MeanFusion, "concat": ConcatFusion, "gated": GatedFusion, "attention": AttentionFusion}


@register
class EnsembleFusion(Block):
    """Fuse N same-shaped feature tensors [..., D] into one: attention, mean, concat (+ projection) or gated.

    Takes a list (`in: [a, b]`, or a `for_each` node whole). Output [..., D]. Parameters: none for
    ``mean``; N*D*D + D for ``concat``; N*D*N + N for ``gated``; D*D + 2*D for ``attention``.
    """

    name = "ensemble_fusion"
    Params = EnsembleFusionParams
    category = "ensemble"
    inputs = ("inputs",)
    variadic = True
    min_inputs = 1
    natives = (MeanFusion, ConcatFusion, GatedFusion, AttentionFusion)
    fresh_output = True  # a mean, a weighted sum or a projection of the members
    test_ranks = (3,)

    def infer(self, p: EnsembleFusionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        first = ins[0]
        ctx.rank("inputs", first, range(1, 9), "[..., D]")
        for t in ins:
            ctx.dtype("inputs", t, FLOAT_DTYPES)
            ctx.dtype("inputs", t, frozenset({first.dtype}), f"{first.dtype}, the dtype of the first input")
            if len(t.shape) != len(first.shape):
                raise ctx.fail("the fused tensors must have the same rank", port="inputs",
                               expected=fmt_shape(first.shape), found=fmt_shape(t.shape))
            for a, b in zip(t.shape, first.shape, strict=True):
                ctx.equal(a, b, port="inputs", what="the fused tensors' shapes", t=t)
        if p.d_model is not None:
            ctx.equal(first.shape[-1], p.d_model, port="inputs", what="feature width D", t=first, param="d_model")
        ctx.set("d_model", ctx.concrete(first.shape[-1], "the feature width D", port="inputs"))
        ctx.set("num_members", len(ins))
        return [first]

    def param_count(self, p: EnsembleFusionParams, ins: list[TensorType]) -> int:
        assert p.d_model is not None
        n, d = len(ins), p.d_model
        return {"mean": 0, "concat": n * d * d + d, "gated": n * d * n + n, "attention": d * d + 2 * d}[p.strategy]

    def flops(self, p: EnsembleFusionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.d_model is not None
        n = len(ins)
        # Per output element: the weighted sum (2n) plus the strategy's own layers.
        extra = {"mean": 0, "concat": 2 * n * p.d_model, "gated": 2 * n * n, "attention": 2 * n * (p.d_model + 1)}
        return numel(outs[0]) * (2 * n + extra[p.strategy])

    def native_classes(self, p: EnsembleFusionParams) -> tuple[type, ...]:
        return (_CLASSES[p.strategy],)

    def init_code(self, p: EnsembleFusionParams) -> Code:
        if p.strategy == "mean":
            return c.call(MeanFusion.__name__)
        if p.strategy == "attention":
            return c.call(AttentionFusion.__name__, p.d_model)
        return c.call(_CLASSES[p.strategy].__name__, p.num_members, p.d_model)

    def call_code(self, p: EnsembleFusionParams, args: list[Code], mod: Code) -> Code:
        return c.call(mod, c.list_of(*args))
