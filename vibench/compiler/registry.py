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
(``cnn/ResNet1D``). Loading never raises and does not depend on the order the entry points are found in:

* the entry points load in the order of their names (then values), each on its own: one that fails to
  import, or names neither a module of blocks nor a Block subclass, is warning W120 (entry point,
  distribution, the exception) and costs nothing else;
* a plug-in block is admitted only when it meets the block contract (``contract_problems``,
  ``native_problems`` in :mod:`~vibench.compiler.blocks.base`), its name is no built-in's (the
  built-in keeps it), no other plug-in registers that name (then neither is used) and its natives'
  names are not taken in model.py (a built-in native, a helper of model.py's support part, or the native of
  another plug-in block that passes every other check: a refused block costs nothing but itself), and
  what lists and describes every block reads of it can be read: its ``description``
  and ``long_description`` (text, not a property that raises) and its parameters' JSON Schema (made, and
  written as JSON); else it is refused with warning W121 naming it, its entry point and why.

:func:`plugin_warnings` holds those warnings once the plug-ins are loaded, and
:func:`unknown_block_notes` the notes for an unknown block (E110) that a broken plug-in may explain.
What holds no state is in :mod:`~vibench.compiler.registry_index` (the block modules, reading the index),
:mod:`~vibench.compiler.registry_plugins` (naming plug-ins in warnings, the names they may not take) and
:mod:`~vibench.compiler.registry_admission` (why a block that is not built-in is refused).
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from typing import TYPE_CHECKING, Any

from vibench.compiler.registry_admission import _admission_problems, _checked, _located, _native_clashes
from vibench.compiler.registry_index import PACKAGE, _index, _index_natives, _is_builtin, block_modules, index_path
from vibench.compiler.registry_plugins import (
    _class_name,
    _exception,
    _load_hint,
    _name_of,
    _raised_at,
    _Report,
    _same_class,
    _shown_block,
    _shown_problems,
    _Source,
    _source,
)

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.blocks.contract import Problem
    from vibench.compiler.diagnostics import Diagnostic

GROUP = "vibench.blocks"

_BLOCKS: dict[str, Block] = {}
_state = {"builtins": False, "unindexed": False, "plugins": False}
_staged: list[list[type]] = []  # while an entry point loads: the classes its modules register
_report = _Report()


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
        problems = _admission_problems(cls, _builtin_natives(), _BLOCKS) or _shown_problems(cls())
        if problems:
            raise ValueError(f"block {_class_name(cls)} cannot be registered: " + "; ".join(p.text for p in problems))
    name = cls.name
    existing = _BLOCKS.get(name)
    if existing is not None and type(existing) is not cls:
        if not _same_class(type(existing), cls):
            raise ValueError(f"block `{name}` is registered twice: {type(existing).__module__} and {cls.__module__}")
    _BLOCKS[name] = cls()  # (the same class re-imported, e.g. by a reload, replaces the first)
    return cls


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
    """Load every entry point of the ``vibench.blocks`` group, each on its own, in name order, then
    admit or refuse the blocks they registered (see the module docstring). Never raises."""
    if _state["plugins"]:
        return
    _load_unindexed()
    _load_plugin_entry_points()


def _load_plugin_entry_points() -> None:
    global _report
    held = set(_BLOCKS)
    _state["plugins"] = True  # a plug-in that looks a block up while it loads finds the built-ins
    _report = _Report()
    try:
        found: list[tuple[_Source, type]] = []
        for ep in _entry_points():
            found += _load_entry_point(ep, found)
        _admit(found)
    except BaseException:
        # A failure of vibench's own (each plug-in's is a warning where it happens), or an interrupt: the
        # plug-ins count as not loaded, so that the next lookup loads them again rather than finding a
        # half-filled catalogue and report.
        for name in set(_BLOCKS) - held:
            if not _is_builtin(_BLOCKS[name]):  # (a built-in's module stays imported: its block stays)
                del _BLOCKS[name]
        _report = _Report()
        _state["plugins"] = False
        raise


def _entry_points() -> list[Any]:
    """The entry points of the ``vibench.blocks`` group in the order of their names (then values); none,
    with warning W120, when the installed distributions cannot be listed (a distribution's metadata
    that does not decode, say)."""
    import importlib.metadata

    try:
        points = list(importlib.metadata.entry_points(group=GROUP))
        return sorted(points, key=lambda ep: (str(getattr(ep, "name", "")), str(getattr(ep, "value", ""))))
    except Exception as err:  # a broken distribution on the path: reported, never raised
        _report.failed.append(f"discovery failed ({_exception(err)})")
        _warn("W120", f"the block plug-ins could not be listed: {_exception(err)}", found=None,
              hint="no plug-in block is available: repair or uninstall the distribution whose metadata is broken")
        return []


