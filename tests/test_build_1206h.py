"""vibench.build's cache after a QA pass (12-06 h): each test is one defect, each failing on the code before
the fix.

1. eviction and ``vibench.clear_cache()`` removed the user's own files when ``VIBENCH_CACHE_DIR`` names a
   folder of theirs: any ``m_*.json`` (with its ``.py``), ``m_*.py``, ``k_*`` and ``__pycache__/m_*.pyc``;
2. a module released from memory stayed an attribute of ``vibench.models``, with its code and source: a sweep
   over ``num_classes`` grew without bound;
3. a build from a working folder whose name is not UTF-8 was a UnicodeEncodeError;
4. a component's slot parameters, and a plug-in module's import statements, were cached by size and
   modification time: rewritten at the same size with its time kept (``cp -p``, ``rsync -a``), the old ones
   were used, and the wrong model cached for the next processes;
5. a plug-in native subclassing the real ``torch.nn.Module`` made all of torch a plug-in package (728 files
   checked at every build, 10 s a new build); a distribution reached through ``PYTHONPATH`` counted as the
   user's code.
"""

from __future__ import annotations

import gc
import importlib
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import vibench
import vibench.models
from vibench.compiler import registry, scoped
from vibench.compiler.resolve import Library
from vibench.runtime import build, cache, cache_deps, cache_folder, cache_memory

# -- 1. the cache folder is a folder of the user's ------------------------------------------------------------


def _aged(path: Path, text: str, hours: float) -> Path:
    path.write_text(text)
    then = time.time() - hours * 3600
    os.utime(path, (then, then))
    return path


def test_eviction_and_clear_cache_remove_vibench_s_files_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's files are the least recently used (hours old), and named as vibench's begin: eviction took
    ``m_model.json`` with its ``m_model.py`` and ``k_fold``, clear_cache ``m_notes.py`` and the bytecode too."""
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "1")
    folder.mkdir(mode=0o700)
    (folder / "__pycache__").mkdir()
    tag = sys.implementation.cache_tag
    theirs = [_aged(folder / name, "the user's\n", 3) for name in
              ("m_model.py", "m_model.json", "k_fold", "m_notes.py", f"__pycache__/m_model.{tag}.pyc")]
    old, kept = "m_" + "a" * 32, "m_" + "b" * 32
    ours = [_aged(folder / f"{old}.py", "", 2), _aged(folder / f"{old}.json", "{}", 2),
            _aged(folder / f"k_{'a' * 32}", old, 2), _aged(folder / f"__pycache__/{old}.{tag}.pyc", "", 2)]
    for name in (f"{kept}.py", f"{kept}.json", f"k_{'b' * 32}"):
        (folder / name).write_text("")
    with vibench.models.opened(str(folder)) as handle:  # a store of `kept` past the limit
        cache_folder.evict(handle, kept, "b" * 32)
    assert [path.exists() for path in theirs] == [True] * 5
    assert [path.exists() for path in ours] == [False] * 4
    vibench.clear_cache()
    assert sorted(str(path.relative_to(folder)) for path in folder.rglob("*")) == \
        sorted(["__pycache__", *(str(path.relative_to(folder)) for path in theirs)])


# -- 2. a released module leaves vibench.models ----------------------------------------------------------------

SWEPT = """\
vibench: 1
name: Swept1206h
params: {classes: {type: int, default: 2}}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: "${classes}"}
outputs: {y: fc}
"""


def _held_by_the_package() -> set[str]:
    return {name for name in vars(vibench.models) if name.startswith("m_")}


def test_memory_releases_the_package_attribute_of_a_module(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """More builds than memory keeps: the package holds only the modules still imported."""
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "3")
    monkeypatch.setattr(cache_memory, "_alive", {})
    monkeypatch.setattr(cache_memory, "_retired", {})
    # The folder level imports the modules (and so sets the attribute); a vibench file edited while the tests run
    # (another checkout's work) would keep them in memory, without one.
    monkeypatch.setattr(cache, "installation_as_loaded", lambda: True)
    before = _held_by_the_package()
    for classes in range(2, 14):
        vibench.build(text=SWEPT, classes=classes)
    gc.collect()
    vibench.build(text=SWEPT, classes=14)  # an eviction releases the modules whose models have gone since
    held = _held_by_the_package() - before
    imported = {name.rsplit(".", 1)[1] for name in sys.modules if name.startswith("vibench.models.m_")}
    assert len(list(folder.glob("m_*.json"))) == 3  # the folder level was used
    assert held <= imported and len(held) <= cache_memory.limit()


# -- 3. a working folder whose name is not UTF-8 ---------------------------------------------------------------


def test_a_build_from_a_folder_whose_name_is_not_utf8(tmp_path: Path, folder: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    where = tmp_path / os.fsdecode(b"bad\xe9dir")
    try:
        where.mkdir()
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    (where / "q.yaml").write_text(SWEPT)
    monkeypatch.chdir(where)
    assert vibench.build("q.yaml", classes=3)(torch.randn(2, 4)).shape == (2, 3)
    assert type(vibench.build("cnn/TCN", num_classes=2)).__name__ == "TCN"


# -- 4. a file rewritten at the same size with its time kept ---------------------------------------------------

TOP = """\
vibench: 1
name: Top
params:
  body: {type: str, default: A, slot: comp}
