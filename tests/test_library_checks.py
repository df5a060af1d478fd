"""Every `checks:` entry of the spec library reports at the user's key, in the user's file.

:data:`CASES` breaks each check of the library from a user's spec (`extends:` + `with:`); a check
without a case fails :func:`test_every_library_check_has_a_case`, so a new check comes with its test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import vibench
from vibench.compiler.resolve import LIBRARY_DIR

# (template, index of the check in its file) -> (with: values, the code the check gives)
CASES: dict[tuple[str, int], tuple[dict, str]] = {
    ("isfm/M_01_ISFM", 0): ({"task_configs": {"clasification": {}}}, "E215"),
    ("isfm/M_01_ISFM", 1): ({"task_configs": {"classification": {"head": "MultiTaskHead", "task_id": "all"}}}, "E215"),
    ("isfm/M_01_ISFM", 2): ({"task_configs": {"prediction": {}, "signal_prediction": {}}}, "E215"),
    ("isfm/M_01_ISFM", 3): ({"task_configs": {"classification": {}}, "tasks": ["rul_prediction"]}, "E215"),
    ("isfm/M_01_ISFM", 4): ({"task_configs": {"classification": {"head": "H_03_Linear_pred"}}}, "E215"),
    ("isfm/M_01_ISFM", 5): ({"task_configs": {"regression": {}}}, "I104"),
    ("isfm/M_01_ISFM", 6): ({"task_configs": {"signal_prediction": {"pred_len": 96}}}, "W106"),
    ("isfm/M_01_ISFM", 7): ({"task_configs": {"classification": {"loss_weight": -3}}}, "E215"),
    ("isfm/task_head/H_02_Linear_cla_heterogeneous_batch", 0): ({"num_classes": {"1": 4, "2": 6}}, "E215"),
    ("isfm/task_head/MultiTaskHead", 0): ({"pooled_input": True}, "E215"),
    ("x_model/TSPN", 0): ({"signal_processing_configs": {"layer1": ["FFT"]}}, "E215"),
    ("x_model/TSPN", 1): ({"f_b_sigma": 0}, "E215"),
    ("no/GraphNO", 0): ({"output_dim": 13}, "E215"),
    ("isfm/embedding/E_com_00_PE", 0): ({"embed_type": "patch", "patch_len": 16}, "E215"),
    ("isfm/embedding/E_01_HSE_v2", 0): ({"prompt_dim": 9}, "E215"),
    ("isfm/embedding/E_01_HSE_v2", 1): ({"output_dim": 30}, "E215"),
    ("cnn/ResNet1D", 0): ({"layers": [2, 2]}, "E215"),
    ("transformer/ConvTransformer", 0): ({"conv_channels": []}, "E215"),
}

# Checks of a component reached through a composite's `inherit:`: still at the user's key.
THROUGH = [
    ("isfm/M_01_ISFM", {"task_head": "H_02_Linear_cla_heterogeneous_batch", "num_classes": {"1": 4, "2": 6}}),
    ("isfm/M_01_ISFM", {"embedding": "E_01_HSE_v2", "prompt_dim": 9}),
    ("isfm/M_02_ISFM", {"task_configs": {"classification": {}, "regression": {}}, "tasks": ["anomaly_detection"]}),
]


def _library_checks() -> set[tuple[str, int]]:
    found = set()
    for ref in _templates():
        data = _template_data(ref)
        units = [data] + list((data.get("blocks") or {}).values())
        index = 0
        for unit in units:
            for _ in unit.get("checks") or []:
                found.add((ref, index))
                index += 1
    return found


def _template_data(ref: str) -> dict:
    with open(os.path.join(LIBRARY_DIR, ref + ".yaml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_every_library_check_has_a_case() -> None:
    assert _library_checks() == set(CASES)


def _compile_user(tmp_path: Path, template: str, with_: dict) -> list:
    user = tmp_path / "mine.yaml"
    lines = ["vibench: 1", f"extends: {template}", "with:"] + [f"  {k}: {json.dumps(v)}" for k, v in with_.items()]
    user.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        return list(vibench.check(str(user)).warnings)
    except vibench.SpecError as err:
        return list(err.diagnostics)


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]}#{k[1]}")
def test_a_library_check_reports_at_the_users_key(tmp_path: Path, key: tuple[str, int]) -> None:
    with_, code = CASES[key]
    found = [d for d in _compile_user(tmp_path, key[0], with_) if d.code == code]
    assert found, f"{key}: no {code}"
    for d in found:
        assert d.pos is not None and d.pos.file.endswith("mine.yaml"), f"{key}: {code} at {d.pos}"
        assert d.pos.line >= 4  # a `with:` key, not the `extends:` line
        assert "${" not in d.message  # the template's message, never its expression


@pytest.mark.parametrize("template,with_", THROUGH, ids=[t for t, _ in THROUGH])
def test_a_components_check_reached_through_inherit_reports_at_the_users_key(
        tmp_path: Path, template: str, with_: dict) -> None:
    errors = [d for d in _compile_user(tmp_path, template, with_) if d.severity == "error"]
    assert [d.code for d in errors] == ["E215"]
    assert errors[0].pos is not None and errors[0].pos.file.endswith("mine.yaml")


def test_a_check_on_a_phm_vibench_config_key_is_located_at_that_key(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n  type: ISFM\n  name: M_01_ISFM\n  embedding: E_01_HSE\n  backbone: B_04_Dlinear\n"
                      "  task_head: H_01_Linear_cla\n  output_dim: 64\n  num_patches: 8\n  patch_size_L: 16\n"
                      "  patch_size_C: 1\n  num_classes: 4\n"
                      "  task_configs:\n    classification: {num_classes: 4}\n    forecasting: {loss_weight: 0.5}\n",
                      encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert d.code == "E215" and "['forecasting']" in d.message
    assert d.pos is not None and d.pos.file.endswith("experiment.yaml") and d.pos.line == 12



# Errors of a template's nodes about a value the user set: at the user's key, with the node in a note.
# (template, with: values, code, parameter of the node the value reaches)
NODE_CASES = [
    ("transformer/PatchTST", {"n_heads": 7}, "E301", "nhead"),  # a shape rule's error about a parameter
    ("rnn/TransformerRNN", {"n_heads": 3}, "E301", "num_heads"),
    ("rnn/ConvLSTM", {"hidden_dims": [0]}, "E104", "out_channels"),  # through a composite's parameter
    ("rnn/ConvLSTM", {"kernel_sizes": [-1]}, "E104", "kernel_size"),
    ("no/DeepONet", {"branch_layers": [0]}, "E104", "widths"),  # and an E112 where the trunk reads it
    # hidden width output_dim // 2 = 0: zero-wide Linears and a BatchNorm1d(0) that fails in forward
    ("isfm/task_head/H_06_Anomaly_det", {"output_dim": 1}, "E104", "layers"),
]


@pytest.mark.parametrize("template,with_,code,field", NODE_CASES, ids=[f"{t}-{c}" for t, _, c, _ in NODE_CASES])
def test_a_node_error_about_a_users_value_is_at_the_users_key(tmp_path: Path, template: str, with_: dict,
                                                              code: str, field: str) -> None:
    errors = [d for d in _compile_user(tmp_path, template, with_) if d.severity == "error"]
    assert errors and errors[0].code == code, errors
    for d in errors:
        assert d.pos is not None and d.pos.file.endswith("mine.yaml") and d.pos.line == 4, d.pos
        (note,) = [n for n in d.notes if n.startswith("the value set here")]
        assert f"reaches `{field}` of node" in note and template + ".yaml" in note


def test_a_node_error_in_the_users_own_spec_stays_at_the_node(tmp_path: Path) -> None:
    spec = tmp_path / "own.yaml"
    spec.write_text("vibench: 1\nname: Own\nparams:\n  heads: 7\ninputs:\n  x: {shape: [B, L, 16]}\nnodes:\n"
                    "  enc: {block: transformer_encoder_layer, in: x, nhead: heads}\noutputs: {y: enc}\n",
                    encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec))
    (d,) = info.value.diagnostics
    assert (d.code, d.pos.line) == ("E301", 8) and not [n for n in d.notes if n.startswith("the value set here")]


def test_a_default_that_reads_a_reported_value_is_not_reported_again(tmp_path: Path) -> None:
    """gMLP's `output_dim` defaults to `input_dim` (both `ge: 1`): `input_dim: 0` is one error, not two."""
    errors = _compile_user(tmp_path, "mlp/gMLP", {"input_dim": 0})
    assert [(d.code, d.pos.file.endswith("mine.yaml")) for d in errors] == [("E208", True)]


