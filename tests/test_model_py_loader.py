"""The `load_reference_state_dict` that model.py carries (nothing but torch) against the runtime's
(vibench.runtime.checkpoint): all or nothing alike, refusing the same checkpoints with the model left as
it was, loading the same ones to the same weights, and saying what is wrong in words. And the library's
rename rules: a checkpoint already in a model's own names (vibench's model.pt given back) is no
reference checkpoint to rename again."""

from __future__ import annotations

import re
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.golden_cases import LIBRARY_CASES
from tests.helpers import EXAMPLES, TINY_REFERENCE_SPEC
from vibench.runtime.checkpoint import convert_reference_state_dict
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

TINY = TINY_REFERENCE_SPEC


def emitted(text: str, name: str = "emitted_tiny") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(vibench.compile_spec(text=text).source, name, "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    return emitted(TINY)


def sevens(module: types.ModuleType) -> torch.nn.Module:
    model = module.Tiny()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)
    return model


def loaders(module: types.ModuleType) -> list[tuple[str, Callable[..., Any]]]:
    return [("model.py", module.load_reference_state_dict), ("runtime", runtime_loader)]


def net(weight: torch.Tensor, bias: torch.Tensor | None = None) -> dict[str, Any]:
    return {"network.classifier.weight": weight, "network.classifier.bias": torch.full((2,), -1.0) if bias is None
            else bias}


def failing_post_hook(model: torch.nn.Module) -> torch.nn.Module:
    def hook(module: torch.nn.Module, keys: Any) -> None:
        raise RuntimeError("a loading hook failed")

    model.head.register_load_state_dict_post_hook(hook)  # runs after the head's tensors were copied
    return model


BAD: dict[str, tuple[Any, bool]] = {  # checkpoint, strict
    "meta weight (the copy fails)": (net(torch.empty(2, 3, device="meta")), True),
    "complex weight": (net(torch.full((2, 3), 1 + 5j)), True),
    "bool weight": (net(torch.ones(2, 3, dtype=torch.bool)), True),
    "int64 weight": (net(torch.ones(2, 3, dtype=torch.int64)), True),
    "sparse weight": (net(torch.ones(2, 3).to_sparse()), True),
    "two keys renamed to one": ({**net(torch.ones(2, 3)), "network.head.weight": torch.zeros(2, 3)}, True),
    "shape mismatch": (net(torch.ones(5, 3)), False),
    "missing key": ({"network.classifier.weight": torch.ones(2, 3)}, True),
    "unexpected key": ({**net(torch.ones(2, 3)), "network.classifier.extra": torch.ones(1)}, True),
    "a value that is no tensor": ({**net(torch.ones(2, 3)), "network.step": 7}, False),
    "an int key": ({1: torch.ones(1)}, True),
    "a Lightning checkpoint whose state_dict is no mapping": ({"state_dict": 5}, True),
    "a list": ([torch.ones(2, 3)], True),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_both_loaders_refuse_a_bad_checkpoint_and_leave_the_model_as_it_was(tiny: types.ModuleType, case: str) -> None:
    """model.py's loader copied the bias before a meta weight failed, kept a complex weight's real part and a
    bool weight as 1.0 with a warning at most, and kept the last of two keys renamed to one."""
    checkpoint, strict = BAD[case]
    for who, load in loaders(tiny):
        model = sevens(tiny)
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(KeyError) as err:
                load(model, checkpoint, strict=strict)
        assert isinstance(err.value, ValueError), who
        after = model.state_dict()
        assert all(torch.equal(after[k], v) for k, v in before.items()), f"{who} changed the model: {case}"


def test_both_loaders_restore_the_model_when_a_loading_hook_fails(tiny: types.ModuleType) -> None:
    for who, load in loaders(tiny):
        model = failing_post_hook(sevens(tiny))
        with pytest.raises(KeyError, match="a loading hook failed.*the model was restored"):
            load(model, net(torch.ones(2, 3)))
        assert model.head.weight.eq(7).all() and model.head.bias.eq(7).all(), who


GOOD: dict[str, tuple[Any, bool]] = {
    "plain state_dict": ({"classifier.weight": torch.randn(2, 3), "classifier.bias": torch.randn(2)}, True),
    "Lightning checkpoint": ({"state_dict": {**net(torch.randn(2, 3)), "loss.weight": torch.ones(1)},
                              "epoch": 3}, True),
    "float64 weights into float32": (net(torch.randn(2, 3, dtype=torch.float64)), True),
    "one tensor under two names": ({**net(torch.ones(2, 3)), "network.head.weight": torch.ones(2, 3)}, True),
    "missing, not strict": ({"network.classifier.bias": torch.randn(2)}, False),
    "unexpected, not strict": ({**net(torch.randn(2, 3)), "network.step": torch.tensor(7)}, False),
    "own names": ({"head.weight": torch.randn(2, 3), "head.bias": torch.randn(2)}, True),
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_both_loaders_load_a_good_checkpoint_alike(tiny: types.ModuleType, case: str) -> None:
    checkpoint, strict = GOOD[case]
    results, states = [], []
    for _, load in loaders(tiny):
        model = sevens(tiny)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the runtime warns of keys left aside
            results.append(tuple(load(model, checkpoint, strict=strict)))
        states.append(model.state_dict())
    assert results[0] == results[1]
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) and states[0][k].dtype == states[1][k].dtype for k in states[0])
    assert not states[0]["head.weight"].eq(7).all() or case == "missing, not strict"


