"""Writing the compiler's output files safely (``-o``, ``--graph``, ``schema -o``).

* Outputs are checked before compiling (:func:`output_target`) and against every file the
  compilation read (:func:`refuse_inputs`): never the spec, a template it extends or a PHM base
  config (hard links and symlinks included), never a folder, device or FIFO, never a name that
  means a folder (``out/``, ``out/.``) or a file descriptor (``/dev/stdout``, ``/dev/fd/3``: the
  file or pipe behind it would be replaced; :func:`output_stream` says which standard stream a
  name means, for the options that write one).
* :func:`write_atomic` writes a temporary file in the target's folder and renames it over the
  target: readers see the old file or the new one, and on any error the old one is untouched.
  :class:`Outputs` does it for several files at once: all are written, or none is replaced.
* A symlink is written through: its target is replaced, the link kept. A new file gets 0666 less
  the umask (typically 0644); a replaced file keeps its mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from typing import NamedTuple

from vibench.compiler.descriptor_names import MAX_HOPS, STREAM_NAMES, broken_link, descriptor, descriptor_named
from vibench.compiler.display import clip_path
from vibench.compiler.held_signals import held_signals


class OutputError(Exception):
    """An output path that cannot or must not be written (a usage error of the CLI)."""


class OutputWriteError(OutputError):
    """An output that could not be written (a full disk, a file too large, no permission): an I/O
    failure, not a mistake on the command line. The message names the output and says what was
    replaced, if anything."""


WORKING_FOLDER_GONE = ("the working folder no longer exists, so a relative path names nothing: give an absolute path, "
                       "or `cd` to an existing folder")
"""What a relative path given once the working folder was removed is told (an output here; the spec and
``--spec-path`` in :mod:`vibench.compiler.cli_args`)."""

def _through_link(path: str) -> str:
    """' (a symbolic link to it)' for a path that names a descriptor through a link (:func:`descriptor`)."""
    return "" if descriptor_named(path) is not None else " (a symbolic link to it)"


def _refuse_without_working_folder(path: str, flag: str) -> None:
    """A relative path once the working folder was removed (a shell still in a deleted folder): it names no file,
    and resolving it (``os.path.abspath``, ``realpath``) raised FileNotFoundError, an internal error."""
    from vibench.compiler.spec_files import NO_WORKING_FOLDER, working_folder

    if not os.path.isabs(path) and working_folder() == NO_WORKING_FOLDER:
        raise OutputError(f"{flag} {clip_path(path)}: {WORKING_FOLDER_GONE}")


def _refuse_folder_name(path: str, flag: str) -> None:
    """A name that can only mean a folder (``out/``, ``out/.``, ``..``): refused, as ``cp`` refuses it
    (``-o notes.txt/`` replaced notes.txt; ``-o outdir/`` wrote a file named outdir)."""
    last = os.path.basename(path)
    if last not in ("", ".", ".."):
        return
    tail = "trailing /" if not last else f"ends with {last}"
    raise OutputError(f"{flag} {clip_path(path)}: names a folder ({tail}); give a file name")


def output_stream(path: str, flag: str) -> int | None:
    """1 or 2 when ``path`` names standard output or standard error itself (``/dev/stdout``,
    ``/dev/fd/2``, ``/proc/self/fd/1``, or a symbolic link to one), which is then written as a stream (as
    ``-o -``), else None.
    Another descriptor (``/dev/fd/3``, ``/dev/stdin``) is an OutputError.

    >>> output_stream("/dev/stdout", "-o"), output_stream("model.py", "-o")
    (1, None)
    """
    if not path:
        return None
    _refuse_without_working_folder(path, flag)
    _refuse_folder_name(path, flag)
    _refuse_folder_link(path, flag)  # (`-> /dev/stdout/` is refused as `-o /dev/stdout/` is)
    number = descriptor(path)
    if number in (1, 2):
        return number
    if number is not None:
        raise OutputError(f"{flag} {clip_path(path)} names {STREAM_NAMES.get(number, f'file descriptor {number}')}"
                          f"{_through_link(path)}, not a file; give a file name"
                          + (", or `-o -` for standard output" if flag == "-o" else ""))
    return None


def output_target(path: str, flag: str, streams: bool = True) -> str:
    """The file an output path writes: a symlink is followed to its target (which is replaced, the
    link kept). Refused: an empty path, a name ending in ``/`` (or ``/.``), a file descriptor's name
    (``/dev/stdout``: a caller that writes streams asks :func:`output_stream` first), a missing
    folder, an existing folder, device, FIFO or other non-regular file. A refusal of ``-o`` offers
    vibench-compile's ``-o -`` and ``--check`` unless ``streams`` is false (examples/run_demo.py has
    neither: it imports the file it writes)."""
    offers = flag == "-o" and streams
    if not path:
        fix = ("; give a file name" + (", or `-o -` for standard output" if offers else "")) if flag == "-o" else ""
        raise OutputError(f"{flag} names no file (an empty path){fix}")
    _refuse_without_working_folder(path, flag)
    _refuse_folder_name(path, flag)
    _refuse_folder_link(path, flag)
    number = descriptor(path)
    if number is not None:
        raise OutputError(f"{flag} {clip_path(path)} names {STREAM_NAMES.get(number, f'file descriptor {number}')}"
                          f"{_through_link(path)}, not a file; give a file name")
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write {flag} {clip_path(path)}: {_missing_folder(path, folder)}")
    loop = broken_link(target)  # realpath stops where links go round (`a -> b -> a`)
    if loop:
        raise OutputError(f"{flag} {clip_path(path)} {loop}; remove the link or give another name")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise OutputError(f"{flag} {clip_path(path)} is not a regular file; refusing to replace it"
                          + (" (use --check to write nothing, or `-o -` for standard output)" if offers else ""))
    return target


def _missing_folder(path: str, folder: str) -> str:
    """Why the folder ``folder`` (real) that ``path`` writes into is none: the first name on its way that is a file
    (``-o s.yaml/x.py``: `s.yaml is a file, not a folder`; it was "folder s.yaml does not exist"), else that it does
    not exist (named by its real path). The file is named as ``path`` writes it where a folder written leads to it."""
    above = folder
    while not os.path.lexists(above) and os.path.dirname(above) != above:
        above = os.path.dirname(above)
    if not os.path.lexists(above) or os.path.isdir(above):
        return f"folder {clip_path(folder)} does not exist"
    shown = os.path.dirname(path)
    while shown and os.path.realpath(shown) != above:
        shown = os.path.dirname(shown)
    return f"{clip_path(shown or above)} is " + ("a file, not a folder" if os.path.isfile(above) else "not a folder")


def _refuse_folder_link(path: str, flag: str) -> None:
    """A symbolic link (or a chain of them) leading to a name that can only mean a folder (``sd.py -> sub2/``,
    ``-> sub3/.``): refused as that name given itself is (:func:`_refuse_folder_name`). ``realpath`` drops the
    target's trailing ``/``: a dangling one wrote a file named sub2, one to a regular file sub2 replaced it."""
    hop = path
    for _ in range(MAX_HOPS):
        try:
            to = os.readlink(hop)
        except OSError:  # no link (or not one we may read): what realpath found is the file written
            return
        if os.path.basename(to) in ("", ".", ".."):
            tail = "trailing /" if not os.path.basename(to) else f"ends with {os.path.basename(to)}"
            raise OutputError(f"{flag} {clip_path(path)}: names a folder (a symbolic link to {clip_path(to)}, "
                              f"{tail}); give a file name")
        hop = os.path.join(os.path.dirname(hop), to)  # an absolute target replaces the path whole


