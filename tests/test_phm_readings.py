"""How a PHM-Vibench config is read where it was read wrong: a task head outside isfm/task_head, a failed
check of a base config's value, integer cells of the metadata table, a duplicate key that the model reads
through an alias."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.phm_metadata import MetadataError, read_metadata

ISFM_MODEL = ("  type: ISFM\n  name: M_01_ISFM\n  embedding: E_01_HSE\n  backbone: B_04_Dlinear\n"
              "  task_head: H_01_Linear_cla\n  output_dim: 64\n  num_patches: 16\n  patch_size_L: 32\n"
              "  patch_size_C: 1\n  num_classes: 4\n")


def _errors(path: Path) -> list[vibench.Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path))
    return [d for d in info.value.diagnostics if d.severity == "error"]


# -- a task's head is a spec of isfm/task_head, named as `task_head` names one -------------------------------


@pytest.mark.parametrize("head", ["../backbone/B_04_Dlinear", "./H_03_Linear_pred", "../../cnn/TCN",
                                  "isfm/task_head/H_01_Linear_cla"])
def test_a_task_head_outside_the_task_head_folder_is_refused(tmp_path: Path, head: str) -> None:
    """`head: ../backbone/B_04_Dlinear` built a backbone as the classifier ([B, 16, 64]); `./H_03_Linear_pred`
    passed the fit check, which compared names only. Both fail it now: E215 at the user's `task_configs`."""
    config = tmp_path / "experiment.yaml"
    config.write_text(f"model:\n{ISFM_MODEL}  task_configs: {{classification: {{head: \"{head}\"}}}}\n",
                      encoding="utf-8")
    (d,) = _errors(config)
    assert d.code == "E215" and d.pos is not None and (d.pos.file, d.pos.line, d.pos.col) == (str(config), 12, 3)
    assert d.message.startswith("a task's head is a spec of isfm/task_head named as `task_head` names one (no folder)")
    assert head in d.message and d.found is not None and d.found.startswith("`task_configs` = ")


@pytest.mark.parametrize("head", ["H_03_Linear_pred#", "H_04_VIB_pred#"])
def test_a_head_named_with_an_empty_fragment_is_refused(tmp_path: Path, head: str) -> None:
    """`H_03_Linear_pred#` read as the spec itself and passed the fit check, which compares names (a
    classification output [B, L, C]): a reference whose `#` names no block is E110, at the user's key."""
    config = tmp_path / "experiment.yaml"
    config.write_text(f"model:\n{ISFM_MODEL}  task_configs: {{classification: {{head: \"{head}\"}}}}\n",
                      encoding="utf-8")
    (d,) = _errors(config)
    assert d.code == "E110" and d.pos is not None and (d.pos.file, d.pos.line) == (str(config), 12)
    assert d.message == f"`isfm/task_head/{head}` names no block after `#`"


def test_a_file_reference_with_an_empty_fragment_is_refused(tmp_path: Path) -> None:
    (tmp_path / "parts.yaml").write_text("vibench: 1\nname: P\ninputs: {x: {shape: [B, 4]}}\n"
                                         "nodes: {r: {block: relu, in: x}}\noutputs: {y: r}\n", encoding="utf-8")
    spec = tmp_path / "m.yaml"
    spec.write_text("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
                    "nodes: {p: {block: ./parts.yaml#, in: x}}\noutputs: {y: p}\n", encoding="utf-8")
    (d,) = _errors(spec)
    assert d.code == "E110" and "`./parts.yaml#` names no block after `#`" in d.message
    spec.write_text(spec.read_text().replace("parts.yaml#", "parts.yaml"), encoding="utf-8")
    vibench.check(str(spec))


def test_a_head_of_the_folder_still_fits_its_task_or_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text(f"model:\n{ISFM_MODEL}  task_configs: {{classification: {{head: H_03_Linear_pred}}}}\n",
                      encoding="utf-8")
    (d,) = _errors(config)
    assert d.code == "E215" and "(no folder) that fits the task" in d.message and "'H_03_Linear_pred'}" in d.message
    config.write_text(f"model:\n{ISFM_MODEL}  task_configs: {{classification: {{head: H_02_distance_cla}}}}\n",
                      encoding="utf-8")
    assert str(vibench.check(str(config)).root.outputs[0][2]) == "[B, 4]"