# Errors about a size derived from a setting (the node sees a number, not where it came from): the
# compile leaves each `with:` key out in turn (vibench.compiler.blame) and reports the error at the key
# without which it goes away.
BLAME_CASES = [
    ("transformer/Autoformer", {"d_model": 30}, "E301", "attention"),  # 30 does not divide into 8 heads
    ("transformer/PatchTST", {"dropout": 0.2, "d_model": 100}, "E301", "transformer"),  # the second key
    ("x_model/MWA_CNN", {"num_filters": 7}, "E301", "norm"),  # 7 channels in 6 groups
]


@pytest.mark.parametrize("template,with_,code,node", BLAME_CASES, ids=[t for t, *_ in BLAME_CASES])
def test_an_error_about_a_derived_size_is_at_the_setting_it_comes_from(tmp_path: Path, template: str, with_: dict,
                                                                      code: str, node: str) -> None:
    (d,) = [d for d in _compile_user(tmp_path, template, with_) if d.severity == "error"]
    assert (d.code, d.node) == (code, node)
    key = next(iter(with_)) if len(with_) == 1 else list(with_)[1]
    assert d.pos is not None and d.pos.file.endswith("mine.yaml") and d.pos.line == 4 + list(with_).index(key)
    assert d.notes[0].startswith(f"raised by node `{node}` at ") and template + ".yaml" in d.notes[0]
    assert f"without this `{key}` the error goes away" in d.notes[0] or f"this `{key}` alone gives it" in d.notes[0]
    origin = d.to_json()["origin"]  # where the template raised it, for --format json and the editor
    assert origin["file"].endswith(template + ".yaml") and f":{origin['line']}:{origin['column']};" in d.notes[0]


