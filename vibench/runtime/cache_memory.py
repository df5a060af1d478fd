"""The entries :mod:`vibench.runtime.cache` keeps in memory, bounded: the :data:`MEMORY_ENTRIES` most recently
used (fewer when ``VIBENCH_CACHE_MAX``, the folder's limit, is lower), so that a process building ever new
specs (a sweep over ``num_classes``) does not grow without bound.

An entry evicted from memory takes its module out of ``sys.modules``, and the lines ``linecache`` holds for
it, once no model :func:`vibench.build` made from it is alive (:func:`made`): a model alive keeps its module
imported, so it still pickles (``torch.save(model)``) and a build of the same code gives its class again.
A model already built keeps working either way: its class holds its module's globals. A model made some
other way from a built one (``copy.deepcopy``) is not counted: once its module is released, it runs but no
longer pickles by its module's name. The folder keeps its own entries (:mod:`vibench.runtime.cache_folder`):
a build of a spec evicted from memory is read from there again, not compiled.

The mapping of entries is the caller's (``cache._memory``, which tests replace): a plain ``dict``, whose
order is the order of use. A hit moves its entry last without a lock (it is two atomic operations: a
thread that replaced the entry meanwhile is overwritten by an entry that is checked again at its next use);
the rest runs under the cache's lock.
"""

from __future__ import annotations

import linecache
import sys
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


_alive: dict[str, weakref.WeakSet[Any]] = {}  # module name -> the models build() made from it, while they live
_retired: dict[str, types.ModuleType] = {}  # out of memory while a model of theirs lived: released later
_unkeyed: dict[str, types.ModuleType] = {}  # the modules of builds without a key, oldest first


def limit() -> int:
    """How many entries memory keeps: :data:`MEMORY_ENTRIES`, or ``VIBENCH_CACHE_MAX`` when lower."""
    return min(MEMORY_ENTRIES, cache_folder.max_entries())


def made(module: types.ModuleType, model: Any) -> None:
    """Note a model made from ``module``'s class: while it lives, the module stays imported."""
    _alive.setdefault(module.__name__, weakref.WeakSet()).add(model)


def used(memory: dict[str, Any], k: str, entry: Any) -> None:
    """A hit of ``entry``: the last to be evicted."""
    if memory.pop(k, None) is not None:
        memory[k] = entry


def remember(memory: dict[str, Any], k: str, entry: _Entry) -> None:
    """Keep ``entry`` as key ``k``'s, the most recently used; evict the least recently used past :func:`limit`."""
    replaced = memory.pop(k, None)
    memory[k] = entry
    _retired.pop(entry.module.__name__, None)
    if replaced is not None and replaced.module is not entry.module:
        _release(memory, replaced.module)
    evict(memory)


def forget(memory: dict[str, Any], k: str) -> None:
    """Drop key ``k``'s entry (it no longer holds), releasing its module as an eviction does."""
    entry = memory.pop(k, None)
    if entry is not None:
        _release(memory, entry.module)


def forget_all(memory: dict[str, Any]) -> None:
    """Drop every entry (``vibench.clear_cache()``); the modules of models alive stay imported."""
    entries = list(memory.values())
    memory.clear()
    for entry in entries:
        _release(memory, entry.module)


def unkeyed(memory: dict[str, Any], module: types.ModuleType) -> None:
    """Keep the module of a build without a key among the :data:`UNKEYED_KEPT` last ones."""
    _unkeyed.pop(module.__name__, None)
    _unkeyed[module.__name__] = module
    for name in list(_unkeyed)[: max(0, len(_unkeyed) - UNKEYED_KEPT)]:
        _release(memory, _unkeyed.pop(name))


def evict(memory: dict[str, Any]) -> None:
    """Drop the least recently used entries past :func:`limit`, and release the modules evicted before whose
    models have all gone since."""
    for k in list(memory)[: max(0, len(memory) - limit())]:
        forget(memory, k)
    for module in list(_retired.values()):
        _release(memory, module)


def _release(memory: dict[str, Any], module: types.ModuleType) -> None:
    """Take ``module`` out of ``sys.modules`` and ``linecache`` unless an entry in memory, a recent build without
    a key, or a model alive still uses it (then it is retired: released once its models have gone)."""
    name = module.__name__
    if any(entry.module is module for entry in list(memory.values())) or _unkeyed.get(name) is module:
        _retired.pop(name, None)
        return
    if _alive.get(name):
        _retired[name] = module
        return
    _retired.pop(name, None)
    _alive.pop(name, None)
    if sys.modules.get(name) is module:
        del sys.modules[name]
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        linecache.cache.pop(file, None)
