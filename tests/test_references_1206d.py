"""What a bare node name reads, and the bound on every integer an expression produces (1206d).

* A `for_each` node's value is the list of its copies, taken whole only by a block that takes a list of
  inputs (`concat`, `add`, `ensemble_fusion`); anywhere else it is E405 where it is named. An output
  `y: p` returned the first copy (the others computed and thrown away); `in: {x: p}` bound the last.
  A switched-off node passes the list through whole, and one that passes `p.1` passes that copy only
  (`concat` read it as the whole list).
* A node with numbered outputs (`chunk`, `split`) has no first one: a bare name is E405 (it read `c.0`).
  A node with named outputs reads as its first (`lstm` is `lstm.out`): the library relies on it.
* Every integer an expression produces meets one bound, 2**62 in magnitude, as a literal too:
  `${-(-9223372036854775808)}` passed as 2**63 and ended as E307 (too many parameters).
"""

from __future__ import annotations

import pytest
import torch

import vibench
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.expr import ExprError, evaluate_template
from vibench.compiler.expr_parse import parse_template


def _error(text: str) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def _outputs(text: str) -> dict[str, str]:
    program = vibench.check(text=text)
    return {name: str(t) for name, _, t in program.root.outputs}


def _spec(nodes: str, outputs: str) -> str:
    return ("vibench: 1\nname: T\ninputs: {x: {shape: [B, 4, 8]}}\nnodes:\n"
            '  p: {block: adaptive_avg_pool1d, in: x, output_size: "${item}", for_each: [2, 3]}\n'
            f"{nodes}outputs: {outputs}\n")


# -- a `for_each` node's list -------------------------------------------------------------------


@pytest.mark.parametrize(("nodes", "outputs", "line", "col", "reader"), [
    ("", "{y: p}", 6, 14, "output `y` is one tensor"),
    ("  t: {block: transpose, in: {x: p}, dim0: 1, dim1: 2}\n", "{y: t}", 6, 33, "`transpose` takes one value"),
    ("  r: {block: relu, in: p}\n", "{y: r}", 6, 24, "`relu` takes one value"),
    ("  o: {block: identity, when: false, in: p}\n  r: {block: relu, in: o}\n", "{y: r}", 7, 24,
     "`relu` takes one value"),
])
def test_a_for_each_list_where_one_value_is_needed_is_e405(nodes: str, outputs: str, line: int, col: int,
                                                           reader: str) -> None:
    d = _error(_spec(nodes, outputs))
    assert d.code == "E405" and "the list of the copies of `for_each` node `p`" in d.message, d
    assert reader in d.message and (d.pos.line, d.pos.col) == (line, col), d  # type: ignore[union-attr]
    assert d.expected == "one copy: `p.0` to `p.1`" and d.found == "the whole list (2 copies)", d
    assert d.hint is not None and "`p.0`" in d.hint and "`concat`" in d.hint, d


def test_a_for_each_list_is_taken_whole_by_a_list_block_and_passed_through_whole() -> None:
    text = _spec("  c: {block: concat, in: [p, x], dim: 2}\n"
                 "  s: {block: concat, when: false, in: p}\n"
                 "  c2: {block: concat, in: s, dim: 2}\n"
                 "  o: {block: identity, when: false, in: p.1}\n"
                 "  c3: {block: concat, in: [o, o], dim: 2}\n",
                 "{y: c, z: c2, w: c3, first: p.0}")
    assert _outputs(text) == {"y": "[B, 4, 13]", "z": "[B, 4, 5]", "w": "[B, 4, 6]", "first": "[B, 4, 2]"}
    model = vibench.build(text=text)
    out = model(torch.randn(2, 4, 8))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"y": (2, 4, 13), "z": (2, 4, 5), "w": (2, 4, 6),
                                                           "first": (2, 4, 2)}


def test_a_one_copy_list_is_still_a_list() -> None:
    text = ("vibench: 1\nname: T\ninputs: {x: {shape: [B, 4, 8]}}\nnodes:\n"
            "  one: {block: adaptive_avg_pool1d, in: x, output_size: 2, for_each: [1]}\n"
            "  total: {block: add, in: one}\n  r: {block: relu, in: [one]}\noutputs: {y: total, r: r}\n")
    d = _error(text)
    assert d.code == "E405" and d.node == "r" and d.expected == "one copy: `one.0`", d
    assert d.found == "the whole list (1 copy)", d
    assert _outputs(text.replace("in: [one]", "in: one.0")) == {"y": "[B, 4, 2]", "r": "[B, 4, 2]"}


