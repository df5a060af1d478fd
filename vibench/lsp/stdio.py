"""The server's own channel to the client: standard input and output taken for the protocol alone.

LSP over stdio owns standard output: a byte that is not the protocol's (a plug-in's ``print``, its
``os.write(1, ...)``, a message it forges) breaks the stream or is read as a message of the server. So
:func:`take_stdio` moves the protocol to private duplicates of file descriptors 0 and 1 before the server
runs anything else (plug-ins are imported later, when the first check loads the block registry), then
points descriptor 1 and ``sys.stdout`` at standard error and descriptor 0 at the null device, so that
what the process prints goes to the client's log and nothing it reads steals the client's messages.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO


def take_stdio() -> tuple[BinaryIO, BinaryIO]:
    """(input, output) of the protocol: the process's standard input and output as they were; from
    now on descriptor 1 and ``sys.stdout`` write to standard error (to the null device when that is
    closed), descriptor 0 (so ``sys.stdin``) reads the null device."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
    # A descriptor 0-2 the process was started without (`2>&-`) is the null device first: else the dup
    # below would take its number, and standard error would then be a copy of the protocol's channel.
    closed = [fd for fd in (0, 1, 2) if not _is_open(fd)]
    for fd in closed:
        _to_null(fd, os.O_RDONLY if fd == 0 else os.O_WRONLY)
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    log = sys.stderr if 2 not in closed else None  # started with standard error closed: printing goes nowhere
    _to_null(0, os.O_RDONLY)
    sys.stdout = log if log is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - for the process's life
    return channel_in, channel_out


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _to_null(fd: int, mode: int) -> None:
    null = os.open(os.devnull, mode)
    if null == fd:  # ``fd`` was closed: the null device took its number
        return
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
