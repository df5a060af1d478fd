"""What the loader does when libyaml refuses a spec text (see :mod:`vibench.compiler.load_compose`).

:class:`RefusedText` either repairs the one refusal that valid JSON meets, or reports the refusal as E001:

* a character beyond U+FFFF escaped as a UTF-16 surrogate pair (``"\\ud83d\\ude00"``, as Python's
  ``json.dumps`` writes it): libyaml refuses the first half alone, so the double-quoted scalar it refused
  has its pairs rewritten as YAML's ``\\U0001f600`` for the composer to read the text again, and every
  position libyaml gives after that is mapped back to the column as written;
* anything else is E001 at the position as written: a syntax error (with where the unclosed construct
  began, the escape refused, and a ``//`` or ``/*`` comment before it, which YAML reads as text), a
  character YAML does not allow, a lone surrogate in text given to the API, or text after the document;
* and the composer's own refusals of what libyaml read: `<<` (the merge key) as a value, and in a `.json` spec
  unquoted text that is no JSON literal (a `//` or `/*` comment in it named).

The composer makes one only when its text is refused, so loading a valid spec never imports this module.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, NamedTuple

from vibench.compiler.diagnostics import COMMENT_FIX, NO_SLASH_COMMENTS, YAML_LINE_BREAK, Diagnostic, SpecError
from vibench.compiler.ir import Pos

if TYPE_CHECKING:
    from vibench.compiler.load_compose import Loc

_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_ESCAPE = "found invalid Unicode character escape code"  # libyaml's words for `\ud800`
_PAIR = r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"  # `\ud83d\ude00`: 12 characters
_PAIR_AT = re.compile(_PAIR)
_PAIR_OR_ESCAPE_OR_QUOTE = re.compile(_PAIR + r'|\\.|"', re.S)  # a double-quoted scalar's tokens that matter
_ESCAPE_AT = re.compile(r"\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")
_ONE_DOCUMENT_HINT = "keep one spec per file (one YAML mapping or JSON object); write another in a file of its own"
_SHORTER = 2  # `\U0001F600` is 2 characters shorter than the pair it replaces
# A comment as JSON-with-comments writes it, where a token starts (a line's first; after `,` `{` `[`; after a
# value that ends with `}` `]` or a string's closing quote; after a key's `:` and a blank): YAML reads it as text,
# so it is a syntax error or part of a key or value. Strings are blanked first, all but their quotes, and `#`
# comments wholly. A `//` or `/*` that starts a token and is followed by a space, the end of the line or more of
# itself (a comment's usual look; `[//nas/a]` and `[/*.csv]` are plain values); and the `*/` that ends a `/*`
# comment, wherever it is.
_SLASH_COMMENT = re.compile(r"(?:^|[,{\[\]}\"']|:(?=[ \t]))[ \t]*(//(?=[ \t/]|$)|/\*(?=[ \t*]|$))|(\*/)")
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"?|\'(?:[^\']|\'\')*\'?|(?<!\S)#.*')
_PUNCTUATION_ONLY = re.compile(r"[\s{}\[\],]*")  # a line with no value on it: `{`, `},`


class RefusedText:
    """One spec text that libyaml refused at least once: its surrogate-pair rewrites and its E001 diagnostics.

    ``max_scalars`` double-quoted scalars may have their pairs rewritten, and libyaml may read at most
    ``max_reread`` characters again for them in all; past either, the refused pair is E001.
    """

    def __init__(self, text: str, file: str, *, max_scalars: int, max_reread: int) -> None:
        self.text = text
        self.file = file
        self.max_scalars = max_scalars
        self.max_reread = max_reread
        # Lines (0-based) where surrogate pairs were rewritten: the columns, in the text libyaml reads, of each
        # `\U...` escape that stands for a pair. A position after one is 2 columns further right as written.
        self.shifts: dict[int, list[int]] = {}
        self.rewritten = 0  # scalars whose pairs were rewritten
        self.reread = 0  # characters libyaml read before each rewrite: read again

    def pairs_rewritten(self, parsed: str, err: Any) -> str | None:
        """The text for libyaml to read again: ``parsed`` with each surrogate-pair escape (``\\ud83d\\ude00``,
        valid JSON) of the double-quoted scalar where libyaml refused one written as one ``\\U0001F600``; None
        when libyaml refused something else (a lone surrogate is E001). Only in a double-quoted scalar is a
        backslash an escape, so only that scalar is rewritten, from its opening quote (libyaml's context
        mark) to its closing one, by YAML's escape rules. E001 after ``max_scalars`` scalars."""
        mark, start_mark = err.problem_mark, err.context_mark
        if err.problem != _BAD_ESCAPE or mark is None or start_mark is None:
            return None
        bom = 1 if parsed.startswith("\ufeff") else 0  # libyaml's index does not count it
        at, start = mark.index + bom - 2, start_mark.index + bom  # the refused escape's backslash; the quote
        if not _PAIR_AT.match(parsed, at) or parsed[start:start + 1] != '"':
            return None
        if self.rewritten >= self.max_scalars or self.reread + mark.index > self.max_reread:
            raise self.syntax_error(err, parsed, hint=self._pair_hint()) from None
        self.rewritten += 1
        self.reread += mark.index
        pairs: list[tuple[int, str]] = []  # (index of the pair, its `\U` escape)
        end = len(parsed)
        for token in _PAIR_OR_ESCAPE_OR_QUOTE.finditer(parsed, start + 1):
            if token[0] == '"':
                end = token.start()
                break
            if token[1] is not None:
                code = 0x10000 + (int(token[1], 16) - 0xD800) * 0x400 + int(token[2], 16) - 0xDC00
                pairs.append((token.start(), f"\\U{code:08X}"))
        if not any(index == at for index, _ in pairs):  # pragma: no cover - libyaml and the scan agree
            return None
        breaks = [b.end() for b in YAML_LINE_BREAK.finditer(parsed, start, end)]
        pieces, last = [], 0
        added: dict[int, list[int]] = {}  # line -> columns of this scalar's `\U` escapes, left to right
        for index, escape in pairs:
            above = bisect_right(breaks, index)  # line breaks between the quote and the pair
            line = start_mark.line + above
            column = start_mark.column + index - start if above == 0 else index - breaks[above - 1]
            on_line = added.setdefault(line, [])
            on_line.append(column - _SHORTER * len(on_line))  # in the text with this scalar's earlier pairs rewritten
            pieces += [parsed[last:index], escape]
            last = index + len(escape) + _SHORTER
        pieces.append(parsed[last:])
        for line, columns in added.items():  # once per line (per pair, 32,000 pairs on one line took 11 s)
            # Escapes of scalars rewritten before lie before or after this one's on the line: those after move.
            moved = [c - _SHORTER * len(columns) if c > columns[0] else c for c in self.shifts.get(line, [])]
            self.shifts[line] = sorted(moved + columns)
        return "".join(pieces)

    def _pair_hint(self) -> str:
        return ("write these characters as UTF-8 (`json.dumps(..., ensure_ascii=False)`): vibench rewrites "
                f"surrogate-pair escapes (`\\ud83d\\ude00`) in at most {self.max_scalars} strings of a file "
                "(fewer in a very large one)")

    def written(self, pos: tuple[int, int]) -> tuple[int, int]:
        """A 1-based (line, column) in the text libyaml read, as a position in the text as written."""
        columns = self.shifts.get(pos[0] - 1) if self.shifts else None
        if not columns:
            return pos
        return pos[0], pos[1] + _SHORTER * bisect_right(columns, pos[1] - 1 - len("\\U0001F600"))

    def unshift(self, root: Loc) -> None:
        """Every position of the document as written (see :meth:`written`); a Loc shared by aliases once."""
        if not self.shifts:
            return
        seen: set[int] = set()
        stack = [root]
        while stack:
            loc = stack.pop()
            if id(loc) in seen:
                continue
            seen.add(id(loc))
            loc.pos = self.written(loc.pos)
            if isinstance(loc.children, dict):
                for key, (key_pos, child) in loc.children.items():
                    loc.children[key] = (self.written(key_pos), child)
                    stack.append(child)
            elif loc.children:
                stack.extend(loc.children)

    def syntax_error(self, err: Any, parsed: str, hint: str | None = None) -> SpecError:
        """E001 for a libyaml error: at the problem, with where the unfinished construct began, and where a
        `//` or `/* */` comment before it (which YAML reads as text) starts."""
        mark, context_mark = err.problem_mark, err.context_mark
        problem = err.problem or "invalid YAML"
        context = f" ({err.context})" if err.context else ""
        notes: tuple[str, ...] = ()
        found: str | None = None
        span = 1
        comment = _slash_comment(self.text, *(self.written((mark.line + 1, mark.column + 1)) if mark is not None
                                              else (len(self.text) + 1, 1)))
        if mark is None or (mark.index >= len(parsed) and context_mark is not None):
            # Unexpected end of the file: the start of the unclosed quote or bracket says more.
            mark, context_mark = context_mark or mark, None
            notes = ("the file ends before this is closed",)
            problem = problem.replace("end of stream", "end of file")
        if context_mark is not None and err.context and (context_mark.line, context_mark.column) != (
                mark.line, mark.column):
            line, column = self.written((context_mark.line + 1, context_mark.column + 1))
            notes = (f"{err.context.replace('while ', '', 1)} that starts at line {line}, column {column}",)
        where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        lines = YAML_LINE_BREAK.split(parsed, maxsplit=where[0])
        if where[0] > len(lines):  # libyaml ends the stream on a line of its own: a file without a last line break
            where = (len(lines), len(lines[-1]) + 1)  # ends at the end of its last line
        line_text = (lines[where[0] - 1:] or [""])[0]
        if hint is None and "\t" in line_text[:where[1]]:
            hint = "YAML does not allow tabs for indentation; indent with spaces"
        escape = _refused_escape(parsed, mark) if problem == _BAD_ESCAPE and mark is not None else None
        if escape is not None:  # at the escape's backslash, not at its digits
            where, (found, span) = (where[0], where[1] - 2), escape
            hint = hint or ("write the whole character: as UTF-8, as `\\U0001F600`, or as both halves of its "
                            "surrogate pair together (`\\ud83d\\ude00`)")
        if mark is not None and _long_key(parsed, mark.index):
            notes += (f"the key before it is longer than {MAX_KEY:,} characters: YAML (which reads JSON specs too) "
                      f"limits a key to {MAX_KEY:,} characters",)
            hint = hint or "shorten the key (a name has at most 32 characters)"
        if comment is not None:
            token, line, column = comment
            notes += (f"`{token}` at line {line}, column {column} starts a comment, but {NO_SLASH_COMMENTS}",)
            hint = hint or f"{COMMENT_FIX} (a JSON spec is read as YAML)"
        return SpecError([Diagnostic("E001", f"YAML syntax error: {problem}{context}",
                                     Pos(self.file, *self.written(where)), found=found, notes=notes, span=span,
                                     hint=hint or "check indentation, brackets and quotes around this position")],
                         {self.file: self.text})

    def reader_error(self, err: Any, parsed: str) -> SpecError:
        """E001 for a character YAML does not allow (a control character): at that character, whose
        position libyaml gives as a byte offset into the UTF-8 text."""
        before = parsed.encode("utf-8", "surrogatepass")[: err.position].decode("utf-8", "ignore")
        lines = YAML_LINE_BREAK.split(before)  # `\r` alone ends a line too (it was counted on line 1)
        line, column = len(lines) - 1, len(lines[-1])
        char = err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "\0")
        escape = f"\\x{char:02x}" if char < 256 else f"\\u{char:04x}"
        return SpecError([Diagnostic("E001", f"YAML syntax error: {err.reason}",
                                     Pos(self.file, *self.written((line + 1, column + 1))),
                                     found=f"the character U+{char:04X}",
                                     hint=f"delete it, or write it as {escape} inside a double-quoted string")],
                         {self.file: self.text})

    def surrogate_error(self, index: int) -> SpecError:
        """E001 for a lone UTF-16 surrogate at ``self.text[index]``: text given to the API or by an
        editor (no UTF-8 file holds one), located as libyaml counts lines and columns."""
        char = ord(self.text[index])
        lines = YAML_LINE_BREAK.split(self.text[1 if self.text.startswith("\ufeff") else 0:index])
        shown = _SURROGATE.sub("\ufffd", self.text)  # printable in the rendered message
        return SpecError([Diagnostic("E001", f"the text holds a lone surrogate U+{char:04X}, which no file can hold",
                                     Pos(self.file, len(lines), len(lines[-1]) + 1),
                                     found=f"the character U+{char:04X}",
                                     hint="delete it, or write the whole character it is half of")],
                         {self.file: shown})

    def after_document(self, mark: Any, parsed: str) -> SpecError:
        """E001 for text after a whole document without `---`: a second JSON object after the first (or text
        after `...`), or a bracket or comma left over after the one that closed the document."""
        stray = parsed[mark.index + (1 if parsed.startswith("\ufeff") else 0):][:1]
        if stray in ("}", "]"):
            return self._error(f"YAML syntax error: unmatched `{stray}` after the end of the document", mark,
                               hint="remove it, or the bracket before it that closes too early")
        if stray == ",":
            return self._error("YAML syntax error: `,` after the end of the document", mark,
                               hint="remove it: JSON has no comma after the last value")
        return self._error("a spec file holds exactly one YAML document", mark,
                           found="more text after the document ends (a second document)", hint=_ONE_DOCUMENT_HINT)

    def second_document(self, mark: Any) -> SpecError:
        """E001 for a second YAML document, started by `---`."""
        return self._error("a spec file holds exactly one YAML document", mark,
                           found="a second document (`---`)", hint=_ONE_DOCUMENT_HINT)

    def merge_value(self, mark: Any, anchor: str | None = None) -> SpecError:
        """E001 for YAML's merge key `<<` written as a value (or an alias of one), which only a key means:
        it was kept as an object that no later pass could name (`metadata: {p: <<}` crashed model.py's writer)."""
        written = f"`*{anchor}`" if anchor is not None else "`<<`"
        return self._error("`<<` is YAML's merge key, not a value", mark, expected="a value",
                           found=f"{written}, which YAML reads as the merge key" if anchor is None else
                           f"{written}, an alias of the merge key `<<`", span=len(written) - 2,
                           notes=("only as a key does `<<` mean something: `<<: *base` merges the mapping "
                                  "`base` into this one",),
                           hint='quote it ("<<") to write the text `<<`')

    def not_json(self, value: str, event: Any, parsed: str) -> SpecError | None:
        """E001 for a plain (unquoted) scalar in a `.json` spec that is no JSON literal: YAML reads one as text
        (`"n": 8 // eight` was the text `8 // eight`, `"doc": /* TODO */ "..."` a docstring of the comment). A
        `//` or `/*` in it that starts a word is located and named as a comment. None for the empty value libyaml
        puts before the `:` of a key too long for it: its syntax error comes next, and says why."""
        shown = value if len(value) <= 40 else value[:40] + "..."
        mark = event.start_mark
        comment = _comment_in_scalar(parsed, mark, event.end_mark)
        if comment is not None:
            token, line, column = comment
            return self._error(f"`{token}` starts a comment, but {NO_SLASH_COMMENTS}", _At(line, column),
                               span=2, found=f"the unquoted text `{shown}`",
                               notes=("a JSON spec is read as YAML, which reads the comment as unquoted text: part "
                                      "of the value or key it stands beside",),
                               hint=COMMENT_FIX)
        if not value and _long_key(parsed, mark.index):
            return None
        if not value:
            return self._error("a value is missing: JSON writes one after every `:`", mark,
                               expected="a JSON value: a string in double quotes, a number, true, false or null",
                               found="nothing", hint="write the value, or null for none")
        return self._error(f"`{shown}` is not JSON: JSON writes text (a key too) in double quotes", mark,
                           expected="a JSON value: a string in double quotes, a number, true, false or null",
                           found=f"the unquoted text `{shown}`", span=len(value.split("\n")[0]),
                           hint=f'write it in double quotes (`"{shown}"`), or as a number, true, false or null')

    def _error(self, message: str, mark: Any, **kw: Any) -> SpecError:
        pos = Pos(self.file, *self.written((mark.line + 1, mark.column + 1)))
        return SpecError([Diagnostic("E001", message, pos, **kw)], {self.file: self.text})