READ = "the spec, a template it extends or a base config"
"""What :func:`refuse_inputs` says a file read is, unless told."""


def refuse_inputs(targets: dict[str, str], read: set[str] | dict[str, str]) -> None:
    """OutputError when an output (``targets``: flag and path as shown -> real path) would overwrite
    the spec or any file the compilation read (real paths; or real paths -> what each is, as
    'the --metadata table')."""
    named = read if isinstance(read, dict) else dict.fromkeys(read, READ)
    for flag, target in targets.items():
        for source, what in named.items():
            same = target == source
            if not same and os.path.exists(target) and os.path.exists(source):
                try:
                    same = os.path.samefile(target, source)  # hard links too
                except OSError:
                    same = False
            if same:
                raise OutputError(f"{flag} is a file this compile reads ({what}); refusing to overwrite it")


def write_atomic(path: str, text: str | bytes, flag: str | None = None) -> None:
    """Write ``text`` (or bytes) to ``path`` so that readers see the old file or the new one, never a part.

    A symlink is written through: its target is replaced atomically and the link stays. A new file
    gets the usual mode (0666 less the umask, typically 0644); a replaced file keeps its mode.
    ``flag`` (``-o``) is how messages name the output, before its path.
    """
    with Outputs() as outputs:
        outputs.stage(path, text, flag)
        outputs.commit()


