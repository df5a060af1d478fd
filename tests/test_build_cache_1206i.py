"""vibench.build's cache after a QA pass on edits during a build, a removed working folder and the order of
its checks (12-06): each test is one defect, each failing on the code before the fix.

1. a template saved while its model compiled (half a second) left the old model in the cache for good: the
   entry recorded the file's SHA-256 as the file held it when the entry was stored, after the compilation,
   so the next process took the old model for the new file's; the same for a plug-in's module edited then;
2. with the working folder removed (a shell still in a deleted folder) `check`, `compile_spec` and `build`
   raised a bare FileNotFoundError, for absolute paths and library templates too, and `vibench-compile`
   printed "internal error" with a traceback;
3. `vibench.build(max_nodes=<a value the key cannot write>)` raised the limit's ValueError chained to the key's
   `Unkeyable`: the key was made before the limits were checked.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from vibench.api import _TINY
from vibench.compiler import cli, pipeline, registry
from vibench.compiler.load import read_spec_file
from vibench.compiler.spec_files import NO_WORKING_FOLDER, working_folder
from vibench.compiler.spec_reads import CHANGED_WHILE_READ, recording_reads
from vibench.runtime import cache, cache_deps

BASE = """\
vibench: 1
name: S
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: 4}
outputs: {y: fc}
"""


@pytest.fixture
def stored(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's cache folder, written whatever other files of vibench were saved lately (other engineers
    edit them while the tests run: the cache then keeps every model in memory, which is not what is tested)."""
    monkeypatch.setattr(cache, "installation_as_loaded", lambda: True)
    monkeypatch.setattr(cache, "_imported", {})
    return folder


def _edit_while_compiling(monkeypatch: pytest.MonkeyPatch, edit: Callable[[], None]) -> None:
    """Run ``edit`` once, inside the next compilation: after every spec file was read, before the entry is stored
    (as the QA's repro does: the user saves while vibench generates the code)."""
    real = pipeline.compile_source
    done: list[bool] = []

    def compile_source(*args: Any, **kwargs: Any) -> str:
        if not done:
            done.append(True)
            edit()
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "compile_source", compile_source)


def _records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in folder.glob("m_*.json")]


# -- 1. an edit while the model compiles ----------------------------------------------------------------------