def _load_entry_point(ep: Any, found: list[tuple[_Source, type]]) -> list[tuple[_Source, type]]:
    """The block classes one entry point brings (W120 when it fails or brings none)."""
    from vibench.compiler.blocks.base import Block

    source = _source(ep)
    _staged.append([])
    try:
        obj = ep.load()
    except BaseException as err:  # noqa: BLE001 - a plug-in's own failure, whatever its class: reported, never raised
        from vibench.compiler.plugin_calls import interrupts

        if interrupts(err):  # Ctrl-C or SIGTERM on the main thread stops the run
            raise
        _report.failed.append(f"{source} failed to load ({_exception(err)})")
        module = str(getattr(ep, "value", "")).partition(":")[0].strip()
        _warn("W120", f"block plug-in {source} failed to load: {_exception(err)}", found=None,
              hint=_load_hint(err, module), notes=_raised_at(err, module))
        return []
    finally:
        classes = _staged.pop()
    if isinstance(obj, type) and issubclass(obj, Block):
        if obj not in classes:
            classes.append(obj)
    elif isinstance(obj, types.ModuleType):
        owned = [c for _, c in found] + classes + [type(b) for b in _BLOCKS.values()]
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
    """Register the plug-in blocks that may be, refuse the others (W121), in the entry points' order; those
    whose natives' names clash (:func:`_native_clashes`, found among the blocks every other check admits) last."""
    from vibench.compiler.blocks.contract import Problem
    from vibench.compiler.plugin_calls import interrupts

    first: dict[type, _Source] = {}  # a class two entry points bring counts once
    for source, cls in found:
        first.setdefault(cls, source)
    natives = _builtin_natives()
    problems = {cls: _checked(cls, natives, _BLOCKS) for cls in first}
    by_name: dict[str, list[type]] = {}
    for cls in first:
        if not problems[cls]:
            by_name.setdefault(_name_of(cls), []).append(cls)
    ready: dict[type, Block] = {}
    for cls, source in first.items():
        name = _name_of(cls)
        if problems[cls]:
            _refuse(cls, source, problems[cls])
        elif len(by_name[name]) > 1:
            rivals = by_name[name]
            if cls is rivals[0]:
                named = " and ".join(str(first[c]) for c in sorted(rivals, key=lambda c: first[c].entry_point))
                _warn("W121", f"plug-in block `{name}` is refused: two plug-ins register it, {named}",
                      found=", ".join(_class_name(c) for c in rivals),
                      hint="neither is used: uninstall one of the distributions, or rename one block",
                      notes=tuple(note for c in rivals for note in _located(c)))
            _report.refused.setdefault(name, []).append(f"of {source} was refused: another plug-in registers it")
        else:
            try:
                block = cls()
            except BaseException as err:  # noqa: BLE001 - the plug-in's own constructor, whatever it raises
                if interrupts(err):  # (a SystemExit of the plug-in's is its failure: W121, not vibench's exit)
                    raise
                why = Problem(f"it cannot be created ({_exception(err)})", "vibench creates a block with no arguments "
                              "(`Block()`): fix its `__init__`, or uninstall its distribution")
                _refuse(cls, source, [why], _raised_at(err, str(getattr(cls, "__module__", ""))))
                continue
            shown = _shown_problems(block)  # (its texts and schema: what --blocks and the editor read of each block)
            if shown:
                _refuse(cls, source, shown)
            else:
                ready[cls] = block
    # Only the natives of blocks refused for nothing else reach model.py: a refused block costs nothing but itself.
    clashes = _native_clashes({cls: first[cls] for cls in ready})
    for cls, block in ready.items():
        if clashes.get(cls):
            _refuse(cls, first[cls], clashes[cls])
        else:
            _BLOCKS[_name_of(cls)] = block


def _refuse(cls: type, source: _Source, problems: list[Problem], notes: tuple[str, ...] = ()) -> None:
    """W121 for a plug-in block that ``problems`` keep out (``notes``: where the plug-in raised what refused it),
    and the note an unknown block of its name gets (E110)."""
    why, name = problems[0], _name_of(cls)
    _warn("W121", f"plug-in block {_shown_block(cls)} of {source} is refused: {why.text}", found=_class_name(cls),
          hint=why.hint, notes=_located(cls) + notes + tuple(p.text for p in problems[1:]))
    if name:
        _report.refused.setdefault(name, []).append(f"of {source} was refused: {why.text}")


def _builtin_natives() -> dict[str, str]:
    """Native name -> defining module, of the built-in blocks (the index's, and those imported)."""
    natives = _index_natives()
    for block in list(_BLOCKS.values()):
        if _is_builtin(block):
            for n in block.natives:
                natives.setdefault(n if isinstance(n, str) else n.__name__, getattr(n, "__module__", ""))
    return natives


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
    if not _state["plugins"]:
        return ()
    refused = [f"plug-in block `{name}` {why}" for why in _report.refused.get(name, [])]
    return tuple(refused + [f"block plug-in {failed}" for failed in _report.failed])


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
        from vibench.compiler.blocks.contract import is_block_name

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
