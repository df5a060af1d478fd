"""vibench.build and its cache after a second QA pass (12-06 f): each test is one defect, each failing on the code
before the fix (but those of 4, which pin what docs/api.md now says).

1. a build took its entry without the lock and ran the whole constructor before the model was counted: another
   thread's builds meanwhile evicted the entry and took its module out of sys.modules, so the model did not
   pickle and was no instance of the class a build of the same spec gave;
2. the working folder was in the key of every spec file: a library template or an absolute path built from
   another folder (Hydra's per-run folders) was compiled again;
3. a module that torch.load imported (a model saved by another process), whose entry a build then used, was
   released: the loaded model no longer pickled;
4. what a copy of a built model keeps and loses once its module is released;
5. a path object whose path is bytes was a TypeError from inside the compiler.
"""

from __future__ import annotations

import copy
import gc
import inspect
import io
import os
import pickle
import sys
import threading
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from vibench.api import _TINY, SpecWarning
from vibench.runtime import cache, cache_memory


@pytest.fixture
def bounded(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory keeps two models; the bookkeeping of the models alive and pinned is this test's."""
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "2")
    for name in ("_alive", "_retired", "_unkeyed", "_pinned"):
        monkeypatch.setattr(cache_memory, name, {})


def _tiny(classes: int) -> torch.nn.Module:
    return vibench.build(text=_TINY, num_classes=classes)


def _module_of_the_one_entry() -> str:
    (entry,) = cache._memory.values()
    return entry.module.__name__


# -- 1. a build's entry evicted while its model is constructed ------------------------------------------------


