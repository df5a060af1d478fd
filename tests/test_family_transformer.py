"""Transformer family templates (vibench/specs/transformer): they compile, build and run on long batches,
emit and build agree, PHM-Vibench configs and checkpoints map onto them, and the reference's broken
configurations are working models or compile-time errors (vibench/specs/DEVIATIONS.md).

The reference's canonical sizes run in tests/test_parity.py; here widths stay small so that
L = 1024 stays cheap.
"""

from __future__ import annotations

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
    template_text,
)
from vibench.compiler.symbolic import evaluate
from vibench.runtime.build import build_program

SMALL = {
    "transformer/PatchTST": {"input_dim": 2, "d_model": 16, "n_heads": 4, "num_layers": 2, "d_ff": 32},
    "transformer/Autoformer": {"input_dim": 2, "d_model": 16, "n_heads": 4, "e_layers": 2, "d_ff": 32},
    "transformer/Informer": {"input_dim": 2, "d_model": 16, "n_heads": 4, "e_layers": 2, "d_ff": 32},
    "transformer/Linformer": {"input_dim": 2, "d_model": 16, "n_heads": 4, "num_layers": 2, "d_ff": 32, "k": 32},
}
HEADS = {"classifier": {"num_classes": 5}, "regression": {"output_dim": 3}}


def build(template: str, **params: object) -> torch.nn.Module:
    return vibench.build(text=template_text(template), **{**SMALL[template], **params}).eval()


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("template", SMALL)
def test_template_runs_on_a_long_batch(template: str, head: str, tmp_path) -> None:
    _, _, out = check_template(template, {**SMALL[template], **HEADS[head]}, (2, 1024, 2), tmp_path)
    assert tuple(out.shape) == ((2, 5) if head == "classifier" else (2, 1024, 3))


