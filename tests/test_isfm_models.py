"""The ISFM composites (isfm/M_01_ISFM, M_02_ISFM, M_03_ISFM): slots, the 3 x 6 x 3 matrix, multi-task,
ensembles, system-aware routing and reference checkpoints."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vibench
from scripts.isfm_matrix import BACKBONES, DEMO, EMBEDDINGS, HEADS, check
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.symbolic import evaluate

# Every token width and count agrees: E_02's width is hidden_dim and E_03's token count is
# L // patch_size_L, so with 64 == hidden_dim == output_dim and 1024 // 32 == num_patches every
# combination fits.
ALIGNED = {**DEMO, "output_dim": 64, "hidden_dim": 64, "patch_size_L": 32, "d_ff": 64}
COMBOS = list(itertools.product(EMBEDDINGS, BACKBONES, HEADS))


def _feed(program, batch: int = 2, systems=(1, 1), channels: int = 1):
    import torch

    gen = torch.Generator().manual_seed(0)
    bound = dict(program.bindings)
    feed = {}
    for name, _ in program.root.inputs:
        if name == "x":
            feed[name] = torch.randn(batch, bound.get("L", 1024), bound.get("C", channels), generator=gen)
        elif name == "fs":
            feed[name] = torch.full((batch,), 12_000.0)
        elif name == "system_id":
            feed[name] = torch.tensor(list(systems)[:batch], dtype=torch.int64)
        else:  # pragma: no cover - the composites take only these
            raise AssertionError(f"unexpected input {name}")
    return feed


def _run(program, **kw):
    import torch

    from vibench.runtime.build import build_program

    model = build_program(program).eval()
    feed = _feed(program, **kw)
    with torch.no_grad():
        out = model(**feed)
    outs = out if isinstance(out, dict) else {program.root.outputs[0][0]: out}
    env = {"B": feed["x"].shape[0], "L": feed["x"].shape[1], "C": feed["x"].shape[2]}
    for name, _, t in program.root.outputs:
        assert tuple(outs[name].shape) == tuple(evaluate(d, env) for d in t.shape), name
        assert torch.isfinite(outs[name]).all() or name in ("logits", "classification"), name  # -inf: padding
    return model, outs


def _expect_ok_demo(embedding: str, backbone: str, head: str) -> bool:
    # Under the demo config E_02_HSE_v2's tokens are hidden_dim (64) wide where every backbone takes
    # output_dim (128). E_03_Patch gives L // patch_size_L = 8 tokens: B_04_Dlinear's and
    # H_03_Linear_pred's weights are sized for num_patches = 32, B_06_TimesNet needs 2 * top_k = 10
    # tokens and B_09_FNO's 16 modes need 30 (P // 2 + 1 >= modes). Everything else fits.
    if embedding == "E_02_HSE_v2":
        return False
    too_few_tokens = backbone in ("B_04_Dlinear", "B_06_TimesNet", "B_09_FNO") or head == "H_03_Linear_pred"
    return not (embedding == "E_03_Patch" and too_few_tokens)


@pytest.mark.parametrize("embedding,backbone,head", COMBOS, ids=["+".join(c) for c in COMBOS])
def test_matrix_under_the_demo_config_runs_or_names_the_mismatch(embedding, backbone, head) -> None:
    result = check(embedding, backbone, head, DEMO)
    if _expect_ok_demo(embedding, backbone, head):
        assert not isinstance(result, SpecError), result
        _run(result)
        return
    assert isinstance(result, SpecError)
    d = result.diagnostics[0]
    assert d.code in ("E301", "E302", "E305") and d.node in ("backbone", "task_head"), d
    component = backbone if d.node == "backbone" else head
    assert f"`{component}`" in d.message + " ".join(d.notes) and d.pos is not None
    assert d.found


@pytest.mark.parametrize("embedding,backbone,head", COMBOS, ids=["+".join(c) for c in COMBOS])
def test_matrix_with_agreeing_sizes_all_build_and_run(embedding, backbone, head) -> None:
    result = check(embedding, backbone, head, ALIGNED)
    assert not isinstance(result, SpecError), result
    _run(result)


def test_readme_matrix_is_current() -> None:
    from scripts.isfm_matrix import main

    assert main(["--check"]) == 0, "run `make isfm-matrix`"


def _spec(**with_) -> str:
    return json.dumps({"vibench": 1, "extends": "isfm/M_01_ISFM", "with": with_})


def test_the_design_doc_example_works_as_written() -> None:
    text = """vibench: 1
