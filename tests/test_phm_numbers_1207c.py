"""A PHM-Vibench config with many scalars that PyYAML reads otherwise inside `model:`: the read builds the
diagnostics of the first MAX_DIAGNOSTICS only and counts the rest (500,000 `1e0` took 11 s and 640 MB to build
500,000 errors, of which 1,000 are kept); when some of the first ones are not read by the model (an anchored node
elsewhere), the read is made again for the ones that are, so each error kept is the full one."""

from __future__ import annotations

import pytest

import vibench
from vibench.compiler import load_compose, load_numbers, phm_readings

MODEL = "model:\n  type: RNN\n  name: AttentionLSTM\n  input_dim: 2\n  num_classes: 3\n"
CAP = 5


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """MAX_DIAGNOSTICS at CAP; the codes of the diagnostics the reads build."""
    monkeypatch.setattr(load_numbers, "MAX_DIAGNOSTICS", CAP)
    monkeypatch.setattr(phm_readings, "MAX_DIAGNOSTICS", CAP)
    made: list[str] = []
    error = load_compose._Composer.error

    def counted(self: load_compose._Composer, code: str, message: str, *args: object, **kw: object) -> object:
        made.append(code)
        return error(self, code, message, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(load_compose._Composer, "error", counted)
    return made


def _errors(text: str) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    return info.value


def test_past_the_cap_numbers_are_counted_not_built(small_cap: list[str]) -> None:
    err = _errors(MODEL + "  xs: [" + ", ".join(["1e0"] * 12) + "]\n")
    errors = [d for d in err.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["E001"] * CAP
    assert [d.pos.col for d in errors if d.pos is not None] == [8 + 5 * i for i in range(CAP)]
    assert errors[-1].more == 12 - CAP and "7 more numbers that PyYAML reads otherwise" in errors[-1].notes[-1]
    assert err.total == 12
    assert len(small_cap) <= CAP  # built: the first CAP listed, no more


def test_under_the_cap_every_number_is_its_full_error(small_cap: list[str]) -> None:
    err = _errors(MODEL + "  dropout: 1e-1\n  2020-01-01: 3\n")
    assert [(d.code, d.pos.line) for d in err.diagnostics if d.severity == "error" and d.pos] == [
        ("E001", 6), ("E102", 7)]
    assert err.total == 2 and all(d.more == 0 for d in err.diagnostics)
    assert "write 0.1" in (err.diagnostics[0].hint or "")


def test_numbers_the_model_does_not_read_leave_room_for_those_it_does(small_cap: list[str]) -> None:
    # the first CAP listed are in an anchored node that nothing brings into the model: the ones the model reads
    # come after them, and are built by a second read
    unread = "data: &d {xs: [" + ", ".join(["1e0"] * CAP) + "]}\n"
    err = _errors(unread + MODEL + "  dropout: 1e-1\n  rnn_type: 010\n")
    errors = [d for d in err.diagnostics if d.severity == "error"]
    assert [(d.code, d.pos.line if d.pos else None) for d in errors] == [("E001", 7), ("E001", 8)]
    assert "1e-1" in errors[0].message and "write 0.1" in (errors[0].hint or "")
    assert "010" in (errors[1].found or "") + errors[1].message
    assert err.total == 2


def test_a_key_keeps_the_hint_of_a_key_when_built_again(small_cap: list[str]) -> None:
    unread = "data: &d {xs: [" + ", ".join(["1e0"] * CAP) + "]}\n"
    err = _errors(unread + MODEL + "  010: 1\n")
    errors = [d for d in err.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["E001"] and "a key is a name" in (errors[0].hint or "")
