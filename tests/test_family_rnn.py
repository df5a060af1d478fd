"""RNN family templates (vibench/specs/rnn): they compile, build and run on long batches, emit and
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
from vibench.runtime.checkpoint import load_reference_state_dict

SPECS = os.path.join(ROOT, "vibench", "specs", "rnn")
SMALL = {
    "rnn/AttentionLSTM": {"input_dim": 2, "hidden_dim": 16, "attention_dim": 8},
    "rnn/AttentionGRU": {"input_dim": 2, "hidden_dim": 16, "num_heads": 4, "num_layers": 2},
    "rnn/ConvLSTM": {"input_dim": 2, "hidden_dims": [8, 16], "kernel_sizes": [3, 5]},
    "rnn/ResidualRNN": {"input_dim": 2, "hidden_dim": 16, "num_layers": 2, "rnn_type": "gru"},
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
        params = {**SMALL[template], **params}
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
def test_emitted_code_scripts(template: str) -> None:
    program = vibench.check(text=template_text(template), params={**SMALL[template], "num_classes": 3})
    assert scripted_matches(build_program(program), torch.randn(2, 64, 2))


def test_conv_lstm_compiles_to_one_graph() -> None:
    """torch.compile(fullgraph=True) cannot capture nn.LSTM / nn.GRU (dynamo refuses to wrap them), so
    AttentionLSTM, AttentionGRU and ResidualRNN are checked with torch.jit.script only."""
    model = vibench.build(text=template_text("rnn/ConvLSTM"), **SMALL["rnn/ConvLSTM"], num_classes=3)
    assert compiled_matches(model, torch.randn(2, 64, 2))


# The reference's state_dict for small configs, measured on the PHM-Vibench classes (key, shape).
REFERENCE = {
    "AttentionLSTM": ({"input_dim": 2, "hidden_dim": 8, "num_layers": 2, "attention_dim": 4, "num_classes": 3}, """
        lstm.weight_ih_l0 32x2  lstm.weight_hh_l0 32x8  lstm.bias_ih_l0 32  lstm.bias_hh_l0 32
        lstm.weight_ih_l0_reverse 32x2  lstm.weight_hh_l0_reverse 32x8  lstm.bias_ih_l0_reverse 32
        lstm.bias_hh_l0_reverse 32  lstm.weight_ih_l1 32x16  lstm.weight_hh_l1 32x8  lstm.bias_ih_l1 32
        lstm.bias_hh_l1 32  lstm.weight_ih_l1_reverse 32x16  lstm.weight_hh_l1_reverse 32x8
        lstm.bias_ih_l1_reverse 32  lstm.bias_hh_l1_reverse 32
        attention.attention_linear.weight 4x16  attention.attention_linear.bias 4  attention.context_vector.weight 1x4
        classifier.0.weight 8x16  classifier.0.bias 8  classifier.3.weight 3x8  classifier.3.bias 3
    """),
    "AttentionGRU": ({"input_dim": 2, "hidden_dim": 6, "num_layers": 1, "num_heads": 4, "num_classes": 3}, """
        input_projection.weight 8x2  input_projection.bias 8
        gru_attention_layers.0.gru.weight_ih_l0 24x8  gru_attention_layers.0.gru.weight_hh_l0 24x8
        gru_attention_layers.0.gru.bias_ih_l0 24  gru_attention_layers.0.gru.bias_hh_l0 24
        gru_attention_layers.0.attention.query_projection.weight 8x8
        gru_attention_layers.0.attention.query_projection.bias 8
        gru_attention_layers.0.attention.key_projection.weight 8x8
        gru_attention_layers.0.attention.key_projection.bias 8
        gru_attention_layers.0.attention.value_projection.weight 8x8
        gru_attention_layers.0.attention.value_projection.bias 8
        gru_attention_layers.0.attention.out_projection.weight 8x8
        gru_attention_layers.0.attention.out_projection.bias 8
        gru_attention_layers.0.norm1.weight 8  gru_attention_layers.0.norm1.bias 8
        gru_attention_layers.0.norm2.weight 8  gru_attention_layers.0.norm2.bias 8
        gru_attention_layers.0.ffn.0.weight 32x8  gru_attention_layers.0.ffn.0.bias 32
        gru_attention_layers.0.ffn.3.weight 8x32  gru_attention_layers.0.ffn.3.bias 8
        classifier.0.weight 4x8  classifier.0.bias 4  classifier.3.weight 3x4  classifier.3.bias 3
    """),
    "ConvLSTM": ({"input_dim": 2, "hidden_dims": [4, 6], "kernel_sizes": [3, 5], "num_classes": 3}, """
        cell_list.0.conv.weight 16x6x3  cell_list.0.conv.bias 16  cell_list.1.conv.weight 24x10x5
        cell_list.1.conv.bias 24  classifier.2.weight 3x6  classifier.2.bias 3  classifier.5.weight 3x3
        classifier.5.bias 3
    """),
    "ResidualRNN": ({"input_dim": 2, "hidden_dim": 8, "num_layers": 1, "rnn_type": "gru", "num_classes": 3}, """
        input_projection.weight 8x2  input_projection.bias 8  rnn_layers.0.gru.weight_ih_l0 24x8
        rnn_layers.0.gru.weight_hh_l0 24x8  rnn_layers.0.gru.bias_ih_l0 24  rnn_layers.0.gru.bias_hh_l0 24
        rnn_layers.0.layer_norm.weight 8  rnn_layers.0.layer_norm.bias 8
        classifier.0.weight 4x8  classifier.0.bias 4  classifier.3.weight 3x4  classifier.3.bias 3
    """),
}


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_checkpoints_load_through_the_declared_renames(name: str) -> None:
    config, layout = REFERENCE[name]
    assert loads_reference(vibench.build(text=experiment("RNN", name, config)), reference_state_dict(layout))


def test_attention_lstm_regression_drops_the_unused_attention() -> None:
    """Deviation: the reference builds `attention` in regression mode and never calls it."""
    config, layout = REFERENCE["AttentionLSTM"]
    config = {k: v for k, v in config.items() if k != "num_classes"} | {"output_dim": 2}
    layout = layout.split("classifier.0.weight")[0] + "output_projection.weight 2x16  output_projection.bias 2"
    model = vibench.build(text=experiment("RNN", "AttentionLSTM", config))
    assert not hasattr(model, "attention")
    reference = reference_state_dict(layout)
    with pytest.raises(KeyError, match="attention.attention_linear.weight"):
        load_reference_state_dict(model, reference)
    load_reference_state_dict(model, reference, strict=False)
    assert torch.equal(model.output_projection.bias, reference["output_projection.bias"])


def test_phm_vibench_model_section_compiles_with_warnings_for_unread_keys() -> None:
    text = """\
