"""vibench.build's cache after a QA pass on its keys and records (12-06): each test is one defect, each
failing on the code before the fix.

1. a mapping's order was not part of the key (sorted): `num_classes={'2': 6, '1': 4}` after `{'1': 4, '2': 6}`
   gave the first model, whose heads are in the other order;
2. a plug-in's helper module outside its own package (a top-level `helper`, another package of a namespace
   package) was not recorded: an edited helper left the old model in the folder;
3. whether a bad value was accepted depended on the cache: a tuple where a list is declared, a mapping
   whose keys `1` and `"1"` the key wrote alike, a parameter named `__limits__` (the key's own entries);
4. the component files a slot's scoped parameters were read from were not recorded: the only component
   declaring `depth` deleted, the model with `depth=3` still came from the cache (a fresh compile: E201);
5. `vibench.build` dropped the compilation's warnings (W104, which the CLI prints);
6. `vibench.build` ignored `VIBENCH_SPEC_PATH`, part of the CLI's search path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import vibench
from vibench.api import SpecWarning
from vibench.compiler import registry
from vibench.runtime import cache

ROOT = Path(__file__).resolve().parent.parent

SPEC = """\
vibench: 1
name: Keyed
params:
  widths: {type: "list[int]", default: [4]}
  heads: {type: "dict[str, int]", default: {"a": 1}}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: 4}
outputs: {y: fc}
"""


def _codes(err: pytest.ExceptionInfo[vibench.SpecError]) -> list[str]:
    return [d.code for d in err.value.diagnostics]


# -- 1. the order of a mapping --------------------------------------------------------------------------------


def test_a_mapping_in_another_order_is_another_model(folder: Path, compilations: list[str]) -> None:
    """M_01_ISFM builds one head per `num_classes` entry, in its order: the second order got the first's model."""

    def heads(model: torch.nn.Module) -> list[str]:
        return [k.split(".")[3] for k in model.state_dict() if k.startswith("task_head.") and k.endswith("weight")]

    first = vibench.build("isfm/M_01_ISFM", num_classes={"1": 4, "2": 6})
    second = vibench.build("isfm/M_01_ISFM", num_classes={"2": 6, "1": 4})
    assert heads(first) == ["1", "2"] and heads(second) == ["2", "1"]
    assert type(first) is not type(second) and len(compilations) == 2
    assert cache.key("s", {"n": {"a": 1, "b": 2}}, None, []) != cache.key("s", {"n": {"b": 2, "a": 1}}, None, [])


# -- 2. a plug-in's helper modules ----------------------------------------------------------------------------

BLOCK = '''
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.schemas.blocks import BlockParams
{imports}


class NoParams(BlockParams):
    """No parameters."""


class Scale(Block):
    """Multiplies by the helper's SCALE."""

    name = "{name}"
    Params = NoParams

    def infer(self, p, ins, ctx):
        return [TensorType(ins[0].shape, ins[0].dtype)]

    def call_code(self, p, args, mod):
        return c.call("torch.mul", args[0], float({scale}))
'''


def _plugin_spec(name: str) -> str:
    return f"vibench: 1\nname: P\ninputs: {{x: {{shape: [B, 4]}}}}\nnodes:\n  n0: {{block: {name}, in: x}}\n" \
           "outputs: {y: n0}\n"


@pytest.fixture
def imported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for a test's plug-in; the modules imported from it are forgotten afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        if name.startswith("qa1206d_"):
            del sys.modules[name]


