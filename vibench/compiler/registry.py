"""The block registry: block types register here with a decorator; nothing else names them.

Built-in blocks live in :mod:`vibench.compiler.blocks`, one or a few per module. A lookup imports
only the module that defines the block, found in a generated index
(:mod:`vibench.compiler.blocks._index`, block name -> module, and the names of the built-in natives):
importing all ~60 block modules cost about 0.4 s of a cold ``--check`` that needs a handful of them. A
block module the index does not know yet (a new file) is still found: a name missing from the index
imports the modules the index does not list before giving up, and ``tests/test_registry.py`` fails
while the index is stale, saying how to refresh it (``python -m vibench.compiler.registry``).

Third-party packages add blocks through the ``vibench.blocks`` entry-point group (each entry point
names a module that registers blocks on import, or a Block subclass). Plugins are loaded the first
time a block name (:data:`~vibench.compiler.blocks.base.BLOCK_NAME`) is not found among the built-ins,
or when the whole catalogue is listed (``--blocks``, schema export); never for a library spec
(``cnn/ResNet1D``). :mod:`vibench.compiler.plugins` loads them (never raising, whatever order the
entry points are found in) and admits or refuses each plug-in block with a warning (W120, W121).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.diagnostics import Diagnostic

PACKAGE = "vibench.compiler.blocks"
INDEX_MODULE = "_index"
GROUP = "vibench.blocks"

_BLOCKS: dict[str, Block] = {}
_state = {"builtins": False, "unindexed": False, "plugins": False}
_staged: list[list[type]] = []  # while an entry point loads: the classes its modules register




def register(cls: type[Block]) -> type[Block]:
    """Class decorator: add a Block subclass to the catalogue under ``cls.name``.

    While a plug-in's entry point loads, its blocks are only noted: the registry admits them, or
    refuses them with a warning, once every entry point has loaded. Any other class that is not a
    built-in is checked at once (ValueError when it breaks the contract or takes a registered name)."""
    builtin = cls.__module__.startswith(PACKAGE + ".")
    if _staged and not builtin:
        if cls not in _staged[-1]:
            _staged[-1].append(cls)
        return cls
    if not builtin:  # a block defined in a script, say
        from vibench.compiler import plugins

        problems = plugins.admission_problems(cls, _builtin_natives(), {})
        if problems:
            name = plugins.class_name(cls)
            raise ValueError(f"block {name} cannot be registered: " + "; ".join(p.text for p in problems))
    name = cls.name
    existing = _BLOCKS.get(name)
    if existing is not None and type(existing) is not cls:
        if not _same_class(type(existing), cls):
            raise ValueError(f"block `{name}` is registered twice: {type(existing).__module__} and {cls.__module__}")
    _BLOCKS[name] = cls()  # (the same class re-imported, e.g. by a reload, replaces the first)
    return cls


def _same_class(a: type, b: type) -> bool:
    return a.__qualname__ == b.__qualname__ and a.__module__ == b.__module__


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
    """Load the block plug-ins once (:func:`vibench.compiler.plugins.load`). Never raises."""
    if _state["plugins"]:
        return
    _state["plugins"] = True  # a plug-in that looks a block up while it loads finds the built-ins
    from vibench.compiler import plugins

    _load_unindexed()
    plugins.load()


def plugin_warnings() -> tuple[Diagnostic, ...]:
    """The warnings (W120, W121) about the plug-ins (:mod:`vibench.compiler.plugins`)."""
    from vibench.compiler import plugins

    return plugins.plugin_warnings()


def unknown_block_notes(name: str) -> tuple[str, ...]:
    """Notes for an unknown block ``name`` (E110) that a broken or refused plug-in may explain."""
    if not _state["plugins"]:
        return ()
    from vibench.compiler import plugins

    return plugins.unknown_block_notes(name)


def _builtin_natives() -> dict[str, str]:
    """Native name -> defining module, of the built-in blocks (the index's, and those imported)."""
    natives = _index_natives()
    for block in list(_BLOCKS.values()):
        if _is_builtin(block):
            for n in block.natives:
                natives.setdefault(n if isinstance(n, str) else n.__name__, getattr(n, "__module__", ""))
    return natives


def _is_builtin(block: Any) -> bool:
    return block is not None and type(block).__module__.startswith(PACKAGE + ".")


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
        from vibench.compiler.blocks.base import is_block_name

        if is_block_name(name):  # a library spec or a composite is never a plug-in's
            _load_plugins()
            block = _BLOCKS.get(name)
    return block


def all_blocks() -> dict[str, Block]:
    """Every registered block (built-in and plugins), sorted by name."""
    _load_builtins()
    _load_plugins()
    return dict(sorted(_BLOCKS.items()))


def builtin_names() -> list[str]:
    """The names of the built-in blocks (plug-ins left out), sorted."""
    _load_builtins()
    return sorted(name for name, block in _BLOCKS.items() if _is_builtin(block))


def builtin_index() -> dict[str, str]:
    """Block name -> module (within :mod:`vibench.compiler.blocks`) of every built-in block, by
    importing them all: what the generated index must hold."""
    _load_builtins()
    prefix = PACKAGE + "."
    return {name: type(block).__module__.removeprefix(prefix) for name, block in sorted(_BLOCKS.items())
            if type(block).__module__.startswith(prefix)}


def builtin_natives() -> dict[str, str]:
    """Native name -> the module defining it, of every built-in block's natives, by importing them all:
    what the generated index must hold (a plug-in native may not take one of these names)."""
    _load_builtins()
    natives = {}
    for block in _BLOCKS.values():
        if _is_builtin(block):
            for n in block.natives:
                natives[n if isinstance(n, str) else n.__name__] = getattr(n, "__module__", "vibench.runtime.natives")
    return dict(sorted(natives.items()))


def index_source(index: dict[str, str], natives: dict[str, str] | None = None) -> str:
    """The text of the generated index module (``natives``: :func:`builtin_natives` when not given)."""
    natives = builtin_natives() if natives is None else natives
    lines = [
        '"""Block name -> the module of :mod:`vibench.compiler.blocks` that defines it, so that a lookup',
        "imports one module, not the whole catalogue, and the names of the built-in blocks' natives (which a",
        "plug-in native may not take). Generated by `python -m vibench.compiler.registry`; do not edit",
        '(tests/test_registry.py fails when it is stale)."""',
        "",
        "BLOCK_MODULES = {",
        *(f"    {json.dumps(name)}: {json.dumps(module)}," for name, module in sorted(index.items())),
        "}",
        "",
        "NATIVE_MODULES = {",
        *(f"    {json.dumps(name)}: {json.dumps(module)}," for name, module in sorted(natives.items())),
        "}",
        "",
    ]
    return "\n".join(lines)


def index_path() -> str:
    package = importlib.import_module(PACKAGE)
    return os.path.join(os.path.dirname(package.__file__ or ""), INDEX_MODULE + ".py")


def main() -> int:
    """Rewrite the generated index from the block modules (``python -m vibench.compiler.registry``)."""
    text = index_source(builtin_index(), builtin_natives())
    with open(index_path(), "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {index_path()}")
    return 0


if __name__ == "__main__":
    # Run as a script this file is `__main__`; the blocks register with the imported module.
    from vibench.compiler import registry

    sys.exit(registry.main())
