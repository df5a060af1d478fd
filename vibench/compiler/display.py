"""How a user's text and file names appear in messages: escaped and clipped, one way everywhere.

A leaf module (only ``re``): the command line's usage errors use it before anything else of the compiler is
imported.
"""

from __future__ import annotations

import re

MAX_PATH = 240  # characters of a file name in a message (longer ones are cut in the middle)

_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3}|.)", re.DOTALL)
"""A backslash escape as repr() and :func:`vibench.compiler.terminal_text.one_line` write them."""


def escaped(text: str) -> str:
    """``text`` with nothing a terminal or a log would act on: as written when every character is printable,
    else each character through ``unicode_escape`` and a file name's byte that is not UTF-8 (Python's
    surrogate escape) as ``\\xe9``, as model.py's header and the JSON output write it."""
    if text.isprintable():
        return text
    return "".join(f"\\x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF
                   else ch.encode("unicode_escape").decode("ascii") for ch in text)


def clip_path(path: str, limit: int = MAX_PATH) -> str:
    """A file name in a message: :func:`escaped`, and at most ``limit`` characters, cut in the middle (never
    inside an escape) so that the start and the file's own name stay in view. A path a person typed is
    shown whole; the limit is for names built to flood a terminal."""
    flat = escaped(path)
    if len(flat) <= limit:
        return flat
    head_end = limit // 3
    tail_start = len(flat) - (limit - head_end - 3)
    for m in _ESCAPE.finditer(flat):
        if m.start() < head_end < m.end():
            head_end = m.start()
        if m.start() < tail_start < m.end():
            tail_start = m.end()
        if m.start() >= tail_start:
            break
    return flat[:head_end] + "..." + flat[tail_start:]
