"""Typed slots: a parameter with ``slot: <folder>`` names a spec of that folder (``backbone: {type: str,
default: B_08_PatchTST, slot: isfm/backbone}``).

A slot's folder is looked for from the folder of the file that declares the slot, then on the search path
(the compiled spec's folder, ``--spec-path`` folders, the library), as a ``block:`` reference is looked for
from the file that writes it: ``lib/Slotted.yaml`` with ``slot: comp`` offers ``lib/comp/`` to a spec in
another folder that extends it too. :func:`note_slot_folders` records, while files are resolved, which file
declares each slot parameter (a ``with:`` value moves a declaration's position into the extending file, and
is recorded there with the template's folder); :func:`slot_folder` reads it back, :func:`slot_components`
lists what a slot offers and :func:`check_slot` is E214 for a value it does not offer: a model's own slots when it
is resolved, a component's inside it when that is elaborated (:func:`check_nested_slots`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.ir import ParamDecl, Pos, UnitDef
from vibench.compiler.resolve_refusals import slot_hint
from vibench.compiler.spec_files import SPEC_SUFFIXES
from vibench.compiler.spec_paths import unnamable, within

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

    Never through a symbolic link that leads outside the search path, the folder's or a file's: as
    :meth:`Library.find` refuses such a link, what lies there is not the spec's to learn (not even its names).

    >>> from vibench.compiler.resolve import Library
    >>> "B_08_PatchTST" in slot_components("isfm/backbone", Library())
    True
    """
    real_roots = [os.path.realpath(r) for r in library.roots(from_dir)]
    names: set[str] = set()
    for folder, refused in slot_dirs(slot, library, from_dir):
        # What the slot offers changes with each folder's listing (a spec added: another component, perhaps
        # past the limit of scoped.py), whether it is there, where it or a link in it leads: vibench.build
        # keeps the listing with its model. Recorded as it was listed, absolute but never normalised: a search
        # folder `top/link/..` (`link` a folder link) is where `link` leads up from, not `top` (`abspath` trimmed it
        # so, and the cache watched a folder the slot never listed).
        library.looked[os.path.join(library.cwd, folder)] = "names"
        if refused is not None:
            continue
        try:
            with os.scandir(folder) as entries:
                names |= {os.path.splitext(e.name)[0] for e in entries if e.name.endswith(SPEC_SUFFIXES)
                          and not (e.is_symlink() and not within(os.path.realpath(e.path), real_roots))}
        except OSError:  # removed or unreadable since: it offers nothing
            continue
    return sorted(names)


def slot_dirs(slot: str, library: Library, from_dir: str | None = None) -> list[tuple[str, str | None]]:
    """Each folder a slot's components are looked for in (``slot`` under each root, from ``from_dir``), with why
    it offers none: ``"absent"``, ``"outside"`` (it leads outside the search path through a symbolic link, and is
    never listed: whether it is there is not said either), or None where its specs are offered. Empty for a slot
    no folder can be named (:func:`~vibench.compiler.spec_paths.unnamable`)."""
    if unnamable(slot) is not None:
        return []
    real_roots = [os.path.realpath(r) for r in library.roots(from_dir)]
    out: list[tuple[str, str | None]] = []
    for root in dict.fromkeys(library.roots(from_dir)):
        folder = os.path.join(root, slot)
        if not within(os.path.realpath(folder), real_roots):
            out.append((folder, "outside"))
        else:
            out.append((folder, None if os.path.isdir(folder) else "absent"))
    return out


def check_slot(decl: ParamDecl, value: Any, library: Library, root: UnitDef,
               from_dir: str | None = None, note: str | None = None) -> list[Diagnostic]:
    """E214 for every component a slot value names that its folder does not hold (``from_dir``: the folder of
    the file that declares the slot; ``note``: where the value came from, for a value given on the command line
    or in Python)."""
    names = value if isinstance(value, list) else [value]
    slot = decl.slot or ""
    offered = slot_components(slot, library, from_dir)
    unnamed = unnamable(slot) is not None  # (E210 at the declaration is resolve_decls' to say)
    notes: tuple[str, ...] = (note,) if note else ()
    # a folder a link leads outside: the hint follows the note (add where it leads), not "add a file" (it may be there)
    linked_out = not offered and any(why == "outside" for _, why in slot_dirs(slot, library, from_dir))
    if not offered:
        notes += (_searched(slot, library, from_dir),)
    expected = ("one of " + ", ".join(f"`{n}`" for n in offered) if offered
                else f"the name of a spec in a `{slot}/` folder (there is none)")
    out = []
    for name in names:
        if name is not None and name not in offered:
            text = str(name)
            out.append(Diagnostic(
                "E214", f"`{clip(text, 200)}` is not a component for slot `{decl.name}` ({slot}/...)",
                decl.pos or root.pos, expected=expected, notes=notes,
                hint="write the slot's folder as a folder of the spec search path" if unnamed
                else f"add the folder a `{slot}/` link leads to {_with_option(library)}" if linked_out
                else slot_hint(text, slot, offered, SPEC_SUFFIXES, library.in_python)))
    return out


def check_nested_slots(unit: UnitDef, values: Mapping[str, Any], param_pos: Mapping[str, Pos | None],
                       library: Library, model: UnitDef) -> list[Diagnostic]:
    """E214 for each slot value of ``unit``, a composite built inside ``model`` (B_11_MomentumEncoder's
    `base_encoder` in M_01_ISFM's backbone), as :func:`vibench.compiler.resolve.resolve` says it of the model's own
    slots: a value that ``inherit: true`` passed on from the user's `with:` (or a PHM-Vibench config) is checked
    against the folder of ``unit``'s file too, not taken as a path. Located where it was set (``param_pos``); a
    value the compile was given (``--set``, Python) that reached it is said so, at the model's setting of it."""
    out: list[Diagnostic] = []
    given = model.param_values or {}
    for decl in unit.params:
        value = values.get(decl.name)
        if decl.slot is None or value is None:
            continue
        from_caller = decl.name in model.overridden and given.get(decl.name) == value
        at = model.overridden[decl.name] if from_caller else param_pos.get(decl.name) or decl.pos
        from_dir = slot_folder(library, decl) or (os.path.dirname(unit.path) if unit.path else library.cwd)
        note = library.value_origin(decl.name) if from_caller else None
        out += check_slot(replace(decl, pos=at), value, library, unit, from_dir, note)
    return out


def _with_option(library: Library) -> str:
    """How a folder is added to the search path, in the caller's words."""
    return "in `search_path=`" if library.in_python else "with --spec-path"


def _searched(slot: str, library: Library, from_dir: str | None) -> str:
    """A note for a slot that offers nothing: where its folder was looked for, and whether it is there but holds
    no spec; a folder that leads outside the search path is named as written, never where it leads."""
    problem = unnamable(slot)
    if problem is not None:
        return f"the slot's folder `{clip(slot, 200)}` {problem}"
    searched = []
    for folder, refused in slot_dirs(slot, library, from_dir):
        if refused == "outside":
            written = clip(os.path.relpath(folder, library.cwd).replace(os.sep, "/"), 200)
            searched.append(f"{written}/ (a symbolic link leads it outside the spec search path: not read; add the "
                            f"folder it leads to {_with_option(library)})")
        elif refused == "absent":
            searched.append(library.display(folder) + "/")
        else:
            searched.append(f"{library.display(folder)}/ (holds no .yaml, .yml or .json spec)")
    return "searched for the slot's folder: " + ", ".join(searched)
