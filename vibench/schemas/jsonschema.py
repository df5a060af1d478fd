"""The JSON Schema of the spec language, generated from the pydantic models, the block registry and
the spec library; it is what editors (through a YAML language server) complete and check against.

``SpecDocument.model_json_schema()`` describes the document. This module rewrites it for editors,
following what yaml-language-server measurably does with each keyword (``docs/editor.md``):

* a node is a ``oneOf`` with one alternative per registered block (``block`` fixed by a one-name
  ``enum`` and an anchored ``pattern``, so that ``relu`` never offers ``relu6``'s keys; exactly
  that block's parameters; ``additionalProperties: false``) and one alternative for the names a
  static schema cannot check: composites (CamelCase), library references (``family/Name``,
  ``file.yaml#Block``) and ``${...}`` expressions. Required parameters are checked next to the
  ``oneOf`` (``if block == X then required``), so an incomplete node still selects its block. A node's
  ``with:`` mapping takes the same parameters, each a reference to the node's own key's schema;
* the node's ``block`` also lists every block as a titled ``const`` with its description: value
  completion offers them all (also when replacing an existing name) and hover shows the one chosen;
  an unknown name gets one message (the first member's ``patternErrorMessage``);
* every block parameter also accepts a ``${...}`` string, and its description states its type,
  bounds and default; ``nodes`` maps carry "new node" snippets; every mapping whose keys are not
  fixed (name-keyed maps, ``metadata:``, a composite node's parameters) takes string keys only, but
  a parameter's mapping the keys its type names (``dict[int, int]``);
* an integer or number also accepts, as a string, the YAML 1.1 forms the compiler reads as numbers
  and yaml-language-server (YAML 1.2) as strings: ``1_000``, ``0b101``, ``-0x1f``, ``0.1_0``
  (:data:`INTEGER_1_1`, :data:`NUMBER_1_1`); a block's float refuses ``.nan`` and ``.inf`` as the
  compiler does (:mod:`vibench.schemas.value_rules`), and no number in the schema is one (JSON has none);
* ``extends:`` completes the templates on the spec path (the shipped library, plus ``--spec-path``
  folders), and ``with:`` the parameters of the one named (an ``if``/``then`` per template);
* ``title`` s are set on purpose, not by pydantic: the server shows the first title it meets as the
  hover heading, and joins the titles of union members that it cannot tell apart.

The result is draft 2020-12 (``jsonschema`` validates with it) and byte-identical across runs. The
compiler itself validates with pydantic; the schema serves editors and tests.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from vibench.schemas.block_schema import block_params, required_params
from vibench.schemas.document import NODE_KEYS, SpecDocument
from vibench.schemas.exact_rules import check_declarations, switch_off
from vibench.schemas.param_schema import (  # noqa: F401 (re-exported)
    _strip_titles,
    block_param,
    bounds_text,
    param_markdown,
    type_text,
)
from vibench.schemas.value_rules import (
    INTEGER_1_1,
    NUMBER_1_1,
    string_keys,
    yaml_1_1_numbers,
)

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.schemas.template_schema import TemplateInfo

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://vibench.dev/schemas/spec.schema.json"
TEMPLATE_ID = "https://vibench.dev/schemas/templates/"
TEMPLATE_PATTERN = r"\$\{"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""A string holding a ``${...}`` template (evaluated when the spec compiles)."""
OTHER_BLOCK_PATTERN = r"^(?:[A-Z][A-Za-z0-9_]*|.*[/#].*|.*\.(?:ya?ml|json)|.*\$\{.*)$"
"""``block:`` values the catalogue does not hold: composites, library references, templates."""
EXTENDS_EXCLUDES = ("inputs", "nodes", "outputs")
"""Sections a spec with ``extends:`` cannot have (E107); ``blocks``, ``let`` and ``checks`` only empty."""
UNKNOWN_BLOCK = (
    "Unknown block: not in the catalogue (`vibench-compile --blocks`). Composite blocks from `blocks:` "
    "start with an uppercase letter; library specs read `family/Name` or `file.yaml#Block`."
)

