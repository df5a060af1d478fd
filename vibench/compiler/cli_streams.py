"""The command line's standard streams and signals: standard output and error written terminal-safe
(:class:`Stdout`, :class:`Stderr`; model.py on either, :func:`standard_stream`; a JSON report,
:func:`print_json`), SIGTERM ended like Ctrl-C (:func:`on_sigterm`, :class:`Terminated`), either told in one
line (:func:`stopped`) and heeded where what it interrupted swallowed it (:func:`heed_signal`, :func:`commit`),
the exit status kept through a closed pipe (:func:`exit_code_kept`), the file behind standard input refused as
an output (:func:`refuse_stdin`), and a plug-in's printing kept off standard output (:func:`plugin_output_to`,
:func:`own_stdout`)."""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import select
import signal
import sys
import weakref
from collections.abc import Iterator
from typing import Any

from vibench.compiler.outputs import OutputError, Outputs, OutputWriteError

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3
"""The command's exit statuses (:mod:`vibench.compiler.cli` says when each is given); Ctrl-C and SIGTERM: 130, 143."""


class Terminated(SystemExit):
    """SIGTERM, raised where the command was (:func:`on_sigterm`): exits with 128 + 15 = 143."""


def on_sigterm() -> Any:
    """SIGTERM (`timeout`, a CI job cancelled) ends the command as Ctrl-C does, through Python's clean-up:
    the temporary files of outputs not yet renamed are removed (SIGTERM's default left them behind).
    Both signals are noted as they come (:func:`signal_received`): code they interrupt may swallow the
    exception they raise or turn it into another (pydantic, building a validator, made a KeyboardInterrupt
    a SchemaError, which read as an internal error). Returns what puts the previous handlers back (nothing to
    do where none can be set: not in the main thread)."""
    del _received[:]

    def stop(signum: int, frame: Any) -> None:
        _received.append(signum)
        raise Terminated(128 + signum)

    def interrupt(signum: int, frame: Any) -> None:
        _received.append(signum)
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except (ValueError, OSError, AttributeError):
        return lambda: None
    before = signal.getsignal(signal.SIGINT)
    if before is signal.default_int_handler:  # one that is ignored (`nohup`, a background job) stays ignored
        signal.signal(signal.SIGINT, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        if before is signal.default_int_handler:
            signal.signal(signal.SIGINT, before)
        del _received[:]  # this command's: heeded by nothing after it

    return restore


_received: list[int] = []


def signal_received() -> int | None:
    """The last SIGINT or SIGTERM this command got since :func:`on_sigterm` (None: none)."""
    return _received[-1] if _received else None


def heed_signal() -> None:
    """Raises again what SIGINT (KeyboardInterrupt) or SIGTERM (:class:`Terminated`) raised, should the code it
    interrupted have swallowed it: torch's import, in C, clears the exception a handler raised while it imports
    numpy and carries on (``--weights`` then wrote every file and exited 0). Called once the checkpoint is read
    (torch imported) and before the outputs are renamed (:func:`commit`)."""
    number = signal_received()
    if number == signal.SIGINT:
        raise KeyboardInterrupt
    if number == signal.SIGTERM:
        raise Terminated(128 + number)


def commit(outputs: Outputs) -> None:
    """``outputs.commit()``, unless a signal came whose exception was swallowed (:func:`heed_signal`): then no
    file is written and nothing is printed."""
    heed_signal()
    outputs.commit()


class Stdout:
    """Standard output whose write errors (a full disk, a failing device) are an OutputWriteError, as
    those of `-o FILE` are: a message naming the cause, not an internal error's traceback (a stream
    closed before the start, `>&-`, is a usage error).
    Text is written terminal-safe, in the stream's encoding, a character it cannot encode written as its
    escape (``\\xe9``; `PYTHONIOENCODING=ascii` made a report a UnicodeEncodeError's traceback): :func:`human_bytes`.
    model.py's source (`-o -`) goes through :meth:`write_raw`: UTF-8, the same bytes as `-o FILE` writes, whatever
    the stream's encoding (ASCII changed 'Café' to 'Caf?' or failed). Each write goes to the descriptor whole or
    fails (:func:`_write_all`), never cut short in silence. ``what`` says which stream in messages (``-o
    /dev/stderr`` writes model.py, and a `--summary` report beside model.py on standard output goes, to standard
    error through one of these)."""

    def __init__(self, stream: Any, what: str = "standard output") -> None:
        self.stream = stream
        self.what = what

    def write(self, text: str) -> int:
        from vibench.compiler.diagnostics import terminal_safe

        self._write(terminal_safe(text), raw=False)
        return len(text)

    def write_raw(self, text: str) -> int:
        self._write(text, raw=True)
        return len(text)

    def _write(self, text: str, raw: bool) -> None:
        if self.stream is None:  # started with standard output closed (`>&-`)
            raise OutputError(f"cannot write {self.what}: it is closed")
        try:
            fd = _descriptor_of(self.stream)
            if fd is None:  # a stream in memory (a test's, a caller's): nothing on disk to run short
                self.stream.write(text)
                return
            _flush(self.stream, fd)  # what was written through the stream itself goes first
            _write_all(fd, text.encode("utf-8") if raw else human_bytes(self.stream, text))
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputWriteError(f"cannot write {self.what}: {err.strerror or err}") from None

    def flush(self) -> None:
        if self.stream is None:
            return
        try:
            fd = _descriptor_of(self.stream)
            if fd is None:
                self.stream.flush()
            else:
                _flush(self.stream, fd)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise OutputWriteError(f"cannot write {self.what}: {err.strerror or err}") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def human_bytes(stream: Any, text: str) -> bytes:
    """``text`` (a message, a report, the catalogue) as ``stream`` would encode it, except that a character its
    encoding lacks is its escape (``\\xe9``, ``\\u5377``: Python's backslashreplace, as its own standard error
    does) where the stream's errors are strict; an error handler the user chose (``PYTHONIOENCODING=ascii:replace``)
    is kept. Never a UnicodeEncodeError: text for people is shown, however. One encoder per stream, as the stream
    keeps one (:func:`_encoder`): a byte-order mark (utf-16, utf-32, utf-8-sig) before the first write only."""
    try:
        return _encoder(stream).encode(text)
    except (LookupError, UnicodeError):  # a handler Python lacks, or one that still failed
        return text.encode("utf-8", "backslashreplace")


_ENCODERS: weakref.WeakKeyDictionary[Any, codecs.IncrementalEncoder] = weakref.WeakKeyDictionary()


def _encoder(stream: Any) -> codecs.IncrementalEncoder:
    """The incremental encoder of ``stream``'s encoding that every write of text to it goes through (a new
    :class:`Stdout` or :class:`Stderr` wraps it for each write, so it is kept here, for as long as the stream lives):
    encoding each write alone put a byte-order mark before every line under PYTHONIOENCODING=utf-16."""
    with contextlib.suppress(TypeError):  # (a stream that takes no weak reference gets one for this write)
        if stream in _ENCODERS:
            return _ENCODERS[stream]
    encoding = getattr(stream, "encoding", None) or "utf-8"
    errors = getattr(stream, "errors", None) or "strict"
    try:
        encoder = codecs.getincrementalencoder(encoding)("backslashreplace" if errors == "strict" else errors)
    except LookupError:  # an encoding Python lacks
        encoder = codecs.getincrementalencoder("utf-8")("backslashreplace")
    with contextlib.suppress(TypeError):
        _ENCODERS[stream] = encoder
    return encoder


def _flush(stream: Any, fd: int) -> None:
    """``stream.flush()``, waiting while the descriptor takes nothing more: one left non-blocking by a program
    sharing it (a buffered warning before the report) raised BlockingIOError here."""
    while True:
        try:
            stream.flush()
            return
        except BlockingIOError:
            select.select([], [fd], [])


def _descriptor_of(stream: Any) -> int | None:
    """The file descriptor behind ``stream``, or None for one without (an ``io.StringIO``)."""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):  # (io.UnsupportedOperation is both of the last two)
        return None
    return fd if isinstance(fd, int) else None


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd``, or an OSError saying why not. A write that takes only part of it (a file
    that reaches `ulimit -f`, a disk that fills) is followed by another, which fails with the cause (EFBIG,
    ENOSPC): the buffered stream's one write of a 1.2 MB model.py took the first 512,000 bytes, dropped the rest
    and reported success (exit 0, a truncated model.py). A closed pipe is BrokenPipeError (SIGPIPE is ignored)."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:  # a descriptor left non-blocking by a program sharing it: wait until it takes more
            select.select([], [fd], [])
            continue
        if written <= 0:  # no progress and no error: said, rather than tried for ever
            raise OSError(errno.EIO, "the write took no bytes")
        view = view[written:]