@pytest.mark.parametrize("template", SMALL)
def test_channels_first_layout_computes_the_same(template: str) -> None:
    x = torch.randn(2, 96, 2)
    for head, params in HEADS.items():
        blc = build(template, **params)
        bcl = build(template, layout="BCL", **params)
        bcl.load_state_dict(blc.state_dict())
        with torch.no_grad():
            expected, found = blc(x), bcl(x.transpose(1, 2))
        if head == "regression":
            found = found.transpose(1, 2)  # [B, output_dim, L] in the channels-first layout
        torch.testing.assert_close(found, expected, atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("template", SMALL)
def test_emitted_code_scripts_and_compiles(template: str) -> None:
    model = build(template, num_classes=3)
    x = torch.randn(2, 96, 2)
    assert scripted_matches(model, x)
    assert compiled_matches(model, x)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_seeded_prob_sparse_attention_scripts() -> None:
    """A seeded `attention: prob_sparse` (key samples drawn in Python once per length) runs under
    torch.jit.script too (torch.export and torch.compile: tests/test_probsparse_export_1207d.py)."""
    model = build("transformer/Informer", num_classes=3, attention="prob_sparse", sampling_seed=7)
    assert scripted_matches(model, torch.randn(2, 96, 2))


# The reference's state_dict for small configs, measured on the PHM-Vibench classes (key, shape).
_LAYER = """
    encoder_layers.0.attention.query_projection.weight 8x8  encoder_layers.0.attention.query_projection.bias 8
    encoder_layers.0.attention.key_projection.weight 8x8  encoder_layers.0.attention.key_projection.bias 8
    encoder_layers.0.attention.value_projection.weight 8x8  encoder_layers.0.attention.value_projection.bias 8
    encoder_layers.0.attention.out_projection.weight 8x8  encoder_layers.0.attention.out_projection.bias 8
    encoder_layers.0.feed_forward.0.weight 16x8  encoder_layers.0.feed_forward.0.bias 16
    encoder_layers.0.feed_forward.3.weight 8x16  encoder_layers.0.feed_forward.3.bias 8"""
_NORMS = """
    encoder_layers.0.norm1.weight 8  encoder_layers.0.norm1.bias 8
    encoder_layers.0.norm2.weight 8  encoder_layers.0.norm2.bias 8"""
REFERENCE = {
    "PatchTST": ({"input_dim": 2, "d_model": 8, "n_heads": 2, "num_layers": 1, "d_ff": 16, "num_classes": 3}, """
        patch_embedding.projection.weight 8x16  patch_embedding.projection.bias 8  pos_encoding.pe 5000x1x8
        transformer.layers.0.self_attn.in_proj_weight 24x8  transformer.layers.0.self_attn.in_proj_bias 24
        transformer.layers.0.self_attn.out_proj.weight 8x8  transformer.layers.0.self_attn.out_proj.bias 8
        transformer.layers.0.linear1.weight 16x8  transformer.layers.0.linear1.bias 16
        transformer.layers.0.linear2.weight 8x16  transformer.layers.0.linear2.bias 8
        transformer.layers.0.norm1.weight 8  transformer.layers.0.norm1.bias 8
        transformer.layers.0.norm2.weight 8  transformer.layers.0.norm2.bias 8  classifier.weight 3x8  classifier.bias 3
        """),
    "Autoformer": ({"input_dim": 2, "d_model": 8, "n_heads": 2, "e_layers": 1, "d_ff": 16, "output_dim": 2},
                   "input_embedding.weight 8x2  input_embedding.bias 8" + _LAYER
                   + "  output_projection.weight 2x8  output_projection.bias 2"),
    "Informer": ({"input_dim": 2, "d_model": 8, "n_heads": 2, "e_layers": 1, "d_ff": 16, "num_classes": 3},
                 "pos_encoding 1x5000x8  input_embedding.weight 8x2  input_embedding.bias 8" + _LAYER + _NORMS
                 + "  classifier.weight 3x8  classifier.bias 3"),
    "Linformer": ({"input_dim": 2, "d_model": 8, "n_heads": 2, "num_layers": 1, "d_ff": 16, "seq_len": 32, "k": 4,
                   "num_classes": 3},
                  "pos_encoding 1x32x8  input_embedding.weight 8x2  input_embedding.bias 8"
                  "  encoder_layers.0.attention.E 32x4  encoder_layers.0.attention.F 32x4" + _LAYER + _NORMS
                  + "  classifier.weight 3x8  classifier.bias 3"),
}


@pytest.mark.parametrize("model", REFERENCE)
def test_reference_checkpoint_loads_through_the_declared_renames(model: str) -> None:
    config, layout = REFERENCE[model]
    program = vibench.check(text=experiment("Transformer", model, config))
    built = build_program(program)
    reference = reference_state_dict(layout)
    assert len(reference) == len(built.state_dict())
    assert loads_reference(built, reference)


def test_a_phm_vibench_model_section_compiles_and_reports_the_keys_it_ignores() -> None:
    config = {"input_dim": 2, "num_classes": 4, "d_model": 64, "num_heads": 4, "n_heads": 4, "e_layers": 2,
              "d_ff": 128, "dropout": 0.1, "factor": 5, "seq_len": 1024}
    text = experiment("Transformer", "Informer", config)
    program = vibench.check(text=text, inputs={"x": (8, 1024, 2)})
    (_, _, logits), = program.root.outputs
    assert tuple(evaluate(d, dict(program.bindings)) for d in logits.shape) == (8, 4)
    warnings = {d.message.split("`")[1]: d for d in program.warnings}
    assert set(warnings) == {"num_heads", "seq_len", "factor"}  # (factor: stored, unused by its top-k attention)
    assert {d.code for d in warnings.values()} == {"W101"}
    assert warnings["num_heads"].pos.line == text.splitlines().index("  num_heads: 4") + 1
    assert "n_heads" in (warnings["num_heads"].found or "")


def test_patchtst_counts_its_depth_in_num_layers_not_e_layers() -> None:
    program = vibench.check(text=experiment("Transformer", "PatchTST", {"input_dim": 1, "e_layers": 2,
                                                                         "num_classes": 3}))
    assert [d.code for d in program.warnings] == ["W101"]
    layers = next(n for n in program.root.nodes if n.name == "transformer")
    assert len(layers.copies) == 6


def test_autoformer_eval_mode_runs_on_cpu_and_picks_delays_per_sample() -> None:
    """The reference's eval path builds its index with `.cuda()`; here it runs on the input's device.
    With one sample, per-sample delays are the batch-shared ones of training mode: same output."""
    model = build("transformer/Autoformer", num_classes=3, dropout=0.0)
    x = torch.randn(1, 200, 2)
    with torch.no_grad():
        evaluated = model.eval()(x)
        trained = model.train()(x)
    torch.testing.assert_close(evaluated, trained, atol=1e-5, rtol=0)
    batch = torch.randn(3, 200, 2)
    with torch.no_grad():
        together = model.eval()(batch)
        alone = torch.cat([model(batch[k : k + 1]) for k in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=0)


def test_autoformer_needs_two_time_steps() -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("transformer/Autoformer"), inputs={"x": (2, 1, 1)})
    (diag,) = err.value.diagnostics
    assert diag.code == "E305" and "two time steps" in diag.notes[0]


def test_informer_prob_sparse_with_every_query_active_is_full_attention() -> None:
    """factor * ceil(ln 16) >= 16 keeps every query: the paper's ProbSparse then equals full attention, as
    does the default top_k mode for L <= 32 (no masking)."""
    dense = build("transformer/Informer", num_classes=3, dropout=0.0)
    sparse = build("transformer/Informer", num_classes=3, dropout=0.0, attention="prob_sparse", factor=6,
                   sampling_seed=0)
    sparse.load_state_dict(dense.state_dict())
    x = torch.randn(2, 16, 2)
    with torch.no_grad():
        torch.testing.assert_close(sparse(x), dense(x), atol=1e-5, rtol=0)


def test_informer_prob_sparse_sampling_is_deterministic_with_a_seed(tmp_path) -> None:
    params = {**SMALL["transformer/Informer"], "num_classes": 3, "attention": "prob_sparse", "sampling_seed": 11}
    _, model, first = check_template("transformer/Informer", params, (2, 1024, 2), tmp_path)
    with torch.no_grad():
        again = model(torch.randn(2, 1024, 2, generator=torch.Generator().manual_seed(1)))
    torch.testing.assert_close(again, first, atol=0, rtol=0)


def test_informer_distilling_halves_the_length_between_layers() -> None:
    params = {**SMALL["transformer/Informer"], "e_layers": 3, "distil": True}
    program = vibench.check(text=template_text("transformer/Informer"), params=params, inputs={"x": (2, 1024, 2)})
    (_, _, static), = program.root.outputs
    assert tuple(evaluate(d, dict(program.bindings)) for d in static.shape) == (2, 256, 2)  # 1024 -> 512 -> 256
    model = build_program(program).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1024, 2)).shape == (2, 256, 2)
    assert sum(p.numel() for p in model.parameters()) == program.root.param_count
    plain = vibench.check(text=template_text("transformer/Informer"), params={**params, "distil": False})
    width = params["d_model"]
    assert program.root.param_count - plain.root.param_count == 2 * (3 * width * width + width + 2 * width)