class _Staged(NamedTuple):
    label: str  # how messages name the output: `-o model.py`
    tmp: str  # the temporary file beside the target, holding the new contents
    target: str  # the file it replaces (a symlink's target)


class Outputs:
    """Several output files written all or none: :meth:`stage` writes each to a temporary file beside
    its target, :meth:`commit` renames them all over their targets, putting back the ones it replaced
    when a later one fails. Leaving the ``with`` block otherwise (an error, Ctrl-C, SIGTERM made an
    exception) removes the temporary files and replaces nothing: `-o model.py --graph g.html` whose
    graph cannot be written leaves model.py as it was. :attr:`written` names the outputs once committed."""

    def __init__(self) -> None:
        self.staged: list[_Staged] = []
        self.written: list[str] = []

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def stage(self, path: str, text: str | bytes, flag: str | None = None, label: str | None = None) -> None:
        """Write ``text`` beside ``path``'s target, to be renamed over it by :meth:`commit`. ``flag`` (``-o``,
        ``--graph``) names the output in messages, before its path, unless ``label`` names it whole (model.pt)."""
        label = label or (f"{flag} {clip_path(path)}" if flag else clip_path(path))
        target = output_target(path, flag or "output")
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        except OSError as err:
            raise OutputWriteError(f"cannot write {label}: {err.strerror or err}") from None
        try:
            with held_signals():  # a signal between mkstemp and the append left the file behind, known to no one
                fd, tmp = tempfile.mkstemp(prefix=".vibench-", suffix=".tmp", dir=os.path.dirname(target))
                self.staged.append(_Staged(label, tmp, target))  # from here on, discard() removes it
                raw = os.fdopen(fd, "wb")
        except OSError as err:
            if isinstance(err, PermissionError) or err.errno == errno.EROFS:  # the folder's, not the file's
                raise OutputWriteError(f"cannot create a file in folder {_folder_shown(path, target)} "
                                       f"({err.strerror or err}): {flag or 'each output'} writes a temporary file "
                                       "beside its target and renames it") from None
            raise OutputWriteError(f"cannot write {label}: {err.strerror or err}") from None
        try:
            with raw:
                if hasattr(os, "fchmod"):  # not on Windows
                    os.fchmod(raw.fileno(), mode)
                raw.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        except OSError as err:
            raise OutputWriteError(f"cannot write {label}: {err.strerror or err}") from None

    def commit(self) -> None:
        """Rename every staged file over its target: all are replaced, or none is (OutputWriteError).

        Each existing target but the last is kept first (a hard link beside it, a copy where a link
        cannot be made), so that a rename that fails (an immutable file, another user's file in a
        sticky folder) puts back the ones already replaced; the message names any it could not put
        back. SIGINT and SIGTERM wait until the renames are done (:func:`held_signals`)."""
        if not self.staged:
            return
        with held_signals():
            kept = self._keep_previous()
            done: list[_Staged] = []
            try:
                for item in self.staged:
                    os.replace(item.tmp, item.target)
                    done.append(item)
            except OSError as err:
                failed = self.staged[len(done)]
                del self.staged[: len(done)]  # renamed: discard() has no temporary file of theirs to remove
                raise OutputWriteError(_undo(failed, err, done, kept)) from None
            self.staged.clear()
            _remove(kept.values())
            self.written = [item.label for item in done]

    def _keep_previous(self) -> dict[str, str]:
        """Target -> a file holding its present contents, for each existing target but the last (whose
        rename, the last one, cannot fail after another succeeded). OutputWriteError when one cannot be kept."""
        kept: dict[str, str] = {}
        for item in self.staged[:-1]:
            try:
                backup = _keep(item.target)
            except OSError as err:
                _remove(kept.values())
                raise OutputWriteError(f"cannot write {item.label}: cannot keep the file it replaces, to put it "
                                       f"back should another output fail ({err.strerror or err}); no output "
                                       "replaced") from None
            if backup is not None:
                kept[item.target] = backup
        return kept

    def discard(self) -> None:
        for item in self.staged:
            try:
                os.unlink(item.tmp)
            except OSError:
                pass
        self.staged.clear()


