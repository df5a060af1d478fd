"""Parity with the PHM-Vibench reference models: the harness shared by every family.

The measurements live in ``tests/reference/models.json`` (a copy of ``shared/reference``): one
record per reference variant with its config (``config_args``), input shapes, output shape,
parameter count and ``state_dict`` summary. A family module in ``tests/parity_cases/`` says which
reference models its templates cover and may adapt a row:

* ``MODELS``: the reference model names the family's templates reproduce;
* ``template(row) -> str`` (optional): the library template for a row (default:
  ``<family folder>/<model>``);
* ``config(row) -> dict`` (optional): the parameters to give it (default: the row's config
  arguments, which use the reference's names, as templates do);
* ``inputs(row, program) -> dict[str, (shape, dtype)]`` (optional): the inputs to bind and feed
  (default: the row's ``x``);
* ``OVERRIDES``: per row id, expectations that differ from the measurement on purpose, each with
  ``why`` (e.g. a deviation listed in ``vibench/specs/DEVIATIONS.md``).

A row compiles through the same path a PHM-Vibench config takes (``vibench.compiler.phm``).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import types
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "tests", "reference", "models.json")
FAMILY_FOLDERS = {"ISFM": "isfm", "CNN": "cnn", "RNN": "rnn", "Transformer": "transformer", "MLP": "mlp", "NO": "no",
                 "X_model": "x_model"}


def rows() -> list[dict[str, Any]]:
    with open(REFERENCE, encoding="utf-8") as fh:
        return json.load(fh)


def ok_rows() -> list[dict[str, Any]]:
    """The variants the reference builds and runs (status "ok", direct instantiations included)."""
    return [r for r in rows() if r["status"] == "ok"]


def row_id(row: dict[str, Any]) -> str:
    return f"{row['model']}: {row['variant']}"


def family_modules() -> list[types.ModuleType]:
    import tests.parity_cases as package

    return [importlib.import_module(f"tests.parity_cases.{m.name}") for m in pkgutil.iter_modules(package.__path__)]


def module_for(row: dict[str, Any]) -> types.ModuleType | None:
    for module in family_modules():
        if row["model"] in getattr(module, "MODELS", ()):
            return module
    return None


@dataclass
class Case:
    """One reference row made concrete for vibench."""

    row: dict[str, Any]
    template: str
    params: dict[str, Any]
    inputs: dict[str, tuple[tuple[int, ...], str]]
    expect: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return row_id(self.row)

    @property
    def reference_params(self) -> int:
        return self.row.get("param_count_real_scalars") or self.row["param_count"]


def case_for(row: dict[str, Any]) -> Case:
    module = module_for(row)
    assert module is not None, f"no family module covers {row['model']}"
    if hasattr(module, "template"):
        template = module.template(row)
    else:
        template = f"{FAMILY_FOLDERS[row['family']]}/{row['model']}"
    params = module.config(row) if hasattr(module, "config") else dict(row["config_args"])
    inputs = module.inputs(row) if hasattr(module, "inputs") else {"x": (tuple(row["inputs"]["x"]), "float32")}
    expect = {
        "output_shape": tuple(row["output_shape"]) if isinstance(row["output_shape"], list) else row["output_shape"],
        "params": row.get("param_count_real_scalars") or row["param_count"],
        "n_keys": row["state_dict_n_keys"],
        "prefixes": set(row["state_dict_top_prefixes"]),
    }
    override = getattr(module, "OVERRIDES", {}).get(row_id(row), {})
    for key, value in override.items():
        if key != "why":
            expect[key] = value
    return Case(row=row, template=template, params=params, inputs=inputs, expect=expect)


def covered_cases() -> list[Case]:
    return [case_for(r) for r in ok_rows() if module_for(r) is not None]


def experiment_text(case: Case) -> str:
    """The PHM-Vibench experiment config a user would write for this row."""
    import yaml

    kind, _, name = case.template.partition("/")
    section = {"type": _reverse_family(kind), "name": name, **case.params}
    return yaml.safe_dump({"model": section}, sort_keys=False)


def _reverse_family(folder: str) -> str:
    return {v: k for k, v in FAMILY_FOLDERS.items()}[folder]


def compile_case(case: Case) -> Any:
    """The checked program of a case. Family models compile as the PHM-Vibench experiment a user
    would write (keys the template does not take become warnings); ISFM components, which have no
    PHM-Vibench config of their own, as `extends:` with the parameters the template declares."""
    import yaml

    import vibench

    inputs = {name: shape for name, (shape, _) in case.inputs.items()}
    if case.template.count("/") == 1:
        return vibench.check(text=experiment_text(case), inputs=inputs)
    declared = template_params(case.template)
    params = {k: v for k, v in case.params.items() if k in declared}
    text = yaml.safe_dump({"vibench": 1, "extends": case.template, "with": params}, sort_keys=False)
    return vibench.check(text=text, inputs=inputs)


def template_params(template: str) -> set[str]:
    from vibench.compiler.resolve import Library

    library = Library()
    root, _ = library.load(library.find(template, None, None), None)
    return {p.name for p in root.params}


def build_case(case: Case) -> Any:
    """The nn.Module of a case (same source as compile_case)."""
    from vibench.runtime.build import build_program

    return build_program(compile_case(case))


def real_scalars(model: Any) -> int:
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
