"""What a model in :mod:`vibench.runtime.cache` was compiled from beyond its key (:class:`Deps`), and
whether that still holds: the files it read (hashed again only when their ``stat`` changed), the paths
its template lookups found nothing at, where each lookup through a symbolic link led, what else its
lookups looked at (:func:`observe`: whether a path is a file or a folder, a slot folder's listing), and
the plug-in blocks it used (their class: in the folder by name and the files it was loaded from,
:func:`loaded_from`; by identity in memory). A plug-in block defined by code without a file
(:func:`defined_without_file`) has nothing on disk to check: its models stay in memory, tied to the very class.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
import types
from collections.abc import Iterable
from dataclasses import dataclass

from vibench.compiler.spec_files import SPEC_SUFFIXES
from vibench.compiler.spec_reads import CHANGED_WHILE_READ

MAX_HASHED_BYTES = 64 * 1024 * 1024
"""A file read is hashed up to this size; a larger one is known by its ``stat`` (size, times, inode), so
that a check never reads without bound (a file grown huge, a link re-pointed at a large file)."""

SETTLE_NS = 2_000_000_000
"""A file whose modification or change time is this recent (2 s: coarse file-system clocks, FAT's
2-second times) is hashed at every check: an edit within the same clock tick keeps its times."""

CHANGED = CHANGED_WHILE_READ
"""What an entry records, for a file's SHA-256 or what a lookup saw at a path (``kind:changed``), when that
changed while its compilation ran: no file has it and no look sees it, so the entry is never used again."""


@dataclass(frozen=True)
class Compiled:
    """What a compilation gives the cache: the model.py source, the model class's name, the real
    paths of the files it read, the absolute paths its lookups found no file at, the plug-in blocks
    it used (name -> :func:`admitted`) and, among ``files``, those of imported code (a plug-in's
    modules: compiled as this process imported them, which the file may no longer be); ``links``: each
    path a template lookup took -> the real path it read; ``classes``: each plug-in block's class
    object; ``memory_only``: a block was defined by code without a file (:func:`defined_without_file`);
    ``warnings``: the program's warnings and notes, each (code, its text as ``--check`` prints it);
    ``looked``: each other path a lookup looked at -> what it read there, ``"kind"`` or ``"names"``
    (:func:`observe`); ``by_folder``: the model or its warnings depend on the working folder (kept under the
    key of the request from that folder, :func:`vibench.runtime.cache.cached`); ``digests``: each spec file read
    -> the SHA-256 of the bytes the compilation read (:func:`~vibench.compiler.spec_reads.recording_reads`);
    ``started``: ``time.time_ns()`` when the compilation began (see :meth:`Deps.of`)."""

    source: str
    class_name: str
    files: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()
    blocks: tuple[tuple[str, str], ...] = ()
    code: frozenset[str] = frozenset()
    links: tuple[tuple[str, str], ...] = ()
    classes: tuple[tuple[str, type], ...] = ()
    memory_only: bool = False
    warnings: tuple[tuple[str, str], ...] = ()
    looked: tuple[tuple[str, str], ...] = ()
    by_folder: bool = False
    digests: tuple[tuple[str, str], ...] = ()
    started: int | None = None


class Deps:
    """What an entry's model was compiled from, beyond its key: ``files`` (path -> SHA-256, None for a
    file that could not be read), ``absent`` paths, plug-in ``blocks`` (name -> the class the registry
    admitted, :func:`admitted`), ``links`` (each path a template lookup took -> the real path it resolved
    to), ``looked`` (each other path a lookup looked at -> what :func:`observe` saw there) and, for an
    entry in memory, ``classes`` (name -> the very class object of each plug-in block). :meth:`valid` says
    whether it all still holds."""

    __slots__ = ("files", "absent", "blocks", "links", "looked", "classes", "_seen", "_resolved")

    def __init__(self, files: dict[str, str | None], absent: Iterable[str], blocks: dict[str, str] | None = None,
                 links: dict[str, str] | None = None, classes: dict[str, type] | None = None,
                 looked: dict[str, str] | None = None) -> None:
        self.files = files
        self.absent = tuple(sorted(absent))
        self.blocks = dict(sorted((blocks or {}).items()))
        self.links = dict(sorted((links or {}).items()))
        self.looked = dict(sorted((looked or {}).items()))
        self.classes = classes
        self._seen: dict[str, tuple[int, int, int, int]] = {}  # path -> its stat when its hash last matched
        self._resolved: dict[str, tuple[int, int, int, int]] = {}  # link -> its stat when its real path matched

    @classmethod
    def of(cls, files: Iterable[str], absent: Iterable[str], blocks: Iterable[tuple[str, str]] = (),
           links: Iterable[tuple[str, str]] = (), classes: Iterable[tuple[str, type]] = (),
           looked: Iterable[tuple[str, str]] = (), digests: Iterable[tuple[str, str]] = (),
           since: int | None = None) -> Deps:
        """The record of a compilation that began at ``since`` (``time.time_ns()``) and just read ``files``,
        found ``absent`` missing, resolved the template paths of ``links`` to real paths, looked at the paths of
        ``looked`` (path -> ``"kind"`` or ``"names"``) and used the plug-in ``blocks``, whose classes were
        ``classes``. Absent and looked-at paths in vibench's own folder are left out: a file added there
        changes the installation, part of the key.

        A file is recorded by what the compilation read, never by what it holds now: an edit saved while the
        model was compiled (the compile takes half a second) made the old model the entry of the new file, in
        this process and in every later one. A spec file by the SHA-256 of the bytes read (``digests``); a file
        not read as it was compiled from (a plug-in's module runs as it was imported; a component's parameters
        kept while its ``stat`` is unchanged) and what a lookup saw at a path (:func:`observe`) are taken now,
        or recorded as :data:`CHANGED` when the file, the path or the folder holding it changed since
        ``since`` (its change or modification time is later): what it held when the compilation used it is
        not known. A change within one tick of the file system's clock after ``since`` may be stamped before it."""
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
        seen = {path: f"{how}:{CHANGED}" if _changed_since(since, path, os.path.dirname(path)) else observe(path, how)
                for path, how in looked if not path.startswith(package)}
        deps = cls({}, (path for path in absent if not path.startswith(package)), dict(blocks), dict(links),
                   dict(classes), seen)
        read = dict(digests)
        for path in sorted(files):
            st = _stat(path)  # before the hash: a file changed after it has another stat
            now = _file_hash(path)
            digest = read[path] if path in read else CHANGED if _changed_since(since, path) else now
            deps.files[path] = digest
            if st is not None and _settled(st) and now == digest:
                deps._seen[path] = _signature(st)
        for path, real in deps.links.items():
            st = _stat(path)  # before the real path: a link changed after it has another stat
            if st is not None and os.path.realpath(path) == real:
                deps._resolved[path] = _signature(st)
        return deps

    @property
    def outdated(self) -> bool:
        """Whether a file or a path looked at changed while the compilation ran (:data:`CHANGED`): never valid."""
        return CHANGED in self.files.values() or any(seen.endswith(":" + CHANGED) for seen in self.looked.values())

    def valid(self) -> bool:
        """Whether every file is as it was, every template path resolves to the real path it did, no
        absent path holds a file (hashing only the files whose ``stat`` changed, or that changed too
        recently for their times to tell; resolving only the paths whose ``stat`` changed: a link pointed
        elsewhere leads to another file) and the registry holds the same class as each plug-in block (in
        memory the very class object; else the same name, loaded from files the entry records,
        :func:`loaded_from`, which loads the plug-ins, once a process)."""
        for path in self.absent:
            if os.path.isfile(path):
                return False
        for path, seen in self.looked.items():
            if observe(path, seen.partition(":")[0]) != seen:
                return False
        for path, real in self.links.items():
            st = _stat(path)
            if st is None:
                return False
            signature = _signature(st)
            if self._resolved.get(path) != signature:
                if os.path.realpath(path) != real:
                    return False
                self._resolved[path] = signature
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
        if self.classes is not None:
            if self.classes:
                from vibench.compiler import registry

                for name, block_class in self.classes.items():
                    if type(registry.get(name)) is not block_class:
                        return False
            return True
        from vibench.compiler import registry

        for name, cls in self.blocks.items():
            block = registry.get(name)
            if admitted(name) != cls or block is None or not loaded_from(block) <= self.files.keys():
                return False
        return True


