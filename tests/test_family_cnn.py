"""CNN family templates (vibench/specs/cnn): they compile, build and run on long batches, emit and
build agree, PHM-Vibench configs and checkpoints map onto them, and the reference's broken
configurations are compile-time errors or working models (vibench/specs/DEVIATIONS.md).

The reference's canonical sizes run in tests/test_parity.py; here widths stay small so that
L = 1024 stays cheap.
"""

from __future__ import annotations

import os

import pytest
import torch

import vibench
from tests.family_checks import compiled_matches, experiment, scripted_matches, spec_line, template_text
from tests.helpers import ROOT, load_file_module
from vibench.compiler import pipeline
from vibench.compiler.symbolic import evaluate
from vibench.runtime.build import build_program
from vibench.runtime.checkpoint import convert_reference_state_dict, load_reference_state_dict

SPECS = os.path.join(ROOT, "vibench", "specs", "cnn")
# Four stride-2 rows after the stride-2 stem: the same 32-fold downsampling as the MobileNetV2 table.
SMALL_TABLE = [[1, 8, 1, 1], [2, 8, 2, 2], [2, 12, 1, 2], [2, 16, 1, 2], [2, 16, 1, 2]]
SMALL = {
    "cnn/ResNet1D": {"input_dim": 2, "initial_channels": 8, "layers": [1, 1, 1, 1]},
    "cnn/AttentionCNN": {"input_dim": 2, "channels": [16, 32, 48, 64]},
    "cnn/MultiScaleCNN": {"input_dim": 2, "multiscale_channels": [16, 8], "scales": [3, 5]},
    "cnn/MobileNet1D": {"input_dim": 2, "inverted_residual_setting": SMALL_TABLE, "width_multiplier": 0.5},
    "cnn/TCN": {"input_dim": 2, "num_channels": [8, 8, 8], "kernel_size": 3},
}
HEADS = {"classifier": {"num_classes": 5}, "regression": {"output_dim": 3}}
# Output length of the regression head for L = 1024: the reference's decoders, and TCN's 1x1 projection.
DECODED = {"cnn/ResNet1D": 512, "cnn/AttentionCNN": 512, "cnn/MultiScaleCNN": 2048, "cnn/MobileNet1D": 512,
           "cnn/TCN": 1024}


def shapes_of(program) -> dict[str, tuple[int, ...]]:
    """Static output shape of every top-level node, with the program's input bindings."""
    env = dict(program.bindings)
    return {n.name: tuple(evaluate(d, env) for d in n.outputs[0][1].shape) for n in program.root.nodes}


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("template", SMALL)
def test_template_runs_on_a_long_batch(template: str, head: str, tmp_path) -> None:
    """Built and emitted model agree (state_dict, eval outputs with the same random weights and batch-norm
    statistics); every top-level node's runtime shape is its static one."""
    program = vibench.check(text=template_text(template), params={**SMALL[template], **HEADS[head]},
                            inputs={"x": (2, 1024, 2)})
    built = build_program(program).eval()
    path = tmp_path / "model.py"
    path.write_text(pipeline.compile_source(program, None))
    emitted = getattr(load_file_module(str(path), f"cnn_{template[4:]}_{head}"), program.root.name)().eval()
    state = built.state_dict()
    assert [(k, v.shape) for k, v in state.items()] == [(k, v.shape) for k, v in emitted.state_dict().items()]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for key, value in state.items():
            if value.is_floating_point():  # positive running variances keep batch norm finite
                noise = torch.randn(value.shape, generator=generator)
                value.copy_(noise.abs() + 0.5 if key.endswith("running_var") else 0.3 * noise)
    emitted.load_state_dict(state)
    seen: dict[str, tuple[int, ...]] = {}
    for name, module in built.named_children():
        module.register_forward_hook(lambda m, args, out, name=name: seen.__setitem__(name, tuple(out.shape)))
    x = torch.randn(2, 1024, 2, generator=generator)
    with torch.no_grad():
        out, again = built(x), emitted(x)
    torch.testing.assert_close(again, out, atol=1e-6, rtol=0)
    assert torch.isfinite(out).all()
    static = shapes_of(program)
    assert seen and all(seen[name] == static[name] for name in seen)
    assert tuple(out.shape) == ((2, 5) if head == "classifier" else (2, DECODED[template], 3))
    assert sum(p.numel() for p in built.parameters()) == program.root.param_count


