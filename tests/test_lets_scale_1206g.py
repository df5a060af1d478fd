"""Many `let:` values, and long interpolated strings, at a cost in proportion to what they hold (QA 1206g).

* Compile time grew with the square of a unit's `let:` values (5,000 took 3 s, 20,000 took 49 s), for every
  use of a composite that had them (3,000 in a block used by `for_each: range(150)`: 78 s): each value's
  order check listed the names of all of them.
* ``"${s}${s}"`` cost one step whatever its length, so 10,000 of them built a gigabyte, and 40,000 `metadata:`
  entries ran out of memory (an internal error) before the size of METADATA was measured, once, at the end.
"""

from __future__ import annotations

from typing import Any

import pytest

import vibench
from vibench.compiler import expr, expr_eval
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.expr import parse_value
from vibench.compiler.ir import LetDef
from vibench.compiler.metadata_bounds import evaluate_metadata

TEXT = 50_000  # the `s` of the specs below: "${s}${s}" builds 100,000 characters, the longest text allowed


def _error(text: str, **kwargs: Any) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def _name_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the reads of ``LetDef.name`` from now on (the order check read every name for every value)."""
    count = [0]
    read = object.__getattribute__

    def counted(self: LetDef, attribute: str) -> Any:
        if attribute == "name":
            count[0] += 1
        return read(self, attribute)

    monkeypatch.setattr(LetDef, "__getattribute__", counted)
    return count


# -- many `let:` values -----------------------------------------------------------------------------

LETS = 300
USES = 4


def test_the_let_values_of_a_composite_cost_in_proportion_to_their_number(monkeypatch: pytest.MonkeyPatch) -> None:
    lets = "".join(f'      a{k}: "${{s + {k}}}"\n' for k in range(LETS))
    text = ("vibench: 1\nname: CL\nblocks:\n  In:\n    params: {k: 0}\n    let:\n      s: \"${k}\"\n" + lets
            + "    inputs: {x: {shape: [B, C]}}\n    nodes: {r: {block: relu, in: x}}\n    outputs: {y: r}\n"
            f"inputs: {{x: {{shape: [B, 4]}}}}\nnodes:\n  br: {{block: In, in: x, for_each: \"${{range({USES})}}\", "
            "k: \"${item}\"}\n  s: {block: add, in: br}\noutputs: {y: s}\n")
    reads = _name_reads(monkeypatch)
    program = vibench.check(text=text)
    assert len(program.root.nodes[0].copies) == USES
    # A few reads per value and use (its order, its value, what it reads); the square was 90,000 per use.
    assert reads[0] <= 30 * LETS * (USES + 1), reads[0]


def test_let_values_that_read_the_inputs_cost_in_proportion_to_their_number(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each is computed once the inputs are bound; which were left for then was a search of a list per value.
    lets = "".join(f'  a{k}: "${{C + {k}}}"\n' for k in range(LETS))
    text = ("vibench: 1\nname: D\nlet:\n" + lets + "inputs: {x: {shape: [B, C]}}\n"
            f"nodes: {{fc: {{block: linear, in: x, out_features: \"${{a{LETS - 1} - C}}\"}}}}\noutputs: {{y: fc}}\n")
    reads = _name_reads(monkeypatch)
    program = vibench.check(text=text, inputs={"x": (2, 8)})
    assert program.root.outputs[0][2].shape[-1] == LETS - 1
    assert reads[0] <= 30 * LETS, reads[0]


def test_the_first_let_that_reads_below_it_is_reported_before_any_is_computed() -> None:
    # Checked for every value before any is computed: one that reads an input's size (computed later) before it
    # changes nothing.
    text = ('vibench: 1\nname: L2\nlet:\n  a: "${C}"\n  b: "${d + 1}"\n  c: "${c}"\n  d: 3\n'
            "inputs: {x: {shape: [B, C]}}\nnodes: {fc: {block: linear, in: x, out_features: b}}\noutputs: {y: fc}\n")
    d = _error(text)
    assert (d.code, d.message) == ("E204", "`let.b` reads `d`, which is defined below it")
    assert d.pos is not None and d.pos.line == 5 and d.notes == ("`d` is defined at <string>:7:6",)


# -- interpolated strings -----------------------------------------------------------------------------


def test_an_interpolated_string_is_charged_for_the_characters_it_builds() -> None:
    env = {"s": "x" * TEXT}
    joined, added = parse_value("${s}${s}", None), parse_value("${s + s}", None)

    def evaluations(template: Any) -> int:
        made = 0
        with expr.budget(100_000):
            with pytest.raises(expr.ExprError, match="together take too many steps"):
                while made < 1_000:
                    assert len(expr.evaluate_value(template, env)) == 2 * TEXT
                    made += 1
        return made

    # `+` reads both texts and builds a third; interpolation builds one: a step per 64 characters of it.
    assert 2 * evaluations(added) <= evaluations(joined) <= 2 * evaluations(added) + 2
    assert evaluations(joined) == 100_000 // (2 * (1 + TEXT // 64) + 2)


def test_many_long_interpolated_lets_stop_at_the_budget_located_at_the_let() -> None:
    lets = "".join(f'  a{k}: "${{s}}${{s}}"\n' for k in range(200))
    text = (f'vibench: 1\nname: Many\nlet:\n  s: "${{\'x\' * {TEXT}}}"\n' + lets
            + "inputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 5}}\noutputs: {y: fc}\n")
    d = _error(text, max_nodes=10_000)  # expressions share 100,000 steps: about 63 texts of 100,000 characters
    assert d.code == "E204" and "together take too many steps" in d.message
    assert d.message.endswith("of model `Many`") and "`let.a6" in d.message
    assert d.pos is not None and 60 < d.pos.line - 5 < 70 and d.found == "${s}${s}"


# -- metadata ----------------------------------------------------------------------------------------------


def test_metadata_stops_at_the_entry_that_takes_it_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = "".join(f'  a{k}: "${{s}}${{s}}"\n' for k in range(100))
    text = (f'vibench: 1\nname: Meta\nlet:\n  s: "${{\'x\' * {TEXT}}}"\ninputs: {{x: {{shape: [B, 4]}}}}\n'
            "nodes: {fc: {block: linear, in: x, out_features: 5}}\noutputs: {y: fc}\nmetadata:\n" + entries)
    built = [0]
    evaluate = expr_eval.evaluate_template

    def counted(t: Any, env: Any) -> Any:
        built[0] += t.text == "${s}${s}"
        return evaluate(t, env)

    monkeypatch.setattr(expr_eval, "evaluate_template", counted)
    d = _error(text)
    assert (d.code, d.message) == ("E104", "`metadata` is too large for model.py")
    # 8 texts of 100,002 characters, each cut in lines of about 100, fit; the 9th passes (a8, on line 17)
    assert d.notes == ("at METADATA['a8'], as the `${...}` of `metadata` evaluate",)
    assert d.pos is not None and (d.pos.line, d.pos.col) == (17, 7)
    assert built[0] == 9  # none after it


def test_evaluate_metadata_walks_nested_entries_in_order_and_stops_at_the_first_past() -> None:
    seen: list[str] = []

    def evaluate(t: Any) -> str:
        seen.append(t.text)
        return "x" * 400_000

    table = {"a": [parse_value("${a}", None), 1], "b": {"c": parse_value("${c}", None), "d": parse_value("${d}", None)},
             "e": parse_value("${e}", None)}
    value, problem = evaluate_metadata(table, evaluate)
    assert value is None and problem is not None and problem.code == "E104"
    assert problem.notes == ("at METADATA['b']['d'], as the `${...}` of `metadata` evaluate",)
    assert seen == ["${a}", "${c}", "${d}"]
    small, none = evaluate_metadata(table, lambda t: t.text)
    assert none is None and small == {"a": ["${a}", 1], "b": {"c": "${c}", "d": "${d}"}, "e": "${e}"}
