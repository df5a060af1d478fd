"""The modules of models that :func:`vibench.build` compiled, importable by name.

``vibench.build`` writes each compiled model.py into the user cache folder as ``m_<hash>.py``, a hash
of its build's key and of its source, so that a name stands for one code (see
:mod:`vibench.runtime.cache`), and imports it as ``vibench.models.m_<hash>``, so a model saved whole
with ``torch.save(model)`` loads in another process with ``torch.load(path, weights_only=False)`` as
long as vibench is installed and the cache file is there. (``model.state_dict()`` with the emitted
model.py, or with ``vibench.build`` of the same spec, is the portable way.) While ``VIBENCH_CACHE=0`` turns the
folder off, nothing is imported from it: loading a model saved whole is an ``ImportError`` saying so.

The modules are found by :class:`_CacheFinder`, which goes straight to the file its name gives. The
path-based finder would list the folder instead, again after every write: with 100,000 entries one
listing took 27 ms, paid by every build that compiled (measured, 12-03).

Code is imported from the folder only while nobody else can have written it. The folder is opened once
(:func:`opened`: ``O_DIRECTORY | O_NOFOLLOW``, so its last part is no symbolic link) and checked on that
handle: it belongs to this user and no other user may write in it. The module and its record are opened
relative to that handle (``O_NOFOLLOW``), each checked on its own handle (a regular file of this user's
that no other user may write) and read from it, and the module runs from the bytes read, never from the
file again. Checking paths and then reading them by path again let anyone who may rename entries in a
folder above the cache (a shared ``VIBENCH_CACHE_DIR=/tmp/x/models``) swap in a folder of their own
between the check and the read (a probe did, in 0.1 s). A platform that cannot open a folder that way
(Windows) keeps the cache in memory (:data:`SAFE`).

:class:`_CacheLoader` runs the module's source only when it is the source its entry's record
(``m_<hash>.json``) names, compiled at each import: bytecode is never read or written. A ``.pyc`` is
valid for Python while the source keeps its whole-second time and size, so a module rewritten within
one second at the same size ran the old code, and a ``__pycache__`` another user could write in ran
theirs (the trade: 2 to 3.5 ms of compilation per model per process, see :mod:`vibench.runtime.cache`).
The lines it ran are what ``inspect`` and ``torch.jit.script`` read (``linecache``), so they stay
readable after the file is evicted or removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.abc
import importlib.util
import json
import linecache
import os
import stat
import sys
import types
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from typing import Any

_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# O_NONBLOCK: opening a FIFO left in the folder returns at once (it is then refused: not a regular file)
_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
SAFE = (os.name == "posix" and bool(_O_DIRECTORY and _O_NOFOLLOW) and hasattr(os, "fchmod")
        and {os.open, os.stat, os.rename, os.unlink, os.rmdir, os.utime} <= os.supports_dir_fd
        and os.scandir in os.supports_fd and os.utime in os.supports_follow_symlinks)
"""Whether this platform opens the cache folder without following a link at its last part, and reads,
writes, renames, removes, lists and marks its files relative to that handle (POSIX). Elsewhere (Windows)
the cache folder is not used: models stay in memory."""

_named: dict[str, str] = {}  # a relative VIBENCH_CACHE_DIR -> the folder it named when first used

MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest file vibench writes in the cache folder (``vibench.runtime.cache_folder.write`` refuses a larger one:
its model stays in memory), so the largest it reads: a larger one is damaged (``truncate -s 1G``) and is refused by
its size on its handle, unread (:func:`read`), a miss. A model at the default node limit (``MAX_NODES``, 100,000) emits
about 13 MB of code (130 bytes a node, measured) and its ``METADATA`` at most 1 MB; a record lists at most a
compilation's 2,000 spec files and its plug-in's modules, well under it. Read whole, a damaged 1 GiB one cost 1.3 GB."""
OFF = ("0", "off", "false", "no")
"""The values of ``VIBENCH_CACHE`` that turn the cache folder off (:func:`folder_on`)."""


class Refused(ImportError):
    """Code in the cache folder that another user could have written: never imported."""


class TooLarge(OSError):
    """A file in the cache folder larger than vibench writes there (:data:`MAX_FILE_BYTES`): damaged, never read."""


