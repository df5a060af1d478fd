"""YAML 1.1 numbers (`1:30`, `010`, `08`) in a PHM-Vibench experiment config: outside `model:` read as
PyYAML (and so PHM-Vibench) reads them, silently; inside `model:` (and a base config's model keys) E001, as
in a vibench spec, which refuses them everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.load import load_text
from vibench.compiler.pipeline import load

MODEL = "model: {type: CNN, name: ResNet1D, num_classes: 4, input_dim: 1}\n"
VALUES = ["12:30", "1:30", "010", "08", "-010", "1:30.5"]


def _model_source(text: str) -> str:
    result = vibench.compile_spec(text=text)
    assert not [w for w in result.program.warnings if w.severity == "warning"]
    return result.source.split("\n", 1)[1]  # the header names the text's hash


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("section", [
    "environment: {{seed: 42, experiment_time: {v}}}\n",
    "environment: {{seed: 42, gpu: {v}}}\n",
    "data: {{ids: [01, 08, {v}]}}\n",
    "trainer: {{max_epochs: {v}, devices: [{v}, {v}]}}\n",
])
def test_a_yaml_1_1_number_outside_model_is_read_as_pyyaml_reads_it(section: str, value: str) -> None:
    text = section.format(v=value) + MODEL
    assert _model_source(text) == _model_source(MODEL)


def test_the_values_outside_model_are_pyyamls() -> None:
    import yaml

    text = "environment: {a: 12:30, b: 010, c: 08, d: [01, 08, 010, 010]}\n" + MODEL
    doc = load(text=text)
    assert doc.data == yaml.safe_load(text)
    assert doc.numbers == ()  # listed only where they matter: under `model:` or `base_configs:` (1207b)


def test_the_file_compiles_from_the_command_line(tmp_path: Path) -> None:
    from vibench.compiler.cli import EXIT_OK, main

    path = tmp_path / "exp.yaml"
    path.write_text("environment: {seed: 42, experiment_time: 12:30}\ngpu: 010\ndata: {ids: [01, 08]}\n" + MODEL)
    assert main(["--check", str(path)]) == EXIT_OK


@pytest.mark.parametrize(("written", "col"), [("num_classes: 010", 49), ("num_classes: 1:30", 49),
                                              ("num_classes: 08", 49)])
def test_inside_model_it_stays_e001_located_there(written: str, col: int) -> None:
    text = "environment: {t: 12:30}\n" + MODEL.replace("num_classes: 4", written)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.pos is not None
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E001", 2, col)
    assert written.split(": ")[1] in diag.message


def test_a_number_read_by_model_through_an_alias_is_e001() -> None:
    text = "environment: {t: &t 010}\nmodel: {type: CNN, name: ResNet1D, num_classes: *t, input_dim: 1}\n"
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.pos is not None
    assert (diag.code, diag.pos.line) == ("E001", 1) and "octal number 8" in diag.message


def test_a_base_configs_model_keys_stay_e001_its_other_sections_do_not(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "m.yaml").write_text("model:\n  type: CNN\n  name: ResNet1D\n  num_classes: 010\n")
    (tmp_path / "configs" / "ok.yaml").write_text("model:\n  type: CNN\n  name: ResNet1D\n  num_classes: 4\n"
                                                  "environment: {t: 12:30, gpu: 010}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_configs:\n  model: configs/m.yaml\nmodel: {input_dim: 1}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(bad))
    (diag,) = err.value.diagnostics
    assert diag.pos is not None
    assert (diag.code, diag.pos.line) == ("E001", 2) and "YAML 1.1 number" in diag.message
    good = tmp_path / "good.yaml"
    good.write_text("base_configs:\n  model: configs/ok.yaml\nmodel: {input_dim: 1}\n")
    assert not [w for w in vibench.check(str(good)).warnings if w.severity == "warning"]


@pytest.mark.parametrize("value", ["010", "1:30", "08"])
def test_a_vibench_spec_keeps_the_error_everywhere(value: str) -> None:
    spec = ("vibench: 1\nname: T\nmeta: {when: VALUE}\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n").replace("VALUE", value)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=spec)
    assert [(d.code, d.pos and d.pos.line) for d in err.value.diagnostics] == [("E001", 3)]
    with pytest.raises(vibench.SpecError):
        load_text(f"n: {value}\n")
