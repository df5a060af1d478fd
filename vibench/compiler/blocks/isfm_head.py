"""ISFM task-head blocks: named activations, reference-layout MLPs, cross-attention and H_03's
universal projection.

The heads with one set of weights per system (H_01's classifiers, H_02's prototypes) and their
``SystemRouter`` are in :mod:`vibench.compiler.blocks.isfm_routing`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch

ActivationName = Literal["relu", "gelu", "tanh", "sigmoid", "leaky_relu", "elu", "ELU", "softplus", "silu", "none"]


class IsfmActivationParams(BlockParams):
    name: ActivationName = Field(
        description="Activation as the ISFM reference components name it (leaky_relu has slope 0.1, 'ELU' is "
        "E_03_Patch's spelling of elu, 'none' is the identity)."
    )


class IsfmMlpParams(BlockParams):
    layers: tuple[Annotated[int, Field(ge=1)], ...] = Field(
        min_length=1, description="Output widths of the Linear layers, in order (each at least 1)."
    )
    activation: ActivationName = Field("relu", description="Activation after every Linear but the last.")
    last_activation: ActivationName = Field("none", description="Activation after the last Linear.")
    batch_norm: bool = Field(False, description="BatchNorm1d after every Linear that an activation follows.")
    scale: float = Field(1.0, description="Constant the output is multiplied by (MultiTaskHead's rul_max_value).")
    dropout: float | None = Field(
        None, ge=0, le=1, description="A Dropout of this rate after each activation but the last (None: no Dropout)."
    )
    layer_norm: bool = Field(False, description="A LayerNorm over the output, last in the Sequential (H_10 use_norm).")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")


class IsfmCrossAttentionParams(BlockParams):
    num_heads: int = Field(8, ge=1, description="Attention heads; the width D must divide by it.")
    qkv_bias: bool = Field(False, description="Biases in the query and key/value projections.")
    dim: int | None = Field(None, ge=1, description="Feature width D (inferred from the inputs).")


class IsfmUniversalProjectionParams(BlockParams):
    max_len: int = Field(ge=1, description="Longest prediction (rows of the projection's output).")
    max_out: int = Field(ge=1, description="Most channels of a prediction.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")


# -- torch implementations (copied into model.py) --------------------------------------------


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

    def extra_repr(self) -> str:
        return f"dim={self.proj.in_features}, num_heads={self.num_heads}"

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

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[0]}, max_len={self.max_len}, max_out={self.max_out}"

    def forward(self, x: torch.Tensor, length: int, channels: int) -> torch.Tensor:
        if length > self.max_len or channels > self.max_out:
            raise ValueError("UniversalProjection: the requested prediction is longer or wider than max_len x max_out")
        # One addmm, as the reference's F.linear(x, weight.T, bias) (a matmul and an add cost a pass more).
        y = F.linear(x, self.weight.t(), self.bias).view(x.shape[0], self.max_len, self.max_out)
        return y[:, :length, :channels]


# -- helpers shared with isfm_routing ---------------------------------------------------------

# The parameter-free torch module of each activation name, as the references hold them.
_MODULES: dict[str, tuple[str, tuple[float, ...]]] = {
    "relu": ("nn.ReLU", ()), "gelu": ("nn.GELU", ()), "tanh": ("nn.Tanh", ()), "sigmoid": ("nn.Sigmoid", ()),
    "leaky_relu": ("nn.LeakyReLU", (0.1,)), "elu": ("nn.ELU", ()), "ELU": ("nn.ELU", ()),
    "softplus": ("nn.Softplus", ()), "silu": ("nn.SiLU", ()), "none": ("nn.Identity", ()),
}


# The activations whose backward reads their result (not their input): in place after a layer whose
# backward does not read its output. LeakyReLU's slope (0.1) is positive, as in-place backward needs.
_IN_PLACE = frozenset({"relu", "leaky_relu", "elu", "ELU"})


def activation_module(name: str, inplace: bool = False) -> Code:
    """``nn.GELU()``, ``nn.LeakyReLU(0.1)``, ... for an :data:`ActivationName` (``inplace=True`` passed on:
    for a name in :data:`_IN_PLACE` only)."""
    cls, args = _MODULES[name]
    assert not inplace or name in _IN_PLACE
    return c.call(cls, *args, inplace=True) if inplace else c.call(cls, *args)


def feature_width(ctx: ShapeContext, t: TensorType, given: int | None, param: str, port: str = "x",
                  ranks: range | int = range(2, 9)) -> int:
    """The concrete last dimension of ``t`` (checked against ``given``)."""
    ctx.rank(port, t, ranks, "[B, ..., F]")
    ctx.dtype(port, t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[-1], given, port=port, what=f"last dimension ({param})", t=t, param=param)
    return ctx.concrete(t.shape[-1], f"the last dimension ({param})", port=port)


# -- blocks -----------------------------------------------------------------------------------


@register
class IsfmActivation(Block):
    """An activation chosen by name, as the ISFM reference components read it from their config.

    relu, gelu, tanh, sigmoid, leaky_relu (slope 0.1, the reference tables' value), elu (also
    spelt 'ELU', E_03_Patch's key), softplus, silu, or none (the identity). Same shape out; emitted as
    the parameter-free torch module (nn.GELU(), nn.LeakyReLU(0.1)...), as the references hold them.
    """

    name = "isfm_activation"
    Params = IsfmActivationParams
    category = "activation"
    test_ranks = (2, 3)

    def infer(self, p: IsfmActivationParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, FLOAT_DTYPES)
        return [t]

    def flops(self, p: IsfmActivationParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0 if p.name == "none" else numel(outs[0])

    def init_code(self, p: IsfmActivationParams) -> Code | None:
        return None if p.name == "none" else activation_module(p.name)  # parameter-free, like the reference's

    def call_code(self, p: IsfmActivationParams, args: list[Code], mod: Code) -> Code:
        return args[0] if p.name == "none" else c.call(mod, args[0])


@register
class IsfmMlp(Block):
    """Linear layers with activations in one nn.Sequential, indexed as the ISFM references index them.

    Each Linear is followed by an optional ``BatchNorm1d`` and its activation: ``activation`` after
    every Linear but the last, ``last_activation`` after the last ('none': nothing follows it), and,
    with ``dropout`` set (0 included), a ``Dropout`` after every activation but the last, and with
    ``layer_norm`` a ``LayerNorm`` at the end. So MultiTaskHead's ``shared_layers`` keep their keys
    (``0`` Linear, ``1`` BatchNorm1d, ``2`` activation, ``3`` Linear...), and H_10's projection its
    ``projection.3`` LayerNorm. The output is multiplied by ``scale`` when it is not 1.
    [*, F] -> [*, layers[-1]]; ``batch_norm`` needs a 2-D input [B, F].
    """

    name = "isfm_mlp"
    Params = IsfmMlpParams
    category = "dense"
    test_ranks = (2, 3)
    test_hints = {"layers": ((4,), (8, 1), (6, 3, 2)), "dropout": (None, 0.0)}

    def infer(self, p: IsfmMlpParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ranks: range | int = 2 if p.batch_norm else range(1, 9)
        ctx.set("in_features", feature_width(ctx, t, p.in_features, "in_features", ranks=ranks))
        return [TensorType(t.shape[:-1] + (p.layers[-1],), t.dtype)]

    def _modules(self, p: IsfmMlpParams) -> list[tuple[str, int, int]]:
        """(module, in, out) per entry of the Sequential: 'linear', 'norm' or an activation name."""
        assert p.in_features is not None
        modules: list[tuple[str, int, int]] = []
        width = p.in_features
        for k, out in enumerate(p.layers):
            modules.append(("linear", width, out))
            act = p.last_activation if k == len(p.layers) - 1 else p.activation
            if k < len(p.layers) - 1 or act != "none":
                modules += [("norm", out, out)] if p.batch_norm else []
                modules.append((act, out, out))
                if p.dropout is not None and k < len(p.layers) - 1:
                    modules.append(("dropout", out, out))
            width = out
        if p.layer_norm:
            modules.append(("layer_norm", width, width))
        return modules

    def param_count(self, p: IsfmMlpParams, ins: list[TensorType]) -> int:
        return sum(i * o + o if kind == "linear" else 2 * o if kind in ("norm", "layer_norm") else 0
                   for kind, i, o in self._modules(p))

    def flops(self, p: IsfmMlpParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        per_row = sum(2 * i * o if kind == "linear" else 0 if kind == "dropout" else 4 * o
                      for kind, i, o in self._modules(p))
        return product(outs[0].shape[:-1]) * per_row

    def init_code(self, p: IsfmMlpParams) -> Code:
        # An activation here always follows a Linear or a BatchNorm1d, whose backward needs its input, not
        # its output: ReLU, LeakyReLU and ELU (whose own backward reads their result) work in place, as
        # H_10's reference ReLU does (one allocation less per layer; the others would save a copy of it).
        parts = [c.call("nn.Linear", i, o) if kind == "linear" else c.call("nn.BatchNorm1d", o) if kind == "norm"
                 else c.call("nn.LayerNorm", o) if kind == "layer_norm"
                 else c.call("nn.Dropout", p.dropout) if kind == "dropout"
                 else activation_module(kind, inplace=kind in _IN_PLACE)
                 for kind, i, o in self._modules(p)]
        return c.call("nn.Sequential", *parts)

    def call_code(self, p: IsfmMlpParams, args: list[Code], mod: Code) -> Code:
        out = c.call(mod, args[0])
        return out if p.scale == 1.0 else c.binop(out, "*", p.scale)


@register
class IsfmCrossAttentionBlock(Block):
    """Multi-head cross-attention with separate q / kv projections (ISFM H_02 ``cross_att``).

    ``query`` [B, M, D] attends over ``x`` [B, N, D]; output [B, M, D]. Weights ``q`` (D x D),
    ``kv`` (2D x D), without biases unless ``qkv_bias``, and ``proj`` (D x D with bias). D must be
    known and divide by ``num_heads``.
    """

    name = "isfm_cross_attention"
    Params = IsfmCrossAttentionParams
    category = "attention"
    inputs = ("query", "x")
    natives = (IsfmCrossAttention,)
    imports = ("F",)  # F.scaled_dot_product_attention
    fresh_output = True  # the output projection's result
    test_layouts = (("B M D", "B N D"),)
    test_hints = {"num_heads": (1, 2, 4)}

    def infer(self, p: IsfmCrossAttentionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        query, x = ins
        ctx.rank("query", query, 3, "[B, M, D]")
        dim = feature_width(ctx, x, p.dim, "dim", ranks=3)
        ctx.dtype("query", query, FLOAT_DTYPES)
        ctx.dtype("x", x, frozenset({query.dtype}), f"{query.dtype}, the dtype of query")
        ctx.equal(query.shape[0], x.shape[0], port="query", what="batch size of query and x", t=query)
        ctx.equal(query.shape[2], dim, port="query", what="width D of query and x", t=query)
        if dim % p.num_heads:
            raise ctx.fail(f"the width {dim} does not divide into {p.num_heads} heads", param="num_heads",
                           expected=f"num_heads dividing {dim}", found=str(p.num_heads),
                           hint="H_02_distance_cla uses 8 heads: its output_dim must be a multiple of 8")
        ctx.set("dim", dim)
        return [query]

    def param_count(self, p: IsfmCrossAttentionParams, ins: list[TensorType]) -> int:
        assert p.dim is not None
        d = p.dim
        return 4 * d * d + d + (3 * d if p.qkv_bias else 0)

    def flops(self, p: IsfmCrossAttentionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.dim is not None
        query, x = ins
        b, m, d = query.shape
        n = x.shape[1]
        return 2 * b * (2 * m * d * d + 2 * n * d * d) + 4 * b * m * n * d

    def init_code(self, p: IsfmCrossAttentionParams) -> Code:
        return c.call(IsfmCrossAttention.__name__, p.dim, num_heads=non_default(p.num_heads, 8),
                      qkv_bias=non_default(p.qkv_bias, False))


@register
class IsfmUniversalProjection(Block):
    """H_03_Linear_pred's universal projection: [B, F] -> [B, L, C] cut from [B, max_len, max_out].

    ``weight`` [F, max_len * max_out] (N(0, 1) init) and ``bias``; the prediction takes the shape of
    the optional ``target`` [B, L, C] (the signal it predicts; only its shape is read), which needs
    ``L <= max_len`` and ``C <= max_out``. Without ``target`` the whole [B, max_len, max_out] is
    returned.
    """

    name = "isfm_universal_projection"
    Params = IsfmUniversalProjectionParams
    category = "dense"
    inputs = ("x", "target")
    optional_inputs = ("target",)
    natives = (UniversalProjection,)
    imports = ("F",)  # F.linear
    test_layouts = (("B F",), ("B F", "B L C"))
    test_hints = {"max_len": (8, 32, 64), "max_out": (1, 3, 8)}

    def infer(self, p: IsfmUniversalProjectionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.set("in_features", feature_width(ctx, x, p.in_features, "in_features", ranks=2))
        if len(ins) == 1:
            return [TensorType((x.shape[0], p.max_len, p.max_out), x.dtype)]
        target = ins[1]
        ctx.rank("target", target, 3, "[B, L, C]")
        ctx.equal(target.shape[0], x.shape[0], port="target", what="batch size of target and x", t=target)
        _, length, channels = target.shape
        ctx.require(length, "<=", p.max_len, f"the prediction fits the projection's {p.max_len} steps (max_len)",
                    param="max_len")
        ctx.require(channels, "<=", p.max_out, f"the prediction fits the projection's {p.max_out} channels "
                    "(max_out)", param="max_out")
        return [TensorType((x.shape[0], length, channels), x.dtype)]

    def param_count(self, p: IsfmUniversalProjectionParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None
        return (p.in_features + 1) * p.max_len * p.max_out

    def flops(self, p: IsfmUniversalProjectionParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None
        return 2 * ins[0].shape[0] * p.in_features * p.max_len * p.max_out

    def init_code(self, p: IsfmUniversalProjectionParams) -> Code:
        return c.call(UniversalProjection.__name__, p.in_features, max_len=p.max_len, max_out=p.max_out)

    def call_code(self, p: IsfmUniversalProjectionParams, args: list[Code], mod: Code) -> Code:
        if len(args) == 1:
            # The module's own sizes, not p's: the copies of a `for_each`/`repeat` node share one call
            # line (the first copy's), so literals from p would crop every copy to the first's size.
            return c.call(mod, args[0], c.attr(mod, "max_len"), c.attr(mod, "max_out"))
        target = args[1]  # the signal to predict: only its shape is read
        return c.call(mod, args[0], c.index(c.attr(target, "shape"), 1), c.index(c.attr(target, "shape"), 2))
