"""Dense layers: linear maps over one dimension and embedding tables."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, INT_DTYPES, Block, ShapeContext, norm_axis, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.codegen.support import _bare, _linear_over
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks import BlockParams


class LinearParams(BlockParams):
    out_features: int = Field(ge=1, description="Output features (the size of dimension `dim` afterwards).")
    bias: bool = Field(True, description="Learnable bias.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from dimension `dim`).")
    dim: int = Field(-1, description="The dimension mapped (default the last). Another dimension, e.g. the time "
                     "steps of [B, L, D] with dim: 1, is mapped without transposing the input; the weights and "
                     "their state_dict keys are an nn.Linear's either way.")


class EmbeddingParams(BlockParams):
    num_embeddings: int = Field(ge=1, description="Vocabulary size: inputs are integers in [0, num_embeddings).")
    embedding_dim: int = Field(ge=1, description="Size of each embedding vector.")
    padding_idx: int | None = Field(None, description="Index whose vector stays zero and gets no gradient.")


@register
class Linear(Block):
    """Affine map over one dimension, [*, in_features] -> [*, out_features] (torch.nn.Linear).

    ``in_features`` is taken from the mapped dimension (``dim``, default the last), which must be
    known at compile time. Another dimension is mapped in place of a transpose, linear, transpose:
    ``dim: 1`` of [B, L, D] (MLP-Mixer's token mixing) is one batched product with the bias as its
    start (``torch.baddbmm``), which skips both copies (about 0.8x the time of the transposed form on
    [8, 1024, 128], one thread). The module is an ``nn.Linear`` either way, so its weights and
    ``state_dict`` keys do not depend on ``dim``; the product is taken only while it is a bare
    ``nn.Linear`` (``_linear_over``): after ``quantize_dynamic``, a LoRA wrapper or with hooks (pruning,
    feature taps) it is called on the transposed input, as a model that transposes would call it
    (TorchScript, which cannot pass a module to a function, always takes that form).
    """

    name = "linear"
    Params = LinearParams
    category = "dense"
    test_ranks = (2, 3)
    test_hints = {"dim": (-1, -1, -2, 0, 1)}
    fresh_output = True
    natives = (_linear_over, _bare)  # dim 0 or 1 only

    def output_is_fresh(self, out: TensorType) -> bool:
        # Over more than two dimensions torch returns the product as a view of a flat one: an in-place
        # activation on it makes autograd copy it back (DenseNetMLP's training step took 1.10x the
        # reference's with relu_ there); on [N, features] it is a tensor of its own.
        return len(out.shape) <= 2

    def infer(self, p: LinearParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, range(1, 9), "[*, in_features]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        rank = len(t.shape)
        axis = norm_axis(ctx, p.dim, rank)
        what = "last dimension" if axis == rank - 1 else f"dimension {axis}"
        if p.in_features is not None:
            ctx.equal(t.shape[axis], p.in_features, port="x", what=f"{what} (in_features)", t=t,
                      param="in_features", hint=_flatten_hint(t, p.in_features) if axis == rank - 1 else None)
        ctx.set("in_features", ctx.concrete(t.shape[axis], f"the {what} (in_features)", port="x"))
        ctx.set("dim", _code_dim(axis, rank))
        return [TensorType(t.shape[:axis] + (p.out_features,) + t.shape[axis + 1:], t.dtype)]

    def param_count(self, p: LinearParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None
        return p.in_features * p.out_features + (p.out_features if p.bias else 0)

    def flops(self, p: LinearParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None
        return 2 * p.in_features * numel(outs[0])

    def init_code(self, p: LinearParams) -> Code:
        return c.call("nn.Linear", p.in_features, p.out_features, bias=non_default(p.bias, True))

    def call_code(self, p: LinearParams, args: list[Code], mod: Code) -> Code:
        (x,) = args
        if p.dim == -1:
            return c.call(mod, x)
        if p.dim < 0:  # moved last and back: two views around the layer
            return c.method(c.call(mod, c.method(x, "movedim", p.dim, -1)), "movedim", -1, p.dim)
        # [in, M] (dim 0) or [B, in, M] (dim 1): weight @ x, the bias a column it starts from.
        transposed = c.method(c.call(mod, c.method(x, "transpose", p.dim, p.dim + 1)), "transpose", p.dim, p.dim + 1)
        return c.if_else(c.call("torch.jit.is_scripting"), transposed, c.call("_linear_over", mod, x, p.dim))

    def native_classes(self, p: LinearParams) -> tuple[Any, ...]:
        return self.natives if p.dim in (0, 1) else ()


def _code_dim(axis: int, rank: int) -> int:
    """``dim`` as the code is chosen by it (the code is built from the parameters alone, not the
    rank): -1 the last dimension; 0 the first of [in, M] and 1 the middle of [B, in, M], the matrix
    products; any other dimension counted from the end (-2, -3, ...), moved last and back."""
    if axis == rank - 1:
        return -1
    if (rank, axis) in ((2, 0), (3, 1)):
        return axis
    return axis - rank


def _flatten_hint(t: TensorType, in_features: int) -> str | None:
    if len(t.shape) >= 3 and product(t.shape[1:]) == in_features:
        return "insert `{block: flatten, in: ...}` before this node (linear maps only the last dimension)"
    if len(t.shape) >= 3:
        return "linear maps the last dimension; flatten or pool the input first, or drop `in_features` to infer it"
    return "drop `in_features` to infer it from the input"


@register
class Embedding(Block):
    """Lookup table from integer ids to vectors, [*] int64 -> [*, embedding_dim] (torch.nn.Embedding)."""

    name = "embedding"
    Params = EmbeddingParams
    category = "dense"
    fresh_output = True
    test_ranks = (2,)
    test_dtypes = ("int64",)
    test_hints = {"num_embeddings": (2, 5, 16)}  # random test ids are 0 and 1

    def infer(self, p: EmbeddingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, INT_DTYPES, "integer ids")
        if p.padding_idx is not None and not -p.num_embeddings <= p.padding_idx < p.num_embeddings:
            raise ctx.fail("padding_idx must index the table", param="padding_idx",
                           expected=f"in [{-p.num_embeddings}, {p.num_embeddings - 1}]", found=str(p.padding_idx))
        return [TensorType(t.shape + (p.embedding_dim,), ctx.float_dtype)]

    def param_count(self, p: EmbeddingParams, ins: list[TensorType]) -> int:
        return p.num_embeddings * p.embedding_dim

    def flops(self, p: EmbeddingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0

    def init_code(self, p: EmbeddingParams) -> Code:
        return c.call("nn.Embedding", p.num_embeddings, p.embedding_dim, padding_idx=non_default(p.padding_idx, None))
