"""A cache module's name stands for one code. A spec extending a template was built and saved whole, the
template edited and the spec built again: the new model took the old module's name with the new code,
so in this process the old model could no longer be pickled ("it's not the same object as ...") and in
another process torch.load ran the new forward on the old object (other outputs, no error). After
``vibench.clear_cache()`` a rebuild of the same spec gave another class of the same name, and models
built before could no longer be pickled. (The cache's basics are tests/test_build_cache.py.)"""

from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import pytest
import torch

import vibench
from tests.test_build_cache import _run
from vibench.runtime import cache

BASE = """vibench: 1
name: Base
params: {width: {type: int, default: 8}}
inputs: {x: {shape: [B, 1, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: "${width}", kernel_size: 3, padding: 1}
outputs: {y: conv}
"""
EDITED = BASE.replace("outputs: {y: conv}", "  act: {block: relu, in: conv}\noutputs: {y: act}")
USER = "vibench: 1\nname: User\nextends: base.yaml\n"


def _spec(tmp_path: Path) -> str:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "user.yaml").write_text(USER, encoding="utf-8")
    return str(tmp_path / "user.yaml")


def _saved_then_edited(tmp_path: Path) -> tuple[torch.nn.Module, torch.nn.Module, dict[str, torch.Tensor]]:
    """The model of the spec as first built, the model after its template was edited, and what the first
    gave for an input (saved whole with it in ``tmp_path/old.pt``)."""
    spec = _spec(tmp_path)
    torch.manual_seed(0)
    old = vibench.build(spec).eval()
    x = torch.randn(2, 1, 32)
    with torch.no_grad():
        y = old(x)
    torch.save({"model": old, "x": x, "y": y}, tmp_path / "old.pt")
    (tmp_path / "base.yaml").write_text(EDITED, encoding="utf-8")
    new = vibench.build(spec).eval()
    return old, new, {"x": x, "y": y}


@pytest.mark.parametrize("cache_on", ["1", "0"])
def test_a_model_built_before_its_template_was_edited_still_pickles(cache_on: str, folder: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBENCH_CACHE", cache_on)
    old, new, seen = _saved_then_edited(tmp_path)
    assert type(old).__module__ != type(new).__module__  # other code, another module
    assert getattr(sys.modules[type(old).__module__], type(old).__name__) is type(old)  # what pickle checks
    assert not torch.equal(new(seen["x"]), old(seen["x"]))  # the edit made another model
    buffer = io.BytesIO()
    torch.save(old, buffer)
    pickle.dumps(old)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    assert type(again) is type(old)
    with torch.no_grad():
        torch.testing.assert_close(again(seen["x"]), seen["y"], rtol=0, atol=0)


def test_a_model_saved_before_its_template_was_edited_loads_as_it_ran(folder: Path, tmp_path: Path) -> None:
    """Another process loads the file saved before the edit: the old code, the outputs recorded then."""
    old, new, _ = _saved_then_edited(tmp_path)
    result = _run(f"""
        import torch
        saved = torch.load({str(tmp_path / "old.pt")!r}, weights_only=False)
        with torch.no_grad():
            y = saved["model"](saved["x"])
        print(type(saved["model"]).__module__)
        print(bool(torch.equal(y, saved["y"])))
    """, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [type(old).__module__, "True"]
    assert (folder / (type(old).__module__.rsplit(".", 1)[1] + ".py")).is_file()  # both files kept
    assert (folder / (type(new).__module__.rsplit(".", 1)[1] + ".py")).is_file()


def test_another_process_builds_the_edited_template_and_the_first_again_after_it_is_undone(
        folder: Path, tmp_path: Path, compilations: list[str]) -> None:
    old, new, _ = _saved_then_edited(tmp_path)
    code = f"import vibench; print(type(vibench.build({str(tmp_path / 'user.yaml')!r})).__module__)"
    result = _run(code, folder)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [type(new).__module__]
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    assert type(vibench.build(str(tmp_path / "user.yaml"))) is type(old)  # the first code: its module
    assert compilations == ["User", "User", "User"]


@pytest.mark.parametrize("cache_on", ["1", "0"])
def test_after_clear_cache_a_rebuild_gives_the_class_of_the_models_built_before(
        cache_on: str, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """clear_cache() then a build of the same spec: its code is the same, so is its module and class."""
    monkeypatch.setenv("VIBENCH_CACHE", cache_on)
    before = vibench.build("cnn/TCN", num_classes=3).eval()
    vibench.clear_cache()
    torch.save(before, io.BytesIO())
    after = vibench.build("cnn/TCN", num_classes=3).eval()
    assert compilations == ["TCN", "TCN"]  # compiled again
    assert type(after) is type(before) and isinstance(before, type(after))
    torch.save(before, io.BytesIO())
    pickle.dumps(before)
    after.load_state_dict(before.state_dict())


def test_a_model_whose_module_was_evicted_fails_to_load_by_its_module_name(folder: Path, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The docs' promise holds while the cache file exists; after, torch.load says which module is gone."""
    monkeypatch.setenv("VIBENCH_CACHE_MAX", "1")
    old, new, _ = _saved_then_edited(tmp_path)  # the second store evicts the first model's files
    assert not (folder / (type(old).__module__.rsplit(".", 1)[1] + ".py")).exists()
    torch.save(old, io.BytesIO())  # in this process its module is still imported
    result = _run(f"import torch; torch.load({str(tmp_path / 'old.pt')!r}, weights_only=False)", folder)
    assert result.returncode != 0
    assert f"ModuleNotFoundError: No module named '{type(old).__module__}'" in result.stderr


def test_an_index_naming_no_module_is_a_miss(folder: Path, compilations: list[str]) -> None:
    from tests.test_build_cache import SPEC

    name = type(vibench.build(text=SPEC)).__module__
    (index,) = folder.glob("k_*")
    for damage in ("", "m_nothex\n", "m_" + "0" * 32 + "\n"):
        index.write_text(damage)
        cache._memory.clear()
        assert type(vibench.build(text=SPEC)).__module__ == name
    assert len(compilations) == 4
