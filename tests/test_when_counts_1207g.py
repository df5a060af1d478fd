"""What a node's `when:` switches off is not counted or read.

Before: `repeat` and `for_each` over a list counted a composite's *declared* outputs and inputs, so a
composite whose second output (or input) its parameters switch off was E405 ("`Two` has 1 input(s) and 2
output(s)"), though a `for_each` over a mapping of the same block compiled; a switched-off node that read a
switched-off input was E405 ("input `fs` is switched off"), though a switched-off node reads nothing (it passes
its first input through); and a `let` that read a free input size (``${L // 2}``) was E303 at the `let` although
nothing read it.

Now: the copies count the outputs and inputs switched on for their values (E405 stays where more than one is
on); a switched-off node's inputs are not read (a node switched on, or an output, that reads a switched-off
node passing a switched-off input is E405); an unread `let` needs no size, and one read asks for it there
(E303). Each spec that now compiles gives the same model emitted (model.py) and built (`vibench.build`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import emitted_equals_built
from vibench.compiler.diagnostics import SpecError

TWO = """\
vibench: 1
name: RepMin
inputs: {{x: {{shape: [B, 6]}}, aux: {{shape: [B, 6], optional: true}}}}
blocks:
  Two:
    params: {{extra: false}}
    inputs:
      x: {{shape: [B, D]}}
{second}    nodes:
      fc: {{block: linear, in: x, out_features: 6}}
      g: {{block: linear, in: fc, out_features: 2, when: extra}}
    outputs: {{y: fc, z: {{from: g, when: extra}}}}
nodes:
  r: {{block: Two, in: {in_}, {how}{more}}}
{reader}outputs: {{o: {out}}}
"""


def _two(how: str, *, extra: bool = False, port: bool = False) -> str:
    reader = "  s: {block: add, in: r}\n" if how.startswith("for_each: [") else ""  # a list's reader
    second = "      a: {shape: [B, D], when: extra}\n" if port else ""
    return TWO.format(in_='{x: x, "a?": aux}' if port else "x", second=second, how=how,
                      more=", extra: true" if extra else "", reader=reader, out="s" if reader else "r")


OFF_READER = """\
vibench: 1
name: OffReader
params: {flag: false}
inputs:
  x: {shape: [B, 4]}
  fs: {shape: [B], when: flag}
nodes:
  f2: {block: unsqueeze, in: fs, dim: 1, when: flag}
  g: {block: mul, in: [x, f2], when: flag}
  fc: {block: linear, in: g, out_features: 4}