def test_a_template_saved_while_its_model_compiles_is_compiled_again(stored: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The QA's p39: `spec.yaml` extends `./base.yaml`, saved (4 -> 9) while the build compiles. The build gives
    the model of what it read; its entry names the bytes it read, so memory and the folder (the next process)
    compile the new file: they gave the old model, while `check` said 9."""
    base = tmp_path / "base.yaml"
    base.write_text(BASE)
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./base.yaml\n")
    _edit_while_compiling(monkeypatch, lambda: base.write_text(BASE.replace("out_features: 4", "out_features: 9")))
    assert vibench.build(str(spec)).fc.out_features == 4  # what the compilation read
    (record,) = _records(stored)
    assert record["files"][os.path.realpath(base)] == hashlib.sha256(BASE.encode()).hexdigest()
    assert vibench.build(str(spec)).fc.out_features == 9  # the entry in memory is stale
    assert vibench.check(str(spec)).root.outputs[0][2].shape[1] == 9


def test_a_fresh_process_compiles_a_template_saved_during_the_last_build(stored: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder alone (the next process, which never built the spec) compiles the saved template again."""
    base = tmp_path / "base.yaml"
    base.write_text(BASE)
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./base.yaml\n")
    _edit_while_compiling(monkeypatch, lambda: base.write_text(BASE.replace("out_features: 4", "out_features: 9")))
    assert vibench.build(str(spec)).fc.out_features == 4
    monkeypatch.setattr(cache, "_memory", {})
    assert vibench.build(str(spec)).fc.out_features == 9


PLUGIN = '''
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.schemas.blocks import BlockParams

SCALE = {scale}


class NoParams(BlockParams):
    """No parameters."""


class Scale(Block):
    """Multiplies by SCALE."""

    name = "qa1206i_scale"
    Params = NoParams

    def infer(self, p, ins, ctx):
        return [TensorType(ins[0].shape, ins[0].dtype)]

    def call_code(self, p, args, mod):
        return c.call("torch.mul", args[0], float(SCALE))
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The module file of a plug-in block `qa1206i_scale` (SCALE = 2), imported and registered."""
    import importlib

    site = tmp_path / "site"
    site.mkdir()
    module = site / "qa1206i_plug.py"
    module.write_text(PLUGIN.format(scale=2))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(registry._BLOCKS, "qa1206i_scale", importlib.import_module("qa1206i_plug").Scale())
    yield module
    sys.modules.pop("qa1206i_plug", None)


def test_a_plugin_module_edited_while_the_model_compiles_is_never_written(stored: Path, plugin: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The model runs the module as it was imported (SCALE 2); saved as SCALE 3 during the build, the record
    named the new file with the old model, which the next process (importing SCALE 3) took from the folder. Its
    SHA-256 then is not known: the model stays in this process's memory, as after any edit since the import."""
    def edit() -> None:
        plugin.write_text(PLUGIN.format(scale=3))
        # the file system stamps with a clock that may lag one tick: stamped with the clock the build read
        os.utime(plugin, ns=(time.time_ns(), time.time_ns()))

    _edit_while_compiling(monkeypatch, edit)
    text = "vibench: 1\nname: P\ninputs: {x: {shape: [B, 4]}}\nnodes:\n  n0: {block: qa1206i_scale, in: x}\n" \
           "outputs: {y: n0}\n"
    assert vibench.build(text=text)(torch.ones(1, 4))[0, 0].item() == 2.0
    (entry,) = [e for e in cache._memory.values() if e.class_name == "P"]
    assert entry.deps.files[os.path.realpath(plugin)] == cache_deps.CHANGED and not entry.deps.valid()
    assert _records(stored) == []
    assert vibench.build(text=text)(torch.ones(1, 4))[0, 0].item() == 2.0  # still the imported module
    assert _records(stored) == []  # the process runs code its file no longer holds: never written


def test_a_folder_looked_at_and_changed_while_compiling_is_never_valid(tmp_path: Path) -> None:
    """What a lookup saw at a path (a slot folder's listing) was taken when the entry was stored: a component
    added during the compilation was recorded as seen. Changed since the compilation began, it is unknown."""
    slot = tmp_path / "heads"
    slot.mkdir()
    since = time.time_ns()
    (slot / "new.yaml").write_text(BASE)
    os.utime(slot, ns=(time.time_ns(), time.time_ns()))  # as the clock the compilation read
    deps = cache_deps.Deps.of([], [], looked=[(str(slot), "names")], since=since)
    assert deps.looked[str(slot)] == "names:" + cache_deps.CHANGED and deps.outdated and not deps.valid()
    settled = cache_deps.Deps.of([], [], looked=[(str(slot), "names")], since=time.time_ns() + 10**12)
    assert settled.valid() and not settled.outdated


def test_a_file_read_before_an_edit_is_never_taken_as_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file settled and changed since it was read: its stat is not remembered as matching what was read (a
    compilation longer than the 2 s window left the edited file's stat beside the old bytes' SHA-256)."""
    monkeypatch.setattr(cache_deps, "SETTLE_NS", -10**18)  # every file settled: its stat alone would be trusted
    path = tmp_path / "base.yaml"
    path.write_text(BASE.replace("4", "9"))
    deps = cache_deps.Deps.of([str(path)], [], digests=[(str(path), hashlib.sha256(BASE.encode()).hexdigest())])
    assert not deps.valid()


def test_a_file_read_twice_with_other_bytes_has_no_digest(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    with recording_reads() as reads:
        read_spec_file(str(path))
        read_spec_file(str(path))
        assert reads[os.path.realpath(path)] == hashlib.sha256(BASE.encode()).hexdigest()
        path.write_text(BASE.replace("4", "9"))
        read_spec_file(str(path))
    assert reads[os.path.realpath(path)] == CHANGED_WHILE_READ


# -- 2. a removed working folder ------------------------------------------------------------------------------


@pytest.fixture
def removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, removed (a shell still in a deleted folder); the spec `c4.yaml` beside it."""
    (tmp_path / "c4.yaml").write_text(BASE)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert working_folder() == NO_WORKING_FOLDER
    return tmp_path


def test_absolute_paths_templates_and_text_need_no_working_folder(removed: Path, folder: Path) -> None:
    spec = str(removed / "c4.yaml")
    assert vibench.check(spec).root.name == "S"
    assert vibench.check("cnn/TCN").root.name == "TCN"
    assert vibench.compile_spec("cnn/TCN").program.root.name == "TCN"
    assert vibench.check(text=_TINY).root.name == "Tiny"
    assert vibench.build(spec).fc.out_features == 4
    assert type(vibench.build("cnn/TCN")).__name__ == "TCN"
    assert type(vibench.build(text=_TINY)).__name__ == "Tiny"
    assert vibench.check(text="vibench: 1\nextends: cnn/TCN\n").root.name == "TCN"


@pytest.mark.parametrize("call", [vibench.check, vibench.compile_spec, vibench.build])
@pytest.mark.parametrize("relative", ["c4.yaml", "../c4.yaml"])
def test_a_relative_path_without_a_working_folder_says_so(removed: Path, folder: Path, call: Any,
                                                          relative: str) -> None:
    """`../c4.yaml` still opens in a removed folder, but nothing can name it: refused like `c4.yaml`."""
    with pytest.raises(vibench.SpecError) as err:
        call(relative)
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == "E004" and "working folder no longer exists" in diagnostic.message
    assert diagnostic.found == relative and "absolute path" in (diagnostic.hint or "")


def test_a_text_spec_extending_a_relative_file_without_a_working_folder_is_located(removed: Path) -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text="vibench: 1\nextends: ./c4.yaml\n")
    assert [d.code for d in err.value.diagnostics] == ["E205"]


def test_the_cli_checks_an_absolute_path_without_a_working_folder(removed: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(removed / "c4.yaml"), "--check"]) == 0
    assert cli.main(["cnn/TCN", "--check"]) == 0
    assert "internal error" not in capsys.readouterr().err


# -- 3. limits before the key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["max_nodes", "max_params", "max_activation"])
def test_a_limit_the_key_cannot_write_is_refused_alone(limit: str) -> None:
    """A Decimal is no positive integer (the limit's ValueError) and no value the key writes (Unkeyable): the
    error came chained to the key's refusal, "During handling of the above exception"."""
    with pytest.raises(ValueError, match=f"{limit} must be a positive integer") as err:
        vibench.build(text=_TINY, **{limit: decimal.Decimal(1000)})
    assert err.value.__context__ is None and err.value.__cause__ is None


def test_a_compilation_error_of_an_unkeyable_request_is_not_chained_to_the_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A request the key cannot write is compiled, outside the handler of the key's refusal."""
    def failing(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the compilation's own error")

    monkeypatch.setattr(pipeline, "compile_program", failing)
    with pytest.raises(RuntimeError) as err:
        vibench.build(text=_TINY, num_classes=decimal.Decimal(3))
    assert err.value.__context__ is None
