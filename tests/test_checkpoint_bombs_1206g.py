"""Checkpoints that cost both loaders (vibench.runtime.checkpoint's and the one model.py carries) far more than
they hold, and a reference trained to NaN:

* one element expanded (``torch.zeros(1).expand(2**34)``, 4 bytes in a 1.9 KB file) under two keys one rename
  maps to one (Transformer_Dummy's ``pos_encoding`` -> ``pe``): ``torch.equal`` walked all 2**34 elements (29 s;
  hours for 2**45) before the model's shapes were checked. An expanded tensor is now refused by name, and the
  values of a model's key are compared only once their shape is the model's;
* TCN saves ``conv1`` also as ``net.0`` (one storage): a NaN in it read as "hold different tensors";
* a zip whose entries are deflated (1 MB holding a 1 GiB tensor) was expanded by torch.load (1.3 GB, 8 s) before
  a word was said: its directory is read first, and compressed entries, which torch.save never writes, are
  refused, as entries that declare more bytes than the file holds.
"""

from __future__ import annotations

import doctest
import random
import struct
import types
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.runtime import checkpoint_zip
from vibench.runtime.checkpoint import convert_reference_state_dict, read_checkpoint
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

ADVICE = "if you trust the file, "  # where the two loaders' hints part: model.py's loader has no weights_only
EXPANDED = "An expanded tensor holds more elements than it stores: save it .contiguous()"


def emitted(spec: str | None = None, text: str | None = None, **params: Any) -> types.ModuleType:
    module = types.ModuleType("emitted_bombs_1206g")
    source = vibench.compile_spec(spec, text=text, params=params or None).source
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def tiny() -> types.ModuleType:
    return emitted(text=TINY_REFERENCE_SPEC)


def loaders(module: types.ModuleType) -> list[tuple[str, Callable[..., Any]]]:
    return [("model.py", module.load_reference_state_dict), ("runtime", runtime_loader)]


