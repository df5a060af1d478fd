"""The JSON Schema of the spec language, generated from the pydantic models and the block registry.

``SpecDocument.model_json_schema()`` describes the document; this module replaces its open node
definition by a union with one alternative per registered block (``block`` fixed by ``const`` and an
anchored ``pattern``; exactly that block's parameters, each also accepting a ``${...}`` string),
plus one alternative for composite blocks (CamelCase names), library references (``family/Name``)
and ``${...}`` block names. Editor-facing keywords (``markdownDescription``, ``enum`` with
``markdownEnumDescriptions`` on ``block``, ``defaultSnippets`` on ``nodes``) are added; see
``docs/editor.md`` for what a YAML language server does with them.

The schema serves editors and tests; the compiler validates with pydantic (300x faster here).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from vibench.schemas.document import NODE_KEYS, SpecDocument

SCHEMA_ID = "https://vibench.dev/schemas/spec.schema.json"
TEMPLATE_PATTERN = r"^.*\$\{.*\}.*$"
COMPOSITE_PATTERN = r"^[A-Z][A-Za-z0-9_]*$"
REFERENCE_PATTERN = r"^[A-Za-z0-9_./-]+(#[A-Z][A-Za-z0-9_]*)?$"


def build_schema(template: str | None = None) -> dict[str, Any]:
    """The spec language's JSON Schema (``template``: narrow ``with:`` to one library template)."""
    from vibench.compiler import registry

    schema = SpecDocument.model_json_schema()
    defs = schema["$defs"]
    blocks = registry.all_blocks()
    node_common = defs["NodeSpec"]["properties"]
    alternatives = []
    for name, block in blocks.items():
        alternatives.append(_block_node(name, block, node_common, defs))
    alternatives.append(_composite_node(node_common, sorted(blocks)))
    names = sorted(blocks)
    defs["NodeSpec"] = {
        "title": "Node",
        "description": "One node: `block` picks the block type; the other keys are its parameters.",
        "type": "object",
        "properties": {
            "block": {
                "type": "string",
                "description": "Block type.",
                "anyOf": [
                    {"enum": names},
                    {"pattern": COMPOSITE_PATTERN},
                    {"pattern": r"^.*[/#].*$"},
                    {"pattern": TEMPLATE_PATTERN},
                ],
                "examples": names,
            }
        },
        "required": ["block"],
        "oneOf": alternatives,
    }
    for container in (schema["properties"]["nodes"], defs["BlockSpec"]["properties"]["nodes"]):
        target = container["anyOf"][0] if "anyOf" in container else container
        target["defaultSnippets"] = _snippets(blocks)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "vibench spec"
    schema["description"] = "A vibench model spec: a DAG of typed blocks (https://vibench.dev)."
    schema["properties"]["$schema"] = {"type": "string", "description": "The JSON Schema of this file."}
    _markdown(schema)
    if template is not None:
        _narrow_to_template(schema, template)
    return schema


def _with_template(prop: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [prop, {"type": "string", "pattern": TEMPLATE_PATTERN}], **_annotations(prop)}


def _annotations(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: prop[k] for k in ("description", "default", "title") if k in prop}


def _block_node(name: str, block: Any, common: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    params = block.Params.model_json_schema()
    for key, value in params.pop("$defs", {}).items():
        defs.setdefault(key, value)
    props: dict[str, Any] = {
        "block": {"const": name, "pattern": f"^{name}$", "description": block.description,
                  "markdownDescription": f"**{name}** — {block.long_description}"},
    }
    for key in NODE_KEYS[1:]:
        props[key] = copy.deepcopy(common["in" if key == "in" else key])
    for pname, pschema in params.get("properties", {}).items():
        props[pname] = _with_template(pschema)
    required = ["block"] + [r for r in params.get("required", [])]
    return {
        "title": name,
        "description": block.description,
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def _composite_node(common: dict[str, Any], names: list[str]) -> dict[str, Any]:
    props = {key: copy.deepcopy(common["in" if key == "in" else key]) for key in NODE_KEYS[1:]}
    props["block"] = {
        "type": "string",
        "anyOf": [{"pattern": COMPOSITE_PATTERN}, {"pattern": r"^.*[/#].*$"}, {"pattern": TEMPLATE_PATTERN}],
        "not": {"enum": names},
        "description": "A composite block (from `blocks:`), a library spec (family/Name) or a `${...}` expression.",
    }
    return {
        "title": "composite",
        "description": "A node using a composite block; its keys are the block's declared parameters.",
        "type": "object",
        "properties": props,
        "required": ["block"],
        "additionalProperties": True,
    }


def _snippets(blocks: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, block in blocks.items():
        required = [f for f, info in block.Params.model_fields.items() if info.is_required()]
        body: dict[str, Any] = {"block": name, "in": "${1:input}"}
        for k, field in enumerate(required, start=2):
            body[field] = f"${{{k}}}"
        out.append({"label": f"new {name} node", "description": block.description,
                    "body": {f"${{{len(required) + 2}:{name}}}": body}})
    return out


def _markdown(node: Any) -> None:
    if isinstance(node, dict):
        if "description" in node and "markdownDescription" not in node and isinstance(node["description"], str):
            node["markdownDescription"] = node["description"]
        for v in node.values():
            _markdown(v)
    elif isinstance(node, list):
        for v in node:
            _markdown(v)


def _narrow_to_template(schema: dict[str, Any], template: str) -> None:
    from vibench.compiler.library_index import template_names
    from vibench.compiler.load import read_spec_file
    from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES
    from vibench.compiler.validate import validate

    if template not in template_names():
        raise KeyError(f"unknown library template `{template}` (see `vibench-compile --list`)")
    import os

    path = next(p for p in (os.path.join(LIBRARY_DIR, template + s) for s in SPEC_SUFFIXES) if os.path.isfile(p))
    spec = validate(read_spec_file(path, template))
    props: dict[str, Any] = {}
    for name, p in spec.params.items():
        entry: dict[str, Any] = {"description": p.doc or f"parameter `{name}`"}
        if "default" in p.model_fields_set:
            entry["default"] = p.default
        props[name] = entry
    schema["properties"]["with"] = {
        "type": "object",
        "description": f"Parameters of `{template}`.",
        "properties": props,
        "additionalProperties": False,
    }
    schema["properties"]["extends"] = {"const": template, "description": f"The template `{template}`."}


def schema_text(template: str | None = None) -> str:
    """The schema as deterministic, indented JSON text (what ``vibench-compile schema`` writes)."""
    return json.dumps(build_schema(template), indent=2, sort_keys=False, ensure_ascii=False) + "\n"
