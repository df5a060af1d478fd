"""Offsets in a document's text and LSP positions (line, character in the negotiated encoding)."""

from __future__ import annotations

import bisect


class Lines:
    """Converts between text offsets (code points) and ``(line, character)`` positions.

    ``encoding`` is the position encoding agreed with the client: ``utf-16`` (the LSP default),
    ``utf-8`` or ``utf-32``. Lines of plain ASCII, nearly all of a spec, convert for free.

    >>> lines = Lines("a: 1\\nb: é2\\n")
    >>> lines.position(9), lines.offset(1, 4)
    ((1, 4), 9)
    >>> Lines("b: é2", "utf-8").position(4)
    (0, 5)
    """

    def __init__(self, text: str, encoding: str = "utf-16") -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0]
        at = text.find("\n")
        while at != -1:
            self.starts.append(at + 1)
            at = text.find("\n", at + 1)

    def line_text(self, line: int) -> str:
        if line < 0 or line >= len(self.starts):
            return ""
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]

    def _units(self, text: str) -> int:
        if text.isascii() or self.encoding == "utf-32":
            return len(text)
        if self.encoding == "utf-8":
            return len(text.encode("utf-8"))
        return len(text.encode("utf-16-le")) // 2

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
        """The offset of a compiler position (1-based line and column, in code points)."""
        if line - 1 >= len(self.starts):
            return len(self.text)
        text = self.line_text(line - 1)
        return self.starts[max(line - 1, 0)] + max(0, min(col - 1, len(text)))
