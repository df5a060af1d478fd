"""``learned_table``: a learned [rows, width] parameter broadcast over a batch of sequences."""

from __future__ import annotations

from pydantic import Field

from vibench.compiler.blocks.base import ALL_DTYPES, Block, ShapeContext
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class LearnedTableParams(BlockParams):
    rows: int = Field(ge=1, description="Rows of the table: 1 (one vector for every step) or the sequence length L.")
    width: int = Field(ge=1, description="Width of a row (the output's last dimension).")


@register
class LearnedTable(Block):
    """A learned [rows, width] table broadcast to [B, L, width] beside x [B, L, *] (Xavier-uniform init).

    One row is repeated for every step (``rows: 1``), or each of L rows is its step's vector
    (``rows`` must then equal L). The table is the parameter ``<node>`` itself (its ``state_dict`` key
    is the node name), e.g. STAEformer-style node and adaptive embeddings (PHM-Vibench E_com_00_PE).
    Only x's batch and length are read.
    """

    name = "learned_table"
    Params = LearnedTableParams
    category = "position"
    init_kind = "parameter"
    test_hints = {"rows": (1,)}

    def infer(self, p: LearnedTableParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, *]")
        ctx.dtype("x", t, ALL_DTYPES)
        b, length, _ = t.shape
        if p.rows != 1:
            ctx.equal(length, p.rows, port="x", what="sequence length L (one table row per step)", t=t, param="rows")
        return [TensorType((b, length, p.width), ctx.float_dtype)]

    def param_count(self, p: LearnedTableParams, ins: list[TensorType]) -> int:
        return p.rows * p.width

    def flops(self, p: LearnedTableParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0  # a view

    def init_code(self, p: LearnedTableParams) -> Code:
        return c.call("nn.Parameter", c.call("nn.init.xavier_uniform_", c.call("torch.empty", p.rows, p.width)))

    def call_code(self, p: LearnedTableParams, args: list[Code], mod: Code) -> Code:
        shape = c.attr(args[0], "shape")
        return c.method(mod, "expand", c.index(shape, 0), c.index(shape, 1), -1)
