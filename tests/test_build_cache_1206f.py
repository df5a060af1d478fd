"""vibench.build and its cache after a QA pass (12-06 f): each test is one defect, each failing on the code
before the fix.

1. a PHM-Vibench base config is looked for beside the experiment, in its project root and in the working
   folder, but the key held no working folder and the paths tried were not recorded: a build from another
   folder, a base config created beside the experiment, or a `.git` that moves the project root gave the
   cached model; an entry's warnings named files relative to the first build's working folder;
2. build read the spec (up to 64 MiB) before the loader's checks: a FIFO hung, a folder was an unlocated
   'cannot read spec file';
3. a file read that became a FIFO hung every later build (its hash opened it), a link to /dev/zero read
   until MemoryError;
4. the rows a metadata table skipped (its W116) were not in the key;
5. the listing of a slot folder was no dependency: a component added changed the CLI's W104 hint, or made
   the folder too large (E214), but not a cached build;
6. memory held every model built, its module and its lines, and the parse caches every file, for ever;
7. a metadata of another kind was an AttributeError, or a TypeError from inside the compiler.
"""

from __future__ import annotations

import copy
import gc
import linecache
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from vibench.api import _TINY, SpecWarning
from vibench.compiler import scoped
from vibench.compiler.phm_metadata import DatasetMetadata
from vibench.compiler.resolve import Library
from vibench.runtime import build, cache, cache_deps, cache_memory

ROOT = Path(__file__).resolve().parent.parent


def _within(call: Callable[[], Any], seconds: float = 120) -> Any:
    """``call()``'s result or exception; a call that has not returned by then hangs (a FIFO opened for reading)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call hangs"
    if "error" in box:
        raise box["error"]
    return box["value"]


def _refusal(call: Callable[[], Any]) -> list[tuple[str, str, Any]]:
    with pytest.raises(vibench.SpecError) as err:
        _within(call)
    return [(d.code, d.message, d.pos) for d in err.value.diagnostics]


def _warned(call: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpecWarning)
        call()
    return [str(w.message) for w in caught if w.category is SpecWarning]


# -- 1. PHM base configs --------------------------------------------------------------------------------------

RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: {}\n"


def _project(tmp_path: Path) -> str:
    """A project (its `.git`) whose experiment names `m.yaml`: none beside it, one in each of two working
    folders, `a` (5 classes) and `b` (7 classes)."""
    for marker in (".git", "exps", "a", "b"):
        (tmp_path / marker).mkdir()
    (tmp_path / "a" / "m.yaml").write_text(RESNET.format(5))
    (tmp_path / "b" / "m.yaml").write_text(RESNET.format(7))
    (tmp_path / "exps" / "exp.yaml").write_text('base_configs:\n  model: "m.yaml"\n')
    return str(tmp_path / "exps" / "exp.yaml")


def _classes(spec: str) -> int:
    return int(vibench.build(spec).classifier.out_features)


def test_a_base_config_is_looked_for_in_the_working_folder_of_each_build(
    tmp_path: Path, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = _project(tmp_path)
    for where, classes in (("a", 5), ("b", 7), ("a", 5)):
        monkeypatch.chdir(tmp_path / where)
        assert _classes(experiment) == classes
    assert len(compilations) == 2  # one entry a working folder


def test_a_base_config_created_where_it_is_looked_for_first_is_read(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = _project(tmp_path)
    monkeypatch.chdir(tmp_path / "a")
    assert _classes(experiment) == 5
    (tmp_path / "exps" / "m.yaml").write_text(RESNET.format(9))  # beside the experiment: looked for first
    assert _classes(experiment) == 9


@pytest.mark.parametrize("change", ["a .git beside the experiment", "the project's .git removed"])
def test_a_marker_that_moves_the_project_root_is_seen(
    change: str, tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project root decides where a base config may be read: moved to `exps/`, `a/m.yaml` is outside it."""
    experiment = _project(tmp_path)
    monkeypatch.chdir(tmp_path / "a")
    assert _classes(experiment) == 5
    if change == "a .git beside the experiment":
        (tmp_path / "exps" / ".git").mkdir()
    else:
        (tmp_path / ".git").rmdir()
    assert [code for code, _, _ in _refusal(lambda: vibench.build(experiment))] == ["E205"]


