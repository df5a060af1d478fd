"""ISFM backbones (vibench/specs/isfm/backbone): they compile, build and run on token batches, emit and
build agree, they compute what the reference computes (checked against small independent
implementations of the reference's layers, loaded through the declared renames), a PHM-Vibench flat
config reaches them through `inherit`, and the reference's broken configurations are compile-time
errors or working models (vibench/specs/DEVIATIONS.md).

The reference's canonical sizes run in tests/test_parity.py; here widths stay small.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vibench
from tests.helpers import ROOT, load_file_module
from vibench.compiler import pipeline
from vibench.compiler.symbolic import evaluate
from vibench.runtime.build import build_program
from vibench.runtime.checkpoint import load_reference_state_dict

SPECS = os.path.join(ROOT, "vibench", "specs", "isfm", "backbone")

# Small but realistic settings: ISFM tokens [B, P, D] (FITS: a series [B, T, C], T >= 128).
SMALL: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "B_01_basic_transformer": ({"output_dim": 32, "num_heads": 4, "num_layers": 2, "dim_feedforward": 64}, (2, 64, 32)),
    "B_03_FITS": ({"patch_size_C": 2, "seq_len": None}, (2, 1024, 2)),  # FITS's own interpolation keeps T
    "B_04_Dlinear": ({"num_patches": 64, "output_dim": 32}, (2, 64, 32)),
    "B_05_Mamba": ({"output_dim": 32}, (2, 64, 32)),
    "B_06_TimesNet": ({"output_dim": 16, "d_ff": 8}, (2, 64, 16)),
    "B_07_TSMixer": ({"num_patches": 64, "output_dim": 32, "d_model": 64}, (2, 64, 32)),
    "B_08_PatchTST": ({"output_dim": 32, "d_ff": 64, "activation": "gelu"}, (2, 64, 32)),
    "B_09_FNO": ({"output_dim": 32, "width": 16, "num_layers": 2}, (2, 64, 32)),
}


def text(name: str) -> str:
    return f"vibench: 1\nextends: isfm/backbone/{name}\n"


def real_scalars(model: nn.Module) -> int:
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def line_of(name: str, prefix: str) -> int:
    with open(os.path.join(SPECS, f"{name}.yaml"), encoding="utf-8") as fh:
        found = [k + 1 for k, line in enumerate(fh) if line.startswith(prefix)]
    assert len(found) == 1, f"{prefix!r} starts {len(found)} lines of {name}.yaml"
    return found[0]


def compile_error(name: str, params: dict[str, Any], shape: tuple[int, ...] | None = None) -> Any:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text(name), params=params, inputs={"x": shape} if shape else None)
    (diag,) = err.value.diagnostics
    return diag


# -- every template runs, and emit agrees with build ----------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_template_runs_and_emit_agrees_with_build(name: str, tmp_path) -> None:
    params, shape = SMALL[name]
    program = vibench.check(text=text(name), params=params, inputs={"x": shape})
    built = build_program(program).eval()
    path = tmp_path / f"{name}.py"
    path.write_text(pipeline.compile_source(program, None))
    emitted = getattr(load_file_module(str(path), f"emitted_{name}"), name)().eval()
    own, theirs = built.state_dict(), emitted.state_dict()
    assert [(k, v.shape) for k, v in own.items()] == [(k, v.shape) for k, v in theirs.items()]
    emitted.load_state_dict(own)

    env = dict(program.bindings)
    seen: dict[str, list[tuple[int, ...]]] = {}
    for node in program.root.nodes:
        module = getattr(built, node.name, None)
        if isinstance(module, nn.Module):
            module.register_forward_hook(_recorder(seen, node.name))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, again = built(x), emitted(x)
    torch.testing.assert_close(again, out, atol=1e-6, rtol=0)
    (_, _, static), = program.root.outputs
    assert tuple(out.shape) == tuple(evaluate(d, env) for d in static.shape) == shape
    assert seen, "no node module ran"
    for node in program.root.nodes:
        if node.name in seen:
            static_shapes = [tuple(evaluate(d, env) for d in t.shape) for _, t in node.outputs]
            assert seen[node.name] == static_shapes, node.name
    assert real_scalars(built) == program.root.param_count


def _recorder(seen: dict[str, list[tuple[int, ...]]], name: str) -> Any:
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        seen[name] = [tuple(t.shape) for t in (output if isinstance(output, tuple) else (output,))]

    return hook


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", SMALL)
def test_emitted_code_scripts(name: str) -> None:
    params, shape = SMALL[name]
    model = vibench.build(text=text(name), inputs={"x": shape}, **params).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(model)(x), model(x), atol=1e-6, rtol=0)


COMPILED = [n for n in SMALL if n != "B_06_TimesNet"]


@pytest.mark.parametrize("name", COMPILED)
def test_emitted_code_compiles_to_one_graph(name: str) -> None:
    """torch.compile(fullgraph=True) captures forward without a graph break (eager backend: no codegen).

    B_06_TimesNet cannot: its periods come from the data (`tolist()` of the top-k FFT bins), so the
    folded grid's shape is unknown while tracing (test_timesnet_does_not_compile_to_one_graph)."""
    params, shape = SMALL[name]
    torch._dynamo.reset()
    model = vibench.build(text=text(name), inputs={"x": shape}, **params).eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-6, rtol=0)


