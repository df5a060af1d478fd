"""The model guide's keys beside values given with the compile, and task names as written (QA 12-06i).

A value given beside a PHM-Vibench config (``--set``, a keyword of ``vibench.build``) replaces the config's, so a
guide key it contradicts is E222 at the guide key, said as the command line's or Python's (``depth: 50`` with
``--set block_type=basic`` built basic blocks under a note "read as ResNet-50: block_type bottleneck"). A guide
key given that way (``--set depth=18``) is E201 whose hint says what the template takes instead. The guide's
task names stay as written in ``task_configs`` (M_01_ISFM reads them itself), so the template's messages quote
the user's tasks; an empty ``task_configs`` is E208 at it, not the template's internal loop (E211 of node
``task_heads``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import EXIT_OK, main
from vibench.compiler.diagnostics import Diagnostic

RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  num_classes: 3\n"
ISFM = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  patch_size_L: 16
  patch_size_C: 1
  num_patches: 8
  output_dim: 16
  num_classes: 5
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def errors(path: str, **params: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path, params=params or None)
    return list(err.value.diagnostics)


def cli_errors(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, "--check"]) != EXIT_OK
    return capsys.readouterr().err


# -- 1. a given value the guide key contradicts ----------------------------------------------------------------


def test_depth_against_a_given_block_type_is_e222_at_depth(tmp_path: Path) -> None:
    path = write(tmp_path, RESNET + "  input_dim: 1\n  depth: 50\n")
    (d,) = errors(path, block_type="basic")
    assert d.code == "E222" and (d.pos.line, d.pos.col) == (6, 3)
    assert d.message == "`depth: 50` contradicts `block_type: 'basic'` (given in Python)"
    assert d.found == "ResNet-50 has block_type 'bottleneck'"
    assert "keyword of vibench.build" in d.notes[0] and "leave out `block_type=`" in d.hint


def test_depth_against_a_set_block_type_says_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, RESNET + "  input_dim: 1\n  depth: 50\n")
    err = cli_errors(capsys, path, "--set", "block_type=basic")
    assert "error[E222]: `depth: 50` contradicts `block_type: 'basic'` (from --set)" in err
    assert "leave out `--set block_type`" in err and "note[I101]" not in err


def test_in_channels_against_a_given_input_dim_is_e222(tmp_path: Path) -> None:
    path = write(tmp_path, RESNET + "  in_channels: 2\n")
    (d,) = errors(path, input_dim=3)
    assert d.code == "E222" and d.pos.line == 5
    assert d.message == "`in_channels: 2` contradicts `input_dim: 3` (given in Python)"


def test_a_given_value_that_agrees_keeps_the_note(tmp_path: Path) -> None:
    program = vibench.check(write(tmp_path, RESNET + "  in_channels: 2\n  depth: 50\n"),
                            params={"input_dim": 2, "layers": [3, 4, 6, 3], "block_type": "bottleneck"})
    assert [w.code for w in program.warnings if w.code == "I101"] == ["I101", "I101"]
    assert str(program.root.inputs[0][1]) == "[B, L, 2]"


# -- 2. a guide key given with --set: the E201 hint says what the template takes -------------------------------


def test_set_depth_hint_gives_the_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, RESNET + "  input_dim: 1\n")
    err = cli_errors(capsys, path, "--set", "depth=18")
    assert "error[E201]: unknown parameter `depth` (from --set)" in err
    assert "ResNet-18 is `--set block_type=basic --set layers=[2,2,2,2]`" in err and "`depth: 18`" in err
    # the hint's flags compile the model it names
    assert main([path, "--check", "--set", "block_type=basic", "--set", "layers=[2,2,2,2]"]) == EXIT_OK
    (d,) = errors(path, depth=34)
    assert "ResNet-34 is `block_type='basic', layers=[3, 4, 6, 3]`" in d.hint
    (d,) = errors(path, depth=19)
    assert "the standard depths are 18, 34, 50, 101, 152" in d.hint


def test_set_task_name_hint_points_at_task_configs(tmp_path: Path) -> None:
    (d,) = errors(write(tmp_path, ISFM), regression=1)
    assert d.code == "E201" and "the task `rul_prediction`: a key of `task_configs`" in d.hint


# -- 3. task names as written ----------------------------------------------------------------------------------


def test_a_wrong_task_value_quotes_the_users_task_name(tmp_path: Path) -> None:
    (d,) = errors(write(tmp_path, ISFM + "  task_configs: {prediction: null}\n"))
    assert d.code == "E202" and "'prediction'" in d.found and "signal_prediction" not in d.found


def test_a_failed_task_check_shows_the_users_task_configs(tmp_path: Path) -> None:
    found = errors(write(tmp_path, ISFM + "  task_configs: {regression: {loss_weight: .inf}}\n"))
    (d,) = [d for d in found if d.code == "E215"]
    assert d.found == "`task_configs` = {'regression': {'loss_weight': inf}}"
    # the template's note on the guide's names comes with it, saying how `regression` was read
    assert any(n.code == "I104" and "regression -> rul_prediction" in n.message for n in found)


def test_guide_task_names_still_build_their_heads(tmp_path: Path) -> None:
    program = vibench.check(write(tmp_path, ISFM + "  task_configs:\n    classification: {}\n    prediction: {}\n"))
    assert [name for name, *_ in program.root.outputs] == ["classification", "signal_prediction"]
    (note,) = [w for w in program.warnings if w.code == "I101"]
    assert "task `prediction`" in note.message and note.pos.line == 14


def test_an_empty_task_configs_is_refused_at_it(tmp_path: Path) -> None:
    (d,) = errors(write(tmp_path, ISFM + "  task_configs: {}\n"))
    assert d.code == "E208" and d.message == "`task_configs` names no task" and (d.pos.line, d.pos.col) == (12, 3)
    assert "classification" in d.expected and "remove `task_configs`" in d.hint
    assert "task_heads" not in d.message + "".join(d.notes)


# -- 4. a class count from the metadata table, blamed on the config's num_classes ------------------------------


def test_a_budget_error_from_the_tables_class_count_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, RESNET.replace("num_classes: 3", "num_classes: 99") + "  input_dim: 1\n")
    table = tmp_path / "m6.csv"
    table.write_text("Dataset_id,Label\n1,1e23\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path, metadata=str(table))
    (d,) = err.value.diagnostics
    assert d.code == "E307" and any("metadata table" in n and "m6.csv" in n for n in d.notes)
