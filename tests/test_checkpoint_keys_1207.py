"""A checkpoint key in a message costs what is shown, whatever the key holds (both loaders: vibench.runtime.checkpoint's
and model.py's), where QA found it unbounded after the keys of over 100,000 parts were written part by part:

* a 41 KB file whose key is one 40,000-character string shared in t = (t, t) 14 times over (16,000 parts, written
  whole by repr): 650 MB of text, 4 s, 1.2 GB of memory (a 1 MB file asked for 32 GB);
* 40 keys each a tuple of 4,096 shared references to one 50x50 tensor: every bad key's text was made, not only the 8
  listed, each tensor by its repr: 66 s.
"""

from __future__ import annotations

import tracemalloc
import types
from collections.abc import Callable
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.runtime.checkpoint import _key
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

PEAK = 2_000_000
"""The most bytes Python allocates while either loader refuses such a checkpoint (its message is a few KB)."""


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    module = types.ModuleType("emitted_checkpoint_keys_1207")
    exec(compile(vibench.compile_spec(None, text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    return module


def shared(leaf: object, levels: int) -> object:
    """t = (t, t) ``levels`` times over ``leaf``: 2**levels references to it, each level one tuple."""
    for _ in range(levels):
        leaf = (leaf, leaf)
    return leaf


def refusals(tiny: types.ModuleType, checkpoint: dict[Any, Any]) -> list[str]:
    """What each loader says of ``checkpoint``, each within :data:`PEAK` bytes of Python's memory."""
    texts = []
    loads: list[Callable[..., Any]] = [tiny.load_reference_state_dict, runtime_loader]
    for load in loads:
        model = tiny.Tiny()
        tracemalloc.start()
        try:
            with pytest.raises(KeyError) as err:
                load(model, checkpoint)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < PEAK, (load.__module__, peak)
        texts.append(str(err.value))
    return texts


def test_a_long_string_shared_many_times_is_written_as_far_as_shown(tiny: types.ModuleType) -> None:
    key = shared("x" * 40_000, 14)  # repr: 16,383 tuples, 16,384 copies of the string: 655 MB
    shown = ("(" * 14 + "'" + "x" * 120)[:120] + "..."
    assert _key(key) == shown
    texts = refusals(tiny, {key: torch.zeros(1)})
    assert all(f"{shown} (Tensor)" in text and len(text) < 400 for text in texts), texts


def test_only_the_keys_listed_are_written_and_a_tensor_by_its_shape(tiny: types.ModuleType) -> None:
    written: list[int] = []

    class Counted(torch.Tensor):  # counts how often a key's tensor is written
        @property
        def shape(self) -> torch.Size:
            written.append(1)
            return super().shape

    tensor = torch.randn(50, 50).as_subclass(Counted)
    checkpoint = {shared((tensor, i), 12): torch.zeros(1) for i in range(40)}  # 4,096 of it in each key
    texts = refusals(tiny, checkpoint)
    listed = [repr(shared(("T", i), 12)).replace("'T'", "<Counted [50, 50] float32>")[:120] for i in range(8)]
    assert all(", ".join(f"{key}... (Tensor)" for key in listed) + ", ... (32 more)" in text for text in texts), texts
    tensors = sum(key.count("<Counted") for key in listed)  # those shown, in the 8 keys listed
    assert 2 * tensors <= len(written) <= 2 * (tensors + 8)  # by each loader, and one a key that the clipping cuts


def test_each_part_is_written_by_its_kind_never_by_an_object_s_repr(tiny: types.ModuleType) -> None:
    class Costly:
        def __repr__(self) -> str:
            raise AssertionError("repr called")

    key = (b"y" * 10**6, 10**5000, 2.5, None, True, frozenset({3}), frozenset(), (), ("one",), Costly())
    shown = (f"({b'y' * 124!r}, <int of {(10**5000).bit_length():,} bits>, 2.5, None, True, frozenset({{3}}), "
             "frozenset(), (), ('one',), <Costly object>)")
    assert _key(key[1:]) == shown[:1] + shown[shown.index("<int"):]
    assert _key(key) == shown[:120] + "..."
    texts = refusals(tiny, {key[1:]: torch.zeros(1), torch.zeros(2, 3, dtype=torch.float64): torch.zeros(1)})
    entries = shown[:1] + shown[shown.index("<int"):] + " (Tensor), <Tensor [2, 3] float64> (Tensor)"
    assert all(entries in text for text in texts), texts
