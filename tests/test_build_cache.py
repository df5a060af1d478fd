"""vibench.build's cache of compiled models: a second build of the same spec compiles nothing, in
this process (memory) or another (the cache folder); a changed template is compiled again; models
saved whole load in another process; the folder keeps a bounded number of entries."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import vibench
from vibench.runtime import cache, cache_folder

ROOT = Path(__file__).resolve().parent.parent
SPEC = """vibench: 1
name: Cached
params: {width: {type: int, default: 8}}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: "${width}", kernel_size: 3, padding: 1}
outputs: {y: conv}
"""


def _run(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_a_second_build_compiles_nothing(folder: Path, compilations: list[str]) -> None:
    first = vibench.build(text=SPEC)
    second = vibench.build(text=SPEC)
    assert compilations == ["Cached"]
    assert type(first) is type(second)
    assert type(first).__module__.startswith("vibench.models.m_")
    assert (folder / (type(first).__module__.rsplit(".", 1)[1] + ".py")).is_file()


def test_other_parameters_are_another_entry(folder: Path, compilations: list[str]) -> None:
    narrow, wide = vibench.build(text=SPEC), vibench.build(text=SPEC, width=16)
    assert compilations == ["Cached", "Cached"]
    assert narrow.conv.out_channels == 8 and wide.conv.out_channels == 16


def test_threads_building_at_once_compile_each_spec_once(folder: Path, compilations: list[str]) -> None:
    """Twelve threads released together build three specs: each is compiled once and every build
    succeeds (without the cache's lock, threads compiled the same spec side by side, and one importing
    a module while another dropped it from sys.modules failed with importlib's KeyError)."""
    import threading

    widths = [4, 8, 16] * 4
    start = threading.Barrier(len(widths))
    built: dict[int, list[torch.nn.Module]] = {w: [] for w in widths}
    failures: list[BaseException] = []

    def build(width: int) -> None:
        start.wait()
        try:
            built[width].append(vibench.build(text=SPEC, width=width))
        except BaseException as err:  # noqa: BLE001 - reported below
            failures.append(err)

    threads = [threading.Thread(target=build, args=(w,)) for w in widths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(compilations) == ["Cached"] * 3
    for width, models in built.items():
        assert len({type(m) for m in models}) == 1 and models[0].conv.out_channels == width


def test_another_process_uses_the_cache_folder(folder: Path) -> None:
    vibench.build(text=SPEC)
    result = _run(f"""
        import vibench
        from vibench.compiler import pipeline
        def refuse(program, **options):
            raise AssertionError("compiled again")
        pipeline.compile_source = refuse
        model = vibench.build(text={SPEC!r})
        print(type(model).__module__)
    """, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith("vibench.models.m_")


def test_a_model_saved_whole_loads_in_another_process(folder: Path, tmp_path: Path) -> None:
    model = vibench.build(text=SPEC).eval()
    x = torch.randn(2, 4, 16)
    torch.save({"model": model, "x": x, "y": model(x).detach()}, tmp_path / "whole.pt")
    result = _run(f"""
        import torch
        saved = torch.load({str(tmp_path / "whole.pt")!r}, weights_only=False)
        print(bool(torch.equal(saved["model"](saved["x"]), saved["y"])))
    """, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "True"


def test_a_changed_template_is_compiled_again(folder: Path, compilations: list[str], tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(SPEC, encoding="utf-8")
    user = "vibench: 1\nname: User\nextends: base.yaml\nwith: {width: 4}\n"
    (tmp_path / "user.yaml").write_text(user, encoding="utf-8")
    vibench.build(str(tmp_path / "user.yaml"))
    vibench.build(str(tmp_path / "user.yaml"))
    assert len(compilations) == 1
    base.write_text(SPEC.replace("kernel_size: 3, padding: 1", "kernel_size: 5, padding: 2"), encoding="utf-8")
    cache._memory.clear()
    rebuilt = vibench.build(str(tmp_path / "user.yaml"))
    assert len(compilations) == 2
    assert rebuilt.conv.kernel_size == (5,)


def test_the_folder_keeps_the_most_recently_used_entries(folder: Path, compilations: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "3")
    stem = {}
    for width in (1, 2, 3):
        stem[width] = type(vibench.build(text=SPEC, width=width)).__module__.rsplit(".", 1)[1]
    for age, width in enumerate((1, 2, 3)):  # used in this order, width 1 first
        os.utime(folder / f"{stem[width]}.json", ns=(age + 1, age + 1))
    cache._memory.clear()
    vibench.build(text=SPEC, width=1)  # a hit: width 1 is now the most recently used
    assert len(compilations) == 3
    stem[4] = type(vibench.build(text=SPEC, width=4)).__module__.rsplit(".", 1)[1]
    kept = sorted(p.stem for p in folder.glob("m_*.json"))
    assert kept == sorted([stem[1], stem[3], stem[4]])
    assert sorted(p.stem for p in folder.glob("m_*.py")) == kept


def test_a_model_whose_file_was_evicted_still_scripts(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model built early in a sweep of more models than VIBENCH_CACHE_MAX kept running, but its
    file was gone: inspect.getsource and torch.jit.script (which reads the source) failed with
    "could not get source code". The source stays readable in the process that loaded it."""
    import inspect

    monkeypatch.setenv("VIBENCH_CACHE_MAX", "1")
    first = vibench.build(text=SPEC, width=5)
    vibench.build(text=SPEC, width=6)  # evicts the first model's files
    assert not Path(inspect.getfile(type(first))).exists()
    assert "class Cached" in inspect.getsource(type(first))
    x = torch.randn(2, 4, 16)
    torch.testing.assert_close(torch.jit.script(first.eval())(x), first(x))


def _planted(folder: Path, canary: Path) -> str:
    """Build once (an entry on disk), then forget it in this process and plant code in its module file,
    as another user who can write in the folder would. Returns the module's name."""
    name = type(vibench.build(text=SPEC)).__module__
    cache._memory.clear()
    sys.modules.pop(name, None)
    module = folder / (name.rsplit(".", 1)[1] + ".py")
    module.write_text(f"open({str(canary)!r}, 'w').close()\n" + module.read_text())
    return name


@pytest.mark.parametrize("how", ["writable by others", "another user's"])
def test_a_folder_another_user_can_write_is_never_imported_from(how: str, folder: Path, tmp_path: Path,
                                                                compilations: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache in a shared folder (VIBENCH_CACHE_DIR=/tmp/x, a group project folder) let anyone who can
    write there plant the module the next build imports. Such a folder is not used: the build compiles
    again and keeps the model in memory, with one warning naming the folder and why."""
    canary = tmp_path / "planted-code-ran"
    name = _planted(folder, canary)
    monkeypatch.setattr(cache_folder, "_warned", set())
    if how == "writable by others":
        folder.chmod(0o777)
        warning = "is writable by other users (mode 777; `chmod go-w` it)"
    else:
        real = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: real + 1)  # the folder is now someone else's
        warning = f"belongs to another user (uid {real})"
    with pytest.warns(RuntimeWarning, match=rf"in memory only: the cache folder .* {re.escape(warning)}"):
        model = vibench.build(text=SPEC)
    assert not canary.exists()
    assert compilations == ["Cached", "Cached"]  # compiled again, not read from the folder
    assert model.conv.out_channels == 8
    sys.modules.pop(name, None)
    with pytest.raises(ImportError, match=rf"vibench refuses to import {name}: the cache folder"):
        importlib.import_module(name)  # as torch.load of a model saved whole would
    assert not canary.exists()


def test_a_module_file_of_another_user_is_never_imported(folder: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    canary = tmp_path / "planted-code-ran"
    name = _planted(folder, canary)
    module = folder / (name.rsplit(".", 1)[1] + ".py")
    module.chmod(0o666)
    monkeypatch.setattr(cache_folder, "_warned", set())
    with pytest.raises(ImportError, match=r"the cached module .* is writable by other users"):
        importlib.import_module(name)
    assert not canary.exists()
    with pytest.warns(RuntimeWarning, match=rf"vibench refuses to import {name}: the cached module .* is writable by "
                      r"other users .*; vibench.build compiles it again"):
        model = vibench.build(text=SPEC)  # a refused entry is a miss: compiled again (said once)
    assert model.conv.out_channels == 8 and not canary.exists()


def test_the_cache_folder_is_created_private(folder: Path) -> None:
    old = os.umask(0o002)  # user-private-group systems: new folders are group-writable by default
    try:
        vibench.build(text=SPEC)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o700
