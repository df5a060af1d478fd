"""Usage errors of `vibench-compile` that QA found accepted silently.

- `schema --template FILE -o FILE` (and `schema -I lib --template fam/T -o lib/fam/T.yaml`) overwrote the
  template it read, exit 0, where a compile refuses an output over any file it read;
- `--list` and `--blocks` ignored `--set`, `--input`, `--metadata`, `--weights`, `--depth`, the limits and
  `--no-inplace` (`--list cnn/TCN --set num_classes=4` showed the defaults, exit 0);
- a `VIBENCH_SPEC_PATH` entry that is no folder was skipped, where `--spec-path` names it a usage error;
- docs/cli.md said `--weights` writes `model.pt`, whatever `-o` names (`-o exp.py` writes `exp.pt`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli

BASE = ("vibench: 1\nname: Base\nparams:\n  width: {type: int, default: 4}\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {fc: {block: linear, in: x, out_features: '${width}'}}\noutputs: {y: fc}\n")
CHILD = "vibench: 1\nname: T\nextends: fam/Base\n"


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec-path folder holding fam/Base and fam/T (which extends it); the working folder is tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    (tmp_path / "lib" / "fam").mkdir(parents=True)
    (tmp_path / "lib" / "fam" / "Base.yaml").write_text(BASE)
    (tmp_path / "lib" / "fam" / "T.yaml").write_text(CHILD)
    return tmp_path / "lib"


# -- schema -o never over a file the schema read ----------------------------------------------------


@pytest.mark.parametrize("argv, output", [
    (["schema", "-I", "lib", "--template", "lib/fam/T.yaml", "-o", "lib/fam/T.yaml"], "lib/fam/T.yaml"),
    (["schema", "-I", "lib", "--template", "fam/T", "-o", "lib/fam/T.yaml"], "lib/fam/T.yaml"),
    (["schema", "-I", "lib", "--template", "fam/T", "-o", "lib/fam/Base.yaml"], "lib/fam/Base.yaml"),  # extended
    (["schema", "-I", "lib", "--template", "fam/T", "-o", "link.yaml"], "link.yaml"),  # a link to the template
    (["schema", "-I", "lib", "-o", "lib/fam/Base.yaml"], "lib/fam/Base.yaml"),  # every template on the path
])
def test_schema_refuses_to_overwrite_a_file_it_read(library: Path, argv: list[str], output: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (library.parent / "link.yaml").symlink_to(library / "fam" / "T.yaml")
    before = {p: p.read_bytes() for p in library.rglob("*.yaml")}
    assert cli.main(argv) == cli.EXIT_USAGE  # exit 0, the template replaced by the schema
    err = capsys.readouterr().err
    assert f"-o {output} is a file the schema reads" in err and "refusing to overwrite it" in err
    assert "Traceback" not in err
    assert {p: p.read_bytes() for p in library.rglob("*.yaml")} == before
    assert not [p for p in library.parent.rglob(".vibench-*")]  # no temporary file left


def test_schema_still_writes_a_new_file_and_replaces_its_own(library: Path) -> None:
    assert cli.main(["schema", "-I", "lib", "--template", "fam/T", "-o", "s.json"]) == cli.EXIT_OK
    assert cli.main(["schema", "-I", "lib", "--template", "fam/T", "-o", "s.json"]) == cli.EXIT_OK
    assert (library.parent / "s.json").read_text().startswith("{")


# -- --list and --blocks refuse what only a compile reads ----------------------------------------------


@pytest.mark.parametrize("extra, flag", [
    (["--set", "num_classes=4"], "--set"),
    (["--input", "x=2,1,1024"], "--input"),
    (["--metadata", "meta.csv"], "--metadata"),
    (["--weights", "w.ckpt"], "--weights"),
    (["--weights-prefix", "model."], "--weights-prefix"),
    (["--trust-checkpoint"], "--trust-checkpoint"),
    (["--depth", "2"], "--depth"),
    (["--max-nodes", "10"], "--max-nodes"),
    (["--max-params", "10"], "--max-params"),
    (["--max-activation", "10"], "--max-activation"),
    (["--no-inplace"], "--no-inplace"),
])
@pytest.mark.parametrize("catalogue", [["--list", "cnn/TCN"], ["--list"], ["--blocks"], ["--blocks", "conv1d"]])
def test_the_catalogue_refuses_compile_options(catalogue: list[str], extra: list[str], flag: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*catalogue, *extra]) == cli.EXIT_USAGE  # exit 0, the defaults shown
    captured = capsys.readouterr()
    assert f"{catalogue[0]} prints the catalogue and exits: drop {flag} " in captured.err
    assert captured.out == "" and "Traceback" not in captured.err


def test_the_catalogue_names_every_option_it_refuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list", "cnn/TCN", "--set", "num_classes=4", "--depth", "1", "--no-inplace"]) == cli.EXIT_USAGE
    assert "drop --set, --no-inplace and --depth " in capsys.readouterr().err


def test_spec_path_still_lists_and_is_refused_with_blocks(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--list", "-I", "lib"]) == cli.EXIT_OK
    assert "fam/T" in capsys.readouterr().out
    assert cli.main(["--list", "fam/T", "-I", "lib"]) == cli.EXIT_OK
    capsys.readouterr()
    assert cli.main(["--blocks", "-I", "lib"]) == cli.EXIT_USAGE  # the registry's blocks, whatever the path
    assert "--blocks prints the catalogue and exits: drop --spec-path" in capsys.readouterr().err


# -- VIBENCH_SPEC_PATH as --spec-path --------------------------------------------------------------------


@pytest.mark.parametrize("argv", [[str(Path(ROOT) / "examples" / "tiny_cnn.json"), "--check"], ["--list"],
                                  ["--list", "cnn/TCN"], ["schema", "-o", "-"]])
@pytest.mark.parametrize("entry, why", [("nonexist", "no such folder"), ("lib/fam/T.yaml", "not a folder")])
def test_a_spec_path_variable_entry_that_is_no_folder_is_a_usage_error(
        library: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        argv: list[str], entry: str, why: str) -> None:
    monkeypatch.setenv("VIBENCH_SPEC_PATH", f"lib:{entry}")
    assert cli.main(argv) == cli.EXIT_USAGE  # accepted silently
    captured = capsys.readouterr()
    assert f"usage error: VIBENCH_SPEC_PATH entry {entry}: {why}" in captured.err
    assert captured.out == "" and "Traceback" not in captured.err


def test_empty_spec_path_variable_entries_are_skipped(library: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VIBENCH_SPEC_PATH", ":lib::")  # as PATH skips them
    assert cli.main(["--list", "fam/T"]) == cli.EXIT_OK
    assert cli.main(["--check", "lib/fam/T.yaml"]) == cli.EXIT_OK
    monkeypatch.setenv("VIBENCH_SPEC_PATH", "")
    assert cli.main(["--list"]) == cli.EXIT_OK


def test_a_template_on_the_spec_path_variable_is_a_spec_argument(library: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`VIBENCH_SPEC_PATH=lib vibench-compile fam/T` finds the template as `-I lib fam/T` does (only --spec-path
    folders were searched for the spec argument: "no such spec file")."""
    monkeypatch.setenv("VIBENCH_SPEC_PATH", "lib")
    assert cli.main(["fam/T", "--check"]) == cli.EXIT_OK, capsys.readouterr().err
    assert "ok: T" in capsys.readouterr().out


