"""model.py's `load_reference_state_dict` refuses a checkpoint file that torch cannot read as the runtime's
loader does (docs/phm.md): with an error that is both a KeyError and a ValueError, in the runtime's words,
the model left as it was. It raised torch's own exceptions: a RuntimeError for a truncated file or a zip
torch did not write, an UnpicklingError with torch's long advice for a Lightning checkpoint's
hyper-parameters or a plain pickle, a FileNotFoundError for a missing file."""

from __future__ import annotations

import argparse
import pickle
import types
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

ADVICE = "if you trust the file, "  # where the two loaders' hints part: model.py's loader has no weights_only


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    module = types.ModuleType("emitted_tiny_1206e")
    exec(compile(vibench.compile_spec(text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    return module


def weights() -> dict[str, torch.Tensor]:
    return {"network.classifier.weight": torch.randn(2, 3), "network.classifier.bias": torch.randn(2)}


def truncated(path: Path) -> None:
    torch.save(weights(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def foreign_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", "not torch's")


def lightning_with_hyper_parameters(path: Path) -> None:
    torch.save({"state_dict": weights(), "hyper_parameters": argparse.Namespace(lr=0.1)}, path)


def plain_pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps({"network.classifier.bias": [0.5, 0.5]}, protocol=4))


def empty(path: Path) -> None:
    path.write_bytes(b"")


FILES: dict[str, tuple[Callable[[Path], None], str]] = {  # how the file is made, words of the message
    "truncated": (truncated, "the file ends early (truncated?)"),
    "a zip torch did not write": (foreign_zip, "the file is damaged or not a PyTorch checkpoint (torch: "),
    "a Lightning checkpoint with hyper-parameters": (lightning_with_hyper_parameters,
                                                     "torch's weights_only refused GLOBAL argparse.Namespace. "),
    "a plain pickle": (plain_pickle, "the file is damaged or not a PyTorch checkpoint (torch: "),
    "empty": (empty, "is not a PyTorch checkpoint (torch.save writes a zip archive; it is empty)"),
    "missing": (lambda path: None, "cannot read the checkpoint "),
}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("case", sorted(FILES))
def test_the_model_py_loader_refuses_an_unreadable_file_in_the_runtime_s_words(
        tiny: types.ModuleType, tmp_path: Path, case: str) -> None:
    make, words = FILES[case]
    path = tmp_path / "last.ckpt"
    make(path)
    texts = []
    for load in (tiny.load_reference_state_dict, runtime_loader):
        model = tiny.Tiny()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(KeyError) as err:
            load(model, path)
        assert isinstance(err.value, ValueError), load
        assert err.value.__cause__ is None  # torch's traceback and advice left out
        assert err.value.__context__ is None or err.value.__suppress_context__
        assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
        texts.append(str(err.value))
    emitted, runtime = texts
    assert words in emitted and str(path) in emitted and "\n" not in emitted and len(emitted) < 600
    assert emitted.partition(ADVICE)[0] == runtime.partition(ADVICE)[0]
    if ADVICE in emitted:  # the hint a model.py user can follow: there is no --trust-checkpoint beside model.py
        assert "torch.load(path, weights_only=False)" in emitted and "--trust-checkpoint" not in emitted


def test_the_model_py_loader_still_reads_a_good_file_as_the_runtime_s(tiny: types.ModuleType, tmp_path: Path) -> None:
    torch.save({"state_dict": weights(), "epoch": 3}, tmp_path / "good.ckpt")
    states = []
    for load in (tiny.load_reference_state_dict, runtime_loader):
        model = tiny.Tiny()
        assert tuple(load(model, str(tmp_path / "good.ckpt"))) == ([], [])
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def lightning_checkpoint(path: Path, padding: int) -> None:
    """A Lightning checkpoint as PHM-Vibench saves one (the model's keys under `network.`, the trainer's state
    beside them), made ``padding`` floats larger by an optimizer state."""
    torch.save({"state_dict": weights(), "epoch": 3, "global_step": 120, "optimizer_states": [
        {"state": {0: {"exp_avg": torch.randn(padding)}}, "param_groups": [{"lr": 1e-3, "params": [0]}]}]}, path)


@pytest.mark.parametrize("padding", [10_000, 40_000])  # files of about 45 KB and 165 KB
def test_a_checkpoint_cut_anywhere_ends_early_in_both_loaders(
        tiny: types.ModuleType, tmp_path: Path, padding: int) -> None:
    """torch's zip reader looks for the central directory in the last ~64 KiB of a file: in a file cut under
    that it seeks past the start and raises OSError(EINVAL) - 'cannot read the checkpoint cut.ckpt: Invalid
    argument', as if the file could not be opened. A cut file ends early wherever it was cut."""
    whole = tmp_path / "whole.ckpt"
    lightning_checkpoint(whole, padding)
    data = whole.read_bytes()
    cuts = [cut for cut in sorted({*range(len(data) // 9, len(data), len(data) // 9), 2_000, 60_000, len(data) - 1})
            if cut < len(data)]
    raised = set()
    for cut in cuts:
        path = tmp_path / "cut.ckpt"
        path.write_bytes(data[:cut])
        try:
            torch.load(path, weights_only=True)
        except Exception as err:  # noqa: BLE001 - which kinds torch raises, for the test to show both were met
            raised.add(type(err))
        for load in (tiny.load_reference_state_dict, runtime_loader):
            model = tiny.Tiny()
            with pytest.raises(KeyError) as err:
                load(model, path)
            assert str(err.value) == f"cannot read the checkpoint {path}: the file ends early (truncated?)", cut
    assert OSError in raised and RuntimeError in raised  # cut below and above the reader's 64 KiB


def test_what_the_os_refuses_is_still_said_in_its_words(tiny: types.ModuleType, tmp_path: Path) -> None:
    for load in (tiny.load_reference_state_dict, runtime_loader):
        with pytest.raises(KeyError, match=r": Is a directory$"):
            load(tiny.Tiny(), tmp_path)
