"""vibench.build's cache when something changes between two of its steps: another process removes an
entry between finding and reading it, or right after importing it; a vibench file is edited after the
process imported vibench; a write dies between a module and its record. Each case a defect a QA probe
found: build raised FileNotFoundError; a model whose file went right after its import could not be
scripted; a model compiled by the code the process had loaded was stored under the key of the edited
files, and the next process took it for the edited compiler's; modules without a record stayed forever.
Each race is made to happen, at a chosen step, never waited for."""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import vibench
from tests.test_build_cache import SPEC
from vibench import models
from vibench.runtime import cache, cache_deps, cache_folder

ROOT = Path(__file__).resolve().parent.parent


def _forget(name: str) -> None:
    """What a new process would know of the cache: nothing in memory, the module not imported."""
    cache._memory.clear()
    sys.modules.pop(name, None)


@pytest.fixture
def fresh_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process: no cache module imported yet (the same code built by an earlier test is not reused)."""
    for name in [name for name in sys.modules if name.startswith("vibench.models.m_")]:
        monkeypatch.delitem(sys.modules, name)


@pytest.mark.parametrize("step", ["a hit in the folder", "a store"])
def test_an_entry_removed_after_it_was_found_builds(step: str, folder: Path, compilations: list[str],
                                                    fresh_modules: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's clear_cache() or eviction lands after the finder found the module: build raised
    FileNotFoundError (the loader read the file by path again). The bytes read and checked are run."""
    if step == "a hit in the folder":
        name = type(vibench.build(text=SPEC)).__module__
        _forget(name)
    real = models._CacheFinder.find_spec.__func__  # type: ignore[attr-defined]

    def find_then_remove(cls: type, fullname: str, path: object = None, target: object = None) -> object:
        spec = real(cls, fullname, path, target)
        if spec is not None:
            for ext in (".py", ".json"):
                os.unlink(os.path.splitext(spec.origin)[0] + ext)
        return spec

    monkeypatch.setattr(models._CacheFinder, "find_spec", classmethod(find_then_remove))
    model = vibench.build(text=SPEC)
    assert model.conv.out_channels == 8 and model(torch.randn(1, 4, 8)).shape == (1, 8, 8)
    assert compilations == ["Cached"]
    assert "class Cached" in inspect.getsource(type(model))


@pytest.mark.parametrize("step", ["a hit in the folder", "a store"])
def test_a_module_removed_right_after_its_import_still_scripts(step: str, folder: Path, fresh_modules: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The source kept for inspect and torch.jit.script was read from the file again after the import:
    removed meanwhile, nothing was kept ("could not get source code"). The bytes the loader ran are."""
    if step == "a hit in the folder":
        _forget(type(vibench.build(text=SPEC, width=6)).__module__)
    real = importlib.import_module

    def import_then_remove(name: str, package: str | None = None) -> object:
        module = real(name, package)
        if name.startswith("vibench.models.m_"):
            os.unlink(module.__file__)  # type: ignore[arg-type]
        return module

    monkeypatch.setattr(importlib, "import_module", import_then_remove)
    model = vibench.build(text=SPEC, width=6).eval()
    assert not Path(inspect.getfile(type(model))).exists()
    assert "class Cached" in inspect.getsource(type(model))
    x = torch.randn(2, 4, 16)
    torch.testing.assert_close(torch.jit.script(model)(x), model(x))


def test_a_module_whose_record_was_never_written_is_removed(folder: Path) -> None:
    """A write that failed (no space left) or was killed between the module and its record left the
    module: eviction counted records only, so it stayed forever. Removed once older than an hour (a
    younger one may be another process's store in progress)."""
    vibench.build(text=SPEC)
    old, young = folder / f"m_{'0' * 32}.py", folder / f"m_{'1' * 32}.py"
    old.write_text("killed before its record\n")
    young.write_text("another process's store in progress\n")
    hours_ago = time.time() - 2 * cache_folder.TEMP_MAX_AGE_S
    os.utime(old, (hours_ago, hours_ago))
    vibench.build(text=SPEC, width=16)  # a store
    assert not old.exists() and young.exists()
    assert len(list(folder.glob("m_*.json"))) == 2


EDITED = """
import inspect, pathlib, sys, vibench
from vibench.api import _TINY
vibench.compile_spec(text=_TINY)  # the compiler in use: its modules imported (a notebook that checked specs)
if sys.argv[1:] == ["edit"]:  # a developer edits the compiler now
    path = pathlib.Path(vibench.__file__).parent / "compiler" / "codegen" / "support.py"
    text = path.read_text()
    old = next(line for line in text.splitlines() if line.startswith("def _require("))
    path.write_text(text.replace(old, old + "  # EDITED", 1))
model = vibench.build(text=_TINY)
print("EDITED" in inspect.getsource(sys.modules[type(model).__module__]))
"""


def test_a_compiler_edited_after_the_import_is_not_stored_as_the_edited_one(tmp_path: Path, folder: Path) -> None:
    """The installation digest was taken at the first build, from the files: a compiler module edited
    between the import and that build was keyed as edited while the process ran the one it had loaded,
    and the next process built that old model from the folder. A process whose vibench files changed
    since it imported vibench keeps its models in memory."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "vibench", copy / "vibench", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": str(copy)}

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(EDITED), *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()

    assert run("edit") == "False"  # this process runs the code it loaded...
    assert not list(folder.glob("m_*.json"))  # ...and writes no entry under the edited files' key
    assert run() == "True"  # the next process: the edited compiler's model


def test_the_installation_counts_as_loaded_until_a_file_changes(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule itself: a vibench file a compilation runs whose change time is within SETTLE_NS of the
    import, or after it, turns the folder off for the process (file times lag the clock by up to a tick);
    the language server's files, vibench.testing's and the templates (.yaml, hashed in each entry) do not."""
    newest = max(st.st_ctime_ns for path, st in cache._sources()
                 if not path.endswith(".yaml") and not path.startswith(cache._NEVER_RUN))
    monkeypatch.setattr(cache, "_changed", [], raising=False)
    monkeypatch.setattr(vibench, "_LOADED_NS", newest + cache_deps.SETTLE_NS + 1, raising=False)
    vibench.build(text=SPEC, width=3)
    assert len(list(folder.glob("m_*.json"))) == 1
    monkeypatch.setattr(vibench, "_LOADED_NS", newest + cache_deps.SETTLE_NS, raising=False)
    model = vibench.build(text=SPEC, width=4)
    assert model.conv.out_channels == 4 and len(list(folder.glob("m_*.json"))) == 1
