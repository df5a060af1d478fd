"""ISFM templates: a key the chosen component declares reaches it; a key nothing built reads is said (1207d).

`isfm/M_01_ISFM` dropped `use_prompt`, `prompt_dim`, `max_dataset_ids` and `fusion_type` with W101 ("the
reference ignores it") even when the chosen embedding (E_01_HSE_v2, HSE_prompt: components of PHM-Vibench's
ISFM_Prompt, whose references read them) declares them, so `use_prompt: false` built the prompt anyway; and
`isfm/M_02_ISFM_heterogeneous_batch`, extending it, refused the same keys (E201). Now they reach the chosen
component, and stay W101, with the template's reason, where no chosen component reads them (the reference's own
components never do). A value read only by a node that is not built (`fusion_strategy` without
`ensemble_backbones`, `task_head` beside `task_configs`) was counted as read: now W104 names that node.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import vibench
from vibench.compiler.build_warnings import metadata_reads
from vibench.compiler.cli import main
from vibench.compiler.expr import parse_value

SMALL = {"backbone": "B_04_Dlinear", "task_head": "H_01_Linear_cla", "num_patches": 8, "patch_size_L": 8,
         "output_dim": 16, "num_classes": 4}
TEMPLATES = ["isfm/M_01_ISFM", "isfm/M_02_ISFM_heterogeneous_batch"]


def _spec(tmp_path: Path, template: str, **settings: object) -> str:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"vibench": 1, "extends": template, "with": settings}, sort_keys=False),
                    encoding="utf-8")
    return str(path)


def _built(spec: str, **params: object) -> dict[str, tuple[int, ...]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = vibench.build(spec, **params)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _line(spec: str, key: str) -> int:
    """The line of ``spec`` that sets ``key``."""
    lines = Path(spec).read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.lstrip().startswith(f"{key}:"))


def _codes(program: vibench.Program) -> dict[str, str]:
    return {w.message.split("`")[1]: w.code for w in program.warnings}


@pytest.mark.parametrize("template", TEMPLATES)
def test_prompt_keys_reach_the_chosen_embedding(tmp_path: Path, template: str) -> None:
    spec = _spec(tmp_path, template, **SMALL, embedding="HSE_prompt", prompt_dim=8, max_dataset_ids=7)
    assert _codes(vibench.check(spec)) == {}
    shapes = _built(spec)
    assert shapes["embedding.prompt_encoder.prompt_embedding.weight"] == (7, 8)  # not the default (50, 64)
    assert shapes["embedding.prompt_proj.weight"] == (16, 8)


@pytest.mark.parametrize("template", TEMPLATES)
def test_use_prompt_false_builds_the_signal_path_only(tmp_path: Path, template: str) -> None:
    plain = _built(_spec(tmp_path, template, **SMALL, embedding="E_01_HSE_v2"))
    assert any(key.startswith("embedding.prompt_encoder.") for key in plain)
    off = _built(_spec(tmp_path, template, **SMALL, embedding="E_01_HSE_v2", use_prompt=False, prompt_dim=8,
                       max_dataset_ids=100, fusion_type="concat"))
    assert not any(key.startswith(("embedding.prompt_encoder.", "embedding.prompt_fusion.")) for key in off)
    on = _built(_spec(tmp_path, template, **SMALL, embedding="E_01_HSE_v2", prompt_dim=8, max_dataset_ids=100,
                      fusion_type="concat"))
    assert on["embedding.prompt_encoder.dataset_embedding.weight"] == (100, 2)  # prompt_dim // 3 wide
    assert on["embedding.prompt_fusion.fusion_proj.weight"] == (16, 24)  # concat: D + prompt_dim -> D


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_key_no_chosen_component_reads_is_w101_with_the_reason(tmp_path: Path, template: str) -> None:
    spec = _spec(tmp_path, template, **SMALL, embedding="E_01_HSE", max_dataset_ids=100, fusion_temperature=2.0)
    program = vibench.check(spec)
    assert _codes(program) == {"max_dataset_ids": "W101", "fusion_temperature": "W101"}
    scoped = next(w for w in program.warnings if "max_dataset_ids" in w.message)
    assert scoped.found is not None and scoped.found.startswith("read only by the ISFM_Prompt family")
    assert scoped.hint == "it is read by E_01_HSE_v2, HSE_prompt; remove it, or pick one of them"
    assert scoped.pos is not None and scoped.pos.line == _line(spec, "max_dataset_ids")
    assert _built(spec) == _built(_spec(tmp_path, template, **SMALL, embedding="E_01_HSE"))


def test_a_set_key_reaches_the_component_or_says_where_it_came_from() -> None:
    program = vibench.check("isfm/M_01_ISFM", params={"prompt_dim": 8})
    (w101,) = program.warnings
    assert w101.code == "W101" and "`prompt_dim` (given in Python) does not change the outputs" in w101.message
    taken = vibench.check("isfm/M_01_ISFM", params={**SMALL, "embedding": "HSE_prompt", "prompt_dim": 8})
    assert not taken.warnings and dict(taken.root.params)["prompt_dim"] == 8


def test_a_phm_config_hands_the_prompt_keys_to_its_embedding(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    model = {"name": "M_01_ISFM", "type": "ISFM", "embedding": "E_01_HSE_v2", "backbone": "B_04_Dlinear",
             "task_head": "H_01_Linear_cla", "patch_size_L": 8, "patch_size_C": 1, "num_patches": 8,
             "output_dim": 16, "num_classes": 4, "use_prompt": False, "prompt_dim": 8, "max_dataset_ids": 100}
    config.write_text(yaml.safe_dump({"model": model}, sort_keys=False), encoding="utf-8")
    program = vibench.check(str(config))
    # E_01_HSE_v2 is not in PHM-Vibench's M_01 (W115); it takes the prompt keys, and reads them only in the prompt
    # layers that use_prompt: false leaves out (W101: the reference ignores them too)
    assert [w.code for w in program.warnings] == ["W115", "W101", "W101"]
    assert [w.hint for w in program.warnings[1:]] == ["it is read only by node `prompt_encoder` of E_01_HSE_v2, not "
                                                      "built here (`when: ${use_prompt}`); remove it"] * 2
    assert not any(key.startswith("embedding.prompt_encoder.") for key in _built(str(config)))
    model["use_prompt"] = True
    config.write_text(yaml.safe_dump({"model": model}, sort_keys=False), encoding="utf-8")
    assert [w.code for w in vibench.check(str(config)).warnings if w.code != "I106"] == ["W115"]
    assert any(key.startswith("embedding.prompt_encoder.") for key in _built(str(config)))


def test_fusion_strategy_without_an_ensemble_is_w104(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, "isfm/M_01_ISFM", **SMALL, embedding="E_01_HSE", fusion_strategy="concat")
    (w104,) = vibench.check(spec).warnings
    assert w104.code == "W104" and w104.message.startswith("`fusion_strategy` has no effect here")
    assert w104.hint == ("it is read only by node `fusion`, not built here (`when: ${ensemble_backbones is not "
                         "None}`); remove it")
    assert main([spec, "--check", "--format", "json"]) == 0
    assert '"W104"' in capsys.readouterr().out
    ensemble = dict(SMALL, backbone=None, ensemble_backbones=["B_04_Dlinear", "B_04_Dlinear"])
    del ensemble["backbone"]
    assert vibench.check(_spec(tmp_path, "isfm/M_01_ISFM", **ensemble, fusion_strategy="concat")).warnings == ()


def test_task_head_beside_task_configs_is_w104(tmp_path: Path) -> None:
    tasks = {"classification": {"head": "MultiTaskHead"}}
    settings = {**SMALL, "embedding": "E_01_HSE", "task_head": "H_05_RUL_pred", "task_configs": tasks}
    (w104,) = vibench.check(_spec(tmp_path, "isfm/M_01_ISFM", **settings)).warnings
    assert w104.code == "W104" and w104.message.startswith("`task_head` has no effect here")
    assert "node `task_head`, not built here (`when: ${task_configs is None}`)" in (w104.hint or "")
    assert vibench.check(_spec(tmp_path, "isfm/M_01_ISFM", **SMALL, embedding="E_01_HSE")).warnings == ()


def test_a_top_level_task_id_that_the_task_configs_replace_is_w104(tmp_path: Path) -> None:
    settings = {**SMALL, "embedding": "E_01_HSE", "task_id": "rul_prediction",
                "task_configs": {"classification": {"head": "MultiTaskHead"}}}
    del settings["task_head"]
    assert _codes(vibench.check(_spec(tmp_path, "isfm/M_01_ISFM", **settings))) == {"task_id": "W104"}


def test_metadata_reads_only_the_branch_taken() -> None:
    table = {"components": {"head": parse_value("${head if tasks is None else None}", None)}, "n": 3}
    assert metadata_reads(table, {"head": "H_01", "tasks": {"a": {}}}, {"head", "tasks"}) == {"tasks"}
    assert metadata_reads(table, {"head": "H_01", "tasks": None}, {"head", "tasks"}) == {"head", "tasks"}
    assert metadata_reads(table, {"head": "H_01", "tasks": None}, {"other"}) == set()
