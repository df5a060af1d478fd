"""The built-in catalogue's modules and its generated index, for :mod:`vibench.compiler.registry`.

:func:`block_modules` lists the block modules of :mod:`vibench.compiler.blocks` without importing
them; the generated index (:mod:`vibench.compiler.blocks._index`, at :func:`index_path`, written by
``python -m vibench.compiler.registry``) maps each built-in block's name to its module, and each
built-in native's name to the module that defines it, so that a lookup imports one module, not the
catalogue. Nothing here holds state: the catalogue itself is the registry's.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

PACKAGE = "vibench.compiler.blocks"
INDEX_MODULE = "_index"


def block_modules() -> list[str]:
    """The modules of the built-in catalogue, by name: every module of the blocks package but
    ``base`` and private ones (``_index``), in name order. Listing them imports nothing."""
    import pkgutil

    package = importlib.import_module(PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__)
                  if m.name != "base" and not m.name.startswith("_"))


def _index() -> dict[str, str]:
    try:
        module = importlib.import_module(f"{PACKAGE}.{INDEX_MODULE}")
    except ImportError:  # pragma: no cover - the index is shipped; without it every lookup is a full load
        return {}
    index: dict[str, str] = module.BLOCK_MODULES
    return index


def _index_natives() -> dict[str, str]:
    try:
        module = importlib.import_module(f"{PACKAGE}.{INDEX_MODULE}")
    except ImportError:  # pragma: no cover - the index is shipped
        return {}
    return dict(getattr(module, "NATIVE_MODULES", {}))


def index_path() -> str:
    package = importlib.import_module(PACKAGE)
    return os.path.join(os.path.dirname(package.__file__ or ""), INDEX_MODULE + ".py")


def _is_builtin(block: Any) -> bool:
    return block is not None and type(block).__module__.startswith(PACKAGE + ".")