# -- nodes with several outputs -----------------------------------------------------------------


MULTI = """\
vibench: 1
name: M
inputs: {x: {shape: [B, 4, 16]}}
nodes:
  c: {block: chunk, in: x, chunks: 2, dim: 1}
  q: {block: relu, in: READ}
  d: {block: dwt1d, in: x, wavelet: haar}
  r: {block: relu, in: d}
  t: {block: transpose, in: x, dim0: 1, dim1: 2}
  lstm: {block: lstm, in: t, hidden_size: 3}
  s: {block: relu, in: lstm}
outputs: {q: q, r: r, s: s}
"""


def test_a_bare_name_of_numbered_outputs_is_e405_and_named_outputs_read_the_first() -> None:
    d = _error(MULTI.replace("READ", "c"))
    assert d.code == "E405" and "none of the 2 numbered outputs of node `c`" in d.message and d.node == "q", d
    assert (d.pos.line, d.pos.col) == (6, 24) and d.expected == "`c.0` or `c.1`", d  # type: ignore[union-attr]
    assert d.hint is not None and "`c.0`" in d.hint, d
    # The library reads `lstm`/`gru` bare as their `out` (rnn/AttentionLSTM, rnn/ResidualRNN): documented.
    assert _outputs(MULTI.replace("READ", "c.1")) == {"q": "[B, 2, 16]", "r": "[B, 4, 8]", "s": "[B, 16, 3]"}


def test_a_bare_output_of_numbered_outputs_is_e405() -> None:
    d = _error(MULTI.replace("READ", "c.0").replace("outputs: {q: q,", "outputs: {q: c, q0: q,"))
    assert d.code == "E405" and d.node is None and (d.pos.line, d.pos.col) == (12, 14), d  # type: ignore[union-attr]


# -- the bound on integers ----------------------------------------------------------------------


def test_an_out_of_range_literal_is_e204_where_it_is_written() -> None:
    text = ("vibench: 1\nname: E\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
            '  a: {block: linear, in: x, out_features: "${-(-9223372036854775808)}"}\noutputs: {y: a}\n')
    d = _error(text)
    assert d.code == "E204" and "integer 9223372036854775808 is too large" in d.message, d
    assert (d.pos.line, d.pos.col) == (5, 43), d  # type: ignore[union-attr]


@pytest.mark.parametrize("expression", [
    "-(-9223372036854775808)", "9223372036854775808 // 4", "-9223372036854775808 + 2**62", "+9223372036854775808",
    "[9223372036854775808][0] // 2", "abs(-4611686018427387904 - 1)", "-4611686018427387904 - 1",
    "4611686018427387904 * 2", "2 ** 63", "sum([4611686018427387904, 1])", "int(1e19)", "round(-1e19)",
    "ceil(5e18)", "4611686018427387904 + 1",
])
def test_every_integer_an_expression_produces_meets_the_bound(expression: str) -> None:
    with pytest.raises(ExprError, match="too large"):
        evaluate_template(parse_template("${" + expression + "}", None), {})


@pytest.mark.parametrize(("expression", "value"), [
    ("-4611686018427387904", -2**62), ("-(-4611686018427387904)", 2**62), ("abs(-4611686018427387904)", 2**62),
    ("4611686018427387904 - 4611686018427387904", 0),
])
def test_integers_at_the_bound_are_values(expression: str, value: int) -> None:
    assert evaluate_template(parse_template("${" + expression + "}", None), {}) == value


SWITCHED_OFF_INPUT = """\
vibench: 1
name: I1
params: {use_y: false}
inputs:
  x: {shape: [B, 2, L]}
  y: {shape: [B, 3], when: use_y}
nodes:
  a: {block: identity, in: x}
outputs: {y: a}
"""


def test_binding_an_input_switched_off_by_its_when_is_e305() -> None:
    """`--input y=1,3` for an input whose `when` is false bound B = 1 for x, silently."""
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=SWITCHED_OFF_INPUT, inputs={"y": (1, 3)})
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert d.code == "E305" and "switched off" in d.message and d.pos is not None and (d.pos.line, d.pos.col) == (6, 3)
    vibench.check(text=SWITCHED_OFF_INPUT, inputs={"y": (1, 3)}, params={"use_y": True})  # switched on: bound
    with pytest.raises(vibench.SpecError, match="dimension 1 is fixed to 3"):
        vibench.check(text=SWITCHED_OFF_INPUT, inputs={"y": (1, 4)}, params={"use_y": True})