@pytest.mark.parametrize("template", [t for t in SMALL if t != "cnn/TCN"])
def test_match_input_length_gives_the_decoder_the_encoder_stride(template: str) -> None:
    """Deviation: the reference decoders give L / 2 (2L for MultiScaleCNN); the option restores L."""
    params = {**SMALL[template], "output_dim": 3, "match_input_length": True}
    stride = 8 if template == "cnn/MultiScaleCNN" else 32
    for length in (1024, 1001):
        program = vibench.check(text=template_text(template), params=params, inputs={"x": (2, length, 2)})
        expected = (2, stride * -(-length // stride), 3)  # the encoder rounds up: L when L % stride == 0
        assert shapes_of(program)["signal"] == expected
    model = build_program(program).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1001, 2)).shape == expected


@pytest.mark.parametrize("template", SMALL)
def test_channels_first_layout_computes_the_same(template: str) -> None:
    x = torch.randn(2, 64, 2)
    for head, params in HEADS.items():
        params = {**SMALL[template], **params}
        blc = vibench.build(text=template_text(template), **params).eval()
        bcl = vibench.build(text=template_text(template), layout="BCL", **params).eval()
        bcl.load_state_dict(blc.state_dict())
        with torch.no_grad():
            expected, found = blc(x), bcl(x.transpose(1, 2))
        if head == "regression":
            found = found.transpose(1, 2)  # [B, output_dim, L'] in the channels-first layout
        torch.testing.assert_close(found, expected, atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("template", SMALL)
def test_emitted_code_scripts(template: str) -> None:
    program = vibench.check(text=template_text(template), params={**SMALL[template], "num_classes": 3})
    assert scripted_matches(build_program(program), torch.randn(2, 64, 2))


@pytest.mark.parametrize("template", ["cnn/AttentionCNN", "cnn/TCN"])
def test_native_blocks_compile_to_one_graph(template: str) -> None:
    """The CBAM gates and the weight-normed causal convolution are captured by torch.compile(fullgraph=True)
    (the other templates are plain torch layers; all five script)."""
    model = vibench.build(text=template_text(template), **SMALL[template], output_dim=1)
    assert compiled_matches(model, torch.randn(2, 64, 2))


def test_tcn_is_causal() -> None:
    """Output step t depends on input steps <= t only: changing the future leaves the past unchanged."""
    model = vibench.build(text=template_text("cnn/TCN"), **SMALL["cnn/TCN"], output_dim=1).eval()
    x = torch.randn(1, 200, 2)
    changed = x.clone()
    changed[:, 120:] = torch.randn(1, 80, 2)
    with torch.no_grad():
        before, after = model(x), model(changed)
    torch.testing.assert_close(after[:, :120], before[:, :120], atol=0, rtol=0)
    assert not torch.allclose(after[:, 120:], before[:, 120:])


@pytest.mark.parametrize("node", ["channel_attention", "spatial_attention"])
def test_cbam_max_routes_the_gradient_as_max_pooling_does(node: str) -> None:
    """Under autograd the max descriptor's gradient goes to one winning position, as the reference's
    AdaptiveMaxPool1d / torch.max route it (amax, the cheaper forward without autograd, shares it among
    ties); forward values are the same either way."""
    text = (f"vibench: 1\nname: M\ninputs: {{x: {{shape: [B, 4, 6]}}}}\nnodes:\n"
            f"  a: {{block: {node}, in: x{', reduction: 2' if node == 'channel_attention' else ''}}}\n"
            "outputs: {y: a}\n")
    module = vibench.build(text=text).a
    x = torch.zeros(2, 4, 6)
    x[:, :, 1] = x[:, :, 4] = 1.0  # ties over L in every channel ...
    x[:, 2, :] = 1.0  # ... and over C at every position

    def reference(x: torch.Tensor) -> torch.Tensor:  # PHM-Vibench's formulation, on the module's weights
        if node == "channel_attention":
            peak = torch.nn.functional.adaptive_max_pool1d(x, 1).squeeze(2)
            return x * torch.sigmoid(module.fc(x.mean(dim=2)) + module.fc(peak)).unsqueeze(2)
        pooled = torch.cat([x.mean(dim=1, keepdim=True), torch.max(x, dim=1, keepdim=True)[0]], dim=1)
        return x * torch.sigmoid(module.conv(pooled))

    ours, theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    weight = torch.randn(2, 4, 6)
    (module(ours) * weight).sum().backward()
    (reference(theirs) * weight).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x))