def folder_on() -> bool:
    """Whether ``VIBENCH_CACHE`` leaves the cache folder on: ``0``, ``off``, ``false`` or ``no``, in any case and
    with spaces around (``OFF``, `` 0``: a switch meant for a hermetic run must not miss on spelling), keep models in
    memory, and nothing is read from the folder, nor imported from it (:class:`_CacheFinder`). Unset or empty: on."""
    return os.environ.get("VIBENCH_CACHE", "1").strip().lower() not in OFF


def cache_dir() -> str:
    """``$VIBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/vibench/models``, else ``~/.cache/vibench/models``.

    A relative ``VIBENCH_CACHE_DIR`` names a folder of the working folder at its first use in the process
    (a later ``os.chdir`` does not move the cache); a relative ``XDG_CACHE_HOME`` is ignored, as the XDG
    specification says."""
    explicit = os.environ.get("VIBENCH_CACHE_DIR")
    if explicit:
        if os.path.isabs(explicit):
            return os.path.abspath(explicit)
        folder = _named.get(explicit)
        return folder if folder is not None else _named.setdefault(explicit, os.path.abspath(explicit))
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vibench", "models")


def _not_private(st: os.stat_result, what: str, path: str) -> str | None:
    """Why what ``st`` describes may hold another user's writing, or None: it is this user's, and
    neither group nor others may write it."""
    if st.st_uid != os.geteuid():
        return f"{what} {path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"{what} {path} is writable by other users (mode {st.st_mode & 0o777:o}; `chmod go-w` it)"
    return None


@contextlib.contextmanager
def opened(folder: str) -> Iterator[int]:
    """A handle on the cache folder, opened without following a link at its last part and checked on
    that handle (:class:`Refused` when it is a link, another user's, or others may write in it);
    ``FileNotFoundError`` when there is none. Read its files with :func:`read`."""
    if not SAFE:
        raise Refused("this platform cannot open the cache folder without following links")
    try:
        handle = os.open(folder, _O_READ | _O_DIRECTORY | _O_NOFOLLOW)
    except OSError:
        if os.path.islink(folder):
            raise Refused(f"the cache folder {folder} is a symbolic link (set VIBENCH_CACHE_DIR to the folder "
                          "it leads to)") from None
        raise
    try:
        problem = _not_private(os.fstat(handle), "the cache folder", folder)
        if problem is not None:
            raise Refused(problem)
        yield handle
    finally:
        os.close(handle)


def read(handle: int, folder: str, name: str, limit: int | None = None) -> bytes:
    """The bytes of the file ``name`` of the folder that :func:`opened` gave ``handle`` for, read from the
    very handle it was checked on: a regular file (no link followed) of this user's that no other user
    may write, else :class:`Refused`; ``FileNotFoundError`` when there is none; :class:`TooLarge`, unread, when
    it holds more than ``limit`` bytes (the most vibench writes as that file; by default :data:`MAX_FILE_BYTES`)."""
    limit = MAX_FILE_BYTES if limit is None else limit
    path = os.path.join(folder, name)
    what = "the cached module" if name.endswith(".py") else "the cache file"
    try:
        fd = os.open(name, _O_READ | _O_NOFOLLOW, dir_fd=handle)
    except OSError:
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.lstat(name, dir_fd=handle).st_mode):
                raise Refused(f"{what} {path} is a symbolic link") from None
        raise
    with open(fd, "rb") as fh:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{what} {path} is not a regular file")
        problem = _not_private(st, what, path)
        if problem is not None:
            raise Refused(problem)
        raw = fh.read(limit + 1) if st.st_size <= limit else b""  # bounded also when the file grew after fstat
        if st.st_size > limit or len(raw) > limit:
            raise TooLarge(errno.EFBIG, f"{path} holds more than the {limit:,} bytes vibench writes there (damaged)")
        return raw


def untrusted(folder: str) -> str | None:
    """Why code in ``folder`` must not be imported, or None when it may (see :func:`opened`)."""
    try:
        with opened(folder):
            return None
    except Refused as err:
        return str(err)
    except OSError as err:
        return f"the cache folder {folder} cannot be opened ({err.strerror or err})"


