"""The folders of a check: the one an unsaved document is checked in, and the file a compiler position names.

An unsaved document (``untitled:Untitled-1``, or a URI that names no usable file) has no folder. The compiler
reads a text given without a path as if it were a file of the working folder, but
the server's working folder is none of the user's: a relative reference (``extends: ./base.yaml``, a PHM-Vibench
``base_configs`` entry) of such a document finds no file, and its error says to save the file first, while a
library name (``cnn/ResNet1D``) is found as in any spec. The check is given the path of a file in
:data:`NO_FOLDER`, a folder that holds nothing (:func:`compiled_path`), and its diagnostics name no such folder
(:func:`unsaved_diagnostics`). Hover, completion and go-to-definition read no file of the working folder for such
a document either (``Document.from_dir`` is None).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import Diagnostic

NO_FOLDER = os.path.join(os.sep, "<an unsaved document has no folder>")
"""The folder an unsaved document is checked in: none holds a file, so no relative reference is found there."""
SAVE_FIRST = "save the file first: a relative path is read from the file's folder"


def compiled_path(path: str | None) -> str:
    """The path the compiler is given with the text of the document at ``path`` (None: an unsaved one).

    >>> compiled_path("/w/spec.yaml"), os.path.dirname(compiled_path(None)) == NO_FOLDER
    ('/w/spec.yaml', True)
    """
    return path if path is not None else os.path.join(NO_FOLDER, "<untitled>")


def unsaved_diagnostics(diagnostics: tuple[Diagnostic, ...]) -> tuple[Diagnostic, ...]:
    """The diagnostics of an unsaved document's check, in which :data:`NO_FOLDER` is named by no note: a folder
    searched only there (a relative reference) says the document is not saved, with :data:`SAVE_FIRST` as the hint;
    one searched there and on the search path lists the search path alone."""
    out = []
    for d in diagnostics:
        notes, unsaved = [], False
        for note in d.notes:
            head, colon, listed = note.partition(": ")
            folders = listed.split(", ")
            if not colon or NO_FOLDER not in folders:
                notes.append(note)
            elif kept := [folder for folder in folders if folder != NO_FOLDER]:
                notes.append(f"{head}: {', '.join(kept)}")
            else:
                unsaved = True
                notes.append("the document is not saved: it has no folder to read a relative path from")
        out.append(replace(d, notes=tuple(notes), hint=SAVE_FIRST) if unsaved else replace(d, notes=tuple(notes)))
    return tuple(out)


def file_path(display: str) -> str:
    """The file a compiler position names (library files are shown as `vibench/specs/...`)."""
    from vibench.compiler.resolve import LIBRARY_DIR

    if display.startswith("vibench/specs/"):
        return os.path.join(LIBRARY_DIR, display[len("vibench/specs/"):])
    return os.path.abspath(display)
