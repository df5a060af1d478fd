"""What vibench-compile does with its streams, its options and a removed working folder, where QA found it wrong.

1. A `--format json` usage error whose JSON could not be written (`--bogus --format json | true`, `> /dev/full`)
   crashed with a traceback, exit 1: the print raised inside the handler of the usage error. Now text on standard
   error, exit 2, as a write error whose JSON cannot be written.
2. argparse took abbreviations (`--form json` for --format) that the words read for a usage error's format did not:
   `ok.json --form json --check --bogus` was a text error, `--format=json --form=text` passed the given-twice rule
   unseen. Now every option is spelt in full; `-- --format json` holds a spec, not the option, there too.
3. `--summary` with model.py on standard output whose reader was gone lost the report meant for standard error.
4. A relative `-o`, `--graph` or `schema -o` once the working folder was removed was an internal error
   (FileNotFoundError from os.path.abspath). Now a usage error, worded as for a relative spec.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli
from vibench.compiler.cli_args import _parser, _schema_parser
from vibench.compiler.cli_json import format_json
from vibench.compiler.outputs import OutputError, output_target
from vibench.compiler.spec_files import NO_WORKING_FOLDER, working_folder

SPEC = "vibench: 1\nname: Small\ninputs: {x: {shape: [B, 4]}}\nnodes: {s: {block: relu, in: x}}\noutputs: {y: s}\n"
USAGE_BOGUS = "vibench-compile: usage error: unrecognized arguments: --bogus"


class Failing:
    """A standard output whose every write fails as a closed pipe (`| true`) or a full device (`> /dev/full`) does."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def write(self, text: str) -> int:
        raise self.error

    def flush(self) -> None:
        pass


CLOSED_PIPE = BrokenPipeError(errno.EPIPE, "Broken pipe")
FULL = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


# -- 1. a JSON usage error on a standard output that cannot take it -----------------------------------------------


@pytest.mark.parametrize("error", [CLOSED_PIPE, FULL], ids=["closed pipe", "full device"])
@pytest.mark.parametrize("words", [["--bogus", "--format", "json"], ["missing.yaml", "--check", "--format", "json"]])
def test_a_json_usage_error_that_cannot_be_written_is_text_on_standard_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: OSError, words: list[str]) -> None:
    monkeypatch.setattr(sys, "stdout", Failing(error))
    assert cli.main(words) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "vibench-compile: usage error: " in err and "Traceback" not in err
    assert ("unrecognized arguments: --bogus" if "--bogus" in words else "no such spec file: missing.yaml") in err


@pytest.mark.parametrize("command", [[os.path.join(os.path.dirname(sys.executable), "vibench-compile")],
                                     [sys.executable, "-m", "vibench"]], ids=["console script", "python -m"])
def test_a_json_usage_error_to_a_pipe_nobody_reads_exits_2_without_a_traceback(command: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader gone before the command writes: `| true`, deterministically
    try:
        done = subprocess.run([*command, "--bogus", "--format", "json"], stdout=write, stderr=subprocess.PIPE,
                              cwd=ROOT, timeout=120, check=False)
    finally:
        os.close(write)
    err = done.stderr.decode()
    assert done.returncode == cli.EXIT_USAGE, err
    assert USAGE_BOGUS in err and "Traceback" not in err and "Exception ignored" not in err


def test_a_json_usage_error_still_goes_to_a_standard_output_that_takes_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--bogus", "--format", "json"]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert json.loads(out) == {"ok": False, "usage_error": "unrecognized arguments: --bogus"} and err == ""


# -- 2. options spelt in full --------------------------------------------------------------------------------------


def long_options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({o for action in parser._actions for o in action.option_strings if o.startswith("--")})


@pytest.mark.parametrize("parser", [_parser, _schema_parser], ids=["compile", "schema"])
def test_no_option_is_taken_abbreviated(parser: Any) -> None:
    """Each long option less its last letter (`--forma`) is an unknown option, not the option it begins."""
    options = long_options(parser())
    for option in options:
        shortened = option[:-1]
        if shortened in options:
            continue
        with pytest.raises(cli.UsageError, match=f"unrecognized arguments: {shortened}"):
            parser().parse_args([shortened + "=1"] if option != "--help" else [shortened])


def test_an_abbreviated_format_is_an_unknown_option_said_as_text(spec: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(spec), "--form", "json", "--check", "--bogus"]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and "usage error: unrecognized arguments: --form json --bogus" in err
    assert cli.main([str(spec), "--form", "json", "--check"]) == cli.EXIT_USAGE  # was the JSON report, exit 0
    assert "unrecognized arguments: --form json" in capsys.readouterr().err


def test_an_abbreviation_beside_the_format_option_is_refused_in_json(spec: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(spec), "--format=json", "--form=text", "--check"]) == cli.EXIT_USAGE
    assert json.loads(capsys.readouterr().out) == {"ok": False, "usage_error": "unrecognized arguments: --form=text"}