def _folder_shown(path: str, target: str) -> str:
    """The folder of an output's ``target`` as a message names it, ending in ``/``: as the user's ``path``
    gives it (``ro/``, ``./``) when that is the folder, else its real path (``path`` is a link elsewhere)."""
    given = os.path.dirname(path) or "."
    folder = given if os.path.realpath(given) == os.path.dirname(target) else os.path.dirname(target)
    return clip_path(folder.rstrip("/") + "/")


def _keep(target: str) -> str | None:
    """A new name beside ``target`` for its present contents: a hard link, or a copy (with its mode)
    where no link can be made; None when there is no such file."""
    folder = os.path.dirname(target)
    for _ in range(100):
        backup = os.path.join(folder, f".vibench-{os.urandom(6).hex()}.bak")
        try:
            os.link(target, backup)
            return backup
        except FileExistsError:
            continue
        except FileNotFoundError:
            return None
        except OSError:  # no hard links on this file system, or not permitted (protected_hardlinks)
            break
    try:
        original = open(target, "rb")
    except FileNotFoundError:
        return None
    with original:
        fd, backup = tempfile.mkstemp(prefix=".vibench-", suffix=".bak", dir=folder)
        try:
            with os.fdopen(fd, "wb") as copy:
                shutil.copyfileobj(original, copy)
            shutil.copymode(target, backup)
        except BaseException:
            _remove([backup])
            raise
    return backup


def _undo(failed: _Staged, err: OSError, done: list[_Staged], kept: dict[str, str]) -> str:
    """Put back the outputs ``done`` replaced (or remove the ones that were new) after ``failed``'s
    rename failed with ``err``; the message to report, naming each output that stayed written."""
    stuck: list[str] = []
    for item in reversed(done):
        backup = kept.pop(item.target, None)
        try:
            if backup is None:
                os.unlink(item.target)  # there was no file before
            else:
                os.replace(backup, item.target)
        except OSError as undo:
            stuck.append(f"{item.label} was written and could not be put back ({undo.strerror or undo}"
                         + (f"; its previous contents are in {clip_path(backup)})" if backup else ")"))
    _remove(kept.values())
    reason = f"cannot write {failed.label}: {err.strerror or err}"
    return (f"{reason}; " + "; ".join(stuck)) if stuck else f"{reason} (no output replaced)"


def _remove(paths: Iterable[str]) -> None:
    for path in list(paths):
        with contextlib.suppress(OSError):
            os.unlink(path)


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