def test_timesnet_does_not_compile_to_one_graph() -> None:
    params, shape = SMALL["B_06_TimesNet"]
    torch._dynamo.reset()
    model = vibench.build(text=text("B_06_TimesNet"), inputs={"x": shape}, **params).eval()
    with pytest.raises(Exception, match="(?i)unbacked|data-dependent|tolist"):  # noqa: PT011 (dynamo's errors vary)
        torch.compile(model, fullgraph=True, backend="eager")(torch.randn(shape))


# -- the same function as the reference: independent implementations of its layout ---------------
#
# Each oracle follows the fact sheet's description of the reference class (parameter names, layer
# order, constants); its state_dict loads into the vibench model through the template's declared
# renames, and both give the same output in eval mode.


class MovingAverageOracle(nn.Module):
    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D], edges repeated
        pad = (self.kernel - 1) // 2
        padded = torch.cat([x[:, :1].repeat(1, pad, 1), x, x[:, -1:].repeat(1, pad, 1)], dim=1)
        return F.avg_pool1d(padded.transpose(1, 2), self.kernel, stride=1).transpose(1, 2)


class DlinearOracle(nn.Module):
    def __init__(self, tokens: int, channels: int, individual: bool) -> None:
        super().__init__()
        self.trend = MovingAverageOracle(65)
        self.individual = individual
        make = (lambda: nn.ModuleList(nn.Linear(tokens, tokens) for _ in range(channels))) if individual else (
            lambda: nn.Linear(tokens, tokens))
        self.Linear_Seasonal, self.Linear_Trend = make(), make()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        trend = self.trend(x)
        seasonal, trend = (x - trend).transpose(1, 2), trend.transpose(1, 2)
        if self.individual:
            out = torch.stack([s(seasonal[:, c]) + t(trend[:, c]) for c, (s, t)
                               in enumerate(zip(self.Linear_Seasonal, self.Linear_Trend, strict=True))], dim=1)
        else:
            out = self.Linear_Seasonal(seasonal) + self.Linear_Trend(trend)
        return F.silu(out).transpose(1, 2)