def refusals(module: types.ModuleType, model_class: Callable[[], torch.nn.Module], checkpoint: Any) -> list[str]:
    """Both loaders' messages for ``checkpoint``, each a KeyError and a ValueError with the model left as it was."""
    texts = []
    for who, load in loaders(module):
        model = model_class()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with pytest.raises(KeyError) as err:
            load(model, checkpoint)
        assert isinstance(err.value, ValueError), who
        assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__), who
        assert all(model.state_dict()[k].equal(v) for k, v in before.items()), who  # not torch.equal: walked
        texts.append(str(err.value))
    return texts


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The element counts torch.equal is asked to compare (both loaders call it through the torch module)."""
    counts: list[int] = []
    equal = torch.equal

    def counting(a: torch.Tensor, b: torch.Tensor) -> bool:
        counts.append(max(a.numel(), b.numel()))
        return equal(a, b)

    monkeypatch.setattr(torch, "equal", counting)
    return counts


def net(weight: torch.Tensor, bias: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    return {"network.classifier.weight": weight, "network.classifier.bias": torch.zeros(2) if bias is None else bias}


# -- 1. an expanded tensor, and the model's shapes before colliding values ---------------------------------


def test_an_expanded_tensor_under_two_colliding_keys_is_refused_by_name_unwalked(
        tiny: types.ModuleType, walked: list[int]) -> None:
    huge = torch.zeros(1).expand(2**45)  # 4 bytes stored, 2**45 elements: walking them took hours
    for text in refusals(tiny, tiny.Tiny, {**net(huge), "network.head.weight": torch.zeros(1).expand(2**45)}):
        assert "'classifier.weight' (expanded tensor: 35,184,372,088,832 elements over 1 stored)" in text
        assert "'head.weight' (expanded tensor: " in text and text.endswith(EXPANDED)
    assert walked == []


def test_the_qa_file_for_transformer_dummy_is_refused_by_name(tmp_path: Path, walked: list[int]) -> None:
    """tmp_path's copy of /tmp/qa_weights/repro/mk_expand.py's file (1.9 KB)."""
    module = emitted("transformer/Transformer_Dummy")
    n = 2**34
    torch.save({"pos_encoder.pos_encoding": torch.zeros(1).expand(n), "pos_encoder.pe": torch.zeros(1).expand(n)},
               tmp_path / "expand.pt")
    for text in refusals(module, module.Transformer_Dummy, tmp_path / "expand.pt"):
        assert "'pos_encoder.pos_encoding' (expanded tensor: 17,179,869,184 elements over 1 stored)" in text
        assert "'pos_encoder.pe' (expanded tensor: 17,179,869,184 elements over 1 stored)" in text
    assert walked == []


def test_an_expanded_tensor_of_the_model_s_shape_is_refused_and_other_views_load(tiny: types.ModuleType) -> None:
    """No module's state_dict holds an expanded tensor (a view over fewer elements): one is refused wherever it
    is, so what a collision compares is bounded by what the checkpoint stores. Views that hold their elements
    (a transpose, a strided slice, a size-1 dimension expanded) load."""
    for text in refusals(tiny, tiny.Tiny, net(torch.arange(3.0).expand(2, 3))):
        assert "'classifier.weight' (expanded tensor: 6 elements over 3 stored)" in text and EXPANDED in text
    weight = torch.arange(24.0).reshape(6, 4)[::2, ::2].t()  # 6 of 24 stored elements, transposed
    bias = torch.tensor([5.0, 6.0]).expand(1, 2)[0]  # a dimension of 1 expanded: both elements stored
    for who, load in loaders(tiny):
        model = tiny.Tiny()
        assert tuple(load(model, net(weight, bias))) == ([], []), who
        assert torch.equal(model.head.weight, weight) and model.head.bias.tolist() == [5.0, 6.0], who


def test_colliding_values_of_a_model_s_key_are_compared_only_at_the_model_s_shape(
        tiny: types.ModuleType, walked: list[int]) -> None:
    """Two values of [50, 3] for head.weight, a [2, 3] tensor: the mismatch is what is wrong, and no comparison
    walks more than the model's 6 elements (they were compared first and said to collide)."""
    checkpoint = {**net(torch.ones(50, 3)), "network.head.weight": torch.zeros(50, 3)}
    for text in refusals(tiny, tiny.Tiny, checkpoint):
        assert "shape or dtype mismatch (1): 'head.weight' (model [2, 3] float32, checkpoint [50, 3] float32)" in text
        assert "collide" not in text
    assert walked == []
    for text in refusals(tiny, tiny.Tiny, {**net(torch.ones(2, 3)), "network.head.weight": torch.zeros(2, 3)}):
        assert text == ("reference keys collide after renaming: 'classifier.weight' and 'head.weight' hold different "
                        "tensors and both map to 'head.weight'")
    assert walked == [6, 6]


def test_colliding_keys_the_model_lacks_are_unexpected_not_compared(tiny: types.ModuleType) -> None:
    """A key the model lacks is refused as unexpected, its values never compared (pairs of views of one storage
    under such keys were walked element by element: K pairs over S elements cost K x S)."""
    checkpoint = {**net(torch.ones(2, 3)), "network.classifier.extra": torch.ones(4),
                  "network.head.extra": torch.zeros(4)}
    for text in refusals(tiny, tiny.Tiny, checkpoint):
        assert "hold different tensors" not in text and "unexpected (1): 'head.extra'" in text


# -- 2. NaN: one tensor under two names, or equal ones ---------------------------------------------------


def with_nan(*places: int) -> torch.Tensor:
    weight = torch.arange(6.0).reshape(2, 3)
    weight.view(-1)[list(places)] = float("nan")
    return weight


