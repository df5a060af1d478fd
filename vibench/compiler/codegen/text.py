"""Text in emitted code: string literals (:func:`string`, the one escaping path for text in code),
comments and docstrings cleaned of line breaks and control characters (:func:`comment_text`,
:func:`comment_word`, :func:`comment_lines`, :func:`docstring`). A part of
:mod:`vibench.compiler.codegen.layout`, which re-exports these.

Lines are measured in columns as ruff measures them (:func:`width`: a CJK character or an emoji takes two, a
combining accent none), not in characters, and a line is cut only where :func:`breaks_at` allows: never
between a character and the marks that follow it.

>>> print(string('say "hi"'))
'say "hi"'
>>> width("conv"), width("卷积"), width("e\u0301"), width("😀")
(4, 4, 1, 2)
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from functools import cache

WIDTH = 120

# Where ruff's widths (the `unicode-width` crate, 0.2: Unicode 16) differ from the rule in char_width, for the
# characters Python's own Unicode database knows (found by measuring each with ruff's E501): (first, last, width),
# in order.
_RUFF_WIDTHS = (
    (0x0600, 0x0604, 1), (0x06DD, 0x06DD, 1),  # Arabic number signs (prepended concatenation marks)
    (0x09BE, 0x09BE, 0), (0x09D7, 0x09D7, 0), (0x0B3E, 0x0B3E, 0), (0x0B57, 0x0B57, 0),  # vowel signs and
    (0x0BBE, 0x0BBE, 0), (0x0BD7, 0x0BD7, 0), (0x0CC0, 0x0CC0, 0), (0x0CC2, 0x0CC2, 0),  # length marks that
    (0x0CC7, 0x0CD6, 0), (0x0D3E, 0x0D3E, 0), (0x0D4E, 0x0D4E, 0), (0x0D57, 0x0D57, 0),  # extend a grapheme
    (0x0DCF, 0x0DCF, 0), (0x0DDF, 0x0DDF, 0),
    (0x1160, 0x11FF, 0),  # Hangul medial vowels and final consonants (they join the syllable before them)
    (0x17A4, 0x17A4, 2), (0x17D8, 0x17D8, 3),  # Khmer QAA and BEYYAL
    (0x1B35, 0x1B3D, 0), (0x1B43, 0x1B43, 0),  # Balinese vowel signs
    (0x2630, 0x2637, 2), (0x268A, 0x268F, 2),  # trigrams, digrams (wide in Unicode 16.0)
    (0x2D7F, 0x2D7F, 1),  # Tifinagh consonant joiner
    (0x3164, 0x3164, 0),  # Hangul filler
    (0x4DC0, 0x4DFF, 2),  # hexagrams (wide in Unicode 16.0)
    (0xA8FA, 0xA8FA, 0),  # Devanagari caret
    (0xD7B0, 0xD7FB, 0),  # Hangul Jamo Extended-B (medial vowels and final consonants)
    (0xFF9E, 0xFFA0, 0),  # half-width voiced sound marks, half-width Hangul filler
    (0xFFF9, 0xFFFB, 1),  # interlinear annotation
    (0x110BD, 0x110BD, 1), (0x110CD, 0x110CD, 1),  # Kaithi number signs
    (0x111C2, 0x111C3, 0), (0x1133E, 0x1133E, 0), (0x11357, 0x11357, 0), (0x114B0, 0x114B0, 0),
    (0x114BD, 0x114BD, 0), (0x115AF, 0x115AF, 0), (0x1171E, 0x1171E, 1), (0x11930, 0x11930, 0),
    (0x1193F, 0x1193F, 0), (0x11941, 0x11941, 0), (0x11A84, 0x11A89, 0), (0x11D46, 0x11D46, 0),
    (0x13430, 0x13438, 1),  # Egyptian hieroglyph format controls
    (0x1D300, 0x1D376, 2),  # Tai Xuan Jing symbols, counting rods (wide in Unicode 16.0)
)
_RUFF_STARTS = [first for first, _, _ in _RUFF_WIDTHS]
ZWJ = "\u200d"


def width(text: str) -> int:
    """Columns of ``text`` as ruff measures a line against the line length (E501 and ``ruff format`` alike): the
    sum of its characters' :func:`char_width` (ruff adds up characters: an emoji ZWJ sequence counts each of
    its emoji). Code written with a tab or a line break in it is not measured here."""
    if text.isascii():
        return len(text)
    return sum(map(char_width, text))


_columns = width  # (for the functions whose `width` is the line's)


@cache
def char_width(ch: str) -> int:
    """The columns of one character, as the `unicode-width` crate that ruff uses counts them: wide and full-width
    characters (East Asian Width W or F: CJK, most emoji) two; marks and format characters (a combining accent, a
    variation selector, a zero-width joiner or space: categories Mn, Me, Cf) none; others one. (A control
    character counts one here, as a terminal shows it escaped; emitted code never holds one.)"""
    code = ord(ch)
    if code < 0x300:
        return 0 if 0xAD == code else 1  # (U+00AD, the soft hyphen, is a format character)
    k = bisect.bisect_right(_RUFF_STARTS, code) - 1
    if k >= 0 and code <= _RUFF_WIDTHS[k][1]:
        return _RUFF_WIDTHS[k][2]
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def breaks_at(text: str, k: int, lo: int = 0) -> bool:
    """Whether a line may be cut before ``text[k]``: not before a mark or another character of no width (a
    combining accent, a variation selector, a Hangul vowel), a spacing mark, a zero-width joiner or an emoji
    skin tone, not after a zero-width joiner, and not inside a pair of regional indicators (a flag), paired
    from ``lo`` on (the start of the line being cut: a run of flags is walked back at most to there, so cutting
    a long run into lines stays linear)."""
    if k <= 0 or k >= len(text):
        return True
    ch, before = text[k], text[k - 1]
    if before == ZWJ:
        return False
    if ch < "\u0300":
        return True
    if char_width(ch) == 0 or unicodedata.category(ch) == "Mc" or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return False
    if _regional(ch) and _regional(before):
        run = 0
        while k - run - 1 >= lo and _regional(text[k - run - 1]):
            run += 1
        return run % 2 == 0
    return True


def _regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def fitting(text: str, room: int, start: int = 0) -> int:
    """How many characters of ``text`` from ``start`` on start it within ``room`` columns, ending where
    :func:`breaks_at` allows; at least one (a character wider than the room, or marks on one character wider than
    it, are cut anyway). ``start`` spares a caller that cuts a long text into lines a copy of the rest per line."""
    if text.isascii():
        return max(1, min(room, len(text) - start))
    used, best, anywhere = 0, 0, 0
    for k in range(start, len(text)):
        used += char_width(text[k])
        if used > room:
            break
        anywhere = k + 1 - start
        if breaks_at(text, k + 1, start):
            best = k + 1 - start
    return best or anywhere or 1


def cut_to_fit(word: str, room: int, whole_escapes: bool = False) -> list[str]:
    """``word`` cut into pieces of at most ``room`` columns (:func:`fitting`), the last one the rest, which fits.
    ``whole_escapes``: a piece never ends inside an escape (``\\\\``, ``\\"``) of a docstring's text.

    Linear in the length of ``word``: each piece is measured once and the rest is never copied (cutting a 1 MB
    word by slicing off one line at a time took seconds, and measured the rest again for each line).

    >>> cut_to_fit("abcdefgh", 3)
    ['abc', 'def', 'gh']
    """
    pieces: list[str] = []
    rest = width(word)
    start = 0
    while rest > room:
        cut = start + fitting(word, room, start)
        if whole_escapes and (cut - start - len(word[start:cut].rstrip("\\"))) % 2:
            cut = cut - 1 if cut - start > 1 else start + 2
        pieces.append(word[start:cut])
        rest -= width(pieces[-1])
        start = cut
    pieces.append(word[start:])
    return pieces


def string(value: str) -> str:
    """The literal ruff writes for ``value``: double quotes unless the text holds more double quotes
    than single ones; backslashes, the quote, line breaks and every non-printable character escaped."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    if value.isprintable():  # nothing to escape but backslashes and the quote: no loop over the characters
        return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote
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


def comment_word(word: str) -> str:
    """``word`` safe inside one ``#`` comment as :func:`comment_text` makes text, but with every space kept: a
    shell word of model.py's Regenerate line must read back byte for byte (`'my  spec.yaml'` squeezed to one
    space named another file). A word :func:`~vibench.compiler.codegen.header.shell` quoted is printable, so
    comes back unchanged; a line break or control character still cannot reach the comment.

    >>> comment_word("'a  b'"), comment_word("a\\nb")
    ("'a  b'", 'a b')
    """
    return _clean(word)


def comment_lines(text: str, indent: int, width: int = WIDTH) -> list[str]:
    """``# text`` wrapped at word boundaries to fit the width (a single long word is cut)."""
    room = max(width - indent - 2, 20)
    words = comment_text(text).split(" ")
    lines: list[str] = []
    current = ""
    for whole in words:
        *pieces, word = cut_to_fit(whole, room)
        if pieces and current:
            lines.append(current)
            current = ""
        lines += pieces
        if current and _columns(current) + 1 + _columns(word) > room:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current or not lines:
        lines.append(current)
    return ["# " + line if line else "#" for line in lines]


def docstring(lines: Sequence[str], indent: int, width: int = WIDTH) -> list[str]:
    """A docstring's source lines: every character of the text is data (backslashes, quotes and
    line breaks cannot end it), long lines are wrapped, trailing spaces dropped, and the text laid out as
    ``ruff format`` lays out a docstring, so that it leaves the file as it is: the first line starts at the
    quotes, the indentation the lines after it share is removed (:func:`_dedented`; a YAML ``doc: |`` block
    with an indented list gives ``"Summary\\n    detail"``).

    >>> docstring(["Summary.", "    detail", "      more"], 4)[1:3]
    ['detail', '  more']
    """
    room = max(width - indent, 40)
    text = [_indented(_clean(part).rstrip()) for raw in lines for part in _split_breaks(raw)]
    while text and not text[-1]:
        text.pop()
    while text and not text[0]:
        text.pop(0)
    # ruff strips a docstring's leading white space (an ideographic space, U+3000, too)
    first = _escape_doc(text[0].lstrip()) if text else "(no description)"
    if first.startswith('"'):  # escaped: `""""` would end the opening quotes (the quote was dropped)
        first = "\\" + first
    # Room for the quotes: a one-line docstring carries both on its line.
    body = _wrap_words(first, room - 6)
    for line in _dedented(text[1:]):
        body += _wrap_words(_escape_doc(line), room - 6)
    # A line the wrapping starts at a word that starts with other white space (a no-break space): without it.
    body = [_indented(line).rstrip() for line in body]
    while not body[-1]:  # (the first line holds text)
        body.pop()
    if len(body) == 1 and _columns(body[0]) + 6 <= room:
        return [f'"""{body[0]}"""']
    return [f'"""{body[0]}'] + body[1:] + ['"""']


def _dedented(lines: list[str]) -> list[str]:
    """``lines`` (the lines after a docstring's first, each indented by spaces alone: :func:`_indented`) without
    the indentation all of them that hold text share, as ruff removes it (a line of no text does not count)."""
    common = min((len(line) - len(line.lstrip(" ")) for line in lines if line), default=0)
    return [line[common:] for line in lines]


def _indented(line: str) -> str:
    """``line`` as ruff writes a docstring's line: the spaces that indent it, then its text without the other
    white space that starts it (an ideographic space, U+3000, a no-break space)."""
    lead = len(line) - len(line.lstrip(" "))
    return line[:lead] + line[lead:].lstrip() if line[lead : lead + 1].isspace() else line


def _split_breaks(text: str) -> list[str]:
    """``text`` cut at every character of ``_BREAKS`` (``\\r\\n`` is two breaks, an empty part between)."""
    return _BREAK_AT.split(text)


_BREAK_AT = re.compile("[" + "".join(sorted(_BREAKS)) + "]")


def _escape_doc(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    slashes = len(text[:-1]) - len(text[:-1].rstrip("\\"))
    if text.endswith('"') and slashes % 2 == 0:  # a last quote not escaped yet (`\"\"\"` of a `"""` is)
        text = text[:-1] + '\\"'
    return text


def _wrap_words(text: str, room: int) -> list[str]:
    if width(text) <= room:
        return [text]
    lead = len(text) - len(text.lstrip(" "))
    out: list[str] = []
    current = text[:lead]
    left = room - lead if lead < room else 40  # (a line indented past the room: pieces of 40 columns, one a line)
    for whole in text[lead:].split(" "):
        *pieces, word = cut_to_fit(whole, left, whole_escapes=True)  # (never an escape, `\\`, `\"`, in two)
        if pieces and current.strip():
            out.append(current)
            current = text[:lead]
        out += [" " * lead + piece for piece in pieces]
        if current.strip() and width(current) + 1 + width(word) > room:
            out.append(current)
            current = " " * lead + word
        else:
            current = f"{current} {word}" if current.strip() else current + word
    if current.strip():
        out.append(current)
    return [line.rstrip() for line in out]


def long_string(value: str, room: int) -> list[str]:
    """Pieces of a long string, each written as its own literal of at most ``room`` columns (:func:`width`),
    cut after a space when one is in the second half of the piece, and where :func:`breaks_at` allows.
    The literal's width is kept up to date as the piece grows (measuring ``string(piece)`` again for each
    character cost a piece's length per character of the string).

    >>> long_string("one two three four", 12)
    ['"one two "', '"three four"']
    """
    if value.isascii() and value.isprintable() and not any(q in value for q in "\"'\\"):
        return [f'"{piece}"' for piece in _plain_pieces(value, room)]
    pieces: list[str] = []
    current = ""
    doubles, singles, in_double, in_single = _literal_widths(current)
    for ch in value:
        inner = _escaped_width(ch)
        if doubles + (ch == '"') > singles + (ch == "'"):
            grown = in_single + inner + (ch == "'")  # (the width of string(current + ch))
        else:
            grown = in_double + inner + (ch == '"')
        if current and grown > room:
            joined = current + ch
            cut = next((k for k in range(len(current) - 1, -1, -1) if current[k] == " " and breaks_at(joined, k + 1)),
                       -1)
            if cut > len(current) // 2:
                pieces.append(current[: cut + 1])
                current = current[cut + 1 :]
            else:
                k = next((k for k in range(len(current), 0, -1) if breaks_at(joined, k)), len(current))
                pieces.append(current[:k])
                current = current[k:]
            doubles, singles, in_double, in_single = _literal_widths(current)
        current += ch
        doubles += ch == '"'
        singles += ch == "'"
        in_double += inner + (ch == '"')
        in_single += inner + (ch == "'")
    if current:
        pieces.append(current)
    return [string(p) for p in pieces]


def _plain_pieces(value: str, room: int) -> list[str]:
    """:func:`long_string`'s pieces of a text whose every character takes one column in its literal (printable
    ASCII, no quote, no backslash), cut the same way but by slices: a piece of ``room - 2`` characters, up to its
    last space when that is in its second half. (Walking a 100 KB text a character at a time took 0.1 s.)"""
    most = max(room - 2, 1)
    pieces: list[str] = []
    start = 0
    while len(value) - start > most:
        space = value.rfind(" ", start, start + most)
        end = space + 1 if space - start > most // 2 else start + most
        pieces.append(value[start:end])
        start = end
    return pieces + [value[start:]] if start < len(value) else pieces


def _escaped_width(ch: str) -> int:
    """The columns of ``ch`` in a literal of :func:`string`, but the quote (which one escapes depends on the text)."""
    if ch == "\\":
        return 2
    return char_width(ch) if ch.isprintable() else width(repr(ch)[1:-1])


def _literal_widths(text: str) -> tuple[int, int, int, int]:
    """The double and single quotes of ``text``, and the width of its literal in double quotes and in single ones."""
    doubles, singles = text.count('"'), text.count("'")
    inner = sum(map(_escaped_width, text))
    return doubles, singles, 2 + inner + doubles, 2 + inner + singles
