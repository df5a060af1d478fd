"""Typed slots: a parameter with ``slot: <folder>`` names a spec of that folder (``backbone: {type: str,
default: B_08_PatchTST, slot: isfm/backbone}``).

A slot's folder is looked for from the folder of the file that declares the slot, then on the search path
(the compiled spec's folder, ``--spec-path`` folders, the library), as a ``block:`` reference is looked for
from the file that writes it: ``lib/Slotted.yaml`` with ``slot: comp`` offers ``lib/comp/`` to a spec in
another folder that extends it too. :func:`note_slot_folders` records, while files are resolved, which file
declares each slot parameter (a ``with:`` value moves a declaration's position into the extending file, and
is recorded there with the template's folder); :func:`slot_folder` reads it back, :func:`slot_components`
lists what a slot offers and :func:`check_slot` is E214 for a value it does not offer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.ir import ParamDecl, UnitDef
from vibench.compiler.resolve_refusals import slot_hint

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library


def note_slot_folders(library: Library, decls: Iterable[ParamDecl], folder: str) -> None:
    """Record ``folder`` as the folder of the file that declares each slot parameter of ``decls``."""
    for decl in decls:
        if decl.slot is not None and decl.pos is not None:
            library.slot_folders[decl.pos] = folder


def slot_folder(library: Library, decl: ParamDecl) -> str | None:
    """The folder of the file that declares slot parameter ``decl``, None when no resolved file declared it."""
    return library.slot_folders.get(decl.pos) if decl.pos is not None else None


def slot_components(slot: str, library: Library, from_dir: str | None = None) -> list[str]:
    """The spec names a slot folder offers, from ``from_dir`` (the declaring file's folder), on the search path
    and in the library (sorted).

    >>> from vibench.compiler.resolve import Library
    >>> "B_08_PatchTST" in slot_components("isfm/backbone", Library())
    True
    """
    return library.components(slot, from_dir)


def check_slot(decl: ParamDecl, value: Any, library: Library, root: UnitDef,
               from_dir: str | None = None, note: str | None = None) -> list[Diagnostic]:
    """E214 for every component a slot value names that its folder does not hold (``from_dir``: the folder of
    the file that declares the slot; ``note``: where the value came from, for a value given on the command line
    or in Python)."""
    from vibench.compiler.spec_files import SPEC_SUFFIXES

    names = value if isinstance(value, list) else [value]
    slot = decl.slot or ""
    offered = slot_components(slot, library, from_dir)
    notes: tuple[str, ...] = (note,) if note else ()
    if not offered:  # say where the folder was looked for, and whether it is there but holds no spec
        searched = []
        for root_dir in dict.fromkeys(library.roots(from_dir)):
            folder = os.path.join(root_dir, slot)
            shown = library.display(folder) + "/"
            searched.append(f"{shown} (holds no .yaml, .yml or .json spec)" if os.path.isdir(folder) else shown)
        notes += ("searched for the slot's folder: " + ", ".join(searched),)
    expected = ("one of " + ", ".join(f"`{n}`" for n in offered) if offered
                else f"the name of a spec in a `{slot}/` folder (there is none)")
    out = []
    for name in names:
        if name is not None and name not in offered:
            text = str(name)
            out.append(Diagnostic(
                "E214", f"`{clip(text, 200)}` is not a component for slot `{decl.name}` ({slot}/...)",
                decl.pos or root.pos, expected=expected, notes=notes,
                hint=slot_hint(text, slot, offered, SPEC_SUFFIXES)))
    return out
