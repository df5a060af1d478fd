"""Items left open by the 1206b/1206c language passes, checked here.

* A composite's input declared `[B, ${m - 4}]` at m = 4 (or `[B, m]` at m = 0) is E212 at the
  declaration, as a top-level input is: it was E301 at the call ("expected [B, 0]"); a declared
  dimension that computes to a float (`${m / 2}`) was an internal error (AttributeError in the solver).
* An equality between two sizes reads `L == C`, not `-C + L == 0`; one with a constant keeps the
  constant positive (`L == C + 3`, `L + 3 == C`).
"""

from __future__ import annotations

import pytest

import vibench
from vibench.compiler.constraints import eq_text
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.symbolic import Expr


def _error(text: str, **kwargs: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)  # type: ignore[arg-type]
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


COMPOSITE = """\
vibench: 1
name: T
params:
  m: {type: int, default: 4}
inputs:
  x: {shape: [B, 8]}
blocks:
  Inner:
    params:
      m: {type: int}
    inputs:
      h: {shape: DIMS}
    nodes:
      a: {block: relu, in: h}
    outputs:
      y: a
nodes:
  c: {block: Inner, in: x, m: '${m}'}
outputs:
  y: c
"""


@pytest.mark.parametrize(("dims", "m", "col", "found"), [
    ("[B, '${m - 4}']", 4, 22, "0"),
    ("[B, m]", 0, 7, "0"),
    ("[B, '${m / 2}']", 16, 22, "8.0"),
])
def test_a_composite_input_dimension_that_is_not_a_positive_integer_is_e212(dims: str, m: int, col: int,
                                                                             found: str) -> None:
    d = _error(COMPOSITE.replace("DIMS", dims), params={"m": m})
    assert d.code == "E212" and "input `h` of block `Inner`" in d.message and d.node == "c", d
    assert d.pos is not None and (d.pos.line, d.pos.col) == (12, col), d
    assert d.found == found
    assert any("at the call of `Inner`" in n and ":18:" in n for n in d.notes), d.notes


def test_a_composite_input_dimension_that_is_positive_still_unifies() -> None:
    vibench.check(text=COMPOSITE.replace("DIMS", "[B, '${m + 4}']"))
    d = _error(COMPOSITE.replace("DIMS", "[B, '${m + 4}']"), params={"m": 5})
    assert d.code == "E301" and d.found == "[B, 8]"


@pytest.mark.parametrize(("lhs", "text"), [
    (lambda L, C: L - C, "L == C"),
    (lambda L, C: C - L, "C == L"),
    (lambda L, C: L - 2 * C, "L == 2 * C"),
    (lambda L, C: L - C - 3, "L == C + 3"),
    (lambda L, C: L - C + 3, "L + 3 == C"),
    (lambda L, C: 5 - L, "L == 5"),
    (lambda L, C: L // 128 - 32, "L // 128 == 32"),
    (lambda L, C: -L, "L == 0"),
])
def test_an_equality_reads_without_negative_terms(lhs, text: str) -> None:
    assert eq_text(lhs(Expr.symbol("L"), Expr.symbol("C")), 0) == text


def test_a_promise_equating_two_input_sizes_reads_l_equals_c() -> None:
    text = """\
vibench: 1
name: Sq
inputs: {x: {shape: [B, C, L]}}
nodes:
  f: {block: identity, in: x}
outputs:
  y: {from: f, shape: [B, L, L]}
"""
    program = vibench.check(text=text)
    assert [c.text for c in program.root.constraints] == ["L == C"]
    d = _error(text, inputs={"x": (2, 3, 5)})
    assert d.code == "E308" and "L == C" in d.message, d