def test_words_after_a_double_dash_are_no_format_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert not format_json(["--", "--format", "json"]) and format_json(["x.yaml", "--format=json"])
    assert cli.main(["--", "--format", "json"]) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and "usage error: unrecognized arguments: json" in err


# -- 3. the --summary report when model.py's stream fails ----------------------------------------------------------


@pytest.mark.parametrize("error, code", [(CLOSED_PIPE, cli.EXIT_OK), (FULL, cli.EXIT_USAGE)],
                         ids=["closed pipe", "full device"])
def test_the_summary_meant_for_standard_error_is_written_when_model_py_is_not(
        spec: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: OSError,
        code: int) -> None:
    monkeypatch.setattr(sys, "stdout", Failing(error))
    assert cli.main([str(spec), "--summary"]) == code  # docs/cli.md: a closed pipe 0, a full disk 2
    err = capsys.readouterr().err
    assert "ok: Small" in err and "total FLOPs" in err and "Traceback" not in err
    assert ("cannot write standard output: No space left on device" in err) == (error is FULL)


def test_the_summary_meant_for_standard_output_is_written_when_model_py_on_standard_error_is_not(
        spec: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stderr", Failing(CLOSED_PIPE))
    assert cli.main([str(spec), "--summary", "-o", "/dev/stderr"]) == cli.EXIT_OK
    assert "ok: Small" in capsys.readouterr().out


def test_the_summary_reaches_standard_error_past_a_real_closed_pipe(spec: Path) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "vibench", str(spec), "--summary"], stdout=write,
                              stderr=subprocess.PIPE, cwd=ROOT, timeout=120, check=False)
    finally:
        os.close(write)
    err = done.stderr.decode()
    assert done.returncode == cli.EXIT_OK, err
    assert "ok: Small" in err and "total FLOPs" in err and "Traceback" not in err


# -- 4. a relative output once the working folder was removed ------------------------------------------------------


@pytest.fixture
def removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, removed (a shell still in a deleted folder)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert working_folder() == NO_WORKING_FOLDER
    return tmp_path


GONE = "the working folder no longer exists, so a relative path names nothing"


@pytest.mark.parametrize("words, named", [(["-o", "model.py"], "-o model.py"), (["--graph", "g.dot"], "--graph g.dot"),
                                          (["--graph", "g.svg"], "--graph g.svg"), (["-o", "out/"], "-o out/"),
                                          (["-o", "m.py", "--weights", "/no/such.ckpt"], "-o m.py")])
def test_a_relative_output_in_a_removed_folder_is_a_usage_error(
        removed: Path, spec: Path, capsys: pytest.CaptureFixture[str], words: list[str], named: str) -> None:
    assert cli.main([str(spec), *words]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"vibench-compile: usage error: {named}: {GONE}" in err and "internal error" not in err
    assert os.listdir(removed) == ["small.yaml"]


def test_a_relative_output_in_a_removed_folder_is_a_json_usage_error(
        removed: Path, spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(spec), "--check", "--format", "json", "-o", "r.json"]) == cli.EXIT_USAGE
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["usage_error"].startswith(f"-o r.json: {GONE}")


def test_a_relative_schema_output_in_a_removed_folder_is_a_usage_error(
        removed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "-o", "s.json"]) == cli.EXIT_USAGE
    assert f"usage error: -o s.json: {GONE}" in capsys.readouterr().err


def test_an_absolute_output_in_a_removed_folder_is_written(removed: Path, spec: Path) -> None:
    assert cli.main([str(spec), "-o", str(removed / "model.py")]) == cli.EXIT_OK
    assert (removed / "model.py").read_text(encoding="utf-8").startswith("#")
    with pytest.raises(OutputError, match=f"^-o model.py: {GONE}"):  # the Python helpers say so too
        output_target("model.py", "-o")


def test_the_docstring_examples_of_the_words_read_for_the_format_run() -> None:
    import doctest

    from vibench.compiler import cli_json

    result = doctest.testmod(cli_json)
    assert result.attempted > 0 and result.failed == 0


def test_a_spec_path_folder_that_cannot_be_read_is_a_usage_error(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`-I noread` (chmod 000) listed "no specs" with exit 0 and made a template "no such spec file". Tests run as
    root, which may read any folder: os.access is made to say what it says to another user."""

    from vibench.compiler import cli_args

    folder = tmp_path / "noread"
    folder.mkdir()
    real = os.access
    monkeypatch.setattr(cli_args.os, "access", lambda p, mode: False if str(p) == str(folder) else real(p, mode))
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    with pytest.raises(cli_args.UsageError, match="noread: the folder cannot be read"):
        cli_args._search_path(argparse.Namespace(spec_path=[str(folder)]))
    monkeypatch.setattr(cli_args.os, "access", real)
    assert cli_args._search_path(argparse.Namespace(spec_path=[str(folder)])) == [str(folder)]
