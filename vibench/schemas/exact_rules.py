"""What the document schema (:mod:`vibench.schemas.jsonschema`) checks exactly where the compiler does.

A switched-off node (``when: false``, ``repeat: 0``; docs/language.md): the compiler checks its block and keys, not
its values, so its own alternative (:func:`switch_off`) leaves its values and required parameters alone.

Names and written values (:func:`check_declarations`), each refused where the compiler refuses it whatever the rest
of the spec holds: a name that is no identifier, or one reserved (E106); a parameter's ``type:`` naming no type
(E210); a dimension of an input or of a promised output below 1 (E212); ``repeat`` below 0 (E211). The compiler
checks each when it reads the declaration, switched-off nodes and inputs and unused composite blocks included.
Only what every Python the compiler runs on refuses is written here: the schema is the same file everywhere
(``tests/test_schema.py``), and the builtins grow with Python (``PythonFinalizationError`` came in 3.13), so a
parameter named after a builtin exception is left to the compiler.
"""

from __future__ import annotations

import copy
import keyword
import re
from typing import Any

from vibench.compiler.codegen.namer import MODULE_NAMES
from vibench.compiler.resolve_decls import (
    AMBIGUOUS_NAMES,
    ARGUMENT_NAMES,
    BUILD_OPTIONS,
    LITERAL_NAMES,
    LOOP_NAMES,
    MAX_CLASS_NAME,
    MAX_NAME,
    RESERVED_NAMES,
)

# Python's built-in functions and classes of every version from 3.10 (pyproject's `requires-python`), and its soft
# keywords since 3.10; not those the `site` module adds (`help`, `exit`), which `python -S` lacks.
_BUILTINS = frozenset("""
abs aiter all anext any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex delattr
dict dir divmod enumerate eval exec filter float format frozenset getattr globals hasattr hash hex id input int
isinstance issubclass iter len list locals map max memoryview min next object oct open ord pow print property range
repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip match case
""".split())
# An argument of an emitted method (a parameter: __init__'s; an input: forward's) may not take a name of the
# module scope, a builtin or one the method itself uses (resolve_decls._check_name: the namer's reserved names).
_ARGUMENT = MODULE_NAMES | ARGUMENT_NAMES | _BUILTINS | {"self", "super", "cls"}
# A `let` is read like a parameter, and both may not take a literal's or a loop's name.
_PARAMETER = _ARGUMENT | frozenset(AMBIGUOUS_NAMES) | frozenset(LITERAL_NAMES) | frozenset(LOOP_NAMES)

# kind -> (its $defs entry, where the spec writes it, the names it may not take besides Python's keywords, why)
NAME_KINDS: dict[str, tuple[str, str, frozenset[str], str]] = {
    "node": ("NodeName", "a node", RESERVED_NAMES, "an nn.Module attribute or a name model.py uses"),
    "input": ("InputName", "an input", RESERVED_NAMES | _ARGUMENT,
              "a builtin, an nn.Module attribute or a name model.py uses (inputs are forward's arguments)"),
    "output": ("OutputName", "an output", frozenset(), ""),
    "parameter": ("ParamName", "a parameter", _PARAMETER | BUILD_OPTIONS,
                  "a builtin, a name model.py uses, an option of `vibench.build`, a literal of `${...}` or a loop "
                  "name (`i`, `item`, `key`)"),
    "block parameter": ("BlockParamName", "a composite block's parameter", _PARAMETER,
                        "a builtin, a name model.py uses, a literal of `${...}` or a loop name (`i`, `item`, `key`)"),
    "let": ("LetName", "a `let` value", _PARAMETER,
            "a builtin, a name model.py uses, a literal of `${...}` or a loop name (`i`, `item`, `key`)"),
    "block": ("BlockName", "a composite block", frozenset(AMBIGUOUS_NAMES), "a name that reads like a digit"),
}

_TYPE_WORDS = ("int", "float", "bool", "str", "any", "None", "list", "dict", "tuple")
# Python's whitespace (str.isspace, which the compiler's tokens skip) in either regex engine: JavaScript's `\s`
# lacks \x1c-\x1f and \x85.
_SPACE = r"[\s\x1c-\x1f\x85]"
TYPE_PATTERN = (rf"^(?:{_SPACE}|\[|\]|,|\||\.\.\.|(?:{'|'.join(_TYPE_WORDS)})(?![A-Za-z0-9_]))*$")
"""A ``type:`` whose every word is one of the type language's (:func:`vibench.compiler.param_types.parse_type`
refuses any other word or character, E210; ``integer``, ``Optional[int]``, ``List[int]`` are refused here too)."""


def name_schema(kind: str) -> dict[str, Any]:
    """The schema of a ``kind`` name (a key of :data:`NAME_KINDS`): an ASCII identifier not starting with ``_``
    (a composite block's with an uppercase letter), no longer than model.py writes it, not reserved."""
    _, what, reserved, why = NAME_KINDS[kind]
    first = "A-Z" if kind == "block" else "A-Za-z"
    longest = MAX_CLASS_NAME if kind == "block" else MAX_NAME
    start = "an uppercase letter (it becomes a class)" if kind == "block" else "a letter"
    refused = sorted(reserved | frozenset(keyword.kwlist))
    return {
        "type": "string",
        "pattern": f"^[{first}][A-Za-z0-9_]*$",
        "patternErrorMessage": f"The name of {what}: ASCII letters, digits and `_`, starting with {start} "
        "(the compiler's E106).",
        "maxLength": longest,
        # `if`/`then` with a message of its own: a failed `not` says only "Matches a schema that is not allowed".
        "if": {"enum": refused},
        "then": {"enum": [], "errorMessage": f"A name {what} may not take (the compiler's E106): a Python keyword"
                 + (f", or {why}" if why else "") + "; rename it, e.g. with a `_` at the end."},
    }


