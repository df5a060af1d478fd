"""vibench.build's cache and block plug-ins: a model compiled with a plug-in block is used again only
while the plug-in is as it was — every imported module of its package (its block module, its natives,
functions too, a helper its shape rule calls) has the SHA-256 it had — and while the registry admits
the same class under that name (a rival plug-in installed, or the plug-in uninstalled, leaves the name
unknown: the build fails with the diagnostic ``--check`` gives). Each defect a probe found: the old
cache followed natives that are classes only, and none of the plug-in's other modules, and never asked
the registry, so the next process built the model of the old plug-in.

The plug-ins are installed as pip does (tests/test_plugins_loading.py) and each build runs in a fresh
process sharing one cache folder, so every case is a hit in the folder, as in a user's next run.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest
import torch

import vibench
from tests.test_plugins_loading import HAAR_SPEC, install, install_haar
from vibench.compiler import registry
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.runtime import cache
from vibench.schemas.blocks import BlockParams

ROOT = Path(__file__).resolve().parent.parent

OPS = """
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
else:
    from vibench.compiler.blocks.torchless import torch


def scale_fn(x: torch.Tensor) -> torch.Tensor:
    return x * 2.0
"""

RULES = """
def out_channels(channels):
    return channels
"""

BLOCKS = '''
from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams
from p_cache import rules
from p_cache.ops import scale_fn


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


@register
class ScaleBlock(Block):
    """Scales by a constant (a native function); its shape rule asks another module of the package."""

    name = "scale_fn_block"
    Params = KParams
    natives = (scale_fn,)

    def infer(self, p, ins, ctx):
        t = ins[0]
        return [TensorType((t.shape[0], rules.out_channels(t.shape[1]), t.shape[2]), t.dtype)]

    def call_code(self, p, args, mod):
        return c.call("scale_fn", args[0])
'''

RIVAL = '''
from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


@register
class Rival(Block):
    """Another plug-in's block of the same name."""

    name = "scale_fn_block"
    Params = KParams

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.neg", args[0])
'''

SPEC = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n  n0: {block: scale_fn_block, in: x}\n"
        "outputs: {y: n0}\n")

# Prints whether the build compiled, the output of the built model and the static shape model.py
# states for `y`; or the diagnostics of a build that fails.
BUILD = """
import inspect, sys, torch, vibench
from vibench.compiler import pipeline
compiled = []
real = pipeline.compile_source
pipeline.compile_source = lambda program, **options: compiled.append(1) or real(program, **options)
try:
    model = vibench.build("spec.yaml")
except vibench.SpecError as err:
    print(err.render())
    sys.exit(1)
shape = next(line.split("y ", 1)[1] for line in inspect.getsource(type(model)).splitlines() if " y [" in line)
print("compiled" if compiled else "cached", model(torch.ones(1, 4, 3)).flatten()[0].item(), shape)
"""


def _install_scale(site: Path) -> None:
    install(site, "p_cache", {"p_cache/__init__.py": "", "p_cache/ops.py": OPS, "p_cache/rules.py": RULES,
                              "p_cache/blocks.py": BLOCKS}, ["scale = p_cache.blocks"])


def _python(args: list[str], cwd: Path, folder: Path, sites: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": os.pathsep.join([*map(str, sites), str(ROOT)])}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _build(cwd: Path, folder: Path, sites: list[Path]) -> str:
    run = _python(["-c", textwrap.dedent(BUILD)], cwd, folder, sites)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout.strip()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture
def scale_plugin(tmp_path: Path) -> tuple[Path, Path]:
    """The site holding the plug-in `p_cache` (block `scale_fn_block`), and a folder holding spec.yaml."""
    site = tmp_path / "site"
    _install_scale(site)
    work = tmp_path / "work"
    work.mkdir()
    (work / "spec.yaml").write_text(SPEC, encoding="utf-8")
    return site, work


def test_an_edited_native_function_is_compiled_again(scale_plugin: tuple[Path, Path], folder: Path) -> None:
    """A native that is a function was not among the files checked: the next process built x * 2.0."""
    site, work = scale_plugin
    assert _build(work, folder, [site]) == "compiled 2.0 [B, 4, L] float32"
    assert _build(work, folder, [site]) == "cached 2.0 [B, 4, L] float32"
    _edit(site / "p_cache" / "ops.py", "x * 2.0", "x * 3.0")
    assert _build(work, folder, [site]) == "compiled 3.0 [B, 4, L] float32"
    assert _build(work, folder, [site]) == "cached 3.0 [B, 4, L] float32"


def test_a_plugin_edited_while_a_process_runs_is_compiled_again_by_the_next(scale_plugin: tuple[Path, Path],
                                                                           folder: Path) -> None:
    """A process that built, saw the native edited, and built again compiled the module it had imported
    (x * 2.0, right for it) and recorded it with the edited file's SHA-256: the next process then built
    x * 2.0 from the folder. That model stays in the memory of the process that compiled it."""
    site, work = scale_plugin
    ops = site / "p_cache" / "ops.py"
    edit_between = BUILD.replace("try:\n", f"""try:
    vibench.build("spec.yaml")
    compiled.clear()
    import pathlib
    path = pathlib.Path({str(ops)!r})
    path.write_text(path.read_text().replace("x * 2.0", "x * 3.0"))
""", 1)
    run = _python(["-c", textwrap.dedent(edit_between)], work, folder, [site])
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "compiled 2.0 [B, 4, L] float32"  # this process runs the plug-in it imported
    assert "x * 3.0" in ops.read_text()
    assert _build(work, folder, [site]) == "compiled 3.0 [B, 4, L] float32"
    assert _build(work, folder, [site]) == "cached 3.0 [B, 4, L] float32"


def test_an_edited_module_of_the_plugin_package_is_compiled_again(scale_plugin: tuple[Path, Path],
                                                                  folder: Path) -> None:
    """A module of the plug-in's package that its shape rule calls (not a block, a native or a base
    class) was not checked: the next process built the model with the old static shapes."""
    site, work = scale_plugin
    assert _build(work, folder, [site]) == "compiled 2.0 [B, 4, L] float32"
    _edit(site / "p_cache" / "rules.py", "return channels", "return 2 * channels")
    assert _build(work, folder, [site]) == "compiled 2.0 [B, 8, L] float32"


def test_a_rival_plugin_makes_the_build_fail_as_check_does(scale_plugin: tuple[Path, Path], folder: Path,
                                                           tmp_path: Path) -> None:
    """With a second plug-in registering the same name both are refused: `--check` said E110 while build
    still gave the cached model. Uninstalled again, the cached model is the one built."""
    site, work = scale_plugin
    rival = tmp_path / "rival"
    install(rival, "p_rival", {"p_rival/__init__.py": RIVAL}, ["rival = p_rival"])
    assert _build(work, folder, [site]) == "compiled 2.0 [B, 4, L] float32"
    built = _python(["-c", textwrap.dedent(BUILD)], work, folder, [site, rival])
    checked = _python(["-m", "vibench", "spec.yaml", "--check"], work, folder, [site, rival])
    assert built.returncode == 1 and checked.returncode == 1, built.stdout[-3000:] + built.stderr[-3000:]
    assert built.stdout.startswith("error[E110]: unknown block `scale_fn_block`"), built.stdout[-3000:]
    assert "another plug-in registers it" in built.stdout
    assert built.stdout.strip() in checked.stderr, checked.stderr[-3000:]  # the very diagnostic
    assert _build(work, folder, [site]) == "cached 2.0 [B, 4, L] float32"


def test_an_uninstalled_plugin_makes_the_build_fail(scale_plugin: tuple[Path, Path], folder: Path) -> None:
    """The plug-in's distribution uninstalled (its entry point gone, its files left where they were, so
    none of them changed): the cached model was still built."""
    site, work = scale_plugin
    assert _build(work, folder, [site]) == "compiled 2.0 [B, 4, L] float32"
    for path in sorted((site / "p_cache-0.1.dist-info").iterdir()):
        path.unlink()
    (site / "p_cache-0.1.dist-info").rmdir()
    built = _python(["-c", textwrap.dedent(BUILD)], work, folder, [site])
    assert built.returncode == 1, built.stdout[-3000:] + built.stderr[-3000:]
    assert built.stdout.startswith("error[E110]: unknown block `scale_fn_block`"), built.stdout[-3000:]


def test_the_record_of_the_example_plugin_holds_its_package_and_block(folder: Path, tmp_path: Path) -> None:
    """What a hit checks for examples/plugin: the spec and the two modules of `vibench_haar` (one stat
    each in memory: no torch or pydantic file), and the class the registry admitted as `haar_dwt`."""
    site = tmp_path / "site"
    install_haar(site)
    run = _python(["-c", f"import vibench; vibench.build({HAAR_SPEC!r})"], tmp_path, folder, [site])
    assert run.returncode == 0, run.stderr[-3000:]
    (record,) = [json.loads(path.read_text()) for path in folder.glob("m_*.json")]
    package = os.path.realpath(site / "vibench_haar")
    assert sorted(record["files"]) == sorted([os.path.realpath(HAAR_SPEC), os.path.join(package, "__init__.py"),
                                              os.path.join(package, "haar.py")])
    assert record["blocks"] == {"haar_dwt": "vibench_haar.haar.HaarDWTBlock"}


class _NoParams(BlockParams):
    """No parameters."""


class _Tanh(Block):
    """A block of this test module, put in the registry by hand."""

    name = "cache_probe_block"
    Params = _NoParams

    def infer(self, p, ins, ctx):  # type: ignore[no-untyped-def]
        t = ins[0]
        return [TensorType(t.shape, t.dtype)]

    def call_code(self, p, args, mod):  # type: ignore[no-untyped-def]
        return c.call("torch.tanh", args[0])


class _Neg(_Tanh):
    """Another class under the same name."""

    def call_code(self, p, args, mod):  # type: ignore[no-untyped-def]
        return c.call("torch.neg", args[0])


PROBE = "vibench: 1\nname: P\ninputs: {x: {shape: [B, 4]}}\nnodes:\n  n0: {block: cache_probe_block, in: x}\n" \
        "outputs: {y: n0}\n"


def test_a_hit_in_memory_asks_the_registry(folder: Path, compilations: list[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """In one process: the block gone from the registry is E110 (not the model in memory), another class
    under its name is compiled again; a spec without plug-in blocks records none."""
    monkeypatch.setitem(registry._BLOCKS, "cache_probe_block", _Tanh())
    assert "torch.tanh" in _source(vibench.build(text=PROBE))
    assert "torch.tanh" in _source(vibench.build(text=PROBE))
    assert len(compilations) == 1
    monkeypatch.setitem(registry._BLOCKS, "cache_probe_block", _Neg())
    assert "torch.neg" in _source(vibench.build(text=PROBE))
    assert len(compilations) == 2
    (entry,) = [entry for entry in cache._memory.values() if entry.class_name == "P"]
    assert entry.deps.blocks == {"cache_probe_block": f"{__name__}._Neg"}
    assert os.path.realpath(__file__) in entry.deps.files
    monkeypatch.delitem(registry._BLOCKS, "cache_probe_block")
    with pytest.raises(vibench.SpecError) as err:
        vibench.build(text=PROBE)
    assert err.value.codes == ["E110"]
    cache._memory.clear()
    vibench.build(text="vibench: 1\nname: Q\ninputs: {x: {shape: [B, 4]}}\nnodes:\n  n0: {block: relu, in: x}\n"
                  "outputs: {y: n0}\n")
    assert [entry.deps.blocks for entry in cache._memory.values()] == [{}]


def _source(model: object) -> str:
    return inspect.getsource(type(model))


# -- blocks defined by code without a file -------------------------------------------------------------

TIMES = '''
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.schemas.blocks import BlockParams