def test_an_error_of_two_settings_together_stays_where_it_was_raised(tmp_path: Path) -> None:
    """Two widths concatenated into 4 fixed heads: `a: 5` with `b: 6` gives 11 (no node reads either
    setting). Neither alone gives that error (13, 14: other errors), and leaving either out brings
    another error inside the template: no verdict, the error stays where it was raised."""
    (tmp_path / "base.yaml").write_text(
        "vibench: 1\nname: Base\nparams:\n  a: 8\n  b: 8\ninputs:\n  x: {shape: [B, L, 16]}\nnodes:\n"
        "  pa: {block: linear, in: x, out_features: a}\n  pb: {block: linear, in: x, out_features: b}\n"
        "  both: {block: concat, in: [pa, pb], dim: -1}\n"
        "  enc: {block: transformer_encoder_layer, in: both, nhead: 4}\noutputs: {y: enc}\n", encoding="utf-8")
    (tmp_path / "mine.yaml").write_text("vibench: 1\nextends: ./base.yaml\nwith:\n  a: 5\n  b: 6\n",
                                        encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(tmp_path / "mine.yaml"))
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert [(d.code, d.pos.file.endswith("base.yaml"), d.pos.line) for d in errors] == [("E301", True, 12)]
    assert not any(n.startswith("raised by") for n in errors[0].notes)
    # one setting alone is told: `a: 5` gives 13, which no other setting explains
    (tmp_path / "mine.yaml").write_text("vibench: 1\nextends: ./base.yaml\nwith:\n  a: 5\n  b: 8\n",
                                        encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(tmp_path / "mine.yaml"))
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert (d.pos.file.endswith("mine.yaml"), d.pos.line) == (True, 4) and "this `a` alone gives it" in d.notes[0]


