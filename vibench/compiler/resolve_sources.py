"""The text of every spec file a compilation read, recorded for drawing its warnings (:func:`recording_sources`).

A failed compilation's :class:`~vibench.compiler.diagnostics.SpecError` carries the sources its diagnostics quote;
a compilation that succeeds returns a :class:`~vibench.compiler.ir.Program`, which keeps none, although its
warnings may stand in a template or a slot component (W105 of an unused parameter there). Every
:class:`~vibench.compiler.resolve.Library` made while :func:`recording_sources` runs adds to the map it yields,
as :mod:`vibench.compiler.resolve_recording` records what lookups did not find.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_SOURCES: ContextVar[dict[str, str] | None] = ContextVar("vibench_library_sources", default=None)


@contextlib.contextmanager
def recording_sources() -> Iterator[dict[str, str]]:
    """The ``sources`` of every :class:`~vibench.compiler.resolve.Library` made while the block runs (in this
    thread or task): each spec file read, by the name messages give it -> its text, the compiled spec's own
    included. A PHM-Vibench base config is none of them (nothing it holds is quoted in messages).

    >>> from vibench.compiler.pipeline import compile_program
    >>> with recording_sources() as sources:
    ...     _ = compile_program(text="vibench: 1\\nextends: cnn/ResNet1D\\n", display="mine.yaml")
    >>> sorted(sources)
    ['mine.yaml', 'vibench/specs/cnn/ResNet1D.yaml']
    """
    sources: dict[str, str] = {}
    token = _SOURCES.set(sources)
    try:
        yield sources
    finally:
        _SOURCES.reset(token)