def test_both_loaders_read_a_checkpoint_file_alike(tiny: types.ModuleType, tmp_path: Path) -> None:
    torch.save({"state_dict": net(torch.randn(2, 3))}, tmp_path / "last.ckpt")
    (tmp_path / "notes.pt").write_text("hello\n")
    states = []
    for who, load in loaders(tiny):
        model = sevens(tiny)
        assert tuple(load(model, tmp_path / "last.ckpt")) == ([], []), who
        states.append(model.state_dict())
        with pytest.raises(KeyError, match=r"notes\.pt'? is not a PyTorch checkpoint \(torch\.save writes a zip"):
            load(model, str(tmp_path / "notes.pt"))  # model.py's said `KeyError: 101`
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def message(module: types.ModuleType, checkpoint: Any, strict: bool = True) -> str:
    with pytest.raises(KeyError) as err:
        module.load_reference_state_dict(module.Tiny(), checkpoint, strict=strict)
    return str(err.value)  # not quoted as a KeyError's


@pytest.mark.parametrize(("checkpoint", "words"), [
    ({1: torch.ones(1)}, "a reference checkpoint maps names (str) to tensors; entries that do not (1): 1 (Tensor)"),
    ({"state_dict": 5}, "maps names (str) to tensors; entries that do not (1): 'state_dict' (int)"),
    ([1, 2], "a reference checkpoint is a mapping of names to tensors, found list"),
    (net(torch.empty(2, 3, device="meta")), "entries that do not (1): 'classifier.weight' (meta tensor)"),
    (net(torch.ones(5, 3)), "the reference checkpoint does not fit Tiny after renaming; nothing was loaded: shape or "
                            "dtype mismatch (1): 'head.weight' (model [2, 3] float32, checkpoint [5, 3] float32)"),
    (net(torch.full((2, 3), 1j)), "shape or dtype mismatch (1): 'head.weight' (model [2, 3] float32, checkpoint "
                                  "[2, 3] complex64)"),
    ({**net(torch.ones(2, 3)), "network.head.weight": torch.zeros(2, 3)},
     "reference keys collide after renaming: 'classifier.weight' and 'head.weight' hold different tensors and both "
     "map to 'head.weight'"),
    ({"network.classifier.bias": torch.ones(2)}, "nothing was loaded: missing (1): 'head.weight'"),
])
def test_the_model_py_loader_says_what_is_wrong(tiny: types.ModuleType, checkpoint: Any, words: str) -> None:
    """`AttributeError: 'int' object has no attribute 'startswith'` (an int key), `... no attribute 'items'` (a
    Lightning checkpoint whose state_dict is 5), `shape ['head.weight']` with no shapes."""
    assert words in message(tiny, checkpoint)


def test_the_model_py_loader_lists_eight_keys_of_a_kind_each_clipped(tiny: types.ModuleType) -> None:
    extra = {f"network.extra.{i:02d}": torch.ones(1) for i in range(20)}
    text = message(tiny, {**net(torch.ones(2, 3)), **extra, "network." + "x\n" * 400: torch.ones(1)})
    assert "unexpected (21): 'extra.00', 'extra.01'" in text and "'extra.07', ... (13 more)" in text
    assert "extra.08" not in text and "\n" not in text and len(text) < 1500
    long_key = {**net(torch.ones(2, 3)), "network." + "k" * 5000: torch.ones(1)}
    text = message(tiny, long_key)
    assert "'network.kkkk" in text and "..." in text and len(text) < 400  # over 1,024 characters: refused


def test_the_model_py_loader_is_a_key_error_and_a_value_error(tiny: types.ModuleType) -> None:
    with pytest.raises(ValueError, match="unexpected"):  # what a strict key mismatch raised (KeyError) kept
        tiny.load_reference_state_dict(tiny.Tiny(), {**net(torch.ones(2, 3)), "network.x": torch.ones(1)})


def library_models() -> list[tuple[str, str, dict]]:
    return [(spec, name, params) for spec, name, params in
            [(e, Path(e).stem, {}) for e in EXAMPLES] + [(s, Path(g).stem, p) for s, g, p in LIBRARY_CASES]]


@pytest.mark.parametrize(("spec", "params"), [(s, p) for s, _, p in library_models()],
                         ids=[n for _, n, _ in library_models()])
def test_renaming_the_model_s_own_state_dict_changes_nothing(spec: str, params: dict) -> None:
    """H_01's `^mutiple_fc\\.` -> `mutiple_fc.heads.` made vibench's own model.pt, given back as a reference
    checkpoint, `mutiple_fc.heads.heads.1.weight` (so for the other per-system heads, TSPN's operators and
    MultiScaleCNN's branches): every rule must leave the names it writes alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = vibench.build(spec, **params)
    renames = getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", ())
    own = model.state_dict()
    renamed = convert_reference_state_dict(own, renames)
    changed = {k: n for k, n in zip(own, renamed, strict=True) if k != n}
    assert not changed, f"the renames rewrite the model's own keys: {dict(list(changed.items())[:4])}"


def test_vibench_s_own_weights_load_back_through_both_loaders() -> None:
    """d14: a reference checkpoint -> model.pt (renamed), given back as --weights, was refused (`missing:
    task_head.mutiple_fc.heads.1.bias ... unexpected: task_head.mutiple_fc.heads.heads.1.bias`)."""
    module = types.ModuleType("emitted_h01")
    source = vibench.compile_spec("isfm/task_head/H_01_Linear_cla", params={"num_classes": {1: 5, 2: 3}}).source
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    own = module.H_01_Linear_cla().state_dict()
    assert any(re.search(r"mutiple_fc\.heads\.1\.", k) for k in own)
    for who, load in loaders(module):
        model = module.H_01_Linear_cla()
        assert tuple(load(model, {"network." + k: v for k, v in own.items()})) == ([], []), who
        assert all(torch.equal(model.state_dict()[k], v) for k, v in own.items()), who
