"""vibench.build's cache folder after damage and killed writes: a damaged entry is a miss (compiled
again and replaced), never an exception and never another object; the temporary files of writes
killed midway do not stay forever. (Damage that tests/test_cache_validity.py already covers: a
truncated module, a record of the wrong shape.) Each case a defect a probe found: a record nested
too deep raised RecursionError, one naming ``OrderedDict`` made build return an OrderedDict, and
``.tmp-*`` files of SIGKILLed builds were never removed, not even by ``vibench.clear_cache()``."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import vibench
from tests.test_build_cache import SPEC
from vibench.runtime import cache, cache_folder

SMALL_RESNET = {"initial_channels": 4, "layers": [1, 1, 1, 1]}


def _forget(name: str) -> None:
    """What a new process would know of the cache: nothing in memory, the module not imported."""
    cache._memory.clear()
    sys.modules.pop(name, None)


def _record(folder: Path, name: str) -> Path:
    return folder / (name.rsplit(".", 1)[1] + ".json")


def _rewrite(change: Callable[[dict], dict], recheck: bool) -> Callable[[Path], None]:
    """A record edited in place; ``recheck``: its ``check`` computed again, as a record that is wrong but
    whole (written so by a faulty writer) would have it."""
    def edit(record: Path) -> None:
        meta = change(json.loads(record.read_text()))
        if recheck:
            meta["check"] = cache._record_check(meta)
        record.write_text(json.dumps(meta))

    return edit


UNREADABLE = {
    "nested lists": lambda record: record.write_text("[" * 100_000),
    "nested objects": lambda record: record.write_text('{"a": ' * 100_000),
    "not UTF-8": lambda record: record.write_bytes(b'{"class": "\xff"}'),
    "a NUL in a file's path": _rewrite(lambda meta: {**meta, "files": {"/x\0y": "0" * 64}}, recheck=True),
    "edited, its check stale": _rewrite(lambda meta: {**meta, "vibench": "0.0.1"}, recheck=False),
}


@pytest.mark.parametrize("damage", sorted(UNREADABLE))
def test_a_record_that_cannot_be_read_is_a_miss(damage: str, folder: Path, compilations: list[str]) -> None:
    # RecursionError from json, ValueError from os.stat: vibench.build raised instead of compiling again.
    name = type(vibench.build(text=SPEC)).__module__
    UNREADABLE[damage](_record(folder, name))
    _forget(name)
    if damage.startswith("nested"):  # torch.load of a model saved whole imports the module by name
        with pytest.raises(ImportError, match="its record .* is missing or damaged"):
            importlib.import_module(name)
        _forget(name)
    model = vibench.build(text=SPEC)
    assert type(model).__module__ == name and model(torch.randn(1, 4, 8)).shape == (1, 8, 8)
    assert compilations == ["Cached", "Cached"]
    assert json.loads(_record(folder, name).read_text())["class"] == "Cached"  # replaced


@pytest.mark.parametrize(("named", "recheck"), [("OrderedDict", False), ("OrderedDict", True), ("BasicBlock", False)])
def test_a_record_naming_another_class_is_a_miss(named: str, recheck: bool, folder: Path,
                                                 compilations: list[str]) -> None:
    # The module imports OrderedDict: a record naming it made vibench.build return an OrderedDict.
    name = type(vibench.build("cnn/ResNet1D", **SMALL_RESNET)).__module__
    assert isinstance(getattr(sys.modules[name], named), type)
    _rewrite(lambda meta: {**meta, "class": named}, recheck)(_record(folder, name))
    _forget(name)
    model = vibench.build("cnn/ResNet1D", **SMALL_RESNET)
    assert type(model).__name__ == "ResNet1D" and type(model).__module__ == name
    assert compilations == ["ResNet1D", "ResNet1D"]
    assert json.loads(_record(folder, name).read_text())["class"] == "ResNet1D"


def test_the_class_must_be_a_module_defined_in_the_cached_module() -> None:
    module = types.ModuleType("vibench.models.m_0123")
    exec("import torch\nclass Model(torch.nn.Module):\n    pass\nclass Plain:\n    pass\n", module.__dict__)  # noqa: S102
    module.Linear = torch.nn.Linear  # type: ignore[attr-defined]
    assert cache._model_class(module, "Model")
    assert not any(cache._model_class(module, other) for other in ("Plain", "Linear", "torch", "Missing"))


# -- temporary files ---------------------------------------------------------------------------------


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_clear_cache_removes_the_temporary_files_of_killed_writes(folder: Path) -> None:
    # A build SIGKILLed between writing `.tmp-xxxx` and renaming it left the file there forever.
    vibench.build(text=SPEC)
    killed = folder / f"{cache_folder.TEMP_PREFIX}k1ll3d"
    killed.write_text("half a model")
    (folder / ".tmp-someone-elses").write_text("")  # a name vibench never writes: not its to remove
    vibench.clear_cache()
    assert _temporaries(folder) == [".tmp-someone-elses"]


def test_a_store_removes_temporary_files_older_than_an_hour(folder: Path) -> None:
    vibench.build(text=SPEC)
    old, live = folder / f"{cache_folder.TEMP_PREFIX}old", folder / f"{cache_folder.TEMP_PREFIX}live"
    old.write_text("killed two hours ago")
    live.write_text("another process's write in progress")
    hours_ago = time.time() - 2 * cache_folder.TEMP_MAX_AGE_S
    os.utime(old, (hours_ago, hours_ago))
    vibench.build(text=SPEC, width=16)  # a store
    assert _temporaries(folder) == [live.name]


def test_a_write_whose_temporary_file_vanished_keeps_the_model_in_memory(folder: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # clear_cache() in another process removed the temporary file this build was writing.
    real = os.replace

    def cleared_meanwhile(src: str, dst: str, **dir_fds: int) -> None:
        if os.path.basename(src).startswith(cache_folder.TEMP_PREFIX):
            os.unlink(src, dir_fd=dir_fds.get("src_dir_fd"))
        real(src, dst, **dir_fds)

    monkeypatch.setattr(cache_folder.os, "replace", cleared_meanwhile)
    for name in [name for name in sys.modules if name.startswith("vibench.models.m_")]:
        monkeypatch.delitem(sys.modules, name)  # a new process: the module of this code not imported yet
    model = vibench.build(text=SPEC)
    assert model(torch.randn(1, 4, 8)).shape == (1, 8, 8)
    assert sys.modules[type(model).__module__].__file__.startswith("<vibench:")  # kept in memory
    assert _temporaries(folder) == [] and not list(folder.glob("m_*.json"))
