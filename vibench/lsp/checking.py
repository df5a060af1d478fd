"""Checking a document with the compiler, and placing its diagnostics in the document.

:func:`check` runs the compiler's own pipeline (load, validate, resolve, shapes; PHM-Vibench
configs through their ``model:`` section) on the editor's text and keeps the :class:`Program` when
it succeeds: hover reads shapes, parameter counts and FLOPs from the last good one. :func:`problems`
turns each :class:`~vibench.compiler.diagnostics.Diagnostic` into a range of the document (its
position and span; the token there when the span is one character), a message with the expected,
found, notes and hint lines, and, for a "did you mean `x`?" hint, the replacement of the misspelt
name (:mod:`vibench.lsp.quick_fix`). A diagnostic located in another file (a template the document
extends) is shown at the reference to that file, and carries the real location as related information; so does one the
compiler reports at the document's setting although the template raised it (``Diagnostic.origin``).
A diagnostic in the document's own file read again from disk (``block: ./m.yaml#Inner`` in m.yaml: the
compiler names that copy from the working folder) is placed in the document when the file saved holds the
text checked; while the text differs from the saved file, it is shown at the reference, as another file's.
At most :data:`MAX_PROBLEMS` diagnostics are placed; a last one says how many more there are.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vibench.lsp.folders import compiled_path, file_path, unsaved_diagnostics
from vibench.lsp.outline import Outline
from vibench.lsp.quick_fix import KeyIndex, fix_for
from vibench.lsp.text import BOM, Lines

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import Diagnostic
    from vibench.compiler.ir import Pos, Program

_LINE_END = re.compile(r"[\r\n\x85\u2028\u2029]")  # a line break of LSP's or YAML's

MAX_PROBLEMS = 1000
"""The most diagnostics of one check placed in the document (and published): a 1 MB line of 100,000 unknown keys
has 100,000, more than any editor lists usefully; past it, one more says how many are not shown."""


@dataclass(frozen=True)
class Checked:
    """The outcome of compiling one version of a document."""

    version: int | None
    text: str
    display: str  # the name the compiler gave the document's positions
    program: Program | None  # None when there are errors
    diagnostics: tuple[Diagnostic, ...]  # errors, or the warnings of a program
    seconds: float
    # the names of positions in this text: `display`, and another name of the same file (the compiler names
    # a file it reads from disk from the working folder: a reference to the document itself) while the file
    # saved holds this very text, so that the positions read from it are positions of the text
    own_names: frozenset[str] = frozenset()
    # (file, line, col) of each position the diagnostics give in another file (or as their origin) -> its LSP
    # (line, character) there, counted in that file's text as the compiler read it (:func:`_places`)
    places: dict[tuple[str, int, int], tuple[int, int]] | None = None
    # where the compiler looked for the spec files the document names: its real file's folder (None when unsaved)
    # and the search path, so that the file a reference names is found as the compiler found it (:func:`_anchor`)
    folder: str | None = None
    search_path: tuple[str, ...] = ()
    # the library template (`isfm/M_01_ISFM`) the compiler picks for a PHM-Vibench experiment config from its merged
    # `model:` section, base configs included (:func:`_phm_template`); None for a spec, or when it picks none
    phm_template: str | None = None


@dataclass(frozen=True)
class Problem:
    """A diagnostic placed in the document: offsets, the message to show, a quick fix."""

    diagnostic: Diagnostic
    start: int
    end: int
    message: str
    elsewhere: tuple[str, int, int] | None = None  # (file path, line, col) when raised in another file
    fix: tuple[int, int, str] | None = None  # replace [start, end) with the text
    elsewhere_at: tuple[int, int] | None = None  # `elsewhere` as LSP's (line, character) in that file's text


def check(text: str, path: str | None, version: int | None, search_path: list[str],
          encoding: str = "utf-16") -> Checked:
    """Compile ``text`` (the document at ``path``, None when unsaved) with the compiler's pipeline. An unsaved
    document's relative references find no file: the server's working folder is not its folder (:mod:`.folders`).

    A leading byte-order mark is dropped, as the compiler drops it when it reads a file; the
    positions of the diagnostics are of the text without it (:meth:`Lines.line_col_offset`). Positions in
    other files are converted to LSP's, in the position ``encoding`` agreed with the client (:func:`_places`)."""
    from vibench.compiler.diagnostics import Diagnostic, SpecError
    from vibench.compiler.pipeline import compile_program
    from vibench.compiler.plugin_calls import interrupts

    display = path or "<untitled>"
    started = time.perf_counter()
    program: Program | None = None
    source = text[1:] if text.startswith(BOM) else text
    sources: dict[str, str] = {}  # the texts the compiler read, by their names in its positions
    try:
        # overrides_text=[]: the messages word bindings as the command line does (--input), not as Python
        program = compile_program(compiled_path(path), text=source, display=display, search_path=search_path,
                                  overrides_text=[])
        diagnostics: tuple[Diagnostic, ...] = tuple(program.warnings)
    except SpecError as err:
        diagnostics, sources = err.diagnostics, err.sources
    except BaseException as err:  # noqa: BLE001 - a compiler bug must not take the editor's server down: reported
        if interrupts(err):  # (only on the main thread: the server checks on a worker thread)
            raise
        diagnostics = (Diagnostic("internal", f"internal error in the compiler (a bug in vibench): "
                                          f"{type(err).__name__}: {err}", None,
                                  hint="please report it with this spec; `vibench-compile --check` shows the same"),)
    if path is None:  # checked in a folder that holds nothing (vibench.lsp.folders): its messages name none
        diagnostics = unsaved_diagnostics(diagnostics)
    own = _own_names(diagnostics, path, display, source)
    places = _places(diagnostics, own, text, sources, encoding)
    internal = any(d.code == "internal" for d in diagnostics)  # (translating again would only fail again)
    template = None if internal else _phm_template(source, path, display, search_path)
    return Checked(version, text, display, program, diagnostics, time.perf_counter() - started, own, places,
                   os.path.dirname(os.path.realpath(path)) if path else None, tuple(search_path), template)


