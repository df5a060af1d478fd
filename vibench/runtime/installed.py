"""Which imported modules are the user's code, and which were installed: the standard library, vibench, torch
and every installed distribution. :func:`vibench.runtime.build.plugin_files` follows a plug-in into the user's
code only; an install changes the rest, not an edit, so the cache need not check it file by file.

A distribution is known by where its files are (site-packages, the standard library, the folder torch was
imported from) and, wherever it was reached (``PYTHONPATH``, a ``.pth`` file naming another environment's
folder), by its metadata: the ``RECORD`` of a ``*.dist-info`` beside it lists its files. An editable install's
``RECORD`` lists only the ``.pth`` leading to the sources, which stay the user's; so does a plug-in put on
``PYTHONPATH`` with a ``*.dist-info`` naming its entry points and no ``RECORD``.
"""

from __future__ import annotations

import csv
import functools
import os
import sys

from vibench.runtime.cache_deps import MAX_HASHED_BYTES, read_regular


def users_code(name: str) -> bool:
    """Whether imported module ``name`` is the user's code: by where its file is, not by its name (a plug-in's
    own ``wave.py`` or ``signal.py`` beside it is the user's); not vibench, a module without a file, or an
    installed distribution's (:func:`distributed`).

    >>> import json
    >>> users_code("json")
    False
    """
    top = name.partition(".")[0]
    if top == "vibench" or top in sys.builtin_module_names:
        return False
    file = getattr(sys.modules.get(name), "__file__", None)
    if not isinstance(file, str):
        return False
    real = os.path.realpath(file)
    return not any(real.startswith(folder) for folder in installed_folders()) and not distributed(name, file)


@functools.cache
def installed_folders() -> tuple[str, ...]:
    """The folders of the standard library, of installed distributions (site-packages) and of the torch that
    vibench runs (a source build of torch has no ``RECORD``), as real paths ending in a separator."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    folders = [paths.get(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    folders += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    folders.append(site.getusersitepackages() if hasattr(site, "getusersitepackages") else None)
    torch_file = getattr(sys.modules.get("torch"), "__file__", None)
    if isinstance(torch_file, str):
        folders.append(os.path.dirname(torch_file))
    return tuple(sorted({os.path.join(os.path.realpath(f), "") for f in folders if isinstance(f, str) and f}))


def distributed(name: str, file: str) -> bool:
    """Whether module ``name``, imported from ``file``, belongs to a distribution installed in the folder it was
    imported from: the ``RECORD`` of a ``*.dist-info`` there lists a file of its top-level package (torch or numpy
    on ``PYTHONPATH``). A file whose path does not follow its name (``__main__``) is not."""
    parts = name.split(".")
    folder, base = os.path.split(os.path.abspath(file))
    stem = base.partition(".")[0]  # `module` of module.py, of _C.cpython-311-x86_64-linux-gnu.so
    if stem != "__init__":
        if stem != parts[-1]:
            return False
        parts.pop()
    for part in reversed(parts):  # up to the folder it was imported from: one level per package
        folder, seen = os.path.split(folder)
        if seen != part:
            return False
    try:
        stamp = os.stat(folder).st_mtime_ns  # an install or uninstall adds or removes a *.dist-info there
    except OSError:
        return False
    return (name.partition(".")[0] if parts else base) in _recorded(folder, stamp)


@functools.lru_cache(maxsize=64)
def _recorded(folder: str, stamp: int) -> frozenset[str]:
    """The top-level names (a package's folder, a module's file) that the ``RECORD`` of each ``*.dist-info`` in
    ``folder`` lists, as of the folder's modification time ``stamp``; their own metadata and paths outside the
    folder (``../../bin/``) left out."""
    names: set[str] = set()
    try:
        infos = [entry.path for entry in os.scandir(folder) if entry.name.endswith(".dist-info") and entry.is_dir()]
    except OSError:
        return frozenset()
    for info in sorted(infos):
        raw = read_regular(os.path.join(info, "RECORD"), MAX_HASHED_BYTES)  # never a FIFO's wait
        if raw is None:  # none: a plug-in put on the path with its entry points only
            continue
        try:
            for row in csv.reader(raw.decode("utf-8", "replace").splitlines()):
                top = row[0].replace("\\", "/").split("/")[0] if row else ""
                if top and top != ".." and not top.endswith((".dist-info", ".data", ".pth")):
                    names.add(top)
        except csv.Error:  # a damaged RECORD: what it listed before the damage
            continue
    return frozenset(names)