def test_the_same_setting_in_a_phm_vibench_config_moves_to_its_key(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n  type: Transformer\n  name: Autoformer\n  input_dim: 1\n  d_model: 30\n",
                      encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert d.code == "E301" and d.pos.file.endswith("experiment.yaml") and d.pos.line == 5


def test_a_phm_vibench_config_of_twenty_model_keys_is_blamed_too(tmp_path: Path) -> None:
    """PHM-Vibench's configs/v0.0.9/multi_task_config.yaml sets 20 model keys; with at most 16 tried, its
    E307 (the multi-task head's prediction layer: 3.2e9 weights) stayed inside the library template."""
    keys = [("input_dim", 2), ("num_patches", 128), ("embedding", "E_01_HSE"), ("patch_size_L", 256),
            ("patch_size_C", 1), ("output_dim", 1024), ("backbone", "B_08_PatchTST"), ("num_heads", 8),
            ("num_layers", 3), ("d_ff", 2048), ("dropout", 0.1), ("e_layers", 2), ("factor", 5),
            ("task_head", "MultiTaskHead"), ("hidden_dim", 512), ("use_batch_norm", True), ("activation", "gelu"),
            ("rul_max_value", 2000.0), ("modes", 32), ("width", 128)]
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n  name: M_01_ISFM\n  type: ISFM\n" + "".join(f"  {k}: {v}\n" for k, v in keys),
                      encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert d.code == "E307" and d.pos.file.endswith("experiment.yaml")
    assert d.notes[0].startswith("raised by node `universal_projection` at ") and "H_03_Linear_pred" in d.notes[0]


def _hostile_values(decl: object) -> list:
    """Values a user may set that a template may refuse: empty, zero, negative, long, odd sizes."""
    kind = str(decl.get("type") or "") if isinstance(decl, dict) else ""
    default = decl.get("default") if isinstance(decl, dict) else decl
    if "list" in kind or isinstance(default, list):
        return [[], [0], [-1], [1], [3] * 7, [0, 0]]
    if kind.startswith("int") or (isinstance(default, int) and not isinstance(default, bool)):
        return [0, 1, 2, 3, 7, 1000]
    if kind.startswith("float") or isinstance(default, float):
        return [0.0, 1.0, 0.999]
    return []


def test_every_error_about_a_users_setting_of_a_library_parameter_is_in_the_users_file(tmp_path: Path) -> None:
    """Every int, float and list parameter of every library template, set in a user's `with:` to values
    a template may refuse (about 1,900 specs): each error is located in the user's file, never in the
    library (issue 10: "every error a template raises about a user's value is located in the user's
    file"), and nothing but a SpecError comes out."""
    located_in_library = []
    tried = 0
    for ref in _templates():
        for name, decl in (_template_data(ref).get("params") or {}).items():
            for value in _hostile_values(decl):
                tried += 1
                for d in _compile_user(tmp_path, ref, {name: value}):
                    if d.severity == "error" and (d.pos is None or not d.pos.file.endswith("mine.yaml")):
                        located_in_library.append(f"{ref} {name}={value!r}: {d.code} at {d.pos}")
    assert tried > 1500
    assert not located_in_library, "\n".join(located_in_library[:20])


def _templates() -> list[str]:
    """Every template of the library by its reference (`cnn/ResNet1D`)."""
    refs = []
    for dirpath, _, names in os.walk(LIBRARY_DIR):
        refs += [os.path.relpath(os.path.join(dirpath, n), LIBRARY_DIR)[: -len(".yaml")].replace(os.sep, "/")
                 for n in names if n.endswith(".yaml")]
    return sorted(refs)


def test_the_compilers_own_probes_skip_the_trials(tmp_path: Path) -> None:
    """`free_parameters` only asks whether a value compiles: with `locate_settings=False` the error stays
    where the template raised it (no trials on that path)."""
    from vibench.compiler.pipeline import compile_program

    user = tmp_path / "mine.yaml"
    user.write_text("vibench: 1\nextends: transformer/Autoformer\nwith:\n  d_model: 30\n", encoding="utf-8")
    for locate, in_users_file in ((True, True), (False, False)):
        with pytest.raises(vibench.SpecError) as info:
            compile_program(str(user), locate_settings=locate)
        (d,) = info.value.diagnostics
        assert d.pos.file.endswith("mine.yaml") is in_users_file
