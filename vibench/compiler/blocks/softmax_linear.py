"""``softmax_linear``: a linear map whose weight is softmax-normalised with a temperature (TSPN's weight connection).

PHM-Vibench's X_model/TSPN mixes channels with ``Linear(C_in, C_out)`` whose weight is replaced by
``softmax(weight / temperature, dim=0)`` before use: each input channel spreads over the output
channels with weights that sum to one (temperature 0.1 sharpens the choice). The bias is plain.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch


class SoftmaxLinearParams(BlockParams):
    out_features: int = Field(ge=1, description="Output features.")
    temperature: float = Field(0.1, gt=0, description="Softmax temperature of the weight (smaller: sharper).")
    in_features: int | None = Field(None, ge=1, description="Input features, the last dimension (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class SoftmaxLinear(nn.Module):
    """``x @ softmax(weight / temperature, dim=0).T + bias``: each input feature spreads over the outputs.

    ``weight`` [out, in] and ``bias`` [out] are initialised as torch.nn.Linear's.
    """

    def __init__(self, in_features: int, out_features: int, temperature: float = 0.1) -> None:
        super().__init__()
        self.temperature = temperature
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        nn.init.uniform_(self.bias, -1 / math.sqrt(in_features), 1 / math.sqrt(in_features))

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return f"in_features={in_features}, out_features={out_features}, temperature={self.temperature}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, torch.softmax(self.weight / self.temperature, dim=0), self.bias)


# -- block ------------------------------------------------------------------------------------


@register
class SoftmaxLinearBlock(Block):
    """Linear map over the last dimension with a softmax-normalised weight (softmax over the outputs).

    [..., C_in] -> [..., out_features]; the weight used is ``softmax(weight / temperature, dim=0)``,
    so every input feature distributes a unit mass over the outputs (TSPN's weight connection).
    """

    name = "softmax_linear"
    Params = SoftmaxLinearParams
    category = "dense"
    natives = (SoftmaxLinear,)
    imports = ("F", "math")
    fresh_output = True
    test_ranks = (2, 3)

    def infer(self, p: SoftmaxLinearParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(1, 9), "[..., C]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.in_features is not None:
            ctx.equal(t.shape[-1], p.in_features, port="x", what="input features", t=t, param="in_features")
        ctx.set("in_features", ctx.concrete(t.shape[-1], "the input features", port="x"))
        return [TensorType((*t.shape[:-1], p.out_features), t.dtype)]

    def param_count(self, p: SoftmaxLinearParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None
        return p.out_features * (p.in_features + 1)

    def flops(self, p: SoftmaxLinearParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None
        return 2 * p.in_features * numel(outs[0]) + 3 * p.in_features * p.out_features

    def init_code(self, p: SoftmaxLinearParams) -> Code:
        return c.call(SoftmaxLinear.__name__, p.in_features, p.out_features,
                      temperature=non_default(p.temperature, 0.1))
