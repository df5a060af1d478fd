"""A diagnostic whose file text is not at hand (a PHM-Vibench base config not shown, a spec passed as a value
without its text) printed its position and dropped `expected`: the caret line carries it when the line is
drawn, an `= expected:` note does otherwise (1207d)."""

from __future__ import annotations

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos

E213 = Diagnostic("E213", "model.py would have more than 500 lines", Pos("n.yaml", 2, 5),
                  expected="at most 500 lines", found="about 900 lines")


def test_expected_is_said_without_the_files_text() -> None:
    text = E213.render()
    assert " --> n.yaml:2:5" in text and " = expected: at most 500 lines" in text
    assert " = found: about 900 lines" in text


def test_expected_is_said_once_beside_the_caret_with_the_text() -> None:
    text = E213.render({"n.yaml": "a: 1\nb:  2\n"})
    assert "^ expected at most 500 lines" in text and "= expected:" not in text


def test_expected_is_said_when_the_line_is_past_the_text() -> None:
    text = Diagnostic("E213", E213.message, Pos("n.yaml", 9, 5), expected=E213.expected).render({"n.yaml": "a: 1\n"})
    assert text.count("at most 500 lines") == 1 and " = expected: at most 500 lines" in text


# -- plain names in a copy's values (names.py) -------------------------------------------------------------------
# A copy's own names (`i`; `key`, `item`) were added to a copy of the unit's names for every node: 32,000
# parameters and nodes took 23 s. They are looked up beside the unit's names now (4.9 s); the names still resolve.

COPIES = """vibench: 1
name: Copies
params:
  width: {type: int, default: 3}
inputs:
  x: {shape: [B, 4]}
nodes:
  a: {block: linear, in: x, out_features: width}
  r: {block: linear, in: a, repeat: 2, out_features: width}
  e: {block: linear, in: r, for_each: [5, 6], out_features: item}
outputs: {y: e.1}
"""


def test_plain_names_in_copies_read_the_units_names_and_their_own() -> None:
    import vibench

    program = vibench.check(text=COPIES, params={"width": 7})
    sizes = {nd.name: [c.params.out_features for c in nd.copies] for nd in program.root.nodes}
    assert sizes == {"a": [7], "r": [7, 7], "e": [5, 6]}
