"""Four defects a QA pass of the runtime found on 12-07, each silent or unhelpful where it should speak:

* ``--weights-prefix network`` (``prefix="network"``) for keys ``network.*`` left them ``.bn1.bias``, which fit
  nothing, and said so with no hint. Now a prefix without its final dot names that component when every key
  starting with it goes on with a dot; where some do not, the error says "try prefix='network.'".
* ``vibench.clear_cache()`` on a folder it cannot write (a read-only mount) returned as if done, the entries still
  there. Now a ``RuntimeWarning`` names the folder, the OS's error and how many files stay, at every call.
* ``VIBENCH_CACHE_MAX=abc`` (``1e3``, empty, `` 5x``) silently meant 1,000, and ``0`` or ``-1`` silently meant 1.
  Now each says so in a ``RuntimeWarning`` naming the value and what is used, once per value.
* ``load_reference_state_dict(torch.compile(model), sd)`` (or a ``DataParallel``) wanted ``_orig_mod.``-prefixed
  keys: the wrapper carries no renames. Now the model it wraps is loaded, whose tensors the wrapper shares.
"""

from __future__ import annotations

import os
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.compiler.cli import EXIT_OK, EXIT_SPEC, main
from vibench.runtime import cache, cache_folder
from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

torch.set_num_threads(1)


def reference(prefix: str = "network.") -> dict[str, torch.Tensor]:
    """The Tiny template's reference weights, its keys under ``prefix``."""
    return {f"{prefix}classifier.weight": torch.full((2, 3), 0.5), f"{prefix}classifier.bias": torch.ones(2)}


def loaded(model: torch.nn.Module) -> bool:
    return model.state_dict()["head.bias"].tolist() == [1.0, 1.0]


SIDES = pytest.mark.parametrize("side", ["runtime", "model.py"])
"""vibench's loader, and the one model.py carries (nothing but torch): both read a prefix and a wrapper alike."""


