"""A PHM-Vibench experiment's `model:` merged as its ``load_config`` merges it (vibench/compiler/phm_merge.py):
nested mappings key by key (a base config's four TSPN layers and the experiment's `layer1` make four layers),
dotted keys to any depth, every other value replacing whole; each merged value located where it was written,
a base config's values never shown; W114 wherever vibench reads a config otherwise than that loader; a base
config that is a folder or a FIFO said to be one (E004). Cases marked `reference` run PHM-Vibench's own loader
(`.reference/PHM-Vibench`) on the same files and compare; they are skipped without a checkout."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

import vibench
from vibench.compiler import phm_merge
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.pipeline import load
from vibench.compiler.resolve import Library

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / ".reference" / "PHM-Vibench"
needs_reference = pytest.mark.skipif(not (REFERENCE / "src" / "configs" / "config_utils.py").is_file(),
                                     reason="no PHM-Vibench checkout at .reference/PHM-Vibench")

TSPN = """\
model:
  type: X_model
  name: TSPN
  num_classes: 9
  in_channels: 3
  signal_processing_configs:
    layer1: [LNO, WF, HT, I]
    layer2: [LNO, WF, HT, I]
    layer3: [LNO, WF, HT, I]
    layer4: [LNO, WF, HT, I]
  feature_extractor_configs: [Mean, Std, Var, Entropy, Max, Min, AbsMean, Kurtosis, RMS, CrestFactor, Skewness,
                              ClearanceFactor, ShapeFactor]
  skip_connection: true
  out_channels: 4
  scale: 4
  f_c_mu: 0
  f_c_sigma: 0.1
  f_b_mu: 0
  f_b_sigma: 0.1
  device: cpu
  in_dim: 64
  out_dim: 64
"""
ISFM = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 64
  num_patches: 16
  patch_size_L: 32
  patch_size_C: 1
  num_classes: 4
  task_configs:
    classification: {head: H_01_Linear_cla, loss_weight: 1.0}
    rul_prediction: {head: H_05_RUL_pred, loss_weight: 0.5, hidden_dim: 0}
"""


def project(tmp_path: Path, experiment: str, **files: str) -> Path:
    """An experiment at the root of a project (`.git`) with its base files beside it."""
    (tmp_path / ".git").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    path = tmp_path / "experiment.yaml"
    path.write_text(experiment, encoding="utf-8")
    return path


