"""vibench.build's cache folder, three defects a QA pass found on 12-07: a damaged entry larger than vibench ever
writes was read whole (``truncate -s 1G`` on an index: 1.3 GB to take its 64 bytes); ``VIBENCH_CACHE=0``, documented
to leave the folder unused, still imported a model's module from it when a model saved whole was loaded; and a folder
that cannot be created (a folder above it is a file) or an index that is a folder kept every model in memory,
compiled again in each process, without a word."""

from __future__ import annotations

import importlib
import io
import os
import sys
import tracemalloc
import warnings
from pathlib import Path

import pytest
import torch

import vibench
from tests.test_build_cache import SPEC
from vibench import models
from vibench.runtime import cache, cache_folder

LIMIT = getattr(models, "MAX_FILE_BYTES", 64 * 1024 * 1024)


@pytest.fixture(autouse=True)
def _writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store writes to the folder (another engineer's edit of a vibench file would keep this process's models
    in memory), and each test hears the folder's warnings afresh."""
    monkeypatch.setattr(cache, "installation_as_loaded", lambda: True)
    monkeypatch.setattr(cache_folder, "_warned", set())
    monkeypatch.delenv("VIBENCH_CACHE", raising=False)


def _entry(folder: Path) -> tuple[str, Path, Path, Path]:
    """A fresh entry's module name, module, record and index, the module no longer imported (a new process)."""
    name = type(vibench.build(text=SPEC)).__module__
    stem = name.rsplit(".", 1)[1]
    (index,) = folder.glob("k_*")
    cache._memory.clear()
    sys.modules.pop(name, None)
    return name, folder / f"{stem}.py", folder / f"{stem}.json", index


@pytest.mark.parametrize("part", ["index", "record"])
def test_an_index_or_record_larger_than_vibench_writes_is_a_miss(part: str, folder: Path,
                                                                  compilations: list[str]) -> None:
    """Padded with blanks past the bound, the file still reads as it did (the index's first 64 bytes, a record's
    JSON with trailing blanks): read whole, it was a hit. Refused by its size, unread, it is a miss, compiled again
    and replaced."""
    name, _, record, index = _entry(folder)
    damaged = index if part == "index" else record
    with damaged.open("ab") as fh:
        fh.write(b" " * LIMIT)
    model = vibench.build(text=SPEC)
    assert compilations == ["Cached", "Cached"]
    assert type(model).__module__ == name and model.conv.out_channels == 8
    assert damaged.stat().st_size < 4096  # replaced by the new entry


def test_a_module_larger_than_vibench_writes_is_refused_unread(folder: Path, compilations: list[str]) -> None:
    """A 1 GiB sparse module: refused by its size on its handle, never read (the import allocates nothing near the
    bound; it read the whole file), so torch.load of a model saved whole says why, and a build compiles again."""
    name, module, _, _ = _entry(folder)
    os.truncate(module, LIMIT + 1)
    tracemalloc.start()
    try:
        with pytest.raises(ImportError, match=rf"vibench refuses to import {name}: .*m_.*\.py holds more than the "
                           r"[\d,]+ bytes vibench writes there \(damaged\); vibench.build compiles it again"):
            importlib.import_module(name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < LIMIT // 16
    assert name not in sys.modules
    assert vibench.build(text=SPEC).conv.out_channels == 8
    assert compilations == ["Cached", "Cached"] and module.stat().st_size < LIMIT


def test_read_refuses_by_size_on_the_handle(folder: Path) -> None:
    _, module, _, _ = _entry(folder)
    os.truncate(module, 1 << 30)
    with models.opened(str(folder)) as handle:
        with pytest.raises(models.TooLarge, match=r"holds more than the 64 bytes vibench writes there"):
            models.read(handle, str(folder), module.name, 64)
        with pytest.raises(models.TooLarge):
            models.read(handle, str(folder), module.name)


def test_the_writer_keeps_to_the_bound_its_readers_take(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound holds because the writer keeps to it: a model whose module would be larger is kept in memory (said
    once), never written to be refused at the next read."""
    monkeypatch.setattr(models, "MAX_FILE_BYTES", 200)
    with pytest.warns(RuntimeWarning, match=r"in memory only: the cache folder .* cannot be written \(m_\w+\.py would "
                      r"hold [\d,]+ bytes, more than a cache file may \(200\)\)"):
        model = vibench.build(text=SPEC)
    assert model.conv.out_channels == 8
    assert not list(folder.glob("m_*")) and not list(folder.glob("k_*"))


@pytest.mark.parametrize("value", ["0", "off"])
def test_a_cache_turned_off_imports_nothing_from_the_folder(value: str, folder: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A model saved whole while the cache was on names its module in the folder; loaded with the cache off (a
    hermetic run), that module is not imported: an ImportError says why and what to do instead."""
    buffer = io.BytesIO()
    torch.save(vibench.build(text=SPEC), buffer)
    name, module, _, _ = _entry(folder)
    assert module.is_file()
    monkeypatch.setenv("VIBENCH_CACHE", value)
    buffer.seek(0)
    with pytest.raises(ImportError, match=rf"vibench does not import {name} from the cache folder .*: "
                       rf"VIBENCH_CACHE={value} turned the folder off; unset VIBENCH_CACHE to load a model saved "
                       r"whole, or save and load its state_dict\(\)"):
        torch.load(buffer, weights_only=False)
    assert name not in sys.modules
    monkeypatch.delenv("VIBENCH_CACHE")
    buffer.seek(0)
    assert type(torch.load(buffer, weights_only=False)).__module__ == name  # on again: it loads


def test_a_folder_that_cannot_be_created_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      compilations: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("VIBENCH_CACHE_DIR", str(blocker / "models"))
    monkeypatch.setattr(cache, "_memory", {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for width in (3, 4, 5):
            assert vibench.build(text=SPEC, width=width).conv.out_channels == width
    assert [str(w.message) for w in caught] == [
        f"vibench keeps compiled models in memory only: the cache folder {blocker / 'models'} cannot be created "
        f"(Not a directory: {blocker / 'models'})"]
    assert caught[0].category is RuntimeWarning and caught[0].filename == __file__
    assert compilations == ["Cached"] * 3


def test_an_index_that_is_a_folder_is_said_once(folder: Path, compilations: list[str]) -> None:
    """The index cannot be written over a folder: every process compiled the spec again and stored nothing."""
    _, _, _, index = _entry(folder)
    index.unlink()
    index.mkdir()
    (index / "inside").write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            cache._memory.clear()  # a new process each time
            assert vibench.build(text=SPEC).conv.out_channels == 8
    assert [str(w.message) for w in caught] == [
        f"vibench keeps compiled models in memory only: the cache folder {folder} cannot be written "
        f"(Is a directory: {index})"]
    assert compilations == ["Cached"] * 3 and index.is_dir()


@pytest.mark.parametrize("value", ["0", "OFF", "False", "NO", " 0", "0 ", "off\n"])
def test_any_spelling_of_off_turns_the_folder_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from vibench.models import folder_on

    monkeypatch.setenv("VIBENCH_CACHE", value)
    assert not folder_on()


@pytest.mark.parametrize("value", ["", "1", "on", "yes", "true"])
def test_other_values_leave_the_folder_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from vibench.models import folder_on

    monkeypatch.setenv("VIBENCH_CACHE", value)
    assert folder_on()
