"""Issue 1206: the committed JSON Schema and the compiler agree on `with:`/`inherit`, template `with:`
values, empty sections, `extends:` combinations and `clamp`; the compiler is strict where the language
says "every field is strict"; an output's `as:` without `layout:` is an error, not a dropped output.

Schema cases validate with ``jsonschema`` (draft 2020-12) against the committed file; compiler
cases check the code, position and message.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import vibench
from tests.helpers import ROOT

COMMITTED = Path(ROOT) / "vibench" / "schemas" / "spec.schema.json"
HEAD = "vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, 16]}}\noutputs: {y: a}\n"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(COMMITTED.read_text(encoding="utf-8")))


def schema_errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


def diagnostics(text: str) -> list[tuple[str, int, int, str]]:
    """(code, line, column, message) of each error the compiler reports; [] when it compiles."""
    try:
        vibench.check(text=text)
    except vibench.SpecError as err:
        return [(d.code, d.pos.line, d.pos.col, d.message) for d in err.diagnostics if d.pos is not None]
    return []


# Valid specs the schema used to flag (and the compiler accepts).
ACCEPTED = {
    "inherit": HEAD + "params: {out_channels: 8, kernel_size: 3}\nnodes: {a: {block: conv1d, in: x, inherit: true}}\n",
    "with mapping": HEAD + "nodes: {a: {block: conv1d, in: x, out_channels: 8, with: {kernel_size: 3}}}\n",
    "with mapping, all": HEAD + "nodes: {a: {block: conv1d, in: x, with: {out_channels: 8, kernel_size: 3}}}\n",
    "with expression": HEAD + "params: {conv: {type: 'dict[str, any]', default: {out_channels: 8, kernel_size: 3}}}\n"
    "nodes: {a: {block: conv1d, in: x, with: '${conv}'}}\n",
    "clamp bound in with": HEAD + "nodes: {a: {block: clamp, in: x, with: {max: 1.0}}}\n",
    "template with: a parameter's name": "vibench: 1\nparams: {classes: 4}\nextends: cnn/ResNet1D\n"
    "with: {num_classes: classes}\n",
    **{f"{m} ensemble_backbones null": f"vibench: 1\nextends: isfm/{m}\nwith: {{ensemble_backbones: null}}\n"
       for m in ("M_01_ISFM", "M_02_ISFM", "M_02_ISFM_heterogeneous_batch", "M_03_ISFM")},
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_the_schema_accepts_what_the_compiler_accepts(validator: jsonschema.Draft202012Validator,
                                                      name: str) -> None:
    assert diagnostics(ACCEPTED[name]) == []
    assert schema_errors(validator, ACCEPTED[name]) == []


# Specs the schema used to accept: (spec, the compiler's first error (code, line, column, message start)).
REFUSED = {
    "with: misspelt key": (HEAD + "nodes: {a: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, "
                           "with: {kernel_sise: 3}}}\n",
                           ("E111", 5, 75, "unknown parameter `kernel_sise` for block `conv1d`")),
    "with: a required parameter missing": (HEAD + "nodes: {a: {block: conv1d, in: x, with: {kernel_size: 3}}}\n",
                                           ("E113", 5, 9, "block `conv1d` needs parameter `out_channels`")),
    "clamp without bounds": (HEAD + "nodes: {a: {block: clamp, in: x}}\n",
                             ("E112", 5, 9, "block `clamp` at node `a`: give `min`, `max` or both")),
    "clamp with null bounds": (HEAD + "nodes: {a: {block: clamp, in: x, min: null, max: null}}\n",
                               ("E112", 5, 9, "block `clamp` at node `a`: give `min`, `max` or both")),
    "nodes empty": (HEAD + "nodes:\n",
                    ("E102", 5, 7, "`nodes` is empty (null)")),
    "inputs null": (HEAD.replace("inputs: {x: {shape: [B, 4, 16]}}", "inputs: null") + "nodes: {a: {block: relu}}\n",
                    ("E102", 3, 9, "`inputs` is empty (null)")),
    "outputs null": (HEAD.replace("outputs: {y: a}", "outputs: null") + "nodes: {a: {block: relu, in: x}}\n",
                     ("E102", 4, 10, "`outputs` is empty (null)")),
    "name null": (HEAD.replace("name: M", "name: null") + "nodes: {a: {block: relu, in: x}}\n",
                  ("E102", 2, 7, "`name` is empty (null)")),
    "nodes next to extends": ("vibench: 1\nextends: cnn/ResNet1D\nnodes: {a: {block: relu, in: x}}\n",
                              ("E107", 3, 1, "`nodes:` cannot be combined with `extends:`")),
    "inputs next to extends": ("vibench: 1\nextends: cnn/ResNet1D\ninputs: {x: {shape: [B, 4]}}\n",
                               ("E107", 3, 1, "`inputs:` cannot be combined with `extends:`")),
    "outputs next to extends": ("vibench: 1\nextends: cnn/ResNet1D\noutputs: {y: x}\n",
                                ("E107", 3, 1, "`outputs:` cannot be combined with `extends:`")),
    "checks next to extends": ("vibench: 1\nextends: cnn/ResNet1D\nchecks: [{that: '${True}', message: m}]\n",
                               ("E107", 3, 1, "`checks:` cannot be combined with `extends:`")),
    "with without extends": (HEAD + "nodes: {a: {block: relu, in: x}}\nwith: {a: 1}\n",
                             ("E107", 6, 1, "`with:` needs `extends:`")),
    "extends null": (HEAD + "nodes: {a: {block: relu, in: x}}\nextends: null\n",
                     ("E102", 6, 10, "`extends` is empty (null)")),
    "choices empty": (HEAD + "params: {w: {type: int, default: 8, choices: []}}\nnodes: {a: {block: relu, in: x}}\n",
                      ("E102", 5, 46, "wrong type for `params.w.choices`")),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_the_schema_refuses_what_the_compiler_refuses(validator: jsonschema.Draft202012Validator,
                                                      name: str) -> None:
    text, (code, line, col, message) = REFUSED[name]
    first = diagnostics(text)[0]
    assert first[:3] == (code, line, col) and first[3].startswith(message), first
    assert schema_errors(validator, text)


def test_an_empty_section_says_it_is_empty_not_missing() -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=REFUSED["nodes empty"][0])
    (d,) = info.value.diagnostics
    assert d.message == "`nodes` is empty (null)" and d.expected == "a mapping of node names to nodes"
    assert d.found == "null" and "missing" not in d.message


def test_choices_must_list_a_value() -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=REFUSED["choices empty"][0])
    assert info.value.diagnostics[0].expected == "a list of at least one value (`choices: []` allows none)"


def test_clamp_min_above_max_names_the_block_and_the_rule() -> None:
    text = HEAD + "nodes: {a: {block: clamp, in: x, min: 3, max: 1}}\n"
    assert diagnostics(text) == [("E112", 5, 9, "block `clamp` at node `a`: `min` must be at most `max`")]
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert info.value.diagnostics[0].found == "min: 3, max: 1"
    assert "parameter ``" not in info.value.diagnostics[0].render()


@pytest.mark.parametrize(("version", "col"), [("true", 10), ("1.0", 10)])
def test_the_format_version_is_the_integer_1(version: str, col: int) -> None:
    text = HEAD.replace("vibench: 1", f"vibench: {version}") + "nodes: {a: {block: relu, in: x}}\n"
    assert diagnostics(text) == [("E105", 1, col, "unsupported spec format version")]


@pytest.mark.parametrize("bounds", ['ge: "1"', 'le: "1e3"', "le: true", 'le: "inf"', 'ge: "10"'])
def test_parameter_bounds_are_numbers(bounds: str) -> None:
    text = HEAD + f"params: {{w: {{type: int, default: 80, {bounds}}}}}\nnodes: {{a: {{block: relu, in: x}}}}\n"
    where = bounds.split(":")[0]
    assert diagnostics(text) == [("E102", 5, 42, f"wrong type for `params.w.{where}`")]  # at the value


def test_numeric_bounds_still_apply() -> None:
    text = HEAD + "params: {w: {type: int, default: 8, ge: 1, le: 1e3}}\nnodes: {a: {block: relu, in: x}}\n"
    assert diagnostics(text) == []
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, params={"w": 0})
    assert [d.code for d in info.value.diagnostics] == ["E208"]


OUTPUT_AS = """\
vibench: 1
name: M
inputs: {x: {shape: [B, 4, 16]}}
nodes: {c: {block: relu, in: x}}
outputs:
  y: {from: c, as: BCL}
"""


@pytest.mark.parametrize("others", ["", "  z: c\n"])
def test_an_output_with_as_but_no_layout_is_e212(others: str) -> None:
    assert diagnostics(OUTPUT_AS + others) == [("E212", 6, 16, "output `y` has `as: BCL` but no `layout`")]
