"""The upkeep of the build cache's folder (:func:`vibench.models.cache_dir`): writing its files,
refusing a folder that is not the user's alone, evicting old entries and emptying it. What an entry
holds and when it is used is :mod:`vibench.runtime.cache`'s; this module knows only files.

Files are written atomically (:func:`write`), through a temporary file named ``.vibench-tmp-*``
beside them; a write whose temporary file vanished (:func:`empty` in another process) is a failed
write, and the caller keeps the model in memory.

Every file is written, renamed, removed, listed and marked used relative to one handle on the folder,
opened and checked once (:func:`vibench.models.opened`), never by its path again, and never through a
link: a temporary file is created with ``O_EXCL | O_NOFOLLOW`` and its mode set on its descriptor. Writes
by path let anyone who may rename entries in a folder above the cache (a shared
``VIBENCH_CACHE_DIR=/tmp/x/models``) swap in a folder of their own after the check, with a link named as
the temporary file: ``chmod`` made another file of the user's readable by all, the rename put the link in
place, and eviction and ``utime`` reached into the swapped-in folder (a QA probe did).

An entry is a module ``m_<name>.py`` and its record ``m_<name>.json``; an index ``k_<key>`` names the
module a key's build uses now (:func:`read_index`). A module stays when its key's index names another
(a spec compiled again to other code): models saved whole before still load. The folder keeps the
:data:`MAX_ENTRIES` most recently used entries (``VIBENCH_CACHE_MAX``), and as many indexes: a hit
marks its entry and its index used, and a store past the limit removes the least recently used ones
(:func:`evict`; an index whose module is gone is a miss, compiled again).
A store also removes any ``.pyc`` an older vibench left in ``__pycache__``, and the temporary files
of writes killed midway, and the modules whose record was never written (a write that failed or was
killed between the two), that are older than :data:`TEMP_MAX_AGE_S` (a younger one may be another
process's write in progress). :func:`empty` removes every entry and every temporary file
(``vibench.clear_cache()``), and returns the errors of those that stay (a read-only folder), which
:func:`vibench.runtime.cache.clear` warns about.
Both remove vibench's names only (``m_<32 hex digits>.py`` and ``.json``,
``k_<key>``, ``.vibench-tmp-*``, and ``m_<32 hex digits>.*.pyc`` in ``__pycache__``): ``VIBENCH_CACHE_DIR`` may
name a folder of the user's, whose ``m_model.py``, ``m_notes.json`` or ``k_fold`` are theirs.

A folder another user could write in (:func:`vibench.models.untrusted`), or that is a symbolic link,
is not used (:func:`refused`): the entries stay in memory, and a warning says why once per folder; so
does an entry refused for the same reasons (:func:`warn`). vibench creates the folder, and each folder
above it that is missing (``~/.cache``, ``vibench``), with mode 0700 (:func:`make`). On a platform that
cannot open the folder safely (:data:`vibench.models.SAFE`: Windows) the folder is not used, silently.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import sys
import time
import types

MAX_ENTRIES = 1000
"""Default for ``VIBENCH_CACHE_MAX``: how many compiled models the cache folder keeps."""
TEMP_PREFIX = ".vibench-tmp-"
"""How the temporary files of the folder's writes begin: vibench's own, so that :func:`empty` and
eviction may remove those a killed process left."""
TEMP_MAX_AGE_S = 3600
"""A temporary file older than this (seconds since its last change) is a killed write's: eviction
removes it. A live write takes milliseconds."""

_warned: set[str] = set()
# a new file, never through a link, never one that is there: a temporary file of :func:`write`
_O_NOFOLLOW, _O_CLOEXEC = getattr(os, "O_NOFOLLOW", 0), getattr(os, "O_CLOEXEC", 0)
_O_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
# a folder in the cache folder (its __pycache__), never through a link
_O_SUBFOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_STEM = re.compile(r"m_[0-9a-f]{32}")
# The most bytes of an index read (:func:`read_index`): :func:`write_index` writes 35 (m_<32 hex digits> and a newline);
# a larger index is damaged and is refused by its size, unread (a 1 GiB one was read whole, 1.3 GB, to take 64 bytes).
_INDEX_BYTES = 64
# vibench's own names, the only files eviction and empty() remove: VIBENCH_CACHE_DIR may name a folder of the user's
# that holds their m_model.py, m_model.json or k_fold. A module or record (older vibench named a program's module
# m_p<key>), an index (a key: 32 hex digits, a program's prefixed with p), the bytecode older vibench left.
_ENTRY = re.compile(r"(m_p?[0-9a-f]{32})\.(py|json)")
_INDEX = re.compile(r"k_p?[0-9a-f]{32}")
_BYTECODE = re.compile(r"m_p?[0-9a-f]{32}\.[a-z0-9_-]+(\.opt-[0-9]+)?\.pyc")


def refused(folder: str) -> bool:
    """Whether the folder is not this user's alone (then the cache stays in memory; warned once)."""
    from vibench.models import SAFE, untrusted

    if not SAFE:
        return True
    reason = untrusted(folder)
    if reason is not None:
        warn(folder, f"vibench keeps compiled models in memory only: {reason}; set VIBENCH_CACHE_DIR to a "
             "folder of your own")
    return reason is not None


