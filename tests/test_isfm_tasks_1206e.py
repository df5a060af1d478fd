"""M_01_ISFM's `task_configs`: each task's head gets only the parameters it declares, a head must fit its
task's output, and a task's `loss_weight` is a finite number >= 0.

MultiTaskHead's `task_id` was merged into every head of `rul_prediction` and `anomaly_detection`, so
H_05_RUL_pred for RUL failed with "unknown parameter `task_id`", a key the user never wrote. PHM-Vibench's
M_01_ISFM does not read `task_configs`; its multi-task trainer (multi_task_phm.py) reads one value per
sample from the rul_prediction output (MSE) and one logit from the anomaly_detection output (BCE), so an
n-class classifier there fails in the reference: E215, naming the heads the task takes. The trainer
multiplies each task's loss by its weight: a string, a list, a bool or a negative weight was
compiled into METADATA["task_loss_weights"].
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vibench


def _user(tmp_path: Path, task_configs: str, extra: str = "") -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(
        f"vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 4\n{extra}  task_configs:\n{task_configs}",
        encoding="utf-8",
    )
    return path


def _error(path: Path) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path))
    return info.value


def _run(program, length: int = 1024, channels: int = 1) -> tuple:
    import torch

    from vibench.runtime.build import build_program

    model = build_program(program).eval()
    feed = {"x": torch.randn(2, length, channels), "fs": torch.full((2,), 1000.0)}
    with torch.no_grad():
        return model(**feed), model


def test_rul_and_anomaly_heads_build_for_their_tasks(tmp_path: Path) -> None:
    """The QA repro: H_05_RUL_pred for rul_prediction (and H_06_Anomaly_det for anomaly_detection) was E111
    about `task_id`; each is now the reference's head for its task."""
    path = _user(
        tmp_path,
        "    classification: {head: H_01_Linear_cla, loss_weight: 1.0}\n"
        "    rul_prediction: {head: H_05_RUL_pred, loss_weight: 0.5}\n"
        "    anomaly_detection: {head: H_06_Anomaly_det}\n",
    )
    program = vibench.check(str(path))
    shapes = {name: str(t) for name, _, t in program.root.outputs}
    assert shapes == {"classification": "[B, 4]", "rul_prediction": "[B, 1]", "anomaly_detection": "[B]"}
    assert program.root.metadata["task_loss_weights"] == {
        "classification": 1.0,
        "rul_prediction": 0.5,
        "anomaly_detection": 1.0,
    }
    outs, model = _run(program)
    assert (outs["rul_prediction"] >= 0).all() and tuple(outs["anomaly_detection"].shape) == (2,)
    # the reference's H_05_RUL_pred at output_dim 128: Linear(128, 64), Linear(64, 32), Linear(32, 1)
    assert sum(p.numel() for p in model.rul_prediction.parameters()) == 10369


def test_multitaskhead_builds_the_task_it_is_named_for(tmp_path: Path) -> None:
    """MultiTaskHead named for a task builds that task (task_id), for every task: named for
    signal_prediction it returned its classification logits [B, 4] as the signal."""
    path = _user(
        tmp_path,
        "    classification: {head: MultiTaskHead}\n"
        "    signal_prediction: {head: MultiTaskHead, max_len: 1024, max_out: 1}\n"
        "    rul_prediction: {}\n",
    )
    program = vibench.check(str(path))
    shapes = {name: str(t) for name, _, t in program.root.outputs}
    assert shapes == {"classification": "[B, 4]", "signal_prediction": "[B, L, C]", "rul_prediction": "[B, 1]"}
    outs, _ = _run(program)
    assert tuple(outs["signal_prediction"].shape) == (2, 1024, 1)


@pytest.mark.parametrize(
    "task,head,accepted",
    [
        ("rul_prediction", "H_02_distance_cla", "'rul_prediction': ['H_05_RUL_pred']"),
        ("anomaly_detection", "H_01_Linear_cla", "'anomaly_detection': ['H_06_Anomaly_det']"),
        ("classification", "H_05_RUL_pred", "'classification': ['H_01_Linear_cla', 'H_02_distance_cla'"),
        ("classification", "H_09_multiple_task", "'classification': ['H_01_Linear_cla'"),  # task_id all: two outputs
        ("signal_prediction", "H_10_ProjectionHead",
         "'signal_prediction': ['H_03_Linear_pred', 'H_04_VIB_pred', 'H_09_multiple_task task_id=prediction']"),
    ],
)
def test_a_head_whose_output_is_not_the_tasks_is_refused(tmp_path: Path, task: str, head: str, accepted: str) -> None:
    path = _user(tmp_path, f"    {task}: {{head: {head}}}\n")
    (d,) = _error(path).diagnostics
    assert d.code == "E215" and d.pos is not None
    assert (d.pos.file, d.pos.line, d.pos.col) == (str(path), 5, 3)  # the user's `task_configs:` (not an entry)
    assert accepted in d.message and "or MultiTaskHead" in d.message and f"'{head}'" in d.message


