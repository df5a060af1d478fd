"""A plug-in raising a BaseException that is no Exception, and a real interrupt while a plug-in runs.

What vibench decides (vibench/compiler/plugin_calls.py, :func:`interrupts`):

* a plug-in's `infer` raising GeneratorExit, asyncio's CancelledError or a BaseException class of its
  own is E114 at the node, as a RuntimeError is (it was a raw traceback of `vibench-compile`);
* on the main thread, where Python runs signal handlers, a KeyboardInterrupt stops the run: a real
  Ctrl-C while a plug-in runs ends `vibench-compile` with 130 and one line, as anywhere else (a plug-in
  that raises KeyboardInterrupt itself is indistinguishable from one, and stops it too); SIGTERM
  (vibench's own exception from its handler) ends it with 143;
* on any other thread (the language server's checks, an API call from a worker) no signal is ever
  delivered, so a KeyboardInterrupt is the plug-in's failure: E114 (tests/test_lsp_plugins.py for the
  server);
* a BaseException a plug-in's import raises is its failure to load (W120), as an ImportError is; one that
  reaches the top elsewhere ends `vibench-compile` with exit 3 and a line saying so above the traceback, as
  an internal error does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.test_plugins_loading import install, run_python, spec_text

SOURCE = '''
import asyncio
import os
import signal
import time

from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class Boom(BaseException):
    """An exception class of the plug-in's own, outside Exception."""


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


def signalled(signum):
    def raises():
        os.kill(os.getpid(), signum)  # a real signal, delivered while `infer` runs
        time.sleep(60)
    return raises


def block(name, raises):
    def infer(self, p, ins, ctx):
        raises()
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])

    register(type(f"B_{name}", (Block,), {"__doc__": "A plug-in block.", "name": name, "Params": KParams,
                                          "infer": infer, "call_code": call_code, "__module__": __name__}))


def raising(exception):
    def raises():
        raise exception
    return raises


block("p_boom", raising(Boom("boom")))
block("p_genexit", raising(GeneratorExit()))
block("p_cancel", raising(asyncio.CancelledError()))
block("p_kbint", raising(KeyboardInterrupt()))
block("p_sigint", signalled(signal.SIGINT))
block("p_sigterm", signalled(signal.SIGTERM))
'''
RAISED = {"p_boom": "Boom", "p_genexit": "GeneratorExit", "p_cancel": "CancelledError"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    install(folder, "p_base", {"p_base/__init__.py": SOURCE}, ["base = p_base"])
    return folder


def compile_cli(site: Path, tmp_path: Path, block: str) -> subprocess.CompletedProcess:
    """`vibench-compile BLOCK.yaml --check` (the console script's entry) on a spec of one node of ``block``."""
    spec = tmp_path / f"{block}.yaml"
    spec.write_text(spec_text(block, shape="[B, 4, L]"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), ROOT]), "VIBENCH_CACHE": "0"}
    entry = "import sys; from vibench.compiler.cli_entry import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", entry, str(spec), "--check"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("block", list(RAISED))
def test_a_plugin_raising_a_base_exception_is_e114(site: Path, tmp_path: Path, block: str) -> None:
    run = compile_cli(site, tmp_path, block)
    shown = run.stdout + run.stderr
    assert run.returncode == 1, shown
    assert f"error[E114]: plug-in block `{block}` failed at node `n0`: its `infer` raised {RAISED[block]}" in shown
    assert "Traceback" not in shown


def test_a_plugin_raising_keyboard_interrupt_on_the_main_thread_stops_the_command(site: Path, tmp_path: Path) -> None:
    run = compile_cli(site, tmp_path, "p_kbint")
    assert run.returncode == 130, run.stdout + run.stderr
    assert run.stderr.strip() == "vibench-compile: interrupted; no file written"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(("block", "status", "said"), [("p_sigint", 130, "interrupted"),
                                                       ("p_sigterm", 143, "terminated")])
def test_a_signal_while_a_plugin_runs_stops_the_command(site: Path, tmp_path: Path, block: str, status: int,
                                                        said: str) -> None:
    """Ctrl-C and SIGTERM while the plug-in's `infer` runs stop the command (SIGTERM was turned into E114)."""
    run = compile_cli(site, tmp_path, block)
    assert run.returncode == status, run.stdout + run.stderr
    assert run.stderr.strip() == f"vibench-compile: {said}; no file written" and "E114" not in run.stdout


def test_off_the_main_thread_a_keyboard_interrupt_is_the_plugins_failure(site: Path, tmp_path: Path) -> None:
    """No signal reaches a worker thread: there KeyboardInterrupt is E114; on the main thread it goes on."""
    run = run_python(f"""
        import threading
        import vibench

        text = {spec_text("p_kbint", shape="[B, 4, L]")!r}
        found = []

        def check():
            try:
                vibench.check(text=text)
            except vibench.SpecError as err:
                found.extend(d.code for d in err.diagnostics)

        worker = threading.Thread(target=check)
        worker.start()
        worker.join()
        print(found)
        try:
            vibench.check(text=text)
        except KeyboardInterrupt:
            print("interrupted")
    """, [site], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split("\n")[:2] == ["['E114']", "interrupted"]


def test_a_base_exception_raised_by_a_plugins_import_is_w120(tmp_path: Path) -> None:
    """The plug-in's own BaseException at import is its failure to load (W120), as an ImportError is: the other
    blocks stay available and the spec's own error is reported (it ended the command with exit 3)."""
    site = tmp_path / "site"
    source = "class Boom(BaseException):\n    pass\n\n\nraise Boom('at import')\n"
    install(site, "p_import", {"p_import/__init__.py": source}, ["imported = p_import"])
    run = compile_cli(site, tmp_path, "p_missing")  # a block not built in: the plug-ins are loaded
    shown = run.stdout + run.stderr
    assert run.returncode == 1 and "error[E110]" in shown and "Traceback" not in shown, shown
    listed = run_python("""
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
    """, [site], tmp_path)
    assert listed.returncode == 0 and "conv1d" in listed.stdout, listed.stderr[-3000:]
    assert "warning[W120]: block plug-in `imported = p_import`" in listed.stderr, listed.stderr[-3000:]
    assert "Boom: at import" in listed.stderr and "Traceback" not in listed.stderr


def test_a_keyboard_interrupt_in_a_plugins_import_stops_the_command(tmp_path: Path) -> None:
    """On the main thread a KeyboardInterrupt while a plug-in imports is a Ctrl-C: exit 130, one line."""
    site = tmp_path / "site"
    install(site, "p_import", {"p_import/__init__.py": "raise KeyboardInterrupt\n"}, ["imported = p_import"])
    run = compile_cli(site, tmp_path, "p_missing")
    assert run.returncode == 130, run.stdout + run.stderr
    assert run.stderr.strip() == "vibench-compile: interrupted; no file written"
