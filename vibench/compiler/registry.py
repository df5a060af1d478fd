"""The block registry: block types register here with a decorator; nothing else names them.

Built-in blocks live in :mod:`vibench.compiler.blocks`, one or a few per module. A lookup imports
only the module that defines the block, found in a generated index
(:mod:`vibench.compiler.blocks._index`, block name -> module): importing all ~60 block modules
cost about 0.4 s of a cold ``--check`` that needs a handful of them. A block module the index does
not know yet (a new file) is still found: a name missing from the index imports the modules the
index does not list before giving up, and ``tests/test_blocks.py`` fails while the index is stale,
saying how to refresh it (``python -m vibench.compiler.registry``).

Third-party packages add blocks through the ``vibench.blocks`` entry-point group (each entry point
names a module that registers blocks on import, or a Block subclass). Plugins are loaded the first
time a name is not found among the built-ins, or when the whole catalogue is listed (``--blocks``,
schema export).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block

PACKAGE = "vibench.compiler.blocks"
INDEX_MODULE = "_index"

_BLOCKS: dict[str, Block] = {}
_state = {"builtins": False, "unindexed": False, "plugins": False}


def register(cls: type[Block]) -> type[Block]:
    """Class decorator: add a Block subclass to the catalogue under ``cls.name``."""
    name = cls.name
    existing = _BLOCKS.get(name)
    if existing is not None and type(existing) is not cls:
        if type(existing).__qualname__ == cls.__qualname__ and type(existing).__module__ == cls.__module__:
            _BLOCKS[name] = cls()  # the same class re-imported (e.g. by a reload): replace
            return cls
        raise ValueError(f"block `{name}` is registered twice: {type(existing).__module__} and {cls.__module__}")
    _BLOCKS[name] = cls()
    return cls


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


def _import(module: str) -> None:
    importlib.import_module(f"{PACKAGE}.{module}")


def _load_builtins() -> None:
    if not _state["builtins"]:
        _state["builtins"] = True
        for module in block_modules():
            _import(module)


def _load_unindexed() -> None:
    """Import the block modules the index does not list (files added since it was written)."""
    if _state["unindexed"] or _state["builtins"]:
        return
    _state["unindexed"] = True
    known = set(_index().values())
    for module in block_modules():
        if module not in known:
            _import(module)


def _load_plugins() -> None:
    if _state["plugins"]:
        return
    _state["plugins"] = True
    from importlib.metadata import entry_points

    from vibench.compiler.blocks.base import Block

    index = _index()
    for ep in entry_points(group="vibench.blocks"):
        obj = ep.load()
        if isinstance(obj, type) and issubclass(obj, Block) and obj.name not in _BLOCKS and obj.name not in index:
            register(obj)


def get(name: str) -> Block | None:
    """The block registered as ``name``, or None."""
    block = _BLOCKS.get(name)
    if block is not None:
        return block
    module = _index().get(name) if not _state["builtins"] else None
    if module is not None:
        _import(module)
        block = _BLOCKS.get(name)
        if block is None:  # a stale index: the block moved to another file
            _load_builtins()
            block = _BLOCKS.get(name)
    else:
        _load_unindexed()
        block = _BLOCKS.get(name)
    if block is None and not _state["plugins"]:
        _load_plugins()
        block = _BLOCKS.get(name)
    return block


def all_blocks() -> dict[str, Block]:
    """Every registered block (built-in and plugins), sorted by name."""
    _load_builtins()
    _load_plugins()
    return dict(sorted(_BLOCKS.items()))


def builtin_names() -> list[str]:
    _load_builtins()
    return sorted(_BLOCKS)


def builtin_index() -> dict[str, str]:
    """Block name -> module (within :mod:`vibench.compiler.blocks`) of every built-in block, by
    importing them all: what the generated index must hold."""
    _load_builtins()
    prefix = PACKAGE + "."
    return {name: type(block).__module__.removeprefix(prefix) for name, block in sorted(_BLOCKS.items())
            if type(block).__module__.startswith(prefix)}


def index_source(index: dict[str, str]) -> str:
    """The text of the generated index module."""
    lines = [
        '"""Block name -> the module of :mod:`vibench.compiler.blocks` that defines it, so that a lookup',
        "imports one module, not the whole catalogue. Generated by `python -m vibench.compiler.registry`;",
        'do not edit (tests/test_blocks.py fails when it is stale)."""',
        "",
        "BLOCK_MODULES = {",
        *(f"    {json.dumps(name)}: {json.dumps(module)}," for name, module in sorted(index.items())),
        "}",
        "",
    ]
    return "\n".join(lines)


def index_path() -> str:
    package = importlib.import_module(PACKAGE)
    return os.path.join(os.path.dirname(package.__file__ or ""), INDEX_MODULE + ".py")


def main() -> int:
    """Rewrite the generated index from the block modules (``python -m vibench.compiler.registry``)."""
    text = index_source(builtin_index())
    with open(index_path(), "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {index_path()}")
    return 0


if __name__ == "__main__":
    # Run as a script this file is `__main__`; the blocks register with the imported module.
    from vibench.compiler import registry

    sys.exit(registry.main())
