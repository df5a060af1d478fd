"""The JSON Schema flagged specs the compiler takes (a red squiggle on a valid spec), and let through structural
errors it could name.

What was wrong: a `with:` key that the template's reference ignores (`reference: ignored_keys`) compiles with the
warning W101, but the schema said "Additional properties are not allowed" (70 of the library's 78 such keys, e.g.
`extends: cnn/TCN` with `dilation: 1`), in the main and the per-template schema; a node switched off (`when: false`,
`repeat: 0`), whose values the compiler does not check, had its required parameters and bounds checked; names that
are no identifier or are reserved (E106), a lowercase composite block, an unknown `type:` (E210), a dimension
below 1 (E212) and `repeat: -1` (E211) passed the schema.

What is right now: the ignored keys take any value, described with the W101 the compiler gives (hover shows why);
a switched-off catalogue node is checked for its keys (E111) only; each of those structural errors is refused, and
only where the compiler refuses it (each case here is compiled too). Every shipped spec still validates against the
schema built here (tests/test_schema.py reads the committed file, which `make schema` regenerates).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import vibench
from tests.helpers import ROOT
from vibench.compiler.resolve import LIBRARY_DIR, Library
from vibench.compiler.spec_walk import walk_specs
from vibench.schemas.jsonschema import build_schema

LIBRARY_FIXTURE = Path(ROOT) / "tests" / "editor_cases" / "library"


@pytest.fixture(scope="module")
def schema() -> dict:
    return build_schema()


@pytest.fixture(scope="module")
def validator(schema: dict) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def _errors(validator: jsonschema.Draft202012Validator, doc: dict) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def _codes(text: str) -> list[str]:
    """The compiler's error codes for a spec (none: it compiles)."""
    try:
        vibench.check(text=text)
    except vibench.SpecError as err:
        return list(err.codes)
    return []


# --------------------------------------------------------------------------------------------
# keys a template's reference ignores
# --------------------------------------------------------------------------------------------


def _ignored_pairs() -> list[tuple[str, str, str]]:
    """(template, key, reason) for each key a library template's reference ignores and it does not declare, as the
    compiler loads the template."""
    library = Library([])
    pairs = []
    for path in walk_specs(LIBRARY_DIR).paths:
        unit, _ = library.load(path, None)
        declared = {p.name for p in unit.params}
        name = str(Path(path).relative_to(LIBRARY_DIR).with_suffix("")).replace("\\", "/")
        pairs += [(name, key, why) for key, why in (unit.reference.ignored_keys if unit.reference else {}).items()
                  if key not in declared]
    return pairs


IGNORED = _ignored_pairs()


def test_every_ignored_key_of_the_library_passes_the_schema_and_compiles_with_w101(validator) -> None:
    assert len(IGNORED) >= 70
    for template, key, _ in IGNORED:
        text = f"vibench: 1\nname: X\nextends: {template}\nwith:\n  {key}: [1, {{a: null}}]\n"
        assert _errors(validator, yaml.safe_load(text)) == [], (template, key)
        assert "W101" in [w.code for w in vibench.check(text=text).warnings], (template, key)


def test_the_per_template_schema_takes_an_ignored_key_and_says_why() -> None:
    schema = build_schema(template="cnn/TCN")
    validator = jsonschema.Draft202012Validator(schema)
    assert _errors(validator, {"vibench": 1, "extends": "cnn/TCN", "with": {"dilation": 1}}) == []
    assert _errors(validator, {"vibench": 1, "extends": "cnn/TCN", "with": {"dilatoin": 1}})  # still E201
    hover = schema["properties"]["with"]["properties"]["dilation"]
    why = next(why for template, key, why in IGNORED if (template, key) == ("cnn/TCN", "dilation"))
    assert why in hover["markdownDescription"] and "W101" in hover["markdownDescription"]
    assert hover["doNotSuggest"] is True  # it sets nothing: not completed


def test_an_unknown_with_key_is_still_refused(validator) -> None:
    assert _errors(validator, {"vibench": 1, "name": "X", "extends": "cnn/TCN", "with": {"dilatoin": 1}})


# --------------------------------------------------------------------------------------------
# switched-off nodes
# --------------------------------------------------------------------------------------------


