"""The ``vibench-compile`` console script: Ctrl-C and SIGTERM end it with one line from its first
statement on, while the command line's modules are still being imported (a Ctrl-C there printed the
30-line traceback of the import it interrupted). Imports nothing but :mod:`signal` before that. A
BaseException of another class that reaches the top (a plug-in's own, raised by its import) is exit 3 with a
line saying so above its traceback, as an internal error is."""

from __future__ import annotations

import signal
import sys
from typing import Any


class _Stopped(SystemExit):
    """SIGTERM before :func:`vibench.compiler.cli.main` took it over (or after it gave it back)."""


def main() -> int:
    """Run :func:`vibench.compiler.cli.main`; a Ctrl-C (130) or SIGTERM (143) that comes before it
    handles them itself ends the command with one line on standard error, no traceback."""

    def stop(signum: int, frame: Any) -> None:
        raise _Stopped(128 + signum)

    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:  # one that is ignored stays ignored
            signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError):  # not the main thread
        pass
    started = False
    try:
        from vibench.compiler.cli import main as run

        started = True
        code = run()
        _settled()
        return code
    except KeyboardInterrupt:
        _say("interrupted", started)
        return 130
    except _Stopped as stopped:
        _say("terminated", started)
        return int(stopped.code or 143)
    except (SystemExit, Exception):  # an exit; an Exception is cli.main's to report (once it runs)
        raise
    except BaseException as err:  # noqa: BLE001 - no Exception: a plug-in's own class, GeneratorExit, ...
        _stopped_by(err)
        return 3


def _settled() -> None:
    """The command has done its work and said so (its files written or none, its exit status chosen): a Ctrl-C
    or SIGTERM from here to the process's end changes nothing, so it is ignored (one that came while the
    interpreter shut down ended it with 130 and no line, although every file had been written)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(signum, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass


def _stopped_by(err: BaseException) -> None:
    """A BaseException that is no Exception, no exit and no interrupt reached the top (a plug-in's own class,
    raised where vibench does not run the plug-in through :func:`vibench.compiler.plugin_calls.call`, as its
    module's import): said as :func:`vibench.compiler.cli.main` says an internal error (exit 3), with the
    traceback, never as Python's bare one."""
    import traceback

    if sys.stderr is not None:
        try:
            sys.stderr.write(f"vibench-compile: stopped by {type(err).__name__}, which is not an Exception (raised by "
                             "vibench or a plug-in it ran; please report it with the spec):\n")
            traceback.print_exception(err, file=sys.stderr)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _say(how: str, started: bool) -> None:
    """The one line, as :func:`vibench.compiler.cli.main` prints it (which knows what it wrote: once it
    started, only "interrupted" is sure): tried once, never waited on (:func:`~vibench.compiler.cli_streams.say_once`;
    through ``sys.stderr``, a full standard error held the command until a third Ctrl-C gave a traceback)."""
    try:
        from vibench.compiler.cli_streams import say_once
    except (ImportError, KeyboardInterrupt, SystemExit):  # another signal while it is imported: the line is dropped
        return
    say_once(f"vibench-compile: {how}{'' if started else '; no file written'}\n")
