"""The server's settings: `initializationOptions`, `workspace/didChangeConfiguration` and ``--debounce-ms``.

A setting that does not read is refused with a warning message, and the value before it kept: a ``specPath`` folder
holding a NUL, a ``debounceMs`` that is no number of milliseconds from 0 to :data:`MAX_DEBOUNCE_MS` (a 401-digit
integer was an OverflowError traceback in the answer to ``initialize``; ``1e999``, infinite, stopped every later
check without a word).
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

from lsprotocol import types as t

from vibench.lsp import visible

if TYPE_CHECKING:
    from vibench.lsp.server import VibenchServer

logger = logging.getLogger("vibench.lsp")


def configure(ls: VibenchServer, options: dict[str, Any]) -> None:
    """Settings from `initializationOptions` or `workspace/didChangeConfiguration` (`vibench: {...}`):
    ``specPath`` (folders on the spec search path after the command line's; each setting replaces the folders
    of the one before) and ``debounceMs``; a setting left out keeps its value."""
    extra = options.get("specPath")
    if isinstance(extra, list):
        folders = [str(folder) for folder in extra]
        # No path holds a NUL: os.scandir raised ValueError on it, and every library reference was an internal
        # error. Such a folder is left off the path, and the user told why (the other folders are searched).
        # Nor a lone surrogate (`/tmp/\ud800x`, valid JSON), which no os call can encode (UnicodeEncodeError).
        for folder in (folder for folder in folders if not usable_path(folder)):
            why = "a NUL character (`\\0`)" if "\0" in folder else "a lone surrogate (not text any file name encodes)"
            message = f"vibench-lsp: the specPath folder {json.dumps(folder)} is not searched: it holds {why}"
            logger.warning("%s", message)
            ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=visible.visible(message)))
        usable = [folder for folder in folders if usable_path(folder)]
        # joined to the working folder, never tidied, as the CLI's are (`link/..` is where the link leads up from)
        from vibench.compiler.spec_files import working_folder

        ls.catalog.set_folders([os.path.join(working_folder(), os.path.expanduser(folder)) for folder in usable])
    debounce = options.get("debounceMs")
    if debounce is not None:
        problem = debounce_problem(debounce)
        if problem is None:
            ls.debounce = debounce / 1000
        else:  # refused, the value before kept: `1e999` (inf) or 1e12 ms stopped every later check
            message = (f"vibench-lsp: debounceMs {_clipped(debounce)} is not used ({problem}); it stays "
                       f"{ls.debounce * 1000:g}")
            logger.warning("%s", message)
            ls.window_show_message(t.ShowMessageParams(type=t.MessageType.Warning, message=visible.visible(message)))


MAX_DEBOUNCE_MS = 60_000
"""The longest quiet time after an edit a setting may ask for: a minute (a longer one reads as checks that stopped)."""


def debounce_problem(value: object) -> str | None:
    """Why ``value`` is no ``debounceMs`` (a number of milliseconds from 0 to :data:`MAX_DEBOUNCE_MS`), or None.
    Compared as it is, never converted first: a 401-digit integer is no float (OverflowError), and NaN is within
    no range.

    >>> debounce_problem(250), debounce_problem(-1), debounce_problem("100")
    (None, 'expected a number of milliseconds from 0 to 60,000', 'expected a number of milliseconds, found a string')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        found = {str: "a string", list: "a list", dict: "a mapping", bool: "a boolean"}.get(type(value), "no number")
        return f"expected a number of milliseconds, found {found}"
    if not 0 <= value <= MAX_DEBOUNCE_MS:
        return f"expected a number of milliseconds from 0 to {MAX_DEBOUNCE_MS:,}"
    return None


def _clipped(value: object) -> str:
    """A setting's value as JSON writes it, its middle left out past 40 characters (a 401-digit number)."""
    try:
        written = json.dumps(value) if isinstance(value, int | float | str | bool) else type(value).__name__
    except ValueError:  # an integer beyond Python's 4,300 digits written as text
        written = "a number too long to write"
    return written if len(written) <= 40 else f"{written[:20]}...{written[-10:]} ({len(written):,} characters)"


def debounce_option(text: str) -> float:
    """``--debounce-ms``'s value: a number of milliseconds from 0 to :data:`MAX_DEBOUNCE_MS`."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of milliseconds, found {text!r}") from None
    problem = debounce_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{problem}, found {text}")
    return value


def usable_path(path: str) -> bool:
    """Whether ``path`` can be given to the OS: no NUL, and text the file system encoding takes (a lone surrogate,
    valid JSON in a URI or a setting, is not: every os call on it raised UnicodeEncodeError)."""
    if "\0" in path:
        return False
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return False
    return True
