"""The units a PHM-Vibench config's model is built from: its template and the components its slots hold
(:func:`chosen_units`), and whether they read a parameter (:func:`reads_parameter`). Split out of
:mod:`vibench.compiler.phm_checks`, whose checks read them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vibench.compiler.diagnostics import SpecError
from vibench.compiler.ir import ParamDecl, UnitDef
from vibench.compiler.resolve import Library


def reads_parameter(name: str, settings: Mapping[str, Any], root: UnitDef, library: Library) -> bool:
    """Whether the model ``root`` builds from ``settings`` reads its parameter ``name``: one of its own
    expressions does, or a component its slots hold (and theirs) declares it, which an `inherit: true` node passes
    on. W104 says the contrary of a value set for it: M_02_ISFM_Prompt without a head reads no `num_classes`."""
    from vibench.compiler.resolve_decls import expression_names

    if name in expression_names(root)[0]:
        return True
    return any(decl.name == name and not decl.scope for unit in chosen_units(settings, root, library)[1:]
               for decl in unit.params)


def chosen_units(model: Mapping[str, Any], root: UnitDef, library: Library) -> list[UnitDef]:
    """The root template and, recursively, the components its slots (and theirs) hold."""
    units: list[UnitDef] = []
    queue, seen = [root], set()
    while queue and len(units) < 64:
        unit = queue.pop(0)
        if unit.qualname in seen:
            continue
        seen.add(unit.qualname)
        units.append(unit)
        for decl in unit.params:
            for component in _slot_values(decl, model):
                try:
                    found, _ = library.load(library.find(f"{decl.slot}/{component}", None, None), None)
                except SpecError:
                    continue  # an unknown component is E214 when the spec is resolved
                queue.append(found)
    return units


def _slot_values(decl: ParamDecl, model: Mapping[str, Any]) -> list[str]:
    if decl.slot is None:
        return []
    value = model.get(decl.name, decl.default)
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v.replace("_", "").isalnum()]
