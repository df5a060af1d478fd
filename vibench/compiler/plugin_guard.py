"""Running a plug-in's own code (the ``__repr__`` of a value it gave vibench, a check that calls its methods) so
that whatever it raises is the plug-in's failure, while an interrupt still stops the run. A leaf module: the
plug-in checks, the registry's plug-in loading and the contract all use it (in registry_plugins, it closed an
import cycle through the contract)."""

from __future__ import annotations

import sys  # noqa: F401 - the doctest of guarded exits through it
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def interrupts(err: BaseException) -> bool:
    """Whether ``err``, raised while vibench ran a plug-in's code, stops the whole run rather than being the
    plug-in's failure: a Ctrl-C (``KeyboardInterrupt``) or an exception that vibench's own signal handlers
    raise (SIGTERM's ``Terminated``, the test oracles' ``Timeout``: a BaseException, not an Exception, of the
    vibench package) — on the main thread only. Python runs signal handlers on the main thread alone, so on
    any other thread (the language server's checks run on a worker thread) nothing is an interrupt: a
    plug-in that raises ``KeyboardInterrupt`` there gets E114, it does not stop the server.

    >>> interrupts(KeyboardInterrupt()), interrupts(SystemExit(3)), interrupts(GeneratorExit())
    (True, False, False)
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if isinstance(err, KeyboardInterrupt):
        return True
    own = str(getattr(type(err), "__module__", "")).split(".")[0] == "vibench"
    return own and not isinstance(err, Exception)


def guarded(read: Callable[[], T], failed: Callable[[BaseException], T]) -> T:
    """``read()``, or ``failed(err)`` when it raises ``err``. ``read`` runs a plug-in's own code: the ``__repr__``,
    ``__str__``, ``__eq__``, ``__hash__``, ``__iter__`` or ``__index__`` of a value or exception it gave vibench,
    or a check that calls them. Whatever that raises is the plug-in's failure, shown by the value's type: a
    ``SystemExit`` or ``GeneratorExit`` too, which ended vibench silently with the plug-in's exit code when a
    message only showed the value; an interrupt (:func:`interrupts`) still stops the run.

    >>> guarded(lambda: repr(7), lambda err: "a value"), guarded(lambda: sys.exit(0), lambda err: type(err).__name__)
    ('7', 'SystemExit')
    """
    try:
        return read()
    except BaseException as err:  # noqa: BLE001 - the plug-in's own code, whatever it raises (interrupts go on)
        if interrupts(err):
            raise
        return failed(err)
