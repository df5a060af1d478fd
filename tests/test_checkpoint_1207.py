"""Checkpoint reading, where QA found it wrong (both loaders: vibench.runtime.checkpoint's and model.py's):

* a 1.3 KB data.pkl building t_i = (t_{i-1}, t_{i-1}) through the memo, 60 levels, then {t_60: 1}, hung
  vibench-compile for ever (torch's unpickler hashing 2**60 parts in C, deaf to signals); the pre-scan now counts
  each object's parts written out and refuses the file before torch.load, and a key is written only as far as shown;
* a checkpoint saved with pickle_protocol=4 or 5 (or 0, 1) was "damaged or not a PyTorch checkpoint (torch:
  Unsupported operand 149)"; a trusted legacy protocol-1 file (b"L119...") was "not a PyTorch checkpoint";
* float64 weights of 1e300 loaded as inf into a float32 model without a word.
"""

from __future__ import annotations

import io
import pickle
import types
import zipfile
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.runtime import checkpoint_pickle
from vibench.runtime.checkpoint import ReferenceCheckpointError, _key, read_checkpoint
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

EXPANDED = "builds an object of more than 33,554,432 parts out of parts it shares"
WEIGHTS = {"classifier.weight": torch.zeros(2, 3), "classifier.bias": torch.ones(2)}


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    module = types.ModuleType("emitted_checkpoint_1207")
    exec(compile(vibench.compile_spec(None, text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    return module


def shared_levels(levels: int) -> bytes:
    """A protocol-2 pickle of {t_levels: 1}, t_0 = 1 and t_i = (t_{i-1}, t_{i-1}) each level taken from the memo."""
    body = b"K\x01q\x00"
    for i in range(1, levels + 1):
        body += b"h" + bytes([i - 1]) + b"h" + bytes([i - 1]) + b"\x86q" + bytes([i])
    return b"\x80\x02" + body + b"}h" + bytes([levels]) + b"K\x01s."


def zipped(path: Path, pickled: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
    return path


def refusals(tiny: types.ModuleType, checkpoint: object, **trusted: bool) -> list[str]:
    """What each loader says of ``checkpoint``, the model left as it was."""
    texts = []
    for load in (tiny.load_reference_state_dict, runtime_loader):
        model = tiny.Tiny()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(KeyError) as err:
            load(model, checkpoint, **(trusted if load is runtime_loader else {}))
        assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
        texts.append(str(err.value))
    return texts


# --------------------------------------------------------------------------------------------
# shared parts
# --------------------------------------------------------------------------------------------

def test_a_key_of_2_to_the_60_shared_parts_is_refused_before_torch_load(tiny: types.ModuleType, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = zipped(tmp_path / "dag60.pt", shared_levels(60))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load ran"))  # the pre-scan refuses it
    texts = refusals(tiny, path)
    assert all(EXPANDED in text and "(at byte 178)" in text for text in texts), texts
    assert texts[0] == texts[1]
    with pytest.raises(ReferenceCheckpointError, match=EXPANDED):
        read_checkpoint(path, weights_only=False)


def test_the_pre_scan_counts_parts_not_bytes() -> None:
    # t_levels has 2**(levels + 1) - 1 parts, the dict holding it and its value 2 more
    for levels, refused in ((20, False), (23, False), (24, True), (60, True)):
        pickled = io.BytesIO(shared_levels(levels))
        assert (EXPANDED in checkpoint_pickle.nesting_problem(pickled, len(pickled.getvalue()))) is refused, levels


def test_what_torch_save_writes_passes_the_count(tmp_path: Path) -> None:
    tied = torch.zeros(3)
    lightning = {"state_dict": {f"network.layer{i}.weight": torch.zeros(2) for i in range(2000)} | {"t": tied},
                 "tied": tied, "hyper_parameters": {"dims": list(range(1000)), "name": "x"}, "epoch": 3}
    torch.save(lightning, tmp_path / "l.ckpt")
    with open(tmp_path / "l.ckpt", "rb") as fh:
        assert checkpoint_pickle.nesting_problem(fh, (tmp_path / "l.ckpt").stat().st_size) == ""
    assert len(read_checkpoint(tmp_path / "l.ckpt")["state_dict"]) == 2001


def test_a_key_of_many_shared_parts_is_written_only_as_far_as_shown(tiny: types.ModuleType) -> None:
    levels: list[object] = [(1,)]
    for _ in range(60):
        levels.append((levels[-1], levels[-1]))
    assert _key(levels[60]) == ("(" * 54 + repr(levels[6]))[:120] + "..."  # what repr's would show, never built
    smaller: object = (1,)
    for _ in range(20):  # 2**21 parts: hashed at once, written part by part
        smaller = (smaller, smaller)
    texts = refusals(tiny, {smaller: torch.zeros(2)})
    assert all(_key(smaller) + " (Tensor)" in text for text in texts), texts  # each loader in its own words
    assert _key(("a", frozenset(), frozenset({2}), ("b",))) == repr(("a", frozenset(), frozenset({2}), ("b",)))


# --------------------------------------------------------------------------------------------
# pickle protocols
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize("zip_format", [True, False])
def test_a_protocol_torch_s_reader_does_not_read_is_named(tiny: types.ModuleType, tmp_path: Path, protocol: int,
                                                         zip_format: bool) -> None:
    path = tmp_path / "p.pt"
    torch.save(WEIGHTS, path, pickle_protocol=protocol, _use_new_zipfile_serialization=zip_format)
    for text in refusals(tiny, path):
        assert f"it was saved with pickle protocol {protocol} (FRAME, byte 0x95), which torch's weights_only " in text
        assert "save it again with torch.save's default protocol (pickle_protocol=2)" in text and "damaged" not in text
    assert set(read_checkpoint(path, weights_only=False)) == set(WEIGHTS)


def test_a_legacy_protocol_1_file_is_read_when_trusted_and_named_when_not(tiny: types.ModuleType,
                                                                         tmp_path: Path) -> None:
    path = tmp_path / "p1.pt"
    torch.save(WEIGHTS, path, pickle_protocol=1, _use_new_zipfile_serialization=False)
    assert path.read_bytes()[:4] == b"L119"
    assert set(read_checkpoint(path, weights_only=False)) == set(WEIGHTS)
    for text in refusals(tiny, path):
        assert "it was saved with pickle protocol 1 (LONG, byte 0x4c), which torch's weights_only reader" in text


def test_protocol_0_which_no_torch_load_reads_is_named(tiny: types.ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "p0.pt"
    torch.save(WEIGHTS, path, pickle_protocol=0, _use_new_zipfile_serialization=False)
    said = "it was saved with pickle protocol 0, which torch.load does not read"
    assert all(said in text for text in refusals(tiny, path))
    with pytest.raises(ReferenceCheckpointError, match=said):
        read_checkpoint(path, weights_only=False)


def test_a_plain_pickle_of_protocol_4_is_still_no_checkpoint(tiny: types.ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"classifier.bias": [0.5, 0.5]}, protocol=4))
    assert all("the file is damaged or not a PyTorch checkpoint" in text for text in refusals(tiny, path))


# --------------------------------------------------------------------------------------------
# values the model's dtype cannot hold
# --------------------------------------------------------------------------------------------

def test_finite_values_that_would_be_infinite_are_refused(tiny: types.ModuleType) -> None:
    weights = {"classifier.weight": torch.full((2, 3), 1e300, dtype=torch.float64), "classifier.bias": torch.ones(2)}
    texts = refusals(tiny, weights)
    assert texts[0] == texts[1], texts
    assert texts[0].endswith("values the model's dtype cannot hold (1): 'head.weight' (6 finite values of the "
                             "checkpoint's float64, up to 1e+300, would be infinite in the model's float32)")
    with pytest.raises(ReferenceCheckpointError, match="cannot hold"):
        runtime_loader(tiny.Tiny(), weights, strict=False)


def test_values_the_model_s_dtype_holds_or_already_infinite_load(tiny: types.ModuleType) -> None:
    weights = {"classifier.weight": torch.tensor([[1e30, float("inf"), 2.0]] * 2, dtype=torch.float64),
               "classifier.bias": torch.ones(2, dtype=torch.float64)}
    for load in (tiny.load_reference_state_dict, runtime_loader):
        model = tiny.Tiny()
        load(model, weights)
        assert model.head.weight[0].tolist() == [pytest.approx(1e30), float("inf"), 2.0]
