"""A spec with very many structural errors builds at most MAX_DIAGNOSTICS of them and counts the rest.

300,000 unknown top-level keys took 23 s and 770 MB for `--check` to print 50 of them: every one got a
"did you mean", a list of the allowed keys and a Diagnostic. Now validate builds the first
:data:`~vibench.compiler.diagnostics.MAX_DIAGNOSTICS` in file order and the last of them counts the rest
(:attr:`Diagnostic.more`), so the "N more" of the text, JSON's `omitted` and the closing count stay exact.

Counts of diagnostics built are asserted, never times.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import vibench
from vibench.compiler import validate
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, MAX_SHOWN, SpecError, counted

EXTRA = 101  # errors past MAX_DIAGNOSTICS


def _unknown_keys(count: int, tail: str = "") -> str:
    """A spec of ``count`` unknown top-level keys (`k0` on line 2), then ``tail``."""
    return "vibench: 1\n" + "".join(f"k{i}: 1\n" for i in range(count)) + tail


def _check(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        vibench.check(text=text)
    return info.value


def test_the_first_errors_in_file_order_are_built_and_the_rest_counted() -> None:
    # pydantic reports the error in `inputs` (a field) before the unknown keys (extras): it is last in the file,
    # so it is one of those counted, not built
    err = _check(_unknown_keys(MAX_DIAGNOSTICS + EXTRA - 1, tail="inputs: 3\n"))
    assert len(err.diagnostics) == MAX_DIAGNOSTICS
    assert err.total == counted(err.diagnostics) == MAX_DIAGNOSTICS + EXTRA
    assert set(err.codes) == {"E101"}
    assert [d.pos.line for d in err.diagnostics if d.pos is not None] == list(range(2, MAX_DIAGNOSTICS + 2))
    *built, last = err.diagnostics
    assert all(d.more == 0 for d in built) and last.more == EXTRA
    assert last.message == f"unknown key `k{MAX_DIAGNOSTICS - 1}` in the spec"
    assert last.notes[-1] == f"{EXTRA} more errors of the spec's structure follow, counted but not listed: the " \
        f"first {MAX_DIAGNOSTICS:,} in the file are"
    more = MAX_DIAGNOSTICS + EXTRA - MAX_SHOWN
    assert err.render().endswith(f"... and {more:,} more (the first {MAX_SHOWN} of {MAX_DIAGNOSTICS + EXTRA:,} "
                                 "are shown)")
    assert copy.copy(err).total == err.total  # pickled with its count


def test_a_spec_of_many_errors_builds_only_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    built = []
    translate = validate._diagnostic

    def counting(*args: object, **kwargs: object) -> object:
        built.append(args[1])
        return translate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(validate, "_diagnostic", counting)
    err = _check(_unknown_keys(5 * MAX_DIAGNOSTICS))
    assert len(built) == MAX_DIAGNOSTICS  # was one per key: a "did you mean" each for 300,000 keys
    assert err.total == 5 * MAX_DIAGNOSTICS


def test_fewer_errors_than_the_limit_are_all_built() -> None:
    err = _check(_unknown_keys(MAX_DIAGNOSTICS))
    assert len(err.diagnostics) == err.total == MAX_DIAGNOSTICS
    assert all(d.more == 0 and not d.notes for d in err.diagnostics)


def test_the_command_counts_what_it_did_not_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "many.yaml"
    spec.write_text(_unknown_keys(MAX_DIAGNOSTICS + EXTRA), encoding="utf-8")
    total = MAX_DIAGNOSTICS + EXTRA
    assert main([str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.count("error[E101]") == MAX_SHOWN
    assert f"... and {total - MAX_SHOWN:,} more (the first {MAX_SHOWN} of {total:,} are shown)" in err
    assert err.rstrip().endswith(f"{total:,} errors in {spec}")
    assert main([str(spec), "--check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert len(report["diagnostics"]) == MAX_SHOWN and report["omitted"] == total - MAX_SHOWN
    assert report["diagnostics"][0]["line"] == 2  # `k0`, the first in the file


def _unknown_params(count: int) -> str:
    keys = "".join(f"    k{i}: 1\n" for i in range(count))
    return (f"vibench: 1\nname: T\ninputs: {{x: {{shape: [B, 4, 16]}}}}\nnodes:\n  c:\n    block: relu\n    in: x\n"
            f"{keys}outputs: {{y: c}}\n")


def test_unknown_parameters_of_a_node_are_built_to_the_cap_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's unknown parameters (E111): the did-you-mean candidates were made again for each (8,000 keys on one
    node: 5 s; 300,000: hours); now once, and past MAX_DIAGNOSTICS the E111s are counted, not built."""
    from vibench.compiler import typecheck

    made: list[int] = []
    unwritten = typecheck.unwritten_keys
    monkeypatch.setattr(typecheck, "unwritten_keys", lambda *a: made.append(1) or unwritten(*a))
    with pytest.raises(SpecError) as caught:
        vibench.check(text=_unknown_params(MAX_DIAGNOSTICS + 5))
    e111 = [d for d in caught.value.diagnostics if d.code == "E111"]
    assert len(e111) == MAX_DIAGNOSTICS and caught.value.total == MAX_DIAGNOSTICS + 5
    assert e111[-1].more == 5 and "5 more unknown parameters of node `c` follow" in e111[-1].notes[-1]
    assert made == [1]


def test_unknown_parameters_under_the_cap_are_all_built() -> None:
    with pytest.raises(SpecError) as caught:
        vibench.check(text=_unknown_params(3))
    assert [d.code for d in caught.value.diagnostics] == ["E111"] * 3 and caught.value.total == 3
    assert all(d.more == 0 for d in caught.value.diagnostics)
