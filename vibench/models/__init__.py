"""The modules of models that :func:`vibench.build` compiled, importable by name.

``vibench.build`` writes each compiled model.py into the user cache folder as ``m_<key>.py`` (see
:mod:`vibench.runtime.cache`) and imports it as ``vibench.models.m_<key>``, so a model saved whole
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
"""

from __future__ import annotations

import importlib.util
import os
import sys
from importlib.machinery import ModuleSpec
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
        return importlib.util.spec_from_file_location(name, file)


if not any(finder is _CacheFinder or type(finder).__name__ == "_CacheFinder" for finder in sys.meta_path):
    sys.meta_path.insert(0, _CacheFinder)  # type: ignore[arg-type]

__path__ = []  # type: ignore[var-annotated]  # nothing here is found by listing a folder
