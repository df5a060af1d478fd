"""The entries :mod:`vibench.runtime.cache` keeps in memory, bounded: the :data:`MEMORY_ENTRIES` most recently
used (fewer when ``VIBENCH_CACHE_MAX``, the folder's limit, is lower), so that a process building ever new
specs (a sweep over ``num_classes``) does not grow without bound.

An entry evicted from memory takes its module out of ``sys.modules``, off its package (``vibench.models``, of
which the import made it an attribute) and out of ``linecache``, once no model :func:`vibench.build` made from
it is alive (:func:`made`) and no build is between finding the entry and recording its model (:func:`pin`): a
model alive keeps its module imported, so it still pickles (``torch.save(model)``) and a build of the same code
gives its class again. A model already built keeps working either way: its class holds its module's globals. A
model made some other way from a built one (``copy.deepcopy``) is not counted: once its module is released, it
runs but no longer pickles by its module's name, nor gives its source to ``inspect`` or ``torch.jit.script``,
which look its class's module up in ``sys.modules``. Only a module vibench imported itself is ever released
(:func:`imported`): one that ``torch.load`` imported, whose entry a build then found, holds a model vibench
never saw. The folder keeps its own entries (:mod:`vibench.runtime.cache_folder`): a build of a spec evicted
from memory is read from there again, not compiled.

The mapping of entries is the caller's (``cache._memory``, which tests replace): a plain ``dict``, whose
order is the order of use. Every change to it, to the pins and to the models noted alive runs under
:data:`_guard`, a lock held for microseconds (never while compiling, so a hit in memory does not wait for
another thread's compilation): a hit pins its entry only while it is still its key's (:func:`take`), and an
eviction sees every pin taken before it.
"""

from __future__ import annotations

import linecache
import sys
import threading
import types
import weakref
from typing import Any, Protocol

from vibench.runtime import cache_folder

MEMORY_ENTRIES = 128
"""How many compiled models one process keeps in memory (at most ``VIBENCH_CACHE_MAX``)."""
UNKEYED_KEPT = 16
"""How many modules of builds without a key (:func:`vibench.runtime.cache.unkeyed`) stay imported."""


class _Entry(Protocol):
    @property
    def module(self) -> types.ModuleType: ...


_guard = threading.RLock()  # re-entrant: remember() and evict() release through forget()
_alive: dict[str, weakref.WeakSet[Any]] = {}  # module name -> the models build() made from it, while they live
_pinned: dict[str, int] = {}  # module name -> builds that took its entry and have not recorded their model yet
_retired: dict[str, types.ModuleType] = {}  # out of memory while a model of theirs lived: released later
_unkeyed: dict[str, types.ModuleType] = {}  # the modules of builds without a key, oldest first
_ours: weakref.WeakSet[types.ModuleType] = weakref.WeakSet()  # the modules vibench imported (imported())


def limit() -> int:
    """How many entries memory keeps: :data:`MEMORY_ENTRIES`, or ``VIBENCH_CACHE_MAX`` when lower."""
    return min(MEMORY_ENTRIES, cache_folder.max_entries())


def imported(module: types.ModuleType) -> None:
    """Note ``module`` as imported by vibench's cache: the only modules it ever takes out of ``sys.modules``."""
    with _guard:
        _ours.add(module)


def take(memory: dict[str, Any], k: str, entry: _Entry) -> bool:
    """A hit of ``entry`` found as key ``k``'s without the cache's lock: pinned (:func:`pin`) and made the last to
    be evicted, if it is still ``k``'s; False when another thread replaced or evicted it meanwhile (its module
    may be gone: the caller looks the key up again)."""
    with _guard:
        if memory.get(k) is not entry:
            return False
        del memory[k]
        memory[k] = entry
        pin(entry.module)
        return True


def pin(module: types.ModuleType) -> None:
    """Keep ``module`` imported for a build that is about to make a model of it, until :func:`unpin` (after
    :func:`made`): an eviction meanwhile (another thread's build) retires it instead of releasing it."""
    with _guard:
        _pinned[module.__name__] = _pinned.get(module.__name__, 0) + 1


