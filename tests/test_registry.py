"""The block registry: a lookup imports only the block's own module (through the generated index), the
index matches the block files, and blocks the index does not know yet are still found."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT
from vibench.compiler import registry
from vibench.compiler.blocks import _index

REFRESH = "python -m vibench.compiler.registry"


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_registry_index_is_current() -> None:
    """Every built-in block is in the generated index, under the module that defines it."""
    current = registry.builtin_index()
    stale = {k: v for k, v in _index.BLOCK_MODULES.items() if current.get(k) != v}
    missing = {k: v for k, v in current.items() if _index.BLOCK_MODULES.get(k) != v}
    assert not stale and not missing, (
        f"vibench/compiler/blocks/_index.py is stale (missing or moved: {sorted(missing)}; gone: "
        f"{sorted(set(stale) - set(missing))}); refresh it with `{REFRESH}`")
    with open(registry.index_path(), encoding="utf-8") as fh:
        assert fh.read() == registry.index_source(current), f"refresh the index with `{REFRESH}`"


def test_registry_lookup_imports_one_block_module() -> None:
    run = _python("""
import sys
from vibench.compiler import registry
assert registry.get("conv1d").name == "conv1d"
loaded = sorted(m for m in sys.modules if m.startswith("vibench.compiler.blocks.") and not m.endswith("._index"))
print(loaded)
""")
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = eval(run.stdout)  # a list of module names printed by the child
    modules = {m.rsplit(".", 1)[-1] for m in loaded}
    assert "conv" in modules
    assert len(modules - {"base", "torchless"}) <= 2, loaded  # conv and what it imports, not the catalogue


def test_registry_finds_a_block_file_the_index_does_not_list() -> None:
    """A block module added since the index was written (a stale index) is found all the same."""
    run = _python("""
from vibench.compiler import registry
from vibench.compiler.blocks import _index
_index.BLOCK_MODULES = {k: v for k, v in _index.BLOCK_MODULES.items() if v != "timesnet"}
assert registry.get("times_block") is not None
names = [n for n, b in registry._BLOCKS.items() if type(b).__module__.endswith(".timesnet")]
assert names, "the unindexed module was not imported"
assert all(registry.get(n) is not None for n in names)
print("ok")
""")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_registry_moved_block_falls_back_to_the_whole_catalogue() -> None:
    run = _python("""
from vibench.compiler import registry
from vibench.compiler.blocks import _index
_index.BLOCK_MODULES = {**_index.BLOCK_MODULES, "conv1d": "clamp"}
assert registry.get("conv1d").name == "conv1d"
print("ok")
""")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_registry_catalogue_lists_every_block_file() -> None:
    names = registry.builtin_names()
    assert set(_index.BLOCK_MODULES) <= set(names)
    assert set(registry.builtin_index().values()) <= set(registry.block_modules())


def test_registry_index_lists_the_builtin_natives() -> None:
    """The names a plug-in native may not take are known without importing the catalogue."""
    assert _index.NATIVE_MODULES == registry.builtin_natives()
    assert _index.NATIVE_MODULES["MovingAverage"] == "vibench.compiler.blocks.decomposition"


def test_the_index_and_the_registry_name_the_test_that_checks_the_index() -> None:
    this = "tests/" + os.path.basename(__file__)
    assert f"``{this}`` fails" in (registry.__doc__ or "")
    assert f"({this} fails when it is stale)" in (_index.__doc__ or "").replace("\n", " ")


def test_registry_looks_among_plugins_only_for_block_names() -> None:
    """A library spec, a composite or a built-in is never looked up among the plug-ins (loading them
    imports third-party code); any other block name loads them once, without importing torch."""
    run = _python("""
import sys
from vibench.compiler import registry
assert registry.get("relu") is not None
assert registry.get("cnn/ResNet1D") is None and registry.get("Encoder") is None and registry.get("x.yaml") is None
assert not registry._state["plugins"]
assert registry.get("not_a_block") is None and registry._state["plugins"]
assert "torch" not in sys.modules
print("ok")
""")
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
