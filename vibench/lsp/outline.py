"""A tolerant outline of spec text: where each key and value is, and what the cursor is on.

The compiler's loader (:mod:`vibench.compiler.load`) gives exact positions, but only for text that
parses, and text in an editor mostly does not: ``{block: conv1d, in: `` is what completion sees.
Its scanner (:mod:`vibench.lsp.outline_scanner`) reads the YAML that specs use (block and flow
mappings and sequences, plain and quoted scalars, comments, ``|``/``>`` block scalars; JSON is flow
YAML) line by line and never fails: an unclosed bracket or quote ends at the end of the text or line.

* :func:`outline` — every key and scalar value by *path* (``("nodes", "conv", "in", 0)``), with
  offsets, in document order; the first of duplicate keys wins (the compiler reports E005). A mapping
  holds the keys YAML's merge key (``<<: *base``) gives it, and no key ``<<`` (:mod:`vibench.lsp.outline_merge`).
* :func:`cursor_at` — the path and role (``key`` or ``value``) of the word at an offset, read from
  the text before it, so a half-typed word is placed where it would go.

Offsets are indices into the text (code points); :class:`vibench.lsp.text.Lines` converts them.
Lines end where YAML (the compiler) ends them, NEL and U+2028/U+2029 included; a leading
byte-order mark is skipped, as the compiler skips it.

>>> o = outline("nodes:\\n  conv: {block: conv1d, in: [x, y]}\\n")
>>> o.keys(("nodes",)), o.value(("nodes", "conv", "block")), o.value(("nodes", "conv", "in", 1))
(['conv'], 'conv1d', 'y')
>>> c = cursor_at("nodes:\\n  conv: {block: conv1d, in: [x, ", 38)
>>> c.role, c.path
('value', ('nodes', 'conv', 'in', 1))
"""

from __future__ import annotations

import bisect
import re

from vibench.lsp.outline_model import Cursor, Outline, Path
from vibench.lsp.outline_scanner import WORD_CHARS, Scanner, line_start_at, word_start
from vibench.lsp.text import BOM, yaml_lines

__all__ = ["WORD_CHARS", "Cursor", "Outline", "Path", "cursor_at", "outline", "word_at"]

_WORD_AFTER = re.compile(WORD_CHARS + "*")


def outline(text: str) -> Outline:
    """Every key and scalar of ``text`` by path (see the module docstring)."""
    states: list[tuple[int, tuple]] = []
    result = Scanner(yaml_lines(text)).run(states=states).finish()
    result.text, result.states = text, states
    return result


def word_at(text: str, offset: int) -> tuple[str, int, int]:
    """The name around ``offset`` (letters, digits and ``_ . / # -``) and its span."""
    start = word_start(text, offset)
    m = _WORD_AFTER.match(text, offset)
    end = m.end() if m else offset
    return text[start:end], start, end


def cursor_at(text: str, offset: int, *, whole_word: bool = False, base: Outline | None = None) -> Cursor:
    """What the word at ``offset`` is, judged from the text before it.

    Completion asks at the cursor (the word typed so far decides); hover and go-to-definition ask
    with ``whole_word=True``, which reads up to the end of the word under the cursor. ``base``, the
    outline of this text or of an earlier version, saves reading the text before the cursor's line
    when it is unchanged: the scan resumes at the last state ``base`` kept before that line (at most
    about :data:`~vibench.lsp.outline_scanner.CHECKPOINT` characters earlier).
    """
    offset = max(0, min(offset, len(text)))
    word, start, end = word_at(text, offset)
    cut = end if whole_word else offset
    lines = yaml_lines(text[:cut])
    bom = 1 if text.startswith(BOM) else 0
    line_start = line_start_at(lines, cut, bom)
    scanner = Scanner(lines)
    known = None  # the last state of ``base`` at or before the cursor's line, if its text starts like this one
    if base is not None and len(base.text) >= line_start and base.text[:line_start] == text[:line_start]:
        index = bisect.bisect_right(base.states, line_start, key=lambda state: state[0]) - 1
        known = base.states[index] if index >= 0 else None
    if known is not None:
        scanner.restore(known[1]).run(known[0])
    else:
        scanner.run()
    line_before = lines[line_start_at(lines, start, bom):start]
    path, role = scanner.cursor(cut, line_before)
    return Cursor(path, role, word, start, end)
