"""The names that mean a file descriptor rather than a file (``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/1``),
given as they are, through symbolic links to them or through folder links (``fds -> /proc/self/fd``):
:func:`descriptor`. :mod:`vibench.compiler.outputs` writes such a name as a stream or refuses it; the file or pipe
behind it must never be replaced. Split out of that module, which holds the writing. And how a message names a
link that leads to no file (:func:`broken_link`), which reading a spec says too."""

from __future__ import annotations

import os
import re

from vibench.compiler.display import clip_path

_STREAMS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
_DESCRIPTOR_FOLDERS = ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")
STREAM_NAMES = {0: "standard input", 1: "standard output", 2: "standard error"}
MAX_HOPS = 40  # as Linux's own limit on the links one path may follow (ELOOP)


def descriptor(path: str) -> int | None:
    """The file descriptor a path names (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``: 1), or through
    symbolic links to such a name (``so.py -> /dev/stdout``) or through folder links (``fds/1``, ``fds ->
    /proc/self/fd``), or None for any other path. Never resolved past that name: its link leads to whatever the
    descriptor holds (the log that standard output appends to, ``pipe:[...]``), which an atomic write would replace
    (through a link to it, the write went to a file named ``pipe:[...]`` in /proc and failed, 'No such file or
    directory'). Each step's folder is resolved on disk (:func:`_folder_resolved`), as the kernel opens it."""
    if os.name != "posix":
        return None
    named = descriptor_named(path)  # as written first: `/dev/fd/1` resolved is /proc/<pid as /proc sees it>/fd/1,
    if named is not None:  # another number than os.getpid() in a pid namespace that shares the host's /proc
        return named
    hop = _folder_resolved(path)
    for _ in range(MAX_HOPS):
        number = descriptor_named(hop)
        if number is not None:
            return number
        try:
            to = os.readlink(hop)
        except OSError:  # no link (or not one we may read): a file, whatever its folders lead to
            return None
        hop = _folder_resolved(os.path.join(os.path.dirname(hop), to))  # an absolute target replaces the path whole
    return None


def _folder_resolved(path: str) -> str:
    """``path`` with its folder resolved on disk (links and ``..`` as the kernel follows them) and its last name
    kept as written, to be read as a link or a descriptor's name: a folder link (``fds -> /proc/self/fd``) hid
    ``fds/1``, and ``..`` resolved by name in a link reached through one (``L/x -> ../../dev/stdout``) named a
    file other than the one opened. ``/dev/fd/1`` becomes ``/proc/<pid>/fd/1`` (:func:`descriptor_named`)."""
    folder, last = os.path.split(path)
    return os.path.join(os.path.realpath(folder or os.curdir), last)


# /proc/<this process>/fd/N, or a thread's (/proc/thread-self/fd/N resolved: /proc/<pid>/task/<tid>/fd/N)
_PROC_DESCRIPTOR = re.compile(r"/proc/(\d+)(?:/task/\d+)?/fd/(\d+)", re.ASCII)


def descriptor_named(path: str) -> int | None:
    """The descriptor ``path`` names as written, with ``//``, ``/./`` and a relative path normalised."""
    where = os.path.abspath(path)  # no link followed (:func:`descriptor` resolved the folders first)
    if where in _STREAMS:
        return _STREAMS[where]
    for folder in _DESCRIPTOR_FOLDERS:
        number = where[len(folder):]
        if where.startswith(folder) and number.isascii() and number.isdigit():
            return int(number)
    proc = _PROC_DESCRIPTOR.fullmatch(where)
    if proc is not None and int(proc.group(1)) in _own_pids():
        return int(proc.group(2))
    return None


def _own_pids() -> set[int]:
    """This process's pid, as it knows it and as /proc shows it (they differ in a pid namespace that shares the
    host's /proc: a sandbox, `unshare -p` without a new /proc)."""
    pids = {os.getpid()}
    try:
        pids.add(int(os.readlink("/proc/self")))
    except (OSError, ValueError):
        pass
    return pids


def broken_link(path: str) -> str:
    """How a message names a symbolic link that leads to no file: 'is a symbolic link that leads round
    in a loop, to no file' (``a -> b -> a``) or 'is a dangling symbolic link ...'; '' for any other path."""
    if not os.path.islink(path) or os.path.exists(path):
        return ""
    if os.path.islink(os.path.realpath(path)):  # realpath stops where links go round
        return "is a symbolic link that leads round in a loop, to no file"
    try:
        to = f" (to {clip_path(os.readlink(path))}, which does not exist)"
    except OSError:
        to = ""
    return f"is a dangling symbolic link{to}"
