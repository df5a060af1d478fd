"""Per-system routing in ISFM: system ids, the ``system_id`` port, the ``SystemRouter`` native, and
the task heads with one set of weights per system (H_01's classifiers, H_02's prototypes).

A parameter such as ``num_classes`` follows the reference: a mapping system id -> count (one head
per system, chosen per sample by the ``system_id`` input [B]), or one int (a single head for every
sample). E_02_HSE_v2's channel mixer (:mod:`vibench.compiler.blocks.isfm_hse_mixer`) routes the same way.

Routing never branches on the ids' values: every head whose input width is x's runs on the whole
batch and ``torch.where`` keeps each sample's own rows, so a routed model compiles to one graph
(``torch.compile(fullgraph=True)``), exports (``torch.export``) and scripts (``torch.jit.script``).
An id without a head raises ``ValueError`` in eager mode, naming the ids without a head and those with
one; one whose head reads another width names the sample, its system and both widths. A scripted model
(``torch.jit.script``) raises ``torch.jit.Error`` with the same text (TorchScript re-raises every exception
as its own type, so ``except ValueError`` does not catch it). A compiled or exported graph cannot raise a
ValueError on values: it holds ``torch._assert_async`` ops, which raise ``RuntimeError`` with a constant text
(naming the heads, not the ids, which only a device sync could read) on the CPU, and are a device-side
assert on CUDA (docs/api.md; tests/test_isfm_routing.py, tests/test_runtime_1207.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator

from vibench.compiler.blocks.base import INT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.blocks.isfm_head import ActivationName, activation_module, feature_width
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch

Count = Annotated[int, Field(ge=1)]
Systems = dict[str, Count]
"""A mapping system id (an integer, written as a string) -> count."""
PerSystem = Count | Systems
"""One count for every system, or a mapping system id -> count."""
SystemsWritten = dict[int | str, Count]
"""What a spec may write for :data:`Systems` (``{1: 4}`` as YAML gives it; :func:`str_keys` turns the keys into
text): the JSON Schema shows it, so that an editor takes integer keys."""
PerSystemWritten = Count | SystemsWritten


def str_keys(value: object) -> object:
    """``{1: 2}`` (YAML int keys, or numpy ids in the reference) -> ``{"1": 2}``; other values unchanged.
    Two keys of one text (``{1: 4, "1": 6}``: YAML gives an int and a string) are a ValueError: one of the
    heads would silently replace the other."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        written: dict[str, object] = {}
        for k, v in value.items():
            key = str(k)
            if key in out:
                raise ValueError(f"each system once: the keys {written[key]!r} and {k!r} both name system {key}")
            out[key] = v
            written[key] = k
        return out
    return value


def check_system_keys(value: PerSystem) -> PerSystem:
    """System ids are integers written plainly (``"1"``, ``"-3"``), within the language's integer bound.

    ``SystemRouter`` compares ``system_id`` with ``int(key)``: ``"01"``, ``"+1"``, ``" 1"`` and ``"1_0"``
    would read as systems 1 and 10 beside a plain ``"1"`` (two heads for one system, one never used, and
    state_dict keys ``heads.01.*`` that no reference checkpoint has), and an id beyond int64 would make every
    forward raise OverflowError. Both are refused here, at compile time."""
    if isinstance(value, dict):
        if not value:
            raise ValueError("give at least one system")
        for key in value:
            try:
                number = int(key)
            except ValueError:
                raise ValueError(f"system ids are integers (compared with the system_id input), got {key!r}") from None
            if str(number) != key:
                raise ValueError(f"system ids written as plain integers (compared with the system_id input as "
                                 f"int(id)): {key!r} reads as system {number}; write {number}")
            if not -MAX_INT <= number <= MAX_INT:
                raise ValueError(f"system ids from -2**62 to 2**62 (the language's integer bound; system_id is "
                                 f"int64), got {key}")
    return value


def _hash_classes(classes: PerSystem) -> object:
    return tuple(sorted(classes.items())) if isinstance(classes, dict) else classes


class IsfmSystemClassifierParams(BlockParams):
    num_classes: Systems = Field(description="Classes per system id (one head per system, chosen by system_id).")
    hidden_features: int = Field(
        0, ge=0, description="Hidden width of each head (0: one Linear; else Linear, activation, Linear)."
    )
    activation: ActivationName = Field("relu", description="Activation between the two Linears of a head.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")

    _keys = field_validator("num_classes", mode="before", json_schema_input_type=SystemsWritten)(str_keys)
    _check = field_validator("num_classes")(check_system_keys)

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((tuple(sorted(self.num_classes.items())), self.hidden_features, self.activation,
                     self.in_features))


