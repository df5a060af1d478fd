"""What a hostile-input pass (1206d) found in the command line's edges, checked here.

- a Ctrl-C that came while pydantic built a validator reached the top as a SchemaError ("internal error",
  exit 3, a traceback): the command notes the signals it gets, so an interrupt another exception stands for
  still ends it with 130 (SIGTERM: 143) and its one line;
- a Ctrl-C during the interpreter's shutdown, after every file was written, ended the console script with
  130 and no line: once the command is done the signals are ignored;
- argparse's "unrecognized arguments" printed a line break from an argument raw (every usage error writes it
  `\\n`), and model.py's header named a spec whose file name is not UTF-8 `caf?.yaml` (`caf\\xe9.yaml`, as the
  messages and the Regenerate line write it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli
from vibench.compiler.cli_streams import Terminated

TINY = Path(ROOT) / "examples" / "tiny_cnn.json"


def _swallowing(signum: int):
    """A stand-in for `_compile` that signals itself inside code turning the exception into another one, as
    pydantic-core's validator build does (``SchemaError: ... KeyboardInterrupt:``)."""
    def compile_(ns, outputs):
        try:
            signal.pthread_kill(threading.get_ident(), signum)
            for _ in range(10_000):  # the handler runs between bytecodes
                pass
        except BaseException as err:  # noqa: BLE001 - what the stand-in imitates
            raise RuntimeError(f"Error building validator: {type(err).__name__}") from None
        raise AssertionError("the signal did not come")
    return compile_


def test_an_interrupt_turned_into_another_exception_is_still_an_interrupt(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_compile", _swallowing(signal.SIGINT))
    assert cli.main([str(TINY), "--check"]) == 130
    err = capsys.readouterr().err
    assert err == "vibench-compile: interrupted; no file written\n", err


def test_a_sigterm_turned_into_another_exception_still_ends_with_143(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_compile", _swallowing(signal.SIGTERM))
    with pytest.raises(Terminated) as info:
        cli.main([str(TINY), "--check"])
    assert info.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "vibench-compile: terminated; no file written\n"


def test_a_bug_is_still_an_internal_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(ns, outputs):
        raise RuntimeError("a bug")
    monkeypatch.setattr(cli, "_compile", broken)
    assert cli.main([str(TINY), "--check"]) == 3
    assert "internal error" in capsys.readouterr().err


def test_the_handlers_are_given_back() -> None:
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    assert cli.main([str(TINY), "--check"]) == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


DONE_THEN_SIGNALLED = """
import os, signal, sys
from vibench.compiler import cli_entry
sys.argv = ["vibench-compile", sys.argv[1], "--check"]
code = cli_entry.main()
os.kill(os.getpid(), signal.SIGINT)
os.kill(os.getpid(), signal.SIGTERM)
print("still here", code)
"""


def test_signals_after_the_command_is_done_change_nothing() -> None:
    done = subprocess.run([sys.executable, "-c", DONE_THEN_SIGNALLED, str(TINY)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout.strip().splitlines()[-1]) == (0, "still here 0"), done.stderr


def test_unrecognized_arguments_stay_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(TINY), "extra\narg"]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "vibench-compile: usage error: unrecognized arguments: extra\\narg"


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names must be UTF-8")
def test_the_header_names_a_file_name_that_is_not_utf8_as_messages_do(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.json")
    (tmp_path / name).write_bytes(TINY.read_bytes())
    done = subprocess.run([sys.executable, "-m", "vibench.compiler.cli", name], cwd=tmp_path, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    first = done.stdout.decode().splitlines()[0]
    assert " from caf\\xe9.json (sha256:" in first, first