def made(module: types.ModuleType, model: Any) -> None:
    """Note a model made from ``module``'s class: while it lives, the module stays imported."""
    with _guard:
        _alive.setdefault(module.__name__, weakref.WeakSet()).add(model)


def unpin(module: types.ModuleType) -> None:
    """The end of a pin (:func:`pin`), once its build noted its model (:func:`made`) or failed to make one (its
    constructor raised: a module retired meanwhile is released at the next eviction, as one without models)."""
    with _guard:
        count = _pinned.get(module.__name__, 0) - 1
        if count > 0:
            _pinned[module.__name__] = count
        else:
            _pinned.pop(module.__name__, None)


def remember(memory: dict[str, Any], k: str, entry: _Entry) -> None:
    """Keep ``entry`` as key ``k``'s, the most recently used, pinned for the caller (:func:`pin`); evict the
    least recently used past :func:`limit`."""
    with _guard:
        pin(entry.module)  # before any eviction: limit() may be 1
        replaced = memory.pop(k, None)
        memory[k] = entry
        _retired.pop(entry.module.__name__, None)
        if replaced is not None and replaced.module is not entry.module:
            _release(memory, replaced.module)
        evict(memory)


def forget(memory: dict[str, Any], k: str, entry: _Entry | None = None) -> None:
    """Drop key ``k``'s entry (it no longer holds), releasing its module as an eviction does; with ``entry``,
    only while it is that one (another thread may have stored a valid one since it was found stale)."""
    with _guard:
        if entry is not None and memory.get(k) is not entry:
            return
        dropped = memory.pop(k, None)
        if dropped is not None:
            _release(memory, dropped.module)


def forget_all(memory: dict[str, Any]) -> None:
    """Drop every entry (``vibench.clear_cache()``); the modules of models alive stay imported."""
    with _guard:
        entries = list(memory.values())
        memory.clear()
        for entry in entries:
            _release(memory, entry.module)


def unkeyed(memory: dict[str, Any], module: types.ModuleType) -> None:
    """Keep the module of a build without a key among the :data:`UNKEYED_KEPT` last ones, pinned for the caller."""
    with _guard:
        pin(module)
        _unkeyed.pop(module.__name__, None)
        _unkeyed[module.__name__] = module
        for name in list(_unkeyed)[: max(0, len(_unkeyed) - UNKEYED_KEPT)]:
            _release(memory, _unkeyed.pop(name))


def evict(memory: dict[str, Any]) -> None:
    """Drop the least recently used entries past :func:`limit`, and release the modules evicted before whose
    models have all gone since."""
    with _guard:
        for k in list(memory)[: max(0, len(memory) - limit())]:
            forget(memory, k)
        for module in list(_retired.values()):
            _release(memory, module)


def _release(memory: dict[str, Any], module: types.ModuleType) -> None:
    """Take ``module`` out of ``sys.modules``, its package and ``linecache`` unless an entry in memory, a recent
    build without a key, a build about to make a model of it (pinned) or a model alive still uses it (then it is
    retired: released once its models have gone), or vibench did not import it (a module ``torch.load`` imported for
    a model saved earlier, whose entry a build found: that model is none vibench counts). The caller holds
    :data:`_guard`."""
    name = module.__name__
    if any(entry.module is module for entry in memory.values()) or _unkeyed.get(name) is module:
        _retired.pop(name, None)
        return
    if _pinned.get(name) or _alive.get(name):
        _retired[name] = module
        return
    _retired.pop(name, None)
    _alive.pop(name, None)
    if module not in _ours:
        return
    _ours.discard(module)
    if sys.modules.get(name) is module:
        del sys.modules[name]
    # The import also made it an attribute of its package (``vibench.models.m_<name>``), which held it, its code
    # and its source for good: 400 variants of a spec kept 400 modules, ~120 KB each.
    package, _, attribute = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and getattr(parent, attribute, None) is module:
        delattr(parent, attribute)
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        linecache.cache.pop(file, None)
