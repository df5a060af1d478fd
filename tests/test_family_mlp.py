"""MLP family templates (vibench/specs/mlp, Dlinear aside): they compile, build and run on long
batches, emit and build agree, PHM-Vibench configs and checkpoints map onto them, and the
reference's broken configurations are compile-time errors or working models
(vibench/specs/DEVIATIONS.md).

The reference's canonical sizes run in tests/test_parity.py; here widths stay small so that
L = 1024 stays cheap.
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
from tests.helpers import ROOT
from vibench.runtime.build import build_program

SPECS = os.path.join(ROOT, "vibench", "specs", "mlp")
SMALL = {
    "mlp/ResNetMLP": {"input_dim": 2, "hidden_dim": 32, "num_layers": 2, "activation": "gelu"},
    "mlp/MLPMixer": {"input_dim": 2, "seq_len": 1024, "hidden_dim": 16, "num_layers": 2, "tokens_mlp_dim": 32,
                     "channels_mlp_dim": 24},
    "mlp/gMLP": {"input_dim": 2, "seq_len": 1024, "hidden_dim": 16, "num_layers": 2, "ffn_dim": 24},
    "mlp/DenseNetMLP": {"input_dim": 2, "growth_rate": 8, "block_config": [2, 3], "activation": "gelu"},
}
HEADS = {"classifier": {"num_classes": 5}, "regression": {"output_dim": 3}}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("template", SMALL)
def test_template_runs_on_a_long_batch(template: str, head: str, tmp_path) -> None:
    _, _, out = check_template(template, {**SMALL[template], **HEADS[head]}, (2, 1024, 2), tmp_path)
    assert tuple(out.shape) == ((2, 5) if head == "classifier" else (2, 1024, 3))


@pytest.mark.parametrize("template", SMALL)
def test_channels_first_layout_computes_the_same(template: str) -> None:
    x = torch.randn(2, 64, 2)
    for head, params in HEADS.items():
        params = {**SMALL[template], **params} | ({"seq_len": 64} if "seq_len" in SMALL[template] else {})
        blc = vibench.build(text=template_text(template), **params).eval()
        bcl = vibench.build(text=template_text(template), layout="BCL", **params).eval()
        bcl.load_state_dict(blc.state_dict())
        with torch.no_grad():
            expected, found = blc(x), bcl(x.transpose(1, 2))
        if head == "regression":
            found = found.transpose(1, 2)  # [B, output_dim, L] in the channels-first layout
        torch.testing.assert_close(found, expected, atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("template", SMALL)
def test_emitted_code_scripts_and_compiles_to_one_graph(template: str) -> None:
    params = {**SMALL[template], "num_classes": 3} | ({"seq_len": 64} if "seq_len" in SMALL[template] else {})
    model = build_program(vibench.check(text=template_text(template), params=params))
    x = torch.randn(2, 64, 2)
    assert scripted_matches(model, x)
    assert compiled_matches(model, x)


# The reference's state_dict for small configs, measured on the PHM-Vibench classes (key, shape).
REFERENCE = {
    "ResNetMLP": ({"input_dim": 2, "hidden_dim": 8, "num_layers": 1, "num_classes": 3}, """
        input_projection.weight 8x2  input_projection.bias 8
        residual_blocks.0.linear1.weight 8x8  residual_blocks.0.linear1.bias 8
        residual_blocks.0.linear2.weight 8x8  residual_blocks.0.linear2.bias 8
        residual_blocks.0.norm1.weight 8  residual_blocks.0.norm1.bias 8
        residual_blocks.0.norm2.weight 8  residual_blocks.0.norm2.bias 8
        classifier.weight 3x8  classifier.bias 3
    """),
    "MLPMixer": ({"input_dim": 2, "seq_len": 16, "hidden_dim": 8, "num_layers": 1, "tokens_mlp_dim": 4,
                  "channels_mlp_dim": 6, "num_classes": 3}, """
        input_projection.weight 8x2  input_projection.bias 8
        mixer_blocks.0.token_norm.weight 8  mixer_blocks.0.token_norm.bias 8
        mixer_blocks.0.token_mlp.0.weight 4x16  mixer_blocks.0.token_mlp.0.bias 4
        mixer_blocks.0.token_mlp.3.weight 16x4  mixer_blocks.0.token_mlp.3.bias 16
        mixer_blocks.0.channel_norm.weight 8  mixer_blocks.0.channel_norm.bias 8
        mixer_blocks.0.channel_mlp.0.weight 6x8  mixer_blocks.0.channel_mlp.0.bias 6
        mixer_blocks.0.channel_mlp.3.weight 8x6  mixer_blocks.0.channel_mlp.3.bias 8
        norm.weight 8  norm.bias 8  classifier.weight 3x8  classifier.bias 3
    """),
    "gMLP": ({"input_dim": 2, "seq_len": 16, "hidden_dim": 8, "num_layers": 1, "ffn_dim": 6, "num_classes": 3}, """
        input_projection.weight 8x2  input_projection.bias 8
        gmlp_blocks.0.norm.weight 8  gmlp_blocks.0.norm.bias 8
        gmlp_blocks.0.channel_proj1.weight 6x8  gmlp_blocks.0.channel_proj1.bias 6
        gmlp_blocks.0.sgu.norm.weight 3  gmlp_blocks.0.sgu.norm.bias 3
        gmlp_blocks.0.sgu.spatial_proj.weight 16x16  gmlp_blocks.0.sgu.spatial_proj.bias 16
        gmlp_blocks.0.channel_proj2.weight 8x3  gmlp_blocks.0.channel_proj2.bias 8
        norm.weight 8  norm.bias 8  classifier.weight 3x8  classifier.bias 3
    """),
    "DenseNetMLP": ({"input_dim": 2, "growth_rate": 4, "block_config": [1, 1], "num_classes": 3}, """
        input_projection.weight 64x2  input_projection.bias 64
        features.0.layers.0.bottleneck.0.weight 64  features.0.layers.0.bottleneck.0.bias 64
        features.0.layers.0.bottleneck.1.weight 16x64  features.0.layers.0.bottleneck.1.bias 16
        features.0.layers.0.main.0.weight 16  features.0.layers.0.main.0.bias 16
        features.0.layers.0.main.1.weight 4x16  features.0.layers.0.main.1.bias 4
        features.1.transition.0.weight 68  features.1.transition.0.bias 68
        features.1.transition.1.weight 34x68  features.1.transition.1.bias 34
        features.2.layers.0.bottleneck.0.weight 34  features.2.layers.0.bottleneck.0.bias 34
        features.2.layers.0.bottleneck.1.weight 16x34  features.2.layers.0.bottleneck.1.bias 16
        features.2.layers.0.main.0.weight 16  features.2.layers.0.main.0.bias 16
        features.2.layers.0.main.1.weight 4x16  features.2.layers.0.main.1.bias 4
        final_norm.weight 38  final_norm.bias 38  classifier.weight 3x38  classifier.bias 3
    """),
}


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_checkpoints_load_through_the_declared_renames(name: str) -> None:
    config, layout = REFERENCE[name]
    assert loads_reference(vibench.build(text=experiment("MLP", name, config)), reference_state_dict(layout))


def test_phm_vibench_model_section_compiles_with_warnings_for_unread_keys() -> None:
    text = """\
