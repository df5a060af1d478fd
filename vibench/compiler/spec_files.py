"""Where specs are found: the installed library's folder, the file suffixes a spec may have, the file a spec
name means (:func:`find_spec`; :func:`check_spec_file` for a path alone), the working folder relative names mean
(:func:`working_folder`), which names can only be a folder's (:func:`names_folder`) and which search folders may be
used (:func:`searchable`). Imports nothing of the compiler but diagnostics, so that any module can use it."""

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

NO_WORKING_FOLDER = os.path.join(os.sep, "<the working folder no longer exists>")
"""What stands for the working folder once it was removed (a shell still in a deleted folder, where
``os.getcwd()`` raises): a folder that holds nothing, so that a text spec's relative references find nothing
there, and that no file is under, so that messages name files by their real paths."""

UNSEARCHABLE = "the folder cannot be read (permission denied)"
"""Why a search folder is refused (``--spec-path``, ``search_path=``, ``VIBENCH_SPEC_PATH``): it may not be searched,
so no file in it can be found. One that may be searched but not listed (mode 311) is used: each lookup works,
and what lists it (``--list``, a did-you-mean) says it cannot be read."""


def searchable(folder: str) -> bool:
    """Whether this process may look up names in the folder ``folder`` (its `x` permission, for the real user: root
    without CAP_DAC_READ_SEARCH too); listing it (`r`) is not needed."""
    return os.access(folder, os.X_OK)


def working_folder() -> str:
    """The working folder, absolute; :data:`NO_WORKING_FOLDER` when it no longer exists.

    >>> working_folder() == os.getcwd()
    True
    """
    try:
        return os.getcwd()
    except OSError:  # FileNotFoundError: removed while the process was in it
        return NO_WORKING_FOLDER


def find_spec(spec: str, search_path: list[str] | None = None, *, in_python: bool = False) -> str:
    """The file a spec name means: an existing path, else a template on the search path or in the
    library (``cnn/ResNet1D``); SpecError E004 when there is none, or when what the name finds is no regular
    file (a FIFO, a folder: named as ``extends:`` names it). ``in_python``: the hint says where to see the
    library in the words of the Python API, not of `vibench-compile`. Once the working folder was removed a
    relative path names nothing (``../x.yaml`` would still open, but no message or cache key could name it):
    only an absolute path or a template is found, else E004 says why."""
    gone = not os.path.isabs(spec) and working_folder() == NO_WORKING_FOLDER
    if not gone and os.path.exists(spec):
        return spec
    if not gone and os.path.islink(spec):  # a link to no file: said so, as vibench-compile says it
        raise _link_to_no_file(spec)
    for candidate in _candidates(spec, search_path):
        if os.path.isfile(candidate) and not (gone and not os.path.isabs(candidate)):
            return candidate
    shown = _shown(spec)
    unusable = not_a_file(spec, search_path)
    if unusable is not None:
        path, kind = unusable
        raise SpecError([Diagnostic("E004", f"spec `{shown}` is {kind}, not a regular file", None,
                                    found=path if len(path) <= 200 else path[:200] + "...",
                                    hint="name a .yaml, .yml or .json spec file")])
    if gone:
        move = "os.chdir() to an existing folder first" if in_python else "`cd` to an existing folder"
        raise SpecError([Diagnostic("E004", "the working folder no longer exists: a relative spec path names no "
                                    "file", None, found=shown,
                                    hint=f"give the spec's absolute path, or {move}")])
    listing = LISTING_IN_PYTHON if in_python else "`vibench-compile --list` lists them"
    raise SpecError([Diagnostic("E004", "no such spec file or library template", None, found=shown,
                                hint=f"give a path, or a template name such as cnn/ResNet1D ({listing})")])


def check_spec_file(spec: str, *, read: bool = True) -> None:
    """E004 for a spec path that names no file, worded as :func:`find_spec` words it, though no template is looked
    up (``vibench.load_spec``): a symbolic link to no file says so, any other name is "no such spec file", shown
    clipped to 200 characters (a name of 100,000 filled the message). ``read=False``: the path only names a text
    given with it, and only a name that no file can have (a NUL in it) is refused. Nothing for a path that is there:
    reading it says what else is wrong (a folder, a FIFO, no permission)."""
    if "\0" not in spec and (not read or os.path.exists(spec)):
        return
    if os.path.islink(spec):
        raise _link_to_no_file(spec)
    raise SpecError([Diagnostic("E004", "no such spec file", None, found=_shown(spec),
                                hint="give the path of a .yaml, .yml or .json spec file (`load_spec` looks no library "
                                "template up: `check`, `compile_spec` and `build` do)")])


def _link_to_no_file(spec: str) -> SpecError:
    """E004 for a spec that is a symbolic link to no file (dangling, or leading round in a loop)."""
    from vibench.compiler.descriptor_names import broken_link

    return SpecError([Diagnostic("E004", f"spec `{_shown(spec)}` {broken_link(spec)}", None, found=_shown(spec),
                                 hint="point the link at a .yaml, .yml or .json spec file, or remove it")])


def names_folder(ref: str) -> bool:
    """Whether ``ref`` can name only a folder: it ends in ``/`` (``./blocks/``, ``./blocks.yaml/``), ``.`` or
    ``..``. No suffix is added to such a name (``./blocks/`` was read as ``./blocks.yaml``, and ``./`` as the
    file named after the folder that holds it).

    >>> names_folder("./blocks/"), names_folder("../"), names_folder("sub/.."), names_folder("./blocks")
    (True, True, True, False)
    """
    return os.path.basename(ref) in ("", os.curdir, os.pardir)


def _shown(spec: str) -> str:
    return spec if len(spec) <= 200 else spec[:200] + "..."


def _candidates(spec: str, search_path: list[str] | None) -> list[str]:
    """The files a template name may mean, in the order they are tried: on the search path, then in the library;
    joined, never normalised, as a reference is (:func:`vibench.compiler.spec_search.joined`). A name that can only
    be a folder's (`cnn/`, `fam/.`) gets no suffix: `cnn/.yaml` is no template. An empty name means none (joined,
    it was the library's folder itself: `''` was said to be "a folder")."""
    if not spec or os.path.isabs(spec) or ".." in spec.split("/"):
        return []
    return [os.path.join(root, spec + suffix) for root in list(search_path or []) + [LIBRARY_DIR]
            for suffix in ("",) + (() if names_folder(spec) else SPEC_SUFFIXES)]


def not_a_file(spec: str, search_path: list[str] | None = None) -> tuple[str, str] | None:
    """(path, what it is) of the first spec file the template name ``spec`` means that is there but no regular
    file: ``("lib/fam/F.yaml", "a FIFO (named pipe)")``, in the words of E004 for ``extends: fam/F``; None when
    there is none. A name without a spec suffix means only ``name.yaml`` (...), as in ``extends:``, unless no such
    file is there and it names a folder (``cnn``: ``(".../specs/cnn", "a folder")``, as ``extends: cnn`` is E004); a
    FIFO ``cnn`` is no spec. Nothing is opened (a FIFO would wait for a writer)."""
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
    folders = (c for c in _candidates(spec, search_path) if not c.endswith(SPEC_SUFFIXES) and os.path.isdir(c))
    folder = next(folders, None)
    return (folder, "a folder") if folder is not None else None