@pytest.mark.parametrize("found", ["in memory", "in the folder", "by compiling"])
def test_a_model_keeps_its_module_when_other_threads_evict_its_entry_while_it_is_constructed(
    found: str, bounded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if found != "by compiling":
        _tiny(2)  # its entry; the model is dropped at once
        gc.collect()
    if found == "in the folder":
        monkeypatch.setattr(cache, "_memory", {})
    entered, go_on = threading.Event(), threading.Event()
    real_init = torch.nn.Linear.__init__

    def held_init(self: torch.nn.Linear, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread().name == "constructing" and not entered.is_set():
            entered.set()
            go_on.wait(120)  # the constructor is halfway while the main thread builds other specs
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Linear, "__init__", held_init)
    built: dict[str, torch.nn.Module] = {}
    thread = threading.Thread(target=lambda: built.update(model=_tiny(2)), name="constructing", daemon=True)
    thread.start()
    try:
        assert entered.wait(120), "the build never reached its constructor"
        name = _module_of_the_one_entry()
        _tiny(3), _tiny(4)  # memory keeps two: the entry of 2 is evicted
        assert all(entry.module.__name__ != name for entry in cache._memory.values())
        assert name in sys.modules  # pinned: retired, not released
    finally:
        go_on.set()
        thread.join(120)
    model = built["model"]
    assert type(model).__module__ == name and name in sys.modules
    pickle.loads(pickle.dumps(model))
    assert isinstance(model, type(_tiny(2)))  # a build of the same spec gives its class


def test_a_constructor_that_raises_leaves_its_module_to_be_released(
    bounded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_init(self: torch.nn.Linear, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no memory for this layer")

    with monkeypatch.context() as patch:
        patch.setattr(torch.nn.Linear, "__init__", failing_init)
        with pytest.raises(RuntimeError, match="no memory"):
            _tiny(2)
    name = _module_of_the_one_entry()
    assert not cache_memory._pinned
    _tiny(3), _tiny(4)
    assert name not in sys.modules


def test_an_entry_found_without_the_lock_is_taken_only_while_it_is_its_key_s() -> None:
    """A hit pins its entry under the memory's lock only while it is still the key's, and a stale entry's
    forgetting drops no entry stored since: neither puts back, nor drops, another thread's work."""
    stale = cache.Entry(types.ModuleType("vibench.models.m_stale_test"), "Model")
    fresh = cache.Entry(types.ModuleType("vibench.models.m_fresh_test"), "Model")
    memory: dict[str, Any] = {"k": stale}
    cache_memory.forget(memory, "k")  # another thread evicted it after this one found it
    assert not cache_memory.take(memory, "k", stale) and memory == {}
    memory["k"] = fresh  # another thread stored a valid entry after this one found the stale one
    cache_memory.forget(memory, "k", stale)
    assert memory == {"k": fresh}
    assert cache_memory.take(memory, "k", fresh)
    cache_memory.unpin(fresh.module)


# -- 2. the working folder keyed only where it matters ---------------------------------------------------------


def test_a_library_template_and_an_absolute_path_are_one_entry_from_every_folder(
    tmp_path: Path, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "k").mkdir()
    spec = tmp_path / "k" / "spec.yaml"
    spec.write_text("vibench: 1\nextends: cnn/ResNet1D\nwith: {num_classes: 3}\n")
    for where in ("run1", "run2", "run2/nested"):
        (tmp_path / where).mkdir(parents=True)
        monkeypatch.chdir(tmp_path / where)
        assert vibench.build("cnn/ResNet1D", num_classes=4).classifier.out_features == 4
        assert vibench.build(str(spec)).classifier.out_features == 3
    monkeypatch.setattr(cache, "_memory", {})  # another process: from the folder
    monkeypatch.chdir(tmp_path)
    vibench.build("cnn/ResNet1D", num_classes=4), vibench.build(str(spec))
    assert len(compilations) == 2


def test_a_warning_in_the_spec_itself_is_one_entry_from_every_folder(
    tmp_path: Path, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spec's own warnings name it as the caller gave it (part of the key); only those located in files it
    includes name them relative to the working folder (tests/test_build_cache_1206f.py)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(_TINY.replace("params: {num_classes: 4}", "params: {num_classes: 4, unused_p: 1}"))
    shown = []
    for where in ("run1", "run2"):
        (tmp_path / where).mkdir()
        monkeypatch.chdir(tmp_path / where)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SpecWarning)
            vibench.build(str(spec))
        shown += [str(w.message).splitlines()[:2] for w in caught if w.category is SpecWarning]
    assert shown == [["warning[W105]: parameter `unused_p` is declared but never used", f"  --> {spec}:11:26"]] * 2
    assert compilations == ["Tiny"]


RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: {}\n"


def _project(tmp_path: Path) -> str:
    """A project (its `.git`) with an experiment in `exps/` naming the base config `m.yaml`, and two per-run
    folders inside it."""
    for where in (".git", "exps", "run1", "run2", "lib"):
        (tmp_path / where).mkdir()
    (tmp_path / "exps" / "exp.yaml").write_text('base_configs:\n  model: "m.yaml"\n')
    return str(tmp_path / "exps" / "exp.yaml")


def _classes(spec: str, **options: Any) -> int:
    return int(vibench.build(spec, **options).classifier.out_features)


def test_a_base_config_found_in_the_project_root_is_one_entry_from_every_folder(
    tmp_path: Path, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment = _project(tmp_path)
    (tmp_path / "m.yaml").write_text(RESNET.format(3))
    for where in ("run1", "run2", "exps"):
        monkeypatch.chdir(tmp_path / where)
        assert _classes(experiment) == 3
    assert len(compilations) == 1
    (tmp_path / "m.yaml").unlink()  # now looked for in the working folder: each folder's own
    for where, classes in (("run1", 5), ("run2", 7)):
        (tmp_path / where / "m.yaml").write_text(RESNET.format(classes))
    for where, classes in (("run1", 5), ("run2", 7), ("run1", 5)):
        monkeypatch.chdir(tmp_path / where)
        assert _classes(experiment) == classes
    assert len(compilations) == 3


def test_a_base_config_looked_for_past_the_root_depends_on_the_folder_even_built_from_the_root(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built from the project root, the working folder adds no place to look (it is the root), yet the lookup
    went on past the root: from a per-run folder it finds that folder's base config first."""
    experiment = _project(tmp_path)
    (tmp_path / "lib" / "m.yaml").write_text(RESNET.format(3))
    (tmp_path / "run1" / "m.yaml").write_text(RESNET.format(5))
    monkeypatch.chdir(tmp_path)
    assert _classes(experiment, search_path=[str(tmp_path / "lib")]) == 3
    monkeypatch.chdir(tmp_path / "run1")
    assert _classes(experiment, search_path=[str(tmp_path / "lib")]) == 5


# -- 3. a module torch.load imported ---------------------------------------------------------------------------


def test_a_module_torch_load_imported_stays_imported_when_its_entry_is_evicted(
    bounded: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = io.BytesIO()
    torch.save(_tiny(2), saved)
    name = _module_of_the_one_entry()
    # As in another process: the module is not imported and memory holds no entry.
    monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(cache, "_memory", {})
    saved.seek(0)
    loaded = torch.load(saved, weights_only=False)  # imports the module itself
    assert type(_tiny(2)) is type(loaded)  # the build used the module torch.load imported
    gc.collect()
    _tiny(3), _tiny(4)  # the entry of 2 is evicted; no model vibench counts is alive
    assert sys.modules.get(name) is sys.modules[type(loaded).__module__]
    torch.save(loaded, io.BytesIO())


# -- 4. a copy of a built model, once its module is released ---------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_a_copy_keeps_its_module_while_the_built_model_lives_and_then_only_runs(bounded: None) -> None:
    built = _tiny(12).eval()
    model = copy.deepcopy(built)
    _tiny(13), _tiny(14)  # the entry of 12 is evicted; the model build returned keeps its module
    torch.jit.script(model)
    pickle.dumps(model)
    assert "class Tiny" in inspect.getsource(type(model))
    del built
    gc.collect()
    _tiny(15)  # releases the module: the copy is not counted
    assert type(model).__module__ not in sys.modules
    x = torch.randn(2, 1, 16, requires_grad=True)
    model(x).sum().backward()
    model.load_state_dict(model.state_dict())
    torch.jit.trace(model, torch.randn(2, 1, 16))
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(model)
    with pytest.raises(TypeError):
        inspect.getsource(type(model))
    with pytest.raises(OSError, match="source code not available"):
        torch.jit.script(model)
    assert not isinstance(model, type(_tiny(12)))


# -- 5. a path object whose path is bytes ----------------------------------------------------------------------


class _PathOf(os.PathLike):
    def __init__(self, path: Any) -> None:
        self.path = path

    def __fspath__(self) -> Any:
        return self.path


@pytest.mark.parametrize("function", ["build", "check", "compile_spec", "load_spec"])
def test_a_spec_path_object_of_bytes_is_a_type_error_naming_spec(
    function: str, tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(_TINY)
    with pytest.raises(
        TypeError,
        match=r"^spec is a path or a template name such as 'cnn/ResNet1D', not a _PathOf "
        r"whose path is bytes: pass os.fsdecode\(spec\)$",
    ):
        getattr(vibench, function)(_PathOf(b"s.yaml"))
    with pytest.raises(TypeError, match=r"^spec is a path .*: expected _PathOf.__fspath__\(\) to return str or bytes"):
        getattr(vibench, function)(_PathOf(3))
    getattr(vibench, function)(_PathOf("s.yaml"))


@pytest.mark.parametrize("function", ["build", "check"])
def test_a_metadata_or_search_path_object_of_bytes_is_a_type_error_naming_it(
    function: str, tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.csv").write_text("Dataset_id,Label\n1,0\n1,1\n")
    (tmp_path / "lib").mkdir()
    with pytest.raises(
        TypeError,
        match=r"^metadata is the path of .*, not a _PathOf whose path is bytes: "
        r"pass os.fsdecode\(metadata\)$",
    ):
        getattr(vibench, function)(text=_TINY, metadata=_PathOf(b"m.csv"))
    with pytest.raises(TypeError, match=r"^search_path is a list of folders .*, not a _PathOf whose path is bytes"):
        getattr(vibench, function)(text=_TINY, search_path=[_PathOf(b"lib")])
    getattr(vibench, function)(text=_TINY, metadata=_PathOf("m.csv"), search_path=[_PathOf("lib")])
