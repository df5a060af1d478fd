"""Compiled models by content: a second ``vibench.build`` of the same spec costs an import and a
constructor, not a compilation.

The key of a build is the SHA-256 of the vibench installation (its version and the size and time
of every source file, so an edited compiler never reuses old output), the spec (its real path and
the real path of its folder as given, or for ``text=`` the real working folder, which ``extends:``
is looked up from), the spec's text, the parameters (with the limits and the metadata table's class
counts), the bound inputs and the real paths of the search-path folders. An entry records what the
compilation depended on beyond its key (:class:`Deps`): every file it read (templates, PHM base
configs, and the source files of the plug-in blocks it used: every imported module of their packages,
see :func:`vibench.runtime.build.plugin_files`) with its SHA-256, every path a template lookup tried
and found no file at (a file created there later would be found first), and which class the registry
admitted as each plug-in block the model uses (a rival plug-in installed since, or the plug-in
uninstalled or refused, leaves the name unknown: the build then fails as ``--check`` does). An entry is
used, from memory or from the folder, only while all of that still holds; else the spec is compiled
again and the entry replaced. A plug-in runs as the process imported it: a model compiled after one of
its files was edited in this process is kept in memory only (:func:`store`), so the next process, which
imports the edited plug-in, compiles the spec again.

Entries live in memory and in the cache folder (:func:`vibench.models.cache_dir`; ``VIBENCH_CACHE=0``
keeps them in memory only). A module's name stands for one code: ``m_<name>.py`` is an emitted
model.py, imported as ``vibench.models.m_<name>`` so that pickled models name a real module, where
``<name>`` is the SHA-256 of the key and of the source (:func:`module_stem`); ``m_<name>.json`` is its
record: ``{"class": ..., "vibench": ..., "key": <key>, "source": <SHA-256 of m_<name>.py>, "files":
{path: SHA-256 or null}, "absent": [path, ...], "blocks": {plug-in block name: its class}, "check": <SHA-256
of the other fields>}``; and
``k_<key>`` names the key's current module (:func:`vibench.runtime.cache_folder.read_index`). A spec
compiled again to other code (a template it extends was edited) gets a new module; the old one stays
imported in this process and its files stay in the folder until evicted, so a model built or saved
before keeps its class and its code: it pickles, and loads in another process, as it ran. A module
already imported under a name is the code that name stands for: it is reused, never imported again,
so a spec built again after :func:`clear` (or after its entry was evicted) gives the class of the
models built before it when its code is the same (``isinstance`` holds, they pickle). The folder's
upkeep (atomic writes, eviction, emptying it, refusing a folder that is not the user's alone) is
:mod:`vibench.runtime.cache_folder`'s; an unwritable or refused folder only disables the disk level,
and a failed write keeps the model in memory. A damaged entry (an index, or a record, that cannot be
read, is not this shape or does not match its ``check`` or key, a module that is not the source its
record names, a class its module lacks or that is not a ``torch.nn.Module`` defined there) is a miss:
compiled again and replaced, never an exception, never another object.

Cache modules are compiled from their source at each import and never use bytecode (no
``__pycache__``, see :class:`vibench.models._CacheLoader`): Python's timestamp ``.pyc`` is keyed on the
source's whole-second time and size, so a module rewritten within the same second at the same size
ran the old code, and a ``__pycache__`` another user could write in ran theirs. Compiling costs 2 to
3.5 ms per model per process (ResNet1D 1.9 ms, M_01_ISFM 3.5 ms; 0.05 ms from a ``.pyc``), paid by
the first build of a model in a process, never by a hit in memory.

A hit in memory checks the record cheaply: one ``stat`` per file read (its size, times and inode as
when last hashed; a file changed since is hashed again, and a file changed within
:data:`SETTLE_NS` of its check is always hashed, as git treats racily clean files), one per
absent path and one registry lookup per plug-in block: a few microseconds a build. A hit in the folder
of a model with plug-in blocks loads the plug-ins (as compiling it would), to ask the registry.

A hit in the folder marks its entry and index used (the folder keeps the most recently used ones);
:func:`clear` forgets every entry, in memory and in the folder (``vibench.clear_cache()``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vibench._version import __version__
from vibench.runtime import cache_folder

PACKAGE = "vibench.models"
SETTLE_NS = 2_000_000_000
"""A file whose modification or change time is this recent (2 s: coarse file-system clocks, FAT's
2-second times) is hashed at every check: an edit within the same clock tick keeps its times."""


@dataclass(frozen=True)
class Compiled:
    """What a compilation gives the cache: the model.py source, the model class's name, the real
    paths of the files it read, the absolute paths its lookups found no file at, the plug-in blocks
    it used (name -> :func:`admitted`) and, among ``files``, those of imported code (a plug-in's
    modules: compiled as this process imported them, which the file may no longer be)."""

    source: str
    class_name: str
    files: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()
    blocks: tuple[tuple[str, str], ...] = ()
    code: frozenset[str] = frozenset()


class Deps:
    """What an entry's model was compiled from, beyond its key: ``files`` (path -> SHA-256, None for a
    file that could not be read), ``absent`` paths and plug-in ``blocks`` (name -> the class the
    registry admitted, :func:`admitted`). :meth:`valid` says whether it all still holds."""

    __slots__ = ("files", "absent", "blocks", "_seen")

    def __init__(self, files: dict[str, str | None], absent: Iterable[str],
                 blocks: dict[str, str] | None = None) -> None:
        self.files = files
        self.absent = tuple(sorted(absent))
        self.blocks = dict(sorted((blocks or {}).items()))
        self._seen: dict[str, tuple[int, int, int, int]] = {}  # path -> its stat when its hash last matched

    @classmethod
    def of(cls, files: Iterable[str], absent: Iterable[str], blocks: Iterable[tuple[str, str]] = ()) -> Deps:
        """The record of a compilation that just read ``files``, found ``absent`` missing (those in
        vibench's own folder left out: a file added there changes the installation, part of the key) and
        used the plug-in ``blocks``."""
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
        deps = cls({}, (path for path in absent if not path.startswith(package)), dict(blocks))
        for path in sorted(files):
            st = _stat(path)
            deps.files[path] = _file_hash(path)
            if st is not None and _settled(st):
                deps._seen[path] = _signature(st)
        return deps

    def valid(self) -> bool:
        """Whether every file is as it was, no absent path holds a file (hashing only the files whose
        ``stat`` changed, or that changed too recently for their times to tell) and the registry admits
        the same class as each plug-in block (which loads the plug-ins, once a process)."""
        for path in self.absent:
            if os.path.isfile(path):
                return False
        for path, digest in self.files.items():
            st = _stat(path)
            if st is None:
                if digest is None:  # unreadable then and now
                    continue
                return False
            signature = _signature(st)
            if self._seen.get(path) == signature:
                continue
            if _file_hash(path) != digest:
                return False
            if _settled(st):
                self._seen[path] = signature
        for name, cls in self.blocks.items():
            if admitted(name) != cls:
                return False
        return True


def admitted(name: str) -> str | None:
    """The class (``module.qualname``) the registry holds as block ``name``, or None when it holds none:
    for a plug-in's block, None once the plug-in is uninstalled, fails to load, or is refused (a rival
    plug-in registers the same name), as ``--check`` then reports E110."""
    from vibench.compiler import registry

    block = registry.get(name)
    return None if block is None else f"{type(block).__module__}.{type(block).__qualname__}"


@dataclass(frozen=True)
class Entry:
    module: types.ModuleType
    class_name: str
    deps: Deps = field(default_factory=lambda: Deps({}, ()))


_memory: dict[str, Entry] = {}
# The SHA-256 of each file of imported code (a plug-in's module) when this process first compiled with
# it: a file that differs later was edited after the import, and the code compiled is the imported one.
_imported: dict[str, str | None] = {}
# Held while an entry is looked up on disk, compiled or stored: threads building at once would
# otherwise import one module while another drops it from sys.modules (a KeyError from importlib).
# A hit in memory takes no lock; compilation is pure Python, so the lock costs threads no parallelism.
_lock = threading.RLock()


def cached(k: str, make: Callable[[], Compiled]) -> Entry:
    """The entry of key ``k``: from memory, the folder, or ``make()`` (a compilation)."""
    entry = _memory.get(k)
    if entry is not None and entry.deps.valid():
        return entry
    with _lock:
        entry = lookup(k)
        if entry is None:
            entry = store(k, make())
        return entry


@functools.cache
def _installation() -> str:
    """A digest of this vibench installation: version plus every source file's size and time."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256(__version__.encode())
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "models"))
        for name in sorted(files):
            if name.endswith((".py", ".yaml", ".j2", ".json")):
                path = os.path.join(folder, name)
                st = os.stat(path)
                digest.update(f"{os.path.relpath(path, root)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def key(spec_text: str, params: dict[str, Any] | None, inputs: dict[str, Any] | None, search: list[str]) -> str:
    """The key of a build; ``search`` holds the search-path folders as real paths (the caller's part)."""
    payload = json.dumps([_installation(), spec_text, _jsonable(params or {}), _jsonable(inputs or {}), search],
                         sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def module_stem(k: str, source: str) -> str:
    """The file name (without ``.py``) of the module of key ``k`` compiled to ``source``, and the last
    part of its module's name: a name stands for one code, and one key (its record's dependencies)."""
    code = hashlib.sha256(source.encode("utf-8")).hexdigest()
    return "m_" + hashlib.sha256(f"{k}\0{code}".encode()).hexdigest()[:32]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): [type(k).__name__, _jsonable(v)] for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return [type(value).__name__, value] if not isinstance(value, str) else value


def _file_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except (OSError, ValueError):  # ValueError: a path holding NUL (from a damaged record)
        return None


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino  # ctime: os.utime cannot set it back


def _settled(st: os.stat_result) -> bool:
    return time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > SETTLE_NS


def enabled() -> bool:
    return os.environ.get("VIBENCH_CACHE", "1") not in ("0", "off", "false", "no")


def lookup(k: str) -> Entry | None:
    """A cached model module for key ``k`` whose dependencies are unchanged, or None."""
    entry = _memory.get(k)
    if entry is not None:
        if entry.deps.valid():
            return entry
        del _memory[k]
    if not enabled():
        return None
    from vibench.models import cache_dir

    folder = cache_dir()
    if not os.path.isdir(folder) or cache_folder.refused(folder):
        return None
    stem = cache_folder.read_index(folder, k)
    if stem is None:
        return None
    meta_path = os.path.join(folder, f"{stem}.json")
    record = _read_record(meta_path, k)
    if record is None:
        return None
    class_name, deps = record
    if not deps.valid():
        return None
    name = f"{PACKAGE}.{stem}"
    module = sys.modules.get(name)  # imported before: the code this name stands for, kept (models hold its class)
    if module is None:
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a damaged (or refused: not this user's) entry is a miss; compiled again
            sys.modules.pop(name, None)
            return None
        if not _model_class(module, class_name):  # a record naming a class its module lacks, or another object
            sys.modules.pop(name, None)
            return None
        _pin_source(module)
    elif not _model_class(module, class_name):
        return None
    for used in (meta_path, cache_folder.index_path(folder, k)):
        with contextlib.suppress(OSError):
            os.utime(used)  # recently used: the last to be evicted
    entry = Entry(module, class_name, deps)
    _memory[k] = entry
    return entry


def _model_class(module: types.ModuleType, class_name: str) -> bool:
    """Whether ``class_name`` is a ``torch.nn.Module`` subclass that ``module`` defines (a damaged record
    naming ``OrderedDict``, which the module imports, made build return an OrderedDict)."""
    import torch

    cls = getattr(module, class_name, None)
    return isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__module__ == module.__name__


def _read_record(path: str, k: str) -> tuple[str, Deps] | None:
    """The class name and dependencies an ``m_<name>.json`` of key ``k`` records, or None when it is
    missing, cannot be read (nested too deep for the parser, not UTF-8, anything else), is not the shape
    this version writes (an older vibench's, a damaged file) or is another key's."""
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except Exception:  # noqa: BLE001 - a damaged record is a miss (RecursionError, MemoryError, ...), never an error
        return None
    if not isinstance(meta, dict) or meta.get("key") != k:
        return None
    class_name, files, absent, blocks = meta.get("class"), meta.get("files"), meta.get("absent"), meta.get("blocks")
    if not isinstance(class_name, str) or not class_name.isidentifier() or not isinstance(meta.get("source"), str):
        return None
    if not isinstance(files, dict) or not all(isinstance(h, str) or h is None for h in files.values()):
        return None
    if not isinstance(absent, list) or not all(isinstance(p, str) for p in absent):
        return None
    if not isinstance(blocks, dict) or not all(isinstance(c, str) for c in blocks.values()):
        return None
    if meta.get("check") != _record_check(meta):  # an edit that kept the shape: another class named, a file left out
        return None
    return class_name, Deps(dict(files), absent, blocks)


def _record_check(meta: dict[str, Any]) -> str:
    """The SHA-256 of a record's fields, which the record holds as ``check``: a record changed since it
    was written (damaged, or edited by hand) is a miss, whatever it names."""
    fields = {name: meta.get(name) for name in ("class", "vibench", "key", "source", "files", "absent", "blocks")}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def store(k: str, compiled: Compiled) -> Entry:
    """Make the module of a freshly compiled model (on disk when the cache folder is writable). A module
    of its name imported before is this very code (:func:`module_stem`): it is kept, not imported again.

    A model compiled with a plug-in module that was edited since this process first compiled with it
    stays in memory: the process runs the module as it imported it, so the record would pair the edited
    file with the old code, and the next process would build the old model from the folder."""
    deps = Deps.of(compiled.files, compiled.absent, compiled.blocks)
    name = f"{PACKAGE}.{module_stem(k, compiled.source)}"
    module = None
    if _as_imported(compiled.code, deps) and enabled():
        module = _store_on_disk(k, name, compiled, deps)
    if module is None:
        module = sys.modules.get(name) or _load_in_memory(name, compiled.source)
    entry = Entry(module, compiled.class_name, deps)
    _memory[k] = entry
    return entry


def _as_imported(code: frozenset[str], deps: Deps) -> bool:
    """Whether every file of imported ``code`` has the SHA-256 it had when this process first compiled
    with it (a file new to the process is taken as imported as it is now: one edited between its import
    and that first compilation is not told apart)."""
    same = True
    for path in sorted(code):
        digest = deps.files.get(path)
        same = _imported.setdefault(path, digest) == digest and same
    return same


def _store_on_disk(k: str, name: str, compiled: Compiled, deps: Deps) -> types.ModuleType | None:
    from vibench.models import cache_dir

    folder = cache_dir()
    stem = name.rsplit(".", 1)[1]
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if cache_folder.refused(folder):
            return None
        cache_folder.write(os.path.join(folder, f"{stem}.py"), compiled.source)
        meta: dict[str, Any] = {"class": compiled.class_name, "vibench": __version__, "key": k,
                                 "source": hashlib.sha256(compiled.source.encode("utf-8")).hexdigest(),
                                 "files": dict(sorted(deps.files.items())), "absent": list(deps.absent),
                                 "blocks": deps.blocks}
        meta["check"] = _record_check(meta)
        cache_folder.write(os.path.join(folder, f"{stem}.json"), json.dumps(meta, indent=1))
        cache_folder.write_index(folder, k, stem)  # last: an index names only a whole entry
        cache_folder.evict(folder, stem, k)
    except OSError:
        return None
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        module = importlib.import_module(name)
    except ImportError:
        sys.modules.pop(name, None)
        return None
    _pin_source(module)
    return module


def _pin_source(module: types.ModuleType) -> None:
    """Keep the module's source readable in this process after its file is evicted (by a later store
    here or in another process): ``inspect.getsource`` and ``torch.jit.script`` read it through
    linecache, whose entries without a modification time are never dropped by ``checkcache``. (A
    model built early in a sweep of more than ``VIBENCH_CACHE_MAX`` models could not be scripted.)"""
    import linecache

    filename = getattr(module, "__file__", None)
    if filename:
        linecache.cache.pop(filename, None)  # read again: lines cached from a file damaged since
    if filename and linecache.getlines(filename):
        entry = linecache.cache[filename]
        if len(entry) == 4:  # (size, mtime, lines, fullname); a lazy entry has one item
            linecache.cache[filename] = (entry[0], None, entry[2], entry[3])


def clear() -> None:
    """Forget every compiled model: the entries in memory and those in the cache folder
    (:func:`vibench.runtime.cache_folder.empty`). Models already built keep working."""
    from vibench.models import cache_dir

    with _lock:
        _memory.clear()
        cache_folder.empty(cache_dir())


def _load_in_memory(name: str, source: str) -> types.ModuleType:
    """The module without a file (the cache folder is off or unwritable): usable in this process."""
    import linecache

    filename = f"<vibench:{name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    sys.modules[name] = module
    exec(code, module.__dict__)  # noqa: S102 - vibench's own emitted source
    return module
