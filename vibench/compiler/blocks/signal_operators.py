"""``signal_operators``: a bank of signal-processing operators on channel groups (TSPN's signal-processing layer).

PHM-Vibench's X_model/TSPN ("transparent signal processing network") splits the channels of
[B, L, W] into as many equal groups as it has operators and applies one operator to each group,
then concatenates the results: [B, L, W] -> [B, L, W]. The operators, by their TSPN names:

* ``LNO`` — Laplace neural operator: pole-residue response of the group's spectrum through learned
  complex poles and residues (``weights_pole``, ``weights_residue`` [c, c, c^2], c = ``channels``):
  a transient part (inverse FFT of the residue-weighted spectrum) plus a steady-state part (the
  output residues times ``exp(pole * t)`` on t = linspace(0, 1, L)), as in Cao et al., "LNO:
  Laplace Neural Operator for Solving Differential Equations", 2023. Needs groups of c channels.
* ``WF`` — Gaussian band-pass filter per channel in the rFFT domain (orthonormal), centre ``f_c``
  and width ``f_b`` ([1, 1, c]) on the normalised frequencies linspace(0, 0.5, L // 2 + 1). Groups
  of at most c channels (the first ones of the filters are used).
* ``HT`` — Hilbert envelope: the magnitude of the analytic signal along L. No parameters.
* ``I`` — identity.
* ``Squ``, ``Log`` — element-wise square and natural logarithm.
* ``Add``, ``Mul``, ``Div`` — the first half of the group's channels combined with the second half
  (``a / (b + 1e-8)`` for Div), the result written to both halves. Needs an even group.

The operators sit in the ModuleDict ``operators`` under their names (a repeated name gets ``_1``,
``_2``, ... as TSPN names them), so TSPN checkpoints load through one rename.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from vibench.compiler.blocks.base import Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.codegen.support import _real_weights
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch

Operator = Literal["LNO", "WF", "HT", "I", "Squ", "Log", "Add", "Mul", "Div"]
PAIRWISE = ("Add", "Mul", "Div")


class SignalOperatorsParams(BlockParams):
    operators: tuple[Operator, ...] = Field(min_length=1, description="One operator per channel group, in order.")
    channels: int = Field(ge=1, description="Channels c of the parametric operators (LNO: exactly, WF: at most).")
    f_c_mu: float = Field(0.0, description="WF: mean of the initial filter centres (normal).")
    f_c_sigma: float = Field(0.1, ge=0, description="WF: standard deviation of the initial filter centres.")
    f_b_mu: float = Field(0.0, description="WF: mean of the initial filter widths (normal).")
    f_b_sigma: float = Field(0.1, ge=0, description="WF: standard deviation of the initial filter widths.")
    width: int | None = Field(None, ge=1, description="Channels W of [B, L, W], all groups together (inferred).")

    @model_validator(mode="after")
    def _bandwidth(self) -> SignalOperatorsParams:
        # Every filter would start at f_b = 0, and WF's exp(-((f - f_c) / (2 * f_b)) ** 2) divides by it: NaN
        # where a centre lies on the FFT grid (all of them with f_c_sigma 0), NaN gradients elsewhere. The
        # message completes "block `signal_operators` at node `n`: ..." (typecheck.py).
        if "WF" in self.operators and self.f_b_mu == 0 and self.f_b_sigma == 0:
            raise ValueError(
                "`f_b_mu` and `f_b_sigma` are both 0: every WF filter would start with bandwidth 0, and its"
                " exp(-((f - f_c) / (2 * f_b)) ** 2) divides by that 0 (NaN outputs and gradients); give"
                " `f_b_sigma` > 0 (the default is 0.1) or a nonzero `f_b_mu`"
            )
        return self


# -- torch implementations (copied into model.py) --------------------------------------------


class LaplaceNeuralOperator(nn.Module):
    """Pole-residue (Laplace) operator over [B, L, c]: transient + steady-state response, real part."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        modes = channels * channels
        scale = 1 / (channels * channels)
        self.weights_pole = nn.Parameter(scale * torch.rand(channels, channels, modes, dtype=torch.cfloat))
        self.weights_residue = nn.Parameter(scale * torch.rand(channels, channels, modes, dtype=torch.cfloat))

    def extra_repr(self) -> str:
        return f"channels={self.weights_pole.shape[0]}"

    @staticmethod
    def float32(value: float) -> float:
        """``value`` rounded to the nearest float32, as a Python float."""
        mantissa, exponent = math.frexp(value)
        return math.ldexp(round(mantissa * 2**24), exponent - 24)

    @staticmethod
    def spacing(t: torch.Tensor, length: int) -> float:
        """``t[1] - t[0]`` of ``t = linspace(0, 1, length)``, bit for bit, from the length alone.

        For float64 and float32 t this is linspace's step ``1 / (L - 1)`` in t's precision (the float32
        rounding done on Python floats), no tensor data, so torch.export can trace it; other dtypes read t.
        """
        if t.dtype == torch.float64:
            return 1 / (length - 1)
        if t.dtype == torch.float32:
            return LaplaceNeuralOperator.float32(1 / LaplaceNeuralOperator.float32(float(length - 1)))
        return float((t[1] - t[0]).item())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights_pole, weights_residue = self.weights_pole, self.weights_residue  # each read once: cheaper
        if not (weights_pole.is_complex() and weights_residue.is_complex()):  # made real by model.to(dtype)
            names = "`weights_pole`, `weights_residue`"
            raise RuntimeError(_real_weights("LaplaceNeuralOperator", names, weights_pole.dtype))
        dtype = x.dtype
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        x = x.transpose(1, 2)
        length = x.shape[-1]
        t = torch.linspace(0, 1, steps=length, dtype=x.dtype, device=x.device)
        frequency = torch.fft.fftfreq(length, self.spacing(t, length), dtype=x.dtype, device=x.device) * 2 * math.pi
        poles = torch.complex(torch.zeros_like(frequency), frequency).reshape(-1, 1, 1, 1)
        alpha = torch.fft.fft(x)
        # model.double() keeps complex weights complex64: a float64 signal's complex128 transform widens them
        pole, residue = weights_pole.to(alpha.dtype), weights_residue.to(alpha.dtype)
        response = residue * torch.div(1, torch.sub(poles, pole))
        transient = torch.einsum("bix,xiok->box", alpha, response)
        residues = torch.einsum("bix,xiok->bok", alpha, -response)
        x1 = torch.real(torch.fft.ifft(transient, n=length))
        growth = torch.exp(torch.einsum("bix,kz->bixz", pole, t.to(alpha.dtype).reshape(1, -1)))
        x2 = torch.real(torch.einsum("bix,ioxz->boz", residues, growth)) / length
        return (x1 + x2).transpose(1, 2).to(dtype)


