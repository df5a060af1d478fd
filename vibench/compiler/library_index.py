"""The spec library's table of contents, for ``vibench-compile --list``: the library's templates, then
those of each ``--spec-path`` folder (and ``VIBENCH_SPEC_PATH``), which the same names find first."""

from __future__ import annotations

import os

from vibench.compiler.diagnostics import display_width, one_cell, pad
from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES

MAX_LISTED = 1000
"""Specs listed from one spec-path folder (each is compiled for its interface): `-I ~` is not a library."""


def template_names(folder: str = LIBRARY_DIR) -> list[str]:
    """Every spec under ``folder`` (the library by default) as ``family/Name``, sorted; hidden folders
    (``.git``, ``.venv``) and the JSON Schemas ``vibench-compile schema`` wrote are skipped."""
    from vibench.schemas.template_schema import written_schema

    names = []
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for f in files:  # regular files only: a dangling link or a FIFO named *.yaml is no template
            path = os.path.join(dirpath, f)
            if f.endswith(SPEC_SUFFIXES) and not f.startswith(".") and os.path.isfile(path) \
                    and not written_schema(path):
                rel = os.path.relpath(path, folder)
                names.append(os.path.splitext(rel)[0].replace(os.sep, "/"))
    return sorted(set(names))  # Name.yaml and Name.json: one name, the first suffix's file


def _sections(search_path: list[str]) -> list[tuple[str | None, list[str], int]]:
    """(folder or None for the library, names, names left out) in the order ``--list`` shows them."""
    sections: list[tuple[str | None, list[str], int]] = [(None, template_names(), 0)]
    seen = {os.path.realpath(LIBRARY_DIR)}
    for folder in search_path:
        if not os.path.isdir(folder) or os.path.realpath(folder) in seen:
            continue  # VIBENCH_SPEC_PATH may name a folder that is gone; -I ones are checked by the CLI
        seen.add(os.path.realpath(folder))
        names = template_names(folder)
        sections.append((folder, names[:MAX_LISTED], max(0, len(names) - MAX_LISTED)))
    return sections


def _path(folder: str | None, name: str) -> str:
    root = folder if folder is not None else LIBRARY_DIR
    return next(p for p in (os.path.join(root, name + s) for s in SPEC_SUFFIXES) if os.path.isfile(p))


def _shadowed(sections: list[tuple[str | None, list[str], int]]) -> dict[tuple[str | None, str], str]:
    """(folder, name) -> the folder whose spec of that name a template reference finds instead."""
    first: dict[str, str | None] = {}
    for folder, names, _ in sections[1:] + sections[:1]:  # the spec path is searched before the library
        for name in names:
            first.setdefault(name, folder)
    return {(folder, name): first[name] or "the library" for folder, names, _ in sections for name in names
            if first[name] != folder}


def template_entries(search_path: list[str] | None = None) -> list[dict[str, str | None]]:
    """``--list --format json``: each template's name, one-line description and checked interface, and
    for a spec-path template its folder (``folder``: null for the library's)."""
    sections = _sections(list(search_path or []))
    shadowed = _shadowed(sections)
    entries: list[dict[str, str | None]] = []
    for folder, names, _ in sections:
        for name in names:
            text, interface = describe(name, _path(folder, name), search_path)
            entries.append({"name": name, "description": text, "interface": interface, "folder": folder,
                            "shadowed_by": shadowed.get((folder, name))})
    return entries


def list_templates(search_path: list[str] | None = None) -> str:
    sections = _sections(list(search_path or []))
    shadowed = _shadowed(sections)
    lines = []
    for folder, names, left_out in sections:
        # File and folder names on one line each (`\n` and `\t` written so: a file named `a\nFAKE  entry.yaml`
        # printed a listing line of its own), aligned in terminal columns (a CJK name takes two per character)
        shown = {name: one_cell(name) for name in names}
        if folder is not None:
            lines += ["", f"in {one_cell(folder)} (spec path):" if names else
                      f"in {one_cell(folder)} (spec path): no specs"]
        elif not names:
            lines.append("the spec library is empty")
        width = max((display_width(n) for n in shown.values()), default=0)
        for name in names:
            text, interface = describe(name, _path(folder, name), search_path)
            note = f"[hidden by the one in {one_cell(shadowed[(folder, name)])}]" if (folder, name) in shadowed else ""
            row = [pad(shown[name], width), *filter(None, [one_cell(text), interface and f"({one_cell(interface)})",
                                                           note])]
            lines.append("  ".join(row))
        if left_out:
            lines.append(f"... and {left_out:,} more (the first {MAX_LISTED:,} are listed)")
    return "\n".join(lines)


def describe(name: str, path: str | None = None, search_path: list[str] | None = None) -> tuple[str, str]:
    """(one-line description, interface) of a library spec (or of the spec at ``path``).

    The interface is the checked one at the template's defaults (`x [B, L, 1] -> logits [B, 10]`),
    followed by its slots and what fills them by default; a template that does not compile at its
    defaults shows its declared ports instead.
    """
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import read_spec_file
    from vibench.compiler.validate import validate

    path = path or _path(None, name)
    try:
        spec = validate(read_spec_file(path, name))
    except SpecError as err:
        return f"(invalid: {err.diagnostics[0].code})", ""
    doc = (spec.doc or "").strip().splitlines()
    try:
        interface = _checked_interface(path, search_path)
    except SpecError:
        ins = ", ".join(f"{k} {_shape_text(v.shape)}" for k, v in (spec.inputs or {}).items())
        outs = ", ".join((spec.outputs or {}).keys())
        interface = f"{ins} -> {outs}" if ins else (f"extends {spec.extends}" if spec.extends else "")
    return (doc[0] if doc else ""), interface


def _checked_interface(path: str, search_path: list[str] | None = None) -> str:
    from vibench.compiler.pipeline import compile_program
    from vibench.compiler.resolve import Library
    from vibench.compiler.symbolic import fmt_shape

    root = compile_program(path, search_path=search_path).root
    ins = ", ".join(f"{n} {fmt_shape(t.shape)}" for n, t in root.inputs)
    outs = ", ".join(f"{n} {fmt_shape(t.shape)}" for n, _, t in root.outputs)
    library = Library(search_path)
    unit, _ = library.load(path, None)
    slots = [f"{d.name} in {d.slot}/ ({_slot_default(root, d.name)})" for d in unit.params if d.slot is not None]
    return f"{ins} -> {outs}" + (f"; slots: {', '.join(slots)}" if slots else "")


def _shape_text(shape: list[int | str] | str) -> str:
    """``[B, L, 2]``, or a whole-shape template (one ``${...}``) as written."""
    return shape if isinstance(shape, str) else f"[{', '.join(map(str, shape))}]"


def _slot_default(root, name: str) -> str:
    """A slot's default as a spec spells it: a component's name, a list of them, or null (none chosen)."""
    value = dict(root.params).get(name)
    if value is None:
        return "null"
    return (", ".join(map(str, value)) or "[]") if isinstance(value, list) else str(value)




