"""Offsets in a document's text and LSP positions (line, character in the negotiated encoding).

Two notions of a line meet here. LSP ends a line at ``\\r\\n``, ``\\n`` or ``\\r``, and nothing
else: every position sent to or read from the client counts lines so. The compiler reads YAML 1.1
(libyaml), which also ends a line at NEL (U+0085), LINE SEPARATOR (U+2028) and PARAGRAPH SEPARATOR
(U+2029), and it reads a file without its byte-order mark: its ``line:col`` positions are counted
so, and :meth:`Lines.line_col_offset` converts them the compiler's way. An edit the client sends
(``textDocument/didChange``) is placed by LSP's lines: :class:`EditedText`, :func:`apply_edit`.
"""

from __future__ import annotations

import bisect
import re

from vibench.compiler.diagnostics import YAML_LINE_BREAK

BOM = "\ufeff"
LSP_BREAK = re.compile(r"\r\n?|\n")
_LSP_BREAK_KEPT = re.compile(r"(\r\n?|\n)")
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


def _units(text: str, encoding: str) -> int:
    """The length of ``text`` in ``encoding``'s units."""
    if text.isascii() or encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _column(line: str, character: int, encoding: str) -> int:
    """The index in ``line`` (its text without the line break) of LSP's ``character``, clamped to the line's end;
    a character inside a code point (half a surrogate pair, a byte of UTF-8) is the code point's end."""
    if line.isascii() or encoding == "utf-32":
        return min(character, len(line))
    units = 0
    for index, ch in enumerate(line):
        if units >= character:
            return index
        units += _units(ch, encoding)
    return len(line)


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

    def position(self, offset: int) -> tuple[int, int]:
        """The ``(line, character)`` of a text offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, _units(self.text[self.starts[line]:offset], self.encoding)

    def offset(self, line: int, character: int) -> int:
        """The text offset of a ``(line, character)`` position (clamped to the line)."""
        if line >= len(self.starts):
            return len(self.text)
        if line < 0:
            return 0
        return self.starts[line] + _column(self.line_text(line), character, self.encoding)

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


def split_lines(text: str) -> list[str]:
    """The LSP lines of ``text``, each with its line break; the last has none (it is empty after a final break).

    >>> split_lines("a\\r\\nb\\rc\\u2028d\\n")
    ['a\\r\\n', 'b\\r', 'c\\u2028d\\n', '']
    """
    if "\r" not in text:
        pieces = text.split("\n")
        return [piece + "\n" for piece in pieces[:-1]] + [pieces[-1]]
    parts = _LSP_BREAK_KEPT.split(text)  # a line's text, its break, the next line's text, ...
    return [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)] + [parts[-1]]


def _content_length(line: str) -> int:
    """The length of an element of :func:`split_lines` without its line break."""
    if line.endswith("\r\n"):
        return len(line) - 2
    return len(line) - 1 if line.endswith(("\n", "\r")) else len(line)


class EditedText:
    """A text under a ``didChange``'s incremental edits, each placed by LSP's lines on the text the ones before it
    left (as LSP says), kept as its lines: an edit splits the text once and re-splits only the lines it touches, so
    a message of many edits costs about its length and the document's, not their product (a new :class:`Lines` and
    copy of the text per edit took 12 s for 2,000 edits of a 700 KB spec, the server deaf meanwhile). A line holds
    its line break, so ``"".join`` gives the text back.

    >>> edited = EditedText("a: 1\\nb: 2\\n")
    >>> edited.replace((1, 0), (1, 0), "#"); edited.replace((0, 4), (1, 0), "0\\n")
    >>> edited.text
    'a: 10\\n#b: 2\\n'
    """

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.encoding = encoding
        self._text: str | None = text
        self._lines: list[str] | None = None  # split at the first edit (a message may only replace the whole text)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self._lines or [""])
        return self._text

    def _index(self, lines: list[str], line: int, character: int) -> tuple[int, int]:
        """(line, index in it) of an LSP position: beyond its line's end is the end, beyond the text the text's end."""
        if line < 0:
            return 0, 0
        if line >= len(lines):
            return len(lines) - 1, len(lines[-1])
        text = lines[line]
        return line, _column(text[:_content_length(text)], character, self.encoding)

    def replace(self, start: tuple[int, int], end: tuple[int, int], new_text: str) -> None:
        """Replace the range from ``start`` to ``end`` (LSP positions; given end first, read start first)."""
        if self._lines is None:
            self._lines = split_lines(self.text)
        lines, self._text = self._lines, None
        a, b = sorted((self._index(lines, *start), self._index(lines, *end)))
        # The line before joins when it ends at a `\r`: a `\n` inserted at this line's start makes one `\r\n` with it.
        first = a[0] - 1 if a[0] > 0 and lines[a[0] - 1].endswith("\r") else a[0]
        head = lines[a[0] - 1] if first < a[0] else ""
        replaced = split_lines(head + lines[a[0]][:a[1]] + new_text + lines[b[0]][b[1]:])
        if b[0] + 1 < len(lines):  # the text goes on: the piece ends with line b's break, and the next line follows
            replaced.pop()
        lines[first:b[0] + 1] = replaced


def apply_edit(text: str, start: tuple[int, int], end: tuple[int, int], new_text: str,
               encoding: str = "utf-16") -> str:
    """``text`` with the range from ``start`` to ``end`` (LSP ``(line, character)`` positions in ``encoding``)
    replaced by ``new_text``: an incremental ``didChange``, placed by LSP's lines (pygls' own split the text with
    ``str.splitlines``, which also breaks at U+2028, NEL and a form feed, so the edit landed lines off; and a
    character past a ``\\r\\n`` line's end took its ``\\r``). As LSP says, a character beyond its line's end is the
    line's end, and a line beyond the text its end; a range given end first is read start first (as
    vscode-languageserver-textdocument reads it). One edit of :class:`EditedText`.

    >>> apply_edit("a: 1\\u2028b: 2\\nc: 3\\n", (1, 0), (1, 0), "X")
    'a: 1\\u2028b: 2\\nXc: 3\\n'
    >>> apply_edit("a: 1\\r\\nc: 3\\r\\n", (0, 4), (0, 9), "X")
    'a: 1X\\r\\nc: 3\\r\\n'
    """
    edited = EditedText(text, encoding)
    edited.replace(start, end, new_text)
    return edited.text