def _phm_template(source: str, path: str | None, display: str, search_path: list[str]) -> str | None:
    """The library template a PHM-Vibench experiment config's `model:` type and name pick (`isfm/M_01_ISFM`), read
    from the section as the compiler merges it (:func:`vibench.compiler.phm_merge.model_section`: its base configs,
    then its own keys), so also where a base config gives them; None for a document that is no such config (told
    from its top-level keys first, so that a spec costs no second load), or when the merge fails (an error the
    check reports). Not the whole translation: it refuses a config that lacks a key its model needs (E221), the
    very config whose keys are being written."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import is_experiment
    from vibench.compiler.phm import FAMILY_FOLDERS
    from vibench.compiler.phm_merge import model_section
    from vibench.compiler.pipeline import load
    from vibench.compiler.resolve import Library
    from vibench.lsp.spec_kind import is_phm_keys, top_keys

    if not is_phm_keys(top_keys(source) or ()):
        return None
    try:
        doc = load(compiled_path(path), source, display)
        if not is_experiment(doc.data):
            return None
        library = Library(search_path)
        library.given_path = compiled_path(path)  # its base configs are read beside the name opened, as the check does
        model = model_section(doc, library, []).values
    except SpecError:
        return None
    kind, name = model.get("type"), model.get("name")
    if not isinstance(kind, str) or not isinstance(name, str) or kind not in FAMILY_FOLDERS:
        return None
    return f"{FAMILY_FOLDERS[kind]}/{name}"


def _places(diagnostics: tuple[Diagnostic, ...], own: frozenset[str], text: str, sources: dict[str, str],
            encoding: str) -> dict[tuple[str, int, int], tuple[int, int]]:
    """The LSP (line, character) of each position of ``diagnostics`` in another file, and of each origin (see
    :attr:`Checked.places`): the compiler's line and column count code points and YAML's line breaks, LSP's
    ``character`` counts units of ``encoding`` (two for a character beyond U+FFFF in UTF-16) and lines end at
    LSP's breaks, so the column is converted in that file's text as the document's own positions are. That text
    is the one the compiler read (its error carries it), else the file read again; a file that cannot be read
    leaves the position as the compiler gave it."""
    texts: dict[str, Lines | None] = {}
    out: dict[tuple[str, int, int], tuple[int, int]] = {}
    for d in diagnostics:
        for pos, is_origin in ((d.pos, False), (d.origin, True)):
            if pos is None or (pos.file in own and not is_origin) or (pos.file, pos.line, pos.col) in out:
                continue
            if pos.file not in texts:
                known = text if pos.file in own else sources.get(pos.file)
                known = known if known is not None else _read_source(file_path(pos.file))
                texts[pos.file] = None if known is None else Lines(known, encoding)
            lines = texts[pos.file]
            if lines is not None:
                out[pos.file, pos.line, pos.col] = lines.position(lines.line_col_offset(pos.line, pos.col))
    return out


def _read_source(path: str) -> str | None:
    """The text of the spec file at ``path`` as the compiler reads it (UTF-8 without its byte-order mark; a byte
    that is not UTF-8 one character, as in E001's text), or None: not a regular file (a FIFO is never waited
    on), unreadable, or beyond vibench-compile's limit."""
    raw = _read_bytes(path)
    return None if raw is None else raw.decode("utf-8-sig", "replace")


