"""When vibench.build's cache may hand back a model: only while everything the compilation depended on
is unchanged (files read, template lookups, plug-in sources), from memory as from the folder; a
damaged entry is a miss; cache modules never run bytecode; the folder holds no stale .pyc.
(The basics, a second build compiling nothing and the folder's trust, are tests/test_build_cache.py.)"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import py_compile
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import vibench
from tests.test_build_cache import SPEC
from vibench.runtime import cache, cache_deps

ROOT = Path(__file__).resolve().parent.parent
USER = "vibench: 1\nname: User\nextends: base\n"


def _base(width: int) -> str:
    return SPEC.replace("default: 8", f"default: {width}")


def _forget(name: str) -> None:
    """What a new process would know of the cache: nothing in memory, the module not imported."""
    cache._memory.clear()
    sys.modules.pop(name, None)


@pytest.mark.parametrize("cache_on", ["1", "0"])
def test_an_edited_template_is_compiled_again_in_the_same_process(cache_on: str, folder: Path, tmp_path: Path,
                                                                  compilations: list[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A hit in memory was never checked: the model of the template as it was came back (check said 16
    channels, build gave 8). The edit keeps the file's size and modification time: the stat alone
    cannot tell, so a file changed this recently is hashed. With VIBENCH_CACHE=0 the module of the
    first compilation was reused by name."""
    monkeypatch.setenv("VIBENCH_CACHE", cache_on)
    base = tmp_path / "base.yaml"
    base.write_text(_base(8), encoding="utf-8")
    (tmp_path / "user.yaml").write_text(USER, encoding="utf-8")
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 8
    before = base.stat()
    base.write_text(_base(9), encoding="utf-8")
    os.utime(base, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 9
    base.write_text(_base(16), encoding="utf-8")
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 16
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 16
    assert len(compilations) == 3


def test_a_hit_in_memory_hashes_only_files_whose_stat_changed(folder: Path, tmp_path: Path, compilations: list[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_deps, "SETTLE_NS", -(10**18))  # every file's times count as settled
    hashed: list[str] = []
    real = cache_deps._file_hash
    monkeypatch.setattr(cache_deps, "_file_hash", lambda path: hashed.append(path) or real(path))
    base = tmp_path / "base.yaml"
    base.write_text(_base(8), encoding="utf-8")
    (tmp_path / "user.yaml").write_text(USER, encoding="utf-8")
    vibench.build(str(tmp_path / "user.yaml"))
    hashed.clear()
    for _ in range(3):
        vibench.build(str(tmp_path / "user.yaml"))
    assert hashed == []
    base.write_text(_base(9), encoding="utf-8")
    os.utime(base, ns=(1, 1))  # a stat that differs whatever the clock's resolution
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 9
    assert len(compilations) == 2


def test_a_module_rewritten_within_one_second_at_the_same_size_runs_its_new_code(
        folder: Path, tmp_path: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's timestamp .pyc is valid while the source keeps its whole-second time and size: an entry
    compiled again (its template changed) and rewritten within that second ran the old bytecode. The
    .pyc here is the one an import with bytecode writing on leaves; the rewrite gets the old time back."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # only the .pyc planted below exists
    base = tmp_path / "base.yaml"
    base.write_text(_base(8), encoding="utf-8")
    (tmp_path / "user.yaml").write_text(USER, encoding="utf-8")
    name = type(vibench.build(str(tmp_path / "user.yaml"))).__module__
    module = folder / (name.rsplit(".", 1)[1] + ".py")
    py_compile.compile(str(module), importlib.util.cache_from_source(str(module)),
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    first = module.stat()
    base.write_text(_base(9), encoding="utf-8")
    _forget(name)
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 9
    assert module.stat().st_size == first.st_size  # the case: same size...
    os.utime(module, ns=(first.st_atime_ns, first.st_mtime_ns))  # ...and the same second
    _forget(name)
    assert vibench.build(str(tmp_path / "user.yaml")).conv.out_channels == 9
    assert len(compilations) == 2


@pytest.mark.parametrize("cache_on", ["1", "0"])
@pytest.mark.parametrize("how", ["text", "file"])
def test_a_relative_search_path_is_the_folder_it_names_from_here(how: str, cache_on: str, folder: Path,
                                                                 tmp_path: Path, compilations: list[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """search_path=["lib"] from two working folders names two folders; the key held the string."""
    monkeypatch.setenv("VIBENCH_CACHE", cache_on)
    for where, width in (("w1", 5), ("w2", 7)):
        (tmp_path / where / "lib").mkdir(parents=True)
        (tmp_path / where / "lib" / "base.yaml").write_text(_base(width), encoding="utf-8")
    (tmp_path / "user.yaml").write_text(USER, encoding="utf-8")
    spec, text = (None, USER) if how == "text" else (str(tmp_path / "user.yaml"), None)
    monkeypatch.chdir(tmp_path / "w1")
    assert vibench.build(spec, text=text, search_path=["lib"]).conv.out_channels == 5
    monkeypatch.chdir(tmp_path / "w2")
    assert vibench.build(spec, text=text, search_path=["lib"]).conv.out_channels == 7
    monkeypatch.chdir(tmp_path / "w1")
    assert vibench.build(spec, text=text, search_path=["lib"]).conv.out_channels == 5
    assert len(compilations) == 2


def test_a_spec_reached_through_a_symlink_extends_from_its_real_folder(folder: Path, tmp_path: Path) -> None:
    """`extends: base` is looked up beside the file that writes it, its real path, however it is reached (1207c:
    beside the link, one file gave two models); the cache, keyed on the real path, agrees."""
    for where, width in (("d1", 5), ("d2", 7)):
        (tmp_path / where).mkdir()
        (tmp_path / where / "base.yaml").write_text(_base(width), encoding="utf-8")
    (tmp_path / "d1" / "user.yaml").write_text(USER, encoding="utf-8")
    (tmp_path / "d2" / "user.yaml").symlink_to(tmp_path / "d1" / "user.yaml")
    assert vibench.build(str(tmp_path / "d2" / "user.yaml")).conv.out_channels == 5
    assert vibench.build(str(tmp_path / "d1" / "user.yaml")).conv.out_channels == 5
    _forget(type(vibench.build(str(tmp_path / "d1" / "user.yaml"))).__module__)
    assert vibench.build(str(tmp_path / "d2" / "user.yaml")).conv.out_channels == 5


@pytest.mark.parametrize("where", ["memory", "folder"])
def test_a_template_created_earlier_on_the_search_path_is_used(where: str, folder: Path, tmp_path: Path,
                                                               compilations: list[str]) -> None:
    """`extends: base` found B/base.yaml; A/base.yaml, created later, comes first on the search path and is
    what a compilation now takes (check says so), so the entry of B's is stale."""
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    (tmp_path / "B" / "base.yaml").write_text(_base(5), encoding="utf-8")
    (tmp_path / "user.yaml").write_text(USER, encoding="utf-8")
    search = [str(tmp_path / "A"), str(tmp_path / "B")]
    name = type(vibench.build(str(tmp_path / "user.yaml"), search_path=search)).__module__
    (tmp_path / "A" / "base.yaml").write_text(_base(3), encoding="utf-8")
    if where == "folder":
        _forget(name)
    assert vibench.build(str(tmp_path / "user.yaml"), search_path=search).conv.out_channels == 3
    _forget(name)
    assert vibench.build(str(tmp_path / "user.yaml"), search_path=search).conv.out_channels == 3
    assert len(compilations) == 2  # the last build: the new entry, from the folder


def _point(link: Path, target: str) -> None:
    """Point the symbolic link ``link`` at ``target``, at once (as `ln -sfn` does)."""
    fresh = link.with_name(link.name + ".new")
    fresh.symlink_to(target)
    os.replace(fresh, link)


@pytest.mark.parametrize("where", ["memory", "folder"])
@pytest.mark.parametrize("link", ["the template", "its folder on the search path"])
def test_a_template_reached_through_a_link_pointed_elsewhere_is_compiled_again(
        link: str, where: str, folder: Path, tmp_path: Path, compilations: list[str]) -> None:
    """The record held the real path a lookup read, not the path it took: a link pointed at another
    template (base.yaml -> v2.yaml; lib/fam -> fam_v2) left the recorded file unchanged, and the model of
    the old template came back. A lookup records where it went; another resolution is another template."""
    for version, width in (("v1", 5), ("v2", 7)):
        (tmp_path / "lib" / f"fam_{version}").mkdir(parents=True)
        (tmp_path / "lib" / f"fam_{version}" / "Base.yaml").write_text(_base(width), encoding="utf-8")
        (tmp_path / f"{version}.yaml").write_text(_base(width), encoding="utf-8")
    if link == "the template":
        moved, search, user = tmp_path / "base.yaml", None, USER
    else:
        moved, search, user = tmp_path / "lib" / "fam", [str(tmp_path / "lib")], USER.replace("base", "fam/Base")
    target = "v{}.yaml" if link == "the template" else "fam_v{}"
    moved.symlink_to(target.format(1))
    (tmp_path / "user.yaml").write_text(user, encoding="utf-8")
    name = type(vibench.build(str(tmp_path / "user.yaml"), search_path=search)).__module__
    assert vibench.build(str(tmp_path / "user.yaml"), search_path=search).conv.out_channels == 5
    _point(moved, target.format(2))
    if where == "folder":
        _forget(name)
    assert vibench.build(str(tmp_path / "user.yaml"), search_path=search).conv.out_channels == 7
    _forget(name)
    assert vibench.build(str(tmp_path / "user.yaml"), search_path=search).conv.out_channels == 7
    assert len(compilations) == 2  # the last build: the new entry, from the folder


def _run(code: str, folder: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_an_edited_plugin_block_is_compiled_again(folder: Path, tmp_path: Path) -> None:
    """The key covers vibench's own files only: a plug-in's edited block gave the old model, in the next
    process (here its native's scale changed) as in this one after a reload (its `levels` default: the
    compiler keeps a native's source per file for the process, so a native edited there is not seen)."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "examples" / "plugin" / "vibench_haar", site / "vibench_haar")
    info = site / "vibench_haar-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vibench-haar\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[vibench.blocks]\nhaar_dwt = vibench_haar.haar\n")
    plugin = site / "vibench_haar" / "haar.py"
    spec = ("vibench: 1\nname: H\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  h: {block: haar_dwt, in: x}\n"
            "outputs: {y: h}\n")
    build = f"""
        import importlib, pathlib, sys, torch, vibench
        def run():
            return vibench.build(text={spec!r})(torch.ones(1, 1, 4))
        print(round(run().flatten()[0].item(), 4))
        if sys.argv[1:] == ["edit"]:
            path = pathlib.Path({str(plugin)!r})
            path.write_text(path.read_text().replace("Field(1, ge=1", "Field(2, ge=1"))
            importlib.reload(importlib.import_module("vibench_haar.haar"))
            print(tuple(run().shape))
    """
    run = _run(build, folder, site)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["1.4142"]
    plugin.write_text(plugin.read_text().replace("0.7071067811865476", "0.5"))
    run = _run(build, folder, site)  # the next process: the entry in the folder is stale
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["1.0"]
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(build), "edit"], capture_output=True, text=True,
                         env={**os.environ, "VIBENCH_CACHE_DIR": str(folder),
                              "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == ["1.0", "(1, 3, 1)"]  # this process: the entry in memory is stale


def _cut_module(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: next(i for i, line in enumerate(lines) if line.startswith("class Cached"))]))


def _edit_record(change):  # type: ignore[no-untyped-def]
    def edit(path: Path) -> None:
        record = path.with_suffix(".json")
        record.write_text(json.dumps(change(json.loads(record.read_text()))))

    return edit


DAMAGE = {
    "module emptied": lambda path: path.write_text(""),
    "module cut at a line": _cut_module,
    "module cut mid-line": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "record without class": _edit_record(lambda meta: {k: v for k, v in meta.items() if k != "class"}),
    "record naming another class": _edit_record(lambda meta: {**meta, "class": "Other"}),
    "record with class null": _edit_record(lambda meta: {**meta, "class": None}),
    "record with files a list": _edit_record(lambda meta: {**meta, "files": list(meta.get("files", {}))}),
    "record with a file's hash a number": _edit_record(lambda meta: {**meta, "files": {"/x": 1}}),
    "record a list": _edit_record(lambda meta: [meta]),
    "record not JSON": lambda path: path.with_suffix(".json").write_text("{"),
    "record emptied": lambda path: path.with_suffix(".json").write_text(""),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_entry_is_compiled_again_and_replaced(damage: str, folder: Path, compilations: list[str]) -> None:
    """A module truncated to nothing or at a line boundary imported without its class (AttributeError at
    every build); a record without "class", or with "files" as a list, raised. Each is a miss."""
    name = type(vibench.build(text=SPEC)).__module__
    DAMAGE[damage](folder / (name.rsplit(".", 1)[1] + ".py"))
    _forget(name)
    model = vibench.build(text=SPEC)
    assert model.conv.out_channels == 8 and type(model).__module__ == name
    assert model(torch.randn(1, 4, 8)).shape == (1, 8, 8)
    _forget(name)
    vibench.build(text=SPEC)  # the entry was replaced: the next process uses it
    assert compilations == ["Cached", "Cached"]


def _plant_bytecode(module: Path, canary: Path) -> None:
    """A .pyc beside the module that Python takes for its own (the module's time and size in its header)
    and that runs other code, as another user who can write in __pycache__ would leave."""
    st = module.stat()
    planted = f"open({str(canary)!r}, 'w').close()\n" + module.read_text()
    header = importlib.util.MAGIC_NUMBER + struct.pack("<III", 0, int(st.st_mtime) & 0xFFFFFFFF, st.st_size)
    pyc = Path(importlib.util.cache_from_source(str(module)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(header + marshal.dumps(compile(planted, str(module), "exec")))


@pytest.mark.parametrize("mode", [0o777, 0o700])
def test_bytecode_in_the_cache_folder_is_never_run(mode: int, folder: Path, tmp_path: Path) -> None:
    """The folder's trust check left __pycache__ out: one that other users may write in (made under umask
    000), or one of another user's, let planted bytecode run. Cache modules run their source only."""
    canary = tmp_path / "planted-code-ran"
    name = type(vibench.build(text=SPEC)).__module__
    module = folder / (name.rsplit(".", 1)[1] + ".py")
    _plant_bytecode(module, canary)
    (folder / "__pycache__").chmod(mode)
    _forget(name)
    assert vibench.build(text=SPEC).conv.out_channels == 8
    _forget(name)
    importlib.import_module(name)  # as torch.load of a model saved whole would
    assert not canary.exists()


def test_the_folder_keeps_no_bytecode(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eviction removed an entry's .json and .py, never its .pyc: 3 entries kept, 168 .pyc files."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "2")
    folder.mkdir(mode=0o700)
    (folder / "__pycache__").mkdir()
    left = folder / "__pycache__" / f"m_{'0123abcd' * 4}.{sys.implementation.cache_tag}.pyc"  # an older vibench's
    left.write_bytes(b"")
    for width in (1, 2, 3, 4):
        vibench.build(text=SPEC, width=width)
    assert len(list(folder.glob("m_*.json"))) == 2
    assert not (folder / "__pycache__").exists()


def test_clear_cache_forgets_every_model(folder: Path, tmp_path: Path, compilations: list[str]) -> None:
    mine = folder / "notes.txt"
    model = vibench.build(text=SPEC)
    mine.write_text("not the cache's")
    vibench.clear_cache()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert model(torch.randn(1, 4, 8)).shape == (1, 8, 8)  # built models keep working
    vibench.build(text=SPEC)
    assert compilations == ["Cached", "Cached"]
