"""PHM-Vibench's metadata table given with a vibench spec (not an experiment config): the ``num_classes`` it gives
the spec (:func:`classes_from_metadata`), and the note that says so on a diagnostic about that value
(:func:`from_metadata_note`). Used by :mod:`vibench.compiler.pipeline`; an experiment config's table is read by
:func:`vibench.compiler.phm_checks.num_classes_from`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.load import LoadedDoc
from vibench.compiler.resolve import Library
from vibench.compiler.validate import validate


def from_metadata_note(d: Diagnostic, note: str, not_given: str) -> Diagnostic:
    """A diagnostic about ``num_classes`` when the value came from the metadata table: a note says so (``note``),
    instead of ``not_given``, which says it was given with the parameters."""
    notes = tuple(n for n in d.notes if n != not_given)
    if not any("`num_classes`" in text for text in (d.message, *notes)) or any("metadata" in n for n in notes):
        return replace(d, notes=notes)
    return replace(d, notes=(*notes, note))


def classes_from_metadata(doc: LoadedDoc, metadata: Any, library: Library) -> tuple[Any, list[Diagnostic]]:
    """A vibench spec's ``num_classes`` from a metadata table, as for a PHM-Vibench config
    (:func:`vibench.compiler.phm_checks.classes_for`): the count of a single-system table for one classifier,
    the mapping for a parameter that takes one (per-system heads), E202 at the declaration for a table of several
    systems and one classifier; and W116 for the rows the table skipped.

    The declaration is read from the spec resolved apart, in a library of its own (the compile's own records
    stay as they were); a spec that does not resolve, or has no ``num_classes``, takes the mapping, and the
    compile then reports what is wrong."""
    from vibench.compiler.phm_checks import classes_for
    from vibench.compiler.phm_metadata import skipped_rows_warning
    from vibench.compiler.resolve import resolve_file

    warnings = [w for w in (skipped_rows_warning(metadata),) if w is not None]
    probe = Library(library.user_dirs)
    probe.in_python = library.in_python
    probe.home = os.path.dirname(os.path.abspath(doc.path)) if doc.path else probe.cwd  # as `resolve` sets it
    probe.loading.append(doc.path or doc.file)  # as `resolve` counts the levels of a chain
    try:
        root, _ = resolve_file(doc, validate(doc), probe)
    except SpecError:
        return dict(metadata.num_classes), warnings
    decl = root.param("num_classes")
    if decl is None:
        return dict(metadata.num_classes), warnings
    given = "pass `num_classes=N`" if library.in_python else "set `--set num_classes=N`"
    try:
        value = classes_for(decl, metadata, root.name, decl.pos, "takes the place of `num_classes`, as PHM-Vibench's "
                            f"factory does: leave the table out (`{library.metadata_option}`) and {given}")
    except SpecError as err:
        notes = (library.table_note(metadata.path),)
        raise SpecError([replace(d, notes=notes) for d in err.diagnostics], dict(probe.sources)) from None
    return value, warnings
