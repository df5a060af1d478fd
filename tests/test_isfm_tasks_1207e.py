"""A MultiTaskHead in M_01_ISFM's `task_configs` builds the task it is given for: its `task_id` is set to the
task's name. A `task_id` the user wrote there was replaced without a word, so
`classification: {head: MultiTaskHead, task_id: rul_prediction}` built a classifier; it is E215 at the user's
`task_configs`, naming the task and the task_id found. The task's own name is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench


def _user(tmp_path: Path, task_configs: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(
        f"vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 4\n  task_configs:\n{task_configs}",
        encoding="utf-8",
    )
    return path


def test_a_task_id_other_than_the_task_is_refused(tmp_path: Path) -> None:
    path = _user(tmp_path, "    classification: {head: MultiTaskHead, task_id: rul_prediction}\n"
                           "    rul_prediction: {head: MultiTaskHead}\n")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path))
    (d,) = info.value.diagnostics
    assert d.code == "E215" and d.pos is not None
    assert (d.pos.file, d.pos.line, d.pos.col) == (str(path), 5, 3)
    assert "remove its task_id" in d.message and "{'classification': 'rul_prediction'}" in d.message


@pytest.mark.parametrize("written", ["signal_prediction", "all"])
def test_the_refusal_names_each_task_whose_task_id_differs(tmp_path: Path, written: str) -> None:
    path = _user(tmp_path, f"    prediction: {{head: MultiTaskHead, task_id: {written}, max_len: 64, max_out: 1}}\n"
                           "    anomaly_detection: {head: MultiTaskHead, task_id: classification}\n")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path))
    (d,) = [d for d in info.value.diagnostics if d.code.startswith("E")]  # and I104 for the alias `prediction`
    if written == "signal_prediction":  # the alias `prediction` is the task signal_prediction
        assert "{'anomaly_detection': 'classification'}" in d.message
    else:
        assert "{'signal_prediction': 'all', 'anomaly_detection': 'classification'}" in d.message


def test_the_tasks_own_name_as_task_id_is_accepted(tmp_path: Path) -> None:
    path = _user(tmp_path, "    classification: {head: MultiTaskHead, task_id: classification}\n"
                           "    rul_prediction: {head: MultiTaskHead}\n")
    program = vibench.check(str(path))
    shapes = {name: str(t) for name, _, t in program.root.outputs}
    assert shapes == {"classification": "[B, 4]", "rul_prediction": "[B, 1]"}