# The reference's state_dict for small configs, measured on the PHM-Vibench classes: `key dims`
# pairs, and `module bnC` for a BatchNorm1d of C channels (weight, bias, running statistics).
REFERENCE = {
    "TCN": ({"input_dim": 2, "num_channels": [4, 4], "kernel_size": 3, "num_classes": 3}, """
        network.0.conv1.bias 4  network.0.conv1.weight_g 4x1x1  network.0.conv1.weight_v 4x2x3
        network.0.conv2.bias 4  network.0.conv2.weight_g 4x1x1  network.0.conv2.weight_v 4x4x3
        network.0.net.0.bias 4  network.0.net.0.weight_g 4x1x1  network.0.net.0.weight_v 4x2x3
        network.0.net.4.bias 4  network.0.net.4.weight_g 4x1x1  network.0.net.4.weight_v 4x4x3
        network.0.downsample.weight 4x2x1  network.0.downsample.bias 4  network.1.conv1.bias 4
        network.1.conv1.weight_g 4x1x1  network.1.conv1.weight_v 4x4x3  network.1.conv2.bias 4
        network.1.conv2.weight_g 4x1x1  network.1.conv2.weight_v 4x4x3  network.1.net.0.bias 4
        network.1.net.0.weight_g 4x1x1  network.1.net.0.weight_v 4x4x3  network.1.net.4.bias 4
        network.1.net.4.weight_g 4x1x1  network.1.net.4.weight_v 4x4x3  classifier.2.weight 3x4
        classifier.2.bias 3
    """),
    "MobileNet1D": ({"input_dim": 2, "inverted_residual_setting": [[1, 8, 1, 1], [2, 8, 2, 2], [1, 12, 1, 1]],
                     "width_multiplier": 0.5, "num_classes": 3}, """
        features.0.weight 16x2x3  features.1 bn16  features.3.conv.0.weight 16x1x3  features.3.conv.1 bn16
        features.3.conv.3.weight 4x16x1  features.3.conv.4 bn4  features.4.conv.0.weight 8x4x1
        features.4.conv.1 bn8  features.4.conv.3.weight 8x1x3  features.4.conv.4 bn8
        features.4.conv.6.weight 4x8x1  features.4.conv.7 bn4  features.5.conv.0.weight 8x4x1
        features.5.conv.1 bn8  features.5.conv.3.weight 8x1x3  features.5.conv.4 bn8
        features.5.conv.6.weight 4x8x1  features.5.conv.7 bn4  features.6.conv.0.weight 4x1x3
        features.6.conv.1 bn4  features.6.conv.3.weight 6x4x1  features.6.conv.4 bn6
        features.7.weight 1280x6x1  features.8 bn1280  classifier.1.weight 3x1280  classifier.1.bias 3
    """),
    "AttentionCNN": ({"input_dim": 2, "channels": [16, 32, 48], "output_dim": 2}, """
        conv1.weight 16x2x7  bn1 bn16  layers.0.conv1.weight 16x16x3  layers.0.bn1 bn16
        layers.0.conv2.weight 16x16x3  layers.0.bn2 bn16
        layers.0.attention.channel_attention.fc.0.weight 1x16
        layers.0.attention.channel_attention.fc.2.weight 16x1
        layers.0.attention.spatial_attention.conv.weight 1x2x7  layers.1.conv1.weight 32x16x3
        layers.1.bn1 bn32  layers.1.conv2.weight 32x32x3  layers.1.bn2 bn32
        layers.1.attention.channel_attention.fc.0.weight 2x32
        layers.1.attention.channel_attention.fc.2.weight 32x2
        layers.1.attention.spatial_attention.conv.weight 1x2x7  layers.1.shortcut.0.weight 32x16x1
        layers.1.shortcut.1 bn32  layers.2.conv1.weight 48x32x3  layers.2.bn1 bn48
        layers.2.conv2.weight 48x48x3  layers.2.bn2 bn48
        layers.2.attention.channel_attention.fc.0.weight 3x48
        layers.2.attention.channel_attention.fc.2.weight 48x3
        layers.2.attention.spatial_attention.conv.weight 1x2x7  layers.2.shortcut.0.weight 48x32x1
        layers.2.shortcut.1 bn48  upsample.0.weight 48x32x4  upsample.0.bias 32  upsample.1 bn32
        upsample.3.weight 32x16x4  upsample.3.bias 16  upsample.4 bn16  upsample.6.weight 16x16x4
        upsample.6.bias 16  upsample.7 bn16  upsample.9.weight 16x2x4  upsample.9.bias 2
    """),
    "ResNet1D": ({"input_dim": 2, "layers": [1, 1, 1, 1], "initial_channels": 2, "block_type": "bottleneck",
                  "num_classes": 3}, """
        conv1.weight 2x2x7  bn1 bn2  layer1.0.conv1.weight 2x2x1  layer1.0.bn1 bn2
        layer1.0.conv2.weight 2x2x3  layer1.0.bn2 bn2  layer1.0.conv3.weight 8x2x1  layer1.0.bn3 bn8
        layer1.0.downsample.0.weight 8x2x1  layer1.0.downsample.1 bn8  layer2.0.conv1.weight 4x8x1
        layer2.0.bn1 bn4  layer2.0.conv2.weight 4x4x3  layer2.0.bn2 bn4  layer2.0.conv3.weight 16x4x1
        layer2.0.bn3 bn16  layer2.0.downsample.0.weight 16x8x1  layer2.0.downsample.1 bn16
        layer3.0.conv1.weight 8x16x1  layer3.0.bn1 bn8  layer3.0.conv2.weight 8x8x3  layer3.0.bn2 bn8
        layer3.0.conv3.weight 32x8x1  layer3.0.bn3 bn32  layer3.0.downsample.0.weight 32x16x1
        layer3.0.downsample.1 bn32  layer4.0.conv1.weight 16x32x1  layer4.0.bn1 bn16
        layer4.0.conv2.weight 16x16x3  layer4.0.bn2 bn16  layer4.0.conv3.weight 64x16x1  layer4.0.bn3 bn64
        layer4.0.downsample.0.weight 64x32x1  layer4.0.downsample.1 bn64  classifier.weight 3x64
        classifier.bias 3
    """),
    "MultiScaleCNN": ({"input_dim": 2, "multiscale_channels": [5], "scales": [1, 3], "output_dim": 1}, """
        conv1.0.weight 64x2x7  conv1.0.bias 64  conv1.1 bn64  inception3a.branch1.0.weight 64x64x1
        inception3a.branch1.0.bias 64  inception3a.branch1.1 bn64  inception3a.branch2.0.weight 96x64x1
        inception3a.branch2.0.bias 96  inception3a.branch2.1 bn96  inception3a.branch2.3.weight 128x96x3
        inception3a.branch2.3.bias 128  inception3a.branch2.4 bn128  inception3a.branch3.0.weight 16x64x1
        inception3a.branch3.0.bias 16  inception3a.branch3.1 bn16  inception3a.branch3.3.weight 32x16x5
        inception3a.branch3.3.bias 32  inception3a.branch3.4 bn32  inception3a.branch4.1.weight 32x64x1
        inception3a.branch4.1.bias 32  inception3a.branch4.2 bn32  inception3b.branch1.0.weight 128x256x1
        inception3b.branch1.0.bias 128  inception3b.branch1.1 bn128  inception3b.branch2.0.weight 128x256x1
        inception3b.branch2.0.bias 128  inception3b.branch2.1 bn128  inception3b.branch2.3.weight 192x128x3
        inception3b.branch2.3.bias 192  inception3b.branch2.4 bn192  inception3b.branch3.0.weight 32x256x1
        inception3b.branch3.0.bias 32  inception3b.branch3.1 bn32  inception3b.branch3.3.weight 96x32x5
        inception3b.branch3.3.bias 96  inception3b.branch3.4 bn96  inception3b.branch4.1.weight 64x256x1
        inception3b.branch4.1.bias 64  inception3b.branch4.2 bn64  inception4a.branch1.0.weight 192x480x1
        inception4a.branch1.0.bias 192  inception4a.branch1.1 bn192  inception4a.branch2.0.weight 96x480x1
        inception4a.branch2.0.bias 96  inception4a.branch2.1 bn96  inception4a.branch2.3.weight 208x96x3
        inception4a.branch2.3.bias 208  inception4a.branch2.4 bn208  inception4a.branch3.0.weight 16x480x1
        inception4a.branch3.0.bias 16  inception4a.branch3.1 bn16  inception4a.branch3.3.weight 48x16x5
        inception4a.branch3.3.bias 48  inception4a.branch3.4 bn48  inception4a.branch4.1.weight 64x480x1
        inception4a.branch4.1.bias 64  inception4a.branch4.2 bn64  inception4b.branch1.0.weight 160x512x1
        inception4b.branch1.0.bias 160  inception4b.branch1.1 bn160  inception4b.branch2.0.weight 112x512x1
        inception4b.branch2.0.bias 112  inception4b.branch2.1 bn112  inception4b.branch2.3.weight 224x112x3
        inception4b.branch2.3.bias 224  inception4b.branch2.4 bn224  inception4b.branch3.0.weight 24x512x1
        inception4b.branch3.0.bias 24  inception4b.branch3.1 bn24  inception4b.branch3.3.weight 64x24x5
        inception4b.branch3.3.bias 64  inception4b.branch3.4 bn64  inception4b.branch4.1.weight 64x512x1
        inception4b.branch4.1.bias 64  inception4b.branch4.2 bn64
        multiscale_blocks.0.scale_convs.0.0.weight 2x512x1  multiscale_blocks.0.scale_convs.0.0.bias 2
        multiscale_blocks.0.scale_convs.0.1 bn2  multiscale_blocks.0.scale_convs.1.0.weight 3x512x3
        multiscale_blocks.0.scale_convs.1.0.bias 3  multiscale_blocks.0.scale_convs.1.1 bn3
        multiscale_blocks.0.fusion.0.weight 5x5x1  multiscale_blocks.0.fusion.0.bias 5
        multiscale_blocks.0.fusion.1 bn5  upsample.0.weight 5x256x4  upsample.0.bias 256  upsample.1 bn256
        upsample.3.weight 256x128x4  upsample.3.bias 128  upsample.4 bn128  upsample.6.weight 128x64x4
        upsample.6.bias 64  upsample.7 bn64  upsample.9.weight 64x1x4  upsample.9.bias 1
    """),
}