# -- a failed check of a base config's value names the parameter, once --------------------------------------


@pytest.mark.parametrize("task_configs", ["{classification: {head: H_03_Linear_pred}}",
                                          "{classification: {head: H_03_Linear_pred}, classificatio: {}}"])
def test_a_base_configs_value_that_fails_checks_is_named_once(tmp_path: Path, task_configs: str) -> None:
    """The second base config fails two checks (unknown task, head misfit) of `task_configs`: one E215 that
    names it (the check's `at:`), at the `base_configs` entry, nothing of the file quoted."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "tc3.yaml").write_text(f"model:\n{ISFM_MODEL}  task_configs: {task_configs}\n",
                                                encoding="utf-8")
    config = tmp_path / "experiment.yaml"
    config.write_text("base_configs:\n  model: base/tc3.yaml\n", encoding="utf-8")
    (d,) = _errors(config)
    assert (d.code, d.message) == ("E215", "the value of `task_configs` from the base config fails a check of the "
                                   "template")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (2, 10) and d.hint is not None
    assert "H_03" not in str(d.to_json())


# -- integer cells of the metadata table, exactly ------------------------------------------------------------


@pytest.mark.parametrize(("cell", "key"), [("9007199254740993", "9007199254740993"),
                                           ("1e23", "100000000000000000000000"), ("2.0", "2")])
def test_a_dataset_id_is_read_exactly(tmp_path: Path, cell: str, key: str) -> None:
    """Through float, 9007199254740993 was 9007199254740992 and 1e23 was 99999999999999991611392."""
    table = tmp_path / "metadata.csv"
    table.write_text(f"Id,Dataset_id,Label\n1,{cell},3\n2,{cell},9007199254740993\n", encoding="utf-8")
    assert read_metadata(str(table)).num_classes == {key: 9007199254740994}


def test_a_label_that_is_no_integer_is_said_so(tmp_path: Path) -> None:
    table = tmp_path / "metadata.csv"
    table.write_text("Id,Dataset_id,Label\n1,1,2.5\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"`Label` must be an integer .*not '2\.5'"):
        read_metadata(str(table))
    table.write_text("Id,Dataset_id,Label\n1,1,\n2,1,n/a\n", encoding="utf-8")  # no label at all: as before
    with pytest.raises(MetadataError, match="no row with both a `Dataset_id` and a numeric `Label`"):
        read_metadata(str(table))


def test_an_integer_of_a_huge_exponent_is_refused_not_expanded(tmp_path: Path) -> None:
    table = tmp_path / "metadata.csv"
    table.write_text("Id,Dataset_id,Label\n1,1,1e999999999\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"the `Label` '1e999999999' is too large"):
        read_metadata(str(table))


# -- a duplicate key the model reads through an alias is the model's --------------------------------------


@pytest.mark.parametrize(("model", "code"), [("*m", "W113"), ("{<<: *m, input_dim: 1}", "W113"),
                                             ("{<<: *m, num_classes: 1}", "W110")])
def test_a_duplicate_key_of_an_anchored_mapping_the_model_reads_is_w113(tmp_path: Path, model: str,
                                                                         code: str) -> None:
    """`defaults: &m {..., num_classes: 4, num_classes: 5}` with `model: *m` sets the model's `num_classes`
    (W113, not W110's "vibench reads only the model's settings"); with the model's own `num_classes` written
    over a `<<` merge, the repeat in `defaults:` has no effect on it (W110)."""
    config = tmp_path / "experiment.yaml"
    config.write_text("defaults: &m\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: 4\n"
                      f"  num_classes: 5\nmodel: {model}\n", encoding="utf-8")
    (w,) = [w for w in vibench.check(str(config)).warnings if w.code in ("W110", "W113")]
    assert w.code == code and w.pos is not None and (w.pos.line, w.pos.col) == (6, 3)
    if code == "W113":
        assert "which `model:` reads" in w.message and "line 5 has no effect" in (w.found or "")
