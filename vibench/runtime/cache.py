"""Compiled models by content: a second ``vibench.build`` of the same spec costs an import and a
constructor, not a compilation.

The key of a build is the SHA-256 of the vibench installation (its version and the size and time of
every source file, so an edited compiler never reuses old output; a process whose vibench files changed
after it imported vibench writes no entry to the folder, :func:`installation_as_loaded`, since its key
could name code that did not run), the spec (its real path, whose folder ``extends:`` is looked up from, and
its path as given, joined by a NUL; or for ``text=`` the real working folder, which ``extends:`` is looked up
from), the spec's text (read as the compiler's loader reads it), the parameters, the bound inputs, apart
from them the limits, ``inplace`` and the metadata table's class counts and skipped rows (its W116), and
the real paths of the search-path folders (``search_path``'s, then ``VIBENCH_SPEC_PATH``'s). A file's
compilation that depended on the working folder (a warning it keeps is located in a file it included, which
messages name relative to that folder; a PHM-Vibench base config was looked for there) is kept under the key
of the request from that folder, which :func:`cached` looks under too (``here``,
:func:`vibench.runtime.build._by_folder`).
Two requests never share a key: every value is written with its type (a tuple is not a list, ``1`` not
``"1"`` nor ``True``) and a mapping as its entries in their order (a template builds a layer per entry,
in that order), :func:`key`; a request holding a value it cannot write exactly (of another type, or
nested deeper than 64 levels) is compiled every time and never cached. An entry records what the
compilation depended on beyond its key (:class:`~vibench.runtime.cache_deps.Deps`): every file it read
(templates, PHM base configs, the components a slot's parameters were read from, and the source files of
the plug-in blocks it used, :func:`vibench.runtime.build.plugin_files`) with the SHA-256 of what was
compiled (a spec file's bytes as read, not as saved during the compilation:
:meth:`~vibench.runtime.cache_deps.Deps.of`), every path a template or base-config lookup tried and found
no file at (a file created there later would be found first), the real path each such lookup resolved
to (a symbolic link, of the file or of a folder on the way, pointed elsewhere since is another template),
what else a lookup looked at
(:func:`~vibench.runtime.cache_deps.observe`: the listing of each slot folder, whose specs are the
components a slot offers, and whether each `.git` or `configs` a PHM project root was decided by is
there), and which class the registry admitted as each plug-in block the
model uses (a rival plug-in installed since, or the plug-in uninstalled or refused, leaves the name
unknown: the build then fails as ``--check`` does; in the folder, a class loaded from the files the entry
records: another copy of the plug-in, in a virtual environment or worktree sharing the folder, is another,
:func:`~vibench.runtime.cache_deps.loaded_from`; in memory, the very class object: a block defined again is
another). An entry is used, from memory or from the folder, only while all of that still holds;
else the spec is compiled again and the entry replaced.

The source files of a plug-in are every imported module of the packages defining its blocks (their
classes, ``Params``, natives and base classes) and, transitively, every imported module of the user's
code those refer to, by a global (a module, or a class, function or object of one) or by an ``import``
statement anywhere in their source (``from helper import SCALE`` leaves only an int): a helper module
beside the package, another package of a namespace package. Code outside the user's is not followed:
vibench (part of the key), the standard library, torch and installed distributions (under site-packages,
or listed by a ``*.dist-info`` ``RECORD`` beside them: they change with an install, not an edit,
:mod:`vibench.runtime.installed`), nor a base class of theirs. Not seen either: a module imported by a
computed name and held nowhere, and a file the plug-in opens itself; a plug-in that reads such inputs
changes its models only with its own files (:func:`vibench.runtime.build.imported_code`). An entry keeps
the compilation's warnings and notes too (the text ``--check`` prints), which ``vibench.build`` gives at
every build, from the cache as well. A plug-in runs as the process imported it: a model compiled after one
of its files was edited in this process is kept in memory only (:func:`store`), so the next process, which
imports the edited plug-in, compiles the spec again. So is a model whose plug-in blocks were defined by
code without a file (at a prompt, by ``exec`` or ``python -c``, in a notebook cell: nothing on disk tells one
definition from the next, :func:`~vibench.runtime.cache_deps.defined_without_file`), and an entry in the folder is not
used while such a block holds a name it records.

Entries live in memory and in the cache folder (:func:`vibench.models.cache_dir`; ``VIBENCH_CACHE=0``
keeps them in memory only); memory keeps the 128 most recently used, and releases the module of one it
drops once no model built from it is alive (:mod:`vibench.runtime.cache_memory`). A module's name stands
for one code: ``m_<name>.py`` is an emitted model.py, imported as ``vibench.models.m_<name>`` so that
pickled models name a real module, where ``<name>`` is
the SHA-256 of the key and of the source (:func:`module_stem`); ``m_<name>.json`` is its record:
``{"class": ..., "vibench": ..., "key": <key>, "source": <SHA-256 of m_<name>.py>, "files": {path:
SHA-256 or null}, "absent": [path, ...], "blocks": {plug-in block name: its class}, "links": {path a
template lookup took: its real path}, "looked": {path: what was seen there}, "warnings": [[code, text],
...], "check": <SHA-256 of the other fields>}``; and ``k_<key>`` names the key's current module
(:func:`vibench.runtime.cache_folder.read_index`). A spec compiled again to other code (a template it
extends was edited) gets a new module; the old one stays imported in this process and its files stay in
the folder until evicted, so a model built or saved before keeps its class and its code: it pickles, and
loads in another process, as it ran. A module already imported under a name is the code that name stands
for: it is reused, never imported again, so a spec built again after :func:`clear` (or after its entry
was evicted) gives the class of the models built before it when its code is the same (``isinstance``
holds, they pickle). The folder's upkeep (atomic writes, eviction, emptying it, refusing a folder that
is not the user's alone) is :mod:`vibench.runtime.cache_folder`'s; an unwritable or refused folder only
disables the disk level, and a failed write keeps the model in memory; a ``RuntimeWarning`` says either once per
folder (one removed meanwhile is a miss, silently). The folder, the index, the record
and the module are read through one handle on the folder, each file checked on its own handle
(:func:`vibench.models.opened`), and written, removed and marked used through one too (never by path,
never through a link): an entry refused there (another user's file) is a miss, and a ``RuntimeWarning``
says so once per folder; an entry removed by another process between two steps is a miss too. A damaged
entry (an index, or a record, that cannot be read, is not this shape or does not match its ``check`` or
key, a module that is not the source its record names, a class its module lacks or that is not a
``torch.nn.Module`` defined there) is a miss: compiled again and replaced, never an exception, never
another object.

How a module is imported from the folder, checked or made in memory is :mod:`vibench.runtime.cache_modules`'s.

A hit in memory checks the record cheaply: one ``stat`` per file read (its size, times and inode as
when last hashed; a file changed since is hashed again, and a file changed within
:data:`~vibench.runtime.cache_deps.SETTLE_NS` of its check is always hashed, as git treats racily clean files), one per
absent path and one registry lookup per plug-in block: a few microseconds a build. A hit in the folder
of a model with plug-in blocks loads the plug-ins (as compiling it would), to ask the registry. A
template lookup that went through a symbolic link costs one ``stat`` too (its real path is computed
again only when that ``stat`` changed), a PHM project-root marker one ``stat``, and a slot folder outside
vibench one listing.

A hit in the folder marks its entry and index used (the folder keeps the most recently used ones);
:func:`clear` forgets every entry, in memory and in the folder (``vibench.clear_cache()``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from vibench._version import __version__
from vibench.runtime import cache_deps, cache_folder, cache_memory, cache_record
from vibench.runtime.cache_deps import Compiled, Deps
from vibench.runtime.cache_key import encoded
from vibench.runtime.cache_modules import import_cached, load_in_memory, model_class, record_read, registry_classes
from vibench.runtime.cache_modules import model_class as _model_class  # noqa: F401 - where tests find it
from vibench.runtime.cache_record import read as _read_record
from vibench.runtime.cache_record import record_check as _record_check  # noqa: F401 - where tests find it

PACKAGE = "vibench.models"


@dataclass(frozen=True)
class Entry:
    module: types.ModuleType
    class_name: str
    deps: Deps = field(default_factory=lambda: Deps({}, ()))
    # The compilation's warnings and notes: (code, the text --check prints), given again at each hit.
    warnings: tuple[tuple[str, str], ...] = ()


_memory: dict[str, Entry] = {}
# The SHA-256 of each file of imported code (a plug-in's module) when this process first compiled with
# it: a file that differs later was edited after the import, and the code compiled is the imported one.
_imported: dict[str, str | None] = {}
# Held while an entry is looked up on disk, compiled or stored: threads building at once would
# otherwise import one module while another drops it from sys.modules (a KeyError from importlib).
# A hit in memory takes only cache_memory's short lock, to pin its entry; compilation is pure Python, so the
# lock costs threads no parallelism.
_lock = threading.RLock()


def cached(k: str, make: Callable[[], Compiled], here: str | None = None) -> Entry:
    """The entry of key ``k``: from memory, the folder, or ``make()`` (a compilation), pinned until
    :func:`instantiate` has made its model (an eviction by another thread meanwhile keeps its module imported,
    :func:`~vibench.runtime.cache_memory.pin`). ``here``: the key of the request from this working folder, under
    which a compilation that depended on the folder (``Compiled.by_folder``) is kept."""
    keys = (k,) if here is None else (k, here)
    for each in keys:  # a hit in memory takes no lock: it pins its entry only while that is still the key's
        entry = _memory.get(each)
        if entry is not None and entry.deps.valid() and cache_memory.take(_memory, each, entry):
            return entry
    with _lock:
        for each in keys:
            found = lookup(each)
            if found is not None:
                return found
        compiled = make()
        return store(here if here is not None and compiled.by_folder else k, compiled)


def instantiate(entry: Entry) -> Any:
    """A model of ``entry``'s class (an entry :func:`cached` or :func:`unkeyed` gave, pinned), noted as made from
    its module: while the model lives, the module stays imported when its entry leaves memory
    (:mod:`vibench.runtime.cache_memory`)."""
    try:
        model = getattr(entry.module, entry.class_name)()
        cache_memory.made(entry.module, model)
    finally:  # the constructor may raise: then the module is released at an eviction, as one without models
        cache_memory.unpin(entry.module)
    return model


def _sources() -> Iterable[tuple[str, os.stat_result]]:
    """Every source file of this vibench installation (relative path, its stat), in a stable order."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "models"))
        for name in sorted(files):
            if name.endswith((".py", ".yaml", ".j2", ".json")):
                path = os.path.join(folder, name)
                yield os.path.relpath(path, root), os.stat(path)