extends: isfm/M_01_ISFM
with: {embedding: E_01_HSE, backbone: B_06_TimesNet, task_head: H_01_Linear_cla,
       d_model: 128, num_classes: 4}
"""
    program = vibench.check(text=text, inputs={"x": [2, 1024, 1]})
    assert [name for name, _ in program.root.inputs] == ["x", "fs"]  # one head for all: no system id
    assert [(n, len(t.shape)) for n, _, t in program.root.outputs] == [("logits", 2)]
    _run(program)


def test_a_component_from_another_folder_is_refused_at_the_slot() -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(text=_spec(backbone="H_01_Linear_cla"))
    d = err.value.diagnostics[0]
    assert d.code == "E214" and "slot `backbone`" in d.message and "isfm/backbone" in d.message


def test_a_misspelt_component_gets_a_did_you_mean() -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(text=_spec(backbone="B_08_PatchTS"))
    assert err.value.diagnostics[0].hint and "B_08_PatchTST" in err.value.diagnostics[0].hint


def test_system_ids_route_each_sample_and_an_int_count_needs_none() -> None:
    import torch

    program = vibench.check(text=_spec(num_classes={"1": 10, "2": 4}))
    assert [n for n, _ in program.root.inputs] == ["x", "fs", "system_id"]
    model, outs = _run(program, batch=4, systems=(2, 1, 2, 1))
    logits = outs["logits"]
    assert torch.isinf(logits[0, 4:]).all() and torch.isfinite(logits[0, :4]).all()  # system 2: 4 classes
    assert torch.isfinite(logits[1]).all()  # system 1: 10 classes
    single = vibench.check(text=_spec(num_classes=5))
    assert [n for n, _ in single.root.inputs] == ["x", "fs"]


def test_the_prediction_head_shapes_its_signal_like_x_and_needs_no_system_id() -> None:
    program = vibench.check(text=_spec(task_head="H_03_Linear_pred", max_len=1024, max_out=1))
    assert [n for n, _ in program.root.inputs] == ["x", "fs"]
    assert [n for n, _, _ in program.root.outputs] == ["signal"]
    _run(program)


def test_h09_under_m01_returns_both_tasks_or_the_one_chosen_at_compile_time() -> None:
    both = vibench.check(text=_spec(task_head="H_09_multiple_task", max_len=1024, max_out=1))
    assert [n for n, _, _ in both.root.outputs] == ["logits", "signal"]
    _, outs = _run(both)
    assert tuple(outs["signal"].shape) == (2, 1024, 1)
    pred = vibench.check(text=_spec(task_head="H_09_multiple_task", task_id="prediction", max_len=1024, max_out=1))
    assert [n for n, _, _ in pred.root.outputs] == ["signal"]
    assert [n for n, _ in pred.root.inputs] == ["x", "fs"]
    assert pred.root.param_count < both.root.param_count


TASKS = {
    "classification": {"head": "H_02_distance_cla", "loss_weight": 1.0, "num_classes": {"1": 10, "2": 4}},
    "signal_prediction": {"loss_weight": 0.5, "max_len": 1024, "max_out": 1},
    "rul_prediction": {"loss_weight": 0.2, "rul_max_value": 2000.0},
    "anomaly_detection": {"loss_weight": 0.1},
}


def test_multi_task_builds_one_head_per_task_and_exports_loss_weights() -> None:
    import torch

    program = vibench.check(text=_spec(backbone="B_08_PatchTST", task_configs=TASKS))
    assert [n for n, _, _ in program.root.outputs] == list(TASKS)
    model, outs = _run(program, systems=(1, 2))
    assert type(model).METADATA["task_loss_weights"] == {t: c["loss_weight"] for t, c in TASKS.items()}
    assert (outs["rul_prediction"] >= 0).all()
    assert torch.isinf(outs["classification"][1, 4:]).all()  # per-task settings win: two systems
    heads = {name for name, _ in model.named_children()}
    assert {"embedding", "backbone", *TASKS} <= heads and "task_head" not in heads


def test_tasks_pick_a_subset_at_compile_time() -> None:
    full = vibench.check(text=_spec(task_configs=TASKS))
    some = vibench.check(text=_spec(task_configs=TASKS, tasks=["rul_prediction", "classification"]))
    assert [n for n, _, _ in some.root.outputs] == ["classification", "rul_prediction"]
    assert some.root.param_count < full.root.param_count
    assert [n for n, _ in some.root.inputs] == ["x", "fs", "system_id"]
    rul = vibench.check(text=_spec(task_configs=TASKS, tasks=["rul_prediction"]))
    assert [n for n, _ in rul.root.inputs] == ["x", "fs"]
    assert rul.root.outputs[0][0] == "rul_prediction"


@pytest.mark.parametrize("with_,needle", [
    ({"task_configs": {"clasification": {}}}, "unknown tasks ['clasification']"),
    ({"task_configs": {"classification": {}}, "tasks": ["rul_prediction"]}, "`tasks` must pick"),
    ({"task_configs": {"classification": {"num_clases": 3}}}, "unknown parameter `num_clases`"),
    ({"task_configs": {"classification": {"head": "H_03_Linear_pred"}}}, "H_03_Linear_pred"),
])
def test_bad_task_configs_are_located_errors(with_, needle) -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(text=_spec(**with_))
    text = err.value.render() if hasattr(err.value, "render") else str(err.value)
    assert needle in text
    assert all(d.pos is not None for d in err.value.diagnostics)


@pytest.mark.parametrize("strategy", ["attention", "mean", "concat", "gated"])
def test_ensembles_fuse_backbones_side_by_side(strategy) -> None:
    members = ["B_08_PatchTST", "B_06_TimesNet", "B_04_Dlinear"]
    program = vibench.check(text=_spec(ensemble_backbones=members, fusion_strategy=strategy, d_ff=64,
                                       return_feature=True))
    def node_params(prog, name):
        return sum(n.param_count for n in prog.root.nodes if n.name == name)

    singles = [vibench.check(text=_spec(backbone=b, d_ff=64)) for b in members]
    assert node_params(program, "ensemble") == sum(node_params(s, "backbone") for s in singles)
    fusion = node_params(program, "fusion")
    rest = node_params(program, "embedding") + node_params(program, "task_head")
    assert program.root.param_count == rest + node_params(program, "ensemble") + fusion
    assert (fusion == 0) == (strategy == "mean")
    _, outs = _run(program)
    assert tuple(outs["features"].shape) == (2, 32, 128)


def test_an_ensemble_member_that_does_not_fit_is_named() -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(text=_spec(embedding="E_03_Patch", ensemble_backbones=["B_01_basic_transformer", "B_04_Dlinear"]),
                      inputs={"x": [2, 1024, 1]})
    d = err.value.diagnostics[0]
    assert d.node == "ensemble" and "`B_04_Dlinear`" in d.message + " ".join(d.notes)


def test_m02_routes_system_ids_to_the_embedding_too() -> None:
    text = json.dumps({"vibench": 1, "extends": "isfm/M_02_ISFM", "with": {
        "embedding": "E_02_HSE_v2", "num_channels": {"1": 2, "2": 2}, "hidden_dim": 128, "num_patches": 32,
        "patch_size_L": 128, "num_classes": {"1": 10, "2": 4}}})
    program = vibench.check(text=text)
    assert program.root.name == "M_02_ISFM"
    assert [n for n, _ in program.root.inputs] == ["x", "fs", "system_id"]
    _run(program, systems=(1, 2), channels=2)


def test_m03_is_m01_with_its_own_name_and_reference() -> None:
    m1 = vibench.check(text=json.dumps({"vibench": 1, "extends": "isfm/M_01_ISFM"}))
    m3 = vibench.check(text=json.dumps({"vibench": 1, "extends": "isfm/M_03_ISFM"}))
    assert m3.root.name == "M_03_ISFM" and m3.root.param_count == m1.root.param_count == 52_810


def test_components_reference_renames_are_scoped_to_their_slot() -> None:
    import torch

    from vibench.runtime.checkpoint import convert_reference_state_dict

    program = vibench.check(text=_spec(backbone="B_08_PatchTST", task_head="H_03_Linear_pred", max_len=1024,
                                       max_out=1))
    model, _ = _run(program)
    renames = type(model).REFERENCE_STATE_DICT_RENAMES
    reference = {"task_head.weight": torch.zeros(1), "backbone.encoder.norm.1.weight": torch.zeros(1),
                 "embedding.linear1.weight": torch.zeros(1)}
    assert set(convert_reference_state_dict(reference, renames)) == {
        "task_head.universal_projection.weight", "backbone.encoder.norm.weight", "embedding.linear1.weight"}
    keys = set(model.state_dict())
    assert {"task_head.universal_projection.weight", "backbone.encoder.norm.weight"} <= keys


def test_a_phm_vibench_isfm_config_maps_and_reports_ignored_keys() -> None:
    text = """model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 128
  num_patches: 32
  patch_size_L: 128
  patch_size_C: 1
  use_prompt: false
  weights_path: ckpt.pt
  outptu_dim: 3