outputs: {y: fc}
"""

UNREAD_LET = """\
vibench: 1
name: HalfLet
let: {half: "${L // 2}", quarter: "${half // 2}"}
inputs: {x: {shape: [B, 4, L]}}
nodes: {conv: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, padding: 1}}
outputs: {y: conv}
"""


def _codes(text: str, **params: Any) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as err:
        vibench.compile_spec(text=text, params=params)
    return [(d.code, d.message) for d in err.value.diagnostics]


def _emit_equals_build(tmp_path: Path, text: str, name: str, shapes: dict[str, tuple[int, ...]],
                       **params: Any) -> None:
    emitted_equals_built(tmp_path, text, name, shapes, "when_counts_1207g", **params)


@pytest.mark.parametrize("how", ["repeat: 2", "for_each: [1, 2]", "for_each: {a: 1, b: 2}"])
def test_a_composite_counts_the_outputs_its_values_switch_on(how: str, tmp_path: Path) -> None:
    text = _two(how)
    if "{" in how:  # a mapping's copies are returned by key
        text = text.replace("outputs: {o: r}", "outputs: {o: {from: r.*}}")
    out = vibench.compile_spec(text=text).program.root.outputs
    assert len(out) == (2 if "{" in how else 1)
    _emit_equals_build(tmp_path, text, "RepMin", {"x": (2, 6)})


def test_a_switched_off_input_of_a_repeated_composite_is_not_counted(tmp_path: Path) -> None:
    text = _two("repeat: 3", port=True)
    assert [name for name, _ in vibench.compile_spec(text=text).program.root.inputs] == ["x"]
    _emit_equals_build(tmp_path, text, "RepMin", {"x": (2, 6)})


@pytest.mark.parametrize("how, message", [
    ("repeat: 2", "`repeat` chains copies through one input and one output; `Two` has 1 input(s) and 2 output(s)"),
    ("for_each: [1, 2]", "`for_each` copies give one value each; `Two` has 2 outputs")])
def test_a_composite_with_two_outputs_switched_on_is_still_refused(how: str, message: str) -> None:
    assert _codes(_two(how, extra=True)) == [("E405", message)]


def test_a_second_input_switched_on_still_breaks_a_repeat_chain() -> None:
    codes = _codes(_two("repeat: 2", extra=True, port=True))
    assert codes == [("E405", "`repeat` chains copies through one input and one output; `Two` has 2 input(s) and "
                              "2 output(s)")]


def test_a_switched_off_node_reads_no_switched_off_input(tmp_path: Path) -> None:
    for flag in (False, True):
        program = vibench.compile_spec(text=OFF_READER, params={"flag": flag}).program
        assert [name for name, _ in program.root.inputs] == (["x", "fs"] if flag else ["x"])
    _emit_equals_build(tmp_path, OFF_READER, "OffReader", {"x": (2, 4)})
    _emit_equals_build(tmp_path, OFF_READER, "OffReader", {"x": (2, 4), "fs": (2,)}, flag=True)


@pytest.mark.parametrize("text, message", [
    (OFF_READER.replace("  f2: {block: unsqueeze, in: fs, dim: 1, when: flag}",
                        "  f2: {block: unsqueeze, in: fs, dim: 1}"),
     "input `fs` is switched off (its `when` is false)"),
    (OFF_READER.replace("in: [x, f2], when: flag}", "in: [x, f2]}"),
     "`f2` is switched off and passes on input `fs`, which is switched off (its `when` is false)"),
    (OFF_READER.replace("in: [x, f2]", "in: [f2, x]"),  # g passes f2's (none) on to fc
     "`g` is switched off and passes on input `fs`, which is switched off (its `when` is false)"),
    (OFF_READER.replace("outputs: {y: fc}", "outputs: {y: fc, z: f2}"),
     "`f2` is switched off and passes on input `fs`, which is switched off (its `when` is false)")])
def test_a_node_switched_on_or_an_output_still_may_not_read_it(text: str, message: str) -> None:
    assert _codes(text) == [("E405", message)]


def test_a_typo_in_a_switched_off_node_is_still_an_error() -> None:
    assert [c for c, _ in _codes(OFF_READER.replace("in: fs, dim: 1", "in: fz, dim: 1"))] == ["E401"]


def test_an_unread_let_needs_no_input_size(tmp_path: Path) -> None:
    root = vibench.compile_spec(text=UNREAD_LET).program.root
    assert [str(d) for d in root.inputs[0][1].shape] == ["B", "4", "L"]
    _emit_equals_build(tmp_path, UNREAD_LET, "HalfLet", {"x": (2, 4, 16)})


def test_a_let_that_is_read_asks_for_the_size_where_it_is_read(tmp_path: Path) -> None:
    text = UNREAD_LET.replace("out_channels: 4", "out_channels: quarter")
    codes = _codes(text)
    assert [c for c, _ in codes] == ["E303"] and "`${quarter}`" in codes[0][1]
    model = vibench.build(text=text, inputs={"x": (2, 4, 32)})
    assert model(torch.randn(2, 4, 32)).shape == (2, 8, 32)


def test_a_let_a_check_reads_is_still_asked_for_at_the_let() -> None:
    text = UNREAD_LET.replace("inputs:", 'checks: [{that: "${half > 1}", message: "too short"}]\ninputs:')
    codes = _codes(text)
    assert [c for c, _ in codes] == ["E303"] and "${L // 2}" in codes[0][1]
