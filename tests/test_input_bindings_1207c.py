"""`--input` against a dimension whose value follows from the other sizes (QA pass 1207c).

With `let: {half: "${L // 2}"}` and inputs `x: [B, L]`, `y: [B, half]`, `--input x=2,16 --input y=2,5` printed ok,
showed `y: [2, 8]` and "bound: ..., half=5": the size given for `half` bound a symbol of its own, which the model
never read. A name of a `let` (or a parameter) is never a symbol; such a dimension, or a `${...}` one, is compared
with its value once the sizes are bound: E305 at the input, as for a fixed size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from tests.conftest import spec_text
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic

HALF = spec_text("""
    vibench: 1
    name: T
    let:
      half: "${L // 2}"
    inputs:
      x: {shape: [B, L]}
      y: {shape: [B, half]}
    nodes:
      fx: {block: linear, in: x, out_features: 3}
      fy: {block: linear, in: y, out_features: 3}
      s: {block: add, in: [fx, fy]}
    outputs: {o: s}
""")
EXPRESSION = HALF.replace("[B, half]", '[B, "${L // 2}"]')


def _error(text: str, inputs: dict[str, tuple[int, ...]]) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, inputs=inputs)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, [str(d) for d in errors]
    return errors[0]


@pytest.mark.parametrize("inputs", [{"x": (2, 16), "y": (2, 5)}, {"y": (2, 5), "x": (2, 16)}])
def test_a_size_contradicting_a_let_named_dimension_is_e305(inputs: dict[str, tuple[int, ...]]) -> None:
    d = _error(HALF, inputs)
    assert (d.code, d.message) == ("E305", "inputs['y']: dimension 1 is `half` (`let.half`), which is 8")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (7, 3)  # at the input, as every E305 of its sizes
    assert (d.expected, d.found) == ("[2, 8]", "2,5")
    assert d.hint is not None and "size 8 (with L = 16)" in d.hint


def test_a_size_contradicting_an_expression_dimension_is_e305() -> None:
    d = _error(EXPRESSION, {"x": (2, 16), "y": (2, 5)})
    assert (d.code, d.message) == ("E305", "inputs['y']: dimension 1 is `${L // 2}`, which is 8")
    assert (d.expected, d.found) == ("[2, 8]", "2,5")


@pytest.mark.parametrize("text", [HALF, EXPRESSION])
def test_the_size_the_value_gives_binds_no_symbol_of_its_own(text: str) -> None:
    program = vibench.check(text=text, inputs={"x": (2, 16), "y": (2, 8)})
    assert program.bindings == (("B", 2), ("L", 16))  # `half` was bound to the size given, here 8
    shapes = {name: [str(d) for d in t.shape] for name, t in program.root.inputs}
    assert shapes == {"x": ["B", "16"], "y": ["B", "8"]}


def test_the_command_line_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "half.yaml"
    spec.write_text(HALF, encoding="utf-8")
    assert main([str(spec), "--check", "--input", "x=2,16", "--input", "y=2,5"]) == 1
    err = capsys.readouterr().err
    assert "error[E305]: --input y: dimension 1 is `half` (`let.half`), which is 8" in err
    assert "leave `y` out of --input" in err
