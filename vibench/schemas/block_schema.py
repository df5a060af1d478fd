"""The JSON Schema of one block's parameters, apart from the whole document's (:mod:`vibench.schemas.jsonschema`): the
registry asks it whether a plug-in block can be described (:func:`block_schema_problem`) when it admits one, and
this module imports nothing of the registry's (the document's schema lists the registry's blocks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.schemas.param_schema import block_param
from vibench.schemas.value_rules import KeyedJsonSchema, finite_numbers, non_json, written_default

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block


def required_params(block: Block) -> list[str]:
    """The parameters a node of ``block`` must give (no default)."""
    return [f for f, info in block.Params.model_fields.items() if info.is_required()]


def block_params(block: Block) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schemas of ``block``'s parameters (name -> schema) and the definitions they read (``$defs``). A
    default that JSON cannot write (``Field(float("-inf"))``, a plug-in's clamp bound) is shown in the description
    as a spec writes it, ``.inf``, with no ``default`` (:func:`~vibench.schemas.value_rules.written_default`)."""
    params = block.Params.model_json_schema(schema_generator=KeyedJsonSchema)
    required = required_params(block)
    own: dict[str, Any] = {}
    for pname, pschema in params.get("properties", {}).items():
        info = block.Params.model_fields[pname]
        if pname not in required and "default" not in pschema:  # a default_factory
            pschema = {**pschema, "default": info.get_default(call_default_factory=True)}
        shown = written_default(pschema.get("default"))
        if shown is not None:
            pschema = {k: v for k, v in pschema.items() if k != "default"}
        pschema = finite_numbers(pschema, infinite_ok=pname in block.infinite_ok)
        own[pname] = block_param(pname, pschema, required=pname in required, default_text=shown, names=True)
    return own, params.get("$defs", {})


def block_schema_problem(block: Block) -> str | None:
    """Why the JSON Schema cannot describe ``block`` (None: it can): its parameters' schema holds what JSON cannot
    write (a NaN in ``json_schema_extra``, an infinity in ``examples``: an editor refuses the whole file); what
    making it raises (a ``json_schema_extra`` function of a plug-in's) is raised. The registry refuses such a
    plug-in block when it admits it (W121), so that ``vibench-compile schema`` and the editor describe every
    other block."""
    own, defs = block_params(block)
    places = [(f"parameter `{name}`", schema) for name, schema in own.items()] + [("`$defs`", defs)]
    return next((f"the JSON Schema of its {place} cannot be written as JSON: {found.lstrip('/')}"
                 for place, schema in places if (found := non_json(schema)) is not None), None)
