"""The spec library's table of contents, for ``vibench-compile --list``."""

from __future__ import annotations

import os

from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES


def template_names() -> list[str]:
    """Every spec in the library as ``family/Name`` (sorted)."""
    names = []
    for dirpath, _, files in os.walk(LIBRARY_DIR):
        for f in files:
            if f.endswith(SPEC_SUFFIXES):
                rel = os.path.relpath(os.path.join(dirpath, f), LIBRARY_DIR)
                names.append(os.path.splitext(rel)[0].replace(os.sep, "/"))
    return sorted(names)


def describe(name: str) -> tuple[str, str]:
    """(one-line description, interface) of a library spec.

    The interface is the checked one at the template's defaults (`x [B, L, 1] -> logits [B, 10]`),
    followed by its slots and what fills them by default; a template that does not compile at its
    defaults shows its declared ports instead.
    """
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import read_spec_file
    from vibench.compiler.validate import validate

    path = next(p for p in (os.path.join(LIBRARY_DIR, name + s) for s in SPEC_SUFFIXES) if os.path.isfile(p))
    try:
        spec = validate(read_spec_file(path, name))
    except SpecError as err:
        return f"(invalid: {err.diagnostics[0].code})", ""
    doc = (spec.doc or "").strip().splitlines()
    try:
        interface = _checked_interface(path)
    except SpecError:
        ins = ", ".join(f"{k} {_shape_text(v.shape)}" for k, v in (spec.inputs or {}).items())
        outs = ", ".join((spec.outputs or {}).keys())
        interface = f"{ins} -> {outs}" if ins else (f"extends {spec.extends}" if spec.extends else "")
    return (doc[0] if doc else ""), interface


def _checked_interface(path: str) -> str:
    from vibench.compiler.pipeline import compile_program
    from vibench.compiler.resolve import Library
    from vibench.compiler.symbolic import fmt_shape

    root = compile_program(path).root
    ins = ", ".join(f"{n} {fmt_shape(t.shape)}" for n, t in root.inputs)
    outs = ", ".join(f"{n} {fmt_shape(t.shape)}" for n, _, t in root.outputs)
    library = Library()
    unit, _ = library.load(path, None)
    slots = [f"{d.name} in {d.slot}/ ({_slot_default(root, d.name)})" for d in unit.params if d.slot is not None]
    return f"{ins} -> {outs}" + (f"; slots: {', '.join(slots)}" if slots else "")


def _shape_text(shape: list[int | str] | str) -> str:
    """``[B, L, 2]``, or a whole-shape template (one ``${...}``) as written."""
    return shape if isinstance(shape, str) else f"[{', '.join(map(str, shape))}]"


def _slot_default(root, name: str) -> str:
    value = dict(root.params).get(name)
    return ", ".join(value) if isinstance(value, list) else str(value)


def template_entries() -> list[dict[str, str]]:
    """``--list --format json``: each template's name, one-line description and checked interface."""
    entries = []
    for name in template_names():
        text, interface = describe(name)
        entries.append({"name": name, "description": text, "interface": interface})
    return entries


def list_templates() -> str:
    names = template_names()
    if not names:
        return "the spec library is empty"
    width = max(len(n) for n in names)
    lines = []
    for name in names:
        text, interface = describe(name)
        lines.append(f"{name:<{width}}  {text}" + (f"  ({interface})" if interface else ""))
    return "\n".join(lines)
