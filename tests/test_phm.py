"""PHM-Vibench experiment configs compile through the templates; keys without effect are reported."""

from __future__ import annotations

import os
import re

import pytest

import vibench
from tests.helpers import ROOT
from vibench.compiler.cli import main

CASES = os.path.join(ROOT, "tests", "phm_cases")
LIB = os.path.join(CASES, "lib")
EXPERIMENT = os.path.join(CASES, "experiment.yaml")


def test_experiment_with_base_configs_compiles_to_the_template() -> None:
    program = vibench.check(EXPERIMENT, search_path=[LIB])
    assert program.root.name == "Tiny"
    assert str(program.root.inputs[0][1]) == "[B, L, 2]"  # input_dim from the base config
    assert str(program.root.outputs[0][2]) == "[B, 4]"  # num_classes from the experiment


def test_keys_without_effect_are_warnings_at_their_lines() -> None:
    program = vibench.check(EXPERIMENT, search_path=[LIB])
    found = {(w.code, w.pos.line) for w in program.warnings}
    assert found == {("W102", 8), ("W101", 9), ("W103", 10)}
    typo = next(w for w in program.warnings if w.code == "W103")
    assert typo.hint == "did you mean `num_classes`?"
    assert all(w.severity == "warning" for w in program.warnings)


def test_cli_prints_warnings_and_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([EXPERIMENT, "--check", "-I", LIB]) == 0
    err = capsys.readouterr().err
    assert "warning[W101]: `depth` does not change the outputs of the reference CNN/Tiny" in err
    assert re.search(r"warning\[W103\].*\n.*experiment.yaml:10:3", err)


def test_bad_values_are_located_in_the_experiment(tmp_path) -> None:
    text = open(EXPERIMENT).read().replace("num_classes: 4", "num_classes: four")
    path = tmp_path / "experiment.yaml"
    path.write_text(text)
    (tmp_path / "base_model.yaml").write_text(open(os.path.join(CASES, "base_model.yaml")).read())
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path), search_path=[LIB])
    (diag,) = [d for d in err.value.diagnostics if d.severity == "error"]  # (the unread keys' warnings too)
    assert (diag.code, diag.pos.line) == ("E202", 7)


def test_unknown_model_name_suggests_templates(tmp_path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("model: {type: CNN, name: Tinny}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path), search_path=[LIB])
    assert err.value.codes == ["E220"]


def test_base_config_outside_the_search_path_is_refused(tmp_path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "secret.yaml").write_text("model: {type: CNN, name: Tiny}\n")
    path = inner / "exp.yaml"
    path.write_text("base_configs: {model: ../secret.yaml}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path), search_path=[LIB])
    assert err.value.codes == ["E205"]


def test_reference_checkpoints_load_through_the_declared_renames() -> None:
    import torch

    from vibench.runtime.checkpoint import load_reference_state_dict

    model = vibench.build(EXPERIMENT, search_path=[LIB])
    reference = {("classifier." + k[len("fc."):] if k.startswith("fc.") else k): torch.full_like(v, 0.5)
                 for k, v in model.state_dict().items()}
    load_reference_state_dict(model, reference)
    assert torch.equal(model.fc.bias, torch.full_like(model.fc.bias, 0.5))
    with pytest.raises(KeyError, match="missing"):
        load_reference_state_dict(model, {k: v for k, v in reference.items() if not k.startswith("classifier")})
