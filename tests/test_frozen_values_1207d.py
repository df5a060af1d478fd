"""Values as memo keys, and what repeated uses of large values cost (QA of 12-07 on 197523f).

* ``elaborated.freeze`` froze a mapping's keys as they are, so `{1: 5}`, `{true: 5}` and `{1.0: 5}` were one key
  (and a top-level -0.0 was 0.0): a use of a `dict[int, int]` parameter with `{yes: 5}` after one with `{1: 5}`
  took the first's binding and skipped its E202, and a `type: any` parameter built three identical heads.
* Every copy of `repeat: 1000, v: big` froze `big` again, item by item (a list of 100,000: 24 s; of 1,000,000 used
  300 times: killed at 100 s). Now a large value is frozen once per compilation and looked up by identity after;
  copies that differ in another value bind it again, and count its items against the declarations' limit (E213).
* A PHM-Vibench config whose first 1,000 listed numbers are in an anchored node the model does not read built the
  model's own by reading the whole text again (a 300,000-number config: 17 s instead of 9). The first read builds
  the first 1,000 in the model's sections too; a read again for numbers an alias brings stops at the last one.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vibench
from vibench.compiler import composite_uses, elaborated, load_compose, load_numbers, phm_readings
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.elaborated import freeze

HEAD_USES = """vibench: 1
name: Heads
inputs: {x: {shape: [B, 4]}}
blocks:
  Head:
    params:
      m: {type: TYPE}
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: "${len(str(m))}"}
    outputs: {y: fc}