def _read_bytes(path: str) -> bytes | None:
    """The bytes of the regular file at ``path`` within vibench-compile's limit, else None; a FIFO is
    never waited on (the checker thread would hang on it)."""
    from vibench.compiler.load import MAX_BYTES

    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | getattr(os, "O_NONBLOCK", 0))) as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None
            raw = fh.read(MAX_BYTES + 1)
    except (OSError, ValueError):  # ValueError: a path holding NUL
        return None
    return raw if len(raw) <= MAX_BYTES else None


def _own_names(diagnostics: tuple[Diagnostic, ...], path: str | None, display: str, source: str) -> frozenset[str]:
    """``display``, and each other name the diagnostics give the file at ``path`` while that file holds
    ``source`` (see :attr:`Checked.own_names`); the file is read only when a diagnostic names it otherwise."""
    names = {display}
    if path is None:
        return frozenset(names)
    here = os.path.realpath(path)
    others = {d.pos.file for d in diagnostics if d.pos is not None and d.pos.file != display}
    same = {name for name in others if os.path.realpath(file_path(name)) == here}
    if same and _saved_text(path) == source:
        names |= same
    return frozenset(names)


def _saved_text(path: str) -> str | None:
    """The text of the file at ``path`` as the compiler reads it (UTF-8, no byte-order mark); None if unreadable,
    not UTF-8, or not a regular file (read as :func:`_read_source` reads)."""
    raw = _read_bytes(path)
    if raw is None:
        return None
    try:
        saved = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return saved[1:] if saved.startswith(BOM) else saved


