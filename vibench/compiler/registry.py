"""The block registry: block types register here with a decorator; nothing else names them.

Built-in blocks live in :mod:`vibench.compiler.blocks`; third-party packages add blocks through
the ``vibench.blocks`` entry-point group (each entry point names a module that registers blocks on
import, or a Block subclass). Plugins are loaded the first time a name is not found among the
built-ins, or when the whole catalogue is listed (``--blocks``, schema export).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block

_BLOCKS: dict[str, Block] = {}
_state = {"builtins": False, "plugins": False}


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


def _load_builtins() -> None:
    if not _state["builtins"]:
        _state["builtins"] = True
        import vibench.compiler.blocks  # noqa: F401  (registers on import)


def _load_plugins() -> None:
    if _state["plugins"]:
        return
    _state["plugins"] = True
    from importlib.metadata import entry_points

    from vibench.compiler.blocks.base import Block

    for ep in entry_points(group="vibench.blocks"):
        obj = ep.load()
        if isinstance(obj, type) and issubclass(obj, Block) and obj.name not in _BLOCKS:
            register(obj)


def get(name: str) -> Block | None:
    """The block registered as ``name``, or None."""
    _load_builtins()
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
