"""Recurrent layers over [B, L, C]: LSTM and GRU (torch.nn.LSTM / GRU with ``batch_first=True``).

Outputs, read as ports: ``out`` [B, L, H * dirs] (the default), ``h_n`` [layers * dirs, B, H] and,
for the LSTM, ``c_n`` [layers * dirs, B, H]; dirs is 2 when bidirectional. Sequences start from a
zero state. ``dropout`` acts between stacked layers only, so it is emitted only when
``num_layers > 1`` (torch warns about it otherwise and it would change nothing).

``num_layers`` is at most :data:`MAX_LAYERS`, and each layer (of each direction) counts as a module against
the model's node budget (E213): torch's constructor takes time quadratic in the layers (each weight it sets
looks its name up in the list of those set before), 1.4 s for 4,000 layers and 8.8 s for 8,000 (measured with
torch 2.13 on one CPU core), so 99,000 layers of hidden size 1, which the weight budget allows, took 25 minutes.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

MAX_LAYERS = 1_000
"""Stacked layers of one recurrent block: torch builds 1,000 in 0.3 s (0.7 s bidirectional), 2,000 in 0.8 s
(3.1 s). Real models stack a handful."""


class RecurrentParams(BlockParams):
    hidden_size: int = Field(ge=1, description="Hidden state size H.")
    num_layers: int = Field(1, ge=1, le=MAX_LAYERS, description="Stacked recurrent layers (torch's constructor "
                            "takes time quadratic in them).")
    bias: bool = Field(True, description="Bias weights.")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout between layers (not after the last).")
    bidirectional: bool = Field(False, description="Run both directions; the output width doubles.")
    input_size: int | None = Field(None, ge=1, description="Input features C of [B, L, C] (inferred).")


class _Recurrent(Block):
    Params = RecurrentParams
    category = "recurrent"
    stochastic = True
    test_layouts = (("B L C",),)
    gates: ClassVar[int]
    module: ClassVar[str]

    def unread_params(self, p: RecurrentParams) -> dict[str, str]:
        return {"dropout": "between layers (`num_layers` of 2 or more)"} if p.num_layers == 1 else {}

    def infer(self, p: RecurrentParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, C]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        if p.input_size is not None:
            ctx.equal(t.shape[2], p.input_size, port="x", what="input features C (input_size)", t=t,
                      param="input_size")
        ctx.set("input_size", ctx.concrete(t.shape[2], "the input features C (input_size)", port="x"))
        b, length, _ = t.shape
        dirs = 2 if p.bidirectional else 1
        out = TensorType((b, length, p.hidden_size * dirs), t.dtype)
        state = TensorType((p.num_layers * dirs, b, p.hidden_size), t.dtype)
        return [out] + [state] * (len(self.outputs) - 1)

    def _layer_inputs(self, p: RecurrentParams) -> list[tuple[int, int]]:
        """(input width, how many layers have it): the first layer reads the input, the others the
        previous layer's output."""
        assert p.input_size is not None
        dirs = 2 if p.bidirectional else 1
        return [(p.input_size, 1), (p.hidden_size * dirs, p.num_layers - 1)]

    def param_count(self, p: RecurrentParams, ins: list[TensorType]) -> int:
        dirs = 2 if p.bidirectional else 1
        rows = self.gates * p.hidden_size
        total = 0
        for width, layers in self._layer_inputs(p):
            total += layers * dirs * (rows * (width + p.hidden_size) + (2 * rows if p.bias else 0))
        return total

    def submodule_count(self, p: RecurrentParams, ins: list[TensorType]) -> int:
        """One per layer and direction: what the constructor builds grows with them, as modules do."""
        return p.num_layers * (2 if p.bidirectional else 1)

    def flops(self, p: RecurrentParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        dirs = 2 if p.bidirectional else 1
        b, length, _ = ins[0].shape
        rows = self.gates * p.hidden_size
        per_step = sum(n * (2 * rows * (width + p.hidden_size) + 4 * rows) for width, n in self._layer_inputs(p))
        return b * length * dirs * per_step

    def init_code(self, p: RecurrentParams) -> Code:
        return c.call(
            self.module, p.input_size, p.hidden_size,
            num_layers=non_default(p.num_layers, 1),
            bias=non_default(p.bias, True),
            batch_first=True,
            dropout=non_default(p.dropout if p.num_layers > 1 else 0.0, 0.0),
            bidirectional=non_default(p.bidirectional, False),
        )


@register
class Lstm(_Recurrent):
    """Long short-term memory layer(s) over [B, L, C] -> out [B, L, H * dirs], h_n and c_n.

    torch.nn.LSTM with ``batch_first=True``; ``h_n`` and ``c_n`` are [layers * dirs, B, H], the final
    hidden and cell states. ``input_size`` is taken from the input.
    """

    name = "lstm"
    outputs = ("out", "h_n", "c_n")
    gates = 4
    module = "nn.LSTM"

    def unpack(self, outs: list[Code]) -> Code:
        return c.tuple_of(outs[0], c.tuple_of(outs[1], outs[2]))


@register
class Gru(_Recurrent):
    """Gated recurrent unit layer(s) over [B, L, C] -> out [B, L, H * dirs] and h_n.

    torch.nn.GRU with ``batch_first=True``; ``h_n`` is [layers * dirs, B, H], the final hidden
    state. ``input_size`` is taken from the input.
    """

    name = "gru"
    outputs = ("out", "h_n")
    gates = 3
    module = "nn.GRU"