@functools.cache
def _installation() -> str:
    """A digest of this vibench installation: version plus every source file's size and time. Taken at
    the first key, it names the code this process loaded only while :func:`installation_as_loaded`."""
    digest = hashlib.sha256(__version__.encode())
    for path, st in _sources():
        digest.update(f"{path}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()


_changed: list[bool] = []  # [True] once a vibench file changed after the import: it stays changed
# What a compilation never runs: the language server and vibench.testing are never imported by one, and a
# template (.yaml) is read again by every compilation and recorded with its SHA-256 in the entry.
_NEVER_RUN = ("lsp" + os.sep, "testing" + os.sep)


def installation_as_loaded() -> bool:
    """Whether no vibench file that a compilation runs (its modules, templates and schema) changed since
    this process imported vibench (its change time, which nothing can set back, older than the import by
    more than :data:`~vibench.runtime.cache_deps.SETTLE_NS`), so that the installation digest of a key is
    the code this process runs. A compiler module edited between the import and the first build (or
    imported after an edit, or reloaded) was keyed as the file on disk while the process ran what it had
    loaded: the next process took that model for the edited compiler's. Once false, the process keeps
    its models in memory (:func:`store`). Takes a ``stat`` of every source file (1 to 2 ms), once a
    compilation."""
    if _changed:
        return False
    loaded = getattr(sys.modules.get("vibench"), "_LOADED_NS", None)  # the package, imported before this module
    if not isinstance(loaded, int) or any(st.st_ctime_ns >= loaded - cache_deps.SETTLE_NS for path, st in _sources()
                                          if not path.endswith(".yaml") and not path.startswith(_NEVER_RUN)):
        _changed.append(True)
        return False
    return True


def key(spec_text: str, params: dict[str, Any] | None, inputs: dict[str, Any] | None, search: list[str],
        options: dict[str, Any] | None = None) -> str:
    """The key of a build; ``search`` holds the search-path folders as real paths (the caller's part) and
    ``options`` what else makes the model (limits, ``inplace``, the metadata's class counts), apart from
    ``params`` so that no parameter name can stand for one. Two requests that differ in any value, in the
    type of any value or key (a tuple and a list, ``1`` and ``"1"``, ``1`` and ``True``) or in the order of
    a mapping's entries have two keys (:func:`~vibench.runtime.cache_key.encoded`);
    :class:`~vibench.runtime.cache_key.Unkeyable` for a value it cannot write.

    >>> key("spec", {"n": {"a": 1, "b": 2}}, None, []) == key("spec", {"n": {"b": 2, "a": 1}}, None, [])
    False
    """
    payload = json.dumps([_installation(), spec_text, encoded(params or {}), encoded(inputs or {}), search,
                          encoded(options or {})])
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def module_stem(k: str, source: str) -> str:
    """The file name (without ``.py``) of the module of key ``k`` compiled to ``source``, and the last
    part of its module's name: a name stands for one code, and one key (its record's dependencies)."""
    code = hashlib.sha256(source.encode("utf-8")).hexdigest()
    return "m_" + hashlib.sha256(f"{k}\0{code}".encode()).hexdigest()[:32]


def enabled() -> bool:
    """Whether the cache folder is used: ``VIBENCH_CACHE`` does not turn it off (:func:`vibench.models.folder_on`),
    and this platform can open it without following links (:data:`vibench.models.SAFE`; not on Windows)."""
    from vibench.models import SAFE, folder_on

    return SAFE and folder_on()


def lookup(k: str) -> Entry | None:
    """A cached model module for key ``k`` whose dependencies are unchanged, pinned as :func:`cached` says, or None."""
    entry = _memory.get(k)
    if entry is not None:
        if entry.deps.valid():
            if cache_memory.take(_memory, k, entry):
                return entry
        else:
            with _lock:
                cache_memory.forget(_memory, k, entry)
    if not enabled():
        return None
    from vibench import models

    folder = models.cache_dir()
    if not os.path.isdir(folder) or cache_folder.refused(folder):
        return None
    try:
        with models.opened(folder) as handle:  # the index and the record through one checked handle
            stem = cache_folder.read_index(handle, folder, k)
            if stem is None:
                return None
            text = models.read(handle, folder, f"{stem}.json")
    except models.Refused as err:
        cache_folder.warn(folder, f"vibench refuses to read its cache: {err}; vibench.build compiles the model again")
        return None
    except OSError:  # removed meanwhile (another process's clear_cache or eviction), or damaged (too large): a miss
        return None
    record = _read_record(text, k)
    if record is None:
        return None
    class_name, deps, warned = record
    if not deps.valid():
        return None
    classes = registry_classes(deps.blocks)
    if classes is None:
        return None
    name = f"{PACKAGE}.{stem}"
    module = sys.modules.get(name)  # imported before: the code this name stands for, kept (models hold its class)
    if module is None:
        module = import_cached(name, folder)
        # a record naming a class its module lacks, or another object; or the module imported with another
        # record than the one checked here (the entry replaced meanwhile)
        if module is None or not model_class(module, class_name) or record_read(module) != text:
            sys.modules.pop(name, None)
            return None
    elif not model_class(module, class_name):
        return None
    cache_folder.touch(folder, (f"{stem}.json", f"k_{k}"))  # recently used: the last to be evicted
    deps.classes = classes
    entry = Entry(module, class_name, deps, warned)
    with _lock:
        cache_memory.remember(_memory, k, entry)
    return entry


def store(k: str, compiled: Compiled) -> Entry:
    """Make the module of a freshly compiled model (on disk when the cache folder is writable). A module
    of its name imported before is this very code (:func:`module_stem`): it is kept, not imported again.

    A model compiled with a plug-in module that was edited since this process first compiled with it
    stays in memory: the process runs the module as it imported it, so the record would pair the edited
    file with the old code, and the next process would build the old model from the folder. So does one
    compiled with a block defined without a file (``compiled.memory_only``), and every model of a process
    whose vibench files changed since it imported vibench (:func:`installation_as_loaded`). A model whose
    files changed while it was compiled (:attr:`~vibench.runtime.cache_deps.Deps.outdated`) is given to its
    build, and compiled again at the next: its record names no file as it is, and is not written."""
    deps = Deps.of(compiled.files, compiled.absent, compiled.blocks, compiled.links, compiled.classes,
                   compiled.looked, compiled.digests, compiled.started)
    name = f"{PACKAGE}.{module_stem(k, compiled.source)}"
    module = None
    if _as_imported(compiled.code, deps) and enabled() and not compiled.memory_only and not deps.outdated \
            and installation_as_loaded():
        module = _store_on_disk(k, name, compiled, deps)
    if module is None:
        module = sys.modules.get(name) or load_in_memory(name, compiled.source)
    entry = Entry(module, compiled.class_name, deps, compiled.warnings)
    with _lock:
        cache_memory.remember(_memory, k, entry)
    return entry


def unkeyed(compiled: Compiled) -> Entry:
    """The module of a model compiled for a request without a key
    (:class:`~vibench.runtime.cache_key.Unkeyable`), in memory and in no entry: the next such build
    compiles again."""
    name = f"{PACKAGE}.{module_stem('unkeyed', compiled.source)}"
    with _lock:
        module = sys.modules.get(name) or load_in_memory(name, compiled.source)
        cache_memory.unkeyed(_memory, module)
    return Entry(module, compiled.class_name, Deps({}, ()), compiled.warnings)


def _as_imported(code: frozenset[str], deps: Deps) -> bool:
    """Whether every file of imported ``code`` has the SHA-256 it had when this process first compiled
    with it (a file new to the process is taken as imported as it is now: one edited between its import
    and the start of that first compilation is not told apart; one edited while it ran is recorded as
    :data:`~vibench.runtime.cache_deps.CHANGED`, which no file matches, so the process never writes a model
    compiled with it)."""
    same = True
    for path in sorted(code):
        digest = deps.files.get(path)
        same = _imported.setdefault(path, digest) == digest and same
    return same


def _store_on_disk(k: str, name: str, compiled: Compiled, deps: Deps) -> types.ModuleType | None:
    from vibench import models

    folder = models.cache_dir()
    stem = name.rsplit(".", 1)[1]
    try:
        cache_folder.make(folder)
    except OSError as err:  # a folder above is a file, no permission: off for good, which the user should know
        cache_folder.warn(folder, cache_folder.unusable(folder, "created", err))
        return None
    try:
        if cache_folder.refused(folder):
            return None
        with models.opened(folder) as handle:  # every file written through one checked handle
            cache_folder.write(handle, f"{stem}.py", compiled.source)
            cache_folder.write(handle, f"{stem}.json", cache_record.written(k, compiled, deps))
            cache_folder.write_index(handle, k, stem)  # last: an index names only a whole entry
            cache_folder.evict(handle, stem, k)
    except models.Refused as err:  # swapped after refused() looked: another's folder now
        cache_folder.warn(folder, f"vibench keeps compiled models in memory only: {err}")
        return None
    except FileNotFoundError:  # the folder or a temporary file removed meanwhile (another process's clear_cache)
        return None
    except OSError as err:  # k_<key> a folder, a folder without write permission, a full disk, a model too large
        cache_folder.warn(folder, cache_folder.unusable(folder, "written", err))
        return None
    # Imported before: this very code (its name is a hash of it). Else imported from the bytes the loader
    # read and checked, which also keeps them readable for inspect and torch.jit.script once the file is
    # evicted (vibench.models._CacheLoader); None when the entry was removed meanwhile (another process's
    # clear_cache or eviction), or refused: the model is kept in memory.
    return sys.modules.get(name) or import_cached(name, folder)


def clear() -> None:
    """Forget every compiled model: the entries in memory and those in the cache folder
    (:func:`vibench.runtime.cache_folder.empty`). Models already built keep working; their modules stay
    imported while they live (:mod:`vibench.runtime.cache_memory`). Files the folder keeps (a read-only folder) are
    told at every call, by a ``RuntimeWarning`` naming the folder, the OS's error and how many stay: a clear that
    silently left them let the next process build from them."""
    from vibench.models import cache_dir

    with _lock:
        cache_memory.forget_all(_memory)
        folder = cache_dir()
        failed = cache_folder.empty(folder)
    if failed:
        # an error naming no file is the folder's own (it cannot be listed): then every file of it stays
        kept = f"{len(failed)} of its files stay" if failed[0].filename is not None else "its files stay"
        cache_folder.warn(folder, f"vibench.clear_cache() forgot the models in memory, but "
                          f"{cache_folder.failure(folder, 'emptied', failed[0])}: {kept}", once=False)