# -- --weights names its file after -o ---------------------------------------------------------------------


def test_docs_name_the_weights_file_after_the_output() -> None:
    cli_md = (Path(ROOT) / "docs" / "cli.md").read_text()
    row = next(line for line in cli_md.splitlines() if line.startswith("| `--weights CKPT`"))
    assert "also write `model.pt` beside it" not in row and "`-o exp.py`: `exp.pt`" in row
    helps = {a.dest: a.help or "" for a in cli._parser()._actions}
    assert "model.pt beside it" not in helps["weights"] and "FILE's name with .pt" in helps["weights"]


def test_an_option_given_twice_with_format_json_is_a_json_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Raised while the command line is parsed (before --format is known from it): read from the words."""
    import json

    assert cli.main(["cnn/ResNet1D", "--check", "--format", "json", "--depth", "1", "--depth", "2"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"ok": False, "usage_error": "argument --depth: given twice; give it once"}
    assert captured.err == ""


def test_a_file_names_non_utf8_byte_is_shown_as_xe9_in_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import os

    monkeypatch.chdir(tmp_path)
    graph = os.fsdecode(b"o\xe9.bad")
    assert cli.main([str(Path(ROOT) / "examples" / "tiny_cnn.json"), "--format", "json", "--graph", graph]) == 2
    message = json.loads(capsys.readouterr().out)["usage_error"]
    assert message.startswith("--graph o\\xe9.bad: ") and "\\udc" not in message
    assert cli.main([str(Path(ROOT) / "examples" / "tiny_cnn.json"), "--graph", graph]) == 2
    assert "--graph o\\xe9.bad: " in capsys.readouterr().err


def test_list_skips_a_schema_written_on_the_spec_path(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "-I", "lib", "-o", "lib/vibench.schema.json"]) == cli.EXIT_OK
    capsys.readouterr()
    assert cli.main(["--list", "-I", "lib"]) == cli.EXIT_OK
    listing = capsys.readouterr().out
    assert "fam/T" in listing and "vibench.schema" not in listing
