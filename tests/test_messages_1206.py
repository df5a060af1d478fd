"""Messages that misread what a reference names or clipped what they show.

* A spec that extends (or uses as a block) a PHM-Vibench experiment config was told the config has no
  `model:` section, at the config's first line; it is E103 at the reference, saying that an experiment
  config cannot be extended and naming the template its `model:` section picks.
* A reference to a FIFO, a folder or a `.md` file was "unknown spec", with a "did you mean" that could be
  the very name written.
* E214 for a slot value written as a path hinted to create `isfm/backbone//etc/passwd.yaml`, and did not
  say that the value came from --set.
* `found:` values were cut at 80 characters with no sign of the cut.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import vibench
from tests.helpers import ROOT
from vibench.compiler import cli

EXPERIMENT = """\
environment: {seed: 42}
data: {window_size: 1024}
model:
  type: CNN
  name: ResNet1D
  input_dim: 2
  num_classes: 4
task: {name: classification}
trainer: {max_epochs: 10}
"""

TINY = """\
vibench: 1
name: Tiny
params:
  num_classes: {type: int, default: 4}
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: "${num_classes}"}
outputs: {y: fc}
"""


def _error(spec: Path, **kw: object) -> vibench.Diagnostic:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(spec), **kw)  # type: ignore[arg-type]
    (d,) = err.value.diagnostics
    return d


def _extends(tmp_path: Path, reference: str) -> Path:
    spec = tmp_path / "x.yaml"
    spec.write_text(f"vibench: 1\nextends: {reference}\n")
    return spec


# -- 1. an experiment config named by extends: / block: ---------------------------------------------


def test_extending_an_experiment_config_is_refused_at_the_reference(tmp_path: Path) -> None:
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)
    assert vibench.check(str(tmp_path / "experiment.yaml")).root.name == "ResNet1D"  # it compiles on its own
    d = _error(_extends(tmp_path, "./experiment.yaml"))
    assert d.code == "E103"
    assert (d.pos.file.endswith("x.yaml"), d.pos.line, d.pos.col) == (True, 2, 10)
    assert "experiment config" in d.message and "cannot be extended or used as a block" in d.message
    assert "without a `model:` section" not in d.message and "no `model:`" not in str(d.found)
    assert "compile it directly" in str(d.hint) and "`extends: cnn/ResNet1D`" in str(d.hint)


def test_an_experiment_config_as_a_block_is_refused_at_the_block(tmp_path: Path) -> None:
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)
    spec = tmp_path / "host.yaml"
    spec.write_text("vibench: 1\nname: Host\ninputs:\n  x: {shape: [B, 64, 2]}\nnodes:\n"
                    "  a: {block: ./experiment.yaml, in: x}\noutputs: {y: a}\n")
    d = _error(spec)
    assert d.code == "E103" and "cannot be extended or used as a block" in d.message
    assert (d.pos.file.endswith("host.yaml"), d.pos.line, d.pos.col) == (True, 6, 14)


def test_schema_for_an_experiment_template_says_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "experiment.yaml").write_text(EXPERIMENT)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["schema", "--template", "experiment.yaml", "-o", str(tmp_path / "s.json")]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert "error[E103]: `experiment.yaml` is a PHM-Vibench experiment config" in err
    assert "without a `model:` section" not in err and "experiment.yaml:3:1" in err


# -- 2. a reference to a file that is there but is no spec -------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("reference", ["./ff.yaml", "ff.yaml", "./ff"])
def test_a_fifo_is_said_to_be_one(tmp_path: Path, reference: str) -> None:
    os.mkfifo(tmp_path / "ff.yaml")
    (tmp_path / "off.yaml").write_text(TINY)
    d = _error(_extends(tmp_path, reference))
    assert d.code == "E004" and (d.pos.line, d.pos.col) == (2, 10)
    assert d.message == f"spec reference `{reference}` is a FIFO (named pipe), not a regular file"
    assert reference.removeprefix("./") not in str(d.hint) and "did you mean" not in str(d.hint)


def test_a_folder_is_said_to_be_one(tmp_path: Path) -> None:
    (tmp_path / "dd.yaml").mkdir()
    (tmp_path / "edd.yaml").write_text(TINY)
    d = _error(_extends(tmp_path, "./dd.yaml"))
    assert d.code == "E004" and (d.pos.line, d.pos.col) == (2, 10)
    assert d.message == "spec reference `./dd.yaml` is a folder, not a regular file"
    assert "edd" not in str(d.hint)


def test_a_file_with_another_suffix_is_said_to_have_it(tmp_path: Path) -> None:
    (tmp_path / "weird.md").write_text(TINY)
    (tmp_path / "edd.yaml").write_text(TINY)
    assert vibench.check(str(tmp_path / "weird.md")).root.name == "Tiny"  # as the spec compiled, any suffix
    d = _error(_extends(tmp_path, "./weird.md"))
    assert d.code == "E205" and (d.pos.line, d.pos.col) == (2, 10)
    assert d.message == "spec reference `./weird.md` names a file that is not .yaml, .yml or .json"
    assert d.found == "a `.md` file" and "weird.yaml" in str(d.hint) and "edd" not in str(d.hint)


def test_an_unknown_spec_is_never_suggested_as_written(tmp_path: Path) -> None:
    """A name the walk lists (a FIFO, a dangling link) is no spec: never offered back as "did you mean"."""
    (tmp_path / "ff.yaml").symlink_to(tmp_path / "gone.yaml")
    d = _error(_extends(tmp_path, "./ff.yaml"))
    assert d.code == "E004" and "broken symbolic link" in d.message and "`./ff.yaml`" not in str(d.hint)


def test_a_file_outside_the_search_path_stays_unknown(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text(TINY)
    (tmp_path / "project").mkdir()
    d = _error(_extends(tmp_path / "project", "../notes.md"))
    assert d.code == "E205" and d.message == "unknown spec `../notes.md`"


# -- 3. a slot value written as a path ------------------------------------------------------------


@pytest.mark.parametrize("value", ["/etc/passwd", "../../cnn/ResNet1D", "isfm\\backbone\\x"])
def test_a_path_as_a_slot_value_gets_no_file_hint(value: str, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["isfm/M_01_ISFM", "--check", "--set", f"backbone={value}", "--format", "json"]) == cli.EXIT_SPEC
    out = capsys.readouterr().out
    template = (Path(ROOT) / "vibench" / "specs" / "isfm" / "M_01_ISFM.yaml").read_text(encoding="utf-8")
    line = next(k for k, row in enumerate(template.splitlines(), 1) if row.startswith("  backbone: {type"))
    assert '"code": "E214"' in out and f'"line": {line}' in out  # the parameter's declaration
    assert "--spec-path folder" not in out and ".yaml` to" not in out
    assert "a slot value is a component's name" in out
    assert "--set backbone=" in out  # the note: the value came from the command line


def test_a_slot_value_with_a_folder_names_the_component(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["isfm/M_01_ISFM", "--check", "--set", "backbone=isfm/backbone/B_04_Dlinear.yaml"]) \
        == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert "hint: write `B_04_Dlinear`: a slot value is a component's name" in err
    assert "note: the value is the one given on the command line: `--set backbone=...`" in err


def test_a_misspelt_slot_value_still_gets_a_did_you_mean() -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check("isfm/M_01_ISFM", params={"backbone": "B_04_Dlinar"})
    (d,) = err.value.diagnostics
    assert d.code == "E214" and d.hint == "did you mean `B_04_Dlinear`?"
    assert any("as given in Python" in n for n in d.notes)


# -- 4. clipped values end in "..." ----------------------------------------------------------------


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("value", [list(range(2000)), _nested(64)])
def test_a_long_found_value_says_it_was_cut(tmp_path: Path, value: list) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY)
    d = _error(tmp_path / "tiny.yaml", params={"num_classes": value})
    assert d.code == "E202" and (d.pos.line, d.pos.col) == (4, 3)
    assert d.found is not None and d.found.startswith(repr(value)[:80] + "... (")
    assert d.found.endswith("more characters) (a list)")


def test_no_found_value_is_clipped_silently() -> None:
    """No `repr(...)[:N]` without "..." is left in the compiler: a shown value is clipped by diagnostics.clip."""
    import re

    root = Path(vibench.__file__).parent / "compiler"
    offenders = [f"{p.name}:{i}" for p in root.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"repr\([^)]*\)\[:\d+\](?!\s*\+\s*\"\.\.\.\")", line)]
    assert offenders == []
