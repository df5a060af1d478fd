"""The parts of plug-in loading in :mod:`vibench.compiler.registry` that hold no state.

What loading the plug-ins reports (:class:`_Report`: warnings W120, W121 and the notes for an unknown
block) and where a plug-in block comes from (:class:`_Source`: its entry point and distribution); how
the warnings name a plug-in's class, its block and the exception it raised; and which natives are a
plug-in's own and which names model.py already defines (a plug-in native may take none of them). The
registry's catalogue and the report of the last load stay in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import Diagnostic


@dataclass
class _Report:
    """What loading the plug-ins said: the warnings, and the notes an unknown block (E110) gets."""

    warnings: list[Diagnostic] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "`name = value` (distribution ...) failed to load (...)"
    refused: dict[str, list[str]] = field(default_factory=dict)  # block name -> why each plug-in's was refused


def _same_class(a: type, b: type) -> bool:
    return a.__qualname__ == b.__qualname__ and a.__module__ == b.__module__


@dataclass(frozen=True)
class _Source:
    """Where a plug-in block comes from: its entry point and distribution."""

    entry_point: str  # "name = module:attr", as entry_points.txt writes it
    distribution: str | None

    def __str__(self) -> str:
        return f"`{self.entry_point}`" + (f" (distribution {self.distribution})" if self.distribution else "")


def _source(ep: Any) -> _Source:
    try:  # reads the distribution's METADATA, which may not decode
        dist = getattr(ep, "dist", None)
        name, version = getattr(dist, "name", None), getattr(dist, "version", None)
    except Exception:  # noqa: BLE001 - the entry point is then named without its distribution
        name = version = None
    distribution = f"{name} {version}" if name and version else name
    return _Source(f"{getattr(ep, 'name', '?')} = {getattr(ep, 'value', '?')}", distribution)


def _plugin_natives(cls: type) -> list[Any]:
    """The natives of a plug-in's class that are its own (not a built-in's reused); none when its
    ``natives`` is no tuple (the contract check then says so)."""
    natives = getattr(cls, "natives", ())
    return [n for n in natives if not isinstance(n, str) and not _is_vibench(n)] if isinstance(natives, tuple) else []


def _model_py_names() -> dict[str, str]:
    """Top-level names every model.py may define besides natives -> what they are."""
    import builtins

    from vibench.compiler.blocks.base import _module_sources
    from vibench.compiler.codegen import support
    from vibench.compiler.codegen.namer import MODULE_NAMES

    names = {name: "a Python builtin" for name in dir(builtins)}
    names |= {name: "a name model.py imports" for name in (*MODULE_NAMES, "re", "OrderedDict")}
    return names | {name: "a helper model.py defines" for name in _module_sources(support.__file__)}


def _is_vibench(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).split(".")[0] == "vibench"


def _class_name(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"


def _name_of(cls: Any) -> str:
    """The block name ``cls`` declares ("" when it declares none)."""
    name = getattr(cls, "name", None)
    return name if isinstance(name, str) else ""


def _shown_block(cls: Any) -> str:
    from vibench.compiler.blocks.contract import shown_name

    name = getattr(cls, "name", None)
    return shown_name(name) if isinstance(name, str) else _class_name(cls)


def _exception(err: BaseException) -> str:
    try:
        text = str(err)
    except Exception:  # noqa: BLE001 - a plug-in's exception whose __str__ fails: named by its type
        text = ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