def _node_spec(node: str) -> str:
    return ("vibench: 1\nname: V\nparams:\n  use: false\ninputs:\n  x: {shape: [B, 16]}\nnodes:\n"
            f"  fc: {{block: linear, in: x, out_features: 16}}\n  gate: {{block: linear, in: fc, {node}}}\n"
            "outputs:\n  y: gate\n")


@pytest.mark.parametrize("node", [
    "when: false", "repeat: 0", "when: false, out_features: -3", "repeat: 0, out_features: 1.5",
    "when: false, out_features: [1, 2]", "when: false, bias: 5", "when: false, with: {biass: 1}",
    "when: off",  # YAML 1.1's false to the compiler, text to yaml-language-server
    "repeat: 0, when: true",
])
def test_a_switched_off_node_is_not_checked_for_its_values(validator, node: str) -> None:
    text = _node_spec(node)
    assert _codes(text) == []
    assert _errors(validator, yaml.safe_load(text)) == []
    as_the_server_reads_it = json.loads(json.dumps(yaml.safe_load(text)).replace('"when": false', '"when": "off"'))
    assert _errors(validator, as_the_server_reads_it) == []


@pytest.mark.parametrize(("node", "code"), [("when: false, biass: 1", "E111"), ("when: false, repeat: -1", "E211"),
                                            ("out_features: -3", "E104"), ("when: true", "E113")])
def test_a_switched_off_node_is_still_checked_for_its_keys(validator, node: str, code: str) -> None:
    """Its block's keys (E111) and `repeat`; a node that is on, for its values too."""
    text = _node_spec(node)
    assert code in _codes(text)
    assert _errors(validator, yaml.safe_load(text))


def test_a_node_switched_by_a_parameter_is_checked_as_one_that_is_on(validator) -> None:
    """`when: use` may be true (docs/editor.md): its missing `out_features` is flagged, as the compiler does when
    `use` is true."""
    text = _node_spec("when: use")
    assert _errors(validator, yaml.safe_load(text)) == ["'out_features' is a required property"]
    assert "E113" in _codes(text.replace("use: false", "use: true"))


# --------------------------------------------------------------------------------------------
# names, types, dimensions and counts the compiler refuses wherever they are written
# --------------------------------------------------------------------------------------------


def _declaring(kind: str, names: list[str]) -> dict:
    """A spec declaring each of ``names`` as a ``kind`` name (its other names valid)."""
    composite = {"inputs": {"a": {"shape": ["B"]}}, "nodes": {"r": {"block": "relu", "in": "a"}},
                 "outputs": {"o": "r"}}
    doc: dict = {"vibench": 1, "name": "V", "inputs": {"x": {"shape": ["B", 4]}},
                 "nodes": {"a": {"block": "relu", "in": "x"}}, "outputs": {"y": "a"}}
    if kind == "node":
        doc["nodes"] = {n: {"block": "relu", "in": "x"} for n in names}
        doc["outputs"] = {"y": names[0]}
    elif kind == "input":
        doc["inputs"].update({n: {"shape": ["B", 4]} for n in names})
    elif kind == "output":
        doc["outputs"] = {n: "a" for n in names}
    elif kind == "parameter":
        doc["params"] = dict.fromkeys(names, 1)
    elif kind == "block parameter":
        doc["blocks"] = {"Blk": {**composite, "params": dict.fromkeys(names, 1)}}
    elif kind == "let":
        doc["let"] = dict.fromkeys(names, 1)
    else:
        doc["blocks"] = dict.fromkeys(names, composite)
    return doc


def _e106(doc: dict) -> str:
    """The compiler's E106 messages for ``doc``, joined."""
    try:
        vibench.check(text=json.dumps(doc))
    except vibench.SpecError as err:
        return "\n".join(d.message for d in err.diagnostics if d.code == "E106")
    return ""