class _At(NamedTuple):
    """A 0-based position in the text libyaml read, as its marks give one."""

    line: int
    column: int


def _comment_in_scalar(parsed: str, start: Any, end: Any) -> tuple[str, int, int] | None:
    """The first `//` or `/*` that starts a word of the plain scalar libyaml read from ``start`` to ``end`` (its
    marks) in ``parsed``, with its 0-based line and column; None when there is none (`http://x` holds none)."""
    bom = 1 if parsed.startswith("\ufeff") else 0  # libyaml's index does not count it
    source = parsed[start.index + bom:end.index + bom]
    match = _WORD_COMMENT.search(source)
    if match is None:
        return None
    before = YAML_LINE_BREAK.split(source[:match.start(1)])
    return match[1], start.line + len(before) - 1, (start.column if len(before) == 1 else 0) + len(before[-1])


_WORD_COMMENT = re.compile(r"(?:^|(?<=\s))(//|/\*)")


MAX_KEY = 1024  # libyaml's longest simple key: from its first character to its `:`


def _long_key(parsed: str, index: int) -> bool:
    """Whether a key longer than :data:`MAX_KEY` characters ends just before ``parsed[index]`` (blanks
    between): a quoted one (`"a...a": 1`, as JSON writes every key), or a plain one that begins its line or
    follows the `{`, `[` or `,` of a flow collection (`metadata: {a...a: 1}`; a plain scalar there holds none
    of these)."""
    before = parsed[:index].rstrip(" \t")
    if before.endswith('"') or before.endswith("'"):
        quote, k = before[-1], len(before) - 2
        while k >= 0:
            if before[k] == quote and (quote == "'" or (k - len(before[:k].rstrip("\\"))) % 2 == 0):
                if quote == "'" and k > 0 and before[k - 1] == "'":  # `''` is a quote inside single quotes
                    k -= 2
                    continue
                return len(before) - k > MAX_KEY
            k -= 1
        return False
    line = before[before.rfind("\n") + 1:]
    start = max(line.rfind("{"), line.rfind("["), line.rfind(","))  # -1: the key begins the line
    if start >= 0 and "{" not in line[:start + 1] and "[" not in line[:start + 1]:
        return False  # a `,` outside a flow collection on this line: a block scalar's, where the key began unknown
    key = line[start + 1:].lstrip(" \t") if start >= 0 else line.lstrip(" \t-")
    # (after a comment, what the index ends is not known; a `#` in a quoted string or inside a word, as in
    # `{a: "#", k...k: 1}` or `{a#b: 1}`, starts none)
    return len(key) > MAX_KEY and not any(m[0].startswith("#") for m in _STRING_OR_COMMENT.finditer(line))


