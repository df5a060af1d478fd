"""Offsets in a document's text and LSP positions (line, character in the negotiated encoding).

Two notions of a line meet here. LSP ends a line at ``\\r\\n``, ``\\n`` or ``\\r``, and nothing
else: every position sent to or read from the client counts lines so. The compiler reads YAML 1.1
(libyaml), which also ends a line at NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR
(U+2029), and it reads a file without its byte-order mark: its ``line:col`` positions are counted
so, and :meth:`Lines.line_col_offset` converts them the compiler's way. An edit the client sends
(``textDocument/didChange``) is placed by LSP's lines: :func:`apply_edit`.
"""

from __future__ import annotations

import bisect
import re

from vibench.compiler.diagnostics import YAML_LINE_BREAK

BOM = "\ufeff"
LSP_BREAK = re.compile(r"\r\n?|\n")
_LONE_YAML_BREAK = re.compile(r"\r(?!\n)|[\x85\u2028\u2029]")


def yaml_lines(text: str) -> str:
    """``text`` with each line break of YAML other than ``\\n`` and ``\\r\\n`` written as ``\\n``
    (one character for one: offsets stay), for readers that split lines at ``\\n``.

    >>> yaml_lines("a: 1\\rb: 2\\u2028c: 3\\r\\n")
    'a: 1\\nb: 2\\nc: 3\\r\\n'
    """
    if "\r" not in text and text.isascii():
        return text
    return _LONE_YAML_BREAK.sub("\n", text)


def _line_starts(text: str, breaks: re.Pattern[str]) -> list[int]:
    return [0, *(m.end() for m in breaks.finditer(text))]


class Lines:
    """Converts between text offsets (code points) and ``(line, character)`` positions.

    ``encoding`` is the position encoding agreed with the client: ``utf-16`` (the LSP default),
    ``utf-8`` or ``utf-32``. Lines of plain ASCII, nearly all of a spec, convert for free. A lone
    surrogate (a client may send one) is one UTF-16 unit, one code point, and three UTF-8 bytes.

    >>> lines = Lines("a: 1\\nb: é2\\n")
    >>> lines.position(9), lines.offset(1, 4)
    ((1, 4), 9)
    >>> Lines("b: é2", "utf-8").position(4)
    (0, 5)
    >>> Lines("a: 1\\rb: 2").position(7)
    (1, 2)
    """

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = encoding
        if "\r" in text:
            self.starts = _line_starts(text, LSP_BREAK)
        else:
            self.starts = [0]
            at = text.find("\n")
            while at != -1:
                self.starts.append(at + 1)
                at = text.find("\n", at + 1)
        self._compiler_starts: list[int] | None = None

    def _line_span(self, starts: list[int], line: int) -> tuple[int, int]:
        """Offsets of the start and end (before its line break) of a line in ``starts``."""
        start = starts[line]
        if line + 1 >= len(starts):
            return start, len(self.text)
        end = starts[line + 1] - 1
        if self.text[end] == "\n" and end > start and self.text[end - 1] == "\r":
            end -= 1
        return start, end

    def line_text(self, line: int) -> str:
        if line < 0 or line >= len(self.starts):
            return ""
        start, end = self._line_span(self.starts, line)
        return self.text[start:end]

    def _units(self, text: str) -> int:
        if text.isascii() or self.encoding == "utf-32":
            return len(text)
        if self.encoding == "utf-8":
            return len(text.encode("utf-8", "surrogatepass"))
        return len(text.encode("utf-16-le", "surrogatepass")) // 2

    def position(self, offset: int) -> tuple[int, int]:
        """The ``(line, character)`` of a text offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, self._units(self.text[self.starts[line]:offset])

    def offset(self, line: int, character: int) -> int:
        """The text offset of a ``(line, character)`` position (clamped to the line)."""
        if line >= len(self.starts):
            return len(self.text)
        if line < 0:
            return 0
        text = self.line_text(line)
        if text.isascii() or self.encoding == "utf-32":
            return self.starts[line] + min(character, len(text))
        units = 0
        for index, ch in enumerate(text):
            if units >= character:
                return self.starts[line] + index
            units += self._units(ch)
        return self.starts[line] + len(text)

    def line_col_offset(self, line: int, col: int) -> int:
        """The offset of a compiler position (1-based line and column, in code points), counted as
        the compiler counts: lines end at YAML's line breaks, and a leading byte-order mark is not
        part of the text."""
        if self._compiler_starts is None:
            plain = "\r" not in self.text and self.text.isascii()
            self._compiler_starts = self.starts if plain else _line_starts(self.text, YAML_LINE_BREAK)
        starts = self._compiler_starts
        if line - 1 >= len(starts):
            return len(self.text)
        start, end = self._line_span(starts, max(line - 1, 0))
        if start == 0 and self.text.startswith(BOM):
            start = 1
        return start + max(0, min(col - 1, end - start))


def apply_edit(text: str, start: tuple[int, int], end: tuple[int, int], new_text: str,
               encoding: str = "utf-16") -> str:
    """``text`` with the range from ``start`` to ``end`` (LSP ``(line, character)`` positions in ``encoding``)
    replaced by ``new_text``: an incremental ``didChange``, placed by LSP's lines (pygls' own split the text with
    ``str.splitlines``, which also breaks at U+2028, NEL and a form feed, so the edit landed lines off; and a
    character past a ``\\r\\n`` line's end took its ``\\r``). As LSP says, a character beyond its line's end is the
    line's end, and a line beyond the text its end; a range given end first is read start first (as
    vscode-languageserver-textdocument reads it).

    >>> apply_edit("a: 1\\u2028b: 2\\nc: 3\\n", (1, 0), (1, 0), "X")
    'a: 1\\u2028b: 2\\nXc: 3\\n'
    >>> apply_edit("a: 1\\r\\nc: 3\\r\\n", (0, 4), (0, 9), "X")
    'a: 1X\\r\\nc: 3\\r\\n'
    """
    lines = Lines(text, encoding)
    a, b = lines.offset(*start), lines.offset(*end)
    if b < a:
        a, b = b, a
    return text[:a] + new_text + text[b:]