class FitsOracle(nn.Module):
    def __init__(self, channels: int, cut: int = 65) -> None:
        super().__init__()
        self.cut = cut
        self.freq_upsampler = nn.ModuleList(nn.Linear(cut, cut).to(torch.cfloat) for _ in range(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        x = x - mean
        var = x.var(1, keepdim=True) + 1e-5
        low = torch.fft.rfft(x / var.sqrt(), dim=1)[:, : self.cut]
        mapped = torch.zeros_like(low)
        for c, layer in enumerate(self.freq_upsampler):
            mapped[:, :, c] = layer(low[:, :, c])
        full = torch.zeros(x.shape[0], 4096 // 2 + 1, x.shape[2], dtype=torch.cfloat)  # seq_len 4096, whatever T
        full[:, : self.cut] = mapped
        return torch.fft.irfft(full, dim=1) * var.sqrt() + mean


class MambaMixerOracle(nn.Module):
    def __init__(self, d: int, state: int = 16) -> None:
        super().__init__()
        inner, rank = 2 * d, math.ceil(d / 16)
        self.inner, self.rank, self.state = inner, rank, state
        self.in_proj = nn.Linear(d, 2 * inner, bias=False)
        self.conv1d = nn.Conv1d(inner, inner, 4, padding=3, groups=inner)
        self.x_proj = nn.Linear(inner, rank + 2 * state, bias=False)
        self.dt_proj = nn.Linear(rank, inner)
        self.A_log = nn.Parameter(torch.randn(inner, state))
        self.D = nn.Parameter(torch.randn(inner))
        self.out_proj = nn.Linear(inner, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        u, res = self.in_proj(x).split([self.inner, self.inner], dim=-1)
        u = F.silu(self.conv1d(u.transpose(1, 2))[:, :, :length].transpose(1, 2))
        delta, b, c = self.x_proj(u).split([self.rank, self.state, self.state], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        a = -torch.exp(self.A_log)
        h = torch.zeros(x.shape[0], self.inner, self.state)
        ys = []
        for t in range(length):
            h = torch.exp(torch.einsum("bd,dn->bdn", delta[:, t], a)) * h + torch.einsum(
                "bd,bn,bd->bdn", delta[:, t], b[:, t], u[:, t])
            ys.append(torch.einsum("bdn,bn->bd", h, c[:, t]))
        y = torch.stack(ys, dim=1) + u * self.D
        return self.out_proj(y * F.silu(res))


class RmsNormOracle(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.rand(d) + 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class MambaBlockOracle(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.mixer, self.norm = MambaMixerOracle(d), RmsNormOracle(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixer(self.norm(x)) + x


class MambaOracle(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(MambaBlockOracle(d) for _ in range(2))
        self.norm = RmsNormOracle(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class InceptionOracle(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.kernels = nn.ModuleList(nn.Conv2d(cin, cout, 2 * i + 1, padding=i) for i in range(6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([k(x) for k in self.kernels], dim=-1).mean(-1)


class TimesBlockOracle(nn.Module):
    def __init__(self, d: int, d_ff: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(InceptionOracle(d, d_ff), nn.GELU(), InceptionOracle(d_ff, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        xf = torch.fft.rfft(x, dim=1)
        amplitude = xf.abs().mean(0).mean(-1)
        amplitude[0] = 0
        top = torch.topk(amplitude, 5).indices
        weights = F.softmax(xf.abs().mean(-1)[:, top], dim=1)
        outs = []
        for f in top.tolist():
            p = t // f
            length = t if t % p == 0 else (t // p + 1) * p
            grid = F.pad(x, (0, 0, 0, length - t)).reshape(b, length // p, p, d).permute(0, 3, 1, 2)
            outs.append(self.conv(grid).permute(0, 2, 3, 1).reshape(b, length, d)[:, :t])
        return (torch.stack(outs, -1) * weights[:, None, None]).sum(-1) + x


class TimesNetOracle(nn.Module):
    def __init__(self, d: int, d_ff: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(TimesBlockOracle(d, d_ff), TimesBlockOracle(d, d_ff))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class MixerOracle(nn.Module):
    def __init__(self, tokens: int, d: int, hidden: int) -> None:
        super().__init__()
        self.temporal = nn.Sequential(nn.Linear(tokens, hidden), nn.ReLU(), nn.Linear(hidden, tokens), nn.Dropout())
        self.channel = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, d), nn.Dropout())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.temporal(x.transpose(1, 2)).transpose(1, 2)
        return x + self.channel(x)


class TsMixerOracle(nn.Module):
    def __init__(self, tokens: int, d: int, hidden: int) -> None:
        super().__init__()
        self.model = nn.Sequential(MixerOracle(tokens, d, hidden), MixerOracle(tokens, d, hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class AttentionOracle(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query_projection, self.key_projection = nn.Linear(d, d), nn.Linear(d, d)
        self.value_projection, self.out_projection = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (p(x).view(b, t, self.heads, -1) for p in (self.query_projection, self.key_projection,
                                                                self.value_projection))
        scores = torch.einsum("blhe,bshe->bhls", q, k) / math.sqrt(d // self.heads)
        out = torch.einsum("bhls,bshd->blhd", torch.softmax(scores, dim=-1), v)
        return self.out_projection(out.reshape(b, t, d))


class EncoderLayerOracle(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.attention = AttentionOracle(d, heads)
        self.conv1, self.conv2 = nn.Conv1d(d, d_ff, 1), nn.Conv1d(d_ff, d, 1)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.attention(x))
        y = self.conv2(F.gelu(self.conv1(x.transpose(1, 2)))).transpose(1, 2)
        return self.norm2(x + y)


class Transpose(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class PatchTstEncoderOracle(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.attn_layers = nn.ModuleList(EncoderLayerOracle(d, heads, d_ff) for _ in range(2))
        self.norm = nn.Sequential(Transpose(), nn.BatchNorm1d(d), Transpose())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.attn_layers:
            x = layer(x)
        return self.norm(x)


class PatchTstOracle(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int) -> None:
        super().__init__()
        self.encoder = PatchTstEncoderOracle(d, heads, d_ff)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


class SpectralOracle(nn.Module):
    def __init__(self, width: int, modes: int) -> None:
        super().__init__()
        self.modes = modes
        self.weights = nn.Parameter(torch.rand(width, width, modes, dtype=torch.cfloat) / width**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(x)
        out = torch.zeros_like(spectrum)
        out[:, :, : self.modes] = torch.einsum("bix,iox->box", spectrum[:, :, : self.modes], self.weights)
        return torch.fft.irfft(out, n=x.shape[-1])


class FnoOracle(nn.Module):
    def __init__(self, d: int, width: int, modes: int, layers: int) -> None:
        super().__init__()
        self.fc0, self.fc1 = nn.Linear(d, width), nn.Linear(width, d)
        self.spectral_layers = nn.ModuleList(SpectralOracle(width, modes) for _ in range(layers))
        self.conv_layers = nn.ModuleList(nn.Conv1d(width, width, 1) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc0(x).transpose(1, 2)
        for spectral, conv in zip(self.spectral_layers, self.conv_layers, strict=True):
            x = F.gelu(spectral(x) + conv(x))
        return self.fc1(x.transpose(1, 2))


class TransformerOracle(nn.Module):
    def __init__(self, d: int, heads: int, layers: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=d, nhead=heads, batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transformer_encoder(x)


# name -> (template parameters, the oracle, the input)
ORACLES: dict[str, tuple[dict[str, Any], Any, tuple[int, ...]]] = {
    "B_01_basic_transformer": ({"output_dim": 32, "num_heads": 4, "num_layers": 2},
                               lambda: TransformerOracle(32, 4, 2), (2, 12, 32)),
    "B_03_FITS": ({"patch_size_C": 2}, lambda: FitsOracle(2), (2, 512, 2)),
    "B_04_Dlinear": ({"num_patches": 16, "output_dim": 8}, lambda: DlinearOracle(16, 8, False), (2, 16, 8)),
    "B_05_Mamba": ({"output_dim": 32}, lambda: MambaOracle(32), (2, 12, 32)),
    "B_06_TimesNet": ({"output_dim": 8, "d_ff": 4, "e_layers": 2}, lambda: TimesNetOracle(8, 4), (2, 24, 8)),
    "B_07_TSMixer": ({"seq_len": 12, "enc_in": 8, "d_model": 16, "e_layers": 2}, lambda: TsMixerOracle(12, 8, 16),
                     (2, 12, 8)),
    "B_08_PatchTST": ({"output_dim": 16, "num_heads": 4, "d_ff": 32, "e_layers": 2, "activation": "gelu"},
                      lambda: PatchTstOracle(16, 4, 32), (2, 12, 16)),
    "B_09_FNO": ({"output_dim": 8, "d_model": 16, "modes": 5, "num_layers": 2}, lambda: FnoOracle(8, 16, 5, 2),
                 (2, 12, 8)),
}


def _randomise(module: nn.Module) -> None:
    """Weights and BatchNorm statistics away from their initial values (so a misplaced key shows)."""
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for key, value in module.state_dict().items():
            if value.is_floating_point() or value.is_complex():
                value.copy_(torch.randn(value.shape, generator=gen, dtype=value.dtype) * 0.2)
            if key.endswith("running_var"):
                value.abs_().add_(0.5)


@pytest.mark.filterwarnings("ignore:Complex modules are a new feature:UserWarning")
@pytest.mark.parametrize("name", ORACLES)
def test_same_function_as_the_reference_layout(name: str) -> None:
    params, make, shape = ORACLES[name]
    torch.manual_seed(0)
    oracle = make().eval()
    _randomise(oracle)
    model = vibench.build(text=text(name), inputs={"x": shape}, **params).eval()
    load_reference_state_dict(model, oracle.state_dict())  # strict: every key and shape after renaming
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), oracle(x), atol=2e-5, rtol=1e-4)


def test_dlinear_individual_maps_and_average_initialisation() -> None:
    params = {"num_patches": 16, "output_dim": 8, "individual": True}
    model = vibench.build(text=text("B_04_Dlinear"), **params).eval()
    assert torch.equal(getattr(model.Linear_Seasonal, "3").weight, torch.full((16, 16), 1 / 16))
    oracle = DlinearOracle(16, 8, individual=True).eval()
    _randomise(oracle)
    load_reference_state_dict(model, oracle.state_dict())
    x = torch.randn(2, 16, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), oracle(x), atol=1e-6, rtol=1e-5)


def test_mamba_initial_state_space_matches_the_reference() -> None:
    model = vibench.build(text=text("B_05_Mamba"), output_dim=32)
    mixer = model.layers[1].mixer
    assert torch.allclose(mixer.A_log, torch.log(torch.arange(1, 17.0)).repeat(64, 1))
    assert torch.equal(mixer.D, torch.ones(64))
    assert torch.equal(model.norm.weight, torch.ones(32))


# -- the reference's rows that do not run there --------------------------------------------------


@pytest.mark.parametrize(("d", "tokens", "params", "n_keys"), [(128, 32, 233_344, 21), (1024, 128, 13_335_552, 21)])
def test_mamba_reference_rows_build_and_run(d: int, tokens: int, params: int, n_keys: int) -> None:
    """The reference builds B_05_Mamba (same parameter count and keys) but every forward crashes."""
    program = vibench.check(text=text("B_05_Mamba"), params={"output_dim": d}, inputs={"x": (4, tokens, d)})
    assert program.root.param_count == params
    model = build_program(program).eval()
    keys = list(model.state_dict())
    assert len(keys) == n_keys and {k.split(".")[0] for k in keys} == {"layers", "norm"}
    if d == 128:
        with torch.no_grad():
            assert model(torch.randn(4, tokens, d)).shape == (4, tokens, d)


def test_fits_on_tokens_is_a_compile_time_error() -> None:
    """The reference builds B_03_FITS for the demo tokens (32 x 128) and crashes: 17 bins, 65 needed."""
    diag = compile_error("B_03_FITS", {"patch_size_C": 128}, (4, 32, 128))
    assert (diag.code, diag.pos.line) == ("E305", line_of("B_03_FITS", "  fits:"))
    assert "T >= 128" in diag.message
    channels = compile_error("B_03_FITS", {"patch_size_C": 1}, (4, 4096, 3))
    assert (channels.code, channels.pos.line) == ("E305", line_of("B_03_FITS", "  x:"))


def test_fits_keeps_odd_lengths_and_forecasts() -> None:
    model = vibench.build(text=text("B_03_FITS"), inputs={"x": (2, 1001, 1)}, seq_len=None).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1001, 1)).shape == (2, 1001, 1)  # the reference's irfft would return 1000
    forecast = vibench.check(text=text("B_03_FITS"), params={"seq_len": 1024, "pred_len": 256})
    assert str(forecast.root.outputs[0][2]) == "[B, 1280, 1]"
    assert forecast.root.param_count == 2 * (65 * 81 + 81)  # 65 bins -> int(65 * 1280 / 1024) = 81
    needs_length = compile_error("B_03_FITS", {"seq_len": None, "pred_len": 8})
    assert (needs_length.code, needs_length.pos.line) == ("E303", line_of("B_03_FITS", "  fits:"))


def test_dlinear_token_count_mismatch_is_a_compile_time_error() -> None:
    """The reference's maps are num_patches x num_patches; other token counts crash in forward."""
    diag = compile_error("B_04_Dlinear", {"num_patches": 32, "output_dim": 128}, (4, 64, 128))
    assert (diag.code, diag.pos.line) == ("E305", line_of("B_04_Dlinear", "  x:"))
    derived = vibench.check(text=text("B_04_Dlinear"), params={"num_patches": None}, inputs={"x": (4, 64, 128)})
    assert derived.root.param_count == 2 * (64 * 64 + 64)


def test_timesnet_minimum_token_count_is_checked() -> None:
    """The reference crashes below 10 tokens (top-5 periods need 5 non-DC bins)."""
    for tokens in (4, 8, 9):
        diag = compile_error("B_06_TimesNet", {"output_dim": 16, "d_ff": 8}, (2, tokens, 16))
        assert (diag.code, diag.pos.line) == ("E305", line_of("B_06_TimesNet", "  blocks:"))
        assert "P >= 10" in diag.message
    program = vibench.check(text=text("B_06_TimesNet"))
    assert [c.text for c in program.root.constraints] == ["P >= 10"]
    model = vibench.build(text=text("B_06_TimesNet"), output_dim=8, d_ff=4, top_k=2).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 4, 8)).shape == (1, 4, 8)  # a flat spectrum: periods stay positive


def test_tsmixer_demo_config_without_seq_len_builds() -> None:
    """The reference cannot build B_07 from any ISFM config (no seq_len / enc_in keys)."""
    demo = {"d_model": 256, "output_dim": 128, "num_patches": 32, "e_layers": 2, "dropout": 0.1}
    assert vibench.check(text=text("B_07_TSMixer"), params=demo, inputs={"x": (4, 32, 128)}).root.param_count == 165_184
    derived = {**demo, "seq_len": None, "enc_in": None, "num_patches": None, "output_dim": None}
    assert vibench.check(text=text("B_07_TSMixer"), params=derived, inputs={"x": (4, 64, 16)}).root.param_count == (
        2 * ((64 * 256 + 256 + 256 * 64 + 64) + (16 * 256 + 256 + 256 * 16 + 16)))
    diag = compile_error("B_07_TSMixer", demo, (4, 64, 128))
    assert (diag.code, diag.pos.line) == ("E305", line_of("B_07_TSMixer", "  x:"))


def test_patchtst_needs_no_factor() -> None:
    demo = {"output_dim": 128, "num_heads": 4, "d_ff": 256, "e_layers": 2, "dropout": 0.1, "activation": "relu"}
    assert vibench.check(text=text("B_08_PatchTST"), params=demo).root.param_count == 265_216


def test_fno_modes_beyond_the_token_spectrum_are_a_compile_time_error() -> None:
    """The reference crashes in forward: 32 modes, but 32 tokens have 17 bins."""
    demo = {"output_dim": 128, "d_model": 256, "num_layers": 2, "modes": 32}
    diag = compile_error("B_09_FNO", demo, (4, 32, 128))
    assert (diag.code, diag.pos.line) == ("E305", line_of("B_09_FNO", "  layers:"))
    assert vibench.check(text=text("B_09_FNO"), params=demo, inputs={"x": (4, 62, 128)}).root.param_count == 8_586_112


def test_fno_key_fallbacks_follow_the_reference() -> None:
    def width_and_modes(params: dict[str, Any]) -> tuple[int, int]:
        layer = vibench.build(text=text("B_09_FNO"), output_dim=8, num_layers=1, **params).layers[0]
        return layer.conv.out_channels, layer.spectral.modes

    assert width_and_modes({}) == (256, 16)
    assert width_and_modes({"d_model": 32, "num_modes": 8}) == (32, 8)
    assert width_and_modes({"d_model": 32, "width": 24, "num_modes": 8, "modes": 4}) == (24, 4)


# -- PHM-Vibench configs: the flat bag reaches a backbone through `inherit` ------------------------

HOST = """\
vibench: 1
name: Tokens
doc: A stand-in for the ISFM composite - tokens in, the chosen backbone, tokens out.
params:
  backbone: {type: str, default: B_04_Dlinear, slot: isfm/backbone, doc: The backbone.}
  num_patches: {type: int, default: 32, doc: Tokens.}
  output_dim: {type: int, default: 128, doc: Token width.}
  num_heads: {type: int, default: 4, doc: Heads.}
  num_layers: {type: int, default: 2, doc: Layers.}
  e_layers: {type: int, default: 2, doc: Layers.}
  d_ff: {type: int, default: 256, doc: Feed-forward width.}
  d_model: {type: int, default: 256, doc: Hidden width.}
  dropout: {type: float, default: 0.1, doc: Dropout.}
  activation: {type: str, default: relu, doc: Activation.}
  factor: {type: int, default: 5, doc: Unused by every backbone here.}
inputs:
  x: {shape: [B, "${num_patches}", "${output_dim}"]}
nodes:
  backbone: {block: "isfm/backbone/${backbone}", in: x, inherit: true}
outputs:
  tokens: backbone
"""

# The reference's M_01_ISFM demo config with each backbone: the backbone's share of the measured total
# (M_01 total minus E_01_HSE's 49,408 and H_01's 1,290 parameters); B_07 and B_08 fail to build there.
DEMO_BACKBONES = {
    "B_01_basic_transformer": 1_236_746 - 50_698,
    "B_04_Dlinear": 52_810 - 50_698,
    "B_05_Mamba": 284_042 - 50_698,
    "B_06_TimesNet": 37_541_898 - 50_698,
    "B_07_TSMixer": 215_882 - 50_698,
    "B_08_PatchTST": 315_914 - 50_698,
    "B_09_FNO": 4_442_506 - 50_698,
}


# Keys PHM-Vibench's backbone cannot be built without (E221 otherwise), at the values vibench would use.
DEMO_REQUIRED = {"B_07_TSMixer": "  seq_len: 32\n  enc_in: 128\n"}


@pytest.mark.parametrize("backbone", DEMO_BACKBONES)
def test_demo_model_section_reaches_the_backbone(backbone: str, tmp_path) -> None:
    (tmp_path / "isfm").mkdir()
    (tmp_path / "isfm" / "Tokens.yaml").write_text(HOST)
    experiment = f"""\
environment: {{seed: 0}}
model:
  type: ISFM
  name: Tokens
  backbone: {backbone}
  d_model: 256
  output_dim: 128
  num_heads: 4
  num_layers: 2
  e_layers: 2
  d_ff: 256
  dropout: 0.1
  activation: relu
  num_patches: 32
  use_prompt: false
{DEMO_REQUIRED.get(backbone, "")}trainer: {{max_epochs: 1}}
"""
    program = vibench.check(text=experiment, search_path=[str(tmp_path)], inputs={"x": (4, 32, 128)})
    assert program.root.param_count == DEMO_BACKBONES[backbone]
    # W112: a key PHM-Vibench requires that vibench does not need (B_08's `factor`). The required keys
    # added above (lines 16-) are not declared by the host, but its backbone slot declares them
    # (parameters scoped by slot), so they reach B_07_TSMixer.
    others = [(w.code, w.pos.line) for w in program.warnings if w.code not in ("W104", "W112")]
    assert others == [("W103", 15)]  # use_prompt: nobody reads it
    # W104: keys the host passes on that this backbone does not declare (they have no effect).
    from tests.parity import template_params

    unread = {w.message.split("`")[1] for w in program.warnings if w.code == "W104"}
    given = {"d_model", "output_dim", "num_heads", "num_layers", "e_layers", "d_ff", "dropout", "activation",
             "num_patches"}
    assert unread <= given and not unread & template_params(f"isfm/backbone/{backbone}")
