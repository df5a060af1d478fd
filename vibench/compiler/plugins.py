"""Block plug-ins: the ``vibench.blocks`` entry points, loaded once, never raising, and the same whatever
order they are found in (:func:`load`, called by :mod:`vibench.compiler.registry` the first time a block
name is not a built-in's, or when the whole catalogue is listed):

* the entry points load in the order of their names (then values), each on its own: one that fails to
  import, or names neither a module of blocks nor a Block subclass, is warning W120 (entry point,
  distribution, the exception) and costs nothing else;
* a plug-in block is admitted only when it meets the block contract (``contract_problems``,
  ``native_problems`` in :mod:`~vibench.compiler.blocks.base`), its name is no built-in's (the
  built-in keeps it), no other plug-in registers that name (then neither is used) and its natives'
  names are not taken in model.py (a built-in native, a helper of model.py's support part, another
  plug-in's native); else it is refused with warning W121 naming it, its entry point and why.

:func:`plugin_warnings` holds those warnings once the plug-ins are loaded, and
:func:`unknown_block_notes` the notes for an unknown block (E110) that a broken plug-in may explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Problem
    from vibench.compiler.diagnostics import Diagnostic


@dataclass
class _Report:
    """What loading the plug-ins said: the warnings, and the notes an unknown block (E110) gets."""

    warnings: list[Diagnostic] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "`name = value` (distribution ...) failed to load (...)"
    refused: dict[str, list[str]] = field(default_factory=dict)  # block name -> why each plug-in's was refused


_report = _Report()


def load() -> None:
    """Load every entry point of the ``vibench.blocks`` group, each on its own, in name order, then admit
    or refuse the blocks they registered (see the module docstring). Never raises; called once, by
    :func:`vibench.compiler.registry.get` and the catalogue listings."""
    import importlib.metadata

    global _report
    _report = _Report()
    found: list[tuple[_Source, type]] = []
    points = importlib.metadata.entry_points(group=registry.GROUP)
    for ep in sorted(points, key=lambda ep: (str(getattr(ep, "name", "")), str(getattr(ep, "value", "")))):
        found += _load_entry_point(ep, found)
    _admit(found)


@dataclass(frozen=True)
class _Source:
    """Where a plug-in block comes from: its entry point and distribution."""

    entry_point: str  # "name = module:attr", as entry_points.txt writes it
    distribution: str | None

    def __str__(self) -> str:
        return f"`{self.entry_point}`" + (f" (distribution {self.distribution})" if self.distribution else "")


def _source(ep: Any) -> _Source:
    dist = getattr(ep, "dist", None)
    name, version = getattr(dist, "name", None), getattr(dist, "version", None)
    distribution = f"{name} {version}" if name and version else name
    return _Source(f"{getattr(ep, 'name', '?')} = {getattr(ep, 'value', '?')}", distribution)


def _load_entry_point(ep: Any, found: list[tuple[_Source, type]]) -> list[tuple[_Source, type]]:
    """The block classes one entry point brings (W120 when it fails or brings none)."""
    import types

    from vibench.compiler.blocks.base import Block

    source = _source(ep)
    registry._staged.append([])
    try:
        obj = ep.load()
    except (Exception, SystemExit) as err:  # a plug-in's own failure: reported, never raised
        _report.failed.append(f"{source} failed to load ({_exception(err)})")
        _warn("W120", f"block plug-in {source} failed to load: {_exception(err)}", found=None,
              hint="its blocks are unavailable: install what it needs, or uninstall its distribution")
        return []
    finally:
        classes = registry._staged.pop()
    if isinstance(obj, type) and issubclass(obj, Block):
        if obj not in classes:
            classes.append(obj)
    elif isinstance(obj, types.ModuleType):
        owned = [c for _, c in found] + classes + [type(b) for b in registry._BLOCKS.values()]
        if not any(c.__module__ == obj.__name__ or c.__module__.startswith(obj.__name__ + ".") for c in owned):
            _warn("W120", f"block plug-in {source} registers no block", found=f"module {obj.__name__}",
                  hint="register its blocks with `@register` (vibench.compiler.registry), or point the entry "
                  "point at a Block subclass")
    else:
        what = "a function" if callable(obj) and not isinstance(obj, type) else f"a {type(obj).__name__}"
        if isinstance(obj, type):
            what = f"the class {obj.__module__}.{obj.__qualname__}"
        _warn("W120", f"block plug-in {source} names {what}, not a Block subclass or a module that registers "
              "blocks", found=None, hint="point the entry point at a Block subclass or at the module that "
              "registers the blocks")
    return [(source, cls) for cls in classes]


def _admit(found: list[tuple[_Source, type]]) -> None:
    """Register the plug-in blocks that may be, refuse the others (W121), in the entry points' order."""
    first: dict[type, _Source] = {}  # a class two entry points bring counts once
    for source, cls in found:
        first.setdefault(cls, source)
    same: dict[str, set[int]] = {}  # native name -> the plug-ins' objects of that name
    for cls in first:
        for native in getattr(cls, "natives", ()) if isinstance(getattr(cls, "natives", ()), tuple) else ():
            if not isinstance(native, str) and not _is_vibench(native):
                same.setdefault(getattr(native, "__name__", ""), set()).add(id(native))
    others = {name: "another plug-in's native" for name, ids in same.items() if len(ids) > 1}
    natives = registry._builtin_natives()
    problems = {cls: admission_problems(cls, natives, others) for cls in first}
    by_name: dict[str, list[type]] = {}
    for cls in first:
        if not problems[cls]:
            by_name.setdefault(_name_of(cls), []).append(cls)
    for cls, source in first.items():
        name = _name_of(cls)
        if problems[cls]:
            why = problems[cls][0]
            _warn("W121", f"plug-in block {_shown_block(cls)} of {source} is refused: {why.text}",
                  found=class_name(cls), hint=why.hint, notes=tuple(p.text for p in problems[cls][1:]))
            if name:
                _report.refused.setdefault(name, []).append(f"of {source} was refused: {why.text}")
        elif len(by_name[name]) > 1:
            rivals = by_name[name]
            if cls is rivals[0]:
                named = " and ".join(str(first[c]) for c in sorted(rivals, key=lambda c: first[c].entry_point))
                _warn("W121", f"plug-in block `{name}` is refused: two plug-ins register it, {named}",
                      found=", ".join(class_name(c) for c in rivals),
                      hint="neither is used: uninstall one of the distributions, or rename one block")
            _report.refused.setdefault(name, []).append(f"of {source} was refused: another plug-in registers it")
        else:
            try:
                registry._BLOCKS[name] = cls()
            except Exception as err:  # the plug-in's own constructor
                _warn("W121", f"plug-in block `{name}` of {source} is refused: it cannot be created "
                      f"({_exception(err)})", found=class_name(cls), hint="a block's class takes no arguments")


