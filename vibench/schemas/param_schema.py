"""The JSON Schema of one parameter (a block's or a template's): its type members, each titled for the
editor's hover, ``${...}`` allowed, and a markdown description with type, bounds and default.

Shared by the document schema (:mod:`vibench.schemas.jsonschema`) and the per-template ``with:``
schemas (:mod:`vibench.schemas.template_schema`), which therefore do not import each other.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

LARGEST_FLOAT = 1.7976931348623157e308
"""The largest finite float: JSON has no infinity, and only an infinity lies beyond this (``> LARGEST_FLOAT``)."""
_NON_FINITE = {".inf": {"type": "number", "exclusiveMinimum": LARGEST_FLOAT},
               "-.inf": {"type": "number", "exclusiveMaximum": -LARGEST_FLOAT},
               # NaN passes every bound (a comparison with it is false), and no other number is >= 0 and <= -1
               ".nan": {"type": "number", "minimum": 0, "maximum": -1}}
# Bounds written with LARGEST_FLOAT for an infinite one (template_schema), shown as declared.
_INFINITE_TEXT: dict[tuple[str, Any], str] = {
    ("minimum", -LARGEST_FLOAT): "> -inf", ("exclusiveMinimum", LARGEST_FLOAT): ">= inf",
    ("maximum", LARGEST_FLOAT): "< inf", ("exclusiveMaximum", -LARGEST_FLOAT): "<= -inf"}

_BACKTICKS = re.compile("`+")

_TYPE_NAMES = {"integer": "int", "number": "float", "boolean": "bool", "string": "str", "null": "None",
               "array": "list", "object": "dict"}


def block_param(name: str, field: dict[str, Any], required: bool, default_text: str | None = None,
                names: bool = False) -> dict[str, Any]:
    """A parameter's schema: its type, or a ``${...}`` string; described with type, bounds and default
    (``default_text``: how to show a default that is not plain data). ``names``: a node's parameter,
    where a plain name reads a parameter in scope when the type takes no text (``$defs/Name``).

    Each member of the union gets its own title (``name: type``): the hover heading of the member
    that matched, and what keeps the server from joining the members' titles with ``||``.
    """
    field = _strip_titles(field)
    annotations = {k: field.pop(k) for k in ("description", "default", "examples") if k in field}
    members = field.pop("anyOf") if set(field) == {"anyOf"} else [field]
    titled = [{"title": f"{name}: {type_text(m)}", **_template_inside(m, names)} for m in members]
    if not any(_any_string(m) for m in members):
        titled.append({"title": f"{name}: ${{...}}", "$ref": "#/$defs/Template"})
    if names and not any(_takes_text(m) for m in members):
        titled.append({"title": f"{name}: a parameter's name", "$ref": "#/$defs/Name"})
    out: dict[str, Any] = {"title": name, "anyOf": titled}
    default = annotations.get("default")
    if default is not None:
        out["default"] = default
    if "examples" in annotations:
        out["examples"] = annotations["examples"]
    text = annotations.get("description", "")
    out["description"] = text
    if not required and default_text is None:
        default_text = code_span(json.dumps(default))
    out["markdownDescription"] = param_markdown(text, type_text({"anyOf": members}), bounds_text(members),
                                                None if required else default_text)
    return out


def param_markdown(text: str, type_: str, bounds: str, default: str | None) -> str:
    """``Output channels.`` + a line like ``int, >= 1; required`` (``default``: None when required)."""
    line = code_span(type_) + (f", {bounds}" if bounds else "")
    line += "; required" if default is None else f"; default {default}"
    line += ". A `${...}` expression is accepted too."
    return f"{text}\n\n{line}" if text else line


def code_span(text: str) -> str:
    """A markdown code span showing ``text`` (a name, a type, a default) as it is, as the editor's hover writes one
    (:func:`vibench.lsp.visible.code`, which needs the language server's packages): the fence one backtick longer
    than any run inside, so no backtick in ``text`` closes it and no ``[x](url)`` in it becomes a link; what would
    act rather than show (U+202E, a line break that would end the paragraph and the span) written as its escape.

    >>> code_span("x"), code_span("a`[c](http:e)`b"), code_span("`")
    ('`x`', '``a`[c](http:e)`b``', '`` ` ``')
    """
    from vibench.compiler.blocks.base import visible_text

    return fenced(visible_text(text).replace("\r", "\\r").replace("\n", "\\n"))


def fenced(shown: str) -> str:
    """``shown`` (one line) in a CommonMark code span: the fence one backtick longer than any run of backticks
    inside, a space padding a text that starts or ends with one (also :func:`vibench.lsp.visible.code`'s)."""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(shown)), default=0) + 1)
    pad = " " if shown[:1] == "`" or shown[-1:] == "`" or (shown[:1] == " " and shown[-1:] == " ") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _takes_text(schema: dict[str, Any]) -> bool:
    """Any string member, also a choice of strings: there a plain name is text, not a reference."""
    if schema.get("type") == "string" or isinstance(schema.get("const"), str):
        return True
    if any(isinstance(v, str) for v in schema.get("enum", ())):
        return True
    return any(_takes_text(m) for m in [*schema.get("anyOf", ()), *schema.get("oneOf", ())]) or not schema


def _any_string(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and not ({"enum", "const", "pattern", "format"} & set(schema))


def _template_inside(schema: dict[str, Any], names: bool = False) -> dict[str, Any]:
    """Let the items of a list (and the values of a mapping) be ``${...}`` strings too, and (``names``)
    parameter names where the items take no text."""
    out = dict(schema)

    def item(sub: dict[str, Any]) -> dict[str, Any]:
        members = [_template_inside(sub, names), {"$ref": "#/$defs/Template"}]
        if names and not _takes_text(sub):
            members.append({"$ref": "#/$defs/Name"})
        return {"anyOf": members}

    for key in ("items", "additionalProperties"):
        sub = out.get(key)
        if isinstance(sub, dict) and sub and not _any_string(sub):
            out[key] = item(sub)
    if isinstance(out.get("prefixItems"), list):
        out["prefixItems"] = [item(s) for s in out["prefixItems"]]
    return out


def non_finite(value: float) -> dict[str, Any]:
    """The schema that number ``value`` (``inf``, ``-inf`` or ``nan``) alone meets, for a choice: no JSON text
    holds it (``enum: [Infinity]`` is no JSON)."""
    return dict(_NON_FINITE[".nan" if value != value else ".inf" if value > 0 else "-.inf"])


def type_text(schema: Any) -> str:
    """A Python-like rendering of a JSON Schema type: ``int | None``, ``list[int]``, ``'same' | 'valid'``."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    odd = next((text for text, s in _NON_FINITE.items() if schema == s), None)
    if odd is not None:
        return odd
    if "$ref" in schema:
        return "${...}" if schema["$ref"] == "#/$defs/Template" else schema["$ref"].rsplit("/", 1)[-1]
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return " | ".join(repr(v) if v is not None else "None" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(type_text(m) for m in schema[key]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_TYPE_NAMES.get(str(k), str(k)) for k in kind)
    if kind == "array":
        if "prefixItems" in schema:
            return "tuple[" + ", ".join(type_text(m) for m in schema["prefixItems"]) + "]"
        return f"list[{type_text(schema.get('items', {}))}]"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        keys = type_text(schema["propertyNames"]) if "propertyNames" in schema else "str"
        return f"dict[{keys}, {type_text(schema['additionalProperties'])}]"
    return _TYPE_NAMES.get(kind, "any") if kind else "any"


def bounds_text(members: list[dict[str, Any]]) -> str:
    """``>= 1``, ``> 0, <= 1`` ... from the numeric members of a union."""
    signs = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
    parts: list[str] = []
    for m in members:
        if m in _NON_FINITE.values():  # a choice (`.inf`), not a bound
            continue
        if m.get("not") == {} and "no number is within its bounds" not in parts:  # `ge: .nan`, `gt: .inf`
            parts.append("no number is within its bounds")
        for key, sign in signs:
            text = _INFINITE_TEXT.get((key, m.get(key)), f"{sign} {m.get(key)}")
            if key in m and text not in parts:
                parts.append(text)
    return ", ".join(parts)


_NAMED_CHILDREN = ("properties", "$defs", "patternProperties", "dependentSchemas")


def _strip_titles(schema: Any) -> Any:
    """A copy without pydantic's generated ``title`` s (``Out Channels``); property names stay."""
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for k, v in schema.items():
        if k == "title":
            continue
        if k in _NAMED_CHILDREN and isinstance(v, dict):
            out[k] = {name: _strip_titles(sub) for name, sub in v.items()}
        elif k in ("default", "examples", "const", "enum"):
            out[k] = copy.deepcopy(v)
        else:
            out[k] = _strip_titles(v)
    return out
