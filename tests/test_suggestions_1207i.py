"""Fixes of QA 1207i: "did you mean" ties.

1. E401's "did you mean" for a misspelt reference could name the reading node itself or a node that reads it
   (`fc2: {in: fc}` was offered `fc2`; README's `act1: {in: conv}` was offered `conv2`): following either hint
   made a cycle (E402). A node is now never offered itself or a node that reads it, directly or through others,
   and of equally near names the inputs and the nodes written before it come first (`fc1`, `conv1`).
2. Of equally near candidates difflib kept the alphabetically last: `gte` got `gt`, `lte` got `lt`, a strict
   bound for an inclusive one. A tie now goes to the candidate that keeps the name's first and last letters
   (`ge`, `le`), then to the first in the caller's order (a set's: alphabetical, the last first, as before), for
   every caller.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vibench.compiler import cli
from vibench.compiler.suggestions import Suggestions, closest

# -- 1. E401 never offers the reader or a node that reads it ------------------------------------------------------


def _check(tmp_path: Path, nodes: str, outputs: str, capsys: pytest.CaptureFixture[str]) -> str:
    spec = tmp_path / "m.yaml"
    spec.write_text(f"vibench: 1\nname: M\ninputs: {{x: {{shape: [B, 1, 64]}}}}\nnodes:\n{nodes}"
                    f"outputs: {{{outputs}}}\n", encoding="utf-8")
    assert cli.main([str(spec), "--check"]) != cli.EXIT_OK
    return capsys.readouterr().err


def test_a_misspelt_reference_is_not_offered_its_own_node(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _check(tmp_path, "  fc1: {block: flatten, in: x}\n  fc2: {block: linear, in: fc, out_features: 8}\n",
                 "y: fc2", capsys)
    assert "error[E401]: node `fc2` reads unknown value `fc`" in err
    assert "hint: did you mean `fc1`?" in err


def test_a_misspelt_reference_is_not_offered_a_node_that_reads_it(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # README's tiny.yaml: conv2 reads act1, so `conv2` for act1's `conv` would be a cycle
    nodes = ("  conv1: {block: conv1d, in: x, out_channels: 4, kernel_size: 3}\n"
             "  act1: {block: relu, in: conv}\n"
             "  conv2: {block: conv1d, in: act1, out_channels: 4, kernel_size: 3}\n")
    err = _check(tmp_path, nodes, "y: conv2", capsys)
    assert "hint: did you mean `conv1`?" in err and "`conv2`?" not in err


def test_a_node_that_reads_it_through_others_is_never_offered(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # `abc1` is the only name near `abc`, and it reads the reader through `mid`: no node can be offered
    nodes = ("  a: {block: relu, in: abc}\n  mid: {block: relu, in: a}\n  abc1: {block: relu, in: mid}\n")
    err = _check(tmp_path, nodes, "y: abc1", capsys)
    assert "reads unknown value `abc`" in err and "did you mean" not in err
    assert "names defined in model `M`" in err


def test_a_later_node_the_reader_does_not_feed_is_still_offered(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    nodes = "  a: {block: relu, in: sidee}\n  side: {block: relu, in: x}\n"
    err = _check(tmp_path, nodes, "y: a", capsys)
    assert "hint: did you mean `side`?" in err


def test_an_output_is_offered_the_first_of_equally_near_nodes(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    nodes = "  fc1: {block: relu, in: x}\n  fc2: {block: relu, in: fc1}\n"
    err = _check(tmp_path, nodes, "y: fc", capsys)
    assert "error[E401]: output `y` reads unknown value `fc`" in err and "did you mean `fc1`?" in err


def test_a_reader_is_never_offered_itself_but_for_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _check(tmp_path, "  Act: {block: relu, in: act}\n", "y: Act", capsys)
    assert "reads unknown value `act`" in err and "did you mean" not in err


# -- 2. ties: the first and last letters kept, then the caller's order --------------------------------------------


def test_gte_and_lte_suggest_the_inclusive_bounds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text("vibench: 1\nname: M\nparams: {n: {type: int, default: 4, gte: 1, lte: 9}}\n"
                    "inputs: {x: {shape: [B, 8]}}\nnodes:\n  fc: {block: linear, in: x, out_features: 8}\n"
                    "outputs: {y: fc}\n", encoding="utf-8")
    assert cli.main([str(spec), "--check"]) != cli.EXIT_OK
    err = capsys.readouterr().err
    assert "unknown key `gte`" in err and "did you mean `ge`?" in err
    assert "unknown key `lte`" in err and "did you mean `le`?" in err
    assert "`gt`?" not in err and "`lt`?" not in err


@pytest.mark.parametrize("pool", [["gt", "ge"], ["ge", "gt"], {"gt", "ge"}])
def test_a_tie_goes_to_the_candidate_that_keeps_both_ends(pool: list[str] | set[str]) -> None:
    assert closest("gte", pool) == "ge"
    assert Suggestions(pool).closest("gte") == "ge"


def test_then_to_the_first_the_caller_gives() -> None:
    assert closest("fc", ["fc2", "fc1"]) == "fc2" and closest("fc", ["fc1", "fc2"]) == "fc1"
    assert closest("fc", {"fc1", "fc2"}) == "fc2"  # a set's order is its hashes': alphabetical, the last first
    assert Suggestions(["node_a1", "node_b1"]).closest("node_1") == "node_a1"


def test_allowed_leaves_out_a_candidate() -> None:
    names = Suggestions(["fc1", "fc2"])
    assert names.closest("fc", lambda c: c != "fc1") == "fc2"
    # the match but for case too
    assert Suggestions(["layer1", "layer11"]).closest("Layer1", lambda c: c != "layer1") == "layer11"
    assert names.closest("fc", lambda c: False) is None