class Times(Block):
    """Multiplies by a constant."""

    name = "times_const"
    Params = BlockParams

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.binop(args[0], "*", c.const(FACTOR))
'''
TIMES_SPEC = "vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  t: {block: times_const, in: x}\n" \
             "outputs: {y: t}\n"


def _cell(module: str, factor: float, cell: int) -> type:
    """The block ``Times`` as a notebook cell defines it: code without a file, run in ``module``'s namespace
    (a module without a file, as a prompt's or a kernel's ``__main__``)."""
    namespace = sys.modules[module].__dict__
    exec(compile(TIMES.replace("FACTOR", str(factor)), f"<ipython-input-{cell}>", "exec"), namespace)  # noqa: S102
    return namespace["Times"]


def _times(model: torch.nn.Module) -> float:
    """What the model makes of ones: the block's constant."""
    return model(torch.ones(1, 1, 2)).flatten()[0].item()


@pytest.mark.parametrize("namespace", ["a module without a file", "a script's module"])
def test_a_block_defined_again_without_a_file_is_compiled_again(namespace: str, folder: Path, tmp_path: Path,
                                                                compilations: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A block typed at a prompt has no file to hash and kept its name when defined again: the first
    definition's model came back, in this process and from the folder in the next. Such a model is kept
    in memory only, tied to the very class. (A cell run in the namespace of a script's ``__main__``: the
    module has a file, the class's code has none.)"""
    module = types.ModuleType("vibench_cache_prompt")
    if namespace == "a script's module":
        module.__file__ = str(tmp_path / "script.py")
        Path(module.__file__).write_text("# the script that runs the cells\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "vibench_cache_prompt", module)
    monkeypatch.setitem(registry._BLOCKS, "times_const", _cell("vibench_cache_prompt", 2.0, 1)())
    assert _times(vibench.build(text=TIMES_SPEC)) == 2.0
    assert _times(vibench.build(text=TIMES_SPEC)) == 2.0
    assert len(compilations) == 1
    monkeypatch.setitem(registry._BLOCKS, "times_const", _cell("vibench_cache_prompt", 3.0, 2)())
    assert _times(vibench.build(text=TIMES_SPEC)) == 3.0
    assert len(compilations) == 2
    assert not folder.exists() or not list(folder.glob("m_*"))


def test_an_entry_of_a_block_with_a_file_is_not_used_for_one_without(folder: Path, tmp_path: Path,
                                                                     compilations: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder holds the model of `prompt_blocks.Times` from a file; a class of that very name typed at
    a prompt since (its module now has no file) is another block, whatever the file still says."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "vibench_cache_cell.py").write_text(TIMES.replace("FACTOR", "2.0"), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    try:
        from_file = importlib.import_module("vibench_cache_cell")
        monkeypatch.setitem(registry._BLOCKS, "times_const", from_file.Times())
        name = type(vibench.build(text=TIMES_SPEC)).__module__
        assert list(folder.glob("m_*.json"))
        monkeypatch.setitem(sys.modules, "vibench_cache_cell", types.ModuleType("vibench_cache_cell"))
        monkeypatch.setitem(registry._BLOCKS, "times_const", _cell("vibench_cache_cell", 3.0, 1)())
        cache._memory.clear()
        sys.modules.pop(name, None)
        assert _times(vibench.build(text=TIMES_SPEC)) == 3.0
        assert len(compilations) == 2
    finally:
        monkeypatch.undo()
        sys.modules.pop("vibench_cache_cell", None)


PROMPT = """
import sys, torch, vibench
from vibench.compiler.registry import register
exec(compile({block!r}.replace("class Times", "@register\\nclass Times"), "<stdin>", "exec"))
print(vibench.build(text={spec!r})(torch.ones(1, 1, 2)).flatten()[0].item())
"""


def test_a_block_typed_at_a_prompt_gives_its_own_model_in_the_next_process(folder: Path, tmp_path: Path) -> None:
    """`python -c` twice, the block's constant changed between: the second process built the first's
    model from the folder (the record named the block by its name and no file)."""
    for factor in ("2.0", "3.0"):
        code = PROMPT.format(block=TIMES.replace("FACTOR", factor), spec=TIMES_SPEC)
        run = _python(["-c", textwrap.dedent(code)], tmp_path, folder, [])
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.strip() == factor
