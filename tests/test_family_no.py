"""Neural-operator templates (vibench/specs/no): they compile, build and run on long batches, emit and
build agree, PHM-Vibench configs and checkpoints map onto them, and the reference's broken
configurations are compile-time errors (vibench/specs/DEVIATIONS.md).
"""

from __future__ import annotations

import os

import pytest
import torch

import vibench
from tests.family_checks import (
    check_template,
    compiled_matches,
    experiment,
    loads_reference,
    reference_state_dict,
    scripted_matches,
    spec_line,
    template_text,
)
from tests.helpers import ROOT, load_file_module
from vibench.compiler import pipeline
from vibench.compiler.symbolic import evaluate
from vibench.runtime.build import build_program
from vibench.runtime.checkpoint import load_reference_state_dict

SPECS = os.path.join(ROOT, "vibench", "specs", "no")
SMALL = {
    "no/FNO": {"input_dim": 2, "width": 16, "modes": 12, "n_layers": 3},
    "no/DeepONet": {"input_dim": 2, "branch_layers": [32, 24], "trunk_layers": [16, 16, 8], "coord_dim": 2},
}


def real_scalars(model: torch.nn.Module) -> int:
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def check_fno(params: dict, shape: tuple[int, ...], tmp_path) -> tuple[torch.nn.Module, torch.Tensor]:
    """Like tests.family_checks.check_template, counting a complex weight as two real parameters."""
    program = vibench.check(text=template_text("no/FNO"), params=params, inputs={"x": shape})
    built = build_program(program).eval()
    path = tmp_path / "fno_model.py"
    path.write_text(pipeline.compile_source(program, None))
    emitted = load_file_module(str(path), "fno_model").FNO().eval()
    assert [(k, v.shape) for k, v in emitted.state_dict().items()] == [
        (k, v.shape) for k, v in built.state_dict().items()]
    emitted.load_state_dict(built.state_dict())
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, again = built(x), emitted(x)
        lifted = built.fc0(x)
    env = dict(program.bindings)
    (_, _, static), = program.root.outputs
    assert tuple(out.shape) == tuple(evaluate(d, env) for d in static.shape)
    fc0 = next(n for n in program.root.nodes if n.name == "fc0")
    assert tuple(lifted.shape) == tuple(evaluate(d, env) for d in fc0.outputs[0][1].shape)
    torch.testing.assert_close(again, out, atol=1e-6, rtol=0)
    assert real_scalars(built) == program.root.param_count
    return built, out


def test_fno_runs_on_a_long_batch(tmp_path) -> None:
    model, out = check_fno({**SMALL["no/FNO"], "output_dim": 3}, (2, 1024, 2), tmp_path)
    assert tuple(out.shape) == (2, 1024, 3)
    assert model.layers[0].spectral.weights.dtype == torch.complex64


def test_deeponet_runs_on_a_long_batch(tmp_path) -> None:
    _, model, out = check_template("no/DeepONet", {**SMALL["no/DeepONet"], "output_dim": 3}, (2, 1024, 2), tmp_path)
    assert tuple(out.shape) == (2, 1024, 3)
    # the trunk's last width is the branch's: [16, 16, 8] becomes [16, 16, 24]
    assert model.trunk_net.network[6].weight.shape == (24, 16)
    assert model.trunk_net.network[0].weight.shape == (16, 2)  # coord_dim copies of the position