def tiny(side: str) -> tuple[torch.nn.Module, Callable[..., Any]]:
    """A Tiny model and the loader of ``side``."""
    if side == "runtime":
        return vibench.build(text=TINY_REFERENCE_SPEC), load_reference_state_dict
    module = types.ModuleType("emitted_tiny_1207f")
    exec(compile(vibench.compile_spec(text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    return module.Tiny(), module.load_reference_state_dict


# -- 1. a prefix without its final dot ----------------------------------------------------------------


@SIDES
def test_a_prefix_without_its_dot_names_the_component(side: str) -> None:
    model, load = tiny(side)
    assert tuple(load(model, reference(), prefix="network")) == ([], [])
    assert loaded(model)


def test_the_command_line_reads_a_prefix_without_its_dot_alike(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY_REFERENCE_SPEC)
    torch.save({"state_dict": {**reference(), "loss.pos_weight": torch.ones(1)}}, tmp_path / "good.ckpt")
    argv = [str(tmp_path / "tiny.yaml"), "-o", str(tmp_path / "m.py"), "--weights", str(tmp_path / "good.ckpt")]
    assert main([*argv, "--weights-prefix", "network"]) == EXIT_OK
    assert torch.load(tmp_path / "m.pt")["head.bias"].tolist() == [1.0, 1.0]


@SIDES
def test_a_prefix_that_ends_inside_a_name_is_taken_as_written(side: str) -> None:
    """``net_`` for ``net_classifier.weight``: no key goes on with a dot, so no dot is added."""
    model, load = tiny(side)
    assert tuple(load(model, reference("net_"), prefix="net_")) == ([], [])
    assert loaded(model)


def test_a_prefix_some_keys_go_on_from_without_a_dot_gets_a_hint(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    """``network.*`` beside ``networks.*``: which ``network`` names is not clear, so it is taken as written, and the
    error names the prefix with its dot."""
    model = vibench.build(text=TINY_REFERENCE_SPEC)
    checkpoint = {**reference(), "networks.step": torch.zeros(1)}
    with pytest.raises(ReferenceCheckpointError) as caught:
        load_reference_state_dict(model, checkpoint, prefix="network")
    assert "unexpected (3): '.classifier.bias', '.classifier.weight', 's.step'" in str(caught.value)
    assert str(caught.value).endswith(
        "2 of 3 keys start with 'network.': try prefix='network.' (--weights-prefix network.)")
    assert not loaded(model)
    (tmp_path / "tiny.yaml").write_text(TINY_REFERENCE_SPEC)
    torch.save(checkpoint, tmp_path / "mixed.pt")
    argv = [str(tmp_path / "tiny.yaml"), "-o", str(tmp_path / "m.py"), "--weights", str(tmp_path / "mixed.pt")]
    assert main([*argv, "--weights-prefix", "network"]) == EXIT_SPEC
    assert "try prefix='network.' (--weights-prefix network.)" in capsys.readouterr().err
    assert main([*argv, "--weights-prefix", "network."]) == EXIT_OK


# -- 2. a cache folder clear_cache cannot empty ---------------------------------------------------------


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test hears the folder's warnings afresh, and every store writes to the folder (another engineer's edit
    of a vibench file would keep this process's models in memory)."""
    monkeypatch.setattr(cache_folder, "_warned", set())
    monkeypatch.setattr(cache, "installation_as_loaded", lambda: True)
    monkeypatch.delenv("VIBENCH_CACHE", raising=False)
    monkeypatch.delenv("VIBENCH_CACHE_MAX", raising=False)


def test_a_folder_clear_cache_cannot_empty_is_said_at_every_call(folder: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  fresh_warnings: None) -> None:
    """A read-only folder, as root can have one: every removal of a file in it is refused."""
    vibench.build(text=TINY_REFERENCE_SPEC)
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) == 3  # the module, its record and the index
    real = os.unlink

    def read_only(name: str, *args: object, dir_fd: int | None = None) -> None:
        if dir_fd is not None and name in files:
            raise PermissionError(13, "Permission denied", name)
        real(name, *args, dir_fd=dir_fd)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", read_only)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vibench.clear_cache()
        vibench.clear_cache()
    record = next(name for name in files if name.endswith(".json"))  # removed first: a module without it is unused
    expected = (f"vibench.clear_cache() forgot the models in memory, but the cache folder {folder} cannot be emptied "
                f"(Permission denied: {folder / record}): 3 of its files stay")
    assert [str(w.message) for w in caught] == [expected, expected]
    assert {w.category for w in caught} == {RuntimeWarning} and caught[0].filename == __file__
    assert sorted(p.name for p in folder.iterdir()) == files
    monkeypatch.setattr(os, "unlink", real)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vibench.clear_cache()  # writable again: emptied, without a word
    assert list(folder.iterdir()) == []


# -- 3. a VIBENCH_CACHE_MAX that is no count ------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "1e3", "", " 5x"])
def test_a_cache_max_that_is_no_whole_number_keeps_the_default_and_says_so(
        value: str, monkeypatch: pytest.MonkeyPatch, fresh_warnings: None) -> None:
    monkeypatch.setenv("VIBENCH_CACHE_MAX", value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache_folder.max_entries() == cache_folder.max_entries() == 1000
    assert [(w.category, str(w.message)) for w in caught] == [
        (RuntimeWarning, f"vibench cannot read VIBENCH_CACHE_MAX={value!r} as a whole number: the cache folder "
                         "keeps the default, 1,000 models")]
    assert caught[0].filename == __file__


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_cache_max_below_one_means_one_and_says_so(value: str, monkeypatch: pytest.MonkeyPatch,
                                                     fresh_warnings: None) -> None:
    monkeypatch.setenv("VIBENCH_CACHE_MAX", value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cache_folder.max_entries() == cache_folder.max_entries() == 1
    assert [str(w.message) for w in caught] == [
        f"VIBENCH_CACHE_MAX={value!r} is below 1: the cache folder and memory keep 1 model each, the one used last "
        "(VIBENCH_CACHE=0 leaves the folder unused)"]


@pytest.mark.parametrize(("value", "count"), [("5", 5), (" 7 ", 7), (None, 1000)])
def test_a_cache_max_that_is_a_count_is_taken_silently(value: str | None, count: int,
                                                       monkeypatch: pytest.MonkeyPatch, fresh_warnings: None) -> None:
    if value is not None:
        monkeypatch.setenv("VIBENCH_CACHE_MAX", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache_folder.max_entries() == count


# -- 4. a wrapped model ---------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [
    lambda m: torch.compile(m, backend="eager"),
    torch.nn.DataParallel,
    lambda m: torch.compile(torch.nn.DataParallel(m), backend="eager"),
], ids=["compiled", "data-parallel", "compiled-data-parallel"])
@SIDES
def test_a_wrapped_model_is_loaded_into_the_model_it_wraps(wrap: object, side: str) -> None:
    model, load = tiny(side)
    wrapper = wrap(model)  # type: ignore[operator]
    assert tuple(load(wrapper, reference())) == ([], [])
    assert loaded(model) and wrapper.state_dict() != {}
    with pytest.raises(KeyError, match=r"Tiny.*missing \(1\): 'head.bias'"):
        load(wrapper, {"classifier.weight": torch.zeros(2, 3)})
    assert loaded(model)  # nothing was loaded
