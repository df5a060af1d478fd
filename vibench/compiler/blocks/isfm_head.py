"""ISFM task-head blocks: named activations, reference-layout MLPs, per-system classifiers and
prototypes, cross-attention and H_03's universal projection.

Heads with one set of weights per system take ``num_classes`` as the reference does, a mapping
system id -> class count, and route each sample by the ``system_id`` input [B] (the native
``SystemRouter``; logits are padded with -inf up to the widest system).
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, call, non_default, numel, py
from vibench.compiler.blocks.isfm_hse import system_port
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks_isfm_head import (
    IsfmActivationParams,
    IsfmCrossAttentionParams,
    IsfmMlpParams,
    IsfmSystemClassifierParams,
    IsfmSystemPrototypesParams,
    IsfmUniversalProjectionParams,
)

_MODULES = {"relu": "nn.ReLU()", "gelu": "nn.GELU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()",
            "leaky_relu": "nn.LeakyReLU(0.1)", "elu": "nn.ELU()", "ELU": "nn.ELU()", "softplus": "nn.Softplus()",
            "silu": "nn.SiLU()", "none": "nn.Identity()"}


def _features(ctx: ShapeContext, t: TensorType, given: int | None, param: str, port: str = "x",
              ranks: range | int = range(2, 9)) -> int:
    """The concrete last dimension of ``t`` (checked against ``given``)."""
    ctx.rank(port, t, ranks, "[B, ..., F]")
    ctx.dtype(port, t, FLOAT_DTYPES)
    if given is not None:
        ctx.equal(t.shape[-1], given, port=port, what=f"last dimension ({param})", t=t, param=param)
    return ctx.concrete(t.shape[-1], f"the last dimension ({param})", port=port)


def _classes(num_classes: int | dict[str, int]) -> list[int]:
    return list(num_classes.values()) if isinstance(num_classes, dict) else [num_classes]


def _router(heads: dict[str, str], width: int, in_features: int) -> str:
    inner = ", ".join(f'"{k}": {h}' for k, h in heads.items())
    widths = ", ".join(f'"{k}": {in_features}' for k in heads)
    return f"SystemRouter({{{inner}}}, in_features={{{widths}}}, out_features={width})"


def _routed_call(p: Any, args: list[str], mod: str) -> str:
    if not isinstance(p.num_classes, dict):
        return f"{mod}({args[0]})"  # one set of weights for every sample: system_id is not read
    return f"{mod}({', '.join(args)})"


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

    def init_code(self, p: IsfmActivationParams) -> str | None:
        return None if p.name == "none" else _MODULES[p.name]  # a parameter-free module, like the reference's

    def call_code(self, p: IsfmActivationParams, args: list[str], mod: str) -> str:
        return args[0] if p.name == "none" else f"{mod}({args[0]})"


@register
class IsfmMlp(Block):
    """Linear layers with activations in one nn.Sequential, indexed as the ISFM references index them.

    Each Linear is followed by an optional ``BatchNorm1d`` and its activation: ``activation`` after
    every Linear but the last, ``last_activation`` after the last ('none': nothing follows it). So
    MultiTaskHead's ``shared_layers`` keep their keys (``0`` Linear, ``1`` BatchNorm1d, ``2``
    activation, ``3`` Linear...). The output is multiplied by ``scale`` when it is not 1.
    [*, F] -> [*, layers[-1]]; ``batch_norm`` needs a 2-D input [B, F].
    """

    name = "isfm_mlp"
    Params = IsfmMlpParams
    category = "dense"
    test_ranks = (2, 3)
    test_hints = {"layers": ((4,), (8, 1), (6, 3, 2))}

    def infer(self, p: IsfmMlpParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ranks: range | int = 2 if p.batch_norm else range(1, 9)
        ctx.set("in_features", _features(ctx, t, p.in_features, "in_features", ranks=ranks))
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
            width = out
        return modules

    def param_count(self, p: IsfmMlpParams, ins: list[TensorType]) -> int:
        return sum(i * o + o if kind == "linear" else 2 * o if kind == "norm" else 0
                   for kind, i, o in self._modules(p))

    def flops(self, p: IsfmMlpParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        per_row = sum(2 * i * o if kind == "linear" else 4 * o for kind, i, o in self._modules(p))
        return product(outs[0].shape[:-1]) * per_row

    def init_code(self, p: IsfmMlpParams) -> str:
        parts = [f"nn.Linear({i}, {o})" if kind == "linear" else f"nn.BatchNorm1d({o})" if kind == "norm"
                 else _MODULES[kind] for kind, i, o in self._modules(p)]
        return f"nn.Sequential({', '.join(parts)})"

    def call_code(self, p: IsfmMlpParams, args: list[str], mod: str) -> str:
        return f"{mod}({args[0]})" if p.scale == 1.0 else f"{mod}({args[0]}) * {py(p.scale)}"


@register
class IsfmSystemClassifier(Block):
    """Class logits from one head per system (ISFM H_01 ``mutiple_fc``, MultiTaskHead): [B, F] -> [B, n].

    Each system's head is ``Linear(F, n_s)``, or with ``hidden_features`` h: ``Linear(F, h)``,
    activation, ``Linear(h, n_s)``. Each sample uses its own system's head (port ``system_id``, [B]
    integers; optional with one system); n is the largest n_s and a narrower system's missing
    classes are -inf. An id without a head raises ValueError. For one head shared by every sample
    use ``linear`` or ``isfm_mlp``.
    """

    name = "isfm_system_classifier"
    Params = IsfmSystemClassifierParams
    category = "dense"
    inputs = ("x", "system_id")
    optional_inputs = ("system_id",)
    natives = ("SystemRouter",)
    test_ranks = (2,)
    test_hints = {"num_classes": ({"1": 4}, {"7": 2}, {"1": 3, "2": 5}), "hidden_features": (0, 4)}

    def infer(self, p: IsfmSystemClassifierParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.set("in_features", _features(ctx, x, p.in_features, "in_features"))
        system_port(ctx, ins, p.num_classes, "num_classes", x.shape[0])
        return [TensorType(x.shape[:-1] + (max(p.num_classes.values()),), x.dtype)]

    def param_count(self, p: IsfmSystemClassifierParams, ins: list[TensorType]) -> int:
        assert p.in_features is not None
        f, h = p.in_features, p.hidden_features
        if h:
            return sum(f * h + h + h * n + n for n in p.num_classes.values())
        return sum(f * n + n for n in p.num_classes.values())

    def flops(self, p: IsfmSystemClassifierParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        assert p.in_features is not None
        rows = product(ins[0].shape[:-1])
        width = max(p.num_classes.values())
        if p.hidden_features:
            return 2 * rows * (p.in_features * p.hidden_features + p.hidden_features * width)
        return 2 * rows * p.in_features * width

    def _head(self, p: IsfmSystemClassifierParams, n: int) -> str:
        if p.hidden_features:
            h = p.hidden_features
            return f"nn.Sequential(nn.Linear({p.in_features}, {h}), {_MODULES[p.activation]}, nn.Linear({h}, {n}))"
        return f"nn.Linear({p.in_features}, {n})"

    def init_code(self, p: IsfmSystemClassifierParams) -> str:
        assert p.in_features is not None
        heads = {k: self._head(p, n) for k, n in p.num_classes.items()}
        return _router(heads, max(p.num_classes.values()), p.in_features)


@register
class IsfmSystemPrototypes(Block):
    """Class logits as dot products with learned class prototypes per system (ISFM H_02): [B, D] -> [B, n].

    Each system holds prototypes [1, n_s, D] (N(0, 1) init); a sample's logits are the dot
    products of its features with its system's prototypes (port ``system_id``, [B] integers;
    optional when there is one system). n is the largest n_s (narrower systems are padded with
    -inf). With an int ``num_classes``, one set of prototypes serves every sample.
    """

    name = "isfm_system_prototypes"
    Params = IsfmSystemPrototypesParams
    category = "dense"
    inputs = ("x", "system_id")
    optional_inputs = ("system_id",)
    natives = ("SystemRouter", "PrototypeLogits")
    test_ranks = (2,)
    test_hints = {"num_classes": (1, 3, {"1": 4}, {"7": 2})}

    def infer(self, p: IsfmSystemPrototypesParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.set("dim", _features(ctx, x, p.dim, "dim", ranks=2))
        system_port(ctx, ins, p.num_classes, "num_classes", x.shape[0])
        return [TensorType((x.shape[0], max(_classes(p.num_classes))), x.dtype)]

    def param_count(self, p: IsfmSystemPrototypesParams, ins: list[TensorType]) -> int:
        assert p.dim is not None
        return sum(n * p.dim for n in _classes(p.num_classes))

    def flops(self, p: IsfmSystemPrototypesParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(outs[0]) * (p.dim or 1)

    def native_classes(self, p: IsfmSystemPrototypesParams) -> tuple[str, ...]:
        return self.natives if isinstance(p.num_classes, dict) else ("PrototypeLogits",)

    def init_code(self, p: IsfmSystemPrototypesParams) -> str:
        assert p.dim is not None
        if not isinstance(p.num_classes, dict):
            return call("PrototypeLogits", p.num_classes, p.dim)
        heads = {k: call("PrototypeLogits", n, p.dim) for k, n in p.num_classes.items()}
        return _router(heads, max(p.num_classes.values()), p.dim)

    def call_code(self, p: IsfmSystemPrototypesParams, args: list[str], mod: str) -> str:
        return _routed_call(p, args, mod)


@register
class IsfmCrossAttention(Block):
    """Multi-head cross-attention with separate q / kv projections (ISFM H_02 ``cross_att``).

    ``query`` [B, M, D] attends over ``x`` [B, N, D]; output [B, M, D]. Weights ``q`` (D x D),
    ``kv`` (2D x D), without biases unless ``qkv_bias``, and ``proj`` (D x D with bias). D must be
    known and divide by ``num_heads``.
    """

    name = "isfm_cross_attention"
    Params = IsfmCrossAttentionParams
    category = "attention"
    inputs = ("query", "x")
    natives = ("IsfmCrossAttention",)
    imports = ("F",)  # F.scaled_dot_product_attention
    test_layouts = (("B M D", "B N D"),)
    test_hints = {"num_heads": (1, 2, 4)}

    def infer(self, p: IsfmCrossAttentionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        query, x = ins
        ctx.rank("query", query, 3, "[B, M, D]")
        dim = _features(ctx, x, p.dim, "dim", ranks=3)
        ctx.dtype("query", query, FLOAT_DTYPES)
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

    def init_code(self, p: IsfmCrossAttentionParams) -> str:
        return call("IsfmCrossAttention", p.dim, num_heads=non_default(p.num_heads, 8),
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
    natives = ("UniversalProjection",)
    test_layouts = (("B F",), ("B F", "B L C"))
    test_hints = {"max_len": (8, 32, 64), "max_out": (1, 3, 8)}

    def infer(self, p: IsfmUniversalProjectionParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.set("in_features", _features(ctx, x, p.in_features, "in_features", ranks=2))
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

    def init_code(self, p: IsfmUniversalProjectionParams) -> str:
        return call("UniversalProjection", p.in_features, max_len=p.max_len, max_out=p.max_out)

    def call_code(self, p: IsfmUniversalProjectionParams, args: list[str], mod: str) -> str:
        if len(args) == 1:
            return f"{mod}({args[0]}, {p.max_len}, {p.max_out})"
        return f"{mod}({args[0]}, {args[1]}.shape[1], {args[1]}.shape[2])"