@pytest.mark.parametrize("template", SMALL)
def test_channels_first_layout_computes_the_same(template: str) -> None:
    x = torch.randn(2, 64, 2)
    blc = vibench.build(text=template_text(template), **SMALL[template]).eval()
    bcl = vibench.build(text=template_text(template), **SMALL[template], layout="BCL").eval()
    bcl.load_state_dict(blc.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(bcl(x.transpose(1, 2)).transpose(1, 2), blc(x), atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("template", SMALL)
def test_emitted_code_scripts_and_compiles(template: str) -> None:
    model = vibench.build(text=template_text(template), **SMALL[template])
    x = torch.randn(2, 64, 2)
    assert scripted_matches(model, x)
    assert compiled_matches(model, x)


def test_deeponet_position_grid_spans_zero_to_one() -> None:
    """Each output step depends only on the input at that step and its position linspace(0, 1, L)."""
    model = vibench.build(text=template_text("no/DeepONet"), **SMALL["no/DeepONet"]).eval()
    x = torch.randn(1, 50, 2)
    with torch.no_grad():
        full = model(x)
        first = model(x[:, :1])  # one step sits at position 0, as the first of 50 does
        coords = model.trunk_net.network(torch.linspace(0, 1, 50).view(1, 50, 1).expand(1, 50, 2))
        product = model.branch_net(x) * coords
    torch.testing.assert_close(full[:, :1], first, atol=1e-6, rtol=0)
    torch.testing.assert_close(full, model.output_projection(product), atol=1e-6, rtol=0)


def test_reference_checkpoints_load() -> None:
    """The reference's state_dicts, measured on the PHM-Vibench classes (key, shape)."""
    deeponet = build_program(vibench.check(text=experiment("NO", "DeepONet", {
        "input_dim": 2, "branch_layers": [8, 6], "trunk_layers": [4, 4, 5], "output_dim": 1})))
    assert loads_reference(deeponet, reference_state_dict("""
        branch_net.network.0.weight 8x2  branch_net.network.0.bias 8  branch_net.network.3.weight 6x8
        branch_net.network.3.bias 6  trunk_net.network.0.weight 4x1  trunk_net.network.0.bias 4
        trunk_net.network.3.weight 4x4  trunk_net.network.3.bias 4  trunk_net.network.6.weight 6x4
        trunk_net.network.6.bias 6  output_projection.weight 1x6  output_projection.bias 1"""))
    fno = build_program(vibench.check(text=experiment("NO", "FNO", {
        "input_dim": 2, "width": 4, "modes": 3, "n_layers": 2, "output_dim": 1})))
    reference = reference_state_dict("""
        fc0.weight 4x2  fc0.bias 4  spectral_layers.0.weights 4x4x3  spectral_layers.1.weights 4x4x3
        conv_layers.0.weight 4x4x1  conv_layers.0.bias 4  conv_layers.1.weight 4x4x1  conv_layers.1.bias 4
        fc1.weight 1x4  fc1.bias 1""")
    reference = {k: v.to(torch.complex64) if k.startswith("spectral") else v for k, v in reference.items()}
    load_reference_state_dict(fno, reference)
    assert torch.equal(fno.layers[1].spectral.weights, reference["spectral_layers.1.weights"])
    assert torch.equal(fno.layers[0].conv.bias, reference["conv_layers.0.bias"])


def test_a_phm_vibench_model_section_compiles() -> None:
    config = {"input_dim": 2, "modes": 16, "width": 64, "num_layers": 2, "output_dim": 2, "num_classes": 4}
    text = experiment("NO", "FNO", config)
    program = vibench.check(text=text, inputs={"x": (8, 4096, 2)})
    assert len(next(n for n in program.root.nodes if n.name == "layers").copies) == 4  # n_layers, not num_layers
    warnings = {d.message.split("`")[1]: d for d in program.warnings}
    assert set(warnings) == {"num_layers", "num_classes"} and {d.code for d in warnings.values()} == {"W101"}
    assert warnings["num_layers"].pos.line == text.splitlines().index("  num_layers: 2") + 1


def test_too_many_modes_for_the_input_is_a_compile_time_error() -> None:
    """The reference fails inside forward when modes > L // 2 + 1 (the spectrum is too short)."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=experiment("NO", "FNO", {"input_dim": 1, "modes": 64}), inputs={"x": (2, 100, 1)})
    (diag,) = err.value.diagnostics
    assert diag.code == "E305" and any("Fourier modes" in note for note in diag.notes)
    assert diag.pos.line == 7  # the config's `modes: 64`; the template's node in a note
    assert f"FNO.yaml:{spec_line(os.path.join(SPECS, 'FNO.yaml'), '  layers:')}:" in diag.notes[0]


def test_unknown_activation_is_an_error_not_a_silent_gelu() -> None:
    """The reference builds GELU for any activation other than 'relu' (a typo included)."""
    text = experiment("NO", "DeepONet", {"input_dim": 1, "activation": "tanh"})
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E208" and diag.pos.line == text.splitlines().index("  activation: tanh") + 1


def test_spectral_weights_are_the_references_values_stored_mode_by_mode() -> None:
    """SpectralConv1d keeps PHM-Vibench's (in, out, modes) weights (same draw under the same seed) with each
    mode's [in, out] matrix contiguous; loading a contiguous checkpoint keeps that layout, and the
    output is the einsum of the reference's forward."""
    text = ("vibench: 1\nname: S\ninputs: {x: {shape: [B, 6, 32]}}\n"
            "nodes:\n  s: {block: spectral_conv1d, in: x, out_channels: 5, modes: 7}\noutputs: {y: s}\n")
    torch.manual_seed(3)
    model = vibench.build(text=text)
    torch.manual_seed(3)
    drawn = torch.rand(6, 5, 7, dtype=torch.cfloat) / 30
    weights = model.s.weights
    assert weights.shape == (6, 5, 7) and weights.permute(2, 0, 1).is_contiguous()
    torch.testing.assert_close(weights.detach(), drawn)
    loaded = torch.randn(6, 5, 7, dtype=torch.cfloat)
    model.load_state_dict({"s.weights": loaded})
    assert model.s.weights.permute(2, 0, 1).is_contiguous()
    x = torch.randn(3, 6, 32, requires_grad=True)
    spectrum = torch.fft.rfft(x)
    expected = torch.zeros(3, 5, 17, dtype=torch.cfloat)
    expected[:, :, :7] = torch.einsum("bix,iox->box", spectrum[:, :, :7], loaded)
    y = model(x)
    torch.testing.assert_close(y, torch.fft.irfft(expected, n=32))
    y.square().sum().backward()
    assert model.s.weights.grad is not None and model.s.weights.grad.stride() == model.s.weights.stride()
