"""Nothing a PHM-Vibench base config holds appears in a diagnostic about its values: not the values, not what a
pass computed from them, not its keys (docs/phm.md). Diagnostics about them keep their code and their
position, the `base_configs` entry, and may name the template parameter they concern. (Its strings appear in no
diagnostic wherever it stands; a shape check at the experiment's key may say sizes: tests/test_phm_privacy_1207b.py.)

Each case compiles an experiment whose `base_configs` names a file holding ``SECRET``, on the
command line (text and JSON) and through the API (errors and warnings).
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli, phm_base
from vibench.compiler.diagnostics import SpecError

SECRET = "hunter2"
EXPERIMENT = "model: {num_classes: 4}\nbase_configs:\n  model: sec.yaml\n"
ENTRY = (3, 10)  # line and column of `sec.yaml` in EXPERIMENT
RESNET = "  type: CNN\n  name: ResNet1D\n  input_dim: 1\n"

REFUSED = {
    "a failed require": RESNET + "  initial_channels: \"${require(False, 'hunter2-pw')}\"\n",
    "an int() of a string": RESNET + "  initial_channels: \"${int('hunter2')}\"\n",
    "an unknown name": RESNET + "  initial_channels: \"${hunter2}\"\n",
    "an expression syntax error": RESNET + "  initial_channels: \"${hunter2 +}\"\n",
    "a string of the wrong type": RESNET + "  initial_channels: hunter2\n",
    "a value out of bounds": RESNET + "  initial_channels: -4\n  hunter2: 1\n",
    "a guide alias read as the template's name": "  type: CNN\n  name: ResNet1D\n  in_channels: hunter2\n",
    "a slot naming no component": "  type: ISFM\n  name: M_01_ISFM\n  embedding: hunter2\n  backbone: B_04_Dlinear\n"
                                  "  task_head: H_01_Linear_cla\n  output_dim: 32\n  num_patches: 8\n"
                                  "  patch_size_L: 16\n  patch_size_C: 1\n",
    "a size computed from the value": "  type: Transformer\n  name: PatchTST\n  input_dim: 1\n  n_heads: 987654321\n",
}


def experiment(tmp_path: Path, model: str) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "configs" / "sec.yaml").write_text("model:\n" + model, encoding="utf-8")
    path = tmp_path / "configs" / "ex.yaml"
    path.write_text(EXPERIMENT, encoding="utf-8")
    return path


def cli_output(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
               *args: str) -> tuple[int, str]:
    monkeypatch.chdir(tmp_path)
    rc = cli.main([str(path.relative_to(tmp_path)), "--check", *args])
    out, err = capsys.readouterr()
    return rc, out + err


def hidden(text: str) -> bool:
    return SECRET not in text and "987654321" not in text


@pytest.mark.parametrize("model", REFUSED.values(), ids=REFUSED.keys())
def test_an_error_from_a_base_config_value_quotes_nothing_of_it(model: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = experiment(tmp_path, model)
    rc, text = cli_output(path, tmp_path, monkeypatch, capsys)
    assert rc == cli.EXIT_SPEC and hidden(text), text
    assert "configs/ex.yaml:3:10" in text  # where the base config is named
    rc, text = cli_output(path, tmp_path, monkeypatch, capsys, "--format", "json")
    assert rc == cli.EXIT_SPEC and hidden(text), text
    diagnostics = json.loads(text)["diagnostics"]
    assert any((d["line"], d["column"]) == ENTRY for d in diagnostics), diagnostics
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    assert hidden(str(info.value)) and all(hidden(json.dumps(d.to_json())) for d in info.value.diagnostics)


def test_the_message_names_the_parameter_and_why(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        vibench.check(str(experiment(tmp_path, REFUSED["a failed require"])))
    (d,) = info.value.diagnostics  # `"${...}"` is text in a config, as PHM-Vibench reads it (1207e): no int
    assert d.code == "E202" and d.message == "the value of `initial_channels` from the base config has the wrong type"
    assert d.pos is not None and (d.pos.line, d.pos.col) == ENTRY
    assert d.found == "(a value from the base config, not shown)" and d.notes == ()


def test_keys_of_a_base_config_that_nothing_reads_are_counted_not_named(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = experiment(tmp_path, RESNET + "  hunter2_KEY: 1\n  hunter2_token: abc\n")
    program = vibench.check(str(path))
    (w,) = [w for w in program.warnings if w.code == "W103"]
    assert w.message == "the base config has 2 keys that neither `cnn/ResNet1D` nor the reference reads"
    assert w.pos is not None and (w.pos.line, w.pos.col) == ENTRY
    assert all(hidden(json.dumps(d.to_json())) for d in program.warnings)
    for args in ((), ("--format", "json")):
        rc, text = cli_output(path, tmp_path, monkeypatch, capsys, *args)
        assert rc == cli.EXIT_OK and "W103" in text and hidden(text), text


def test_keys_written_in_the_experiment_itself_are_still_named(tmp_path: Path) -> None:
    path = experiment(tmp_path, RESNET)
    path.write_text(EXPERIMENT.replace("num_classes: 4", "num_classes: 4, num_clases: 3"), encoding="utf-8")
    (w,) = [w for w in vibench.check(str(path)).warnings if w.code == "W103"]
    assert "`num_clases`" in w.message and w.hint == "did you mean `num_classes`?"


def test_hide_base_values_example_runs() -> None:
    result = doctest.testmod(phm_base, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