def defined_without_file(block: object) -> bool:
    """Whether a plug-in ``block``'s class, its ``Params``, a native of it, or a base class of those from
    outside vibench, was defined by code that has no file: typed at a prompt, run by ``exec`` or
    ``python -c``, a notebook cell (a class whose module has no file or whose body was compiled from no
    file, a function whose code names no file). Nothing on disk tells one such definition from the next:
    its model is never written to the folder, and is used again only while the registry holds the very
    same class.

    >>> from vibench.compiler import registry
    >>> defined_without_file(registry.get("relu"))
    False
    """
    natives = (native for native in getattr(block, "natives", ()) if not isinstance(native, str))
    for obj in (type(block), getattr(block, "Params", object), *natives):
        for part in obj.__mro__ if isinstance(obj, type) else (obj,):
            if part is object or str(getattr(part, "__module__", "")).split(".")[0] == "vibench":
                break
            if _without_file(part):
                return True
    return False


def _without_file(obj: object) -> bool:
    if not isinstance(obj, type):
        code = getattr(obj, "__code__", None)
        return isinstance(code, types.CodeType) and not os.path.isfile(code.co_filename)
    if not isinstance(getattr(sys.modules.get(obj.__module__), "__file__", None), str):
        return True
    for attribute in list(vars(obj).values()):  # the functions its body defined: compiled where the class was
        function = attribute.__func__ if isinstance(attribute, (staticmethod, classmethod)) else attribute
        if not isinstance(function, types.FunctionType):
            continue
        code = function.__code__
        body = getattr(code, "co_qualname", "").startswith(obj.__qualname__ + ".")  # not a generated one (dataclasses)
        if body and not os.path.isfile(code.co_filename):
            return True
    return False


