"""Whose code vibench.build's cache folder may run: the folder is opened once, without following a link
at its last part, and checked on that handle; the module and its record are opened relative to it,
checked on their own handles and read from them, and the module runs from the bytes read. Each case a
defect a QA probe found: the check was by path, once, and the files were read by path again, so anyone
who may rename entries in a folder above the cache swapped in a folder of their own between the check
and the read (it took 0.1 s); the folders above the cache were made 0775 under umask 002; a relative
``XDG_CACHE_HOME`` was used, and a relative ``VIBENCH_CACHE_DIR`` moved with ``os.chdir``. (The folder
of another user, or one others may write in: tests/test_build_cache.py.)"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vibench
from tests.test_build_cache import SPEC
from vibench import models
from vibench.runtime import cache, cache_folder


def _forget(name: str) -> None:
    """What a new process would know of the cache: nothing in memory, the module not imported."""
    cache._memory.clear()
    sys.modules.pop(name, None)


def _plant(where: Path, stem: str, canary: Path) -> None:
    """A module named ``stem`` that leaves ``canary`` when it runs, with a record naming its SHA-256: what
    someone else would put in a folder of their own to swap in for the cache folder."""
    where.mkdir(mode=0o700)
    planted = f"open({str(canary)!r}, 'w').close()\n"
    (where / f"{stem}.py").write_text(planted)
    (where / f"{stem}.json").write_text(json.dumps({"source": hashlib.sha256(planted.encode()).hexdigest()}))


def test_a_folder_swapped_after_its_check_is_not_read_from(folder: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap lands right after the cache folder was checked, the moment an attacker's rename loop
    wins: the module and its record must come from the folder that was checked, not from the path."""
    canary = tmp_path / "planted-code-ran"
    name = type(vibench.build(text=SPEC)).__module__
    stem = name.rsplit(".", 1)[1]
    _forget(name)
    evil = tmp_path / "evil"
    _plant(evil, stem, canary)
    checked = folder.stat()
    swapped: list[str] = []
    real_stat, real_fstat = os.stat, os.fstat

    def swap_after(result: os.stat_result) -> os.stat_result:
        if not swapped and (result.st_dev, result.st_ino) == (checked.st_dev, checked.st_ino):
            swapped.append("swapped")
            os.rename(folder, tmp_path / "aside")
            os.rename(evil, folder)
        return result

    with monkeypatch.context() as patch:
        patch.setattr(os, "stat", lambda path, *args, **kwargs: swap_after(real_stat(path, *args, **kwargs)))
        patch.setattr(os, "fstat", lambda fd: swap_after(real_fstat(fd)))
        try:
            module = importlib.import_module(name)  # as torch.load of a model saved whole would
        finally:
            sys.modules.pop(name, None)  # whatever ran, the next test imports the module again
    assert swapped == ["swapped"]
    assert not canary.exists()
    assert isinstance(getattr(module, "Cached", None), type)


