"""The modules of models that :func:`vibench.build` compiled, importable by name.

``vibench.build`` writes each compiled model.py into the user cache folder as ``m_<key>.py`` (see
:mod:`vibench.runtime.cache`) and imports it as ``vibench.models.m_<key>``, so a model saved whole
with ``torch.save(model)`` loads in another process with ``torch.load(path, weights_only=False)`` as
long as vibench is installed and the cache file is there. (``model.state_dict()`` with the emitted
model.py, or with ``vibench.build`` of the same spec, is the portable way.)

The modules are found by :class:`_CacheFinder`, which goes straight to the file its name gives. The
path-based finder would list the folder instead, again after every write: with 100,000 entries one
listing took 27 ms, paid by every build that compiled (measured, 12-03).
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


class _CacheFinder:
    """Finds ``vibench.models.m_<hex>`` at ``<cache_dir()>/m_<hex>.py``, and nothing else."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        prefix = __name__ + ".m_"
        if not name.startswith(prefix) or not all(ch in "0123456789abcdefp" for ch in name[len(prefix):]):
            return None
        file = os.path.join(cache_dir(), name[len(__name__) + 1:] + ".py")
        if not os.path.isfile(file):
            return None
        return importlib.util.spec_from_file_location(name, file)


if not any(finder is _CacheFinder or type(finder).__name__ == "_CacheFinder" for finder in sys.meta_path):
    sys.meta_path.insert(0, _CacheFinder)  # type: ignore[arg-type]

__path__ = []  # type: ignore[var-annotated]  # nothing here is found by listing a folder