class Stderr:
    """Standard error for diagnostics, written terminal-safe as :class:`Stdout` writes text (whole, through a
    non-blocking pipe too; a character its encoding lacks escaped); a closed or failing one is silent: there is
    nowhere to report that. A report the user asked for that goes to standard error (`--summary` beside model.py
    on standard output) is written through :func:`standard_stream` instead, whose failure is exit 2."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if self.stream is not None:
            with contextlib.suppress(OutputError, OSError):
                Stdout(self.stream, "standard error").write(text)
        return len(text)

    def flush(self) -> None:
        if self.stream is not None:
            with contextlib.suppress(OSError):
                self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def print_json(report: dict[str, Any]) -> bool:
    """``report`` on standard output; False when it could not be written there (closed, or the stream whose write
    failed: a full disk)."""
    from vibench.compiler.cli_json import to_json

    if getattr(sys.stdout, "stream", None) is None:
        return False
    try:
        print(to_json(report, indent=2))
        sys.stdout.flush()
    except (OutputError, OSError):  # (BrokenPipeError too: nobody reads the report)
        return False
    return True


def standard_stream(number: int | None) -> Stdout:
    """Standard output (1, or None: no -o), or standard error (2: `-o /dev/stderr`), written as the
    model's source is: its bytes as they are, a write error an OutputError naming the stream."""
    if number == 2:
        return Stdout(sys.stderr.stream if isinstance(sys.stderr, Stderr) else sys.stderr, "standard error")
    return own_stdout()