inputs: {x: {shape: [B, 8]}}
nodes:
  b: {block: "comp/${body}", in: x, inherit: true}
outputs: {y: b}
"""


def _component(name: str) -> str:
    """A component of the slot `comp` declaring the parameter ``name`` (five letters: the same size)."""
    return (f"vibench: 1\nname: A\nparams: {{{name}: {{type: int, default: 1, ge: 1}}}}\n"
            "inputs: {x: {shape: [B, 8]}}\nnodes:\n"
            f"  fc: {{block: linear, in: x, out_features: 8, repeat: {name}}}\noutputs: {{y: fc}}\n")


def _copied_with_its_time(source: Path, target: Path, rename: bool) -> None:
    """``cp -p`` (the same file rewritten), or ``rsync -a`` (a new file renamed over it): the time is kept."""
    st = target.stat()
    if rename:
        shutil.copyfile(source, target.with_suffix(".part"))
        os.replace(target.with_suffix(".part"), target)
    else:
        shutil.copyfile(source, target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns


def test_a_component_rewritten_with_its_time_kept_is_read_again(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "comp").mkdir()
    (tmp_path / "top.yaml").write_text(TOP)
    component = tmp_path / "comp" / "A.yaml"
    component.write_text(_component("alpha"))
    (tmp_path / "v2.yaml").write_text(_component("gamma"))
    assert len(vibench.build(str(tmp_path / "top.yaml"), alpha=2).b.fc) == 2
    _copied_with_its_time(tmp_path / "v2.yaml", component, rename=False)
    assert len(vibench.build(str(tmp_path / "top.yaml"), gamma=3).b.fc) == 3
    with pytest.raises(vibench.SpecError) as err:
        vibench.build(str(tmp_path / "top.yaml"), alpha=2)
    assert "E201" in err.value.codes


def test_the_parse_caches_know_a_file_as_the_build_cache_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files settled at once (their times would tell any change): a new file renamed over the old one, with its
    time kept, is another inode and another change time."""
    monkeypatch.setattr(cache_deps, "SETTLE_NS", 0)
    monkeypatch.setattr(scoped, "_FILE_PARAMS", {})
    monkeypatch.setattr(build, "_IMPORTS", {})
    component, module = tmp_path / "A.yaml", tmp_path / "helper.py"
    component.write_text(_component("alpha"))
    (tmp_path / "v2.yaml").write_text(_component("gamma"))
    module.write_text("import json\n")
    (tmp_path / "v2.py").write_text("import uuid\n")
    assert scoped.component_params(str(component), Library())[0][0] == "alpha"
    assert build._import_statements(str(module)) == ((0, "json", ()),)
    _copied_with_its_time(tmp_path / "v2.yaml", component, rename=True)
    _copied_with_its_time(tmp_path / "v2.py", module, rename=True)
    assert scoped.component_params(str(component), Library())[0][0] == "gamma"
    assert build._import_statements(str(module)) == ((0, "uuid", ()),)