def _refused_escape(parsed: str, mark: Any) -> tuple[str, int] | None:
    """What the escape is whose digits libyaml refused at ``mark``, and its length: a lone surrogate, a code
    beyond U+10FFFF, or a surrogate pair that was not rewritten (past :class:`RefusedText`'s limits)."""
    at = mark.index + (1 if parsed.startswith("\ufeff") else 0) - 2  # libyaml's index does not count a BOM
    escape = _ESCAPE_AT.match(parsed, at) if at >= 0 else None
    if escape is None:
        return None
    if (pair := _PAIR_AT.match(parsed, at)) is not None:
        return f"the escape `{pair[0]}`, a UTF-16 surrogate pair", len(pair[0])
    what = "half of a UTF-16 surrogate pair without its other half" if 0xD800 <= int(escape[0][2:], 16) <= 0xDFFF \
        else "beyond U+10FFFF"
    return f"the escape `{escape[0]}`, {what}", len(escape[0])


def _slash_comment(text: str, line: int, column: int) -> tuple[str, int, int] | None:
    """The `//` or `/*` comment (JSON-with-comments') that YAML read as text where libyaml stumbled at ``line``,
    ``column`` (1-based) of ``text``: ``(token, line, column)``, or None. That is the last one that starts a token
    on the error line at or before the column, or on the last line before it with a value (blank lines and lines
    of brackets and commas are passed over); a ``*/`` there stands for the ``/*`` it closes, on whichever line;
    and a ``/*`` not closed before the error holds it. Strings and `#` comments are skipped line by line (a
    string over several lines is not seen whole: hence no `//` further up is looked at). Linear in the text up
    to the error.

    >>> _slash_comment('{"a": 1, // one\\n "url": "http://x", "b": 2}', 2, 30)
    ('//', 1, 10)
    >>> _slash_comment('/*\\n * Model spec\\n */\\n{\\n  "vibench": 1}', 5, 12)
    ('/*', 1, 1)
    """
    lines = YAML_LINE_BREAK.split(text, maxsplit=line)[:line]
    near = True  # on the error line or the lines up to the one before it with a value
    closing = False  # a `*/` seen: its `/*` is wanted
    for number in range(len(lines), 0, -1):
        source = lines[number - 1]
        limit = column - 1 if number == line else len(source)  # tokens from this index on come after the error
        for token, at in reversed(_comment_tokens(source, limit)):
            if token == "*/":
                if not near and not closing:
                    return None  # a comment closed further up: not what libyaml stumbled over
                closing = True
            elif token == "/*" or (near and not closing):
                return token, number, at + 1
        if number < line and not _PUNCTUATION_ONLY.fullmatch(source):
            near = False
    return None


def _comment_tokens(source: str, limit: int) -> list[tuple[str, int]]:
    """The `//`, `/*` and `*/` of a line that start before index ``limit`` + 1, outside strings, in order."""
    if "/" not in source:
        return []
    blanked = _STRING_OR_COMMENT.sub(_blank, source)
    found = []
    for m in _SLASH_COMMENT.finditer(blanked):
        token = m[1] or m[2]
        at = m.start(1) if m[1] else m.start(2)
        if at <= limit:
            found.append((token, at))
    return found


def _blank(m: re.Match[str]) -> str:
    """A string as its quotes with spaces between (a value ends there), a `#` comment as spaces."""
    text = m[0]
    if text[0] == "#" or len(text) < 2:
        return " " * len(text)
    end = text[-1] if text[-1] == text[0] else " "
    return text[0] + " " * (len(text) - 2) + end