@pytest.mark.parametrize("how", ["one tensor", "one tensor, saved", "equal tensors", "zero signs"])
def test_nan_in_one_tensor_under_two_names_loads(tiny: types.ModuleType, tmp_path: Path, how: str) -> None:
    weight = with_nan(1, 4)
    other = {"one tensor": weight, "one tensor, saved": weight, "equal tensors": with_nan(1, 4),
             "zero signs": with_nan(1, 4)}[how]
    if how == "zero signs":  # -0.0 and 0.0 are one value, as torch.equal holds them
        weight[0, 0], other[0, 0] = -0.0, 0.0
    checkpoint: Any = {**net(weight), "network.head.weight": other}
    if how == "one tensor, saved":  # torch.save keeps the one storage
        torch.save({"state_dict": checkpoint}, tmp_path / "nan.ckpt")
        checkpoint = tmp_path / "nan.ckpt"
    for who, load in loaders(tiny):
        model = tiny.Tiny()
        assert tuple(load(model, checkpoint)) == ([], []), who
        assert model.head.weight.isnan().view(-1).tolist() == [False, True, False, False, True, False], who


def test_nan_in_other_places_is_two_tensors(tiny: types.ModuleType) -> None:
    for text in refusals(tiny, tiny.Tiny, {**net(with_nan(1)), "network.head.weight": with_nan(2)}):
        assert "'classifier.weight' and 'head.weight' hold different tensors" in text


def test_complex_values_with_nan_in_the_same_parts_are_one() -> None:
    value = torch.tensor([1 + 1j, complex(2, float("nan"))])
    renames = [["^a[.]", "b."]]
    assert convert_reference_state_dict({"a.x": value, "b.x": value.clone()}, renames).keys() == {"b.x"}
    swapped = torch.tensor([1 + 1j, complex(float("nan"), 2)])
    with pytest.raises(ValueError, match="hold different tensors"):
        convert_reference_state_dict({"a.x": value, "b.x": swapped}, renames)


def test_the_qa_tcn_checkpoint_with_a_nan_loads_in_both_loaders(tmp_path: Path) -> None:
    """As /tmp/qa_weights/repro/nan_tcn.py: TCN's reference saves each block's conv1 also as net.0 and its conv2
    as net.4 (one storage each); a NaN in conv1's bias was "hold different tensors"."""
    module = emitted("cnn/TCN", input_dim=2, num_classes=3)
    own = module.TCN().state_dict()
    reference = dict(own)
    for key, value in own.items():
        for name, alias in ((".conv1.", ".net.0."), (".conv2.", ".net.4.")):
            if name in key:
                reference[key.replace(name, alias)] = value  # the same tensor, as the reference registers it
    with torch.no_grad():
        own["network.0.conv1.bias"][0] = float("nan")
    torch.save({"state_dict": {"network." + k: v for k, v in reference.items()}}, tmp_path / "tcn_nan.ckpt")
    for who, load in loaders(module):
        model = module.TCN()
        assert tuple(load(model, tmp_path / "tcn_nan.ckpt")) == ([], []), who
        assert model.state_dict()["network.0.conv1.bias"][0].isnan(), who


# -- 3. compressed zip entries -------------------------------------------------------------------------


@pytest.fixture
def unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.load may not be called: the file is refused from its zip directory, nothing expanded."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", refuse)


def deflated(path: Path, elements: int = 1 << 20) -> None:
    """A torch.save checkpoint re-packed with deflate (as /tmp/qa_weights/repro/mk_bomb.py, 4 MiB of zeros)."""
    torch.save({"junk": torch.zeros(elements)}, path.with_suffix(".tmp"))
    with zipfile.ZipFile(path.with_suffix(".tmp")) as source, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as packed:
        for info in source.infolist():
            packed.writestr(info.filename, source.read(info))