def reference_tensors(layout: str) -> dict[str, torch.Tensor]:
    """Distinct values for a layout; the reference's duplicated TCN keys (`net.0` = `conv1`) share theirs."""
    tokens = layout.split()
    out: dict[str, torch.Tensor] = {}
    for key, dims in zip(tokens[::2], tokens[1::2], strict=True):
        if dims.startswith("bn"):
            c = int(dims[2:])
            for stat in ("weight", "bias", "running_mean", "running_var"):
                out[f"{key}.{stat}"] = torch.rand(c) + 0.5
            out[f"{key}.num_batches_tracked"] = torch.tensor(7)
        else:
            out[key] = torch.randn(tuple(int(d) for d in dims.split("x")))
    for key in out:
        for alias, name in ((".net.0.", ".conv1."), (".net.4.", ".conv2.")):
            if alias in key:
                out[key] = out[key.replace(alias, name)]
    return out


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_checkpoints_load_through_the_declared_renames(name: str) -> None:
    config, layout = REFERENCE[name]
    model = vibench.build(text=experiment("CNN", name, config))
    reference = reference_tensors(layout)
    load_reference_state_dict(model, reference)  # strict: every key and shape matches after renaming
    renamed = convert_reference_state_dict(reference, type(model).REFERENCE_STATE_DICT_RENAMES)
    own = model.state_dict()
    assert set(renamed) == set(own)
    assert all(torch.equal(own[k], v) for k, v in renamed.items())