def test_a_head_of_ones_own_is_taken_for_any_task(tmp_path: Path) -> None:
    folder = tmp_path / "isfm" / "task_head"
    folder.mkdir(parents=True)
    (folder / "MyRUL.yaml").write_text(
        "vibench: 1\nname: MyRUL\nparams:\n  output_dim: {type: int, default: 128}\n"
        "inputs: {x: {shape: [B, P, output_dim]}}\n"
        "nodes:\n  pooled: {block: mean, in: x, dim: 1}\n  fc: {block: linear, in: pooled, out_features: 1}\n"
        "outputs: {rul: fc}\n",
        encoding="utf-8",
    )
    program = vibench.check(str(_user(tmp_path, "    rul_prediction: {head: MyRUL}\n")))
    assert [(name, str(t)) for name, _, t in program.root.outputs] == [("rul_prediction", "[B, 1]")]


@pytest.mark.parametrize("weight", ["heavy", "-3", "[1, 2]", "true", ".inf", ".nan", "null"])
def test_a_loss_weight_that_is_not_a_finite_number_at_least_0_is_refused(tmp_path: Path, weight: str) -> None:
    path = _user(tmp_path, f"    classification: {{loss_weight: 1.0}}\n    rul_prediction: {{loss_weight: {weight}}}\n")
    (d,) = _error(path).diagnostics
    assert d.code == "E215" and d.pos is not None and (d.pos.file, d.pos.line) == (str(path), 5)
    assert d.message.startswith("a task's loss_weight is a finite number >= 0; found {'classification': 1.0, ")


def test_a_loss_weight_of_a_task_left_out_by_tasks_is_checked_too(tmp_path: Path) -> None:
    path = _user(
        tmp_path,
        "    classification: {}\n    rul_prediction: {loss_weight: heavy}\n",
        extra="  tasks: [classification]\n",
    )
    (d,) = _error(path).diagnostics
    assert d.code == "E215" and "loss_weight" in d.message and d.pos is not None and d.pos.line == 6


@pytest.mark.parametrize("weight", ["0", "0.25", "3"])
def test_a_finite_weight_at_least_0_reaches_the_metadata(tmp_path: Path, weight: str) -> None:
    program = vibench.check(str(_user(tmp_path, f"    classification: {{loss_weight: {weight}}}\n")))
    assert program.root.metadata["task_loss_weights"] == {"classification": float(weight)}


PHM = """model:
  name: M_01_ISFM
  type: ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 128
  num_patches: 32
  patch_size_L: 128
  patch_size_C: 1
  num_classes: 4
  task_configs:
"""


@pytest.mark.parametrize(
    "task_configs,needle",
    [
        ("    classification: {loss_weight: -3}\n    rul_prediction: {loss_weight: [1, 2]}\n", "loss_weight"),
        (
            "    rul_prediction: {head: H_05_RUL_pred, loss_weight: 0.2}\n"
            "    anomaly_detection: {head: H_06_Anomaly_det}\n",
            None,
        ),
    ],
)
def test_a_phm_vibench_config(tmp_path: Path, task_configs: str, needle: str | None) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text(PHM + task_configs, encoding="utf-8")
    if needle is None:
        program = vibench.check(str(config))
        assert [name for name, *_ in program.root.outputs] == ["rul_prediction", "anomaly_detection"]
        return
    (d,) = _error(config).diagnostics
    assert d.code == "E215" and needle in d.message and d.pos is not None
    assert (d.pos.file, d.pos.line) == (str(config), 12)  # its `task_configs:`


@pytest.mark.parametrize(("task", "task_id", "shape"), [("classification", "classification", (2, 4)),
                                                        ("signal_prediction", "prediction", (2, 1024, 1))])
def test_h09_with_the_tasks_task_id_builds_that_task(tmp_path: Path, task: str, task_id: str,
                                                     shape: tuple[int, ...]) -> None:
    """H_09_multiple_task named with the task_id of the task builds that sub-head (its task_id `all` does not fit
    one task: two outputs); it compiled before the fit check came and must still."""
    path = _user(tmp_path, f"    {task}: {{head: H_09_multiple_task, task_id: {task_id}, num_classes: 4}}\n")
    model = vibench.build(str(path)).eval()
    x = torch.randn(2, 1024, 1)
    out = model(x, torch.full((2,), 1000.0))[task]  # a dict keyed by task, one task included (docs/language.md)
    assert tuple(out.shape) == shape and [o[0] for o in vibench.check(str(path)).root.outputs] == [task]


def test_a_loss_weight_message_names_the_tasks_as_written(tmp_path: Path) -> None:
    # The template's alias of the model guide (`regression` for rul_prediction) was shown by its internal name:
    # "found {'rul_prediction': inf}" for a config that wrote `regression:` (1206i).
    path = _user(tmp_path, "    regression: {loss_weight: .inf}\n")
    (d,) = [d for d in _error(path).diagnostics if d.code == "E215"]
    assert "found {'regression': inf}" in d.message and "rul_prediction" not in d.message
