"""The records of a CSV metadata table read as the ``csv`` module reads them, without its limit on a cell
(:func:`records`), for :mod:`vibench.compiler.phm_metadata`.

``csv.reader`` refuses a cell longer than ``csv.field_size_limit()`` (131,072 characters), one setting of the whole
process; pandas, and so PHM-Vibench, reads a longer one (a file's notes). Raising that setting while a table is
read changed it for every other thread, and putting it back undid a change another thread made meanwhile. A table
the ``csv`` module refuses for a long cell is read here instead, as ``csv.reader(io.StringIO(text, newline=""),
delimiter=delimiter)`` reads it with the default dialect otherwise: a quote opens a quoted cell only as a cell's
first character; inside one, a doubled quote is a quote and line breaks are text; after its closing quote the cell
runs on, as text, to the next delimiter or line break; a blank line is a record without cells; a quote never closed
takes the rest of the file (which the table's reader then refuses). The table's own size limit bounds a cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LINE_BREAK = re.compile(r"\r\n?|\n")
"""A line break as ``csv.reader`` over ``io.StringIO(text, newline="")`` counts lines."""


def records(text: str, delimiter: str) -> Iterator[tuple[int, int, int, list[str]]]:
    """Each record of ``text``: the line it starts on, its start and end offsets (past its line break) and its cells.

    >>> [cells for _, _, _, cells in records('a,"b ""c""\\nd",e\\n\\nf,\\n', ",")]
    [['a', 'b "c"\\nd', 'e'], [], ['f', '']]
    """
    plain = re.compile(f"[^{re.escape(delimiter)}\r\n]*")  # the rest of a cell: up to a delimiter or line break
    size, at, line = len(text), 0, 1
    while at < size:
        start, cells = at, []
        if text[at] not in "\r\n":  # (a blank line is a record without cells)
            while True:
                if text.startswith('"', at):
                    cell, at = _quoted(text, at + 1, plain)
                else:
                    end = _text_end(plain, text, at)
                    cell, at = text[at:end], end
                cells.append(cell)
                if at < size and text[at] == delimiter:
                    at += 1
                    continue
                break
        if at < size:  # past the line break that ends the record
            at += 2 if text.startswith("\r\n", at) else 1
        yield line, start, at, cells
        line += len(LINE_BREAK.findall(text, start, at))


def _quoted(text: str, at: int, plain: re.Pattern[str]) -> tuple[str, int]:
    """The cell whose opening quote is just before ``at``, and the offset where it ends."""
    parts = []
    while True:
        quote = text.find('"', at)
        if quote == -1:  # never closed: the rest of the file
            parts.append(text[at:])
            return "".join(parts), len(text)
        parts.append(text[at:quote])
        if not text.startswith('"', quote + 1):
            break
        parts.append('"')  # a doubled quote is one quote of the text
        at = quote + 2
    end = _text_end(plain, text, quote + 1)  # after the closing quote, text up to the cell's end
    parts.append(text[quote + 1:end])
    return "".join(parts), end


def _text_end(plain: re.Pattern[str], text: str, at: int) -> int:
    """Where the text of a cell from ``at`` ends: at the next delimiter, line break or the end of ``text``."""
    found = plain.match(text, at)
    return found.end() if found is not None else at  # (it always matches, the empty text too)