def patched_directory(path: Path, entry: str, change: Callable[[bytearray, int], None]) -> None:
    """``path``, a torch.save file, with ``change(data, offset)`` applied to ``entry``'s central directory record."""
    torch.save(net(torch.ones(2, 3)), path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        name = next(i.filename for i in archive.infolist() if i.filename.endswith(entry))
    offset = next(o for o in range(len(data)) if data.startswith(b"PK\x01\x02", o)
                  and data[o + 46:o + 46 + len(name)] == name.encode())
    change(data, offset)
    path.write_bytes(bytes(data))


def test_a_deflated_checkpoint_is_refused_from_its_directory(tiny: types.ModuleType, tmp_path: Path,
                                                             unread: None) -> None:
    deflated(tmp_path / "bomb.ckpt")
    emitted_text, runtime_text = refusals(tiny, tiny.Tiny, tmp_path / "bomb.ckpt")
    assert emitted_text == runtime_text
    start = f"cannot read the checkpoint {tmp_path / 'bomb.ckpt'}: 7 of its zip entries are compressed ('bomb/data/0' "
    assert runtime_text.startswith(start) and "bytes to 4,194,304), which torch.save never writes" in runtime_text
    with pytest.raises(KeyError, match="none was expanded; save the tensors again with torch.save$"):
        read_checkpoint(tmp_path / "bomb.ckpt", weights_only=False)  # a trusted file is no smaller


def test_entries_declaring_more_than_the_file_holds_are_refused(tiny: types.ModuleType, tmp_path: Path,
                                                                unread: None) -> None:
    def declare_4_gib(data: bytearray, offset: int) -> None:  # compressed and uncompressed size of a stored entry
        data[offset + 20:offset + 28] = struct.pack("<II", 0xFFFF_FFF0, 0xFFFF_FFF0)

    patched_directory(tmp_path / "big.ckpt", "data/0", declare_4_gib)
    texts = refusals(tiny, tiny.Tiny, tmp_path / "big.ckpt")
    with zipfile.ZipFile(tmp_path / "big.ckpt") as archive:
        declared = sum(info.file_size for info in archive.infolist())
    size = (tmp_path / "big.ckpt").stat().st_size
    assert texts[0] == texts[1] and declared > 0xFFFF_FFF0
    assert texts[0].endswith(f": the file is damaged or not a PyTorch checkpoint (zip: its entries declare "
                             f"{declared:,} bytes, more than the file's {size:,})")


def test_a_directory_zipfile_cannot_read_is_never_given_to_torch(tiny: types.ModuleType, tmp_path: Path,
                                                                 unread: None) -> None:
    """An entry's name flagged UTF-8 that is none: torch's reader (miniz) reads such a directory, and would
    expand what it lists; zipfile does not, so nothing past it is known."""
    def bad_name(data: bytearray, offset: int) -> None:
        flags = struct.unpack_from("<H", data, offset + 8)[0]
        struct.pack_into("<H", data, offset + 8, flags | 0x800)
        data[offset + 46 + len("badname/")] = 0xFF

    patched_directory(tmp_path / "badname.ckpt", "byteorder", bad_name)
    texts = refusals(tiny, tiny.Tiny, tmp_path / "badname.ckpt")
    assert texts[0] == texts[1]
    assert "the file is damaged or not a PyTorch checkpoint (zip: 'utf-8' codec can't decode byte 0xff" in texts[0]


def test_a_damaged_directory_is_told_alike_by_both_loaders(tiny: types.ModuleType, tmp_path: Path) -> None:
    """Bytes of the zip directory changed at random: each loader refuses with its own error (no other
    exception) in the same words, or both load the file."""
    torch.save(net(torch.ones(2, 3)), tmp_path / "good.ckpt")
    data = (tmp_path / "good.ckpt").read_bytes()
    directory = data.index(b"PK\x01\x02")
    rng = random.Random(1206)
    for trial in range(60):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(directory, len(data))] = rng.randrange(256)
        path = tmp_path / "damaged.ckpt"
        path.write_bytes(bytes(damaged))
        outcomes = []
        for _, load in loaders(tiny):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    outcomes.append(("loaded", tuple(load(tiny.Tiny(), path))))
                except KeyError as err:
                    assert isinstance(err, ValueError), trial
                    outcomes.append(("refused", str(err).partition(ADVICE)[0]))
        assert outcomes[0] == outcomes[1], (trial, outcomes)


def test_a_legacy_checkpoint_is_no_zip_and_still_loads(tiny: types.ModuleType, tmp_path: Path) -> None:
    torch.save(net(torch.ones(2, 3)), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for who, load in loaders(tiny):
        model = tiny.Tiny()
        assert tuple(load(model, tmp_path / "legacy.pt")) == ([], []), who
        assert model.head.weight.eq(1).all(), who


def test_the_zip_module_s_examples_run() -> None:
    result = doctest.testmod(checkpoint_zip)
    assert result.attempted > 0 and result.failed == 0