def check_declarations(root: dict[str, Any], defs: dict[str, Any], node_keys: dict[str, Any]) -> None:
    """Check names and written values in the document schema (``root``, its ``defs``, the node keys' schemas
    ``node_keys``), in place."""
    for kind, (name, *_) in NAME_KINDS.items():
        defs[name] = name_schema(kind)
    block = defs["BlockSpec"]["properties"]
    sections = [(root["properties"], "parameter"), (block, "block parameter")]
    for where, params in sections:
        for key, kind in (("params", params), ("inputs", "input"), ("nodes", "node"), ("outputs", "output"),
                          ("let", "let")):
            where[key]["propertyNames"] = {"$ref": f"#/$defs/{NAME_KINDS[kind][0]}"}
    root["properties"]["blocks"]["propertyNames"] = {"$ref": "#/$defs/BlockName"}
    _integers(defs["InputSpec"]["properties"]["shape"], {"minimum": 1})
    _integers(defs["OutputSpec"]["properties"]["shape"], {"minimum": 1})
    _integers(node_keys["repeat"], {"minimum": 0})
    for member in defs["ParamSpec"]["properties"]["type"]["anyOf"]:
        if member.get("type") == "string":
            member.update(pattern=TYPE_PATTERN, patternErrorMessage="A type: int, float, bool, str, any, None, "
                          "list[T], tuple[T, ...], tuple[A, B], dict[str, T], dict[int, T], A | B (the compiler's "
                          "E210).")


def _integers(schema: Any, bounds: dict[str, int]) -> None:
    """Give each ``integer`` schema in ``schema`` (a list's items, a union's members) ``bounds``."""
    if isinstance(schema, list):
        for sub in schema:
            _integers(sub, bounds)
    elif isinstance(schema, dict):
        if schema.get("type") == "integer":
            schema.update(bounds)
        for key in ("anyOf", "items"):
            _integers(schema.get(key), bounds)


# A switched-off node: `when: false` as written, or a YAML 1.1 false word, which the compiler reads (PyYAML) and the
# server takes for text; or `repeat: 0`. A `${...}` or a parameter's name may give true: such a node is checked as one
# that is on. Each test of a value lies under one `not`: yaml-language-server's hover skips what it meets there, and
# elsewhere shows the first title it meets on the value (these have none: it showed the node's, on every `when:`).
_FALSE_WORDS = "(?:off|Off|OFF|no|No|NO)$"
_WHEN_OFF = {"anyOf": [{"const": False}, {"type": "string", "pattern": f"^{_FALSE_WORDS}"}]}
_WHEN_ON = {"anyOf": [{"const": True}, {"type": "string", "pattern": f"^(?!{_FALSE_WORDS})"},
                      {"type": ["number", "array", "object", "null"]}]}
_REPEAT_ON = {"anyOf": [{"type": ["string", "boolean", "array", "object", "null"]},
                        {"type": "number", "exclusiveMinimum": 0}, {"type": "number", "exclusiveMaximum": 0}]}
SWITCHED_OFF = {"anyOf": [{"required": ["when"], "not": {"properties": {"when": _WHEN_ON}}},
                          {"required": ["repeat"], "not": {"properties": {"repeat": _REPEAT_ON}}}]}
"""A switched-off node (``$defs/SwitchedOff``): it needs none of its block's required parameters either."""


def switch_off(defs: dict[str, Any], names: list[str], alternatives: list[dict[str, Any]],
               common: dict[str, Any]) -> dict[str, Any]:
    """The node alternative of a catalogue block switched off, which checks its keys (E111) and not their values;
    the blocks' own ``alternatives`` (``names``' , in order) are made to refuse such a node, in place, so that a node
    meets one alternative. ``common``: the references to the node keys' schemas."""
    defs["SwitchedOff"] = copy.deepcopy(SWITCHED_OFF)  # (the document's rewrites, yaml_1_1_numbers, work in place)
    # On `when` and `repeat` themselves, not on the whole node: a `not` over the node in each of the alternatives made
    # validating with `jsonschema` 40 % slower.
    for key, off in (("when", _WHEN_OFF), ("repeat", {"const": 0})):
        defs[f"node_{key}_on"] = {**copy.deepcopy(defs[f"node_{key}"]), "not": copy.deepcopy(off)}
        for alternative in alternatives:
            alternative["properties"][key] = {"$ref": f"#/$defs/node_{key}_on"}
    keys = [{"if": {"properties": {"block": {"const": name, "pattern": f"^{re.escape(name)}$"}}, "required": ["block"]},
             "then": {"properties": {key: _annotations(schema) if key not in common else True
                                     for key, schema in alternative["properties"].items()},
                      "additionalProperties": False}}
            for name, alternative in zip(names, alternatives, strict=True)]
    return {
        "title": "switched-off node",
        "description": "A node with `when: false` or `repeat: 0`: its keys are its block's parameters, their values "
        "are not checked (it passes its first input through).",
        "type": "object",
        "properties": {"block": {"type": "string", "pattern": "^(?:" + "|".join(map(re.escape, names)) + ")$"},
                       **common},
        "required": ["block"],
        # (a node that is on fails the `else`, and skips the blocks' rules)
        "if": {"$ref": "#/$defs/SwitchedOff"}, "then": {"allOf": keys}, "else": {"$ref": "#/$defs/SwitchedOff"},
    }


def _annotations(schema: dict[str, Any]) -> dict[str, Any]:
    """What hover and completion show of a parameter (its title and descriptions), without what checks its value."""
    return {k: v for k, v in schema.items() if k in ("title", "description", "markdownDescription")}
