"""What `vibench-compile` writes, all or nothing, and the exit status it ends with.

Each case is a defect a probe of the command line found: a failed run that still replaced model.py,
temporary files left by Ctrl-C or SIGTERM, outputs over the metadata table or over the file standard
input reads the spec from, model.py and the JSON report mixed on standard output, a closed pipe that
turned a broken spec into exit 0, `--list` tracebacks, and file names that printed lines of their own.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import ROOT
from vibench.compiler import cli, outputs
from vibench.compiler.render import escape

TINY = Path(ROOT) / "examples" / "tiny_cnn.json"
BROKEN = Path(ROOT) / "tests" / "broken" / "e110_unknown_block.yaml"
LINEAR = ("vibench: 1\nname: One\ninputs: {x: {shape: [B, 4]}}\n"
          "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".vibench-"))


# -- all or nothing ---------------------------------------------------------------------------


def test_a_graph_that_cannot_be_written_leaves_model_py_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # model.py was renamed into place before the graph was tried: exit 2, and the old file gone.
    (tmp_path / "pics").mkdir()
    model = tmp_path / "model.py"
    model.write_text("OLD\n")
    real_mkstemp = outputs.tempfile.mkstemp

    def full_disk(*args: object, dir: str = "", **kwargs: object) -> tuple[int, str]:  # noqa: A002
        if dir.endswith("pics"):
            raise OSError(28, "No space left on device")
        return real_mkstemp(*args, dir=dir, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(outputs.tempfile, "mkstemp", full_disk)
    assert cli.main([str(TINY), "-o", str(model), "--graph", str(tmp_path / "pics" / "g.html")]) == cli.EXIT_USAGE
    assert "No space left on device" in capsys.readouterr().err
    assert model.read_text() == "OLD\n" and leftovers(tmp_path) == [] and not (tmp_path / "pics" / "g.html").exists()


def test_a_closed_standard_output_for_the_report_leaves_model_py_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.py"
    model.write_text("OLD\n")
    monkeypatch.setattr("sys.stdout", None)  # started with `>&-`
    assert cli.main([str(TINY), "-o", str(model), "--summary"]) == cli.EXIT_USAGE
    assert "standard output" in capsys.readouterr().err
    assert model.read_text() == "OLD\n" and leftovers(tmp_path) == []


def test_ctrl_c_during_a_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only OSError removed the temporary file: Ctrl-C in the middle left `.vibench-XXXX.tmp` behind.
    model = tmp_path / "model.py"
    model.write_text("OLD\n")

    def interrupted(fd: int, mode: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.os, "fchmod", interrupted)
    assert cli.main([str(TINY), "-o", str(model)]) == 130
    assert model.read_text() == "OLD\n" and leftovers(tmp_path) == []


SIGTERM_DURING_WRITE = """
import os, signal, sys
from vibench.compiler import cli, outputs
outputs.os.fchmod = lambda fd, mode: os.kill(os.getpid(), signal.SIGTERM)
before = signal.getsignal(signal.SIGTERM)
try:
    cli.main([sys.argv[1], "-o", sys.argv[2]])
except SystemExit as stop:
    print("exit", stop.code, signal.getsignal(signal.SIGTERM) == before)