def build_schema(template: str | None = None, search_path: list[str] | None = None,
                 blocks: Mapping[str, Block] | None = None) -> dict[str, Any]:
    """The spec language's JSON Schema.

    ``blocks`` defaults to the whole registry (plugins included); ``template`` narrows the schema
    to specs that extend that template (a library name, a name on ``search_path`` or a file).
    """
    from vibench.schemas import template_schema

    if blocks is None:
        from vibench.compiler import registry

        blocks = registry.all_blocks()
    source = SpecDocument.model_json_schema()
    defs = {name: _model(d) for name, d in source["$defs"].items() if name != "NodeSpec"}
    root = _model(source)
    node_keys = _model(source["$defs"]["NodeSpec"])["properties"]
    # No description here: hover shows the parameter's own, not this one.
    defs["Template"] = {"type": "string", "pattern": TEMPLATE_PATTERN}
    defs["Name"] = {"type": "string", "pattern": NAME_PATTERN}  # `out_channels: channels` (compiler/names.py)
    defs["Integer_1_1"] = {"type": "string", "pattern": INTEGER_1_1}
    defs["Number_1_1"] = {"type": "string", "pattern": NUMBER_1_1}
    check_declarations(root, defs, node_keys)
    defs["Node"] = _node_union(blocks, node_keys, defs)
    for section in (root["properties"], defs["BlockSpec"]["properties"]):
        _object_member(section["nodes"])["defaultSnippets"] = _snippets(blocks)
        _object_member(section["outputs"])["minProperties"] = 1  # a model without outputs: E103
    root["properties"]["$schema"] = _annotate("$schema", {
        "type": "string", "description": "The JSON Schema of this file (JSON specs; YAML specs use the "
        "`# yaml-language-server: $schema=...` comment)."})

    description = "A vibench model spec: a DAG of typed blocks."
    if template is None:
        schema_id = SCHEMA_ID
        templates = template_schema.templates_on_path(search_path or [])
        root["properties"]["extends"] = _extends(root["properties"]["extends"], templates)
        conditions = [template_schema.with_condition(t) for t in templates if t.params is not None]
        if conditions:
            root["allOf"] = conditions
        # With `extends:` a spec sets the template's parameters, nothing else (E107); without, it defines
        # the whole model (E103) and has no `with:` (E107); a bare `with:` (null) is no values, as the compiler
        # reads it.
        root["if"] = {"required": ["extends"]}
        root["then"] = {"properties": {**dict.fromkeys(EXTENDS_EXCLUDES, False), "blocks": {"maxProperties": 0},
                                       "let": {"maxProperties": 0}, "checks": {"maxItems": 0}}}
        root["else"] = {"required": ["name", "inputs", "nodes", "outputs"], "properties": {"with": {"type": "null"}}}
    else:
        from vibench.compiler.display import escaped  # (a file name's byte that is not UTF-8: `\\xff`)

        schema_id = f"{TEMPLATE_ID}{quote(template, safe='/', errors='surrogateescape')}.schema.json"
        template_schema.narrow(root, template_schema.load_template(template, search_path or []))
        description += f" This schema is for specs that extend `{escaped(template)}`."
    root["description"] = root["markdownDescription"] = description
    schema = {"$schema": DIALECT, "$id": schema_id, **root, "$defs": defs}
    string_keys(schema)
    yaml_1_1_numbers(schema)
    return schema


