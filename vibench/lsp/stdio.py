"""The server's own channel to the client: standard input and output taken for the protocol alone.

LSP over stdio owns standard output: a byte that is not the protocol's (a plug-in's ``print``, its
``os.write(1, ...)``, a message it forges) breaks the stream or is read as a message of the server. So
:func:`take_stdio` moves the protocol to private duplicates of file descriptors 0 and 1 before the server
runs anything else (plug-ins are imported later, when the first check loads the block registry), then
points descriptor 1 and ``sys.stdout`` at standard error and descriptor 0 at the null device, so that
what the process prints goes to the client's log and nothing it reads steals the client's messages.

:func:`read_message` frames the messages on the protocol's input, in place of pygls' read loop, which died of
a ``Content-Length`` it could not allocate (MemoryError at 100000000000000, OverflowError at 20 digits), waited
for 4 GB at ``4000000000`` and lost every message after it, and took ``content-length:`` (header names are
case-insensitive) for no header. A length beyond :data:`MAX_MESSAGE_BYTES` is refused without reading its body
(:class:`Refused`); what follows a refused or malformed header is skipped up to the next ``Content-Length``
header, so the client's later messages are read (a valid JSON body holds no line that looks like one). So is a
header block with two ``Content-Length`` headers that disagree.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass
from typing import BinaryIO

from vibench.lsp.spec_kind import MAX_BYTES

logger = logging.getLogger("vibench.lsp")

MAX_MESSAGE_BYTES = 6 * MAX_BYTES + 2**20
"""The longest message body read: a document of :data:`~vibench.lsp.spec_kind.MAX_BYTES` (the most the server reads
of one) in a ``didOpen``, written as JSON may write it (a control character as ``\\u0001``: six bytes for one),
and a MiB for the rest of the message. A longer one is refused unread (:class:`Refused`)."""
MAX_HEADER_LINE = 2**16
"""The longest header line read as one: a longer line is no header (LSP's are a few dozen bytes)."""
MAX_HEADER_LINES = 100
"""The most lines of one header block (LSP sends two): a longer block is no message's, read to its end unkept."""
MAX_HEADER_BYTES = 2**16
"""The most bytes of one header block kept; a longer block is no message's either."""
# `Name: value`, a line. The value is every character up to the line break, its blanks stripped afterwards: a
# pattern that trims them itself (`[ \t]*(.*?)[ \t]*`) tries each split of a run of blanks, cubic in its length.
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:([^\r\n]*)\r?\n")
# a Content-Length header after bytes that are no message (the rest of a body whose length was given short)
_LENGTH_AFTER = re.compile(rb"content-length[ \t]*:[ \t]*([0-9]+)[ \t]*\r?\n\Z", re.I)


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


@dataclass(frozen=True)
class Refused:
    """A message whose ``Content-Length`` is beyond :data:`MAX_MESSAGE_BYTES`: not read (a request among such is
    never answered: its id is in the body)."""

    length: str  # as written


def read_message(stream: BinaryIO) -> bytes | Refused | None:
    """The body of the next message on ``stream`` (``Name: value`` header lines, the names in any case, then an
    empty line, then ``Content-Length`` bytes); :class:`Refused` for one too long to read; None at the end of the
    stream. Bytes that are no message, and a header block without a length, with a line that is no header, with
    two lengths that disagree, or beyond :data:`MAX_HEADER_LINES` lines or :data:`MAX_HEADER_BYTES` bytes, are
    skipped, with a line in the log, up to the next header. Blocks until a message has come."""
    while True:
        headers = _headers(stream)
        if headers is None:
            return None
        length = headers.get(b"content-length")
        if length is not None and length.isdigit():
            break
        problem = headers.get(b"") or (
            b"no Content-Length" if length is None else b"Content-Length %r is no number of bytes" % length[:40]
        )
        logger.warning("vibench-lsp: a message skipped: %s", problem.decode("ascii", "replace"))
    digits = _digits(length)
    if len(digits) > 20 or int(digits) > MAX_MESSAGE_BYTES:  # (a 10,000-digit length is no int to make)
        return Refused(digits[:40].decode("ascii"))
    body = stream.read(int(digits))
    return body if len(body) == int(digits) else None


def _headers(stream: BinaryIO) -> dict[bytes, bytes] | None:
    """The next header block, by lower-case name (``b""``: what makes it no header block); None at the end. A
    block beyond :data:`MAX_HEADER_LINES` lines or :data:`MAX_HEADER_BYTES` bytes is read to its end without
    keeping its lines (2,000,000 distinct lines without an empty one held 206 MB)."""
    skipped = 0
    line = b""
    while True:  # up to the first header line: a `Name: value` line, or a Content-Length after other bytes
        previous, line = line, stream.readline(MAX_HEADER_LINE)
        if not line:
            return None
        if _HEADER.fullmatch(line):
            break
        after = _LENGTH_AFTER.search(previous[-64:] + line) if line.endswith(b"\n") else None
        if after is not None:
            skipped += len(line) - len(after.group())
            line = after.group()
            break
        skipped += len(line)
    if skipped:
        logger.warning("vibench-lsp: %d bytes that are no message skipped", skipped)
    headers: dict[bytes, bytes] = {}
    lines, size = 0, 0
    disagree = b""
    while line not in (b"\r\n", b"\n"):
        lines, size = lines + 1, size + len(line)
        if lines > MAX_HEADER_LINES or size > MAX_HEADER_BYTES:
            headers = {b"": b"a header block of more than %d lines or %d bytes" % (MAX_HEADER_LINES, MAX_HEADER_BYTES)}
        elif (header := _HEADER.fullmatch(line)) is None:
            headers[b""] = b"a header line is no `Name: value`: %r" % line[:80]
        else:
            name, value = header.group(1).lower(), header.group(2).strip(b" \t")
            if name == b"content-length" and name in headers and _digits(headers[name]) != _digits(value):
                disagree = b"two Content-Length headers disagree: %s and %s" % (headers[name][:40], value[:40])
            headers[name] = value
        line = stream.readline(MAX_HEADER_LINE)
        if not line:
            return None
    if disagree and b"content-length" in headers:
        # a block with no length to trust: whichever was taken (pygls' reader took the last) read the wrong body,
        # and a longer one swallowed the next request
        del headers[b"content-length"]
        headers[b""] = disagree
    return headers


def _digits(length: bytes) -> bytes:
    """A length as written without its leading zeros: `0007` is 7, however many zeros it is written with."""
    return length.lstrip(b"0") or b"0"