# -- 5. a plug-in native subclassing torch.nn.Module -----------------------------------------------------------

PLUGIN = '''
import torch
from torch import nn
from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.schemas.blocks import BlockParams
BASE_IMPORT


class GainParams(BlockParams):
    g: float = Field(2.0, description="gain")


class Gain(BASE):
    def __init__(self, g: float = 2.0) -> None:
        super().__init__()
        self.g = g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.g


class GainBlock(Block):
    """Multiplies by g."""

    name, Params, category, natives = "gain_1206h", GainParams, "misc", (Gain,)

    def infer(self, p, ins, ctx):
        return [TensorType(ins[0].shape, ins[0].dtype)]

    def init_code(self, p):
        return c.call("Gain", g=p.g)
'''
GAIN = "vibench: 1\nname: G\ninputs: {x: {shape: [B, 4, 8]}}\nnodes:\n  n: {block: gain_1206h, in: x}\n" \
       "outputs: {y: n}\n"


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, base: str, base_import: str = "") -> Path:
    """The plug-in ``module`` (its native ``Gain`` subclassing ``base``) in a folder on the path, its block
    registered for the test."""
    site = tmp_path / "plugin"
    site.mkdir()
    path = site / f"{module}.py"
    path.write_text(textwrap.dedent(PLUGIN).replace("BASE_IMPORT", base_import).replace("BASE", base))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(registry._BLOCKS, "gain_1206h", importlib.import_module(module).GainBlock())
    return path


def _under(files: set[str], module: object) -> list[str]:
    folder = os.path.join(os.path.dirname(os.path.realpath(str(getattr(module, "__file__", "")))), "")
    return sorted(file for file in files if file.startswith(folder))


def test_a_native_subclassing_torch_s_module_leaves_torch_out(tmp_path: Path, folder: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = _plugin(tmp_path, monkeypatch, "realtorch_1206h", "nn.Module")
    files = build.plugin_files(vibench.check(text=GAIN))
    assert str(plugin.resolve()) in files and not _under(files, torch)
    model = vibench.build(text=GAIN)
    assert model(torch.ones(1, 4, 8)).flatten()[0].item() == 2.0
    (entry,) = [entry for entry in cache._memory.values() if entry.class_name == "G"]
    assert not _under(set(entry.deps.files), torch)


@pytest.mark.parametrize("record", [True, False])
def test_a_distribution_on_the_path_is_known_by_its_record(record: bool, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A base class from a distribution reached through PYTHONPATH (its `*.dist-info` RECORD lists its files) is
    not followed; the same package without a RECORD (an editable install, a package of the user's) is."""
    site = tmp_path / "site"
    (site / "gainbase_1206h").mkdir(parents=True)
    (site / "gainbase_1206h" / "__init__.py").write_text("from torch import nn\n\n\nclass Base(nn.Module):\n    pass\n")
    info = site / "gainbase_1206h-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gainbase_1206h\nVersion: 1.0\n")
    if record:
        (info / "RECORD").write_text("gainbase_1206h/__init__.py,,\ngainbase_1206h-1.0.dist-info/RECORD,,\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "gainbase_1206h", raising=False)
    base = importlib.import_module("gainbase_1206h")
    plugin = _plugin(tmp_path, monkeypatch, "basedgain_1206h", "Base", "from gainbase_1206h import Base")
    files = build.plugin_files(vibench.check(text=GAIN))
    assert str(plugin.resolve()) in files and not _under(files, torch)
    assert (os.path.realpath(base.__file__) in files) is not record
