"""Where specs are found: the installed library's folder, the file suffixes a spec may have, and the file a spec
name means (:func:`find_spec`). Imports nothing of the compiler but diagnostics, so that any module can use it."""

from __future__ import annotations

import errno
import os
import stat

from vibench.compiler.diagnostics import Diagnostic, SpecError

LIBRARY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
LISTING_IN_PYTHON = "the command `vibench-compile --list`, installed with vibench, lists the library's templates"
"""Where a hint sends a caller of the Python API to see the library (`vibench-compile --list` on the command line):
the API has no listing of its own."""


def find_spec(spec: str, search_path: list[str] | None = None, *, in_python: bool = False) -> str:
    """The file a spec name means: an existing path, else a template on the search path or in the
    library (``cnn/ResNet1D``); SpecError E004 when there is none, or when what the name finds is no regular
    file (a FIFO, a folder: named as ``extends:`` names it). ``in_python``: the hint says where to see the
    library in the words of the Python API, not of `vibench-compile`."""
    if os.path.exists(spec):
        return spec
    for candidate in _candidates(spec, search_path):
        if os.path.isfile(candidate):
            return candidate
    shown = spec if len(spec) <= 200 else spec[:200] + "..."
    unusable = not_a_file(spec, search_path)
    if unusable is not None:
        path, kind = unusable
        raise SpecError([Diagnostic("E004", f"spec `{shown}` is {kind}, not a regular file", None,
                                    found=path if len(path) <= 200 else path[:200] + "...",
                                    hint="name a .yaml, .yml or .json spec file")])
    listing = LISTING_IN_PYTHON if in_python else "`vibench-compile --list` lists them"
    raise SpecError([Diagnostic("E004", "no such spec file or library template", None, found=shown,
                                hint=f"give a path, or a template name such as cnn/ResNet1D ({listing})")])


def _candidates(spec: str, search_path: list[str] | None) -> list[str]:
    """The files a template name may mean, in the order they are tried: on the search path, then in the library."""
    if os.path.isabs(spec) or ".." in spec.split("/"):
        return []
    return [os.path.join(root, spec + suffix) for root in list(search_path or []) + [LIBRARY_DIR]
            for suffix in ("",) + SPEC_SUFFIXES]


def not_a_file(spec: str, search_path: list[str] | None = None) -> tuple[str, str] | None:
    """(path, what it is) of the first spec file the template name ``spec`` means that is there but no regular
    file: ``("lib/fam/F.yaml", "a FIFO (named pipe)")``, in the words of E004 for ``extends: fam/F``; None when
    there is none. A name without a spec suffix means only ``name.yaml`` (...), as in ``extends:``: ``cnn`` is no
    spec, whatever the folder. Nothing is opened (a FIFO would wait for a writer)."""
    from vibench.compiler.load import _file_kind

    for candidate in _candidates(spec, search_path):
        if not candidate.endswith(SPEC_SUFFIXES):
            continue
        try:
            mode = os.stat(candidate).st_mode
        except (OSError, ValueError) as err:
            if os.path.islink(candidate):  # there, but leads nowhere
                loop = isinstance(err, OSError) and err.errno == errno.ELOOP
                return candidate, ("a symbolic link loop" if loop else
                                   "a broken symbolic link (its target does not exist)")
            continue
        if not stat.S_ISREG(mode):
            return candidate, _file_kind(mode)
    return None
