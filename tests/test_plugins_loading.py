"""Block plug-ins that fail or clash: a broken plug-in is a warning, never a traceback, and never costs
the compiles that do not need it or the other plug-ins; a plug-in block never takes a built-in's name,
and two plug-ins with one block name are both refused, whatever the order they are found in.

Each test installs packages the way pip does — the package on the path with a `.dist-info` folder
naming its `vibench.blocks` entry points — and runs vibench in a fresh process, so the registry of
this process is untouched and the real `importlib.metadata` discovery is exercised.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import ROOT

HAAR = os.path.join(ROOT, "examples", "plugin")
HAAR_SPEC = os.path.join(HAAR, "haar_demo.yaml")

BLOCK = '''
from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


class {cls}(Block):
    """A plug-in block calling {fn}."""

    name = {name!r}
    Params = KParams

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call({fn!r}, args[0])
'''


def block_source(name: str, fn: str = "torch.tanh", *, cls: str = "B", decorate: bool = True) -> str:
    """A plug-in module defining one block (``@register``-ed unless not ``decorate``)."""
    text = BLOCK.format(cls=cls, name=name, fn=fn)
    return text.replace(f"\nclass {cls}(Block)", f"\n@register\nclass {cls}(Block)") if decorate else text


def install(site: Path, dist: str, files: dict[str, str], entry_points: list[str]) -> None:
    """Put a distribution's files (path -> text) in ``site`` with a `.dist-info` naming its entry points."""
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vibench.blocks]\n" + "".join(e + "\n" for e in entry_points))


def install_haar(site: Path) -> None:
    """The example plug-in (examples/plugin): the block `haar_dwt`."""
    shutil.copytree(os.path.join(HAAR, "vibench_haar"), site / "vibench_haar")
    install(site, "vibench_haar", {}, ["haar_dwt = vibench_haar.haar"])


def install_broken(site: Path) -> None:
    """A plug-in whose module does not import (a dependency it needs is missing)."""
    install(site, "p_broken", {"p_broken/__init__.py": 'raise ImportError("boom: missing dep scipy")\n'},
            ["bad = p_broken"])


def run_python(code: str, sites: list[Path], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, sites), ROOT]), "VIBENCH_CACHE": "0"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def spec_text(*nodes: str, shape: str = "[B, 1, L]") -> str:
    """A model of one input `x` and a chain of ``block`` nodes (``name: block`` pairs as ``n0: relu``)."""
    lines = ["vibench: 1", "name: M", f"inputs: {{x: {{shape: {shape}}}}}", "nodes:"]
    previous = "x"
    for k, block in enumerate(nodes):
        lines.append(f"  n{k}: {{block: {block}, in: {previous}}}")
        previous = f"n{k}"
    lines.append(f"outputs: {{y: {previous}}}")
    return "\n".join(lines) + "\n"