def admission_problems(cls: Any, natives: dict[str, str], others: dict[str, str]) -> list[Problem]:
    """What keeps a block that is not built-in out of the catalogue: the contract, a name a built-in
    or another registered block holds, natives whose names model.py already defines (``natives``: the
    built-ins', name -> module; ``others``: names of other plug-ins' natives)."""
    from vibench.compiler.blocks.base import Problem, contract_problems, native_problems

    problems = contract_problems(cls)
    if problems:
        return problems
    if cls.name in registry._index() or registry._is_builtin(registry._BLOCKS.get(cls.name)):
        return [Problem("a built-in block has that name",
                        f"the built-in `{cls.name}` is used; rename the plug-in's block")]
    held = registry._BLOCKS.get(cls.name)
    if held is not None and not registry._same_class(type(held), cls):
        return [Problem(f"the name is taken by {class_name(type(held))}", "rename one of the blocks")]
    taken = _model_py_names()
    for native in cls.natives:
        if isinstance(native, str) or _is_vibench(native):
            continue  # a built-in native itself: model.py holds it once
        name = native.__name__
        why = (f"a built-in native ({natives[name]})" if name in natives else taken.get(name) or others.get(name))
        if why:
            problems.append(Problem(f"its native `{name}` has the name of {why}",
                                    "rename the class (model.py defines each name once)"))
    return problems + native_problems(cls)


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


def class_name(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"


def _name_of(cls: Any) -> str:
    """The block name ``cls`` declares ("" when it declares none)."""
    name = getattr(cls, "name", None)
    return name if isinstance(name, str) else ""


def _shown_block(cls: Any) -> str:
    from vibench.compiler.blocks.base import shown_name

    name = getattr(cls, "name", None)
    return shown_name(name) if isinstance(name, str) else class_name(cls)


def _exception(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _warn(code: str, message: str, *, found: str | None, hint: str, notes: tuple[str, ...] = ()) -> None:
    from vibench.compiler.diagnostics import Diagnostic

    _report.warnings.append(Diagnostic(code, message, found=found, hint=hint, notes=notes, severity="warning"))


def plugin_warnings() -> tuple[Diagnostic, ...]:
    """The warnings (W120, W121) about the plug-ins, in load order; empty while they are not loaded
    (a process that never looks beyond the built-ins never loads them)."""
    return tuple(_report.warnings)


def unknown_block_notes(name: str) -> tuple[str, ...]:
    """Notes for an unknown block ``name`` (E110): why a plug-in block of that name was refused, and
    which plug-ins failed to load (one of them may have defined it)."""
    refused = [f"plug-in block `{name}` {why}" for why in _report.refused.get(name, [])]
    return tuple(refused + [f"block plug-in {failed}" for failed in _report.failed])
