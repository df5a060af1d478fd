"""Checkpoint loading and vibench-compile's output writing, where QA found them wrong:

* a checkpoint key nested 1,000 tuples deep was an internal error (RecursionError writing it in a message), and
  one nested 200,000 deep (a 400 KB file) crashed the process in torch's unpickler (hashing it in C), under
  weights_only too, in the runtime's loader, model.py's and vibench-compile alike: the pickle is now walked before
  torch.load reads it (vibench.runtime.checkpoint_pickle), and a key is written whatever its repr does;
* SIGTERM or Ctrl-C while torch was imported was swallowed (torch's C import clears the exception), and
  vibench-compile wrote every file and exited 0; one right after a temporary file was made left it behind;
* model.pt was called "--weights model.pt" where it could not be written or was written before a signal; an -o
  that is a link to model.pt was said the other way round;
* a trusted checkpoint whose objects need a module that is not installed was "damaged"; a file name that is no
  UTF-8 was written two ways in one message; load_reference_state_dict's wrong arguments were torch's errors, or
  silently taken (strict="no").
"""

from __future__ import annotations

import doctest
import errno
import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import ROOT, TINY_REFERENCE_SPEC
from vibench.compiler import cli, outputs
from vibench.compiler.cli_streams import Terminated
from vibench.runtime import checkpoint
from vibench.runtime.checkpoint import ReferenceCheckpointError, _key, read_checkpoint
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

NESTED = "nests objects more than 1000 levels deep"


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    module = types.ModuleType("emitted_checkpoint_1206i")
    exec(compile(vibench.compile_spec(None, text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    return module


def zipped(path: Path, pickled: bytes, name: str = "data.pkl") -> Path:
    """A checkpoint archive as torch.save lays it out (stored entries), holding ``pickled`` as its data.pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"deep/{name}", pickled)
        archive.writestr("deep/byteorder", "little")
        archive.writestr("deep/version", "3\n")
    return path


def deep_key(depth: int) -> bytes:
    """{((...(),...),): 1}: a dict whose key is a tuple nested ``depth`` deep, as QA's mkdeep.py writes it."""
    return b"\x80\x02}(" + b"(" * depth + b")" + b"t" * depth + b"K\x01u."


def refusals(module: types.ModuleType, path: Path) -> list[str]:
    """Both loaders' messages for the checkpoint file ``path``, each a ReferenceCheckpointError."""
    texts = []
    for load in (module.load_reference_state_dict, runtime_loader):
        with pytest.raises(KeyError) as info:
            load(module.Tiny(), str(path))
        assert isinstance(info.value, ValueError)
        texts.append(str(info.value))
    assert texts[0] == texts[1], texts
    return texts


# --------------------------------------------------------------------------------------------
# a pickle nested deep
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pickled, where", [
    (deep_key(1000), 1003),  # QA's: MARKs, closed by TUPLE
    (b"\x80\x02})" + b"\x85" * 1500 + b"K\x01s.", 1004),  # TUPLE1 of TUPLE1 ..., no MARK at all
    # a tuple 600 deep kept in the memo, taken again and nested 600 more: 1,200 deep
    (b"\x80\x02})" + b"\x85" * 600 + b"r\x00\x00\x00\x000h\x00" + b"\x85" * 600 + b"K\x01s.", 1012),
    (b"\x80\x02}X\x01\x00\x00\x00k" + b"]" * 1500 + b"a" * 1499 + b"s.", 2509),  # lists appended into lists
    (b"\x80\x02)(0" + b"\x85" * 1500 + b".", 1005),  # a POP with nothing above the MARK takes the MARK, not the ()
])
def test_a_pickle_nested_past_the_limit_is_refused_by_both_loaders(tiny: types.ModuleType, tmp_path: Path,
                                                                  pickled: bytes, where: int) -> None:
    path = zipped(tmp_path / "deep.pt", pickled)
    message = refusals(tiny, path)[0]
    assert message == (f"cannot read the checkpoint {path}: its pickle 'deep/data.pkl' {NESTED} (at byte {where:,}); "
                       "vibench reads no checkpoint nested so deep, as unpickling it could crash torch's reader: save "
                       "the model's state_dict alone")


def test_a_legacy_checkpoint_and_a_plain_pickle_are_walked_too(tiny: types.ModuleType, tmp_path: Path) -> None:
    key: tuple = ()
    for _ in range(1500):
        key = (key,)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # pickle.dump recurses once a level
    try:
        torch.save({key: torch.zeros(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
        (tmp_path / "plain.pt").write_bytes(pickle.dumps({key: 1}, protocol=2))
    finally:
        sys.setrecursionlimit(limit)
    for name in ("legacy.pt", "plain.pt"):  # the object is the legacy file's fourth pickle, the plain one's first
        assert f"its pickle {NESTED}" in refusals(tiny, tmp_path / name)[0]


def two_directories(path: Path, checked: bytes, loaded: bytes) -> Path:
    """QA's twocd.py: the end record points at a directory whose data.pkl holds ``loaded`` (what miniz, torch's
    reader, reads), while zipfile reads the one just before the end record (adding its "concat" to the offsets),
    whose data.pkl holds ``checked``."""
    import struct
    import zlib

    def local(name: bytes, data: bytes) -> bytes:
        return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data),
                           len(name), 0) + name + data

    def central(name: bytes, data: bytes, offset: int) -> bytes:
        return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data),
                           len(name), 0, 0, 0, 0, 0, offset) + name

    sets = [[(b"deep/data.pkl", pickled), (b"deep/byteorder", b"little"), (b"deep/version", b"3\n")]
            for pickled in (loaded, checked)]
    body, offsets = b"", []
    for entries in sets:
        offsets.append([])
        for name, data in entries:
            offsets[-1].append(len(body))
            body += local(name, data)
    first = b"".join(central(n, d, at) for (n, d), at in zip(sets[0], offsets[0], strict=True))
    second = b"".join(central(n, d, at - len(first)) for (n, d), at in zip(sets[1], offsets[1], strict=True))
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 3, 3, len(first), len(body), 0)
    path.write_bytes(body + first + second + end)
    return path