@pytest.mark.parametrize("length", [100, 512, 1024])
def test_linformer_crops_or_stretches_its_length_projections(length: int, tmp_path) -> None:
    params = {**SMALL["transformer/Linformer"], "seq_len": 512, "num_classes": 3}
    _, model, _ = check_template("transformer/Linformer", params, (2, length, 2), tmp_path)
    assert model.pos_encoding.table.shape == (1, 512, 16)


def test_linformer_sizes_its_tables_from_the_input_when_seq_len_is_null() -> None:
    params = {**SMALL["transformer/Linformer"], "seq_len": None, "num_classes": 3}
    program = vibench.check(text=template_text("transformer/Linformer"), params=params, inputs={"x": (2, 300, 2)})
    model = build_program(program)
    assert model.pos_encoding.table.shape == (1, 300, 16)
    assert model.encoder_layers[0].attention.E.shape == (300, 32)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("transformer/Linformer"), params=params)
    assert [d.code for d in err.value.diagnostics] == ["E303"]


def test_patchtst_learns_its_channel_projection() -> None:
    """The reference mixes channels with a fresh random matrix on every call when output_dim !=
    input_dim; here it is a learned, bias-free linear layer: deterministic and trainable."""
    model = build("transformer/PatchTST", output_dim=3)
    assert model.channel_projection.weight.shape == (3, 2)
    x = torch.randn(2, 128, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x), atol=0, rtol=0)
    same = build("transformer/PatchTST", output_dim=2)
    assert not hasattr(same, "channel_projection")


def test_patchtst_edge_pads_a_short_reconstruction() -> None:
    """Non-overlapping patches leave L % patch_size samples uncovered; the reference repeats the last
    reconstructed sample to reach L."""
    model = build("transformer/PatchTST", stride=16)
    with torch.no_grad():
        out = model(torch.randn(2, 1000, 2))
    assert out.shape == (2, 1000, 2)
    covered = (1000 // 16) * 16
    torch.testing.assert_close(out[:, covered:], out[:, covered - 1 : covered].expand(-1, 1000 - covered, -1))


def test_heads_that_do_not_divide_the_width_are_a_located_error() -> None:
    text = experiment("Transformer", "Autoformer", {"input_dim": 1, "d_model": 30, "n_heads": 4})
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E301" and diag.node == "attention"
    assert diag.pos.line == 8 and "num_heads dividing 30" in diag.expected  # the config's `n_heads: 4`
    assert any("transformer/Autoformer.yaml" in n for n in diag.notes)  # where the template reads it
