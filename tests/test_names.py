"""Names as values (docs/language.md#names-as-values): where a value that is not text is expected, the
plain name of a parameter, `let`, loop variable or input symbol reads it; in a text parameter a name
stays text."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import vibench
from tests.conftest import spec_text

ROOT = Path(__file__).resolve().parent.parent

WITH_NAMES = spec_text("""
    vibench: 1
    name: Net
    params:
      input_dim: {type: int, default: 3}
      width: {type: int, default: 8}
      output_dim: {type: int, default: width}
      drop: {type: float, default: 0.25}
      layers: {type: int, default: 2}
      gated: {type: bool, default: true}
      act: {type: str, default: gelu}
    let:
      widths: "${[width, 2 * width]}"
    inputs: {x: {shape: [B, L, input_dim]}}
    blocks:
      Layer:
        params: {cout: {type: int}, p: {type: float, default: 0.0}}
        inputs: {x: {shape: [B, L, C]}}
        nodes:
          fc: {block: linear, in: x, out_features: cout}
          square: {block: linear, in: fc, out_features: C}
          dr: {block: dropout, in: square, p: p}
        outputs: {y: dr}
    nodes:
      fc: {block: linear, in: x, out_features: width}
      layers: {block: Layer, in: fc, repeat: layers, cout: width, p: drop}
      gate: {block: sigmoid, in: layers, when: gated}
      stages: {block: Layer, in: gate, for_each: widths, cout: item}
      merge: {block: concat, in: stages, dim: -1}
      act: {block: isfm_activation, in: merge, name: "${act}"}
      head: {block: linear, in: act, out_features: output_dim}
    outputs: {y: head}
""")

WITH_TEMPLATES = (WITH_NAMES.replace("out_features: width", 'out_features: "${width}"')
                  .replace("default: width", 'default: "${width}"')
                  .replace("repeat: layers, cout: width, p: drop",
                           'repeat: "${layers}", cout: "${width}", p: "${drop}"')
                  .replace("when: gated", 'when: "${gated}"')
                  .replace("for_each: widths, cout: item", 'for_each: "${widths}", cout: "${item}"')
                  .replace("out_features: cout", 'out_features: "${cout}"')
                  .replace("out_features: C", 'out_features: "${C}"')
                  .replace("p: p}", 'p: "${p}"}').replace("out_features: output_dim", 'out_features: "${output_dim}"'))


def _line(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def _body(source: str) -> str:
    return source.split("\n", 2)[2]  # without the header naming the spec's hash


def test_a_name_reads_what_the_template_reads() -> None:
    assert WITH_TEMPLATES.count("${") == 14 and WITH_NAMES.count("${") == 2
    named = vibench.compile_spec(text=WITH_NAMES)
    written = vibench.compile_spec(text=WITH_TEMPLATES)
    assert _body(named.source) == _body(written.source)
    program = named.program
    assert [n.name for n in program.root.nodes] == ["fc", "layers", "gate", "stages", "merge", "act", "head"]
    assert str(program.root.outputs[0][2]) == "[B, L, 8]"
    assert [len(n.copies) for n in program.root.nodes][:4] == [1, 2, 1, 2]
    assert str(program.root.nodes[4].outputs[0][1]) == "[B, L, 16]"  # stages: 8 + 8 features


def test_names_follow_overrides() -> None:
    program = vibench.check(text=WITH_NAMES, params={"width": 4, "output_dim": 5, "layers": 3, "gated": False})
    assert [len(n.copies) for n in program.root.nodes if n.name == "layers"] == [3]
    assert "gate" not in [n.name for n in program.root.nodes]
    assert str(program.root.outputs[0][2]) == "[B, L, 5]"


def test_a_name_in_a_text_parameter_is_text_and_the_error_says_how_to_read_it() -> None:
    text = WITH_NAMES.replace('name: "${act}"', "name: act")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (d,) = err.value.diagnostics
    assert d.code == "E112" and d.found == "'act'" and d.pos is not None and d.pos.line == _line(text, "name: act")
    assert d.hint is not None and "`${act}`" in d.hint


def test_text_equal_to_a_parameters_name_does_not_use_the_parameter() -> None:
    """`approximate: tanh` is the text 'tanh' (a valid choice), so a parameter named `tanh` that nothing
    reads is still W105; where the text is invalid, E112's "write ${tanh}" says it instead (above)."""
    text = ("vibench: 1\nname: M\nparams:\n  tanh: {type: str, default: none}\n"
            "inputs: {x: {shape: [B, 4]}}\nnodes:\n  n: {block: gelu, in: x, approximate: tanh}\noutputs: {y: n}\n")
    program = vibench.check(text=text)
    assert [(w.code, w.pos.line if w.pos else None) for w in program.warnings] == [("W105", 4)]
    assert "`tanh` is declared but never used" in program.warnings[0].message


