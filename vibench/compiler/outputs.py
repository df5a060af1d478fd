"""Writing the compiler's output files safely (``-o``, ``--graph``, ``schema -o``).

* Outputs are checked before compiling (:func:`output_target`) and against every file the
  compilation read (:func:`refuse_inputs`): never the spec, a template it extends or a PHM base
  config (hard links and symlinks included), never a folder, device or FIFO.
* :func:`write_atomic` writes a temporary file in the target's folder and renames it over the
  target: readers see the old file or the new one, and on any error the old one is untouched.
  :class:`Outputs` does it for several files at once: all are written, or none is replaced.
* A symlink is written through: its target is replaced, the link kept. A new file gets 0666 less
  the umask (typically 0644); a replaced file keeps its mode.
"""

from __future__ import annotations

import os
import stat
import tempfile


class OutputError(Exception):
    """An output path that cannot or must not be written (a usage error of the CLI)."""


def _clip(text: str, limit: int = 80) -> str:
    """A path in a message: one line, at most ``limit`` characters."""
    flat = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return flat if len(flat) <= limit else flat[:limit] + "..."


def output_target(path: str, flag: str) -> str:
    """The file an output path writes: a symlink is followed to its target (which is replaced, the
    link kept). Refused: a missing folder, an existing folder, device, FIFO or other non-regular file."""
    if not path:
        raise OutputError(f"{flag} names no file (an empty path)"
                          + ("; give a file name, or `-o -` for standard output" if flag == "-o" else ""))
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {_clip(path)}: folder {_clip(folder)} does not exist")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise OutputError(f"{flag} {_clip(path)} is not a regular file; refusing to replace it"
                          + (" (use --check to write nothing, or `-o -` for standard output)" if flag == "-o" else ""))
    return target


def refuse_inputs(targets: dict[str, str], read: set[str]) -> None:
    """OutputError when an output (``targets``: flag and path as shown -> real path) would overwrite
    the spec or any file the compilation read (real paths)."""
    for flag, target in targets.items():
        for source in read:
            same = target == source
            if not same and os.path.exists(target) and os.path.exists(source):
                try:
                    same = os.path.samefile(target, source)  # hard links too
                except OSError:
                    same = False
            if same:
                raise OutputError(f"{flag} is a file this compile reads (the spec, a template it extends or a "
                                  "base config); refusing to overwrite it")


def write_atomic(path: str, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to ``path`` so that readers see the old file or the new one, never a part.

    A symlink is written through: its target is replaced atomically and the link stays. A new file
    gets the usual mode (0666 less the umask, typically 0644); a replaced file keeps its mode.
    """
    with Outputs() as outputs:
        outputs.stage(path, text)
        outputs.commit()


class Outputs:
    """Several output files written all or none: :meth:`stage` writes each to a temporary file beside
    its target, :meth:`commit` renames them all over their targets. Leaving the ``with`` block
    otherwise (an error, Ctrl-C, SIGTERM made an exception) removes the temporary files and replaces
    nothing: `-o model.py --graph g.html` whose graph cannot be written leaves model.py as it was."""

    def __init__(self) -> None:
        self.staged: list[tuple[str, str, str]] = []  # (path as given, temporary file, target)

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def stage(self, path: str, text: str | bytes) -> None:
        target = output_target(path, "output")
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        except OSError as err:
            raise OutputError(f"cannot write {_clip(path)}: {err.strerror or err}") from None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".vibench-", suffix=".tmp", dir=os.path.dirname(target))
        except OSError as err:
            raise OutputError(f"cannot write {_clip(path)}: {err.strerror or err}") from None
        self.staged.append((path, tmp, target))  # from here on, discard() removes it whatever happens
        try:
            with os.fdopen(fd, "wb") as raw:
                if hasattr(os, "fchmod"):  # not on Windows
                    os.fchmod(raw.fileno(), mode)
                raw.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        except OSError as err:
            raise OutputError(f"cannot write {_clip(path)}: {err.strerror or err}") from None

    def commit(self) -> None:
        while self.staged:
            path, tmp, target = self.staged[0]
            try:
                os.replace(tmp, target)
            except OSError as err:
                raise OutputError(f"cannot write {_clip(path)}: {err.strerror or err}") from None
            self.staged.pop(0)

    def discard(self) -> None:
        for _, tmp, _ in self.staged:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self.staged.clear()


def _umask() -> int:
    try:  # Linux says it without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