def warn(topic: str, message: str, *, once: bool = True) -> None:
    """A ``RuntimeWarning`` about the cache folder, at the caller of vibench: said once per ``topic`` (a folder, or
    a setting's value) in a process, or at every call without ``once`` (a :func:`vibench.clear_cache` that failed).
    The folder, or an entry in it, is refused (:class:`vibench.models.Refused`), cannot be used or emptied, or
    ``VIBENCH_CACHE_MAX`` is not a count (:func:`max_entries`)."""
    if once and topic in _warned:
        return
    import warnings

    _warned.add(topic)
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame: types.FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package):  # to the caller of vibench
        frame, level = frame.f_back, level + 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def unusable(folder: str, verb: str, err: OSError) -> str:
    """The warning (:func:`warn`) for a folder that cannot be ``verb`` (created, written): the error and its file (a
    rename's target; a name relative to the folder's handle made whole). Without it, a folder under a file or a
    ``k_<key>`` that is a folder kept every model in memory, compiled again in each process, silently."""
    return f"vibench keeps compiled models in memory only: {failure(folder, verb, err)}"


def failure(folder: str, verb: str, err: OSError) -> str:
    """``the cache folder <folder> cannot be <verb> (<the OS's reason>: <the file>)``."""
    name = err.filename2 if err.filename2 is not None else err.filename
    why = err.strerror or str(err)
    why = f"{why}: {os.path.join(folder, os.fsdecode(name))}" if name is not None else why
    return f"the cache folder {folder} cannot be {verb} ({why})"


def make(folder: str) -> None:
    """Create ``folder`` and each missing folder above it with mode 0700 (``os.makedirs`` gives its mode
    to the last folder only: under umask 002 the cache home and ``vibench`` were made 0775). An ``OSError`` when
    one cannot be made (a folder above is a file, no permission): the caller warns once
    (:func:`vibench.runtime.cache.store`) and keeps models in memory."""
    missing = []
    path = os.path.abspath(folder)
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            os.mkdir(path, 0o700)


def write(handle: int, name: str, text: str) -> None:
    """Write the file ``name`` of the folder that :func:`vibench.models.opened` gave ``handle`` for,
    atomically: a temporary file created there (``O_EXCL | O_NOFOLLOW``, a random name), its mode set on
    its descriptor, then renamed to ``name``, all relative to ``handle``. An OSError when it fails, also
    when the temporary file was removed meanwhile (:func:`empty` in another process): the caller keeps the
    model in memory. :class:`vibench.models.TooLarge`, nothing written, for a text of more than
    :data:`vibench.models.MAX_FILE_BYTES` bytes: the most the folder's readers take."""
    from vibench.models import MAX_FILE_BYTES, TooLarge

    data = text.encode("utf-8")  # the bytes its record's hash names
    if len(data) > MAX_FILE_BYTES:
        raise TooLarge(errno.EFBIG, f"{name} would hold {len(data):,} bytes, more than a cache file may "
                       f"({MAX_FILE_BYTES:,})")
    tmp = TEMP_PREFIX + secrets.token_hex(8)
    fd = os.open(tmp, _O_CREATE, 0o600, dir_fd=handle)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o644)
            fh.write(data)
        os.replace(tmp, name, src_dir_fd=handle, dst_dir_fd=handle)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=handle)
        raise


