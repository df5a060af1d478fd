"""The modules of models that :func:`vibench.build` compiled, importable by name.

``vibench.build`` writes each compiled model.py into the user cache folder as
``vibench/models/m_<hash>.py`` (see :mod:`vibench.runtime.cache`); this package's ``__path__`` is
that folder, so a model saved whole with ``torch.save(model)`` loads in another process with
``torch.load(path, weights_only=False)`` as long as vibench is installed and the cache file is
there. (``model.state_dict()`` with the emitted model.py, or with ``vibench.build`` of the same spec,
is the portable way.)
"""

from __future__ import annotations

import os


def cache_dir() -> str:
    """``$VIBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/vibench/models``, else ``~/.cache/vibench/models``."""
    explicit = os.environ.get("VIBENCH_CACHE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vibench", "models")


__path__ = [cache_dir()]