"""
    program = vibench.check(text=text, inputs={"x": [4, 1024, 1]})
    codes = {d.code: d for d in program.warnings}
    assert {"W101", "W102", "W103"} <= set(codes)
    assert "use_prompt" in codes["W101"].message and "output_dim" in (codes["W103"].hint or "")
    assert program.root.param_count == 52_810


def test_a_setting_no_chosen_component_reads_is_a_warning_at_its_line() -> None:
    text = "vibench: 1\nextends: isfm/M_01_ISFM\nwith: {backbone: B_06_TimesNet, d_model: 128, d_ff: 64}\n"
    program = vibench.check(text=text)
    unread = [d for d in program.warnings if d.code == "W104"]
    assert [d.message.split("`")[1] for d in unread] == ["d_model"]  # TimesNet reads d_ff
    assert unread[0].pos.line == 3 and "B_06_TimesNet" in unread[0].found
    fno = vibench.check(text=text.replace("B_06_TimesNet", "B_09_FNO"))
    assert not [d for d in fno.warnings if d.code == "W104" and "d_model" in d.message]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("with_", [
    {},
    {"task_configs": {"classification": {"head": "H_02_distance_cla"}, "rul_prediction": {}}},
    {"ensemble_backbones": ["B_08_PatchTST", "B_04_Dlinear"], "return_feature": True},
], ids=["single", "multi-task", "ensemble"])
def test_composites_script_with_torch_jit(with_) -> None:
    """torch.jit.script runs the composites (torch.compile and torch.export: tests/test_isfm_routing.py)."""
    import torch

    from vibench.runtime.build import build_program

    program = vibench.check(text=_spec(eval_sampling="seeded", **with_))
    model = build_program(program).eval()
    feed = _feed(program)
    scripted = torch.jit.script(model)
    with torch.no_grad():
        eager, script = model(**feed), scripted(**feed)
    eager = eager if isinstance(eager, dict) else {"out": eager}
    script = script if isinstance(script, dict) else {"out": script}
    assert eager.keys() == script.keys()
    for key in eager:
        torch.testing.assert_close(script[key], eager[key])


# Every `model:` key of the fact sheet's table of PHM-Vibench ISFM configs (models.md §1a), with a
# value seen there.
FACT_SHEET_KEYS = {
    "embedding": "E_01_HSE", "backbone": "B_08_PatchTST", "task_head": "H_09_multiple_task",
    "classification_head": "H_02_distance_cla", "prediction_head": "H_03_Linear_pred", "input_dim": 2,
    "output_dim": 128, "d_model": 256, "hidden_dim": 64, "num_heads": 4, "num_layers": 1, "e_layers": 2,
    "d_ff": 128, "dropout": 0.1, "activation": "relu", "act": "gelu", "factor": 5, "patch_size_L": 256,
    "patch_size_C": 1, "num_patches": 32, "modes": 16, "width": 64, "max_len": 4096, "max_out": 2, "c_dim": 8,
    "num_classes": 4, "rul_max_value": 2000.0, "use_batch_norm": True, "use_prompt": False, "prompt_dim": 0,
    "system_prompt_dim": 64, "sample_prompt_dim": 32, "prompt_combination": "add", "max_dataset_ids": 50,
    "max_domain_ids": 50, "freeze_prompt": False, "training_stage": "pretrain", "fusion_type": "attention",
    "fusion_strategy": "attention", "fusion_temperature": 1.0, "use_system_prompt": True,
    "use_sample_prompt": True, "use_fault_prompt": False, "use_momentum_encoder": True, "momentum": 0.999,
    "use_projection_head": True, "projection_dim": 128, "projection_layers": 2, "gradient_checkpointing": True,
    "mixed_precision": True, "individual": False, "in_dim": 4096, "out_dim": 4096, "stride": 8,
    "patch_len": 16, "top_k": 5, "fc_dropout": 0.1, "head_dropout": 0.1, "embedding_dim": 64,
    "feature_dim": 10, "weight_path": False, "device": "cpu",
}


@pytest.mark.parametrize("name", ["M_01_ISFM", "M_02_ISFM", "M_03_ISFM"])
def test_every_fact_sheet_isfm_key_is_mapped_or_reported(name) -> None:
    import yaml

    from tests.parity import template_params

    section = {"type": "ISFM", "name": name, **FACT_SHEET_KEYS}
    program = vibench.check(text=yaml.safe_dump({"model": section}, sort_keys=False),
                            inputs={"x": [2, 1024, 2]})
    declared = template_params(f"isfm/{name}")
    reported = {w.message.split("`")[1]: w.code for w in program.warnings}
    for key in FACT_SHEET_KEYS:
        assert key in declared or key in reported, f"`{key}` was dropped silently"
    assert {k for k, c in reported.items() if c == "W103"} == {
        "in_dim", "out_dim", "fc_dropout", "head_dropout", "embedding_dim", "feature_dim",
        "device", "weight_path"}  # keys no ISFM component reads (weight_path: nor the factory, weights_path's typo)
    assert reported["use_prompt"] == "W101"
    # Read by components other than the chosen E_01 + B_08 + H_09 (slot-scoped): no effect here. H_09 takes every
    # task head's keys and passes them on to its H_02 and H_03, which read no input_dim, c_dim, rul_max_value nor
    # use_batch_norm. fusion_strategy: read by the fusion node only, not built without `ensemble_backbones`.
    assert {k for k, c in reported.items() if c == "W104"} == {"d_model", "stride", "patch_len", "modes", "width",
                                                              "factor", "num_layers", "individual", "top_k",
                                                              "fusion_strategy", "input_dim", "c_dim",
                                                              "rul_max_value", "use_batch_norm"}
    unread = next(w for w in program.warnings if w.code == "W104" and "`patch_len`" in w.message)
    assert "E_com_00_PE" in unread.hint
    assert [n for n, _, _ in program.root.outputs] == ["logits", "signal"]


def test_library_doc_isfm_example_prints_what_the_doc_shows(tmp_path) -> None:
    import os
    import re
    import subprocess
    import sys

    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "library.md"), encoding="utf-8").read()
    section = doc[doc.index("## ISFM: slots"):]
    spec = re.search(r"```yaml\n(vibench: 1\nextends: isfm/M_01_ISFM\n.*?)```", section, re.S).group(1)
    shown = re.search(r"\$ vibench-compile isfm_timesnet.yaml --check\n(.*?)```", section, re.S).group(1)
    (tmp_path / "isfm_timesnet.yaml").write_text(spec, encoding="utf-8")
    cli = os.path.join(os.path.dirname(sys.executable), "vibench-compile")
    run = subprocess.run([cli, "isfm_timesnet.yaml", "--check"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stderr + run.stdout == shown


def test_a_bad_value_for_a_component_is_located_where_the_user_set_it() -> None:
    text = "vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  task_head: H_09_multiple_task\n  task_id: regression\n"
    with pytest.raises(SpecError) as err:
        vibench.check(text=text)
    d = err.value.diagnostics[0]
    assert d.node == "task_head" and "H_09_multiple_task" in d.message
    assert (d.pos.file, d.pos.line) == ("<string>", 5) and "'prediction'" in d.expected


ALL_HEADS = HEADS + ("H_09_multiple_task", "MultiTaskHead")


@given(
    embedding=st.sampled_from(EMBEDDINGS), backbone=st.sampled_from(BACKBONES + ("B_03_FITS", "B_07_TSMixer")),
    head=st.sampled_from(ALL_HEADS),
    sizes=st.fixed_dictionaries({}, optional={
        "output_dim": st.sampled_from([8, 16, 64, 128]), "num_patches": st.sampled_from([4, 8, 16, 32]),
        "patch_size_L": st.sampled_from([8, 16, 64, 128]), "num_heads": st.sampled_from([1, 2, 3, 4]),
        "hidden_dim": st.sampled_from([8, 64]), "num_classes": st.sampled_from([3, {"1": 5, "2": 3}]),
        "modes": st.sampled_from([2, 16]), "top_k": st.sampled_from([1, 5]), "max_len": st.just(1024),
        "task_id": st.sampled_from(["all", "classification", "prediction"]),
    }),
    length=st.sampled_from([None, 256, 1024]),
)
def test_any_filling_compiles_or_is_a_located_spec_error(embedding, backbone, head, sizes, length) -> None:
    """Fuzz the slots and sizes: the compiler answers with a model or located errors, never a crash;
    a model's static output shapes hold at build time (checked for the small ones)."""
    text = _spec(embedding=embedding, backbone=backbone, task_head=head, **sizes)
    inputs = {"x": [2, length, 1]} if length else None
    try:
        program = vibench.check(text=text, inputs=inputs)
    except SpecError as err:
        assert err.diagnostics and all(d.pos is not None and d.code[0] in "EW" for d in err.diagnostics)
        return
    assert program.root.outputs
    if length and program.root.param_count < 2_000_000:
        _run(program)


