"""Rules on mapping keys and numbers that the document schema (:mod:`vibench.schemas.jsonschema`) applies
throughout: which keys a mapping takes, the YAML 1.1 numbers, and the floats a block refuses.

Each follows what yaml-language-server measurably does (``docs/editor.md``): it reads YAML 1.2 and checks a
key by its YAML type (``1:`` is an integer to ``propertyNames``), reads ``1_000`` as a string, and reads
``.nan`` and ``.inf`` as numbers that every bound of JSON Schema lets through (a comparison with NaN is false).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from vibench.schemas.param_schema import _NAMED_CHILDREN, _NON_FINITE

INTEGER_1_1 = (r"^(?:[-+]?0b_?[01](?:_?[01])*|[-+]0x_?[0-9a-fA-F](?:_?[0-9a-fA-F])*"
               r"|0x(?:_[0-9a-fA-F](?:_?[0-9a-fA-F])*|[0-9a-fA-F]+(?:_[0-9a-fA-F]+)+)|[-+]?[1-9][0-9]*(?:_[0-9]+)+"
               r"|[-+]?0+_(?:0(?:_?0)*(?:_?[1-7])?|[1-7]))$")
"""Integers as YAML 1.1 (PyYAML, so the compiler) reads them that YAML 1.2 reads as strings: with ``_``
(``1_000``), binary (``0b101``), a signed hexadecimal (``-0x1f``); each ``_`` between two digits, as Python
takes them (``1__0``, ``10_`` are refused). A leading zero with ``_`` is YAML 1.1's octal, which the compiler
reads where it changes nothing, as ``007`` (``0_0``, ``00_7``: zeros, then at most one digit 1 to 7; ``0_10`` is
octal 8, E001; ``0_8`` no number, a string), as docs/language.md says. Their bounds are not checked."""
NUMBER_1_1 = (INTEGER_1_1[:-2] + r"|[-+]?(?:[0-9]+(?:_[0-9]+)+\.(?:[0-9]+(?:_[0-9]+)*)?|[0-9]+(?:_[0-9]+)*\.[0-9]+"
              r"(?:_[0-9]+)+)(?:[eE][-+][0-9]+)?|\.[0-9]+(?:_[0-9]+)+(?:[eE][-+][0-9]+)?)$")
""":data:`INTEGER_1_1`, and floats with ``_`` (``0.1_0``, ``1_0.5``, ``.5_0``)."""

# Met by NaN and the infinities alone: every bound lets NaN through (a comparison with NaN is false), in
# yaml-language-server as in the `jsonschema` package.
_NOT_FINITE = {"type": "number", "anyOf": [{k: v for k, v in s.items() if k != "type"} for s in _NON_FINITE.values()]}
_FINITE_MESSAGE = ("A finite number: NaN or infinity (a number too large for a float, such as 1.0e+400, is infinity) "
                   "would reach the outputs as NaN or infinity (the compiler's E104).")
_NOT_NAN_MESSAGE = "A number, or -.inf or .inf: NaN compares false with every number (the compiler's E104)."


class KeyedJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with the keys of a mapping that takes more than strings (``dict[int, int]``) as its
    ``propertyNames``: pydantic leaves them out (JSON keys are strings), and the document schema otherwise takes
    string keys only (:func:`string_keys`), which refused ``num_classes: {1: 10}``, a value the compiler takes.

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(dict[int, int]).json_schema(schema_generator=KeyedJsonSchema)["propertyNames"]
    {'anyOf': [{'type': 'integer'}]}
    """

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        out = super().dict_schema(schema)
        keys = self.generate_inner(schema["keys_schema"]) if "keys_schema" in schema else {}
        members = keys.get("anyOf", [keys])
        if any(m.get("type") != "string" for m in members):
            # Members of an `anyOf`: yaml_1_1_numbers adds `1_000` (a string to the server) next to `integer`.
            out["propertyNames"] = {"anyOf": [{k: v for k, v in m.items() if k != "title"} for m in members]}
        return out


