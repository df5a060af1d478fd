"""What a docs walk-through (1206d) found the tool saying wrong, checked here.

- a mistyped template name given as the spec (`vibench-compile cnn/ResNt`) or to `schema --template` got no
  "did you mean" (`--list`, `--blocks` and `extends:` gave one);
- an unset slot's default read `(None)` in `--list` (Python's word): it reads `null`, as a spec writes it;
- M_01_ISFM's one-line summary stopped mid-sentence ("... -> task"): every library template's doc starts
  with a whole sentence, which is what `--list` and the schema's completion show;
- `--help` said `--depth` works "with --summary and --graph" (either does).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from vibench.compiler.cli import main
from vibench.compiler.resolve import LIBRARY_DIR


@pytest.mark.parametrize(("argv", "hint"), [
    (["cnn/ResNt", "--check"], "no such spec file: cnn/ResNt; did you mean `cnn/ResNet1D`?"),
    (["resnet1d", "--check"], "no such spec file: resnet1d; did you mean `cnn/ResNet1D`?"),
    (["schema", "--template", "cnn/ResNt"], "; did you mean `cnn/ResNet1D`?"),
])
def test_a_mistyped_template_name_gets_a_hint(argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vibench-compile: usage error: ") and hint in err, err


@pytest.mark.parametrize("argv", [["nothing_like_it.yaml", "--check"], ["zzzzqqqq", "--check"]])
def test_no_hint_for_a_file_name_or_a_name_like_no_template(argv: list[str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no such spec file" in err and "did you mean" not in err, err


def test_an_unset_slot_default_reads_null(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "--format", "json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    interface = listed["isfm/M_01_ISFM"]["interface"]
    assert "ensemble_backbones in isfm/backbone/ (null)" in interface, interface
    assert "None" not in json.dumps(list(listed.values()))


def test_every_library_template_doc_starts_with_a_whole_sentence() -> None:
    for path in sorted(Path(LIBRARY_DIR).rglob("*.yaml")):
        doc = (yaml.safe_load(path.read_text()) or {}).get("doc")
        if not isinstance(doc, str) or not doc.strip():
            continue
        first = doc.strip().splitlines()[0].rstrip()
        assert first.endswith((".", ")", ":", "!", "?")), f"{path}: {first!r}"


def test_list_of_m01_shows_its_whole_first_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "isfm/M_01_ISFM"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("embedding -> backbone -> task head."), first


def test_depth_help_says_either_report(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "with --summary or --graph: expand" in out