@pytest.mark.parametrize("make", [
    lambda path, pickled: zipped(path, pickled),
    lambda path, pickled: zipped(path, pickled, "data.PKL"),  # miniz finds data.pkl in any case
    lambda path, pickled: two_directories(path, b"\x80\x02}X\x01\x00\x00\x00aK\x01s.", pickled),
])
def test_a_key_nested_200000_deep_no_longer_crashes_any_loader(tmp_path: Path, make: Callable[..., Path]) -> None:
    path = make(tmp_path / "deep.pt", deep_key(200_000))
    (tmp_path / "tiny.yaml").write_text(TINY_REFERENCE_SPEC, encoding="utf-8")
    script = """
import types, vibench
from vibench.runtime.checkpoint import load_reference_state_dict
module = types.ModuleType("m")
exec(vibench.compile_spec(None, text=open("tiny.yaml").read()).source, module.__dict__)
for load in (module.load_reference_state_dict, load_reference_state_dict):
    try:
        load(module.Tiny(), "deep.pt")
    except KeyError as err:
        print(err)
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]  # -11 before: a segmentation fault
    said = NESTED if "not laid out" not in run.stdout else "is not laid out as torch.save writes it"
    assert run.stdout.count(said) == 2, run.stdout
    command = [sys.executable, "-m", "vibench.compiler.cli", "tiny.yaml", "-o", "m.py", "--weights", str(path)]
    for extra in ([], ["--format", "json"], ["--trust-checkpoint"]):
        run = subprocess.run(command + extra, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"})
        assert run.returncode == 2, run.stderr[-2000:]
        assert said in run.stdout + run.stderr and "Traceback" not in run.stderr
    assert sorted(os.listdir(tmp_path)) == ["deep.pt", "tiny.yaml"]


def test_what_torch_save_writes_is_not_refused(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.LSTM(4, 4, 2))
    optimizer = torch.optim.Adam(model.parameters())
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    lightning = {"epoch": 3, "state_dict": {f"network.{k}": v for k, v in model.state_dict().items()},
                 "optimizer_states": [optimizer.state_dict()], "lr_schedulers": [{"base_lrs": [0.1]}],
                 "hyper_parameters": {"args": {"model": {"a": {"b": [1, 2, {"c": (1, 2)}]}}}}}
    torch.save(lightning, tmp_path / "lightning.ckpt")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"w": torch.zeros(3), "many": list(range(300_000)), "map": dict.fromkeys(range(100_000), 1)},
               tmp_path / "wide.pt")  # long lists and dicts are filled in batches: none adds a level
    nested = torch.nn.Linear(2, 2)
    for _ in range(20):
        nested = torch.nn.Sequential(nested)  # a whole model pickled: about 3 levels a module (69)
    torch.save(nested, tmp_path / "model.pt")
    assert read_checkpoint(tmp_path / "lightning.ckpt")["epoch"] == 3
    assert list(read_checkpoint(tmp_path / "legacy.pt")) == list(model.state_dict())
    assert len(read_checkpoint(tmp_path / "wide.pt")["many"]) == 300_000
    assert isinstance(read_checkpoint(tmp_path / "model.pt", weights_only=False), torch.nn.Sequential)


def test_a_zip_entry_is_read_from_its_local_header_without_its_crc(tmp_path: Path) -> None:
    """torch's reader checks no CRC: a file whose CRCs are wrong loads, and the walk (which zipfile's read would
    refuse) reads it as torch does."""
    saved = io.BytesIO()
    torch.save({"w": torch.ones(2)}, saved)
    data = bytearray(saved.getvalue())
    crc = zipfile.ZipFile(saved).getinfo("archive/data.pkl").CRC.to_bytes(4, "little")
    at = data.find(crc)
    while at >= 0:
        data[at] ^= 0xFF
        at = data.find(crc, at + 4)
    (tmp_path / "crc.pt").write_bytes(bytes(data))
    assert read_checkpoint(tmp_path / "crc.pt")["w"].tolist() == [1.0, 1.0]


def test_the_pickle_module_s_examples_run() -> None:
    from vibench.runtime import checkpoint_pickle

    assert doctest.testmod(checkpoint_pickle).failed == 0


def test_a_key_is_written_whatever_its_repr_does(tiny: types.ModuleType) -> None:
    deep: tuple = ()
    for _ in range(5000):
        deep = (deep,)

    class Loud:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    # written part by part without recursion (tests/test_checkpoint_keys_1207.py): as far as shown; an object by its
    # type, its repr never called
    assert _key(deep) == "(" * 120 + "..."
    assert _key(Loud()) == "<Loud object>"
    texts = []
    for load in (tiny.load_reference_state_dict, runtime_loader):
        with pytest.raises(KeyError) as info:
            load(tiny.Tiny(), {deep: torch.zeros(2), Loud(): torch.zeros(2)})
        texts.append(str(info.value))
    assert all("(" * 120 + "... (Tensor), <Loud object> (Tensor)" in text for text in texts), texts


# --------------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------------

def signalled(signum: int, function: Callable[..., Any], swallow: bool) -> Callable[..., Any]:
    """``function`` that signals itself first, the exception its handler raises swallowed (as torch's C import of
    numpy clears it), or, without ``swallow``, right after ``function`` returned."""
    def run(*args: Any, **kwargs: Any) -> Any:
        result = None if swallow else function(*args, **kwargs)
        try:
            signal.pthread_kill(threading.get_ident(), signum)
            for _ in range(10_000):  # the handler runs between bytecodes
                pass
        except BaseException:  # noqa: BLE001 - what the stand-in imitates
            if not swallow:
                raise
        return function(*args, **kwargs) if swallow else result
    return run


@pytest.fixture
def compile_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY_REFERENCE_SPEC, encoding="utf-8")
    torch.save({"classifier.weight": torch.zeros(2, 3), "classifier.bias": torch.ones(2)}, tmp_path / "good.pt")
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal
    yield tmp_path
    signal.signal(signal.SIGINT, before)


def outcome(command: list[str]) -> int:
    try:
        return cli.main(command)
    except Terminated as stop:
        return int(stop.code)  # type: ignore[arg-type]


@pytest.mark.parametrize("signum, code, said", [(signal.SIGTERM, 143, "terminated"),
                                               (signal.SIGINT, 130, "interrupted")])
@pytest.mark.parametrize("where", ["reading the checkpoint", "building the model"])
def test_a_signal_the_torch_import_swallowed_still_ends_the_command(
        compile_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        signum: int, code: int, said: str, where: str) -> None:
    if where == "reading the checkpoint":  # torch's import, checked once the file is read
        monkeypatch.setattr(checkpoint, "read_checkpoint", signalled(signum, checkpoint.read_checkpoint, True))
    else:  # anything after it: checked before the outputs are renamed
        monkeypatch.setattr(cli, "reference_weights", signalled(signum, cli.reference_weights, True))
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", "good.pt"]) == code  # 0 before, every file written
    assert capsys.readouterr().err == f"vibench-compile: {said}; no file written\n"
    assert sorted(os.listdir(compile_here)) == ["good.pt", "tiny.yaml"]


@pytest.mark.parametrize("nth", [1, 2, 3])
def test_a_signal_right_after_a_temporary_file_is_made_leaves_none(
        compile_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], nth: int) -> None:
    made = outputs.tempfile.mkstemp
    calls: list[None] = []

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return signalled(signal.SIGTERM, made, False)(*args, **kwargs) if len(calls) == nth else made(*args, **kwargs)

    monkeypatch.setattr(outputs.tempfile, "mkstemp", mkstemp)
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", "good.pt", "--graph", "g.html"]) == 143
    assert capsys.readouterr().err == "vibench-compile: terminated; no file written\n"
    assert sorted(os.listdir(compile_here)) == ["good.pt", "tiny.yaml"]  # a .vibench-*.tmp before


# --------------------------------------------------------------------------------------------
# how messages name model.pt
# --------------------------------------------------------------------------------------------

def test_model_pt_is_named_as_the_weights_file_where_it_cannot_be_written(
        compile_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    changed: list[int] = []

    def fchmod(fd: int, mode: int) -> None:  # the second file written, model.pt, is over the size limit
        changed.append(fd)
        if len(changed) == 2:
            raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(os, "fchmod", fchmod)
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", "good.pt"]) == 2
    assert capsys.readouterr().err == ("vibench-compile: cannot write the weights file m.pt (beside -o m.py): "
                                       "File too large\n")  # "--weights m.pt" before


def test_model_pt_is_named_as_the_weights_file_when_a_signal_came_while_it_was_written(
        compile_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    replace = os.replace
    monkeypatch.setattr(os, "replace", signalled(signal.SIGTERM, replace, False))  # taken once all are renamed
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", "good.pt"]) == 143
    assert capsys.readouterr().err == ("vibench-compile: terminated after writing -o m.py and the weights file m.pt "
                                       "(beside -o m.py)\n")


@pytest.mark.parametrize("links, said", [
    ({"m.py": "m.pt"}, "-o m.py is a link to the weights file m.pt beside it; remove the link or"),
    ({"m.pt": "m.py"}, "the weights file m.pt (beside -o m.py) is a link to -o m.py itself; remove the link or"),
    ({"m.py": "x", "m.pt": "x"}, "-o m.py and the weights file m.pt beside it name one file, {real}:"),
])
def test_the_name_that_is_a_link_is_the_one_said_so(compile_here: Path, capsys: pytest.CaptureFixture[str],
                                                    links: dict[str, str], said: str) -> None:
    for name in ("m.py", "m.pt", "x"):
        if name not in links:
            (compile_here / name).write_text("old\n")
    for name, to in links.items():
        os.symlink(to, compile_here / name)
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", "good.pt"]) == 2
    message = said.format(real=os.path.realpath(compile_here / "x")) + " choose another -o name"
    assert capsys.readouterr().err.splitlines()[0] == f"vibench-compile: usage error: {message}"


# --------------------------------------------------------------------------------------------
# what the checkpoint's messages say
# --------------------------------------------------------------------------------------------

def test_a_trusted_checkpoint_needing_a_module_not_installed_says_so(
        compile_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (compile_here / "fakemod_1206i.py").write_text("class Net:\n    pass\n")
    monkeypatch.syspath_prepend(str(compile_here))
    import fakemod_1206i  # type: ignore[import-not-found]

    torch.save({"net": fakemod_1206i.Net()}, compile_here / "module.ckpt")
    monkeypatch.delitem(sys.modules, "fakemod_1206i")
    (compile_here / "fakemod_1206i.py").unlink()
    with pytest.raises(ReferenceCheckpointError) as info:
        read_checkpoint(compile_here / "module.ckpt", weights_only=False)
    said = ("the checkpoint {} pickles objects of module 'fakemod_1206i', which must be importable to read it "
            "(install the code it was saved with), or save the model's state_dict alone")
    assert str(info.value) == said.format(compile_here / "module.ckpt")  # "damaged or not a PyTorch checkpoint"
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", "module.ckpt", "--trust-checkpoint"]) == 2
    assert f"--weights module.ckpt: {said.format('module.ckpt')}\n" in capsys.readouterr().err


def test_a_name_that_is_no_utf8_is_written_one_way(tiny: types.ModuleType, compile_here: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    name = os.fsdecode(b"t\xff.pt")
    (compile_here / name).write_bytes(b"PK\x03\x04 cut short")
    assert outcome(["tiny.yaml", "-o", "m.py", "--weights", name]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "vibench-compile: usage error: --weights t\\xff.pt: cannot read the checkpoint t\\xff.pt: the file ends early "
        "(truncated?)")  # t\udcff.pt the second time before
    assert refusals(tiny, compile_here / name)[0].endswith("t\\xff.pt: the file ends early (truncated?)")


@pytest.mark.parametrize("arguments, said", [
    ({"model": "x"}, "model must be a torch.nn.Module (the model to load into); found str"),
    ({"prefix": 5}, "prefix must be a str (the prefix of the model's keys, 'network.') or None; found int"),
    ({"strict": "no"}, "strict must be True or False; found str"),  # taken as true before
])
def test_both_loaders_name_an_argument_of_the_wrong_kind(tiny: types.ModuleType, arguments: dict[str, Any],
                                                         said: str) -> None:
    for load in (tiny.load_reference_state_dict, runtime_loader):
        given = {"model": tiny.Tiny(), "strict": True} | arguments
        with pytest.raises(TypeError) as info:
            load(given.pop("model"), {}, **given)
        assert str(info.value) == f"load_reference_state_dict: {said}"
    with pytest.raises(TypeError, match="weights_only must be True or False; found int"):
        runtime_loader(tiny.Tiny(), {}, weights_only=1)


def test_an_archive_zipfile_and_torch_read_apart_is_refused(tiny: types.ModuleType, tmp_path: Path) -> None:
    checked = b"\x80\x02}X\x01\x00\x00\x00aK\x01s."
    path = two_directories(tmp_path / "two.pt", checked, deep_key(2000))  # shallow where zipfile reads
    assert "is not laid out as torch.save writes it: its central directory is at byte" in refusals(tiny, path)[0]
    with zipfile.ZipFile(path := tmp_path / "twins.pt", "w") as archive:  # miniz could take either as data.pkl
        for name in ("deep/data.pkl", "deep/DATA.pkl", "deep/version"):
            archive.writestr(name, checked if name.endswith("pkl") else "3\n")
    assert refusals(tiny, path)[0].endswith("is not laid out as torch.save writes it: two entries are named "
                                            "'deep/data.pkl' and 'deep/DATA.pkl', so nothing was read")


def test_a_chain_torch_save_wrote_is_refused_in_words_that_hold(tiny: types.ModuleType, tmp_path: Path) -> None:
    chain: list[tuple] = [(0, None)]
    for i in range(1500):  # each saved memo-shared after the one before, under the recursion limit
        chain.append((i, chain[-1]))
    torch.save({"history": chain}, tmp_path / "chain.pt")  # building it recurses 1,500 deep all the same
    assert "vibench reads no checkpoint nested so deep" in refusals(tiny, tmp_path / "chain.pt")[0]


def test_a_numpy_bool_is_a_strict_both_loaders_take(tiny: types.ModuleType) -> None:
    import numpy

    model = tiny.Tiny()
    for load in (tiny.load_reference_state_dict, runtime_loader):
        assert list(load(model, model.state_dict(), strict=numpy.bool_(True))) == [[], []]