def schema_text(template: str | None = None, search_path: list[str] | None = None) -> str:
    """The schema as deterministic, indented JSON text (what ``vibench-compile schema`` writes). A lone surrogate
    (a template file name's byte that is not UTF-8) is written as its JSON escape, ``\\udcff``: the file stays
    UTF-8, which an editor reads, and a JSON reader reads the name back. So is every other character that would act
    on a terminal rather than show (a template's doc or file name holding U+202E, a C1 control such as U+009B,
    U+2028): the text on standard output is safe to show, and reads as the same JSON."""
    # allow_nan=False: `Infinity` and `NaN` are no JSON (an editor refuses the whole file); no schema holds one.
    text = json.dumps(build_schema(template, search_path), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return _NOT_SHOWN.sub(lambda m: m.group() if m.group().isprintable() else json.dumps(m.group())[1:-1], text)


_NOT_SHOWN = re.compile("[^\n -~]")  # any but a line break and printable ASCII: escaped unless printable


# --------------------------------------------------------------------------------------------
# nodes
# --------------------------------------------------------------------------------------------


def _node_union(blocks: Mapping[str, Block], node_keys: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    names = list(blocks)
    other = {"title": "block: a composite, a library spec or a `${...}` expression", "type": "string",
             "pattern": OTHER_BLOCK_PATTERN, "patternErrorMessage": UNKNOWN_BLOCK,
             "description": "A composite block from `blocks:` (CamelCase), a library spec (`family/Name`, "
             "`file.yaml#Block`) or a `${...}` expression naming a block."}
    choices = [other] + [_block_tag(name, block) for name, block in blocks.items()]
    alternatives = [_block_node(name, block, node_keys, defs, f"#/$defs/Node/oneOf/{index}")
                    for index, (name, block) in enumerate(blocks.items())]
    common = {key: {"$ref": f"#/$defs/{_node_key_def(key)}"} for key in NODE_KEYS[1:]}
    for key in NODE_KEYS[1:]:
        defs[_node_key_def(key)] = node_keys[key]
    composite_tag = {**{k: v for k, v in other.items() if k != "title"}, "not": {"enum": names}}
    off = switch_off(defs, names, alternatives, common)
    alternatives.append({
        "title": "composite",
        "description": "A node using a composite block, a library spec or a `${...}` block name; its other keys "
        "are that block's declared parameters.",
        "type": "object",
        "properties": {"block": composite_tag, **common},
        "required": ["block"],
        "additionalProperties": True,
    })
    alternatives.append(off)
    return {
        "description": "One node: `block` picks the block type, the other keys are its parameters.",
        "type": "object",
        "properties": {
            "block": {
                "title": "block",
                "description": "The block type.",
                "markdownDescription": node_keys["block"]["markdownDescription"],
                "type": "string",
                # The first member's message is the one reported for an unknown name.
                "anyOf": choices,
            }
        },
        "required": ["block"],
        "oneOf": alternatives,
        "allOf": [rule for name, block in blocks.items() if (rule := _required_params(name, block)) is not None],
    }


def _one_of_groups(block: Block) -> list[list[str]]:
    """The parameter groups of which a node must give one in full, not null (``clamp``: ``min`` or ``max``),
    declared on the block's parameter model as ``json_schema_extra={"anyOf": [{"required": [...]}, ...]}``."""
    extra = block.Params.model_config.get("json_schema_extra")
    members = extra.get("anyOf") if isinstance(extra, dict) else None
    groups = [m.get("required") for m in members if isinstance(m, dict)] if isinstance(members, list) else []
    return [[str(p) for p in g] for g in groups if isinstance(g, list)]


# A node whose parameters the schema does not require: its block takes them from elsewhere (`inherit: true` or a
# `with: ${...}`), or it is switched off.
_PASSED_ON = {"anyOf": [{"properties": {"inherit": {"const": True}}, "required": ["inherit"]},
                        {"properties": {"with": {"type": "string"}}, "required": ["with"]},
                        {"$ref": "#/$defs/SwitchedOff"}]}


def _given(name: str, not_null: bool = False) -> dict[str, Any]:
    """The node gives parameter ``name``: as its own key, or in its ``with:`` mapping."""
    here: dict[str, Any] = {"required": [name]}
    if not_null:
        here["properties"] = {name: {"not": {"type": "null"}}}
    return {"anyOf": [here, {"properties": {"with": {"type": "object", **here}}, "required": ["with"]}]}


def _required_params(name: str, block: Block) -> dict[str, Any] | None:
    """``if block == name then required: its parameters``, next to the ``oneOf``, not in it; None when
    the block requires none.

    While completing, the server matches ``block: lin`` against ``linear`` by prefix; an alternative
    that lacked a required key would then tie with ``linear``'s and both offer their keys. With the
    requirement outside the alternatives, ``lin``'s matches cleanly and wins. A parameter given in the
    node's ``with:`` mapping counts; ``inherit: true`` or a ``with: ${...}`` may give any (the compiler
    knows which), and a switched-off node needs none. Each rule is an ``if``/``else``: the server reports only
    the ``else`` ("missing property").
    """
    rules: list[dict[str, Any]] = [{"if": _given(p), "else": {"required": [p]}} for p in required_params(block)]
    groups = _one_of_groups(block)
    if groups:
        rules.append({"if": {"anyOf": [{"allOf": [_given(p, not_null=True) for p in g]} for g in groups]},
                      "else": {"anyOf": [{"required": g, "properties": {p: {"not": {"type": "null"}} for p in g}}
                                         for g in groups]}})
    if not rules:
        return None
    tag = {"properties": {"block": {"const": name, "pattern": f"^{re.escape(name)}$"}}, "required": ["block"]}
    return {"if": tag, "then": {"if": _PASSED_ON, "else": {"allOf": rules}}}


def _node_key_def(key: str) -> str:
    return "node_" + key


def _block_tag(name: str, block: Block) -> dict[str, Any]:
    return {"title": name, "const": name, "description": block.description,
            "markdownDescription": f"**{name}**: {inspect.cleandoc(block.long_description)}"}


def _block_node(name: str, block: Block, node_keys: dict[str, Any], defs: dict[str, Any],
                where: str) -> dict[str, Any]:
    """The node alternative of block ``name``, which ``where`` (a JSON pointer) points at."""
    own, own_defs = block_params(block)
    tag = _block_tag(name, block)
    for key, value in own_defs.items():
        if defs.setdefault(key, _strip_titles(value)) != _strip_titles(value):
            raise ValueError(f"block `{name}`: its parameter model `{key}` differs from another one of that name")
    props: dict[str, Any] = {
        # `enum` (not `const`): the server rewrites the message of failed `const` s merged across
        # alternatives ('Value must be "a" | "b"'), never that of an `enum`.
        "block": {"title": "block", "enum": [name], "pattern": f"^{re.escape(name)}$",
                  "description": tag["description"], "markdownDescription": tag["markdownDescription"],
                  "errorMessage": UNKNOWN_BLOCK},
    }
    for key in NODE_KEYS[1:]:
        props[key] = {"$ref": f"#/$defs/{_node_key_def(key)}"}
    props["with"] = _node_with({p: f"{where}/properties/{p}" for p in own}, node_keys["with"])
    props.update(own)
    return {
        "title": name,
        "description": block.description,
        "type": "object",
        "properties": props,
        "required": ["block"],  # the parameters' `required` is on the union, see _required_params
        "additionalProperties": False,
    }


def _node_with(params: dict[str, str], common: dict[str, Any]) -> dict[str, Any]:
    """A node's ``with:``: a mapping of its block's parameters, each checked as the node's own key is (``params``:
    the pointer to that key's schema; a misspelt key is E111, a wrong value E112 or E104), ``${...}``, or the name of
    a parameter or `let` holding such a mapping (`with: settings` reads `${settings}`, docs/language.md).

    A reference, not a copy: copies made the schema a third larger (2.6 MB)."""
    mapping = {"title": "with: dict", "type": "object", "properties": {p: {"$ref": ref} for p, ref in params.items()},
               "additionalProperties": False}
    return {"title": "with", "description": common["description"], "markdownDescription": common["description"],
            "anyOf": [mapping, {"title": "with: ${...}", "$ref": "#/$defs/Template"},
                      {"title": "with: a parameter's or let's name", "$ref": "#/$defs/Name"},
                      {"title": "with: None", "type": "null"}]}


def _snippets(blocks: Mapping[str, Block]) -> list[dict[str, Any]]:
    """One "new node" snippet per block: the node with ``block``, ``in`` and its required parameters."""
    out = []
    for name, block in blocks.items():
        required = required_params(block)
        body: dict[str, Any] = {"block": name, "in": "${2:input}"}
        for k, param in enumerate(required, start=3):
            body[param] = f"${{{k}}}"
        out.append({"label": f"new {name} node", "description": block.description,
                    "markdownDescription": f"A new `{name}` node: {block.description}",
                    "body": {f"${{1:{name}}}": body}})
    return out


# --------------------------------------------------------------------------------------------
# document models
# --------------------------------------------------------------------------------------------


def _model(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic model's object schema with editor annotations on each property."""
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("title", "$defs", "properties")}
    out["properties"] = {name: _annotate(name, prop) for name, prop in schema.get("properties", {}).items()}
    out = _retarget(out)  # pydantic's NodeSpec is replaced by the node union
    if "description" in out:
        out["markdownDescription"] = out["description"]
    return out


def _annotate(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A document property with a title, its union members titled apart, and a markdown description."""
    prop = _strip_titles(prop)
    out: dict[str, Any] = {"title": name, **prop}
    if out.get("default", ...) is None:  # an optional key: completion inserts an empty value, not `null`
        del out["default"]
    if "anyOf" in prop:
        out["anyOf"] = [{"title": f"{name}: {type_text(m)}", **m} for m in prop["anyOf"]]
    if "description" in prop:
        out["markdownDescription"] = prop["description"]
    return out


def _retarget(schema: Any) -> Any:
    """Point pydantic's ``NodeSpec`` references at the node union."""
    if isinstance(schema, dict):
        return {k: ("#/$defs/Node" if k == "$ref" and v == "#/$defs/NodeSpec" else _retarget(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_retarget(v) for v in schema]
    return schema


def _object_member(prop: dict[str, Any]) -> dict[str, Any]:
    """The object member of an optional mapping property (``dict[...] | None``)."""
    for member in prop.get("anyOf", []):
        if member.get("type") == "object":
            return member
    return prop


def _extends(prop: dict[str, Any], templates: list[TemplateInfo]) -> dict[str, Any]:
    names = [t.name for t in templates]
    members: list[dict[str, Any]] = [
        {"title": t.name, "const": t.name, "description": t.summary, "markdownDescription": t.markdown}
        for t in templates
    ]
    elsewhere: dict[str, Any] = {"title": "extends: a spec file or a name on the spec path", "type": "string",
                                 "description": "A spec file relative to this one, or `family/Name` on the "
                                 "spec path (`--spec-path`)."}
    if names:
        elsewhere["not"] = {"enum": names}
    return {"title": "extends", "description": prop["description"], "markdownDescription": prop["description"],
            "anyOf": [*members, elsewhere]}
