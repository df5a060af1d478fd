"""The names of nodes a compilation does not build are checked: a typo never passes silently.

A composite nobody used and a switched-off node (`when: false`, `repeat: 0`) were never checked at
all: `{block: linear, in: nothere, extra: 1}` in an unused block, `outputs: {y: missing}` there, and
`{block: relux, when: false, foo: 1}` all passed `--check`. Their names are now checked as a built
node's are (E110, E111, E401, at the same places); their values are not (a switched-off node may
hold values that hold only when it is on).
"""

from __future__ import annotations

import pytest

import vibench
from tests.conftest import spec_text

UNUSED = spec_text("""
    vibench: 1
    name: M
    blocks:
      Bad:
        params: {w: {type: int, default: 3}}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          r: {block: linear, in: nothere, out_features: 0, extra: 1}
        outputs: {y: missing}
    inputs: {x: {shape: [B, 4]}}
    nodes: {d: {block: relu, in: x}}
    outputs: {y: d}
""")


def _errors(text: str) -> list[tuple[str, str, int, int]]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    return [(d.code, d.message, d.pos.line, d.pos.col) for d in err.value.diagnostics
            if d.severity == "error" and d.pos is not None]


def test_an_unused_composite_has_its_references_and_keys_checked() -> None:
    errors = _errors(UNUSED)
    assert ("E401", "node `r` reads unknown value `nothere`", 8, 30) in errors
    assert ("E401", "output `y` reads unknown value `missing`", 9, 18) in errors
    assert ("E111", "unknown parameter `extra` for block `linear`", 8, 56) in errors
    assert not any(code == "E112" for code, *_ in errors)  # `out_features: 0` is a value: left alone


def test_a_switched_off_node_has_its_block_and_keys_checked() -> None:
    for off in ("when: false", "repeat: 0"):
        text = spec_text(f"""
            vibench: 1
            name: M
            inputs: {{x: {{shape: [B, 4]}}}}
            nodes:
              a: {{block: relux, in: x, {off}}}
              b: {{block: relu, in: x, {off}, foo: 1}}
              c: {{block: add, in: [a, b]}}
            outputs: {{y: c}}
        """)
        with pytest.raises(vibench.SpecError) as err:
            vibench.check(text=text)
        by_code = {d.code: d for d in err.value.diagnostics}
        assert by_code["E110"].message == "unknown block `relux`" and by_code["E110"].node == "a"
        assert by_code["E110"].hint is not None and "relu" in by_code["E110"].hint  # did you mean, as when on
        assert by_code["E111"].message == "unknown parameter `foo` for block `relu`" and by_code["E111"].node == "b"


def test_a_switched_off_composite_node_checks_its_keys_and_its_body() -> None:
    text = spec_text("""
        vibench: 1
        name: M
        blocks:
          Sub:
            params: {width: 3}
            inputs: {x: {shape: [B, 4]}}
            nodes: {r: {block: relux, in: x}}
            outputs: {y: r}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          s: {block: Sub, in: x, when: false, widht: 2}
        outputs: {y: s}
    """)
    errors = _errors(text)
    assert ("E111", "unknown parameter `widht` for block `Sub`", 11, 39) in errors
    assert ("E110", "unknown block `relux`", 7, 24) in errors


def test_a_node_feeding_only_switched_off_outputs_has_its_names_checked() -> None:
    text = spec_text("""
        vibench: 1
        name: M
        params: {aux: false}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          a: {block: relu, in: x}
          b: {block: sigmoidd, in: x}
        outputs:
          y: a
          z: {from: b, when: "${aux}"}
    """)
    assert [(c, m) for c, m, *_ in _errors(text)] == [("E110", "unknown block `sigmoidd`")]


def test_values_of_switched_off_nodes_and_unused_composites_stay_unchecked() -> None:
    # A required parameter left out, a value valid only when on, a plug-in-free templated block name: all fine.
    text = spec_text("""
        vibench: 1
        name: M
        params: {n: 4, kind: relu}
        blocks:
          Spare:
            params: {n: 4}
            inputs: {x: {shape: [B, 4]}}
            nodes: {r: {block: linear, in: x, out_features: "${n - 4}"}}
            outputs: {y: r}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          a: {block: linear, in: x, when: false}
          b: {block: linear, in: a, out_features: "${n - 4}", repeat: 0}
          c: {block: "${kind + 'x'}", in: b, when: false}
        outputs: {y: c}
    """)
    program = vibench.check(text=text)
    assert [o[0] for o in program.root.outputs] == ["y"]


def test_a_composite_used_with_a_typo_reports_it_once() -> None:
    text = spec_text("""
        vibench: 1
        name: M
        blocks:
          Sub:
            inputs: {x: {shape: [B, 4]}}
            nodes: {r: {block: relu, in: x, foo: 1}}
            outputs: {y: r}
        params: {kind: Sub}
        inputs: {x: {shape: [B, 4]}}
        nodes: {s: {block: "${kind}", in: x}}
        outputs: {y: s}
    """)
    errors = _errors(text)
    assert errors == [("E111", "unknown parameter `foo` for block `relu`", 6, 37)]