_SCHEMA_VALUED = ("additionalProperties", "items", "not", "if", "then", "else", "propertyNames", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def string_keys(schema: Any) -> None:
    """Every mapping whose keys are not all listed (``nodes``, ``inputs``, ``sizes``, ``metadata``, a
    composite node's parameters ...) takes only string keys, unless it declares its keys (a parameter of type
    ``dict[int, int]``: :class:`KeyedJsonSchema`).

    JSON keys are always strings, but YAML reads ``true:`` or ``1:`` as a boolean or number key,
    which the compiler refuses (E102); through this ``propertyNames`` the server reports it too.
    A mapping with ``additionalProperties: false`` needs none (a key that is not listed is refused), and
    the object schemas of conditions (no ``additionalProperties``) get none: yaml-language-server would
    offer a placeholder key ``property`` wherever they apply; so it would in a free-form mapping
    (``additionalProperties: true``: ``metadata``, ``with``), whose one is ``doNotSuggest``. The maps
    nested in a ``metadata:`` value have no schema: the compiler takes any keys there.
    """
    if not isinstance(schema, dict):
        return
    extra = schema.get("additionalProperties")
    if schema.get("type") == "object" and isinstance(extra, dict):
        schema.setdefault("propertyNames", {"type": "string"})
    elif schema.get("type") == "object" and extra is True:  # free-form: no placeholder key to complete
        schema.setdefault("propertyNames", {"type": "string", "doNotSuggest": True})
    for key in _SCHEMA_VALUED:
        string_keys(schema.get(key))
    for key in _SCHEMA_LISTS:
        for sub in schema.get(key) or []:
            string_keys(sub)
    for key in _NAMED_CHILDREN:
        for sub in (schema.get(key) or {}).values():
            string_keys(sub)


def yaml_1_1_numbers(schema: Any) -> None:
    """Next to each ``integer`` (``number``) member of an ``anyOf``, the same title for a string
    matching :data:`INTEGER_1_1` (:data:`NUMBER_1_1`).

    yaml-language-server reads YAML 1.2, where ``1_000`` and ``0b101`` are strings; the compiler reads
    YAML 1.1, where they are integers: without this the server flags values the compiler accepts.
    """
    if isinstance(schema, list):
        for sub in schema:
            yaml_1_1_numbers(sub)
        return
    if not isinstance(schema, dict):
        return
    for value in schema.values():
        yaml_1_1_numbers(value)
    members = schema.get("anyOf")
    if not isinstance(members, list):
        return
    out = []
    for member in members:
        out.append(member)
        kind = member.get("type") if isinstance(member, dict) else None
        if kind in ("integer", "number") and not _non_finite_choice(member):
            ref = "#/$defs/Integer_1_1" if kind == "integer" else "#/$defs/Number_1_1"
            out.append({**({"title": member["title"]} if "title" in member else {}), "$ref": ref})
    schema["anyOf"] = out


def _non_finite_choice(member: dict[str, Any]) -> bool:
    """``choices: [.inf]``'s member (:func:`~vibench.schemas.param_schema.non_finite`): one value, no 1.1 spelling."""
    return {k: v for k, v in member.items() if k != "title"} in _NON_FINITE.values()


def finite_numbers(schema: Any, infinite_ok: bool = False) -> Any:
    """A block parameter's schema whose floats, also in a list or a mapping, refuse NaN and (unless
    ``infinite_ok``: ``clamp``'s bounds) infinity, as the compiler does (E104); a template parameter takes them.

    JSON Schema has no keyword for it: the bounds let NaN through, and ``not`` reports only "Matches a schema
    that is not allowed". An ``if`` that only those values meet (written without ``Infinity``, which is no JSON),
    and a ``then`` that fails, say what is wrong: an empty ``enum`` with an ``errorMessage``, which the server
    shows as it is (a failed ``type`` is merged with the other members' into "Expected ...", and the values of a
    non-empty ``enum`` would be listed on hover).
    """
    if isinstance(schema, list):
        return [finite_numbers(s, infinite_ok) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: finite_numbers(v, infinite_ok) if k in (*_SCHEMA_LISTS, "items", "additionalProperties") else v
           for k, v in schema.items()}
    if out.get("type") == "number":
        out.update(refuse_nan(_NOT_NAN_MESSAGE) if infinite_ok else _refuse(_NOT_FINITE, _FINITE_MESSAGE))
    return out


def refuse_nan(message: str) -> dict[str, Any]:
    """The keywords that make a number schema refuse NaN with ``message`` (see :func:`finite_numbers`)."""
    return _refuse(_NON_FINITE[".nan"], message)


def _refuse(values: dict[str, Any], message: str) -> dict[str, Any]:
    return {"if": copy.deepcopy(values), "then": {"enum": [], "errorMessage": message}}


def written_default(value: Any) -> str | None:
    """How a parameter's description shows a default that JSON cannot write (None: the schema's ``default``
    holds it): a float that is not finite as a spec writes it, ``.inf`` (also in a list), as a template's
    default is shown (:mod:`vibench.schemas.template_schema`). ``Infinity`` is no JSON: an editor refuses
    the whole file, and ``vibench-compile schema`` stopped at a plug-in's ``Field(float("-inf"))``."""
    if non_json(value) is None:
        return None
    return f"`{yaml_text(value)}`"


def non_json(value: Any, where: str = "") -> str | None:
    """Where in ``value`` (a JSON Schema, a default) lies what JSON cannot write, and what it is (None: nothing):
    a float that is not finite, a key that is no text or number, an object of no JSON type (a set)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where or 'the value'} is {value!r}"
    if value is None or isinstance(value, (str, int)):
        return None
    if isinstance(value, (list, tuple)):
        return next((why for k, item in enumerate(value) if (why := non_json(item, f"{where}/{k}")) is not None), None)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool, type(None))) or non_json(key) is not None:
                return f"{where or 'the value'} has the key {key!r:.60}"
            why = non_json(item, f"{where}/{key}")
            if why is not None:
                return why
        return None
    return f"{where or 'the value'} is a {type(value).__name__}"


def yaml_text(value: Any) -> str:
    """A default as a spec writes it: ``.inf``, ``-.inf`` and ``.nan`` for floats JSON cannot write, else JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else "-.inf" if value < 0 else ".inf"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {yaml_text(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)