def problems(checked: Checked, outline: Outline, lines: Lines, limit: int = MAX_PROBLEMS) -> list[Problem]:
    """The diagnostics of ``checked`` placed in its text (see the module docstring): the first ``limit`` of them,
    then, when there are more, one placed where the first left out is, saying how many are left out."""
    out = []
    own = checked.own_names or {checked.display}
    keys = KeyIndex(outline)
    spans = _Spans(checked.text)
    found: dict[str, str | None] = {}  # the real path of the file each reference names, looked up once
    anchors: dict[str | None, tuple[int, int]] = {}  # where the document refers to each other file, found once

    def target(ref: str) -> str | None:
        if ref not in found:
            found[ref] = _spec_file(ref, checked.folder, checked.search_path)
        return found[ref]

    def place(d: Diagnostic) -> tuple[int, int, bool]:
        """(start, end, whether the position is in the document itself)."""
        if d.pos is not None and d.pos.file in own:
            start = lines.line_col_offset(d.pos.line, d.pos.col)
            end = start + (d.span if d.span > 1 else spans.token_length(start))
            return start, max(min(end, spans.line_end(start)), start), True
        file = None if d.pos is None else d.pos.file
        if file not in anchors:
            anchors[file] = _anchor(d, outline, spans, target)
        return *anchors[file], False

    for d in checked.diagnostics[:limit]:
        start, end, here = place(d)
        if here:
            # an error reported at the user's setting, raised in a template: linked to the template's node
            origin = None if d.origin is None else (file_path(d.origin.file), d.origin.line, d.origin.col)
            out.append(Problem(d, start, end, message(d), origin, fix=fix_for(d, start, end, checked.text, keys),
                               elsewhere_at=_place(checked, d.origin)))
        else:
            where = None
            if d.pos is not None:
                where = (file_path(d.pos.file), d.pos.line, d.pos.col)
            prefix = f"in {d.pos}: " if d.pos is not None else ""
            out.append(Problem(d, start, end, prefix + message(d), where, elsewhere_at=_place(checked, d.pos)))
    from vibench.compiler.diagnostics import counted

    shown = min(len(checked.diagnostics), limit)
    if shown and counted(checked.diagnostics) > shown:  # (the compiler too counts problems past its own 1,000)
        first_left = checked.diagnostics[limit] if len(checked.diagnostics) > limit else checked.diagnostics[-1]
        out.append(_more(checked.diagnostics, shown, *place(first_left)[:2]))
    return out


def _more(diagnostics: tuple[Diagnostic, ...], limit: int, start: int, end: int) -> Problem:
    """The last problem of a check that found more than the ``limit`` shown: how many are not shown, placed where the
    first of them is (or, for those the compiler counted and did not build, where the last shown is)."""
    from vibench.compiler.diagnostics import Diagnostic, counted

    total = counted(diagnostics)  # (a diagnostic may count problems the compiler found and did not build)
    left = total - limit
    d = Diagnostic("more", f"{left:,} more problem{'s' * (left != 1)} not shown: vibench-lsp shows the first "
                           f"{limit:,} of the {total:,} this check found", None, severity="note",
                   hint="fix these first; the others are shown as fewer remain")
    return Problem(d, start, end, message(d))


def _spec_file(ref: str, folder: str | None, search_path: tuple[str, ...]) -> str | None:
    """The real path of the file a spec reference (``./blocks.yaml``, ``cnn/ResNet1D``; no ``#Block``) names, found
    by the rules of :meth:`~vibench.compiler.resolve.Library.find` (from the document's folder, then on the search
    path; never outside it), or None. Only whether the file exists is asked: ``Library.find`` raises E205 for a
    missing one after walking up to 500 folders for a hint, once per reference the document names."""
    from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES
    from vibench.compiler.spec_files import working_folder
    from vibench.compiler.spec_paths import unnamable, within
    from vibench.compiler.spec_search import joined

    if os.path.isabs(ref) or ref.startswith("~") or unnamable(ref) is not None:
        return None
    # joined, never normalised, as Library.find joins them: the OS follows `link/../x.yaml` from where `link` leads
    roots = ([folder] if folder else []) + [os.path.join(working_folder(), p) for p in search_path] + [LIBRARY_DIR]
    relative = ref.startswith((".", "/")) or ref.endswith(SPEC_SUFFIXES)
    for base in [folder] if (relative and folder) else roots:
        stem = joined(base, ref)
        for candidate in [stem] if stem.endswith(SPEC_SUFFIXES) else [stem + s for s in SPEC_SUFFIXES]:
            if os.path.isfile(candidate):  # the first file found is the one the compiler took
                real = os.path.realpath(candidate)
                return real if within(real, [os.path.realpath(r) for r in roots]) else None
    return None


def _place(checked: Checked, pos: Pos | None) -> tuple[int, int] | None:
    """The LSP (line, character) of a position in another file (:attr:`Checked.places`), or None."""
    return None if pos is None or checked.places is None else checked.places.get((pos.file, pos.line, pos.col))


