"""The spec library's table of contents, for ``vibench-compile --list``: the library's templates, then
those of each ``--spec-path`` folder (and ``VIBENCH_SPEC_PATH``), which the same names find first. The templates
a folder holds are found by :mod:`vibench.compiler.spec_walk`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vibench.compiler.diagnostics import display_width, one_cell, pad
from vibench.compiler.ir import Pos, UnitDef
from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES, Library
from vibench.compiler.spec_walk import UNREADABLE, walk_specs

MAX_LISTED = 1000
"""Specs listed from one spec-path folder (each is compiled for its interface): `-I ~` is not a library."""

LIST_NODES = 2_000
"""Nodes one template is compiled with, at most, for its line of the listing (its interface at its defaults; the
library's largest makes about 700): one larger is listed with its declared ports and a note, and `--list NAME` checks
it under the full limits. Compiled under those, 20 templates of `repeat: 20000` took 28 s to list."""

LIST_BUDGET_NODES = 200_000
"""Nodes one listing's compiles make together, with those declared in the files its templates extend or use (each
file counted once: resolving a declared node costs about a third of making one): past it, the templates left are
listed with their declared ports. A compile that fails counts the nodes it can have made
(:func:`~vibench.compiler.listing_check.most_nodes`), not its whole allowance: 51 one-node drafts missing a
parameter spent it all. About 25 s of compiling (0.13 ms a node): the library makes about 2,800; a generated sweep of
1,000 variants of cnn/MobileNet1D (183 nodes each) is checked whole; 1,000 templates of 2,000 nodes stop at the
100th."""

LIST_FILE_BYTES = 2**20
"""Bytes of a template file the listing reads, or of a file one extends or uses (the library's largest: 10 KB;
reading and checking a 2 MB spec takes about 2 s): a template larger is listed by name, one that extends or uses a
file larger with its declared ports, and `--list NAME` reads it."""

LIST_BUDGET_BYTES = 8 * 2**20
"""Bytes of the spec files one listing reads together, templates and the files they extend or use, each file read
once (the library's: about 0.3 MiB; 1,000 copies of cnn/MobileNet1D: 8.7 MiB): past it, the templates left are listed by
name."""


@dataclass
class ListingBudget:
    """What is left of one listing's budgets (:data:`LIST_BUDGET_NODES`, :data:`LIST_BUDGET_BYTES`), the files its
    compiles read so far (:meth:`library`: a file 40 templates use is read, and charged, once), and why templates
    were left unchecked (``cut``: `large`, over a template's caps; `bytes` or `nodes`, past the listing's budget of
    them)."""

    nodes: int = LIST_BUDGET_NODES
    bytes: int = LIST_BUDGET_BYTES
    libraries: dict[tuple[str, ...], BudgetedLibrary] = field(default_factory=dict, repr=False, compare=False)
    cut: set[str] = field(default_factory=set, compare=False)

    def library(self, search_path: list[str] | None, home: str) -> BudgetedLibrary:
        """The files read for the templates of the folder ``home`` (one library a folder: a file a template uses
        may name files of the template's folder, which another folder's template would not find)."""
        key = (home, *(search_path or ()))
        library = self.libraries.get(key)
        if library is None:
            library = self.libraries[key] = BudgetedLibrary(search_path, self)
            library.home = home
        return library


def not_checked_hint(cut: set[str]) -> str:
    """The closing line of a listing that left templates unchecked, for the reasons ``cut`` holds
    (:class:`ListingBudget`): 51 drafts that spent the budget were said to be "too large to check"."""
    spent = [f"read its {_amount(LIST_BUDGET_BYTES)} of spec files"] * ("bytes" in cut) + [
        f"counted its {LIST_BUDGET_NODES:,} nodes"] * ("nodes" in cut)
    why = ["too large to check for a listing"] * ("large" in cut) + [
        f"left once the listing had {' and '.join(spent)} (the work of one listing is bounded)"] * bool(spent)
    return (f"templates marked `not checked` or `not read` were {', or '.join(why)}: `vibench-compile --list NAME` "
            "(with the same --spec-path) checks one at its defaults, under the full limits")


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
    if stopped.startswith(UNREADABLE):
        return f"the walk of this folder stopped {stopped}: give --spec-path a folder you may read"
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
            hidden = shadowed.get((folder, name))
            notes = [f"[{one_cell(note)}]" if note else "",  # (a note may name a file: one line, as the name)
                     f"[hidden by the one in {one_cell(hidden)}]" if hidden else ""]
            row = [pad(shown[name], width), *filter(None, [one_cell(text), interface and f"({one_cell(interface)})",
                                                           *notes])]
            lines.append("  ".join(row))
        if left_out:
            lines.append(f"... and {left_out:,} more (the first {MAX_LISTED:,} are listed)")
        if stopped:
            lines.append(f"... {_stopped_text(stopped)}")
    if budget.cut:
        lines += ["", not_checked_hint(budget.cut)]
    return "\n".join(lines)


def describe(name: str, path: str | None = None, search_path: list[str] | None = None,
             budget: ListingBudget | None = None) -> tuple[str, str, str | None]:
    """(one-line description, interface, note) of a library spec (or of the spec at ``path``), for a listing
    whose budgets ``budget`` holds (a listing of its own by default).

    The interface is the checked one at the template's defaults (`x [B, L, 1] -> logits [B, 10]`),
    followed by its slots and what fills them by default; a template that does not compile at its
    defaults shows its declared ports instead, and its note says so with the first error, as `--list NAME` does
    (`does not compile: E110: unknown block ...`); one that does not even load (no YAML, unreadable, an unknown key)
    has no description or ports, and the same note. Otherwise the note says why a template was not checked: more than
    :data:`LIST_NODES` nodes (or expression steps than they allow), or the listing's budget spent, or a file it
    extends or uses over the budgets (`not checked: it extends or uses .deps/big.yaml, not read: larger than 1 MiB`),
    or a file too large to read (:data:`LIST_FILE_BYTES`, then nothing but its name is shown); None when it was
    checked.
    """
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.display import clip_path
    from vibench.compiler.listing_check import checked_interface
    from vibench.compiler.load import read_spec_file
    from vibench.compiler.validate import validate

    path = path or _path(None, name)
    budget = budget if budget is not None else ListingBudget()
    size = _size(path)
    if size > LIST_FILE_BYTES:
        budget.cut.add("large")
        return "", "", f"not read: larger than {_amount(LIST_FILE_BYTES)}"
    if size > budget.bytes:
        budget.cut.add("bytes")
        return "", "", f"not read: the listing read its {_amount(LIST_BUDGET_BYTES)} of spec files"
    budget.bytes -= size
    try:
        doc = read_spec_file(path, name)
        spec = validate(doc)
    except SpecError as err:  # (unreadable, no YAML, an unknown key: its first error, as for one that fails below)
        return "", "", _refused(err)
    lines = (spec.doc or "").strip().splitlines()
    cap = min(LIST_NODES, budget.nodes)
    interface, note, cut = None, None, "nodes"
    if cap <= 0:
        note = f"not checked: the listing spent its {LIST_BUDGET_NODES:,} nodes"
    else:
        library = budget.library(search_path, os.path.dirname(os.path.abspath(path)))
        try:
            interface = checked_interface(doc, spec, library, cap)
        except NotRead as err:  # a file it extends or uses: over a file's cap (`large`) or past the listing's budgets
            cut = err.over or "large"
            note = (f"not checked: the listing spent its {LIST_BUDGET_NODES:,} nodes" if err.over == "nodes" else
                    f"not checked: it extends or uses {clip_path(library.display(err.path))}, not read: {err.why}")
        except SpecError as err:
            over = [d.code for d in err.diagnostics if _over_cap(d)]
            # A lower cap lowers the node limit only: the steps never fall below a 2,000-node compile's (their floor).
            if "E213" in over and cap < LIST_NODES:
                note = f"not checked: the listing spent its {LIST_BUDGET_NODES:,} nodes"
            elif over:
                cut = "large"
                note = (f"not checked: more than {LIST_NODES:,} nodes at its defaults" if "E213" in over else
                        f"not checked: its expressions take more steps than {LIST_NODES:,} nodes allow")
            else:  # checked, and refused: said as `--list NAME` says it (its declared ports looked like a checked
                cut = ""  # interface, the JSON note null)
                note = _refused(err)
    if note is not None and cut:
        budget.cut.add(cut)
    if interface is None:
        ins = ", ".join(f"{k} {_shape_text(v.shape)}" for k, v in (spec.inputs or {}).items())
        outs = ", ".join((spec.outputs or {}).keys())
        interface = f"{ins} -> {outs}" if ins else (f"extends {spec.extends}" if spec.extends else "")
    return (lines[0] if lines else ""), interface, note


def _refused(err: Any) -> str:
    """The note of a template that does not compile at its defaults: its first error, as `--list NAME` says it."""
    first = err.diagnostics[0]
    return f"does not compile: {first.code}: {first.message}"


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
    """A spec file a :class:`BudgetedLibrary` did not read: over a budget, which ``why`` names, and ``over`` (None:
    the file's cap, :data:`LIST_FILE_BYTES`; `bytes` or `nodes`: what the files read before it spent)."""

    def __init__(self, path: str, why: str, over: str | None = None) -> None:
        super().__init__(why)
        self.path = path
        self.why = why
        self.over = over


class BudgetedLibrary(Library):
    """A :class:`~vibench.compiler.resolve.Library` that reads spec files within the budgets of ``budget``, as a
    listing reads them (``vibench-compile schema`` reads every template of its spec path so): no file larger than
    :data:`LIST_FILE_BYTES`, at most ``budget.bytes`` of files together, and none once ``budget.nodes`` is spent
    (by the nodes of the files read, each counted once: a template that extends another shares its nodes; in a
    listing, by its compiles too). Resolving takes about 50 us a node declared (a 1 MiB template of 28,000 nodes
    1.5 s; 1 MiB of comments 40 ms).

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
                raise NotRead(path, f"{_amount(LIST_BUDGET_BYTES)} of spec files were read before it", "bytes")
            if self.budget.nodes <= 0:
                raise NotRead(path, f"the files read before it declare {LIST_BUDGET_NODES:,} nodes", "nodes")
            self.budget.bytes -= size
        unit, blocks = super().load(path, pos)
        for declared in (unit, *blocks.values()):
            if id(declared.nodes) not in self._counted:
                self._counted.add(id(declared.nodes))
                self.budget.nodes -= len(declared.nodes)
        return unit, blocks


def _shape_text(shape: list[int | str] | str) -> str:
    """``[B, L, 2]``, or a whole-shape template (one ``${...}``) as written."""
    return shape if isinstance(shape, str) else f"[{', '.join(map(str, shape))}]"
