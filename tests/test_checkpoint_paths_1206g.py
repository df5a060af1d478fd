"""Both checkpoint loaders (the runtime's and model.py's) refuse a path that is no regular file in the
same words, without waiting: a FIFO hung ``torch.load``'s open until a writer came, and a path holding
NUL raised a plain ValueError ("embedded null byte") instead of the loaders' KeyError/ValueError."""

from __future__ import annotations

import os
import threading
import types
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    module = types.ModuleType("emitted_tiny_1206g")
    exec(compile(vibench.compile_spec(text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    return module


def refusal(load, model: torch.nn.Module, path: object) -> str:
    """The message ``load`` refuses ``path`` with, run in a thread so that a load that waits fails the test."""
    got: list[BaseException | None] = []

    def run() -> None:
        try:
            load(model, path)
        except BaseException as err:  # noqa: BLE001 - handed to the test to check its kind
            got.append(err)
        else:
            got.append(None)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive() and isinstance(path, Path):  # free an open blocked on a FIFO, then fail below
        with open(os.open(path, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
        worker.join(60)
    assert got and isinstance(got[0], KeyError) and isinstance(got[0], ValueError), got
    return str(got[0])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_without_waiting(tiny: types.ModuleType, tmp_path: Path) -> None:
    fifo = tmp_path / "last.ckpt"
    os.mkfifo(fifo)
    for load in (tiny.load_reference_state_dict, runtime_loader):
        text = refusal(load, tiny.Tiny(), fifo)
        assert text == f"cannot read the checkpoint {fifo}: it is not a regular file", load


def test_a_folder_is_refused(tiny: types.ModuleType, tmp_path: Path) -> None:
    for load in (tiny.load_reference_state_dict, runtime_loader):
        text = refusal(load, tiny.Tiny(), tmp_path)
        assert text.startswith(f"cannot read the checkpoint {tmp_path}: "), text
        assert "regular file" in text or "Is a directory" in text, text


def test_a_path_holding_nul_is_refused_in_the_loaders_words(tiny: types.ModuleType, tmp_path: Path) -> None:
    texts = [refusal(load, tiny.Tiny(), str(tmp_path / "a\0b.ckpt"))
             for load in (tiny.load_reference_state_dict, runtime_loader)]
    assert texts[0] == texts[1]
    assert texts[0].startswith("cannot read the checkpoint ") and "null" in texts[0], texts[0]
