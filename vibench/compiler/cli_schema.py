"""The files ``vibench-compile schema`` reads (see :mod:`vibench.compiler.cli`), so that its ``-o`` never
overwrites one: ``schema -I lib --template fam/T -o lib/fam/T.yaml`` replaced the template it read.

They are read again here through a :class:`~vibench.compiler.resolve.Library`, whose ``read`` holds the
real path of every file loaded, as :func:`~vibench.compiler.pipeline.compile_program`'s ``files_read``
does for a compile: with ``--template``, that template and every file it extends or uses; without,
every template on the spec path and in the shipped library (what ``extends:`` completes), with theirs.
"""

from __future__ import annotations

import os

TEMPLATE = "the --template spec, or a file it extends or uses"
ON_PATH = "a template on the spec path or in the library, or a file one extends or uses"


def schema_reads(template: str | None, search_path: list[str]) -> dict[str, str]:
    """The real path of every file the schema of ``template`` (None: the whole spec path) reads -> what
    it is, as :func:`vibench.compiler.outputs.refuse_inputs` names it. Run after the schema was built:
    a template that does not load was reported then (its files are still counted: a file is recorded
    before it is parsed)."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES, Library
    from vibench.schemas.template_schema import templates_under

    library = Library(search_path)
    roots = [*library.user_dirs, LIBRARY_DIR]
    if template is not None:  # found as vibench.schemas.template_schema.load_template finds it
        candidates = [template] if os.path.isfile(template) else [
            os.path.join(root, template + suffix) for root in roots for suffix in ("", *SPEC_SUFFIXES)]
        paths = [os.path.abspath(c) for c in candidates if os.path.isfile(c)][:1]
    else:  # as vibench.schemas.template_schema.templates_on_path walks the spec path
        paths = [path for root in roots for path in templates_under(root, SPEC_SUFFIXES)]
    for path in paths:
        try:
            library.load(path, None)
        except SpecError:
            pass  # reported (or listed as invalid) by the schema; the file was read all the same
    return dict.fromkeys(library.read, TEMPLATE if template is not None else ON_PATH)