environment: {seed: 42}
data: {window_size: 1024}
model:
  type: MLP
  name: MLPMixer
  input_dim: 2
  seq_len: 1024
  hidden_dim: 64
  num_layers: 2
  patch_size: 16
  num_classes: 4
trainer: {max_epochs: 10}
"""
    program = vibench.check(text=text, inputs={"x": (8, 1024, 2)})
    assert str(program.root.outputs[0][2]) == "[B, 4]"
    assert {(w.code, w.pos.line) for w in program.warnings} == {("W101", 10)}
    dense = vibench.check(text=experiment("MLP", "DenseNetMLP", {"input_dim": 1, "hidden_dim": 64, "num_layers": 2}))
    assert [w.code for w in dense.warnings] == ["W111", "W101", "W101"]  # W111: no num_classes


@pytest.mark.parametrize("template", ["MLPMixer", "gMLP"])
def test_sequence_length_mismatch_is_a_compile_time_error(template: str) -> None:
    """The reference's defaults (seq_len 512) fail in forward on L = 1024; vibench refuses them at compile time."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text(f"mlp/{template}"), params={"num_classes": 10}, inputs={"x": (4, 1024, 1)})
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.pos.line) == ("E305", spec_line(os.path.join(SPECS, f"{template}.yaml"), "  x:"))
    assert "fixed to 512" in diag.message


@pytest.mark.parametrize("template", ["MLPMixer", "gMLP"])
def test_sequence_length_can_come_from_the_input(template: str) -> None:
    params = {**SMALL[f"mlp/{template}"], "seq_len": None, "num_classes": 3}
    derived = vibench.check(text=template_text(f"mlp/{template}"), params=params, inputs={"x": (2, 96, 2)})
    given = vibench.check(text=template_text(f"mlp/{template}"), params={**params, "seq_len": 96})
    assert derived.root.param_count == given.root.param_count
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text(f"mlp/{template}"), params=params)  # L left free: weights need it
    assert err.value.codes == ["E303"]


@pytest.mark.parametrize(("template", "activation"), [("DenseNetMLP", "silu"), ("ResNetMLP", "tanh")])
def test_unsupported_activations_are_located_errors(template: str, activation: str) -> None:
    """DenseNetMLP's reference turns any activation but relu into GELU; ResNetMLP's raises while building."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text(f"mlp/{template}"), params={"activation": activation})
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.pos.line) == ("E208", spec_line(os.path.join(SPECS, f"{template}.yaml"), "  activation:"))


def test_gmlp_rounds_odd_widths_up_to_even() -> None:
    program = vibench.check(text=template_text("mlp/gMLP"),
                            params={"seq_len": 32, "hidden_dim": 31, "ffn_dim": 33, "num_layers": 1})
    assert str(program.root.node("input_projection").outputs[0][1]) == "[B, 32, 32]"
    block = program.root.node("gmlp_blocks").copies[0].unit
    assert str(block.node("sgu").outputs[0][1]) == "[B, 32, 17]"


def test_spatial_gating_unit_starts_as_a_pass_through_gate_and_mixes_time() -> None:
    text = """
vibench: 1
name: Gate
inputs: {x: {shape: [B, 9, 8]}}
nodes: {sgu: {block: spatial_gating_unit, in: x}}
outputs: {y: sgu}
"""
    model = vibench.build(text=text).eval()
    x = torch.randn(2, 9, 8)
    u, v = x[..., :4], x[..., 4:]
    with torch.no_grad():
        assert torch.equal(model(x), u)  # spatial weights 0, biases 1: the gate is 1 everywhere
        model.sgu.spatial_proj.weight.normal_()
        model.sgu.norm.weight.normal_()
        mixed = model.sgu.spatial_proj(model.sgu.norm(v).transpose(1, 2)).transpose(1, 2)
        torch.testing.assert_close(model(x), u * mixed)