def test_a_cache_folder_that_is_a_symbolic_link_is_not_used(folder: Path, tmp_path: Path, compilations: list[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Its last part is opened with O_NOFOLLOW: a link there could lead anywhere its maker chose."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    folder.symlink_to(target)
    monkeypatch.setattr(cache_folder, "_warned", set())
    with pytest.warns(RuntimeWarning, match=r"in memory only: the cache folder .* is a symbolic link"):
        model = vibench.build(text=SPEC)
    assert model.conv.out_channels == 8
    assert list(target.iterdir()) == []
    name = type(model).__module__
    sys.modules.pop(name, None)
    with pytest.raises(ImportError, match=rf"vibench refuses to import {name}: the cache folder .* symbolic link"):
        importlib.import_module(name)


def test_a_module_that_is_a_symbolic_link_is_not_imported(folder: Path, tmp_path: Path) -> None:
    name = type(vibench.build(text=SPEC)).__module__
    module = folder / (name.rsplit(".", 1)[1] + ".py")
    copy = tmp_path / "copy.py"
    copy.write_bytes(module.read_bytes())
    module.unlink()
    module.symlink_to(copy)
    _forget(name)
    with pytest.raises(ImportError, match=r"the cached module .* is a symbolic link"):
        importlib.import_module(name)


def test_the_folders_vibench_creates_above_the_cache_are_private(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """os.makedirs gives its mode to the last folder only: under umask 002 the cache home and `vibench`
    were created 0775, so another user of the group could rename `models` away and put theirs there."""
    (tmp_path / "there").mkdir(mode=0o755)
    home = tmp_path / "there" / "xdg"
    monkeypatch.delenv("VIBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(cache, "_memory", {})
    old = os.umask(0o002)
    try:
        vibench.build(text=SPEC)
    finally:
        os.umask(old)
    assert (home / "vibench" / "models").is_dir()
    for made in (home, home / "vibench", home / "vibench" / "models"):
        assert made.stat().st_mode & 0o777 == 0o700, made
    assert (tmp_path / "there").stat().st_mode & 0o777 == 0o755  # a folder that was there is left as it is


def test_where_links_cannot_be_refused_the_cache_stays_in_memory(folder: Path, compilations: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """On a platform without O_DIRECTORY, O_NOFOLLOW or open(dir_fd=...) (Windows) the folder is not
    used, silently: models stay in memory, importing a cache module by name finds nothing."""
    monkeypatch.setattr(models, "SAFE", False, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = vibench.build(text=SPEC)
        assert type(vibench.build(text=SPEC)) is type(model)
        vibench.clear_cache()
    assert compilations == ["Cached"]
    assert not folder.exists()
    name = type(model).__module__
    monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(name)


def test_a_relative_xdg_cache_home_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The XDG specification: a relative path in XDG_CACHE_HOME is invalid and is ignored."""
    monkeypatch.delenv("VIBENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.chdir(tmp_path)
    assert models.cache_dir() == str(tmp_path / "home" / ".cache" / "vibench" / "models")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == str(tmp_path / "xdg" / "vibench" / "models")


def test_a_relative_vibench_cache_dir_does_not_move_with_the_working_folder(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """VIBENCH_CACHE_DIR=cache named ./cache of each working folder: a chdir between a build and torch.load
    (or the next build) looked in another folder."""
    monkeypatch.setattr(models, "_named", {}, raising=False)
    monkeypatch.setenv("VIBENCH_CACHE_DIR", "cache")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert models.cache_dir() == str(tmp_path / "a" / "cache")
    monkeypatch.chdir(tmp_path / "b")
    assert models.cache_dir() == str(tmp_path / "a" / "cache")


# -- writes, eviction and marks of use go through the checked handle too --------------------------------
# A QA probe: the reads went through the checked handle, but the writes still went by path. With
# VIBENCH_CACHE_DIR=/tmp/x/models and /tmp/x another user's, they swapped in a folder of their own after
# the check and put a link under the temporary file's name: chmod followed it (a private file of the
# user's became 0644) and the rename put the link in place as m_*.py; eviction and clear_cache listed and
# removed vibench-named files of the swapped-in folder, and a hit's utime followed its links. Each test
# swaps the folder at the moment such an attacker would, right before the step that used the path.


@pytest.fixture
def swap(folder: Path, tmp_path: Path) -> Callable[[], Path]:
    """Swap in someone else's folder (writable by all) at the cache folder's path, once: the checked
    folder goes to the returned path. What a rename loop in a folder above the cache does when it wins."""
    theirs, aside = tmp_path / "theirs", tmp_path / "aside"
    theirs.mkdir()
    theirs.chmod(0o777)

    def swap_once() -> Path:
        if not aside.exists():
            os.rename(folder, aside)
            os.rename(theirs, folder)
        return aside

    return swap_once


def _private(tmp_path: Path) -> Path:
    """A file of the user's that nobody else may read, outside the cache: what the links lead to."""
    private = tmp_path / "private"
    private.write_text("secret")
    private.chmod(0o600)
    hours_ago = time.time() - 7200
    os.utime(private, (hours_ago, hours_ago))
    return private


def test_a_folder_swapped_before_a_write_gets_nothing_and_no_link_is_followed(
        folder: Path, tmp_path: Path, swap: Callable[[], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is swapped as a temporary file is created, and a link to a private file put under the
    temporary file's name: nothing is written into the swapped-in folder, the private file keeps its
    mode, and the entry lands in the folder that was checked."""
    private = _private(tmp_path)
    real_open = os.open

    def open_after_swap(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        name = os.path.basename(path)
        if not name.startswith(cache_folder.TEMP_PREFIX):
            return real_open(path, flags, mode, dir_fd=dir_fd)
        swap()
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        planted = folder / name  # the path names their folder now
        if planted.exists():
            planted.rename(folder / f"{name}.moved")
        planted.symlink_to(private)
        return fd

    with monkeypatch.context() as patch, warnings.catch_warnings():
        patch.setattr(os, "open", open_after_swap)
        warnings.simplefilter("ignore", RuntimeWarning)  # their folder is refused at the import: in memory
        model = vibench.build(text=SPEC)
    assert model.conv.out_channels == 8
    assert private.stat().st_mode & 0o777 == 0o600 and private.read_text() == "secret"
    theirs = sorted(path.name for path in folder.iterdir())
    assert theirs and all(name.startswith(cache_folder.TEMP_PREFIX) for name in theirs), theirs  # their links only
    assert all((folder / name).is_symlink() for name in theirs)
    stem = type(model).__module__.rsplit(".", 1)[1]
    aside = swap()
    written = sorted(path.name for path in aside.iterdir())
    assert written == sorted([f"{stem}.json", f"{stem}.py", *(n for n in written if n.startswith("k_"))])
    assert not any((aside / name).is_symlink() for name in written)
    assert (aside / f"{stem}.py").stat().st_mode & 0o777 == 0o644


def _vibench_named(where: Path) -> list[str]:
    """Files named as vibench names its own, old enough for eviction, in ``where``."""
    hours_ago = time.time() - 2 * cache_folder.TEMP_MAX_AGE_S
    names = [f"m_{'0' * 32}.json", f"m_{'0' * 32}.py", f"k_{'0' * 32}", f"{cache_folder.TEMP_PREFIX}old"]
    for name in names:
        (where / name).write_text("theirs")
        os.utime(where / name, (hours_ago, hours_ago))
    return sorted(names)


@pytest.mark.parametrize("step", ["eviction", "clear_cache"])
def test_a_folder_swapped_before_it_is_listed_loses_nothing(step: str, folder: Path, tmp_path: Path,
                                                            swap: Callable[[], Path],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is swapped as it is listed to evict (a store) or to empty (clear_cache): the files of
    the swapped-in folder named like vibench's are not removed; the folder that was checked is cleaned."""
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "1")
    first = type(vibench.build(text=SPEC)).__module__.rsplit(".", 1)[1]
    theirs = _vibench_named(tmp_path / "theirs")
    real_scandir = os.scandir

    def scandir_after_swap(path: Any = ".") -> Any:
        if isinstance(path, int) or os.fspath(path) == str(folder):
            swap()
        return real_scandir(path)

    with monkeypatch.context() as patch, warnings.catch_warnings():
        patch.setattr(os, "scandir", scandir_after_swap)
        warnings.simplefilter("ignore", RuntimeWarning)  # their folder is refused at the import: in memory
        if step == "eviction":
            vibench.build(text=SPEC, width=16)
        else:
            vibench.clear_cache()
    assert sorted(path.name for path in folder.iterdir()) == theirs
    aside = swap()
    assert not (aside / f"{first}.json").exists()  # evicted (one entry kept) or cleared, in the checked folder


def test_a_folder_swapped_before_a_hit_marks_its_entry_touches_nothing_outside(
        folder: Path, tmp_path: Path, swap: Callable[[], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A hit in the folder marks its record and index used: swapped before that, with links under their
    names, the link is not followed (the private file keeps its time) and the checked folder's entry is
    marked."""
    private = _private(tmp_path)
    name = type(vibench.build(text=SPEC)).__module__
    stem = name.rsplit(".", 1)[1]
    (index,) = [path.name for path in folder.iterdir() if path.name.startswith("k_")]
    for planted in (f"{stem}.json", index):
        (tmp_path / "theirs" / planted).symlink_to(private)
    hours_ago = time.time() - 7200
    for used in (f"{stem}.json", index):
        os.utime(folder / used, (hours_ago, hours_ago))
    before = private.stat().st_mtime_ns
    _forget(name)
    real_utime = os.utime

    def utime_after_swap(path: Any, *args: Any, **kwargs: Any) -> None:
        if os.path.basename(os.fspath(path)).startswith(("m_", "k_")):
            swap()
        real_utime(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "utime", utime_after_swap)
        model = vibench.build(text=SPEC)
    assert type(model).__module__ == name  # a hit
    assert private.stat().st_mtime_ns == before
    assert all((folder / planted).is_symlink() for planted in (f"{stem}.json", index))
    aside = swap()
    assert (aside / f"{stem}.json").stat().st_mtime > hours_ago + 3600  # the checked folder's entry is marked
