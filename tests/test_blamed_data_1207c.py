"""Facts handed over as data, not read back from another diagnostic's words (1207c).

- the hint of an E303 blamed on a user's setting named the setting that blame's note named, found by searching
  the note's text; blame now says which setting it blamed (:class:`vibench.compiler.blame.Blamed`);
- the E221 of a missing key was matched with a misspelt key by the key its message quoted first; the key now comes
  with it (:func:`vibench.compiler.phm_checks.required_keys` gives them by key).
"""

from __future__ import annotations

from typing import Any

import pytest

import vibench
from vibench.compiler import pipeline
from vibench.compiler.blame import Blamed, Setting
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos
from vibench.compiler.resolve import Library
from vibench.compiler.shape_hints import FREE_FOUND, NeedDiagnostic, blamed_needs

EXTENDS = "vibench: 1\nextends: mlp/Dlinear\nwith: {seq_len: null}\n"


def _blamed(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> list[Blamed]:
    """What blame handed to the hints of a failed ``vibench.check(**kw)``."""
    seen: list[Blamed] = []

    def recorded(located: tuple[Blamed, ...], *args: Any) -> tuple[Diagnostic, ...]:
        seen.extend(located)
        return blamed_needs(located, *args)

    monkeypatch.setattr(pipeline, "blamed_needs", recorded)
    with pytest.raises(vibench.SpecError):
        vibench.check(**kw)
    return seen


def test_blame_says_which_with_key_it_blamed(monkeypatch: pytest.MonkeyPatch) -> None:
    (located,) = _blamed(monkeypatch, text=EXTENDS)
    assert located.diagnostic.code == "E303" and located.setting == Setting(given=False, key="seq_len")


def test_blame_says_which_given_value_it_blamed(monkeypatch: pytest.MonkeyPatch) -> None:
    (located,) = _blamed(monkeypatch, spec="mlp/Dlinear", params={"seq_len": None})
    assert located.diagnostic.code == "E303" and located.setting == Setting(given=True, key="seq_len")


def test_an_error_blame_leaves_alone_has_no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    (located,) = _blamed(monkeypatch, text="vibench: 1\nextends: mlp/Dlinear\nwith: {seq_len: 0}\n")
    assert located.setting is None


def test_the_hint_reads_the_setting_not_the_note() -> None:
    """An E303 whose notes name no setting (here: none at all) still hints at the one blame gave."""
    need = NeedDiagnostic("E303", "the input length `L` must be known at compile time", Pos("u.yaml", 3, 17),
                          found=FREE_FOUND.format("`L`"), hint="give `L` a number in `inputs:`", free=("L",))
    words = Library()
    (d,) = blamed_needs([Blamed(need, Setting(False, "seq_len"))], {"with": {"seq_len": None}}, {}, words, False)
    assert d.hint == ("set `seq_len` under `with:` to a number: null leaves `L` free, and the template needs it "
                      "as a number; or bind `L` with --input")
    (d,) = blamed_needs([Blamed(need)], {"with": {"seq_len": None}}, {}, words, False)
    assert d is need


def test_required_keys_gives_each_e221_with_its_key() -> None:
    from vibench.compiler.phm_checks import required_keys

    library = Library()
    root, _ = library.load(library.find("cnn/ResNet1D", library.cwd, None), None)
    missing, _ = required_keys({"type": "CNN", "name": "ResNet1D", "num_classes": 4}, root, library, {}, None)
    assert list(missing) == ["input_dim"] and missing["input_dim"].code == "E221"


def test_the_near_miss_reads_the_key_not_the_message() -> None:
    from vibench.compiler.phm import _near_miss

    e221 = Diagnostic("E221", "a key is missing", None, hint="add it")
    d = _near_miss("input_dim", e221, {"input_dm": 2}, {"input_dm": Pos("exp.yaml", 4, 3)}, {"num_classes"},
                   ["input_dm"])
    assert d.hint == "`input_dm: 2` at line 4 may be it: rename it to `input_dim` (nothing reads `input_dm`)"
