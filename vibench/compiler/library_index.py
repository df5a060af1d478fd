"""The spec library's table of contents, for ``vibench-compile --list``: the library's templates, then
those of each ``--spec-path`` folder (and ``VIBENCH_SPEC_PATH``), which the same names find first."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, NamedTuple

from vibench.compiler.diagnostics import display_width, one_cell, pad
from vibench.compiler.ir import Pos, UnitDef
from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES, Library

MAX_LISTED = 1000
"""Specs listed from one spec-path folder (each is compiled for its interface): `-I ~` is not a library."""

WALK_FOLDERS = 500
"""Folders one spec-path folder's walk reads, at most, as a "did you mean" does
(:data:`~vibench.compiler.reference_templates.MAX_HINT_FOLDERS`): `--list -I ~` walked a whole home, every folder
of it, before it listed its first 1,000 templates."""

WALK_ENTRIES = 20_000
"""Entries (files and folders) one walk reads from its folders, at most: a folder of a million files is read no
further. Ten times the names a "did you mean" takes from a folder (:data:`MAX_HINT_NAMES
<vibench.compiler.reference_templates.MAX_HINT_NAMES>`): a folder of specs holds other files too, and a spec file
costs a look at its kind (a `.json` one, its first line as well), about 20 us."""

LIST_NODES = 2_000
"""Nodes one template is compiled with, at most, for its line of the listing (its interface at its defaults; the
library's largest makes about 700): one larger is listed with its declared ports and a note, and `--list NAME` checks
it under the full limits. Compiled under those, 20 templates of `repeat: 20000` took 28 s to list."""

LIST_BUDGET_NODES = 100_000
"""Nodes the compiles of one listing make together (the library's: 2,720), a failed compile counting as many as it
was allowed: past it, the templates left are listed with their declared ports (1,000 templates of 2,000 nodes
each would take minutes)."""

LIST_FILE_BYTES = 2**20
"""Bytes of a template file the listing reads (the library's largest: 10 KB; reading and checking a 2 MB spec
takes about 2 s): one larger is listed by name, and `--list NAME` reads it."""

LIST_BUDGET_BYTES = 8 * 2**20
"""Bytes of the template files one listing reads together (the library's: 0.4 MiB): past it, the templates left
are listed by name."""


@dataclass
class ListingBudget:
    """What is left of one listing's budgets (:data:`LIST_BUDGET_NODES`, :data:`LIST_BUDGET_BYTES`)."""

    nodes: int = LIST_BUDGET_NODES
    bytes: int = LIST_BUDGET_BYTES


NOT_CHECKED_HINT = ("templates marked `not checked` or `not read` are too large to check for this listing: "
                    "`vibench-compile --list NAME` (with the same --spec-path) checks one at its defaults")


class FolderWalk(NamedTuple):
    """The spec files a folder's walk found (:func:`walk_specs`), and why it stopped before its end (None: it did
    not), as `after reading 500 folders`."""

    paths: list[str]
    stopped: str | None


def walk_specs(root: str) -> FolderWalk:
    """The spec files under ``root`` that are templates, in walk order (a folder's files by name, then its
    folders by name, each walked whole), within :data:`WALK_FOLDERS` folders and :data:`WALK_ENTRIES` entries.
    Skipped: hidden files and folders (``.git``, ``.venv``), what is no regular file (a dangling link, a FIFO named
    ``x.yaml``), the JSON Schemas ``vibench-compile schema`` wrote; a linked folder is not walked (as ``os.walk``)
    and one that cannot be read offers nothing."""
    paths: list[str] = []
    pending = [root]  # the folders still to read, the next one last
    folders = entries = 0
    while pending:
        if folders == WALK_FOLDERS or entries == WALK_ENTRIES:
            return FolderWalk(paths, _limit_reached(folders, entries))
        folder = pending.pop()
        folders += 1
        listed: list[os.DirEntry[str]] = []
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    if entries == WALK_ENTRIES:  # (the rest of a huge folder is never read)
                        return FolderWalk(paths + _specs(listed), _limit_reached(folders, entries))
                    entries += 1
                    listed.append(entry)
        except OSError:
            continue  # removed or unreadable since it was listed
        paths += _specs(listed)
        pending += sorted((e.path for e in listed if not e.name.startswith(".") and _is_folder(e)), reverse=True)
    return FolderWalk(paths, None)


def _limit_reached(folders: int, entries: int) -> str:
    return (f"after reading {WALK_FOLDERS:,} folders" if folders == WALK_FOLDERS else
            f"after reading {WALK_ENTRIES:,} files and folders")


def _specs(listed: list[os.DirEntry[str]]) -> list[str]:
    """The templates among a folder's entries, by name."""
    from vibench.schemas.template_schema import written_schema

    return sorted(e.path for e in listed if e.name.endswith(SPEC_SUFFIXES) and not e.name.startswith(".")
                  and _is_file(e) and not written_schema(e.path))


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """A folder to walk into: not through a symbolic link (a link to a parent folder walked round forever)."""
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    """A regular file, or a link to one (a spec may be linked in)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def template_names(folder: str = LIBRARY_DIR) -> list[str]:
    """Every spec under ``folder`` (the library by default) as ``family/Name``, sorted, as :func:`walk_specs` finds
    them."""
    return _names(folder, walk_specs(folder).paths)


def _names(folder: str, paths: list[str]) -> list[str]:
    names = (os.path.splitext(os.path.relpath(path, folder))[0].replace(os.sep, "/") for path in paths)
    return sorted(set(names))  # Name.yaml and Name.json: one name, the first suffix's file


class _Section(NamedTuple):
    folder: str | None  # None: the library
    names: list[str]  # those listed
    left_out: int  # how many more its walk found
    stopped: str | None  # why its walk stopped before its end (FolderWalk.stopped)


def _sections(search_path: list[str]) -> list[_Section]:
    """The library's templates, then each spec-path folder's, in the order ``--list`` shows them."""
    sections = [_Section(None, template_names(), 0, None)]
    seen = {os.path.realpath(LIBRARY_DIR)}
    for folder in search_path:
        if not os.path.isdir(folder) or os.path.realpath(folder) in seen:
            continue  # VIBENCH_SPEC_PATH may name a folder that is gone; -I ones are checked by the CLI
        seen.add(os.path.realpath(folder))
        walk = walk_specs(folder)
        names = _names(folder, walk.paths)
        sections.append(_Section(folder, names[:MAX_LISTED], max(0, len(names) - MAX_LISTED), walk.stopped))
    return sections


def _stopped_text(stopped: str) -> str:
    return (f"the walk of this folder stopped {stopped}: templates further in are not listed "
            "(give --spec-path a folder of specs)")


def _path(folder: str | None, name: str) -> str:
    root = folder if folder is not None else LIBRARY_DIR
    return next(p for p in (os.path.join(root, name + s) for s in SPEC_SUFFIXES) if os.path.isfile(p))


def _shadowed(sections: list[_Section]) -> dict[tuple[str | None, str], str]:
    """(folder, name) -> the folder whose spec of that name a template reference finds instead."""
    first: dict[str, str | None] = {}
    for folder, names, _, _ in sections[1:] + sections[:1]:  # the spec path is searched before the library
        for name in names:
            first.setdefault(name, folder)
    return {(folder, name): first[name] or "the library" for folder, names, _, _ in sections for name in names
            if first[name] != folder}


def template_entries(search_path: list[str] | None = None) -> list[dict[str, Any]]:
    """``--list --format json``: each template's name, one-line description and checked interface, and
    for a spec-path template its folder (``folder``: null for the library's), the folder whose template
    of that name hides it (``shadowed_by``), why its interface was not checked (``note``, see
    :data:`LIST_NODES`), and on the last listed template of a folder listed in part how many of its
    templates are left out (``omitted``, as the text's "... and N more") and, when its walk stopped before its end
    (:func:`walk_specs`), why (``stopped``: `after reading 500 folders`; more templates may lie further in). A folder
    whose walk stopped before it found a template is one entry with ``name`` null and ``stopped``."""
    sections = _sections(list(search_path or []))
    shadowed = _shadowed(sections)
    budget = ListingBudget()
    entries: list[dict[str, Any]] = []
    for folder, names, left_out, stopped in sections:
        for name in names:
            text, interface, note = describe(name, _path(folder, name), search_path, budget)
            entries.append({"name": name, "description": text, "interface": interface, "folder": folder,
                            "shadowed_by": shadowed.get((folder, name)), "note": note})
        if stopped and not names:  # said, not dropped: `-I ~` whose first 500 folders hold no spec listed nothing
            entries.append({"name": None, "description": "", "interface": "", "folder": folder, "shadowed_by": None,
                            "note": None})
        if left_out:  # (MAX_LISTED >= 1: a folder cut short has listed names)
            entries[-1]["omitted"] = left_out
        if stopped:
            entries[-1]["stopped"] = stopped
    return entries


def list_templates(search_path: list[str] | None = None) -> str:
    sections = _sections(list(search_path or []))
    shadowed = _shadowed(sections)
    budget = ListingBudget()
    lines = []
    unchecked = False
    for folder, names, left_out, stopped in sections:
        # File and folder names on one line each (`\n` and `\t` written so: a file named `a\nFAKE  entry.yaml`
        # printed a listing line of its own), aligned in terminal columns (a CJK name takes two per character)
        shown = {name: one_cell(name) for name in names}
        if folder is not None:
            lines += ["", f"in {one_cell(folder)} (spec path):" if names else
                      f"in {one_cell(folder)} (spec path): no specs" + (" found" if stopped else "")]
        elif not names:
            lines.append("the spec library is empty")
        width = max((display_width(n) for n in shown.values()), default=0)
        for name in names:
            text, interface, note = describe(name, _path(folder, name), search_path, budget)
            unchecked = unchecked or note is not None
            hidden = shadowed.get((folder, name))
            notes = [f"[{note}]" if note else "", f"[hidden by the one in {one_cell(hidden)}]" if hidden else ""]
            row = [pad(shown[name], width), *filter(None, [one_cell(text), interface and f"({one_cell(interface)})",
                                                           *notes])]
            lines.append("  ".join(row))
        if left_out:
            lines.append(f"... and {left_out:,} more (the first {MAX_LISTED:,} are listed)")
        if stopped:
            lines.append(f"... {_stopped_text(stopped)}")
    if unchecked:
        lines += ["", NOT_CHECKED_HINT]
    return "\n".join(lines)


def describe(name: str, path: str | None = None, search_path: list[str] | None = None,
             budget: ListingBudget | None = None) -> tuple[str, str, str | None]:
    """(one-line description, interface, note) of a library spec (or of the spec at ``path``), for a listing
    whose budgets ``budget`` holds (a listing of its own by default).

    The interface is the checked one at the template's defaults (`x [B, L, 1] -> logits [B, 10]`),
    followed by its slots and what fills them by default; a template that does not compile at its
    defaults shows its declared ports instead. The note says why a template was not checked: more than
    :data:`LIST_NODES` nodes (or expression steps than they allow), or the listing's budget spent, or a file too
    large to read (:data:`LIST_FILE_BYTES`, then nothing but its name is shown); None when it was checked.
    """
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import read_spec_file
    from vibench.compiler.validate import validate

    path = path or _path(None, name)
    budget = budget if budget is not None else ListingBudget()
    size = _size(path)
    if size > LIST_FILE_BYTES:
        return "", "", f"not read: larger than {_amount(LIST_FILE_BYTES)}"
    if size > budget.bytes:
        return "", "", f"not read: the listing read its {_amount(LIST_BUDGET_BYTES)} of spec files"
    budget.bytes -= size
    try:
        spec = validate(read_spec_file(path, name))
    except SpecError as err:
        return f"(invalid: {err.diagnostics[0].code})", "", None
    doc = (spec.doc or "").strip().splitlines()
    cap = min(LIST_NODES, budget.nodes)
    interface, note = None, None
    if cap == 0:
        note = f"not checked: the listing spent its {LIST_BUDGET_NODES:,} nodes"
    else:
        try:
            interface = _checked_interface(path, search_path, cap, budget)
        except SpecError as err:
            over = [d.code for d in err.diagnostics if _over_cap(d)]
            if over and cap < LIST_NODES:
                note = f"not checked: the listing spent its {LIST_BUDGET_NODES:,} nodes"
            elif over:
                note = (f"not checked: more than {LIST_NODES:,} nodes at its defaults" if "E213" in over else
                        f"not checked: its expressions take more steps than {LIST_NODES:,} nodes allow")
    if interface is None:
        ins = ", ".join(f"{k} {_shape_text(v.shape)}" for k, v in (spec.inputs or {}).items())
        outs = ", ".join((spec.outputs or {}).keys())
        interface = f"{ins} -> {outs}" if ins else (f"extends {spec.extends}" if spec.extends else "")
    return (doc[0] if doc else ""), interface, note


def _over_cap(d: Any) -> bool:
    """Whether ``d`` is the error of a limit the listing's compile has lower than a compile of the template: the
    node count (E213), or the steps its expressions share, which the node count sets (E204 "... per compilation)",
    as :func:`vibench.compiler.blame._trial_limit` tells)."""
    return d.code == "E213" or (d.code == "E204" and "per compilation)" in d.message)


def _amount(size: int) -> str:
    return f"{size // 2**20:,} MiB" if size % 2**20 == 0 else f"{size:,} bytes"


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # (gone since it was listed: reading it says so)


class NotRead(Exception):
    """A spec file a :class:`BudgetedLibrary` did not read: over a budget, which ``why`` names."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(why)
        self.path = path
        self.why = why


class BudgetedLibrary(Library):
    """A :class:`~vibench.compiler.resolve.Library` that reads spec files within the budgets of ``budget``, as a
    listing reads them (``vibench-compile schema`` reads every template of its spec path so): no file larger than
    :data:`LIST_FILE_BYTES`, at most ``budget.bytes`` of files together, and none once those read declare
    ``budget.nodes`` nodes (each counted once: a template that extends another shares its nodes). Resolving takes
    about 50 us a node declared (a 1 MiB template of 28,000 nodes 1.5 s; 1 MiB of comments 40 ms).

    A file over them raises :class:`NotRead`, also from the load of a file that extends or uses it; one read
    is charged before it is resolved (a file that does not resolve is charged its bytes)."""

    def __init__(self, search_path: list[str] | None, budget: ListingBudget) -> None:
        super().__init__(search_path)
        self.budget = budget
        self._counted: set[int] = set()  # id() of each node tuple charged (the units stay in self.files)

    def load(self, path: str, pos: Pos | None) -> tuple[UnitDef, dict[str, UnitDef]]:
        if path not in self.files and path not in self.loading:  # (a cycle is E206, read no further)
            size = _size(path)
            if size > LIST_FILE_BYTES:
                raise NotRead(path, f"larger than {_amount(LIST_FILE_BYTES)}")
            if size > self.budget.bytes:
                raise NotRead(path, f"{_amount(LIST_BUDGET_BYTES)} of spec files were read before it")
            if self.budget.nodes <= 0:
                raise NotRead(path, f"the files read before it declare {LIST_BUDGET_NODES:,} nodes")
            self.budget.bytes -= size
        unit, blocks = super().load(path, pos)
        for declared in (unit, *blocks.values()):
            if id(declared.nodes) not in self._counted:
                self._counted.add(id(declared.nodes))
                self.budget.nodes -= len(declared.nodes)
        return unit, blocks


def _node_count(unit: Any, counted: dict[int, int]) -> int:
    """The nodes of ``unit`` after expansion, as the compile counts them against its limit (shapes.node_count)."""
    count = counted.get(id(unit))
    if count is None:
        count = sum(1 + c.submodules + (_node_count(c.unit, counted) if c.unit is not None else 0)
                    for n in unit.nodes for c in n.copies)
        counted[id(unit)] = count
    return count


def _checked_interface(path: str, search_path: list[str] | None, max_nodes: int, budget: ListingBudget) -> str:
    """The interface of the template at ``path`` compiled at its defaults with at most ``max_nodes`` nodes, which
    are charged to ``budget`` (all of them when it does not compile: it may have made as many)."""
    from vibench.compiler.pipeline import compile_program
    from vibench.compiler.resolve import Library
    from vibench.compiler.symbolic import fmt_shape

    budget.nodes -= max_nodes
    root = compile_program(path, search_path=search_path, max_nodes=max_nodes, locate_settings=False).root
    budget.nodes += max_nodes - _node_count(root, {})
    ins = ", ".join(f"{n} {fmt_shape(t.shape)}" for n, t in root.inputs)
    outs = ", ".join(f"{n} {fmt_shape(t.shape)}" for n, _, t in root.outputs)
    # the declarations as written (the slots): those of the compiled root, the file is not read again
    params = root.definition.params if root.definition is not None else Library(search_path).load(path, None)[0].params
    slots = [f"{d.name} in {d.slot}/ ({_slot_default(root, d.name)})" for d in params if d.slot is not None]
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
