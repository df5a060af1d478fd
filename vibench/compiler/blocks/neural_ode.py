"""``neural_ode``: integrate dx/dt = f(x) with fixed Euler steps, f a small MLP (NeuralODE's solver).

Chen et al., "Neural Ordinary Differential Equations", NeurIPS 2018, with the explicit Euler method
of PHM-Vibench's NO/NeuralODE: the time points are ``linspace(0, t_end, steps + 1)`` and each step
adds ``(t[k + 1] - t[k]) * f(x)``. The ODE function f is PHM-Vibench's ODEFunc: a first Linear
layer, then ``num_layers - 1`` blocks of Linear, activation and Dropout, all ``width`` wide (its
``state_dict`` keys are ``net.0``, ``net.1``, ``net.4``, ... as in the reference). f does not read t,
and acts on the last dimension only, so any leading dimensions are integrated independently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

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
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class NeuralOdeParams(BlockParams):
    num_layers: int = Field(3, ge=1, description="Linear layers of the ODE function f.")
    activation: Literal["relu", "gelu"] = Field("relu", description="Activation after every layer of f but the first.")
    dropout: float = Field(0.1, ge=0, le=1, description="Dropout after every activation of f (training mode).")
    t_end: float = Field(1.0, gt=0, description="Integration interval [0, t_end].")
    steps: int = Field(10, ge=1, le=100_000,
                       description="Euler steps (time points linspace(0, t_end, steps + 1)); forward loops over them.")
    width: int | None = Field(None, ge=1, description="State width H of [..., H] (inferred).")


# -- torch implementation (copied into model.py) ---------------------------------------------


class EulerODE(nn.Module):
    """The state at ``t_end`` of dx/dt = net(x), x(0) = the input, by ``steps`` explicit Euler steps.

    ``net``: Linear, then ``num_layers - 1`` times (Linear, activation, Dropout), all ``width`` wide;
    it acts on the last dimension. Time points ``linspace(0, t_end, steps + 1)``; the step sizes are
    their float32 differences, as in PHM-Vibench's NeuralODE.
    """

    def __init__(
        self,
        width: int,
        num_layers: int = 3,
        activation: str = "relu",
        dropout: float = 0.1,
        t_end: float = 1.0,
        steps: int = 10,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(width, width)]
        for _ in range(num_layers - 1):
            layers += [nn.Linear(width, width), nn.ReLU() if activation == "relu" else nn.GELU(), nn.Dropout(dropout)]
        self.net = nn.Sequential(*layers)
        self.t_end = t_end
        self.steps = steps

    def extra_repr(self) -> str:
        return f"t_end={self.t_end}, steps={self.steps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = torch.linspace(0.0, self.t_end, self.steps + 1, device=x.device)
        for k in range(self.steps):
            x = x + (t[k + 1] - t[k]) * self.net(x)
        return x


# -- block ------------------------------------------------------------------------------------


@register
class NeuralOdeBlock(Block):
    """Integrate dx/dt = f(x) over [0, t_end] with explicit Euler steps, f an MLP on the last dimension.

    Output: the final state, shaped like the input [..., H]. f's weights are ``net.0``, ``net.1``,
    ``net.4``, ... (PHM-Vibench's ODEFunc layout); ``steps`` evaluations of f per call.
    """

    name = "neural_ode"
    Params = NeuralOdeParams
    category = "operator"
    natives = (EulerODE,)
    stochastic = True
    fresh_output = True
    test_ranks = (2, 3)
    test_hints = {"num_layers": (1, 2, 3), "steps": (1, 2, 3)}

    def unread_params(self, p: NeuralOdeParams) -> dict[str, str]:
        # f is one Linear then (Linear, activation, Dropout) per further layer
        return dict.fromkeys(("activation", "dropout"), "with `num_layers` of 2 or more") if p.num_layers == 1 else {}

    def infer(self, p: NeuralOdeParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(2, 9), "[..., H]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.width is not None:
            ctx.equal(t.shape[-1], p.width, port="x", what="state width H", t=t, param="width")
        ctx.set("width", ctx.concrete(t.shape[-1], "the state width H", port="x"))
        return [t]

    def submodule_count(self, p: NeuralOdeParams, ins: list[TensorType]) -> int:
        return 3 * p.num_layers - 2  # Linear, then (Linear, activation, Dropout) per further layer

    def param_count(self, p: NeuralOdeParams, ins: list[TensorType]) -> int:
        assert p.width is not None
        return p.num_layers * (p.width * p.width + p.width)

    def flops(self, p: NeuralOdeParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.width is not None
        return numel(ins[0]) * p.steps * (p.num_layers * 2 * p.width + 2 * p.num_layers + 2)

    def init_code(self, p: NeuralOdeParams) -> Code:
        return c.call(EulerODE.__name__, p.width, num_layers=non_default(p.num_layers, 3),
                      activation=non_default(p.activation, "relu"), dropout=non_default(p.dropout, 0.1),
                      t_end=non_default(p.t_end, 1.0), steps=non_default(p.steps, 10))