@pytest.mark.parametrize(("files", "module", "helper"), [
    # a top-level module beside the plug-in's package, held as a global
    ({"qa1206d_a/__init__.py": "", "qa1206d_a/blk.py": ("import qa1206d_a_helper", "qa1206d_a_helper.SCALE"),
      "qa1206d_a_helper.py": "SCALE = 2\n"}, "qa1206d_a.blk", "qa1206d_a_helper.py"),
    # the same, imported from: only an int is left behind
    ({"qa1206d_b/__init__.py": "", "qa1206d_b/blk.py": ("from qa1206d_b_helper import SCALE", "SCALE"),
      "qa1206d_b_helper.py": "SCALE = 2\n"}, "qa1206d_b.blk", "qa1206d_b_helper.py"),
    # another package of a namespace package (`qa1206d_lab` has no __init__.py)
    ({"qa1206d_lab/blocks/__init__.py": ("from qa1206d_lab.common.values import SCALE", "SCALE"),
      "qa1206d_lab/common/__init__.py": "", "qa1206d_lab/common/values.py": "SCALE = 2\n"},
     "qa1206d_lab.blocks", "qa1206d_lab/common/values.py"),
])
def test_a_plugins_helper_outside_its_package_is_recorded(files: dict[str, str | tuple[str, str]], module: str,
                                                          helper: str, imported: Path, folder: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The record lists the helper with its SHA-256 (in memory and in the folder): edited, the entry is stale."""
    import importlib

    name = module.replace(".", "_") + "_scale"
    for rel, text in files.items():
        path = imported / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, tuple):
            text = BLOCK.format(imports=text[0], name=name, scale=text[1])
        path.write_text(text, encoding="utf-8")
    block = importlib.import_module(module).Scale()
    monkeypatch.setitem(registry._BLOCKS, name, block)
    model = vibench.build(text=_plugin_spec(name))
    assert model(torch.ones(1, 4))[0, 0].item() == 2.0
    (entry,) = [e for e in cache._memory.values() if e.class_name == "P"]
    path = os.path.realpath(imported / helper)
    assert path in entry.deps.files and entry.deps.valid()
    (record,) = [json.loads(p.read_text()) for p in folder.glob("m_*.json")]
    assert path in record["files"]
    assert not any(f.startswith(os.path.dirname(torch.__file__)) for f in record["files"])  # installed code is not
    Path(path).write_text("SCALE = 3  # edited\n", encoding="utf-8")
    assert not entry.deps.valid()


PLUG_RUN = """
import sys, torch, vibench
import qa1206d_plug.blk
model = vibench.build("spec.yaml")
print(model(torch.ones(1, 4))[0, 0].item())
"""


@pytest.mark.parametrize("helper", ["qa1206d_plug_helper", "nntplib", "link"])
def test_an_edited_helper_of_a_plugin_is_compiled_again_by_the_next_process(tmp_path: Path, folder: Path,
                                                                            helper: str) -> None:
    """The QA's repro: qaplug/blk.py imports the top-level `qahelper`; the next process built SCALE 2. Also a
    helper named like a standard-library module (a plug-in's own `wave.py`: it was judged by its name) and one
    reached through a link that is re-pointed (`ln -sfn v2.py helper.py`: only the old target was recorded)."""
    site = tmp_path / "site"
    (site / "qa1206d_plug").mkdir(parents=True)
    (site / "qa1206d_plug" / "__init__.py").write_text("")
    module = "qa1206d_plug_link" if helper == "link" else helper
    block = BLOCK.format(imports=f"import {module}\nfrom vibench.compiler.registry import register",
                         name="qa1206d_plug_scale", scale=f"{module}.SCALE")
    (site / "qa1206d_plug" / "blk.py").write_text(block.replace("\nclass Scale", "\n@register\nclass Scale"))
    if helper == "link":
        (site / "v1.py").write_text("SCALE = 2\n")
        (site / "v2.py").write_text("SCALE = 3\n")
        (site / f"{module}.py").symlink_to("v1.py")
    else:
        (site / f"{module}.py").write_text("SCALE = 2\n")
    (tmp_path / "spec.yaml").write_text(_plugin_spec("qa1206d_plug_scale"))
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(PLUG_RUN)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()

    assert run() == "2.0"
    assert run() == "2.0"  # from the folder
    if helper == "link":
        (site / f"{module}.py").unlink()
        (site / f"{module}.py").symlink_to("v2.py")
    else:
        (site / f"{module}.py").write_text("SCALE = 3\n")
    assert run() == "3.0"


# -- 3. cold and warm agree on what is accepted ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::vibench.api.SpecWarning")  # W105: `widths` and `heads` are not used
def test_a_value_refused_cold_is_refused_warm(folder: Path) -> None:
    """Each refused value was built from the cache once a value the key wrote alike had been built."""
    vibench.build(text=SPEC, widths=[4, 4])
    with pytest.raises(vibench.SpecError) as err:  # a tuple where list[int] is declared (strict, as the CLI)
        vibench.build(text=SPEC, widths=(4, 4))
    assert _codes(err) == ["E202"]
    vibench.build(text=SPEC, heads={"1": 5})
    with pytest.raises(vibench.SpecError) as err:  # key 1 is no str; the key wrote it as "1"
        vibench.build(text=SPEC, heads={1: 7, "1": 5})
    assert _codes(err) == ["E202"]
    vibench.build(text=SPEC)
    for reserved, value in (("__limits__", 5), ("__inplace__", True), ("__metadata__", None)):
        with pytest.raises(vibench.SpecError) as err:  # the key's own entries replaced the user's value
            vibench.build(text=SPEC, **{reserved: value})
        assert _codes(err) == ["E201"]
    deep: list[object] = [1]
    deep.append(deep)  # no key can be written for it: compiled, and refused there (was a RecursionError)
    with pytest.raises(vibench.SpecError) as err:
        vibench.build(text=SPEC, widths=deep)
    assert _codes(err) == ["E202"]


# -- 4. the files a slot's scoped parameters were read from ---------------------------------------------------

TOP = """\
vibench: 1
name: Top
params:
  body: {type: str, default: Bc, slot: comp}
inputs: {x: {shape: [B, 8]}}
nodes:
  b: {block: "comp/${body}", in: x, inherit: true}
outputs: {y: b}
"""
DECLARES_DEPTH = """\
vibench: 1
name: A
params: {depth: {type: int, default: 1, ge: 1}}
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: 8, repeat: depth}
outputs: {y: fc}
"""
CHOSEN = "vibench: 1\nname: Bc\ninputs: {x: {shape: [B, 8]}}\nnodes:\n  r: {block: relu, in: x}\noutputs: {y: r}\n"


def test_a_deleted_component_declaring_a_scoped_parameter_is_seen(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "comp").mkdir()
    (tmp_path / "top.yaml").write_text(TOP)
    (tmp_path / "comp" / "A.yaml").write_text(DECLARES_DEPTH)
    (tmp_path / "comp" / "Bc.yaml").write_text(CHOSEN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)  # W104: no chosen component reads `depth`
        assert type(vibench.build(str(tmp_path / "top.yaml"), depth=3)).__name__ == "Top"
    (tmp_path / "comp" / "A.yaml").unlink()
    with pytest.raises(vibench.SpecError) as err:
        vibench.build(str(tmp_path / "top.yaml"), depth=3)
    assert _codes(err) == ["E201"]


# -- 5. the compilation's warnings ----------------------------------------------------------------------------


def test_build_gives_the_warnings_the_cli_prints_from_the_cache_too(folder: Path, compilations: list[str]) -> None:
    for _ in range(2):  # compiled, then from memory
        with pytest.warns(SpecWarning, match=r"^warning\[W104\]: `e_layers`") as caught:
            vibench.build("isfm/M_01_ISFM", e_layers=3)
        assert caught[0].filename == __file__  # at the caller's line
        assert "--> vibench/specs/isfm/M_01_ISFM.yaml:" in str(caught[0].message)
    cache._memory.clear()
    with pytest.warns(SpecWarning, match=r"^warning\[W104\]"):  # from the folder
        vibench.build("isfm/M_01_ISFM", e_layers=3)
    assert compilations == ["M_01_ISFM"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vibench.build("isfm/M_01_ISFM")  # none for a spec without any


# -- 6. VIBENCH_SPEC_PATH -------------------------------------------------------------------------------------

USES_LIB = """\
vibench: 1
name: Rel
inputs: {x: {shape: [B, 1, L]}}
nodes:
  s: {block: blk#Stem, in: x}
  pool: {block: adaptive_avg_pool1d, in: s, output_size: 1}
  flat: {block: flatten, in: pool}
outputs: {y: flat}
"""


def _lib(channels: int) -> str:
    return f"""\
vibench: 1
name: Lib
inputs: {{x: {{shape: [B, 1, L]}}}}
blocks:
  Stem:
    inputs: {{x: {{shape: [B, C, L]}}}}
    nodes:
      conv: {{block: conv1d, in: x, out_channels: {channels}, kernel_size: 3, padding: 1}}
    outputs: {{y: conv}}
nodes:
  s: {{block: Stem, in: x}}
outputs: {{y: s}}
"""


def test_build_and_check_search_vibench_spec_path(tmp_path: Path, folder: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """As the CLI: the spec finds `blk` in a folder of VIBENCH_SPEC_PATH (E205 before), and the variable's
    folders are part of the key (another folder's `blk` is another model)."""
    for name, channels in (("lib8", 8), ("lib16", 16)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "blk.yaml").write_text(_lib(channels))
    (tmp_path / "spec.yaml").write_text(USES_LIB)
    spec = str(tmp_path / "spec.yaml")
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    with pytest.raises(vibench.SpecError) as err:
        vibench.build(spec)
    assert _codes(err) == ["E205"]
    monkeypatch.setenv("VIBENCH_SPEC_PATH", os.pathsep + str(tmp_path / "lib8") + os.pathsep)  # empty ones skipped
    assert vibench.build(spec)(torch.ones(1, 1, 16)).shape == (1, 8)
    assert vibench.check(spec).root.outputs[0][2].shape[1] == 8
    assert "# [B, 8, 1]" in vibench.compile_spec(spec).source
    monkeypatch.setenv("VIBENCH_SPEC_PATH", str(tmp_path / "lib16"))
    assert vibench.build(spec)(torch.ones(1, 1, 16)).shape == (1, 16)
    monkeypatch.setenv("VIBENCH_SPEC_PATH", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="VIBENCH_SPEC_PATH entry .*missing' does not exist"):
        vibench.build(spec)
