"""SIGINT and SIGTERM held off while a few steps must all happen or none (:func:`held_signals`): the renames of
:meth:`vibench.compiler.outputs.Outputs.commit`, the temporary file of :meth:`~vibench.compiler.outputs.Outputs.stage`
made and recorded. Moved out of :mod:`vibench.compiler.outputs` as it stands alone."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any

_HELD = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """SIGINT and SIGTERM held off for the ``with`` block, then taken: their handlers run when it ends
    (Ctrl-C's KeyboardInterrupt, the CLI's exit on SIGTERM), never between two renames of
    :meth:`Outputs.commit`. They are blocked for this thread (``pthread_sigmask``, which holds a
    default action too) and, in the main thread, Python's handlers are deferred as well: a signal the
    kernel gives to another thread (torch's) would otherwise run its handler here. The mask and the
    handlers are put back however the block ends."""
    caught: list[int] = []
    deferred: dict[int, Any] = {}

    def later(signum: int, frame: Any) -> None:
        caught.append(signum)

    try:
        for number in _HELD:
            handler = signal.getsignal(number)
            if callable(handler):
                signal.signal(number, later)
                deferred[number] = handler
    except ValueError:  # not the main thread: Python runs no handler in this one
        pass
    except BaseException:  # a signal taken just before (signal.signal first runs the handlers of any that came)
        _put_back(deferred)
        raise
    previous = None
    try:
        if hasattr(signal, "pthread_sigmask"):  # not on Windows
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, [])
            signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        yield
    finally:
        try:
            _put_back(deferred)
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # one that came meanwhile is taken here
        for signum in dict.fromkeys(caught):
            deferred[signum](signum, None)


def _put_back(handlers: dict[int, Any]) -> None:
    """Put each signal's handler back. ``signal.signal`` first runs the handlers of signals that came
    meanwhile: one that raises (Ctrl-C's, once put back) is raised when all are back, not halfway."""
    raised: BaseException | None = None
    for number, handler in handlers.items():
        for _ in range(10):  # once more for each signal that came while putting them back
            try:
                signal.signal(number, handler)
                break
            except BaseException as err:  # noqa: BLE001 - raised below, once every handler is back
                raised = raised or err
    if raised is not None:
        raise raised
