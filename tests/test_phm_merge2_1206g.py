"""A diagnostic about a mapping the experiment merges with a base config's (vibench/compiler/phm_base.py
`_merged`): it says the value merges both, keeps its reason where the reason quotes only what the experiment
wrote, stands at the experiment's key it names, never sends the user to the base file for a key they wrote, and
never shows what the base config gave. A dotted key through a YAML alias is W114 naming the alias
(vibench/compiler/phm_merge.py). The reference comparison is skipped without a PHM-Vibench checkout."""

from __future__ import annotations

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

TSPN = """\
model:
  type: X_model
  name: TSPN
  num_classes: 9
  in_channels: 3
  signal_processing_configs:
    layer1: [LNO, WF, HT, I]
    layer2: [LNO, WF, HT, I]
  feature_extractor_configs: [Mean, Std]
  skip_connection: true
  out_channels: 4
  scale: 4
  f_c_mu: 0
  f_c_sigma: 0.1
  f_b_mu: 0
  f_b_sigma: 0.1
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
"""


def project(tmp_path: Path, experiment: str, base: str) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "base.yaml").write_text(base, encoding="utf-8")
    path = tmp_path / "experiment.yaml"
    path.write_text("base_configs:\n  model: base.yaml\n" + experiment, encoding="utf-8")
    return path


def refused(path: Path) -> Diagnostic:
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    return d


def said(d: Diagnostic) -> str:
    return " ".join(filter(None, (d.message, d.found, d.hint, d.expected, *d.notes)))


@pytest.mark.parametrize(("experiment", "at"), [
    ("model:\n  task_configs:\n    newtask: {head: H_BOGUSQQ, loss_weight: 1.0}\n", (5, 5)),  # at `newtask`
    ("model.task_configs.newtask: {head: H_BOGUSQQ, loss_weight: 1.0}\n", (3, 1)),  # at the dotted key
])
def test_the_experiment_s_unknown_task_is_named_at_it_not_blamed_on_the_base_config(
        tmp_path: Path, experiment: str, at: tuple[int, int]) -> None:
    """QA's e6 and e5: was `the value of task_configs from the base config fails a check ... check it in that
    file`, the reason hidden, although the unknown task is the experiment's."""
    d = refused(project(tmp_path, experiment, ISFM))
    assert d.code == "E215" and d.pos is not None and (d.pos.line, d.pos.col) == at
    assert "names unknown tasks ['newtask']" in d.message and "merges the keys written here" in d.message
    assert "from the base config" not in d.message and "in that file" not in said(d)
    assert "H_01_Linear_cla" not in said(d) and "classification" not in said(d)  # the base config's task


@pytest.mark.parametrize(("experiment", "at"), [
    ("model:\n  signal_processing_configs:\n    layer1: [HT, I]\n    layer3: 5\n", (6, 5)),  # at `layer3`
    ("model.signal_processing_configs.layer3: 5\n", (3, 1)),
])
def test_the_experiment_s_wrong_layer_keeps_its_note(tmp_path: Path, experiment: str, at: tuple[int, int]) -> None:
    """QA's e3b and e4b: the note "['layer3'] is not a list" was dropped and the base config blamed."""
    d = refused(project(tmp_path, experiment, TSPN.replace("layer2: [LNO, WF, HT, I]", "layer2: [LNO, WF]")))
    assert d.code == "E202" and d.pos is not None and (d.pos.line, d.pos.col) == at
    assert "['layer3'] is not a list" in d.notes and "merges the keys written here" in d.message
    assert "in that file" not in said(d) and "LNO" not in said(d) and "WF" not in said(d)


def test_a_reason_that_quotes_the_base_config_s_key_stays_hidden(tmp_path: Path) -> None:
    base = TSPN.replace("layer2: [LNO, WF, HT, I]", "hunter2layer: 7")
    d = refused(project(tmp_path, "model:\n  signal_processing_configs:\n    layer1: [HT, I]\n", base))
    assert d.code == "E202" and d.pos is not None and d.pos.line == 4
    assert "merges the keys written here with the base config's" in d.message
    assert "hunter2layer" not in said(d) and "7" not in said(d) and not d.notes
    assert "the keys written here, and those the base config gives" in (d.hint or "")


def merged(path: Path) -> tuple[dict[str, Any], list[Diagnostic]]:
    warnings: list[Diagnostic] = []
    return phm_merge.model_section(load(str(path)), Library(cwd=str(path.parent)), warnings).values, warnings


ALIASED = "model:\n  a: &x {p: 1}\n  b: *x\nmodel.a.q: 2\n"


def test_a_dotted_key_through_a_yaml_alias_is_w114_naming_the_alias(tmp_path: Path) -> None:
    values, warnings = merged(project(tmp_path, ALIASED, "model:\n  name: n\n  type: t\n"))
    assert values["a"] == {"p": 1, "q": 2}
    (w,) = [w for w in warnings if w.code == "W114"]
    assert w.pos is not None and w.pos.line == 6 and "`model.a`" in w.message and "`model.b`" in w.message
    assert "alias" in w.message


def test_a_dotted_key_through_an_unshared_mapping_is_not_w114(tmp_path: Path) -> None:
    _, warnings = merged(project(tmp_path, "model:\n  a: {p: 1}\n  b: {p: 1}\nmodel.a.q: 2\n",
                                 "model:\n  name: n\n  type: t\n"))
    assert not warnings


@pytest.mark.skipif(not (REFERENCE / "src" / "configs" / "config_utils.py").is_file(),
                    reason="no PHM-Vibench checkout at .reference/PHM-Vibench")
def test_phm_vibench_changes_both_names_of_the_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the W114: the reference sets the key in the one object both keys share."""
    from scripts import reference

    config_utils = reference.reference_module(str(REFERENCE), "src.configs.config_utils")
    path = project(tmp_path, "data: {data_dir: x, metadata_file: y}\ntask: {name: a, type: b}\n" + ALIASED,
                   "model:\n  name: n\n  type: t\n")
    monkeypatch.chdir(tmp_path)
    theirs = config_utils._namespace_to_dict(config_utils.load_config(str(path)).model)
    assert theirs["a"] == theirs["b"] == {"p": 1, "q": 2}