def merged(path: Path) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The merged `model:` section of the experiment ``path`` and the warnings said while merging."""
    warnings: list[Diagnostic] = []
    return phm_merge.model_section(load(str(path)), Library(cwd=str(path.parent)), warnings).values, warnings


def refused(path: Path) -> list[Diagnostic]:
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    return [d for d in info.value.diagnostics if d.severity == "error"]


# --------------------------------------------------------------------------------------------
# Nested mappings merge key by key; dotted keys reach any depth.


def test_an_experiment_that_overrides_one_layer_keeps_the_base_config_s_other_three(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n  signal_processing_configs:\n"
                   "    layer1: [HT, I]\n", base=TSPN)
    values, warnings = merged(path)
    assert list(values["signal_processing_configs"]) == ["layer1", "layer2", "layer3", "layer4"]
    assert values["signal_processing_configs"]["layer1"] == ["HT", "I"] and not warnings


def test_a_dotted_key_with_several_dots_sets_one_layer(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel.signal_processing_configs.layer1: [HT, I]\n",
                   base=TSPN)
    values, warnings = merged(path)
    assert values["signal_processing_configs"] == {"layer1": ["HT", "I"], "layer2": ["LNO", "WF", "HT", "I"],
                                                   "layer3": ["LNO", "WF", "HT", "I"],
                                                   "layer4": ["LNO", "WF", "HT", "I"]}
    assert not warnings


@pytest.mark.filterwarnings("ignore::vibench.SpecWarning")  # W101 for TSPN's `device`, `in_dim`, `out_dim`
@pytest.mark.parametrize("override", ["model:\n  signal_processing_configs:\n    layer1: [HT, I]\n",
                                      "model.signal_processing_configs.layer1: [HT, I]\n"])
def test_the_qa_repro_builds_four_layers_as_phm_vibench_does(tmp_path: Path, override: str) -> None:
    """QA's repro: PHM-Vibench builds 4 layers (31,505 parameters) where vibench built the experiment's one."""
    path = project(tmp_path, "base_configs:\n  model: base.yaml\n" + override, base=TSPN)
    model = vibench.build(str(path))
    assert sum(p.numel() for p in model.parameters()) == 31_505
    assert len(model.signal_processing_layers) == 4


def test_lists_null_and_scalars_replace_whole_and_mappings_merge_at_any_depth(tmp_path: Path) -> None:
    base = "model:\n  a: [1, 2, 3]\n  b: {x: 1}\n  c: 5\n  d: {e: {f: 1, g: 2}, h: 3}\n  k: [{x: 1}]\n"
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n  a: [9]\n  b: null\n  c: {y: 2}\n"
                   "  d: {e: {g: 9}}\n  k: [{y: 2}]\nmodel.d.e.z: 7\n", base=base)
    values, _ = merged(path)
    assert values == {"a": [9], "b": None, "c": {"y": 2}, "d": {"e": {"f": 1, "g": 9, "z": 7}, "h": 3},
                      "k": [{"y": 2}]}


def test_keys_keep_the_order_they_are_first_written_in(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs: {m: b1.yaml, n: b2.yaml, o: b1.yaml}\nmodel: {z: 3, x: 4}\n",
                   b1="model:\n  t: {a: 1}\n  x: 1\n", b2="model:\n  t: {b: 2}\n  y: 2\n")
    values, _ = merged(path)
    assert json.dumps(values) == '{"t": {"a": 1, "b": 2}, "x": 4, "y": 2, "z": 3}'


# --------------------------------------------------------------------------------------------
# Where the merged values stand: a diagnostic at the place that wrote the value, a base config's hidden.


def test_a_base_config_s_entry_of_a_merged_mapping_is_located_at_its_base_configs_entry(tmp_path: Path) -> None:
    """rul_prediction's bad `hidden_dim` comes from the base config: at its entry, not shown; the experiment
    wrote only `classification`."""
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n  task_configs:\n"
                   "    classification: {head: H_01_Linear_cla, loss_weight: 0.5}\n", base=ISFM)
    (d,) = refused(path)
    assert d.node == "rul_prediction" and d.pos is not None and (d.pos.line, d.pos.col) == (2, 10)
    assert d.found == "(a value from the base config, not shown)"


def test_the_experiment_s_entry_of_a_merged_mapping_is_located_on_its_line(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n  task_configs:\n"
                   "    classification: {head: H_01_Linear_cla, loss_weight: 0.5, hidden_dim: 0}\n"
                   "    rul_prediction: {head: H_05_RUL_pred, loss_weight: 0.5, hidden_dim: 4}\n", base=ISFM)
    (d,) = refused(path)
    assert d.node == "classification" and d.pos is not None and (d.pos.line, d.pos.col) == (5, 63)  # its `hidden_dim:`


def test_a_check_of_a_mapping_that_keeps_base_config_values_does_not_show_them(tmp_path: Path) -> None:
    base = TSPN.replace("layer2: [LNO, WF, HT, I]", "layer2: [HT, hunter2]")
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n  signal_processing_configs:\n"
                   "    layer1: [HT, I]\n", base=base)
    (d,) = refused(path)
    assert d.code == "E215" and d.pos is not None and d.pos.line == 4
    assert "hunter2" not in " ".join(filter(None, (d.message, d.found, d.hint, d.expected, *d.notes)))


# --------------------------------------------------------------------------------------------
# Dotted keys vibench cannot honour, and what PHM-Vibench reads otherwise: W114 at the place.


def w114(warnings: list[Diagnostic]) -> list[tuple[int, str]]:
    return [(d.pos.line, d.message) for d in warnings if d.code == "W114" and d.pos is not None]


def test_a_dotted_key_through_a_value_that_is_no_mapping_is_w114(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n  a: [1]\nmodel.a.b: 2\n",
                   base="model:\n  x: 1\n")
    values, warnings = merged(path)
    assert values == {"x": 1, "a": [1]}
    assert w114(warnings) == [(5, "`model.a.b` cannot be set: `model.a` is no mapping, and vibench ignores the key")]


def test_a_dotted_key_with_an_empty_name_is_w114(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel..a: 2\n", base="model:\n  x: 1\n")
    values, warnings = merged(path)
    assert values == {"x": 1} and [line for line, _ in w114(warnings)] == [3]


def test_a_dotted_key_a_later_one_replaces_is_w114(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\nmodel.a.b: 2\nmodel.a: 5\n", base="model:\n  x: 1\n")
    values, warnings = merged(path)
    assert values == {"x": 1, "a": 5}
    assert w114(warnings) == [(3, "`model.a.b` has no effect: `model.a` below it replaces it")]


def test_a_deep_dotted_key_without_base_configs_is_w114_not_silence(tmp_path: Path) -> None:
    path = project(tmp_path, "model:\n  x: 1\nmodel.signal_processing_configs.layer1: [HT, I]\n")
    values, warnings = merged(path)
    assert values == {"x": 1}
    assert w114(warnings) == [(3, "`model.signal_processing_configs.layer1` is not read as "
                                  "`signal_processing_configs.layer1` of the model")]


def test_a_null_base_configs_entry_and_a_base_config_s_dotted_key_are_w114(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: base.yaml\n  data: null\n",
                   base="model:\n  x: 1\nmodel.y: 2\n")
    values, warnings = merged(path)
    assert values == {"x": 1} and [line for line, _ in w114(warnings)] == [2, 3]


# --------------------------------------------------------------------------------------------
# `model:` null or no mapping: what PHM-Vibench's merge does with it.


def test_an_empty_model_section_over_the_base_configs_model_is_e103_at_it(tmp_path: Path) -> None:
    (d,) = refused(project(tmp_path, "base_configs:\n  model: base.yaml\nmodel:\n", base=TSPN))
    assert (d.code, d.message, d.pos.line if d.pos else None) == ("E103", "the `model:` section is empty", 3)


def test_a_base_config_s_null_model_drops_the_model_above_it_as_there(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs: {a: b1.yaml, b: b2.yaml, c: b3.yaml}\n",
                   b1="model:\n  x: 1\n", b2="model:\n", b3="model:\n  y: 2\n")
    values, warnings = merged(path)
    assert values == {"y": 2} and [line for line, _ in w114(warnings)] == [1]


def test_a_last_base_config_with_a_null_model_is_e102_at_its_entry(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  a: b1.yaml\n  b: b2.yaml\n", b1=TSPN, b2="model:\n")
    (d,) = refused(path)
    assert (d.code, d.pos.line if d.pos else None) == ("E102", 3) and "holds no `model:` mapping" in d.message


# --------------------------------------------------------------------------------------------
# A base config that is there but no regular file: E004, never opened.


def test_a_base_config_that_is_a_folder_is_said_to_be_one(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (d,) = refused(project(tmp_path, "base_configs: {model: sub}\nmodel: {num_classes: 4}\n"))
    assert (d.code, d.message) == ("E004", "base config `sub` is a folder, not a regular file")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (1, 23)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_base_config_that_is_a_fifo_is_said_to_be_one_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")
    path = project(tmp_path, "base_configs: {model: fifo.yaml}\nmodel: {num_classes: 4}\n")
    found: list[list[Diagnostic]] = []
    worker = threading.Thread(target=lambda: found.append(refused(path)), daemon=True)  # opened, it would wait
    worker.start()
    worker.join(60)
    assert found, "the compiler waited on the FIFO"
    (d,) = found[0]
    assert (d.code, d.message) == ("E004", "base config `fifo.yaml` is a FIFO (named pipe), not a regular file")


def test_a_folder_outside_the_project_is_still_not_found(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "project" / ".git").mkdir(parents=True)
    exp = tmp_path / "project" / "experiment.yaml"
    exp.write_text("base_configs: {model: ../outside}\nmodel: {num_classes: 4}\n", encoding="utf-8")
    (d,) = refused(exp)
    assert d.code == "E205" and "not found" in d.message


# --------------------------------------------------------------------------------------------
# Cost: entries in a row naming one file merge once; a file named again after others is bounded.


def test_merging_is_bounded_when_a_file_is_named_again_after_others(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phm_merge, "MAX_MERGED_KEYS", 50)
    keys = "".join(f"  k{i}: {{v: {i}}}\n" for i in range(10))
    in_a_row = project(tmp_path, "base_configs:\n" + "".join(f"  e{i}: a.yaml\n" for i in range(40)),
                       a="model:\n" + keys)
    assert len(merged(in_a_row)[0]) == 10
    alternating = project(tmp_path, "base_configs:\n" + "".join(f"  e{i}: {'ab'[i % 2]}.yaml\n" for i in range(40)),
                          a="model:\n" + keys, b="model:\n" + keys)
    with pytest.raises(SpecError) as info:
        merged(alternating)
    assert info.value.diagnostics[0].code == "E002"


# --------------------------------------------------------------------------------------------
# The same files through PHM-Vibench's own loader.

HEAD = "data: {data_dir: d, metadata_file: m}\ntask: {name: t, type: t}\n"  # what its loader requires besides
SAME = {
    "nested": ({"b": "model:\n  type: X\n  s: {l1: [a], l2: [b], l3: [c]}\n"},
               "base_configs: {model: b.yaml}\nmodel:\n  s:\n    l1: [z]\n"),
    "dotted": ({"b": "model:\n  s: {l1: [a], l2: [b]}\n"},
               "base_configs: {model: b.yaml}\nmodel.s.l1: [z]\nmodel.s.l9.q: 3\n"),
    "dotted after model": ({"b": "model:\n  a: {w: 0}\n"},
                           "base_configs: {model: b.yaml}\nmodel:\n  a: {x: 1}\nmodel.a.y: 2\n"),
    "dotted before model": ({"b": "model:\n  x: 1\n"}, "base_configs: {model: b.yaml}\nmodel.y: 2\nmodel:\n  z: 3\n"),
    "dotted replaced": ({"b": "model:\n  x: 1\n"}, "base_configs: {model: b.yaml}\nmodel.a.b: 2\nmodel.a: 5\n"),
    "replacing values": ({"b": "model:\n  a: [1, 2]\n  b: {x: 1}\n  c: 5\n  k: [{x: 1}]\n"},
                         "base_configs: {model: b.yaml}\nmodel: {a: [9], b: null, c: {y: 2}, k: [{y: 2}]}\n"),
    "two bases": ({"b1": "model:\n  t: {a: 1, b: 2}\n", "b2": "model:\n  t: {b: 3, c: 4}\n"},
                  "base_configs: {m: b1.yaml, n: b2.yaml}\n"),
    "a null model between": ({"b1": "model:\n  x: 1\n", "b2": "model:\n", "b3": "model:\n  y: 2\n"},
                             "base_configs: {a: b1.yaml, b: b2.yaml, c: b3.yaml}\n"),
    "a file again": ({"b1": "model:\n  t: {a: 1}\n", "b2": "model:\n  t: {b: 2}\n  u: 1\n"},
                     "base_configs: {a: b1.yaml, b: b2.yaml, c: b1.yaml}\n"),
    "a file twice in a row": ({"b1": "model:\n  t: {a: 1}\n", "b2": "model:\n  t: {b: 2}\n"},
                              "base_configs: {a: b2.yaml, b: b1.yaml, c: b1.yaml}\n"),
    "key order": ({"b": "model:\n  x: 1\n  y: 2\n"}, "base_configs: {model: b.yaml}\nmodel: {z: 3, x: 4}\n"),
    "deep": ({"b": "model:\n  a: {b: {c: {d: 1, e: 2}, f: 3}}\n"},
             "base_configs: {model: b.yaml}\nmodel: {a: {b: {c: {e: 9}}}}\nmodel.a.b.c.g: 7\n"),
    "sections of other files": ({"b": "data: {q: 1}\nmodel:\n  x: 1\n", "t": "task: {name: t, type: t}\n"},
                                "base_configs: {data: b.yaml, task: t.yaml}\nmodel: {y: 2}\n"),
    "no base_configs": ({}, "model: {x: 1}\nmodel.a.b: 2\n"),
    "a base config's dotted key": ({"b": "model:\n  x: 1\nmodel.y: 2\n"}, "base_configs: {model: b.yaml}\n"),
}


@pytest.fixture(scope="module")
def config_utils() -> Any:
    from scripts import reference

    return reference.reference_module(str(REFERENCE), "src.configs.config_utils")


def theirs(config_utils: Any, path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(config_utils, "_validate_config_wrapper", lambda config: None)  # `type`, `name` not needed
    monkeypatch.chdir(path.parent)
    return config_utils._namespace_to_dict(config_utils.load_config(str(path)).model)


@needs_reference
@pytest.mark.parametrize("case", sorted(SAME))
def test_the_merge_is_phm_vibench_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_utils: Any,
                                    case: str) -> None:
    files, experiment = SAME[case]
    path = project(tmp_path, HEAD + experiment, **files)
    assert json.dumps(merged(path)[0]) == json.dumps(theirs(config_utils, path, monkeypatch))  # order too


@needs_reference
@pytest.mark.parametrize(("experiment", "line"), [
    ("model:\n  a: [1]\nmodel.a.b: 2\n", 4),  # a list on the way
    ("model:\nmodel.a: 2\n", 3),  # a null `model:`
    ("model.a: 5\nmodel.a.b: 2\n", 3),  # a number on the way
])
def test_a_dotted_key_phm_vibench_stops_on_is_w114_at_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         config_utils: Any, experiment: str, line: int) -> None:
    path = project(tmp_path, "base_configs: {model: b.yaml}\n" + experiment, b="model:\n  x: 1\n")
    with pytest.raises(TypeError):
        theirs(config_utils, path, monkeypatch)
    warnings: list[Diagnostic] = []
    try:
        phm_merge.model_section(load(str(path)), Library(cwd=str(tmp_path)), warnings)
    except SpecError as err:  # the null `model:`: E103, besides the warning
        assert [d.code for d in err.diagnostics] == ["E103"]
    assert [(d.pos.line, "cannot be set" in d.message) for d in warnings if d.pos] == [(line, True)]


# --------------------------------------------------------------------------------------------
# docs/phm.md's count of PHM-Vibench's configs that compile is the count with the default limits.

MULTI_TASK = ("v0.0.9/multi_task_config.yaml", "v0.0.9/multitask_pretrain_finetune_config.yaml")


@pytest.mark.skipif(not (REFERENCE / "configs").is_dir(), reason="no PHM-Vibench checkout at .reference/PHM-Vibench")
@pytest.mark.parametrize("name", MULTI_TASK)
def test_the_docs_say_which_configs_need_a_larger_parameter_budget(monkeypatch: pytest.MonkeyPatch,
                                                                   name: str) -> None:
    monkeypatch.chdir(REFERENCE)  # its base paths are read from its root
    with pytest.raises(SpecError) as info:
        vibench.check(str(REFERENCE / "configs" / name))
    assert [d.code for d in info.value.diagnostics if d.severity == "error"] == ["E307"]
    docs = " ".join((ROOT / "docs" / "phm.md").read_text(encoding="utf-8").split())
    assert "with the default limits 32 compile" in docs and f"`{name}`" in docs and "--max-params" in docs
