"""Plug-in blocks, three defects a QA engineer found.

1. Two copies of one plug-in (same package, same class names, other paths: two virtual environments or
   worktrees sharing the per-user cache folder) were one plug-in to ``vibench.build``: an entry of the folder
   recorded the class by name and the first copy's files, still unchanged, so the second copy's process built
   the first copy's native code while its ``-o`` wrote its own. An entry of the folder is now used only while
   the registry's plug-in classes are loaded from files it records (``cache_deps.loaded_from``); else the spec
   is compiled again.
2. A native class changed after its definition (``Lam.forward = ...`` below ``class Lam``) was admitted:
   model.py copies the class's definition, without ``forward``, and the spec checked "ok" while model.py and
   the build raised NotImplementedError. It is now refused with W121 saying what changed; what a class body
   binds (private names, slots, implicit classmethods, ``__hash__`` beside ``__eq__``) is not a change.
3. ``graph_specs``'s inputs: the package docstring gives widths 1..8 (sometimes 12 or 16), but an input wired
   beside a value takes that value's size under an alias (``K2 = 22``, ``D2 = 96``): its docstring says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_plugins_loading import install, install_haar, run_python, spec_text
from vibench.compiler import registry
from vibench.compiler.registry_plugins import _is_vibench

ROOT = Path(__file__).resolve().parent.parent

TWIN = '''
from typing import TYPE_CHECKING

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class TwinParams(BlockParams):
    """No parameters."""


class TwinScale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * FACTOR


@register
class TwinBlock(Block):
    """Scales by a constant."""

    name = "twin_scale"
    Params = TwinParams
    natives = (TwinScale,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("TwinScale")
'''

# Prints whether the build compiled, and the output of the built model.
BUILD = """
import torch, vibench
from vibench.compiler import pipeline
compiled = []
real = pipeline.compile_source
pipeline.compile_source = lambda program, **options: compiled.append(1) or real(program, **options)
model = vibench.build("spec.yaml")
print("compiled" if compiled else "cached", model(torch.ones(1, 1, 2)).flatten()[0].item())
"""


def _build(work: Path, folder: Path, site: Path) -> str:
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(BUILD)], cwd=work, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout.strip()


def test_two_copies_of_a_plugin_sharing_the_cache_folder_each_build_their_own_code(tmp_path: Path) -> None:
    """envB's process built envA's model (x * 2.0) from the folder: same block, class and module names, and
    envA's recorded files unchanged. Each copy now builds its own; a copy built again is still a hit."""
    for env, factor in (("envA", "2.0"), ("envB", "3.0")):
        install(tmp_path / env, "p_twin", {"p_twin/__init__.py": "", "p_twin/blocks.py": TWIN.replace(
            "x * FACTOR", f"x * {factor}")}, ["twin = p_twin.blocks"])
    work = tmp_path / "work"
    work.mkdir()
    (work / "spec.yaml").write_text(spec_text("twin_scale"), encoding="utf-8")
    folder = tmp_path / "cache"
    assert _build(work, folder, tmp_path / "envA") == "compiled 2.0"
    assert _build(work, folder, tmp_path / "envB") == "compiled 3.0"
    assert _build(work, folder, tmp_path / "envA") == "compiled 2.0"
    assert _build(work, folder, tmp_path / "envA") == "cached 2.0"