class GaussianWaveFilter(nn.Module):
    """Gaussian band-pass per channel of [B, L, C] in the orthonormal rFFT domain (TSPN's WF)."""

    def __init__(
        self, channels: int, f_c_mu: float = 0.0, f_c_sigma: float = 0.1, f_b_mu: float = 0.0, f_b_sigma: float = 0.1
    ) -> None:
        super().__init__()
        self.f_c = nn.Parameter(torch.empty(1, 1, channels))
        self.f_b = nn.Parameter(torch.empty(1, 1, channels))
        nn.init.normal_(self.f_c, mean=f_c_mu, std=f_c_sigma)
        nn.init.normal_(self.f_b, mean=f_b_mu, std=f_b_sigma)

    def extra_repr(self) -> str:
        return f"channels={self.f_c.shape[2]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length, channels = x.shape[1], x.shape[2]
        dtype = x.dtype
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        spectrum = torch.fft.rfft(x, dim=1, norm="ortho")
        omega = torch.linspace(0, 0.5, length // 2 + 1, device=x.device).view(1, -1, 1)
        filters = torch.exp(-(((omega - self.f_c) / (2 * self.f_b)) ** 2))
        return torch.fft.irfft(spectrum * filters[:, :, :channels], n=length, dim=1, norm="ortho").to(dtype)


class HilbertEnvelope(nn.Module):
    """Magnitude of the analytic signal of [B, L, C] along L (FFT, one-sided spectrum, inverse FFT)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        dtype = x.dtype
        # torch.fft has no bfloat16 kernels (half ones only on CUDA, powers of two): transform in float32
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        spectrum = torch.fft.fft(x.transpose(1, 2), dim=2)
        half = (length + 1) // 2
        spectrum[..., 1:half] *= 2
        spectrum[..., length // 2 + 1 :] = 0
        return torch.fft.ifft(spectrum, dim=2).abs().transpose(1, 2).to(dtype)


class ElementwiseOperator(nn.Module):
    """``x ** 2`` (Squ) or ``log(x)`` (Log), element by element."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "Squ":
            return x**2
        return torch.log(x)


class PairwiseOperator(nn.Module):
    """First half of the channels (op) second half, written to both halves: Add, Mul or Div (a / (b + 1e-8))."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        a, b = x[:, :, :half], x[:, :, half:]
        if self.kind == "Add":
            out = a + b
        elif self.kind == "Mul":
            out = a * b
        else:
            out = a / (b + 1e-8)
        return torch.cat((out, out), dim=-1)


class SignalOperators(nn.Module):
    """Split the channels of [B, L, W] into equal groups, one per operator, and concatenate the results."""

    def __init__(
        self,
        operators: list[str],
        channels: int,
        f_c_mu: float = 0.0,
        f_c_sigma: float = 0.1,
        f_b_mu: float = 0.0,
        f_b_sigma: float = 0.1,
    ) -> None:
        super().__init__()
        modules: dict[str, nn.Module] = {}
        for name in operators:
            key, index = name, 1
            while key in modules:
                key, index = f"{name}_{index}", index + 1
            if name == "LNO":
                modules[key] = LaplaceNeuralOperator(channels)
            elif name == "WF":
                modules[key] = GaussianWaveFilter(channels, f_c_mu, f_c_sigma, f_b_mu, f_b_sigma)
            elif name == "HT":
                modules[key] = HilbertEnvelope()
            elif name in ("Squ", "Log"):
                modules[key] = ElementwiseOperator(name)
            elif name in ("Add", "Mul", "Div"):
                modules[key] = PairwiseOperator(name)
            else:
                modules[key] = nn.Identity()
        self.operators = nn.ModuleDict(modules)
        self.groups = len(operators)
        self.channels = channels

    def extra_repr(self) -> str:
        return f"groups={self.groups}, channels={self.channels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = torch.split(x, x.shape[2] // self.groups, dim=2)
        outputs: list[torch.Tensor] = []
        k = 0
        for operator in self.operators.values():
            outputs.append(operator(chunks[k]))
            k += 1
        return torch.cat(outputs, dim=2)


# -- block ------------------------------------------------------------------------------------


@register
class SignalOperatorsBlock(Block):
    """Signal-processing operators (Laplace operator, Gaussian filter, Hilbert envelope, ...) on channel groups.

    [B, L, W] -> [B, L, W]: the W channels split into one equal group per operator (TSPN's signal-
    processing layer); see the module documentation for the operators. ``channels`` is the width
    of the parametric operators: LNO needs groups of exactly that many channels, WF at most.
    """

    name = "signal_operators"
    Params = SignalOperatorsParams
    category = "spectral"
    natives = (_real_weights, LaplaceNeuralOperator, GaussianWaveFilter, HilbertEnvelope, ElementwiseOperator,
               PairwiseOperator, SignalOperators)
    imports = ("math",)
    test_layouts = (("B L 4",),)
    test_hints = {
        ("operators", "channels"): ((["HT", "I"], 1), (["WF", "LNO"], 2), (["I", "Add"], 2), (["Squ"], 3),
                                    (["LNO", "LNO"], 2), (["Mul", "Div"], 2), (["LNO", "WF", "HT", "I"], 1)),
    }

    def infer(self, p: SignalOperatorsParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, L, W]")
        ctx.dtype("x", t, frozenset({"float32"}))
        if p.width is not None:
            ctx.equal(t.shape[2], p.width, port="x", what="channels W", t=t, param="width")
        width = ctx.concrete(t.shape[2], "the channels W", port="x")
        ctx.set("width", width)
        groups = len(p.operators)
        if width % groups:
            raise ctx.fail(f"{width} channels do not split into {groups} equal groups, one per operator",
                           param="operators", expected=f"channels divisible by {groups}", found=str(width))
        group = width // groups
        for name in sorted(set(p.operators)):
            if name == "LNO" and group != p.channels:
                raise ctx.fail(f"the Laplace operator (LNO) takes groups of exactly {p.channels} channels",
                               param="channels", expected=f"{p.channels} channels per group", found=str(group),
                               hint=f"channels (TSPN's scale) must equal W / operators = {group}")
            if name == "WF" and group > p.channels:
                raise ctx.fail(f"the wave filter (WF) has {p.channels} channels of filters", param="channels",
                               expected=f"at most {p.channels} channels per group", found=str(group))
            if name in PAIRWISE and group % 2:
                raise ctx.fail(f"`{name}` combines two halves of its group of {group} channels", param="operators",
                               expected="an even group", found=str(group))
        if "LNO" in p.operators:
            ctx.require(t.shape[1], ">=", 2, "the Laplace operator's time grid has two points",
                        param="operators")
        return [t]

    def submodule_count(self, p: SignalOperatorsParams, ins: list[TensorType]) -> int:
        return len(p.operators)

    def param_count(self, p: SignalOperatorsParams, ins: list[TensorType]) -> int:
        per = {"LNO": 4 * p.channels**4, "WF": 2 * p.channels}
        return sum(per.get(name, 0) for name in p.operators)

    def flops(self, p: SignalOperatorsParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(ins[0]) * (16 + 8 * p.channels**3)

    def init_code(self, p: SignalOperatorsParams) -> Code:
        return c.call(SignalOperators.__name__, list(p.operators), p.channels, f_c_mu=non_default(p.f_c_mu, 0.0),
                      f_c_sigma=non_default(p.f_c_sigma, 0.1), f_b_mu=non_default(p.f_b_mu, 0.0),
                      f_b_sigma=non_default(p.f_b_sigma, 0.1))