class IsfmSystemPrototypesParams(BlockParams):
    num_classes: PerSystem = Field(
        description="Classes: a mapping system id -> class count (prototypes per system), or one count for all."
    )
    dim: int | None = Field(None, ge=1, description="Feature width D (inferred from the input).")

    _keys = field_validator("num_classes", mode="before", json_schema_input_type=PerSystemWritten)(str_keys)
    _check = field_validator("num_classes")(check_system_keys)

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((_hash_classes(self.num_classes), self.dim))


# -- torch implementations (copied into model.py) --------------------------------------------


class SystemRouter(nn.Module):
    """Give each sample the output of its system's head, without branching on the ids' values.

    ``heads`` maps system ids (integers as strings, the reference's ``str(Dataset_id)``) to modules over the last
    dimension that treat samples independently, of input widths ``in_features``. Every head of x's width runs on the
    whole batch and ``torch.where`` keeps each sample's rows of its own head, so ``torch.compile(fullgraph=True)``,
    ``torch.export`` and ``torch.jit.script`` capture it. Outputs narrower than ``out_features`` (fewer classes) are
    padded with ``-inf`` (softmax gives 0). Without ``system_id`` every sample goes through the only head. An id
    without a head (named with the ids that have one), or whose head reads another width (named with the sample and
    both widths), raises ValueError (scripted: torch.jit.Error with its text, which ``except ValueError`` misses); in a
    compiled or exported graph, RuntimeError from an assert op of a constant text (no ids: a sync), not on meta.
    """

    def __init__(self, heads: dict[str, nn.Module], in_features: dict[str, int], out_features: int) -> None:
        super().__init__()
        self.heads = nn.ModuleDict(heads)
        self.in_features = in_features
        self.out_features = out_features
        self.only = next(iter(heads)) if len(heads) == 1 else ""  # one head: eager mode just runs it
        self.systems = ", ".join(sorted(heads, key=int))  # the ids with a head, for messages

    def forward(self, x: torch.Tensor, system_id: torch.Tensor | None = None) -> torch.Tensor:
        readable = x.device.type != "meta" and (system_id is None or system_id.device.type != "meta")
        if not torch.jit.is_scripting():
            if self.only and not torch.compiler.is_compiling():  # one head in eager mode: just run it
                # The ids are read on the host (one device sync, as in _check): cheaper than tensor ops.
                ids = system_id.tolist() if system_id is not None and readable else []
                if ids.count(int(self.only)) == len(ids) and x.shape[-1] == self.in_features[self.only]:
                    return self._pad(self.heads[self.only](x))  # else the general path below says why not
        out = x.new_full(list(x.shape[:-1]) + [self.out_features], float("nan"))
        rows = [-1] + [1] * (x.dim() - 1)  # a [B] mask broadcast over the other dimensions
        known = routed = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        for key, head in self.heads.items():
            mine = torch.ones_like(known) if system_id is None else system_id == int(key)
            known = known | mine
            if x.shape[-1] == self.in_features[key]:
                routed = routed | mine
                out = torch.where(mine.view(rows), self._pad(head(x)), out)
        if not torch.jit.is_scripting() and torch.compiler.is_compiling():  # asserts in the graph, of constant texts
            torch._assert_async(known.all(), f"SystemRouter: an id in system_id has no head (heads: {self.systems})")
            torch._assert_async(routed.all(), "SystemRouter: a sample's head reads another input width (last axis)")
        elif readable and not bool(routed.all()):  # one device sync when every sample is routed (routed implies known)
            if system_id is not None and not bool(known.all()):
                raise ValueError(self._no_head(system_id[~known]))
            # Read on this failing path only (a traced graph never gets here): the first sample left out, whose
            k = int((~routed).nonzero()[0, 0])  # system's head reads another width
            system = list(self.in_features.keys())[0] if system_id is None else str(int(system_id[k]))
            wants = f"expects another input width: its head reads {self.in_features[system]} features (last axis)"
            raise ValueError(f"SystemRouter: sample {k} is of system {system}, which {wants}; found {x.shape[-1]}")
        return out

    def _pad(self, y: torch.Tensor) -> torch.Tensor:
        missing = self.out_features - y.shape[-1]
        if missing > 0:
            y = torch.cat([y, y.new_full(list(y.shape[:-1]) + [missing], float("-inf"))], dim=-1)
        return y

    def _no_head(self, ids: torch.Tensor) -> str:
        unknown: list[int] = torch.unique(ids).tolist()  # a few of them, sorted
        few = ", ".join([str(i) for i in unknown[:4]]) + (f", ... ({len(unknown)} ids)" if len(unknown) > 4 else "")
        which = "which has" if len(unknown) == 1 else "which have"
        return f"SystemRouter: system_id holds {few}, {which} no head (heads: {self.systems})"