def test_a_base_config_reached_through_a_link_pointed_elsewhere_is_read_again(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = _project(tmp_path)
    link = tmp_path / "exps" / "m.yaml"
    link.symlink_to(tmp_path / "a" / "m.yaml")
    assert _classes(experiment) == 5
    link.unlink()
    link.symlink_to(tmp_path / "b" / "m.yaml")
    assert _classes(experiment) == 7


BASE_WITH_UNUSED = """\
vibench: 1
name: Base
params: {num_classes: 4, width: 8, unused_p: 1}
inputs: {x: {shape: [B, 1, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: "${width}", kernel_size: 3, padding: 1}
  pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
  flat: {block: flatten, in: pool}
  fc: {block: linear, in: flat, out_features: "${num_classes}"}
outputs: {logits: fc}
"""


def test_the_warnings_of_an_entry_name_included_files_from_each_working_folder(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "k" / "lib").mkdir(parents=True)
    (tmp_path / "k" / "lib" / "base.yaml").write_text(BASE_WITH_UNUSED)
    (tmp_path / "k" / "spec.yaml").write_text("vibench: 1\nextends: lib/base\nwith: {num_classes: 3}\n")
    spec = str(tmp_path / "k" / "spec.yaml")
    for where, shown in ((tmp_path / "k", " --> lib/base.yaml:"), (tmp_path, " --> k/lib/base.yaml:")):
        monkeypatch.chdir(where)
        (message,) = _warned(lambda: vibench.build(spec))
        assert message.splitlines()[1].startswith(shown)


# -- 2. the spec read as the loader reads it ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["a folder", "a FIFO", "a device"])
def test_a_spec_that_is_no_regular_file_is_refused_as_check_refuses_it(kind: str, tmp_path: Path, folder: Path) -> None:
    path = str(tmp_path / "spec.yaml")
    if kind == "a folder":
        os.mkdir(path)
    elif kind == "a FIFO":
        os.mkfifo(path)
    else:
        path = os.devnull
    refused = _refusal(lambda: vibench.build(path))
    assert refused == _refusal(lambda: vibench.check(path))
    assert refused[0][0] == "E004" and refused[0][2] is not None  # located, at the file


def test_a_spec_past_the_loader_s_limit_is_e002_before_its_bytes_are_read(tmp_path: Path, folder: Path) -> None:
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as fh:
        fh.truncate(100 * 1024 * 1024)  # sparse: nothing written
    refused = _refusal(lambda: vibench.build(str(path)))
    assert refused == _refusal(lambda: vibench.check(str(path)))
    assert refused[0][0] == "E002"


# -- 3. a file read that is no longer a regular file ----------------------------------------------------------

USER = "vibench: 1\nname: User\nextends: ./base.yaml\n"


def _user_and_base(tmp_path: Path) -> tuple[str, Path]:
    (tmp_path / "base.yaml").write_text(BASE_WITH_UNUSED)
    (tmp_path / "user.yaml").write_text(USER)
    return str(tmp_path / "user.yaml"), tmp_path / "base.yaml"


@pytest.mark.parametrize("became", ["a FIFO", "a link to a device"])
def test_a_file_read_that_is_no_regular_file_now_is_refused_at_the_next_build(
    became: str, tmp_path: Path, folder: Path
) -> None:
    spec, base = _user_and_base(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        vibench.build(spec)
    base.unlink()
    if became == "a FIFO":
        os.mkfifo(base)
    else:
        base.symlink_to(os.devnull)
    assert _refusal(lambda: vibench.build(spec)) == _refusal(lambda: vibench.check(spec))


def test_a_file_read_that_became_a_fifo_is_refused_in_a_new_process(tmp_path: Path, folder: Path) -> None:
    """The entry in the folder checks its files too: the FIFO hung every later process."""
    spec, base = _user_and_base(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        vibench.build(spec)
    base.unlink()
    os.mkfifo(base)
    code = f"""\
        import vibench
        try:
            vibench.build({spec!r})
        except vibench.SpecError as err:
            print([d.code for d in err.diagnostics])
        """
    env = {**os.environ, "VIBENCH_CACHE_DIR": str(folder), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.stdout.strip() == "['E004']", done.stderr


@pytest.mark.parametrize("special", ["a FIFO", "a link to /dev/zero"])
def test_a_dependency_is_read_only_when_it_is_a_regular_file(special: str, tmp_path: Path) -> None:
    """A plug-in's module too: its imports are parsed from its source."""
    path = tmp_path / "helper.py"
    if special == "a FIFO":
        os.mkfifo(path)
    elif os.path.exists("/dev/zero"):
        path.symlink_to("/dev/zero")
    else:
        pytest.skip("no /dev/zero here")
    assert _within(lambda: cache_deps._file_hash(str(path))) is None
    assert _within(lambda: build._import_statements(str(path))) == ()


def test_a_dependency_larger_than_the_limit_is_known_by_its_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_deps, "MAX_HASHED_BYTES", 4)
    path = tmp_path / "big.yaml"
    path.write_text("12345")
    first = cache_deps._file_hash(str(path))
    assert first is not None and first.startswith("stat:")
    path.write_text("123456")
    assert cache_deps._file_hash(str(path)) != first


# -- 4. the rows a metadata table skipped ---------------------------------------------------------------------


def test_the_rows_a_metadata_table_skipped_are_part_of_the_key(tmp_path: Path, folder: Path) -> None:
    table = tmp_path / "metadata.csv"
    rows = "Dataset_id,Label\n1,0\n1,1\n1,2\n"
    for written, skipped in ((rows, False), (rows + "1,x\n", True), (rows, False)):  # the class counts stay 3
        table.write_text(written)
        codes = [m.split("]")[0] for m in _warned(lambda: vibench.build(text=_TINY, metadata=str(table)))]
        assert ("warning[W116" in codes) is skipped


# -- 5. the listing of a slot folder --------------------------------------------------------------------------

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
CHOSEN = "vibench: 1\nname: Bc\ninputs: {x: {shape: [B, 8]}}\nnodes:\n  r: {block: relu, in: x}\noutputs: {y: r}\n"


def _declares_depth(name: str) -> str:
    return (
        f"vibench: 1\nname: {name}\nparams: {{depth: {{type: int, default: 1, ge: 1}}}}\n"
        "inputs: {x: {shape: [B, 8]}}\nnodes:\n  fc: {block: linear, in: x, out_features: 8, repeat: depth}\n"
        "outputs: {y: fc}\n"
    )


def _slotted(tmp_path: Path) -> str:
    (tmp_path / "comp").mkdir()
    (tmp_path / "top.yaml").write_text(TOP)
    (tmp_path / "comp" / "Bc.yaml").write_text(CHOSEN)
    (tmp_path / "comp" / "A.yaml").write_text(_declares_depth("A"))
    return str(tmp_path / "top.yaml")


def test_a_component_added_to_a_slot_folder_is_in_the_next_build_s_w104(tmp_path: Path, folder: Path) -> None:
    top = _slotted(tmp_path)
    (first,) = _warned(lambda: vibench.build(top, depth=3))
    assert "hint: it is read by A;" in first
    (tmp_path / "comp" / "A2.yaml").write_text(_declares_depth("A2"))
    (second,) = _warned(lambda: vibench.build(top, depth=3))
    assert "hint: it is read by A, A2;" in second


def test_a_slot_folder_grown_past_its_limit_is_e214_at_the_next_build(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoped, "MAX_SLOT_COMPONENTS", 2)
    top = _slotted(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        vibench.build(top)
    (tmp_path / "comp" / "C.yaml").write_text(CHOSEN.replace("Bc", "C"))
    assert [code for code, _, _ in _refusal(lambda: vibench.build(top))] == ["E214"]


def test_a_slot_folder_is_observed_by_its_spec_names(tmp_path: Path) -> None:
    folder = tmp_path / "comp"
    folder.mkdir()
    (folder / "notes.txt").write_text("")
    seen = cache_deps.observe(str(folder), "names")
    (folder / "README").write_text("")  # no spec: the slot offers the same
    assert cache_deps.observe(str(folder), "names") == seen
    (folder / "A.yaml").write_text(CHOSEN)
    assert cache_deps.observe(str(folder), "names") != seen
    assert cache_deps.observe(str(tmp_path / "none"), "kind") == "kind:none"


# -- 6. memory is bounded -------------------------------------------------------------------------------------


@pytest.fixture
def bounded(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory keeps four models; the bookkeeping of the models alive is this test's."""
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "4")
    monkeypatch.setattr(cache_memory, "_alive", {})
    monkeypatch.setattr(cache_memory, "_retired", {})
    monkeypatch.setattr(cache_memory, "_unkeyed", {})


def _tiny(classes: int) -> torch.nn.Module:
    return vibench.build(text=_TINY, num_classes=classes)


def _lines_kept(name: str) -> bool:
    return any(name.rsplit(".", 1)[1] in str(file) for file in list(linecache.cache))


def test_memory_keeps_the_most_recent_models_and_releases_the_modules_of_the_others(bounded: None) -> None:
    kept = _tiny(2)
    dropped = [type(_tiny(classes)).__module__ for classes in range(3, 5)]
    assert len(cache._memory) == 3  # fewer than it may keep: all of them
    dropped += [type(_tiny(classes)).__module__ for classes in range(5, 10)]
    gc.collect()
    assert len(cache._memory) == 4
    assert [name in sys.modules for name in dropped] == [False, False, False, True, True, True, True]
    assert not any(_lines_kept(name) for name in dropped[:3])
    name = type(kept).__module__
    assert name in sys.modules  # a model alive keeps its module: it pickles
    pickle.loads(pickle.dumps(kept))
    del kept
    gc.collect()
    _tiny(10)
    assert name not in sys.modules and not _lines_kept(name)
    assert _tiny(3)(torch.randn(2, 1, 16)).shape == (2, 3)  # built again, from the folder


def test_a_copy_of_a_model_whose_module_was_released_keeps_working(bounded: None) -> None:
    model = copy.deepcopy(_tiny(2).eval())
    gc.collect()  # the model build() returned has gone: its copy is not counted
    for classes in range(3, 9):
        _tiny(classes)
    assert type(model).__module__ not in sys.modules
    assert model(torch.randn(2, 1, 16)).shape == (2, 2)


def test_clear_cache_releases_the_modules_of_models_no_longer_alive(bounded: None) -> None:
    kept, dropped = _tiny(2), type(_tiny(3)).__module__
    gc.collect()
    vibench.clear_cache()
    assert dropped not in sys.modules and type(kept).__module__ in sys.modules
    assert type(_tiny(2)) is type(kept)


def test_the_parse_caches_keep_the_files_read_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoped, "FILES_KEPT", 3)
    monkeypatch.setattr(scoped, "_FILE_PARAMS", {})
    monkeypatch.setattr(build, "IMPORTS_KEPT", 3)
    monkeypatch.setattr(build, "_IMPORTS", {})
    for n in range(4):
        (tmp_path / f"C{n}.yaml").write_text(_declares_depth(f"C{n}"))
        assert scoped.component_params(str(tmp_path / f"C{n}.yaml"), Library())[0][0] == "depth"
        (tmp_path / f"m{n}.py").write_text("import json\n")
        assert build._import_statements(str(tmp_path / f"m{n}.py")) == ((0, "json", ()),)
    assert sorted(scoped._FILE_PARAMS) == [str(tmp_path / f"C{n}.yaml") for n in (1, 2, 3)]
    assert sorted(build._IMPORTS) == [str(tmp_path / f"m{n}.py") for n in (1, 2, 3)]


# -- 7. the kind of metadata ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata, found",
    [
        (types.SimpleNamespace(num_classes={"1": 3}), "not SimpleNamespace"),
        (types.SimpleNamespace(num_classes=5), "not SimpleNamespace"),
        (5, "not int"),
        (DatasetMetadata("m.csv", 5), "its num_classes is int"),  # type: ignore[arg-type]
        (DatasetMetadata("m.csv", {"1": "3"}), "its num_classes maps str '1' to str '3'"),  # type: ignore[dict-item]
        (DatasetMetadata("m.csv", {"1": 3}, skipped=3), "its skipped is int"),  # type: ignore[arg-type]
    ],
)
@pytest.mark.parametrize("function", ["build", "check"])
def test_metadata_of_another_kind_is_a_type_error_naming_it(function: str, metadata: Any, found: str) -> None:
    with pytest.raises(TypeError, match=r"^metadata is the path of PHM-Vibench's metadata table") as err:
        getattr(vibench, function)(text=_TINY, metadata=metadata)
    assert "DatasetMetadata" in str(err.value) and found in str(err.value)
