"""Text in emitted code: string literals (:func:`string`, the one escaping path for text in code),
comments and docstrings cleaned of line breaks and control characters (:func:`comment_text`,
:func:`comment_lines`, :func:`docstring`). A part of :mod:`vibench.compiler.codegen.layout`, which
re-exports these; moved out of it unchanged.

>>> print(string('say "hi"'))
'say "hi"'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

WIDTH = 120


def string(value: str) -> str:
    """The literal ruff writes for ``value``: double quotes unless the text holds more double quotes
    than single ones; backslashes, the quote, line breaks and every non-printable character escaped."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    out = []
    for ch in value:
        if ch == "\\" or ch == quote:
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])  # \n, \t, \x00, \u2028 ...
    return quote + "".join(out) + quote


# Characters that end a line somewhere (Python's str.splitlines) or are invisible controls.
_BREAKS = {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"}


def _clean(text: str) -> str:
    if text.isprintable():  # no line break, tab, control or invisible character: nothing to change
        return text
    out = []
    for ch in text:
        if ch in _BREAKS or ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def comment_text(text: str) -> str:
    """Text safe inside one ``#`` comment: no line breaks, no control or invisible characters."""
    return " ".join(_clean(text).split())


def comment_lines(text: str, indent: int, width: int = WIDTH) -> list[str]:
    """``# text`` wrapped at word boundaries to fit the width (a single long word is cut)."""
    room = max(width - indent - 2, 20)
    words = comment_text(text).split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        while len(word) > room:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:room])
            word = word[room:]
        if current and len(current) + 1 + len(word) > room:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current or not lines:
        lines.append(current)
    return ["# " + line if line else "#" for line in lines]


def docstring(lines: Sequence[str], indent: int, width: int = WIDTH) -> list[str]:
    """A docstring's source lines: every character of the text is data (backslashes, quotes and
    line breaks cannot end it), long lines are wrapped, trailing spaces dropped."""
    room = max(width - indent, 40)
    body: list[str] = []
    for raw in lines:
        for part in _split_breaks(raw):
            # Room for the quotes: a one-line docstring carries both on its line.
            body += _wrap_words(_escape_doc(_clean(part).rstrip()), room - 6)
    while body and not body[-1]:
        body.pop()
    while body and not body[0]:
        body.pop(0)
    if not body:
        body = ["(no description)"]
    if body[0].startswith(" ") or body[0].startswith('"'):
        body[0] = body[0].lstrip(' "') or "(no description)"
    if len(body) == 1 and len(body[0]) + 6 <= room:
        return [f'"""{body[0]}"""']
    return [f'"""{body[0]}'] + body[1:] + ['"""']


def _split_breaks(text: str) -> list[str]:
    parts = [""]
    for ch in text:
        if ch in _BREAKS:
            parts.append("")
        else:
            parts[-1] += ch
    return parts


def _escape_doc(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    return text


def _wrap_words(text: str, room: int) -> list[str]:
    if len(text) <= room:
        return [text]
    lead = len(text) - len(text.lstrip(" "))
    out: list[str] = []
    current = text[:lead]
    for word in text[lead:].split(" "):
        while len(word) > room - lead:
            if current.strip():
                out.append(current)
                current = text[:lead]
            cut = room - lead
            if word[:cut].endswith("\\"):  # never cut an escape in two
                cut -= 1
            out.append(" " * lead + word[:cut])
            word = word[cut:]
        if current.strip() and len(current) + 1 + len(word) > room:
            out.append(current)
            current = " " * lead + word
        else:
            current = f"{current} {word}" if current.strip() else current + word
    if current.strip():
        out.append(current)
    return [line.rstrip() for line in out]


def long_string(value: str, room: int) -> list[str]:
    """Pieces of a long string, each written as its own literal of at most ``room`` characters."""
    pieces: list[str] = []
    current = ""
    for ch in value:
        if current and len(string(current + ch)) > room:
            cut = current.rfind(" ")
            if cut > len(current) // 2:
                pieces.append(current[: cut + 1])
                current = current[cut + 1 :]
            else:
                pieces.append(current)
                current = ""
        current += ch
    if current:
        pieces.append(current)
    return [string(p) for p in pieces]
