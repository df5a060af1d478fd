"""A PHM-Vibench config's keys that nothing reads are reported when the compile fails too (1207c).

The W101/W102/W103 of a config came only once it compiled: `input_dm: 2` beside a missing `input_dim` gave E221
alone, whose hint (`add input_dim: 1`) builds another model, and `initial_chanels: 0` beside a wrong `layers`
gave E215 alone. Now they come with the errors of translation and of the later compile, in every output (text,
JSON, vibench.build's SpecError), and E221 names the unread key that looks like the missing one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import main

MISSPELT = "model:\n  type: CNN\n  name: ResNet1D\n  input_dm: 2\n  num_classes: 4\n"
LATER = "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 2\n  num_classes: 4\n  initial_chanels: 0\n" \
        "  layers: [1,1]\n  weights_path: w.pt\n"


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p5.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_missing_key_names_the_misspelt_one_instead_of_a_default(tmp_path: Path) -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.build(str(_config(tmp_path, MISSPELT)))
    assert info.value.codes == ["E221", "W103"]
    e221, w103 = info.value.diagnostics
    assert e221.hint == "`input_dm: 2` at line 4 may be it: rename it to `input_dim` (nothing reads `input_dm`)"
    assert w103.pos is not None and (w103.pos.line, w103.pos.col) == (4, 3)
    assert w103.hint == "did you mean `input_dim`?"


def test_a_missing_key_with_no_near_miss_keeps_the_default(tmp_path: Path) -> None:
    text = MISSPELT.replace("input_dm: 2", "colour: red")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(_config(tmp_path, text)))
    e221 = info.value.diagnostics[0]
    assert info.value.codes == ["E221", "W103"]
    assert e221.hint == "add `input_dim: 1` to build what vibench would, or the value the experiment means"


def test_unread_keys_come_with_an_error_of_the_later_compile(tmp_path: Path) -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.build(str(_config(tmp_path, LATER)))
    assert info.value.codes == ["E215", "W103", "W102"]
    assert info.value.diagnostics[1].hint == "did you mean `initial_channels`?"


def test_the_json_output_carries_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_config(tmp_path, MISSPELT)), "--check", "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [(d["code"], d["severity"]) for d in out["diagnostics"]] == [("E221", "error"), ("W103", "warning")]
    assert "`input_dm: 2` at line 4" in out["diagnostics"][0]["hint"]
    assert main([str(_config(tmp_path, LATER)), "--check", "--format", "json"]) == 1
    assert [d["code"] for d in json.loads(capsys.readouterr().out)["diagnostics"]] == ["E215", "W103", "W102"]


def test_the_text_output_counts_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_config(tmp_path, MISSPELT)), "--check"]) == 1
    err = capsys.readouterr().err
    assert "warning[W103]: unknown key `input_dm`" in err and "1 error and 1 warning" in err


def test_a_config_that_compiles_keeps_its_warnings_once(tmp_path: Path) -> None:
    program = vibench.check(str(_config(tmp_path, LATER.replace("[1,1]", "[1, 1, 1, 1]"))))
    assert sorted(w.code for w in program.warnings if w.code.startswith("W10")) == ["W102", "W103"]
