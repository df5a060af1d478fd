"""The data of :mod:`vibench.lsp.outline`: entries by path, the outline, the cursor; and YAML quoted-scalar text.

Moved out of ``outline.py`` unchanged, so that the scanner module stays under ~450 lines; ``outline``
re-exports :class:`Entry`, :class:`Outline`, :class:`Cursor` and :data:`Path`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Path = tuple[str | int, ...]


@dataclass
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
    # The scanner's state at the start of each line (None inside a quoted string), so that
    # :func:`cursor_at` reads only the cursor's line of a text that starts like this one.
    states: list[tuple | None] = field(default_factory=list, repr=False)

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
    """The index after the quote that closes a string whose text starts at ``line[j]``."""
    n = len(line)
    while j < n:
        if line[j] == "\\" and quote == '"':
            j += 2
            continue
        if line[j] == quote:
            if quote == "'" and line[j + 1:j + 2] == "'":
                j += 2
                continue
            return j + 1
        j += 1
    return None


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
