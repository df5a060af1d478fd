"""The files ``vibench-compile schema`` reads (see :mod:`vibench.compiler.cli`), so that its ``-o`` never
overwrites one: ``schema -I lib --template fam/T -o lib/fam/T.yaml`` replaced the template it read.

They are read again here through a :class:`~vibench.compiler.resolve.Library`, whose ``read`` holds the
real path of every file loaded, as :func:`~vibench.compiler.pipeline.compile_program`'s ``files_read``
does for a compile: with ``--template``, that template and every file it extends or uses; without,
every template on the spec path and in the shipped library (what ``extends:`` completes), with theirs.

Without ``--template`` the schema reads the spec path within budgets, which leave files out (a template past the
walk's 500 folders, a 1.2 MB file a template extends): :func:`spec_path_file` refuses every spec file of the spec
path's folders, read or not, before the schema is built.
"""

from __future__ import annotations

import os

TEMPLATE = "the --template spec, or a file it extends or uses"
ON_PATH = "a template on the spec path or in the library, or a file one extends or uses"


def spec_path_file(target: str, search_path: list[str]) -> str | None:
    """What the existing file ``target`` (a real path) is, as a refusal names it, when the schema of the whole spec
    path reads it, or would but for its budgets: a spec file (``.yaml``, ``.yml``, ``.json``) in one of
    ``search_path``'s folders or the library, hidden ones included (a template's `./.base/Big.yaml`), and no schema
    ``vibench-compile schema`` wrote (``-I . -o .vscode/vibench.schema.json`` replaces its own). None for any other
    file."""
    from vibench.compiler.display import clip_path
    from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES
    from vibench.compiler.spec_walk import written_schema

    if not target.endswith(SPEC_SUFFIXES) or not os.path.isfile(target) or written_schema(target):
        return None
    for folder in [*search_path, LIBRARY_DIR]:
        real = os.path.realpath(folder)
        if target.startswith(real.rstrip(os.sep) + os.sep):
            where = "the spec library" if folder == LIBRARY_DIR else f"the spec path folder {clip_path(folder)}"
            return (f"a spec file in {where}, whose templates and the files they extend or use the schema reads, "
                    "even one its budgets leave out; write the schema outside that folder, or to a new file")
    return None


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
