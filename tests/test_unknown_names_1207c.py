"""Unknown parameter names by the thousand, and `expected` when there are none to name (1207c).

- each unknown `with:` key, given value (`--set`, Python's keywords) and check `at:` had its own "did you mean"
  and its own `expected` list of every parameter: 5,000 unknown keys of a 5,000-parameter template ran past a
  minute. Now one pass shares one "did you mean" budget and one `expected` text, and builds the first
  MAX_DIAGNOSTICS diagnostics, counting the rest on the last (as E111 does);
- the E220 of a library folder without templates said `expected one of (none)`, and the E201 of a key given to a
  PHM-Vibench config whose template declares no parameters `expected one of ` and nothing.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest

import vibench
from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, MAX_SUGGEST_POOL, MAX_SUGGEST_WORK, Diagnostic
from vibench.compiler.resolve import Library

BASE = "vibench: 1\nname: Base\nparams:\n{params}inputs: {{x: {{shape: [B, 4]}}}}\n" \
       "nodes:\n  a: {{block: relu, in: x}}\noutputs: {{y: a}}\n"
EXTRA = 200  # unknown names past MAX_DIAGNOSTICS


def _base(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "base.yaml"
    path.write_text(BASE.format(params="".join(f"  {n}: {{type: int, default: 1}}\n" for n in names)),
                    encoding="utf-8")
    return path


def _errors(path: Path, **params: Any) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path), params=params or None)
    return info.value


def _counted(err: vibench.SpecError, code: str, note: str) -> list[Diagnostic]:
    """The ``code`` diagnostics of ``err``: MAX_DIAGNOSTICS built, the last counting the EXTRA others."""
    built = [d for d in err.diagnostics if d.code == code]
    assert len(built) == MAX_DIAGNOSTICS and err.total == MAX_DIAGNOSTICS + EXTRA
    (last,) = [d for d in built if d.more]
    assert last.more == EXTRA and last.notes[-1] == f"{EXTRA} more {note} follow, counted but not listed"
    return built


def test_unknown_with_keys_past_the_limit_are_counted(tmp_path: Path) -> None:
    _base(tmp_path, ["width", "depth"])
    keys = ["widht"] + [f"key_{k}" for k in range(MAX_DIAGNOSTICS + EXTRA - 1)]
    spec = tmp_path / "u.yaml"
    spec.write_text("vibench: 1\nextends: ./base\nwith: {" + ", ".join(f"{k}: 1" for k in keys) + "}\n",
                    encoding="utf-8")
    built = _counted(_errors(spec), "E201", "unknown parameters of template `./base`")
    assert built[0].message == "unknown parameter `widht` for template `./base`"
    assert built[0].hint == "did you mean `width`?" and built[1].hint == "see `vibench-compile --list`"
    assert {d.expected for d in built} == {"one of `width`, `depth`"}


def test_unknown_given_values_past_the_limit_are_counted(tmp_path: Path) -> None:
    path = _base(tmp_path, ["width"])
    built = _counted(_errors(path, **{f"key_{k}": 1 for k in range(MAX_DIAGNOSTICS + EXTRA)}), "E201",
                     "unknown parameters for model `Base`")
    assert built[0].expected == "one of `width`" and built[0].hint == "remove it, or declare it in `params:`"


def test_checks_at_unknown_parameters_past_the_limit_are_counted(tmp_path: Path) -> None:
    checks = "".join(f"  - {{that: '${{width > 0}}', message: m, at: wid_{k}}}\n"
                     for k in range(MAX_DIAGNOSTICS + EXTRA))
    path = _base(tmp_path, ["width"])
    path.write_text(path.read_text(encoding="utf-8") + "checks:\n" + checks, encoding="utf-8")
    built = _counted(_errors(path), "E210", "checks naming an unknown parameter in `at`")
    assert built[0].message == "check names unknown parameter `wid_0` in `at`" and built[0].expected == "one of width"


def test_did_you_mean_for_with_keys_shares_one_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Among 2,000 parameters each lookup compares MAX_SUGGEST_POOL of them: the pass's budget covers the first
    MAX_SUGGEST_WORK // MAX_SUGGEST_POOL unknown keys, not every one (each lookup was its own)."""
    calls: list[str] = []
    close = difflib.get_close_matches

    def counted(word: str, *args: Any, **kw: Any) -> list[str]:
        calls.append(word)
        return close(word, ["param_0"], n=1, cutoff=0.6)  # (the comparisons themselves are not what is counted)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    _base(tmp_path, [f"param_{k}" for k in range(MAX_SUGGEST_POOL)])
    lookups = MAX_SUGGEST_WORK // MAX_SUGGEST_POOL
    spec = tmp_path / "u.yaml"
    spec.write_text("vibench: 1\nextends: ./base\nwith: {" + ", ".join(f"parm_{k}: 1" for k in range(lookups + 20))
                    + "}\n", encoding="utf-8")
    err = _errors(spec)
    assert len(calls) == lookups and calls[0] == "parm_0"
    assert err.diagnostics[0].hint == "did you mean `param_0`?" and err.diagnostics[-1].hint != err.diagnostics[0].hint


def test_a_library_folder_without_templates_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vibench.compiler import phm_template

    (tmp_path / "cnn").mkdir()
    monkeypatch.setattr(phm_template, "LIBRARY_DIR", str(tmp_path))
    config = tmp_path / "exp.yaml"
    config.write_text("model: {type: CNN, name: NoSuchNet}\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = info.value.diagnostics
    assert d.code == "E220" and d.expected == "(none: the library's `cnn/` folder holds no templates)"


def test_a_value_given_to_a_config_whose_template_declares_no_parameters_says_so() -> None:
    from vibench.compiler.phm import _unknown_given

    (d,) = _unknown_given({"colour": 1}, set(), {}, "CNN/X", "cnn/X", "X", Library(), None)
    assert d.code == "E201" and d.expected == "(none: model `X` declares no parameters)"


def test_unknown_values_given_to_a_config_past_the_limit_are_counted(tmp_path: Path) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("model: {type: CNN, name: ResNet1D, input_dim: 2, num_classes: 4}\n", encoding="utf-8")
    given = {"num_clases": 3, **{f"key_{k}": 1 for k in range(MAX_DIAGNOSTICS + EXTRA - 1)}}
    built = _counted(_errors(config, **given), "E201", "unknown parameters for model `ResNet1D`")
    assert built[0].hint == "did you mean `num_classes` (a key of the `model:` section)?"
    assert len({d.expected for d in built}) == 1