def entry_problem(source: bytes, record: bytes | None, record_path: str, module_path: str) -> str | None:
    """Why ``source``, read from ``module_path`` (an ``m_<hash>.py``), is not the source that ``record``
    (its ``m_<hash>.json``, read from ``record_path``; None: missing) names by its SHA-256 (a truncated
    file, one rewritten since), or None when it is."""
    try:
        meta = json.loads(record.decode("utf-8")) if record is not None else None
    except Exception:  # noqa: BLE001 - any record that cannot be read (nested too deep: RecursionError) is damaged
        meta = None
    if not isinstance(meta, dict):
        return f"its record {record_path} is missing or damaged"
    recorded = meta.get("source")
    if not isinstance(recorded, str):
        return f"its record {record_path} names no source hash (written by an older vibench)"
    if hashlib.sha256(source).hexdigest() != recorded:
        return f"{module_path} is not the source its record names (damaged or rewritten)"
    return None


class _CacheLoader(importlib.abc.Loader):
    """Runs a cache module from the bytes :class:`_CacheFinder` read and checked (``source``, with the
    ``record`` that names them): never the file again, no bytecode."""

    def __init__(self, name: str, path: str, source: bytes, record: bytes) -> None:
        self.name, self.path, self.source, self.record = name, path, source, record

    def get_filename(self, fullname: str | None = None) -> str:
        return self.path

    def is_package(self, fullname: str) -> bool:
        return False

    def get_source(self, fullname: str) -> str:
        return importlib.util.decode_source(self.source)

    def get_code(self, fullname: str) -> types.CodeType:
        return compile(self.source, self.path, "exec", dont_inherit=True)

    def exec_module(self, module: types.ModuleType) -> None:
        code = self.get_code(module.__name__)
        # The lines that run, for inspect and torch.jit.script, also once the file is evicted: linecache
        # never drops an entry without a modification time, nor reads the file again for it.
        lines = self.get_source(module.__name__).splitlines(keepends=True)
        linecache.cache[self.path] = (len(self.source), None, lines, self.path)
        exec(code, module.__dict__)  # noqa: S102 - vibench's own emitted source, checked against its record


class _CacheFinder:
    """Finds ``vibench.models.m_<hex>`` at ``<cache_dir()>/m_<hex>.py``, and nothing else; while ``VIBENCH_CACHE``
    turns the folder off (:func:`folder_on`), nothing: an ``ImportError`` says so (the docs promise the folder
    unused then, and a hermetic run relies on it)."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        prefix = __name__ + ".m_"
        if not name.startswith(prefix) or not all(ch in "0123456789abcdefp" for ch in name[len(prefix):]):
            return None
        if not SAFE:
            return None
        folder = cache_dir()
        stem = name[len(__name__) + 1:]
        file, record_path = os.path.join(folder, stem + ".py"), os.path.join(folder, stem + ".json")
        if not folder_on():  # off for a hermetic run: a model saved whole must not run code from the folder
            raise ImportError(f"vibench does not import {name} from the cache folder {folder}: "
                              f"VIBENCH_CACHE={os.environ.get('VIBENCH_CACHE')} turned the folder off; unset "
                              "VIBENCH_CACHE to load a model saved whole, or save and load its state_dict() "
                              "with vibench.build of its spec instead", name=name, path=file)
        try:
            with opened(folder) as handle:
                source = read(handle, folder, stem + ".py")
                try:
                    record: bytes | None = read(handle, folder, stem + ".json")
                except (FileNotFoundError, TooLarge):  # a record larger than vibench writes is damaged
                    record = None
        except FileNotFoundError:  # no folder, or no such module in it
            return None
        except Refused as err:
            raise Refused(f"vibench refuses to import {name}: {err}", name=name, path=file) from None
        except TooLarge as err:
            raise ImportError(f"vibench refuses to import {name}: {err.strerror}; vibench.build compiles it again",
                              name=name, path=file) from None
        except OSError as err:
            raise ImportError(f"vibench cannot read {name}: {err.strerror or err}", name=name, path=file) from None
        problem = entry_problem(source, record, record_path, file)
        if problem is not None or record is None:
            raise ImportError(f"vibench refuses to import {name}: {problem}; vibench.build compiles it again",
                              name=name, path=file)
        spec = ModuleSpec(name, _CacheLoader(name, file, source, record), origin=file)
        spec.has_location = True  # __file__: the file it was read from
        return spec


if not any(finder is _CacheFinder or type(finder).__name__ == "_CacheFinder" for finder in sys.meta_path):
    sys.meta_path.insert(0, _CacheFinder)  # type: ignore[arg-type]

__path__ = []  # type: ignore[var-annotated]  # nothing here is found by listing a folder