CHANGED = '''
from typing import TYPE_CHECKING

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class NoParams(BlockParams):
    """No parameters."""


class Lam(nn.Module):
    pass


Lam.forward = lambda self, x: x


class Replaced(nn.Module):
    def forward(self, x):
        return x


def _other(self, x):
    return -x


Replaced.forward = _other


class Gone(nn.Module):
    def forward(self, x):
        return x

    def scale(self):
        return 2


del Gone.scale


class Fine(nn.Module):
    """What a class body binds, changed by nothing after it."""

    __slots__ = ()
    K = 2
    __private = 3
    if K > 1:
        BIG = True
    TABLE = [k for k in range(3)]

    def __new__(cls, *args):
        return super().__new__(cls)

    def __init_subclass__(cls):
        pass

    def __eq__(self, other):
        return self is other

    def __helper(self):
        return self.K

    @property
    def twice(self):
        return 2 * self.K

    def forward(self, x):
        return x * self.__helper()


def block(name, native):
    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call(native.__name__)

    return register(type("B_" + name, (Block,), {"__doc__": "d", "name": name, "Params": NoParams,
                                                 "natives": (native,), "infer": infer, "init_code": init_code}))


for _name, _native in (("lam", Lam), ("replaced", Replaced), ("gone", Gone), ("fine", Fine)):
    block(_name, _native)
'''


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The plug-in warnings by block, the plug-in blocks admitted, and the check of a spec using `lam`."""
    tmp = tmp_path_factory.mktemp("p1207e")
    install(tmp / "site", "p_changed", {"p_changed/__init__.py": CHANGED}, ["changed = p_changed"])
    run = run_python(f"""
        import json
        import vibench
        from vibench.compiler import registry

        out = {{"fine": vibench.compile_spec(text={spec_text("fine")!r}).source}}  # (loads the plug-ins)
        try:
            vibench.check(text={spec_text("lam")!r})
        except vibench.SpecError as err:
            out["lam"] = [d.to_json() for d in err.diagnostics]
        out["warnings"] = {{d.message.split("`")[1]: d.to_json() for d in registry.plugin_warnings()}}
        out["admitted"] = sorted(n for n in registry.all_blocks() if n not in registry.builtin_names())
        print(json.dumps(out))
    """, [tmp / "site"], tmp)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _refusal(changed: dict, block: str) -> str:
    warning = changed["warnings"][block]
    assert warning["code"] == "W121" and "is refused: " in warning["message"], warning
    assert "define every attribute of the class in its body" in warning["hint"], warning
    return warning["message"].split("is refused: ", 1)[1]  # type: ignore[no-any-return]


def test_a_native_class_changed_after_its_definition_is_refused(changed: dict) -> None:
    """`Lam.forward = lambda ...` below `class Lam: pass` was admitted: `--check` said ok, model.py held no
    forward."""
    lam = _refusal(changed, "lam")
    assert lam.startswith("its native class `Lam` was changed after its definition at "), lam
    assert lam.endswith(": it holds `forward`, which its class body does not define; model.py copies the "
                        "definition, without that change"), lam
    assert _refusal(changed, "replaced").endswith(": its method `forward` is another object than the one its class "
                                                  "body defines; model.py copies the definition, without that change")
    assert "its method `scale` is gone from the class" in _refusal(changed, "gone")
    (found,) = changed["lam"]
    assert found["code"] == "E110" and any("was changed after its definition" in n for n in found["notes"]), found


def test_what_a_class_body_binds_is_no_change(changed: dict) -> None:
    assert changed["admitted"] == ["fine"]
    assert "self.n0 = Fine()" in changed["fine"]


def test_no_native_of_the_library_or_the_example_plugin_is_a_changed_class(tmp_path: Path) -> None:
    from vibench.compiler.registry_plugins import _changed_attributes

    natives = {native for block in registry.all_blocks().values() if _is_vibench(type(block))
               for native in block.natives if isinstance(native, type)}
    assert len(natives) > 20
    assert [(native, _changed_attributes(native)) for native in natives if _changed_attributes(native)] == []
    install_haar(tmp_path / "site")
    run = run_python("""
        from vibench.compiler import registry
        from vibench.compiler.registry_plugins import _changed_attributes
        from vibench_haar.haar import HaarDWT

        print(registry.get("haar_dwt") is not None, registry.plugin_warnings(), _changed_attributes(HaarDWT))
    """, [tmp_path / "site"], tmp_path)
    assert run.stdout.strip() == "True () None", run.stdout[-2000:] + run.stderr[-3000:]


def test_graph_specs_says_an_alias_input_takes_another_ports_size() -> None:
    """An input beside a value whose `C` is 96 declares `C2` of 96, beyond a width's 1..16."""
    import hypothesis.strategies as st
    from hypothesis import HealthCheck, find, settings

    from vibench.testing.graphs import _Builder, graph_specs

    @st.composite
    def beside(draw: object) -> tuple[tuple[str | int, ...], tuple[int, ...]]:
        builder = _Builder(draw, ["add"], 1, False)
        builder._new_input(("B", "C", "L"), {"C": 96}, "float32", {})
        return builder.inputs[-1].shape, builder.inputs[-1].dims

    shape, dims = find(beside(), lambda case: "C2" in case[0], settings=settings(database=None, derandomize=True,
                                                                       suppress_health_check=list(HealthCheck)))
    assert dims[shape.index("C2")] == 96
    doc = " ".join((graph_specs.__doc__ or "").split())
    assert "declares an alias of it, the symbol and a number (``C2 = 18``, ``K2 = 22``, ``D2 = 96``), beyond those" \
           " ranges" in doc, doc