environment: {seed: 42}
data: {window_size: 1024}
model:
  type: RNN
  name: AttentionGRU
  input_dim: 2
  hidden_dim: 64
  num_heads: 4
  num_layers: 2
  num_classes: 6
  bidirectional: true
  weights_path: checkpoints/gru.ckpt
trainer: {max_epochs: 10}
"""
    program = vibench.check(text=text, inputs={"x": (4, 1024, 2)})
    assert str(program.root.outputs[0][2]) == "[B, 6]"
    assert {(w.code, w.pos.line) for w in program.warnings} == {("W101", 11), ("W102", 12)}
    conv = vibench.check(text=experiment("RNN", "ConvLSTM", {"input_dim": 3, "return_all_layers": True}))
    assert [w.code for w in conv.warnings] == ["W111", "W101"]  # W111: no num_classes, the sequence head


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths:UserWarning")
def test_conv_lstm_even_kernels_keep_the_length() -> None:
    """The reference crashes in forward with an even kernel (L + 1 steps); vibench pads `same`."""
    model = vibench.build(text=template_text("rnn/ConvLSTM"), kernel_sizes=[4, 2], output_dim=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 50, 1)).shape == (2, 50, 1)


@pytest.mark.parametrize(("params", "code", "line"), [
    ({"num_layers": 0}, "E208", "  num_layers:"),
    ({"hidden_dims": [], "num_layers": 2}, "E204", "    hidden:"),
    ({"kernel_sizes": []}, "E204", "    kernel_size:"),
])
def test_conv_lstm_configs_the_reference_cannot_build_are_located_errors(params: dict, code: str, line: str) -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("rnn/ConvLSTM"), params=params)
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.pos.line) == (code, spec_line(os.path.join(SPECS, "ConvLSTM.yaml"), line))


def test_residual_rnn_type_is_checked_and_upper_case_is_accepted() -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("rnn/ResidualRNN"), params={"rnn_type": "rnn"})
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.pos.line) == ("E208", spec_line(os.path.join(SPECS, "ResidualRNN.yaml"), "  rnn_type:"))
    upper = vibench.check(text=template_text("rnn/ResidualRNN"), params={"rnn_type": "GRU", "num_layers": 1})
    assert upper.root.node("rnn_layers").block.endswith("ResidualGRULayer")


def test_class_counts_from_the_factory_dict_are_located_errors() -> None:
    """Through PHM-Vibench's factory num_classes is a per-dataset dict; every RNN classifier fails to build."""
    text = 'model:\n  type: RNN\n  name: AttentionLSTM\n  input_dim: 1\n  num_classes: {"1": 10}\n'
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert (diag.code, diag.pos.line) == ("E202", 5)


BLOCKS = """
vibench: 1
name: Blocks
inputs:
  x: {shape: [B, L, 6]}
  q: {shape: [B, 2, L, 4]}
  k: {shape: [B, 2, S, 4]}
  v: {shape: [B, 2, S, 3]}
nodes:
  pool: {block: attention_pooling, in: x, attention_dim: 5}
  attend: {block: scaled_dot_product_attention, in: {query: q, key: k, value: v}, dropout: 0.5}
  padded: {block: constant_pad, in: x, dim: 2, before: 1, after: 2, value: 0.5}
outputs: {pooled: pool, weights: pool.weights, attended: attend, padded: padded}
"""


def test_the_blocks_the_family_added_compute_what_they_say() -> None:
    model = vibench.build(text=BLOCKS).eval()
    gen = torch.Generator().manual_seed(0)
    x, q, k, v = (torch.randn(shape, generator=gen) for shape in [(2, 7, 6), (2, 2, 7, 4), (2, 2, 5, 4), (2, 2, 5, 3)])
    with torch.no_grad():
        out = model(x, q, k, v)
        pool = model.pool
        scores = pool.context_vector(torch.tanh(pool.attention_linear(x))).squeeze(-1)
    weights = torch.softmax(scores, dim=1)
    torch.testing.assert_close(out["weights"], weights)
    torch.testing.assert_close(out["pooled"], (weights.unsqueeze(-1) * x).sum(dim=1))
    attention = torch.softmax(q @ k.transpose(-2, -1) / 2.0, dim=-1)  # scale 1 / sqrt(4)
    torch.testing.assert_close(out["attended"], attention @ v)  # eval mode: no dropout
    expected = torch.cat([torch.full((2, 7, 1), 0.5), x, torch.full((2, 7, 2), 0.5)], dim=2)
    assert torch.equal(out["padded"], expected)
    model.train()
    first, second = model(x, q, k, v)["attended"], model(x, q, k, v)["attended"]
    assert not torch.equal(first, second)  # dropout on the attention weights in training mode