def test_a_misspelt_name_in_a_number_field_suggests_the_name() -> None:
    text = WITH_NAMES.replace("  fc: {block: linear, in: x, out_features: width}",
                              "  fc: {block: linear, in: x, out_features: widht}")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (d,) = err.value.diagnostics
    assert d.code == "E112" and d.found == "'widht'" and d.pos is not None and d.pos.line == _line(text, "widht")
    assert d.hint is not None and "`width`" in d.hint


def test_a_composite_parameter_given_an_unknown_name_is_a_type_error() -> None:
    text = WITH_NAMES.replace("cout: width, p: drop", "cout: wdth, p: drop")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    assert [d.code for d in err.value.diagnostics] == ["E202"]
    assert err.value.diagnostics[0].pos.line == _line(text, "wdth")


def test_names_in_with_and_for_a_block_chosen_by_expression() -> None:
    text = spec_text("""
        vibench: 1
        name: Chosen
        params: {kind: {type: str, default: Proj}, width: 6}
        inputs: {x: {shape: [B, 4]}}
        blocks:
          Proj:
            params: {cout: {type: int}}
            inputs: {x: {shape: [B, C]}}
            nodes: {fc: {block: linear, in: x, out_features: cout}}
            outputs: {y: fc}
        nodes:
          a: {block: "${kind}", in: x, cout: width}
          b: {block: Proj, in: a, with: {cout: width}}
        outputs: {y: b}
    """)
    program = vibench.check(text=text, params={"width": 5})
    assert [str(t) for _, _, t in program.root.outputs] == ["[B, 5]"]


def test_a_name_in_an_input_shape_is_a_use_of_the_parameter() -> None:
    program = vibench.check(text=spec_text("""
        vibench: 1
        name: Used
        params: {channels: 3}
        inputs: {x: {shape: [B, L, channels]}}
        nodes: {fc: {block: linear, in: x, out_features: 2}}
        outputs: {y: fc}
    """))
    assert [d.code for d in program.warnings] == []


def test_the_schema_takes_a_name_only_where_it_reads_a_parameter() -> None:
    schema = json.loads((ROOT / "vibench/schemas/spec.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(WITH_NAMES)))
    node = yaml.safe_load(WITH_NAMES)
    node["nodes"]["fc"]["out_features"] = "two words"
    assert list(validator.iter_errors(node))  # not a name, not a number
    defs = schema["$defs"]
    assert defs["Name"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"
    text = json.dumps(defs["Node"])
    assert '"title": "out_features: a parameter\'s name"' in text
    assert '"title": "padding_mode: a parameter\'s name"' not in text  # a choice of strings: names are text


def test_a_flag_or_count_that_names_nothing_is_e211_with_the_nearest_name() -> None:
    text = WITH_NAMES.replace("repeat: layers,", "repeat: layer,").replace("when: gated}", "when: gate}")
    diags = _error_list(text)
    assert [(d.code, d.pos.line) for d in diags] == [("E211", _line(text, "repeat: layer,")),
                                                     ("E211", _line(text, "when: gate}"))]
    assert "`layers`" in (diags[0].hint or "") and "`gated`" in (diags[1].hint or "")
    assert diags[0].found == "'layer'" and "a parameter's name" in diags[0].message


def test_an_output_switched_by_a_flag_name() -> None:
    text = WITH_NAMES.replace("outputs: {y: head}", "outputs: {y: head, z: {from: fc, when: gated}}")
    assert [name for name, _, _ in vibench.check(text=text).root.outputs] == ["y", "z"]
    assert [name for name, _, _ in vibench.check(text=text, params={"gated": False}).root.outputs] == ["y"]


def _error_list(text: str) -> list:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    return list(err.value.diagnostics)
