"""Text as a terminal draws it: safe, on one line, in columns (for :mod:`vibench.compiler.diagnostics`, which
re-exports these functions, and for the tables and reports of the command line).

Whatever a spec holds, what reaches a terminal cannot act on it: control characters (an escape sequence that
would clear the screen or retitle the window, a carriage return that would hide text) and bidirectional
overrides are drawn as visible symbols (:func:`terminal_safe`), one column each, and a line break in a name
is written ``\\n`` (:func:`one_line`). :func:`display_width` counts the columns text takes (a CJK character
two, a combining mark none), so that a caret stays under its character and :func:`pad` keeps a table's
columns aligned (:func:`one_cell`: a cell's text).
"""

from __future__ import annotations

from vibench.compiler.codegen.text import char_width

# C0 controls but tab and line feed as their Control Pictures (U+2400...), DEL as U+2421, C1 controls and the
# bidirectional formatting characters (Trojan Source's reordering) as U+FFFD: each still one column wide.
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
# A file name's byte that is not UTF-8 (Python's surrogate escape, U+DC80...U+DCFF) as `\xe9`, as usage errors,
# JSON and model.py's header write it (the text output showed `\udce9`).
_TERMINAL: dict[int, int | str] = {i: 0x2400 + i for i in range(0x20) if i not in (0x09, 0x0A)} | {0x7F: 0x2421} | {
    i: 0xFFFD for i in (*range(0x80, 0xA0), *_BIDI)} | {i: f"\\x{i - 0xDC00:02x}" for i in range(0xDC80, 0xDD00)}


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on (escape sequences, carriage returns, C1
    controls, bidirectional overrides) drawn as a visible symbol; tabs and line breaks are kept."""
    return text.translate(_TERMINAL)


def one_line(text: str) -> str:
    """``text`` with its line breaks written as ``\\n`` (``\\r``): a file name in a message cannot start a line
    of its own (`q\\nerror[E999]: spoof.yaml` printed a forged diagnostic line)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def display_width(text: str) -> int:
    """Terminal columns of ``text`` as :func:`terminal_safe` draws it: wide and full-width characters take two;
    marks and format characters none (a combining accent, a Thai or Devanagari vowel sign, U+FE0F, a zero-width
    space: categories Mn, Me, Cf); a character terminal_safe draws as a symbol (a control, a bidirectional
    override) one, a file name's byte that is not UTF-8 the four of its text (`\\xe9`). A tab counts
    one: expand it, or write it as ``\\t``, first.

    >>> display_width("conv"), display_width("卷积"), display_width("ที่นี่"), display_width("a\u200bb")
    (4, 4, 2, 2)
    """
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    # One rule for the terminal and for model.py's lines (ruff's): vibench.compiler.codegen.text.char_width.
    drawn = _TERMINAL.get(ord(ch))  # a symbol (one column), or the text `\xe9` of a byte that is not UTF-8
    return char_width(ch) if drawn is None else 1 if isinstance(drawn, int) else len(drawn)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (:func:`display_width`), on the left when
    ``right`` (a number column): a table of names in CJK stays aligned."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def one_cell(text: str) -> str:
    """``text`` for one cell of a table: on one line (:func:`one_line`) and with each tab written ``\\t`` (a tab
    moves the cursor to the next tab stop, which no column width accounts for)."""
    return one_line(text).replace("\t", "\\t")
