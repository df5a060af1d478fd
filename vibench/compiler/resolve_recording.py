"""What a compilation's spec lookups did not find and which links they went through, recorded for
``vibench.build``'s cache (:func:`recording_absent`, :func:`recording_links`): every
:class:`~vibench.compiler.resolve.Library` made while such a block runs adds to the set or map it yields.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_ABSENT: ContextVar[set[str] | None] = ContextVar("vibench_library_absent", default=None)
_LINKS: ContextVar[dict[str, str] | None] = ContextVar("vibench_library_links", default=None)


@contextlib.contextmanager
def recording_absent() -> Iterator[set[str]]:
    """The ``absent`` paths of every :class:`Library` made while the block runs (in this thread or
    task): how ``vibench.build`` learns what its compilation's lookups did not find, since
    :func:`~vibench.compiler.pipeline.compile_program` keeps its Library to itself.

    >>> from vibench.compiler.resolve import Library
    >>> with recording_absent() as absent:
    ...     _ = Library().find("cnn/ResNet1D", "/nowhere", None)
    >>> sorted(absent)[:1]
    ['/nowhere/cnn/ResNet1D.json']
    """
    absent: set[str] = set()
    token = _ABSENT.set(absent)
    try:
        yield absent
    finally:
        _ABSENT.reset(token)


@contextlib.contextmanager
def recording_links() -> Iterator[dict[str, str]]:
    """The ``links`` of every :class:`Library` made while the block runs (in this thread or task): each
    path a lookup took that is not the real path it read (a link on the way) -> that real path.

    >>> from vibench.compiler.resolve import Library
    >>> with recording_links() as links:
    ...     _ = Library().find("cnn/ResNet1D", None, None)
    >>> links
    {}
    """
    links: dict[str, str] = {}
    token = _LINKS.set(links)
    try:
        yield links
    finally:
        _LINKS.reset(token)