KINDS = {"node": "NodeName", "input": "InputName", "output": "OutputName", "parameter": "ParamName",
         "block parameter": "BlockParamName", "let": "LetName", "block": "BlockName"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_name_the_schema_reserves_is_one_the_compiler_refuses(schema: dict, validator, kind: str) -> None:
    reserved = schema["$defs"][KINDS[kind]]["if"]["enum"]
    names = [n for n in reserved if n[:1].isupper()] if kind == "block" else reserved
    messages = _e106(_declaring(kind, names))
    assert [n for n in names if f"`{n[:40]}" not in messages] == []  # (a name too long is shown cut)
    assert _errors(validator, _declaring(kind, names[:1]))


@pytest.mark.parametrize(("kind", "name", "refused"), [
    ("node", "a-b", True), ("node", "1a", True), ("node", "class", True), ("node", "ñ", True), ("node", "_a", True),
    ("node", "a" * 33, True), ("node", "a" * 32, False), ("node", "a_b", False), ("node", "item", False),
    ("node", "range", False), ("node", "forward", True), ("node", "l", True),
    ("input", "input", True), ("input", "self", True), ("input", "item", False), ("input", "A", False),
    ("output", "a-b", True), ("output", "self", False), ("output", "l", False),
    ("parameter", "spec", True), ("parameter", "max_nodes", True), ("parameter", "true", True),
    ("parameter", "checkpoint", True), ("parameter", "training", False), ("parameter", "forward", False),
    ("block parameter", "spec", False), ("block parameter", "self", True),
    ("let", "key", True), ("let", "spec", False),
    ("block", "mix", True), ("block", "X" * 48, False), ("block", "X" * 49, True), ("block", "O", True),
    ("block", "None", True), ("block", "Mix-a", True), ("block", "Self", False), ("block", "Linear", False),
])
def test_a_declared_name_is_refused_where_the_compiler_refuses_it(validator, kind: str, name: str,
                                                                  refused: bool) -> None:
    doc = _declaring(kind, [name])
    assert bool(_e106(doc)) is refused
    assert bool(_errors(validator, doc)) is refused


def _model(inputs: str = "x: {shape: [B, 16]}", node: str = "", output: str = "a", params: str = "") -> dict:
    return yaml.safe_load(f"vibench: 1\nname: V\n{params}inputs:\n  {inputs}\nnodes:\n"
                          f"  a: {{block: linear, in: x, out_features: 4{node}}}\noutputs:\n  y: {output}\n")


def _typed(type_text: str) -> dict:
    return _model(params=f"params:\n  w: {{type: {json.dumps(type_text)}, default: 4}}\n")


VALUES = {
    "dimension 0": (_model("x: {shape: [B, 0]}"), True), "dimension -1": (_model("x: {shape: [B, -1]}"), True),
    "dimension 1": (_model("x: {shape: [B, 1]}"), False),
    "dimension 0 of an input switched off": (_model("x: {shape: [B, 16]}\n  z: {shape: [B, 0], when: false}"), True),
    "promised dimension 0": (_model(output="{from: a, shape: [B, 0]}"), True),
    "promised dimension 4": (_model(output="{from: a, shape: [B, 4]}"), False),
    "repeat -1": (_model(node=", repeat: -1"), True), "repeat 0": (_model(node=", repeat: 0"), False),
    "repeat -1 switched off": (_model(node=", repeat: -1, when: false"), True),
    **{f"type {t!r}": (_typed(t), True)
       for t in ("integer", "list[integer]", "Optional[int]", "int | x", "List[int]", "Any", "int?")},
    **{f"type {t!r}": (_typed(t), False)
       for t in ("int", " tuple[int, ...] | int", "dict[int, list[float]] | int", "", "\x85int", "any | None")},
}


@pytest.mark.parametrize("case", VALUES)
def test_values_are_refused_where_the_compiler_refuses_them(validator, case: str) -> None:
    doc, refused = VALUES[case]
    assert bool(_codes(json.dumps(doc))) is refused
    assert bool(_errors(validator, doc)) is refused


def _shipped() -> list[Path]:
    root = Path(ROOT)
    return sorted([*(root / "examples").glob("*.yaml"), *(root / "examples").glob("*.json"),
                   *(root / "vibench" / "specs").rglob("*.yaml"), *LIBRARY_FIXTURE.rglob("*.yaml"),
                   *(root / "tests" / "editor_cases" / "valid").glob("*")])


def test_every_shipped_spec_validates_against_the_schema_built_here(validator) -> None:
    """As tests/test_schema.py checks the committed schema: the library, the examples and the editor cases."""
    invalid = {}
    for path in _shipped():
        text = path.read_text(encoding="utf-8")
        errors = _errors(validator, json.loads(text) if path.suffix == ".json" else yaml.safe_load(text))
        if errors:
            invalid[str(path.relative_to(ROOT))] = errors[:2]
    assert invalid == {}