def test_tcn_duplicate_reference_keys_load_once_and_must_agree() -> None:
    """Deviation: the reference's state_dict lists each weight-normed conv twice (52 keys for 28 tensors)."""
    config, layout = REFERENCE["TCN"]
    model = vibench.build(text=experiment("CNN", "TCN", config))
    reference = reference_tensors(layout)
    assert len(reference) == 28 and len(model.state_dict()) == 16
    reference["network.1.net.4.bias"] = reference["network.1.net.4.bias"] + 1
    with pytest.raises(ValueError, match="network.1.conv2.bias"):
        load_reference_state_dict(model, reference)


def test_phm_vibench_model_section_compiles_with_warnings_for_unread_keys() -> None:
    text = """\
environment: {seed: 42}
data: {window_size: 2048}
model:
  type: CNN
  name: AttentionCNN
  input_dim: 2
  channels: [32, 64, 128]
  use_attention: true
  dropout: 0.2
  num_classes: 4
  depth: 8
  weights_path: checkpoints/attention_cnn.ckpt
  kernel: 5
trainer: {max_epochs: 10}
"""
    program = vibench.check(text=text, inputs={"x": (4, 2048, 2)})
    assert shapes_of(program)["classifier"] == (4, 4)
    assert program.root.param_count == 113_582  # the reference: 114,132 for input_dim 1, 10 classes
    assert {(w.code, w.pos.line) for w in program.warnings} == {("W101", 11), ("W102", 12), ("W103", 13)}
    mobile = vibench.check(text=experiment("CNN", "MobileNet1D", {"input_dim": 1, "width_mult": 0.5}))
    assert [w.code for w in mobile.warnings] == ["W111", "W101"]  # W111: no num_classes, the decoder