"""


def test_sigterm_during_a_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # SIGTERM's default action (`timeout`, a cancelled CI job) skipped every clean-up.
    model = tmp_path / "model.py"
    model.write_text("OLD\n")
    done = subprocess.run([sys.executable, "-c", SIGTERM_DURING_WRITE, str(TINY), str(model)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["exit", str(128 + signal.SIGTERM), "True"], (done.returncode, done.stderr)
    assert model.read_text() == "OLD\n" and leftovers(tmp_path) == []


# -- files an output must not replace --------------------------------------------------------


def test_an_output_over_the_metadata_table_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Both were replaced: model.py (or the Mermaid picture) overwrote the table the command had read.
    spec = tmp_path / "spec.yaml"
    spec.write_text(LINEAR)
    for flag, name in (("-o", "meta.csv"), ("--graph", "meta.md")):  # a table the reader takes as CSV
        table = tmp_path / name
        table.write_text("Dataset_id,Label\n1,0\n1,3\n")
        assert cli.main([str(spec), "--metadata", str(table), flag, str(table)]) == cli.EXIT_USAGE
        assert "a file this compile reads" in capsys.readouterr().err
        assert table.read_text() == "Dataset_id,Label\n1,0\n1,3\n"


def test_an_output_over_the_file_standard_input_reads_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(LINEAR)
    with open(spec, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "vibench", "-", "-o", str(spec)], stdin=stdin,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == cli.EXIT_USAGE, done.stderr
    assert "standard input reads the spec from" in done.stderr and spec.read_text() == LINEAR


# -- standard output ----------------------------------------------------------------------------


def test_json_and_model_py_never_share_standard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The JSON report followed model.py on standard output: neither valid JSON nor importable Python.
    for argv in ([str(TINY), "--format", "json"], [str(TINY), "-o", "-", "--format", "json"]):
        assert cli.main(argv) == cli.EXIT_USAGE
        captured = capsys.readouterr()
        report = json.loads(captured.out)  # only the usage error's JSON: no model.py before it
        assert report["ok"] is False and "--format json prints its report on standard output" in report["usage_error"]
    assert cli.main([str(TINY), "--check", "--format", "json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert cli.main([str(TINY), "-o", str(tmp_path / "m.py"), "--format", "json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["written"] == str(tmp_path / "m.py")


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_closed_pipe_keeps_the_exit_status_of_a_broken_spec(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # `vibench-compile bad.yaml --check --format json | true` ended 0: under `set -o pipefail` CI passed.
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    monkeypatch.setattr("sys.stderr", _ClosedPipe())
    assert cli.main([str(BROKEN), "--check", "--format", fmt]) == cli.EXIT_SPEC


# -- --weights --------------------------------------------------------------------------------


def test_an_unreadable_checkpoint_is_a_usage_error_like_bad_metadata(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(LINEAR)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\0" * 100)
    assert cli.main([str(spec), "-o", str(tmp_path / "m.py"), "--weights", str(junk)]) == cli.EXIT_USAGE
    assert "is not a PyTorch checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "m.py").exists()


def test_a_checkpoint_that_does_not_fit_is_reported_in_json_too(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(LINEAR)
    bad = tmp_path / "bad.pt"
    torch.save({"fc.weight": torch.zeros(3, 4), "fc.bias": torch.zeros(3)}, bad)
    argv = [str(spec), "-o", str(tmp_path / "m.py"), "--weights", str(bad), "--format", "json"]
    assert cli.main(argv) == cli.EXIT_SPEC
    report = json.loads(capsys.readouterr().out)  # it printed plain text on standard error only
    assert report["ok"] is False and "fc.weight" in report["weights"]
    assert not (tmp_path / "m.py").exists() and not (tmp_path / "m.pt").exists()


# -- --list -------------------------------------------------------------------------------------


def test_a_spec_path_template_that_does_not_load_is_a_located_error(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "Bad.yaml").write_text("vibench: 1\nname: [\n")
    assert cli.main(["--list", "x/Bad", "-I", str(tmp_path)]) == cli.EXIT_SPEC  # a traceback, exit 3
    err = capsys.readouterr().err
    assert "error[E001]" in err and "Bad.yaml:3:1" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [[str(TINY), "--list"], ["--blocks", "-o", "x.py"], ["--list", "--check"]])
def test_the_catalogue_takes_no_spec_and_writes_nothing(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # `spec.yaml --list -o x.py` printed the catalogue and silently wrote nothing.
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "prints the catalogue and exits: drop" in capsys.readouterr().err


def test_links_and_fifos_named_like_specs_are_not_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    os.mkfifo(tmp_path / "a" / "Pipe.yaml")
    (tmp_path / "a" / "Real.yaml").write_text(LINEAR)
    assert cli.main(["--list", "-I", str(tmp_path)]) == cli.EXIT_OK  # StopIteration, exit 3
    ours = capsys.readouterr().out.split(f"in {tmp_path} (spec path):\n")[1]
    assert [line.split()[0] for line in ours.splitlines()] == ["a/Real"]


# -- text that reaches a terminal or a picture ----------------------------------------------------


def test_a_line_break_in_a_file_name_stays_in_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spoof = tmp_path / "q\nerror[E999]: spoof.yaml"
    spoof.write_bytes(BROKEN.read_bytes())
    assert cli.main([str(spoof), "--check"]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert not any(line.startswith("error[E999]") for line in err.splitlines())
    assert "q\\nerror[E999]: spoof.yaml:9:15" in err
    out = tmp_path / "z\nerror[E998]: fake.py"
    assert cli.main([str(TINY), "-o", str(out), "--summary"]) == cli.EXIT_OK
    assert not any(line.startswith("error[E998]") for line in capsys.readouterr().out.splitlines())


def test_a_dot_picture_holds_no_control_character() -> None:
    # An escape sequence in a `doc:` reached the .dot file raw (`cat g.dot` acted on it).
    drawn = escape("in \x1b[31m red\x07", "dot")
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in drawn) and "\u241b[31m red\u2407" in drawn