def test_a_plugin_that_does_not_import_is_a_warning_not_a_traceback(tmp_path: Path) -> None:
    """`--blocks`, `schema`, a misspelt block, library specs and a spec using a working plug-in all work
    beside a plug-in whose import fails; `--blocks` and `schema` name it (entry point, distribution,
    exception) on standard error."""
    site = tmp_path / "site"
    install_broken(site)
    install_haar(site)
    (tmp_path / "typo.yaml").write_text(spec_text("reluu"))
    run = run_python(f"""
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
        assert main(["--blocks", "haar_dwt"]) == 0
        assert main(["schema", "-o", "schema.json"]) == 0
        assert main(["typo.yaml", "--check"]) == 1
        assert main(["cnn/ResNet1D", "--check"]) == 0
        assert main(["isfm/M_01_ISFM", "--check"]) == 0
        assert main([{HAAR_SPEC!r}, "-o", "model.py"]) == 0
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "this is a bug" not in run.stderr, run.stderr[-3000:]
    assert "haar_dwt" in run.stdout and "conv1d" in run.stdout  # the catalogue, working plug-in included
    assert "haar_dwt" in (tmp_path / "schema.json").read_text()
    assert "class HaarDWT(nn.Module):" in (tmp_path / "model.py").read_text()
    warning = "warning[W120]: block plug-in `bad = p_broken` (distribution p_broken 0.1) failed to load"
    assert warning in run.stderr, run.stderr[-3000:]
    assert "ImportError: boom: missing dep scipy" in run.stderr
    assert "error[E110]: unknown block `reluu`" in run.stderr and "did you mean `relu`" in run.stderr


def test_a_failed_plugin_does_not_hide_the_ones_after_it(tmp_path: Path) -> None:
    """Each entry point loads (or fails) on its own: after a failure, later lookups in the same process
    still find the working plug-ins (the language server asks many times)."""
    site = tmp_path / "site"
    install_broken(site)  # `bad` sorts before `haar_dwt`
    install_haar(site)
    run = run_python("""
        from vibench.compiler import registry
        try:
            registry.get("not_a_block")  # the first lookup outside the built-ins loads the plug-ins
        except ImportError:
            pass  # (before the fix, the broken plug-in's error escaped here)
        assert registry.get("haar_dwt") is not None, "a working plug-in was dropped"
        assert "haar_dwt" in registry.all_blocks()
        import sys
        assert "torch" not in sys.modules  # checking the plug-ins' natives imports no torch
        print([w.code for w in registry.plugin_warnings()])
    """, [site], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "['W120']"


def test_plugins_load_in_the_same_order_wherever_they_are_installed(tmp_path: Path) -> None:
    """The same warnings, and the same blocks, whichever of two folders comes first on the path."""
    first, second = tmp_path / "a", tmp_path / "b"
    install(first, "p_zeta", {"p_zeta/__init__.py": block_source("twin", "torch.sigmoid")}, ["zeta = p_zeta"])
    install(second, "p_alpha", {"p_alpha/__init__.py": block_source("twin", "torch.tanh")}, ["alpha = p_alpha"])
    install_broken(second)
    code = """
        from vibench.compiler import registry
        print(registry.get("twin"), sorted(registry.all_blocks()) == registry.builtin_names())
        for w in registry.plugin_warnings():
            print(w.render())
    """
    one = run_python(code, [first, second], tmp_path)
    other = run_python(code, [second, first], tmp_path)
    assert one.returncode == 0 and other.returncode == 0, one.stderr[-2000:] + other.stderr[-2000:]
    assert one.stdout == other.stdout
    assert one.stdout.startswith("None True\n"), one.stdout  # two plug-ins, one name: neither is used
    assert one.stdout.index("`alpha = p_alpha`") < one.stdout.index("`zeta = p_zeta`")


def test_a_plugin_block_never_takes_a_builtin_name(tmp_path: Path) -> None:
    """A plug-in block named `relu` (registered by its module, or named by its entry point) is refused
    with a warning naming both; the spec's `relu` stays the built-in, whatever else the spec uses."""
    site = tmp_path / "site"
    install_haar(site)
    install(site, "p_shadow", {"p_shadow/__init__.py": block_source("relu", "torch.sigmoid")}, ["shadow = p_shadow"])
    install(site, "p_cls", {"p_cls/__init__.py": block_source("relu", "torch.tanh", decorate=False)},
            ["relu = p_cls:B"])
    (tmp_path / "spec.yaml").write_text(spec_text("haar_dwt", "relu"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "-o", "model.py"]) == 0
        assert main(["--blocks"]) == 0
        assert main(["--blocks", "relu"]) == 0
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    model = (tmp_path / "model.py").read_text()
    assert "torch.relu_(x)" in model and "torch.sigmoid" not in model and "torch.tanh" not in model
    for entry in ("`shadow = p_shadow` (distribution p_shadow 0.1)", "`relu = p_cls:B` (distribution p_cls 0.1)"):
        assert f"warning[W121]: plug-in block `relu` of {entry} is refused: a built-in block has that name" \
            in run.stderr, run.stderr[-3000:]


def test_two_plugins_with_one_block_name_are_both_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_haar(site)
    install(site, "p_other", {"p_other/__init__.py": block_source("haar_dwt", "torch.relu")}, ["haar2 = p_other"])
    (tmp_path / "spec.yaml").write_text(spec_text("haar_dwt"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
        assert main(["spec.yaml", "--check"]) == 1
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert "haar_dwt" not in run.stdout  # in neither's version
    assert ("warning[W121]: plug-in block `haar_dwt` is refused: two plug-ins register it, `haar2 = p_other` "
            "(distribution p_other 0.1) and `haar_dwt = vibench_haar.haar` (distribution vibench_haar 0.1)") \
        in run.stderr, run.stderr[-3000:]
    assert "error[E110]: unknown block `haar_dwt`" in run.stderr


def test_an_entry_point_that_names_no_block_is_a_warning(tmp_path: Path) -> None:
    """An entry point naming a function, or a module that registers nothing, is not silently ignored;
    the plug-in's other entry points still work."""
    site = tmp_path / "site"
    source = block_source("cls_block", "torch.relu", decorate=False) + "\n\ndef helper():\n    pass\n"
    install(site, "p_mixed", {"p_mixed/__init__.py": source, "p_mixed/empty.py": "VALUE = 1\n"},
            ["cls_block = p_mixed:B", "junk = p_mixed:helper", "nothing = p_mixed.empty"])
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["--blocks", "cls_block"]) == 0
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "warning[W120]: block plug-in `junk = p_mixed:helper` (distribution p_mixed 0.1) names a function, " \
           "not a Block subclass or a module that registers blocks" in run.stderr, run.stderr[-3000:]
    assert "warning[W120]: block plug-in `nothing = p_mixed.empty` (distribution p_mixed 0.1) registers no block" \
        in run.stderr
