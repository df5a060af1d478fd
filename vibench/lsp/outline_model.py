"""The data of :mod:`vibench.lsp.outline`: entries by path, the outline, the cursor; and YAML scalar text.

Moved out of ``outline.py`` unchanged, so that the scanner module stays under ~450 lines; ``outline``
re-exports :class:`Entry`, :class:`Outline`, :class:`Cursor` and :data:`Path`. The text helpers of the
scanner (where a quoted or plain scalar ends, which lines change nothing) are here for the same reason;
each reads in time linear in the text, with regular expressions that repeat a group at most a few hundred
times a match (the engine keeps state for each repetition until the match ends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Path = tuple[str | int, ...]


@dataclass(slots=True)  # one per key and sequence item: 88 bytes with slots, 136 with a __dict__
class Entry:
    """One key (or sequence item) and its value."""

    path: Path  # the value's path: the parent's path and this key or index
    key_span: tuple[int, int] | None  # offsets of the key as written (None for a sequence item)
    kind: str = "none"  # "scalar", "map", "seq", or "none" (no value yet)
    value: str | None = None  # a scalar value, unquoted
    value_span: tuple[int, int] | None = None  # offsets of a scalar value as written (quotes included)
    end: int = 0  # offset just after the entry's last character


@dataclass
class Outline:
    """Entries by path, and the keys (or indices) under each container, in document order."""

    entries: dict[Path, Entry] = field(default_factory=dict)
    children: dict[Path, list[str | int]] = field(default_factory=dict)
    text: str = ""
    # (offset, the scanner's state) at line starts about every CHECKPOINT characters, outside quoted strings,
    # so that :func:`cursor_at` reads only the text from the last of them to the cursor in a text that starts
    # like this one (one state per line cost hundreds of bytes a line: gigabytes for 16 MB of blank lines).
    states: list[tuple[int, tuple]] = field(default_factory=list, repr=False)
    # YAML's merge key (vibench.lsp.outline_merge): each mapping that holds a plain `<<` (-> what the `<<` held:
    # "map", "seq", "scalar"), and each plain `*alias` value (-> the path of the anchor it names, if read before)
    merges: dict[Path, str] = field(default_factory=dict, repr=False)
    aliases: dict[Path, Path | None] = field(default_factory=dict, repr=False)

    def entry(self, path: Path) -> Entry | None:
        return self.entries.get(path)

    def value(self, path: Path) -> str | None:
        """The scalar at ``path`` (None when there is none, or it is a container)."""
        entry = self.entries.get(path)
        return entry.value if entry is not None else None

    def keys(self, path: Path) -> list[str | int]:
        return list(self.children.get(path, ()))

    def kind(self, path: Path) -> str | None:
        entry = self.entries.get(path)
        return entry.kind if entry is not None else None

    def scalars(self, path: Path) -> list[tuple[Path, Entry]]:
        """The scalar at ``path``, or the scalars directly inside it (a list or a mapping's values)."""
        entry = self.entries.get(path)
        if entry is None:
            return []
        if entry.kind == "scalar":
            return [(path, entry)]
        out = []
        for key in self.children.get(path, ()):
            child = self.entries.get((*path, key))
            if child is not None and child.kind == "scalar":
                out.append(((*path, key), child))
        return out

    def at(self, offset: int) -> tuple[Path, str] | None:
        """The path whose key (``"key"``) or scalar value (``"value"``) covers ``offset``."""
        for path, entry in self.entries.items():
            if entry.key_span is not None and entry.key_span[0] <= offset <= entry.key_span[1]:
                return path, "key"
            if entry.value_span is not None and entry.value_span[0] <= offset <= entry.value_span[1]:
                return path, "value"
        return None


@dataclass(frozen=True)
class Cursor:
    """What an offset is on: ``role`` ``"key"`` (``path`` is the mapping's), ``"value"`` (``path``
    is the value's) or ``"none"``; ``word`` is the name at the offset, ``start``/``end`` its span."""

    path: Path
    role: str
    word: str
    start: int
    end: int


def closing_quote(line: str, j: int, quote: str) -> int | None:
    """The index after the quote that closes a string whose text starts at ``line[j]``.

    Read a few hundred escapes per match (:data:`_IN_DOUBLE`): a character-by-character loop in Python took
    seconds for a long string, and one match would keep the engine's state for each escape."""
    inside = _IN_DOUBLE if quote == '"' else _IN_SINGLE
    while True:
        m = inside.match(line, j)
        end = m.end() if m is not None else j
        if end == j:  # at the closing quote, the line's end, or a `\` that ends the line
            return j + 1 if j < len(line) and line[j] == quote else None
        j = end


# The text of a quoted string up to its closing quote: `\` escapes a character in a double-quoted one, `''` is a
# quote in a single-quoted one; at most 256 escapes per match.
_IN_DOUBLE = re.compile(r'[^"\\]*(?:\\.[^"\\]*){0,256}', re.S)
_IN_SINGLE = re.compile(r"[^']*(?:''[^']*){0,256}")


def plain_scalar(line: str, i: int, flow: bool) -> str:
    """The plain scalar at ``line[i]`` (empty where none starts there), in flow context or not."""
    stop = (_FLOW_PLAIN_STOP if flow else _BLOCK_PLAIN_STOP).search(line, i)
    return line[i:stop.start() if stop else len(line)].rstrip(" \t")


# Where a plain scalar stops: at `: ` (or `:` before a flow indicator, in flow context), ` #`, a blank other
# than a space or tab, the line end, and in flow context `,[]{}`; inner spaces belong to the scalar, trailing
# ones do not (:func:`plain_scalar` strips them). One search, not a repeated group: the regular
# expression engine keeps state for each repetition of a group (a 15 MB value held 1.9 GB).
_FLOW_PLAIN_STOP = re.compile(r"[,\[\]{}]|[^\S \t]|:(?=[\s,\[\]{}]|$)|#(?<!\S#)")
_BLOCK_PLAIN_STOP = re.compile(r"[^\S \t]|:(?=\s|$)|#(?<!\S#)")
# Lines that change nothing (outside a quoted string), stepped over at once up to the line start before where
# the match ends: blank and comment lines (a few hundred of these per match: the next line is one more), and in
# a block scalar (where a comment line is text) blank ones.
_IDLE_LINES = re.compile(r"[ \t\r\n]*(?:#[^\n]*\n[ \t\r\n]*){0,256}")
_BLANK_LINES = re.compile(r"[ \t\r\n]*")


def after_idle(text: str, offset: int, block_scalar: bool) -> int:
    """The start of the first line from ``offset`` (a line start, outside a quoted string) that is not blank or a
    comment (in a block scalar, where a comment is text: not blank); ``offset`` itself where that line is."""
    if block_scalar:
        if not text.startswith(("\n", "\r\n"), offset):  # a line of the text (the common case): no match
            return offset
        m = _BLANK_LINES.match(text, offset)
    else:
        m = _IDLE_LINES.match(text, offset)
    return max(offset, text.rfind("\n", offset, m.end() if m is not None else offset) + 1)


def unquote(text: str, quote: str) -> str:
    if quote == "'":
        return text.replace("''", "'")
    return _ESCAPE.sub(_unescape, text)


_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)")
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r", "e": "\x1b",
            " ": " ", "N": "\x85", "_": "\xa0", "L": "\u2028", "P": "\u2029"}


def _unescape(m: re.Match[str]) -> str:
    code = m.group(1)
    if len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)