def message(d: Diagnostic) -> str:
    """The diagnostic as the editor shows it: the message, then expected, found, notes and hint."""
    where = ""
    if d.node and f"node `{d.node}`" not in d.message:
        where = f" (node `{d.node}`" + (f", port `{d.port}`" if d.port and f"`{d.port}`" not in d.message else "") + ")"
    lines = [d.message + where]
    for label, value in (("expected", d.expected), ("found", d.found)):
        if value is not None:
            lines.append(f"{label}: {value}")
    lines += [f"note: {n}" for n in d.notes]
    if d.hint:
        lines.append(f"hint: {d.hint}")
    return "\n".join(lines)


class _Spans:
    """Where a line and a value end in ``text``, each found by a look-up: its line breaks and quotes are listed
    once, when first asked for, so that placing N diagnostics on a line of L characters costs about L + N, not
    N x L (a search to the line's end for each of 100,000 diagnostics on a 1 MB line held the server for hours)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._breaks: list[int] | None = None
        self._quotes: dict[str, list[int]] = {}
        self._names: dict[int, int] = {}  # the length of the name at an offset, once measured

    def line_end(self, start: int) -> int:
        """The offset of the first line break at or after ``start`` (the end of the text when none is)."""
        if self._breaks is None:
            self._breaks = [found.start() for found in _LINE_END.finditer(self.text)]
        at = bisect.bisect_left(self._breaks, start)
        return self._breaks[at] if at < len(self._breaks) else len(self.text)

    def token_length(self, start: int) -> int:
        """Characters of the value at ``start``: a quoted string, a name or number, or one. A name holds any
        character beyond ASCII but a space (`😀𝕏`, which the compiler refuses, E106: `😀` is no letter, so only it
        was underlined)."""
        text = self.text
        if start >= len(text):
            return 0
        quote = text[start]
        if quote in "'\"":
            if quote not in self._quotes:
                self._quotes[quote] = [found.start() for found in re.finditer(quote, text)]
            quotes = self._quotes[quote]
            at = bisect.bisect_right(quotes, start)  # the next quote of the kind after the opening one
            return quotes[at] - start + 1 if at < len(quotes) else 1
        if start not in self._names:
            end = start
            while end < len(text) and (text[end].isalnum() or text[end] in "_-.$/#\\"  # as the compiler's carets
                                       or not (text[end].isascii() or text[end].isspace())):
                end += 1
            self._names[start] = max(end - start, 1)
        return self._names[start]


def _anchor(d: Diagnostic, outline: Outline, spans: _Spans, target: Callable[[str], str | None]) -> tuple[int, int]:
    """Where the document refers to the file a diagnostic is in: the first node whose `block:` names that file
    (:func:`_reference_to`), else `extends:`, a PHM `model: name`; else the first line."""
    candidates: list[tuple[str | int, ...]] = [("extends",), ("model", "name")]
    if d.pos is not None:
        reference = _reference_to(os.path.realpath(file_path(d.pos.file)), outline, target)
        if reference is not None:
            candidates.insert(0, reference)
    for path in candidates:
        entry = outline.entry(path)
        if entry is not None and entry.value_span is not None:
            return entry.value_span
    return 0, spans.line_end(0)


def _reference_to(file: str, outline: Outline, target: Callable[[str], str | None]) -> tuple[str | int, ...] | None:
    """The path of the first `block:` value, in document order, that names ``file`` (``target``: the real path of
    the file a reference names). Compared by the file found, never by its name: `batch_norm1d` holds the stem
    `b` of `./b.yaml`, and `./myblocks.yaml#Y` the stem `blocks` of `./blocks.yaml`."""
    from vibench.lsp.document import is_library_ref

    for unit in [(), *[("blocks", b) for b in outline.keys(("blocks",))]]:
        for node in outline.keys((*unit, "nodes")):
            path = (*unit, "nodes", node, "block")
            block = outline.value(path)
            if block and "${" not in block and is_library_ref(block) and target(block.partition("#")[0]) == file:
                return path
    return None
