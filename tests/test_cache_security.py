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
import warnings
from pathlib import Path

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