nodes:
"""


def _errors(text: str, **kwargs: Any) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _heads(type_: str, *values: str) -> str:
    uses = "".join(f"  h{k}: {{block: Head, in: x, m: {v}}}\n" for k, v in enumerate(values))
    outputs = ", ".join(f"h{k}: h{k}" for k in range(len(values)))
    return HEAD_USES.replace("TYPE", type_) + uses + "outputs: {" + outputs + "}\n"


def _sizes(text: str) -> list[int]:
    program = vibench.check(text=text)
    return [node.copies[0].unit.nodes[0].copies[0].params.out_features for node in program.root.nodes]


# -- values that differ are different keys ------------------------------------------------------------------


def test_a_key_true_after_a_key_1_is_checked_again() -> None:
    # `yes` is true, no int: E202 alone, and after a use with `{1: 5}` too (it took that use's binding)
    for first in ("", "{1: 5}", "{1.0: 5}"):
        values = ([first] if first else []) + ["{yes: 5}"]
        errors = _errors(_heads('"dict[int, int]"', *values))
        assert [(d.code, d.node) for d in errors if d.code == "E202"][-1] == ("E202", f"h{len(values) - 1}")


def test_each_mapping_key_type_builds_its_own_head() -> None:
    assert _sizes(_heads("any", "{1: 5}", "{true: 5}", "{1.0: 5}")) == [6, 9, 8]  # str(): {1: 5}, {True: 5}, ...
    assert _sizes(_heads("any", "{true: 5}", "{1: 5}", "{1.0: 5}")) == [9, 6, 8]
    assert _sizes(_heads("any", "[{1: 5}]", "[{true: 5}]", "[{1.0: 5}]")) == [8, 11, 10]


def test_minus_zero_is_not_zero() -> None:
    assert _sizes(_heads("float", "-0.0", "0.0", "-0.0")) == [4, 3, 4]


def test_a_check_decided_for_zero_is_decided_again_for_minus_zero() -> None:
    # the checks' memo keyed a float by its value, so -0.0 took 0.0's outcome
    checked = _heads("float", "0.0", "-0.0").replace(
        "    inputs: {x: {shape: [B, C]}}\n",
        "    checks: [{that: \"${str(m) == '0.0'}\", message: \"m is ${m}\"}]\n    inputs: {x: {shape: [B, C]}}\n")
    (error,) = _errors(checked)
    assert error.code == "E215" and "m is -0.0" in error.message


SCALARS = st.one_of(st.integers(-3, 3), st.booleans(), st.floats(allow_nan=False, min_value=-2, max_value=2),
                    st.sampled_from([0.0, -0.0, 1.0, math.inf, math.nan]), st.sampled_from(["1", "a", ""]), st.none())
KEYS = st.one_of(st.integers(-2, 2), st.booleans(), st.sampled_from([0.0, -0.0, 1.0]), st.sampled_from(["1", "a"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=70), st.dictionaries(KEYS, inner, max_size=4)), max_leaves=150)


def _same(a: Any, b: Any) -> bool:
    """Whether the language tells ``a`` and ``b`` apart: types (bool, int, float), a float's text (-0.0, nan),
    a mapping's keys in their order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, dict):
        return len(a) == len(b) and all(_same(ka, kb) and _same(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@settings(max_examples=300, deadline=None)
@given(VALUES, VALUES)
def test_two_values_are_one_key_exactly_when_the_language_reads_them_alike(a: Any, b: Any) -> None:
    memo: elaborated.FreezeMemo = {}
    keys = (freeze({"v": a}), freeze({"v": a}, memo), freeze({"v": a}, memo))  # (the last one a lookup)
    assert keys[0] == keys[1] == keys[2] and hash(keys[0]) == hash(keys[2])
    assert (freeze({"v": a}) == freeze({"v": b}, memo)) == _same(a, b)
    assert _same(a, b) <= (hash(freeze({"v": a})) == hash(freeze({"v": b})))


def test_a_large_value_is_frozen_once_and_looked_up_after() -> None:
    big = list(range(1_000)) + [0.0]
    memo: elaborated.FreezeMemo = {}
    first = freeze({"v": big}, memo)
    assert memo[id(big)][0] is big and memo[id(big)][2] == 1_001
    assert freeze({"v": big}, memo)[0][1] is first[0][1]  # the same key object: hashed once, compared by identity
    assert freeze({"v": list(big)}, memo) == first and freeze({"v": big[:-1] + [-0.0]}) != first


# -- repeated uses of large values ----------------------------------------------------------------------------

REPEAT = """vibench: 1
name: H
params:
  big: {type: "list[float]", default: BIG}
inputs: {x: {shape: [B, 4]}}
blocks:
  Body:
    params:
      v: {type: "list[float]"}
      k: {type: int, default: 0}
    inputs: {x: {shape: [B, C]}}
    nodes:
      r: {block: dropout, in: x, p: "${k * 0.0001}"}
    outputs: {y: r}
nodes:
  a: {block: Body, in: x, repeat: COPIES, v: big}
outputs: {y: a}
"""


def _repeat(items: int, copies: int, per_copy: str = "") -> str:
    big = "[" + ", ".join(f"{k % 7}.5" for k in range(items)) + "]"
    return REPEAT.replace("BIG", big).replace("COPIES", str(copies)).replace("v: big}", f"v: big{per_copy}}}")


def test_the_items_frozen_do_not_grow_with_the_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[int] = []  # the floats frozen: each walk of `big` freezes its 500
    frozen = elaborated._frozen

    def counted(value: Any, *memo: Any) -> Any:
        walked.append(value.__class__ is float)
        return frozen(value, *memo)

    monkeypatch.setattr(elaborated, "_frozen", counted)
    items = []
    for copies in (3, 60):
        walked.clear()
        assert len(vibench.check(text=_repeat(500, copies)).root.nodes[0].copies) == copies
        items.append(sum(walked))
    assert items[0] == items[1] <= 500 * 6  # (each unit's key walks it once more, in files not this fix's)


def test_copies_that_bind_a_large_value_again_count_its_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(composite_uses, "declaration_limit", lambda max_nodes: 3_000)
    # one use of 5,000 items, and 100 identical ones: its first binding is free, the others a lookup
    assert vibench.check(text=_repeat(5_000, 1)).root is not None
    assert len(vibench.check(text=_repeat(5_000, 100)).root.nodes[0].copies) == 100
    # copies that differ in `k` bind `v` again: 2,500 declarations each, past 3,000 at the third copy
    text = _repeat(5_000, 100, per_copy=", k: '${i}'")
    errors = _errors(text)
    assert [d.code for d in errors] == ["E213"]
    d = errors[0]
    at = (16, text.splitlines()[15].index("v: big") + 1)  # (at the value bound again)
    assert d.node == "a" and d.pos is not None and (d.pos.line, d.pos.col) == at
    assert "at copy 3 of 100 of node `a`" in d.message and "the 5,000 items of `v` again" in (d.found or "")
    assert "pass `v` to fewer such uses" in (d.hint or "") and "--max-nodes" in (d.hint or "")


# -- a PHM-Vibench config's numbers -----------------------------------------------------------------------------

MODEL = "model:\n  type: RNN\n  name: AttentionLSTM\n  input_dim: 2\n  num_classes: 3\n"
CAP = 5


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """MAX_DIAGNOSTICS at CAP; for each read again of the text, how many numbers it listed (None: all of them)."""
    monkeypatch.setattr(load_numbers, "MAX_DIAGNOSTICS", CAP)
    monkeypatch.setattr(phm_readings, "MAX_DIAGNOSTICS", CAP)
    made: list[int | None] = []

    def read_again(text: str, file: str, build_at: Any = None) -> Any:
        try:
            listed = load_compose.pyyaml_readings(text, file, build_at)
        except load_numbers.BuiltUpTo as stopped:
            made.append(len(stopped.listed))
            raise
        made.append(None)
        return listed

    monkeypatch.setattr(phm_readings, "pyyaml_readings", read_again)
    return made


def _phm_errors(text: str) -> list[Diagnostic]:
    errors = _errors(text)
    assert all(d.pos is not None for d in errors)
    return errors


def test_numbers_under_an_unread_anchor_leave_the_models_built_in_one_read(reads: list[int | None]) -> None:
    unread = "data: &d {xs: [" + ", ".join(["1e0"] * (3 * CAP)) + "]}\n"
    errors = _phm_errors(unread + MODEL + "  dropout: 1e-1\n  rnn_type: 010\n  010: 1\n")
    assert [(d.code, d.pos.line if d.pos else 0) for d in errors] == [("E001", 7), ("E001", 8), ("E001", 9)]
    assert "write 0.1" in (errors[0].hint or "") and "a key is a name" in (errors[2].hint or "")
    assert reads == []  # not read again


def test_numbers_an_alias_brings_are_read_again_up_to_the_last(reads: list[int | None]) -> None:
    unread = "data: &d {xs: [" + ", ".join(["1e0"] * (3 * CAP)) + "]}\n"
    merged = "cfg: &c {dropout: 1e-1, ys: [2e0]}\n"
    after = "trainer: &t {zs: [" + ", ".join(["1e0"] * 40) + "]}\n"
    errors = _phm_errors(unread + merged + MODEL + "  <<: *c\n" + after)
    assert [(d.code, d.pos.line if d.pos else 0, d.pos.col if d.pos else 0) for d in errors] == [
        ("E001", 2, 19), ("E001", 2, 30)]
    assert "write 0.1" in (errors[0].hint or "")
    assert reads == [3 * CAP + 2]  # stopped at `2e0`: the 40 after it are not read again