def touch(folder: str, names: tuple[str, ...]) -> None:
    """Mark the files ``names`` of ``folder`` used now (eviction removes the least recently used), through
    a checked handle on it and without following a link; nothing when the folder or a file is gone or the
    folder is refused."""
    from vibench.models import Refused, opened

    with contextlib.suppress(OSError, Refused), opened(folder) as handle:
        for name in names:
            with contextlib.suppress(OSError):
                os.utime(name, dir_fd=handle, follow_symlinks=False)


def read_index(handle: int, folder: str, key: str) -> str | None:
    """The stem (``m_<name>``) of the module that key ``key``'s build uses now, read through the folder's
    checked ``handle`` (:func:`vibench.models.opened`), or None when its index is missing or damaged
    (:class:`vibench.models.Refused` when another user could have written it)."""
    from vibench.models import read

    try:
        stem = read(handle, folder, f"k_{key}", _INDEX_BYTES).decode("ascii").strip()
    except (OSError, ValueError):  # missing, a folder (IsADirectoryError), larger than written (TooLarge), not ASCII
        return None
    return stem if _STEM.fullmatch(stem) else None


def write_index(handle: int, key: str, stem: str) -> None:
    write(handle, f"k_{key}", stem + "\n")


def max_entries() -> int:
    """``VIBENCH_CACHE_MAX``, or :data:`MAX_ENTRIES` when unset. A value that is no whole number (``abc``, ``1e3``,
    empty) keeps the default, and one below 1 means 1 (the model just stored): either with a ``RuntimeWarning``,
    once per value (it was silent)."""
    raw = os.environ.get("VIBENCH_CACHE_MAX")
    if raw is None:
        return MAX_ENTRIES
    shown = f"VIBENCH_CACHE_MAX={raw[:40]!r}" + ("..." if len(raw) > 40 else "")
    try:
        count = int(raw)
    except ValueError:  # also a number of more than 4,300 digits, which int() refuses
        warn(f"VIBENCH_CACHE_MAX={raw}", f"vibench cannot read {shown} as a whole number: the cache folder keeps "
             f"the default, {MAX_ENTRIES:,} models")
        return MAX_ENTRIES
    if count < 1:
        warn(f"VIBENCH_CACHE_MAX={raw}", f"{shown} is below 1: the cache folder and memory keep 1 model each, the "
             "one used last (VIBENCH_CACHE=0 leaves the folder unused)")
    return max(1, count)


def evict(handle: int, keep: str, key: str) -> None:
    """Remove, from the folder that :func:`vibench.models.opened` gave ``handle`` for, the least recently
    used entries and indexes beyond :func:`max_entries` (never the entry ``keep`` or the index of ``key``),
    the bytecode older vibench versions wrote, and temporary files and modules without a record older
    than :data:`TEMP_MAX_AGE_S`. The folder is listed and its files removed relative to ``handle``."""
    limit = max_entries()
    used: list[tuple[int, str]] = []
    indexes: list[tuple[int, str]] = []
    modules: dict[str, float] = {}  # stem -> time of an m_<name>.py
    records: set[str] = set()
    stale = time.time() - TEMP_MAX_AGE_S
    with os.scandir(handle) as it:
        for item in it:
            entry = _ENTRY.fullmatch(item.name)
            stem = entry[1] if entry else ""
            if entry and entry[2] == "json":
                records.add(stem)
                if stem != keep:
                    with contextlib.suppress(OSError):
                        used.append((item.stat(follow_symlinks=False).st_mtime_ns, stem))
            elif entry and stem != keep:
                with contextlib.suppress(OSError):
                    modules[stem] = item.stat(follow_symlinks=False).st_mtime
            elif _INDEX.fullmatch(item.name) and item.name != f"k_{key}":
                with contextlib.suppress(OSError):
                    indexes.append((item.stat(follow_symlinks=False).st_mtime_ns, item.name))
            elif item.name == "__pycache__" and item.is_dir(follow_symlinks=False):
                _remove_bytecode(handle)
            elif item.name.startswith(TEMP_PREFIX):
                with contextlib.suppress(OSError):
                    if item.stat(follow_symlinks=False).st_mtime < stale:
                        os.unlink(item.name, dir_fd=handle)
    for stem in sorted(set(modules) - records):  # a record write that failed or was killed: never used
        if modules[stem] < stale:
            with contextlib.suppress(OSError):
                os.unlink(f"{stem}.py", dir_fd=handle)
    for _, stem in sorted(used)[:max(0, len(used) + 1 - limit)]:
        _remove_entry(handle, stem)
    for _, name in sorted(indexes)[:max(0, len(indexes) + 1 - limit)]:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=handle)


