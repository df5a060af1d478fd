"""What the spec files a compilation read held (:func:`recording_reads`): the SHA-256 of the bytes read, which
``vibench.build``'s cache keeps its entry on. Imports nothing of the compiler, so that the loader can record into
it (spec_files.py, which finds files, reads them through the loader)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

CHANGED_WHILE_READ = "changed"
"""What :func:`recording_reads` holds for a file read twice with other bytes: no file's SHA-256."""

_READS: ContextVar[dict[str, str] | None] = ContextVar("vibench_spec_reads", default=None)


@contextlib.contextmanager
def recording_reads() -> Iterator[dict[str, str]]:
    """The SHA-256 of the bytes of each spec file read while the block runs (in this thread or task), by real
    path: what a compilation was made from, which ``vibench.build``'s cache keeps its entry on (a file edited
    meanwhile, even before the compilation ended, is another file than the one it read);
    :data:`CHANGED_WHILE_READ` for a file read twice with other bytes.

    >>> from vibench.compiler.load import read_spec_file
    >>> from vibench.compiler.spec_files import LIBRARY_DIR
    >>> spec = os.path.join(LIBRARY_DIR, "cnn", "ResNet1D.yaml")
    >>> with recording_reads() as reads:
    ...     _ = read_spec_file(spec)
    >>> len(reads[os.path.realpath(spec)])
    64
    """
    reads: dict[str, str] = {}
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


def note_read(path: str, raw: bytes) -> None:
    """Record the bytes ``raw`` just read from the spec file ``path`` (:func:`recording_reads`)."""
    reads = _READS.get()
    if reads is None:
        return
    real, digest = os.path.realpath(path), hashlib.sha256(raw).hexdigest()
    if reads.setdefault(real, digest) != digest:
        reads[real] = CHANGED_WHILE_READ
