"""vibench.testing: minimise's work bounded by its budget, regression files that round-trip, and the
oracles' caller mistakes (TypeError / ValueError, never a finding)."""

from __future__ import annotations

import copy
import glob
import json
import os
import types

import pytest

from tests.helpers import ROOT
from vibench.testing import TensorCase, check_runtime, check_static, minimise, reduce, regressions

DUMP = reduce._dump  # before any test counts its calls
SPEC = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


# --------------------------------------------------------------------------------------------
# minimise: no candidate is built once the budget is spent
# --------------------------------------------------------------------------------------------


def _chain(n: int) -> str:
    nodes = {f"n{i}": {"block": "relu", "in": f"n{i - 1}" if i else "x"} for i in range(n)}
    data = {"vibench": 1, "name": "M", "inputs": {"x": {"shape": ["B", 4]}}, "nodes": nodes,
            "outputs": {"y": f"n{n - 1}"}}
    return DUMP(data)


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the dumps and the deep copies of the whole spec that minimise makes."""
    counts = {"dump": 0, "deepcopy": 0}
    dump = reduce._dump

    def counted_dump(data: object) -> str:
        counts["dump"] += 1
        return dump(data)

    def counted_copy(data: object) -> object:
        counts["deepcopy"] += 1
        return copy.deepcopy(data)

    monkeypatch.setattr(reduce, "_dump", counted_dump)
    monkeypatch.setattr(reduce, "copy", types.SimpleNamespace(deepcopy=counted_copy))
    return counts


@pytest.mark.parametrize("budget", [0, 1, 7])
def test_minimise_builds_no_candidate_beyond_its_budget(work: dict[str, int], budget: int) -> None:
    text = _chain(60)
    calls = []
    assert minimise(text, lambda t: calls.append(t) or False, budget) == text
    assert len(calls) <= budget
    # the first dump checks that the text is in dumped form; then one copy and one dump per attempt
    assert work["dump"] <= 1 + budget and work["deepcopy"] <= budget, work


def test_minimise_of_lines_stops_once_the_budget_is_spent() -> None:
    text = "".join(f"line {i}: [\n" for i in range(300))  # no YAML: reduced by lines
    calls = []
    assert minimise(text, lambda t: calls.append(t) or False, 3) == text
    assert len(calls) == 3


def test_minimise_keeps_the_last_failing_text_when_the_budget_runs_out() -> None:
    text = _chain(40)
    for budget in (0, 2, 9, 40):
        small = minimise(text, lambda t: "n30" in t, budget)
        assert "n30" in small
        assert budget == 0 or len(small) < len(text)


def test_bypassing_many_nodes_costs_one_copy(work: dict[str, int]) -> None:
    data = {"nodes": {"a": {"block": "relu", "in": "x"}, "b": {"block": "relu", "in": "a"},
                      "c": {"block": "relu", "in": "b.out"}, "d": {"block": "add", "in": ["c", "a"]}},
            "outputs": {"y": "d", "z": "c"}}
    smaller = reduce._without(data, ("nodes",), ["a", "b", "c"])
    # readers of a chain of bypassed nodes read the chain's first live input, as one by one
    assert smaller == {"nodes": {"d": {"block": "add", "in": ["x", "x"]}}, "outputs": {"y": "d", "z": "x"}}
    assert work["deepcopy"] == 1
    assert data["nodes"]["b"] == {"block": "relu", "in": "a"}  # the original is left alone


# --------------------------------------------------------------------------------------------
# regression files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "meta"), [
    ("# fuzz-note: my own comment\nvibench: 1\nname: M\n", {"check": "static", "kind": "x"}),
    ("# fuzz-end\nvibench: 1\n", {"check": "static"}),
    ("# fuzz-kind: z\n", {}),
    ("vibench: 1\n", {"check": "static", "kind": "y", "params": json.dumps({"name": "a  b", "t": "x\ty"})}),
    ("vibench: 1\r\n", {"kind": "v", "note": "line1\nline2", "found": " padded ", "origin": '"quoted"'}),
    ("vibench: 1\n", {"kind": "w", "note": "é \u2028 \x00 end", "empty": ""}),
])
def test_a_regression_loads_back_as_saved(tmp_path: str, text: str, meta: dict[str, str]) -> None:
    reg = regressions.load(regressions.save(str(tmp_path), text, meta))
    assert (reg.text, reg.meta) == (text, meta)


def test_the_shipped_regressions_save_byte_for_byte_the_same(tmp_path: str) -> None:
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "regressions", "*.yaml")))
    assert files
    for path in files:
        reg = regressions.load(path)
        again = regressions.save(str(tmp_path), reg.text, reg.meta)
        assert os.path.basename(again) == os.path.basename(path)
        with open(path, "rb") as old, open(again, "rb") as new:
            assert old.read() == new.read(), path


def test_plain_header_values_are_read_as_before() -> None:
    reg = regressions.parse("# fuzz-check: static \r\n# fuzz-note: a: b\n# fuzz-bare\nvibench: 1\n", "r.yaml")
    assert reg.meta == {"check": "static", "note": "a: b", "bare": ""} and reg.text == "vibench: 1\n"


def test_a_header_key_that_is_no_word_is_refused(tmp_path: str) -> None:
    for key in ("a:b", "two words", "", "end\n"):
        with pytest.raises(ValueError, match="header key"):
            regressions.save(str(tmp_path), "vibench: 1\n", {key: "c"})
    assert not os.listdir(tmp_path)


def test_a_broken_json_header_value_is_located() -> None:
    with pytest.raises(ValueError, match=r"^r\.yaml:2: .*JSON string"):
        regressions.parse("# fuzz-check: static\n# fuzz-note:= [1]\nvibench: 1\n", "r.yaml")


# --------------------------------------------------------------------------------------------
# the oracles: a caller's mistake is an exception, not a finding
# --------------------------------------------------------------------------------------------


def test_check_static_refuses_a_folder_as_path(tmp_path: str) -> None:
    with pytest.raises(ValueError, match="names a folder"):
        check_static(SPEC, str(tmp_path))
    spec_file = os.path.join(str(tmp_path), "m.yaml")
    with open(spec_file, "w", encoding="utf-8") as fh:
        fh.write(SPEC)
    assert check_static(SPEC, spec_file) == ("ok", [])
    with pytest.raises(ValueError, match="names no spec file"):
        check_static(SPEC, os.path.join(str(tmp_path), "missing.yaml"))


@pytest.mark.parametrize(("dtype", "error", "message"), [
    ("floaty", ValueError, r"the dtype of 'x' is 'floaty'.*did you mean `float64`"),
    ("int64", ValueError, "gives 'x' the dtype int64, but the model declares it float32"),
    (None, TypeError, "dtype of 'x' is a name"),
])
def test_check_runtime_refuses_a_tensor_case_dtype(dtype: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        check_runtime(SPEC, [TensorCase("x", ("B", 4), (2, 4), dtype)], backends=())  # type: ignore[arg-type]


def test_check_runtime_takes_only_an_existing_folder_as_workdir(tmp_path: str) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        check_runtime(SPEC, {"x": (2, 4)}, backends=(), workdir=os.path.join(str(tmp_path), "missing"))
    a_file = os.path.join(str(tmp_path), "f")
    open(a_file, "w").close()
    with pytest.raises(ValueError, match="is not a folder"):
        check_runtime(SPEC, {"x": (2, 4)}, backends=(), workdir=a_file)
    with pytest.raises(TypeError, match="workdir is a folder"):
        check_runtime(SPEC, {"x": (2, 4)}, backends=(), workdir=3)  # type: ignore[arg-type]
    assert check_runtime(SPEC, {"x": (2, 4)}, backends=(), workdir=str(tmp_path)) == []
    assert any(name.endswith(".py") for name in os.listdir(tmp_path))


@pytest.mark.parametrize(("options", "error"), [
    ({"rtol": -1.0}, ValueError), ({"atol": float("nan")}, ValueError), ({"rtol": "0.1"}, TypeError),
    ({"atol": True}, TypeError),
])
def test_check_runtime_refuses_a_tolerance_below_zero(options: dict[str, object], error: type) -> None:
    with pytest.raises(error, match="tol"):
        check_runtime(SPEC, {"x": (2, 4)}, backends=(), **options)  # type: ignore[arg-type]