def loaded_from(block: object) -> set[str]:
    """The real paths of the files the plug-in ``block`` as the registry holds it was loaded from: those that
    define its class, its ``Params`` and its natives (:func:`inspect.getsourcefile`, and their modules' files),
    which the record of a model compiled with it holds (:func:`vibench.runtime.build.plugin_files`). Two copies
    of a plug-in (two virtual environments or worktrees sharing the cache folder) define classes of the same
    names from other files: by name alone, the model of one copy was built in the other, its files unchanged.
    (A helper module or base class of the user's code beside the package, which the record holds too, is not
    asked: what is the user's code is :mod:`vibench.runtime.installed`'s to say, which imports this module.)

    >>> from vibench.compiler import registry
    >>> loaded_from(registry.get("relu"))
    set()
    """
    import inspect

    natives = (native for native in getattr(block, "natives", ()) if not isinstance(native, str))
    files: set[str] = set()
    for obj in (type(block), getattr(block, "Params", object), *natives):
        if obj is object or str(getattr(obj, "__module__", "")).split(".")[0] == "vibench":  # part of the key
            continue
        module_file = getattr(sys.modules.get(getattr(obj, "__module__", "")), "__file__", None)
        try:
            source_file = inspect.getsourcefile(obj)  # a function's own: where its code says it was compiled
        except (TypeError, OSError):  # built in, or without a file (its models are never written to the folder)
            source_file = None
        files.update(os.path.realpath(file) for file in (module_file, source_file) if isinstance(file, str))
    return files


def admitted(name: str) -> str | None:
    """The class (``module.qualname``) the registry holds as block ``name``, or None when it holds none:
    for a plug-in's block, None once the plug-in is uninstalled, fails to load, or is refused (a rival
    plug-in registers the same name), as ``--check`` then reports E110."""
    from vibench.compiler import registry

    block = registry.get(name)
    return None if block is None else f"{type(block).__module__}.{type(block).__qualname__}"


def observe(path: str, how: str) -> str:
    """What a lookup saw at ``path``, as the text an entry records: for ``how="kind"`` whether it is a file,
    a folder, something else or nothing (``kind:dir``: a project root's ``.git``, a base config that is
    there); for ``how="names"`` a slot folder's listing (``names:<SHA-256>`` of the folder's kind, its real
    path and the names of its spec files, each symbolic link with the real path it leads to: what the
    components a slot offers are read from, :func:`vibench.compiler.slots.slot_components`); for
    ``how="folders"`` the same of the folders it holds (``folders:<SHA-256>``: a PHM-Vibench model family's
    folder, whose sub-folders :func:`vibench.compiler.phm_checks.find_template` searches). Never blocks,
    never raises: a folder that cannot be listed is seen as such.

    >>> observe("/nonexistent/.git", "kind")
    'kind:none'
    """
    if how not in ("names", "folders"):
        return "kind:" + _kind(path)
    try:
        with os.scandir(path) as entries:
            names: list[tuple[str, str]] | None = sorted(
                (e.name, os.path.realpath(e.path) if e.is_symlink() else "") for e in entries
                if (e.is_dir() if how == "folders" else e.name.endswith(SPEC_SUFFIXES)))
    except (OSError, ValueError):
        names = None
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        real = ""
    listing = json.dumps([_kind(path), real, names])  # ASCII: a name that is not UTF-8 is escaped
    return how + ":" + hashlib.sha256(listing.encode()).hexdigest()


def _kind(path: str) -> str:
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return "none"
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


def read_regular(path: str, limit: int) -> bytes | None:
    """The bytes of the regular file at ``path`` when it holds at most ``limit`` bytes, else None: a FIFO,
    a device (a link to ``/dev/zero``), a folder, a file that cannot be read or is larger. Never blocks:
    a FIFO is found by its ``stat`` and opened, should it become one meanwhile, without waiting for a
    writer."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                return None
            raw = fh.read(limit + 1)  # bounded even when the size above was wrong (a growing file)
    except (OSError, ValueError):  # ValueError: a path holding NUL (from a damaged record)
        return None
    return raw if len(raw) <= limit else None


def _file_hash(path: str) -> str | None:
    """The SHA-256 of a file read; for a regular file larger than :data:`MAX_HASHED_BYTES`, its ``stat``
    (any change is another file); None for anything else (a FIFO, a device, a folder, a file that cannot be
    read): a file read that became one is a change, and the compilation again says why (E004, E002)."""
    raw = read_regular(path, MAX_HASHED_BYTES)
    if raw is not None:
        return hashlib.sha256(raw).hexdigest()
    st = _stat(path)
    if st is None or not stat.S_ISREG(st.st_mode) or st.st_size <= MAX_HASHED_BYTES:
        return None
    return "stat:" + ":".join(map(str, _signature(st)))


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino  # ctime: os.utime cannot set it back


def _settled(st: os.stat_result) -> bool:
    return time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > SETTLE_NS


def _changed_since(since: int | None, *paths: str) -> bool:
    """Whether one of ``paths`` changed at ``since`` or later (its change or modification time; None: unknown)."""
    if since is None:
        return False
    return any(st is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= since for st in map(_stat, paths))