def test_an_experiment_composed_from_the_demo_base_config(tmp_path) -> None:
    """PHM-Vibench's demo layout: configs/base/model/backbone_dlinear.yaml plus an experiment that
    overrides some keys; the merged model section maps onto isfm/M_01_ISFM."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "backbone_dlinear.yaml").write_text(
        "model:\n  name: M_01_ISFM\n  type: ISFM\n  embedding: E_01_HSE\n  backbone: B_04_Dlinear\n"
        "  task_head: H_01_Linear_cla\n  input_dim: 2\n  d_model: 256\n  output_dim: 128\n  num_heads: 4\n"
        "  num_layers: 2\n  e_layers: 2\n  d_ff: 256\n  dropout: 0.1\n  activation: relu\n  patch_size_L: 128\n"
        "  patch_size_C: 1\n  num_patches: 32\n  use_prompt: false\n  prompt_dim: 0\n")
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text("environment: {seed: 0}\nbase_configs:\n  model: base/backbone_dlinear.yaml\n"
                          "model:\n  backbone: B_08_PatchTST\n  factor: 5\ntrainer: {max_epochs: 1}\n")
    program = vibench.check(str(experiment), inputs={"x": [4, 1024, 1]})
    assert program.root.param_count == 315_914  # the reference's "B_08_PatchTST + factor=5" row
    codes = {w.message.split("`")[1]: (w.code, w.pos.file.rsplit("/", 1)[-1], w.pos.line) for w in program.warnings}
    assert codes["factor"] == ("W104", "experiment.yaml", 6)  # only B_10_VIBT reads it
    assert codes["use_prompt"][0] == "W101"
