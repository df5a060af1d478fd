"""Compiled models by content: a second ``vibench.build`` of the same spec costs an import and a
constructor, not a compilation.

The key of a build is the SHA-256 of the vibench installation (its version and the size and time
of every source file, so an edited compiler never reuses old output), the spec's text, the
parameters, the bound inputs and the search path. An entry records the files the compilation read
(templates, PHM base configs) with their own hashes; it is used only while they are unchanged.

Entries live in memory and in the cache folder (:func:`vibench.models.cache_dir`; ``VIBENCH_CACHE=0``
keeps them in memory only): ``m_<key>.py`` is the emitted model.py, imported as
``vibench.models.m_<key>`` so that pickled models name a real module, and ``m_<key>.json`` its
dependencies. Files are written atomically; an unwritable folder only disables the disk level.

The folder keeps the :data:`MAX_ENTRIES` most recently used entries (``VIBENCH_CACHE_MAX``): a hit
marks its entry used, and a store past the limit removes the least recently used ones.

A folder another user could write in (:func:`vibench.models.untrusted`) is not used: the entries stay
in memory, and a warning says why once per folder. vibench creates the folder with mode 0700.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import os
import sys
import tempfile
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vibench._version import __version__

PACKAGE = "vibench.models"
MAX_ENTRIES = 1000
"""Default for ``VIBENCH_CACHE_MAX``: how many compiled models the cache folder keeps."""


@dataclass(frozen=True)
class Entry:
    module: types.ModuleType
    class_name: str


_memory: dict[str, Entry] = {}
# Held while an entry is looked up on disk, compiled or stored: threads building at once would
# otherwise import one module while another drops it from sys.modules (a KeyError from importlib).
# A hit in memory takes no lock; compilation is pure Python, so the lock costs threads no parallelism.
_lock = threading.RLock()


def cached(k: str, make: Callable[[], tuple[str, str, set[str]]]) -> Entry:
    """The entry of key ``k``: from memory, the folder, or ``make()`` -> (source, class name, files read)."""
    entry = _memory.get(k)
    if entry is not None:
        return entry
    with _lock:
        entry = lookup(k)
        if entry is None:
            entry = store(k, *make())
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
    payload = json.dumps([_installation(), spec_text, _jsonable(params or {}), _jsonable(inputs or {}), search],
                         sort_keys=True, default=repr)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


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
    except OSError:
        return None


def enabled() -> bool:
    return os.environ.get("VIBENCH_CACHE", "1") not in ("0", "off", "false", "no")


def lookup(k: str) -> Entry | None:
    """A cached model module for key ``k`` whose dependencies are unchanged, or None."""
    entry = _memory.get(k)
    if entry is not None:
        return entry
    if not enabled():
        return None
    from vibench.models import cache_dir

    folder = cache_dir()
    if not os.path.isdir(folder) or _refused(folder):
        return None
    meta_path = os.path.join(folder, f"m_{k}.json")
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or any(_file_hash(p) != h for p, h in meta.get("files", {}).items()):
        return None
    try:
        module = importlib.import_module(f"{PACKAGE}.m_{k}")
    except Exception:  # noqa: BLE001 - a damaged (or refused: not this user's) entry is a miss; compiled again
        sys.modules.pop(f"{PACKAGE}.m_{k}", None)
        return None
    with contextlib.suppress(OSError):
        os.utime(meta_path)  # recently used: the last to be evicted
    _pin_source(module)
    entry = Entry(module, str(meta.get("class")))
    _memory[k] = entry
    return entry


def store(k: str, source: str, class_name: str, files: set[str]) -> Entry:
    """Make the module of a freshly compiled model (on disk when the cache folder is writable)."""
    name = f"{PACKAGE}.m_{k}"
    module = None
    if enabled():
        module = _store_on_disk(k, source, class_name, files)
    if module is None:
        module = _load_in_memory(name, source)
    entry = Entry(module, class_name)
    _memory[k] = entry
    return entry


def _store_on_disk(k: str, source: str, class_name: str, files: set[str]) -> types.ModuleType | None:
    from vibench.models import cache_dir

    folder = cache_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if _refused(folder):
            return None
        _write(os.path.join(folder, f"m_{k}.py"), source)
        meta = {"class": class_name, "vibench": __version__, "files": {p: _file_hash(p) for p in sorted(files)}}
        _write(os.path.join(folder, f"m_{k}.json"), json.dumps(meta, indent=1))
        _evict(folder, f"m_{k}")
        sys.modules.pop(f"{PACKAGE}.m_{k}", None)  # an older compilation under this key (a template changed)
        module = importlib.import_module(f"{PACKAGE}.m_{k}")
        _pin_source(module)
        return module
    except (OSError, ImportError):
        return None


_warned: set[str] = set()


def _refused(folder: str) -> bool:
    """Whether the folder is not this user's alone (then the cache stays in memory; warned once)."""
    from vibench.models import untrusted

    reason = untrusted(folder)
    if reason is not None and folder not in _warned:
        import warnings

        _warned.add(folder)
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        frame: types.FrameType | None = sys._getframe(0)
        level = 1
        while frame is not None and frame.f_code.co_filename.startswith(package):  # to the caller of vibench
            frame, level = frame.f_back, level + 1
        warnings.warn(f"vibench keeps compiled models in memory only: {reason}; set VIBENCH_CACHE_DIR to a "
                      "folder of your own", RuntimeWarning, stacklevel=level)
    return reason is not None


def _pin_source(module: types.ModuleType) -> None:
    """Keep the module's source readable in this process after its file is evicted (by a later store
    here or in another process): ``inspect.getsource`` and ``torch.jit.script`` read it through
    linecache, whose entries without a modification time are never dropped by ``checkcache``. (A
    model built early in a sweep of more than ``VIBENCH_CACHE_MAX`` models could not be scripted.)"""
    import linecache

    filename = getattr(module, "__file__", None)
    if filename and linecache.getlines(filename):
        entry = linecache.cache[filename]
        if len(entry) == 4:  # (size, mtime, lines, fullname); a lazy entry has one item
            linecache.cache[filename] = (entry[0], None, entry[2], entry[3])


def max_entries() -> int:
    try:
        return max(1, int(os.environ.get("VIBENCH_CACHE_MAX", MAX_ENTRIES)))
    except ValueError:
        return MAX_ENTRIES


def _evict(folder: str, keep: str) -> None:
    """Remove the least recently used entries beyond :func:`max_entries` (never ``keep``)."""
    limit = max_entries()
    used: list[tuple[int, str]] = []
    with os.scandir(folder) as it:
        for item in it:
            stem, ext = os.path.splitext(item.name)
            if ext == ".json" and stem.startswith("m_") and stem != keep:
                with contextlib.suppress(OSError):
                    used.append((item.stat().st_mtime_ns, stem))
    excess = len(used) + 1 - limit
    if excess <= 0:
        return
    for _, stem in sorted(used)[:excess]:
        for ext in (".json", ".py"):  # the metadata first: a .py without it is never used
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, stem + ext))


def _write(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_in_memory(name: str, source: str) -> types.ModuleType:
    """The module without a file (the cache folder is off or unwritable): usable in this process."""
    import linecache

    if name in sys.modules:
        return sys.modules[name]
    filename = f"<vibench:{name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    sys.modules[name] = module
    exec(code, module.__dict__)  # noqa: S102 - vibench's own emitted source
    return module