def test_class_counts_from_the_factory_dict_are_located_errors() -> None:
    """Through PHM-Vibench's factory num_classes is a per-dataset dict; every CNN classifier fails to build."""
    text = 'model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: {"1": 10}\n'
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.pos.line) == ("E202", 5)


def test_factory_config_without_a_class_count_builds_the_regression_head() -> None:
    """The "via model_factory" rows pass only input_dim (the factory adds the dict): vibench builds the decoder."""
    program = vibench.check(text=experiment("CNN", "ResNet1D", {"input_dim": 1}), inputs={"x": (4, 1024, 1)})
    assert [name for name, _, _ in program.root.outputs] == ["signal"]
    assert shapes_of(program)["signal"] == (4, 512, 1)
    assert program.root.param_count == 4_533_633


def test_attention_cnn_with_few_channels_is_a_located_error() -> None:
    """Deviation: under 16 channels the reference's channel attention has no hidden unit (a constant gate)."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("cnn/AttentionCNN"), params={"channels": [8, 16], "num_classes": 3})
    (diag,) = err.value.diagnostics
    line = spec_line(os.path.join(SPECS, "AttentionCNN.yaml"), "      channel_attention:")
    assert (diag.code, diag.pos.line, diag.node) == ("E301", line, "channel_attention")
    program = vibench.check(text=template_text("cnn/AttentionCNN"),
                            params={"channels": [8, 16], "num_classes": 3, "attention_reduction": 4})
    assert program.root.param_count > 0


def test_attention_cnn_decoder_with_two_blocks_mirrors_the_encoder() -> None:
    """Deviation: the reference's regression head needs three blocks (IndexError at build)."""
    model = vibench.build(text=template_text("cnn/AttentionCNN"), channels=[16, 32], output_dim=2).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 256, 1)).shape == (2, 256, 2)