def stopped(how: str, outputs: Outputs) -> None:
    """The one line Ctrl-C or SIGTERM ends the command with, saying whether files were written (the
    signal came while they were renamed, and was taken once all were): :func:`say_once`."""
    done = f" after writing {' and '.join(outputs.written)}" if outputs.written else "; no file written"
    say_once(f"vibench-compile: {how}{done}\n")


def say_once(line: str) -> None:
    """``line`` on standard error once a signal ends the command: tried once, never waited on, never raising. It is
    dropped where the stream takes nothing now (a full pipe, non-blocking or not: written as a diagnostic, it
    waited for a reader, so one Ctrl-C did not end the command, and a third gave a traceback), where the write
    fails, or where another signal comes meanwhile (the command is ending already, for the first)."""
    stream = sys.stderr.stream if isinstance(sys.stderr, Stderr) else sys.stderr
    try:
        fd = None if stream is None else _descriptor_of(stream)
        if fd is None:  # closed, or a stream in memory (a test's): nothing to wait on
            if stream is not None:
                stream.write(line)
        elif select.select([], [fd], [], 0)[1]:  # room now: a line this short goes in whole, or partly, at once
            os.write(fd, human_bytes(stream, line))
    except (OSError, ValueError, KeyboardInterrupt, SystemExit):  # (SystemExit: SIGTERM's, raised by its handler)
        pass


def refuse_stdin(targets: dict[str, str]) -> None:
    """A spec on standard input redirected from a file (`- -o spec.yaml < spec.yaml`) is a file this
    compile reads, like a spec named by its path: no output may replace it."""
    try:
        held = os.fstat(sys.stdin.fileno()) if sys.stdin is not None else None
    except (OSError, ValueError, AttributeError):  # closed, or a stream without a descriptor (tests)
        return
    if held is None:
        return
    for flag, target in targets.items():
        try:
            there = os.stat(target)
        except OSError:
            continue
        if (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
            raise OutputError(f"{flag} is the file standard input reads the spec from; refusing to overwrite it")


@contextlib.contextmanager
def exit_code_kept(code: int) -> Iterator[None]:
    """A closed pipe while the errors are printed (`vibench-compile bad.yaml | head -1`) still ends
    with ``code``: a broken spec must not exit 0 under `set -o pipefail`."""
    try:
        yield
    except BrokenPipeError:
        raise PipeClosed(code) from None


class PipeClosed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# --------------------------------------------------------------------------------------------
# a plug-in's printing
# --------------------------------------------------------------------------------------------

# The command's own standard output while :func:`plugin_output_to` holds ``sys.stdout`` (innermost last).
_OWN: list[Any] = []


@contextlib.contextmanager
def plugin_output_to(stream: Any) -> Iterator[None]:
    """While it lasts, ``sys.stdout`` is ``stream``, and the command writes its own output (model.py for
    ``-o -``, the JSON report, the schema, the catalogue) through :func:`own_stdout`, the ``sys.stdout`` it
    found. So nothing else that runs meanwhile - a plug-in's import, its methods, its parameters' pydantic
    validators, its properties - prints into that output (it landed in ``-o -`` model.py and broke
    ``--format json``), and a plug-in that replaces ``sys.stdout`` cannot take the output away; what they
    print goes to ``stream`` (standard error). :func:`vibench.compiler.cli.main` holds it once the command
    line is read (``--help`` stays on standard output). The Python API (``vibench.build``, ``compile_spec``)
    sets nothing: there the caller's program owns ``sys.stdout``, and vibench returns its results rather than
    printing them.

    Python-level only, by choice: a write to file descriptor 1 itself (``os.write(1, ...)``, a C extension's
    ``printf``) still reaches standard output. Moving descriptor 1 as the language server does
    (:mod:`vibench.lsp.stdio`, which holds it for the process's life: one stray byte breaks its protocol)
    would have to last the process's life here too: ``main`` runs in-process (tests, scripts) and must hand
    the caller's descriptor 1 back as it found it, and a C library's buffered ``printf`` is flushed at exit,
    after that, so a move for the command's run alone would still let it through while costing every
    in-process caller a descriptor swap. A plug-in that writes to the descriptor is a bug for its authors."""
    own = sys.stdout
    _OWN.append(own)
    sys.stdout = stream
    try:
        yield
    finally:
        sys.stdout = own
        _OWN.pop()


def own_stdout() -> Stdout:
    """The command's standard output: the one :func:`plugin_output_to` kept, else ``sys.stdout``."""
    own = _OWN[-1] if _OWN else sys.stdout
    return own if isinstance(own, Stdout) else Stdout(own)