class PrototypeLogits(nn.Module):
    """Class logits as dot products of features [N, D] with learned class prototypes [1, n, D] (N(0, 1) init)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(1, num_classes, dim))

    def extra_repr(self) -> str:
        return f"num_classes={self.tokens.shape[1]}, dim={self.tokens.shape[2]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.tokens[0].t()


# -- the system_id port -----------------------------------------------------------------------


def system_port(ctx: ShapeContext, ins: list[TensorType], systems: int | dict[str, int], param: str,
                batch: Dim) -> None:
    """Check the optional ``system_id`` port: [B] integers, needed when several systems have heads."""
    if len(ins) > 1:
        ids = ins[1]
        ctx.rank("system_id", ids, 1, "[B]")
        ctx.dtype("system_id", ids, INT_DTYPES, "system ids")
        ctx.equal(ids.shape[0], batch, port="system_id", what="batch size of system_id and x", t=ids)
    elif isinstance(systems, dict) and len(systems) > 1:
        raise ctx.fail(f"`{param}` maps {len(systems)} systems: each sample needs its system id", code="E405",
                       port="system_id", param=param, expected="an input connected to port `system_id`",
                       found="no system_id", hint="write `in: {x: ..., system_id: <[B] int64 input>}`")


def router_code(heads: Mapping[str, Code], in_features: dict[str, int], out_features: int) -> Code:
    """``SystemRouter({"1": <head>, ...}, in_features={"1": F, ...}, out_features=n)``."""
    return c.call(SystemRouter.__name__, c.const(dict(heads)), in_features=in_features, out_features=out_features)


# -- blocks -----------------------------------------------------------------------------------


def _classes(num_classes: int | dict[str, int]) -> list[int]:
    return list(num_classes.values()) if isinstance(num_classes, dict) else [num_classes]


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
    natives = (SystemRouter,)
    fresh_output = True  # torch.where's result: autograd keeps only the masks
    test_ranks = (2,)
    test_hints = {"num_classes": ({"1": 4}, {"7": 2}, {"1": 3, "2": 5}), "hidden_features": (0, 4)}

    def infer(self, p: IsfmSystemClassifierParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.set("in_features", feature_width(ctx, x, p.in_features, "in_features"))
        system_port(ctx, ins, p.num_classes, "num_classes", x.shape[0])
        return [TensorType(x.shape[:-1] + (max(p.num_classes.values()),), x.dtype)]

    def submodule_count(self, p: IsfmSystemClassifierParams, ins: list[TensorType]) -> int:
        return len(p.num_classes) * (4 if p.hidden_features else 1)  # a head per system

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

    def _head(self, p: IsfmSystemClassifierParams, n: int) -> Code:
        if p.hidden_features:
            h = p.hidden_features
            return c.call("nn.Sequential", c.call("nn.Linear", p.in_features, h), activation_module(p.activation),
                          c.call("nn.Linear", h, n))
        return c.call("nn.Linear", p.in_features, n)

    def init_code(self, p: IsfmSystemClassifierParams) -> Code:
        assert p.in_features is not None
        heads = {k: self._head(p, n) for k, n in p.num_classes.items()}
        return router_code(heads, dict.fromkeys(heads, p.in_features), max(p.num_classes.values()))


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
    natives = (SystemRouter, PrototypeLogits)
    fresh_output = True  # torch.where's result, or a matrix product
    test_ranks = (2,)
    test_hints = {"num_classes": (1, 3, {"1": 4}, {"7": 2})}

    def infer(self, p: IsfmSystemPrototypesParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.set("dim", feature_width(ctx, x, p.dim, "dim", ranks=2))
        system_port(ctx, ins, p.num_classes, "num_classes", x.shape[0])
        return [TensorType((x.shape[0], max(_classes(p.num_classes))), x.dtype)]

    def param_count(self, p: IsfmSystemPrototypesParams, ins: list[TensorType]) -> int:
        assert p.dim is not None
        return sum(n * p.dim for n in _classes(p.num_classes))

    def flops(self, p: IsfmSystemPrototypesParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(outs[0]) * (p.dim or 1)

    def submodule_count(self, p: IsfmSystemPrototypesParams, ins: list[TensorType]) -> int:
        return len(p.num_classes) if isinstance(p.num_classes, dict) else 0  # prototypes per system

    def native_classes(self, p: IsfmSystemPrototypesParams) -> tuple[type, ...]:
        return self.natives if isinstance(p.num_classes, dict) else (PrototypeLogits,)

    def init_code(self, p: IsfmSystemPrototypesParams) -> Code:
        assert p.dim is not None
        if not isinstance(p.num_classes, dict):
            return c.call(PrototypeLogits.__name__, p.num_classes, p.dim)
        heads = {k: c.call(PrototypeLogits.__name__, n, p.dim) for k, n in p.num_classes.items()}
        return router_code(heads, dict.fromkeys(heads, p.dim), max(p.num_classes.values()))

    def call_code(self, p: IsfmSystemPrototypesParams, args: list[Code], mod: Code) -> Code:
        if not isinstance(p.num_classes, dict):
            return c.call(mod, args[0])  # one set of prototypes for every sample: system_id is not read
        return c.call(mod, *args)
