"""The modules of models that :func:`vibench.build` compiled, importable by name.

``vibench.build`` writes each compiled model.py into the user cache folder as ``m_<hash>.py``, a hash
of its build's key and of its source, so that a name stands for one code (see
:mod:`vibench.runtime.cache`), and imports it as ``vibench.models.m_<hash>``, so a model saved whole
with ``torch.save(model)`` loads in another process with ``torch.load(path, weights_only=False)`` as
long as vibench is installed and the cache file is there. (``model.state_dict()`` with the emitted
model.py, or with ``vibench.build`` of the same spec, is the portable way.)

The modules are found by :class:`_CacheFinder`, which goes straight to the file its name gives. The
path-based finder would list the folder instead, again after every write: with 100,000 entries one
listing took 27 ms, paid by every build that compiled (measured, 12-03).

Code is imported from the folder only while nobody else can have written it (:func:`untrusted`): on
POSIX the folder belongs to this user and no other user may write in it, and the file belongs to this
user. A cache shared through a group-writable or world-writable folder (``VIBENCH_CACHE_DIR=/tmp/x``)
would let another user plant the module that the next build imports.

:class:`_CacheLoader` runs the module's source only when it is the source its entry's record
(``m_<hash>.json``) names, compiled at each import: bytecode is never read or written. A ``.pyc`` is
valid for Python while the source keeps its whole-second time and size, so a module rewritten within
one second at the same size ran the old code, and a ``__pycache__`` another user could write in ran
theirs (the trade: 2 to 3.5 ms of compilation per model per process, see :mod:`vibench.runtime.cache`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import types
from importlib.machinery import ModuleSpec, SourceFileLoader
from typing import Any


def cache_dir() -> str:
    """``$VIBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/vibench/models``, else ``~/.cache/vibench/models``."""
    explicit = os.environ.get("VIBENCH_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vibench", "models")


def untrusted(folder: str, file: str | None = None) -> str | None:
    """Why code in ``folder`` (and its ``file``) must not be imported, or None when it may: on POSIX the
    folder and the file belong to this user and neither is writable by another (group or others)."""
    if os.name != "posix":  # Windows: per-user profile folders and ACLs, not modes
        return None
    uid = os.geteuid()
    for what, path in (("the cache folder", folder), ("the cached module", file)):
        if path is None:
            continue
        try:
            st = os.stat(path)
        except OSError as err:
            return f"{what} {path} cannot be read ({err.strerror or err})"
        if st.st_uid != uid:
            return f"{what} {path} belongs to another user (uid {st.st_uid})"
        if st.st_mode & 0o022:
            return f"{what} {path} is writable by other users (mode {st.st_mode & 0o777:o}; `chmod go-w` it)"
    return None


def source_problem(module_path: str, source: bytes) -> str | None:
    """Why ``source``, read from ``module_path`` (an ``m_<hash>.py``), is not the source its entry's
    record (``m_<hash>.json``, written by :mod:`vibench.runtime.cache`) names by its SHA-256 (a truncated
    file, one rewritten since), or None when it is."""
    record = os.path.splitext(module_path)[0] + ".json"
    try:
        with open(record, encoding="utf-8") as fh:
            meta = json.load(fh)
    except Exception:  # noqa: BLE001 - any record that cannot be read (nested too deep: RecursionError) is damaged
        return f"its record {record} is missing or damaged"
    recorded = meta.get("source") if isinstance(meta, dict) else None
    if not isinstance(recorded, str):
        return f"its record {record} names no source hash (written by an older vibench)"
    if hashlib.sha256(source).hexdigest() != recorded:
        return f"{module_path} is not the source its record names (damaged or rewritten)"
    return None


class _CacheLoader(SourceFileLoader):
    """Loads a cache module from its source, checked against its entry's record; no bytecode."""

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        problem = source_problem(path, source)
        if problem is not None:
            raise ImportError(f"vibench refuses to import {fullname}: {problem}; vibench.build compiles "
                              "it again", name=fullname, path=path)
        return self.source_to_code(source, path)


class _CacheFinder:
    """Finds ``vibench.models.m_<hex>`` at ``<cache_dir()>/m_<hex>.py``, and nothing else."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        prefix = __name__ + ".m_"
        if not name.startswith(prefix) or not all(ch in "0123456789abcdefp" for ch in name[len(prefix):]):
            return None
        folder = cache_dir()
        file = os.path.join(folder, name[len(__name__) + 1:] + ".py")
        if not os.path.isfile(file):
            return None
        reason = untrusted(folder, file)
        if reason is not None:
            raise ImportError(f"vibench refuses to import {name}: {reason}", name=name, path=file)
        return importlib.util.spec_from_file_location(name, file, loader=_CacheLoader(name, file))


if not any(finder is _CacheFinder or type(finder).__name__ == "_CacheFinder" for finder in sys.meta_path):
    sys.meta_path.insert(0, _CacheFinder)  # type: ignore[arg-type]

__path__ = []  # type: ignore[var-annotated]  # nothing here is found by listing a folder