def empty(folder: str) -> list[OSError]:
    """Remove every entry in ``folder`` (its ``m_<32 hex digits>.py`` and ``.json`` files and its
    ``k_<key>`` indexes) and the ``.vibench-tmp-*`` files of writes (one in progress in another process
    then fails, and keeps its model in memory); nothing else in the folder is touched (a user's own
    ``m_model.py`` or ``k_fold`` in a ``VIBENCH_CACHE_DIR`` of theirs stays), and nothing in a folder
    vibench does not use (missing, or :func:`refused`). The folder is listed and its files removed through
    one checked handle on it (:func:`vibench.models.opened`). Returns the errors of the files that stay (a
    read-only folder), or of the folder that could not be listed, for the caller to report; a file or folder
    removed meanwhile (another process's ``clear_cache``) is no error."""
    from vibench.models import Refused, opened

    failed: list[OSError] = []
    if not os.path.isdir(folder) or refused(folder):  # a folder vibench does not use holds nothing of its
        return failed
    try:
        with opened(folder) as handle:
            with os.scandir(handle) as it:
                names = [item.name for item in it]
            stems = {entry[1] for entry in map(_ENTRY.fullmatch, names) if entry}
            for stem in sorted(stems):
                _remove_entry(handle, stem, failed)
            for name in names:
                if name.startswith(TEMP_PREFIX) or _INDEX.fullmatch(name):
                    _remove(handle, name, failed)
            if "__pycache__" in names:
                _remove_bytecode(handle)
    except (FileNotFoundError, Refused):  # gone, or swapped meanwhile
        pass
    except OSError as err:  # it cannot be opened or listed: an error naming no file (it named the folder, or a handle)
        failed.append(OSError(err.errno, err.strerror))
    return failed


def _remove_entry(handle: int, stem: str, failed: list[OSError] | None = None) -> None:
    for ext in (".json", ".py"):  # the record first: a .py without it is never used
        _remove(handle, stem + ext, failed)


def _remove(handle: int, name: str, failed: list[OSError] | None) -> None:
    """Remove the file ``name`` of the folder of ``handle``; an error other than its absence (removed meanwhile) is
    added to ``failed``, or ignored without it (eviction: the next store tries again)."""
    try:
        os.unlink(name, dir_fd=handle)
    except FileNotFoundError:
        pass
    except OSError as err:
        if failed is not None:
            failed.append(err)


def _remove_bytecode(handle: int) -> None:
    """Delete the cache modules' ``.pyc`` files (``m_<32 hex digits>.<tag>.pyc``) in the ``__pycache__`` of the
    folder of ``handle`` (this version never reads or writes them), opened without following a link, and that
    folder when nothing else is left in it."""
    try:
        pycache = os.open("__pycache__", _O_SUBFOLDER, dir_fd=handle)
    except OSError:  # none, or not a folder (a link)
        return
    try:
        with contextlib.suppress(OSError), os.scandir(pycache) as it:
            for item in it:
                if _BYTECODE.fullmatch(item.name):
                    with contextlib.suppress(OSError):
                        os.unlink(item.name, dir_fd=pycache)
    finally:
        os.close(pycache)
    with contextlib.suppress(OSError):
        os.rmdir("__pycache__", dir_fd=handle)