def test_multiscale_cnn_mixed_even_and_odd_scales_are_a_located_error() -> None:
    """The reference concatenates branches of lengths L and L + 1 and fails at the first forward."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("cnn/MultiScaleCNN"), params={"scales": [3, 4], "num_classes": 3})
    (diag,) = err.value.diagnostics
    line = spec_line(os.path.join(SPECS, "MultiScaleCNN.yaml"), "      concat: {block: concat, in: scale_convs")
    assert (diag.code, diag.pos.line) == ("E301", line)
    even = vibench.build(text=template_text("cnn/MultiScaleCNN"), scales=[2, 4], multiscale_channels=[8],
                         num_classes=3).eval()
    with torch.no_grad():
        assert even(torch.randn(2, 64, 1)).shape == (2, 3)  # as in the reference: each block adds a step


def test_tcn_with_kernel_one_keeps_the_length() -> None:
    """The reference's chomp `x[:, :, :-0]` empties the sequence for kernel_size 1 and its forward fails."""
    model = vibench.build(text=template_text("cnn/TCN"), kernel_size=1, output_dim=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 50, 1)).shape == (2, 50, 1)


@pytest.mark.parametrize("layers", [[1, 1, 1], [1, 1, 1, 1, 1], [1, 0, 1, 1], []])
def test_resnet_needs_four_stages(layers: list[int]) -> None:
    """The reference fails to build with fewer stages, silently ignores extra ones, and builds one block
    for a stage of 0 (`_make_layer` appends the first block before its loop): a check of the template,
    reported at the parameter (here, given through the API, its declaration) with its message."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("cnn/ResNet1D"), params={"layers": layers})
    (diag,) = err.value.diagnostics
    line = spec_line(os.path.join(SPECS, "ResNet1D.yaml"), "  layers: {type:")
    assert (diag.code, diag.pos.line) == ("E215", line)
    assert "four entries" in diag.message and "${" not in diag.message
    assert diag.found == f"`layers` = {layers}"


def test_mobilenet_width_without_channels_is_a_located_error() -> None:
    """int(32 * 0.02) is 0: the reference fails to build (`groups must be a positive integer`)."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("cnn/MobileNet1D"), params={"width_multiplier": 0.02})
    (diag,) = err.value.diagnostics
    line = spec_line(os.path.join(SPECS, "MobileNet1D.yaml"), "      stem_conv:")
    assert (diag.code, diag.pos.line, diag.node) == ("E104", line, "stem_conv")


@pytest.mark.parametrize("renames", ['"${[[\'^a(\', \'b\']]}"', '"${[\'^a\', \'b\']}"'])
def test_computed_renames_must_give_valid_pattern_pairs(renames: str) -> None:
    """`reference.state_dict_renames` may be one `${...}` (MobileNet1D computes its renames from the table);
    what it gives is checked like written renames: [pattern, replacement] pairs of valid regular expressions."""
    text = f"""\
vibench: 1
name: Tiny
params: {{width: 3}}
reference: {{model: CNN/Tiny, state_dict_renames: {renames}}}
inputs: {{x: {{shape: [B, 2]}}}}
nodes: {{head: {{block: linear, in: x, out_features: "${{width}}"}}}}
outputs: {{y: head}}
"""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E210" and diag.pos is not None
    fine = text.replace(renames, "\"${[['^classifier[.]', 'head.'] for k in range(width) if k == 0]}\"")
    assert vibench.check(text=fine).root.state_dict_renames == (("^classifier[.]", "head."),)
