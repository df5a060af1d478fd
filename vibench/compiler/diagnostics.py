"""Diagnostics: the one error type users see, its rendering, and "did you mean" suggestions.

Every problem with a spec becomes a :class:`Diagnostic` with a stable code (documented in
``docs/errors.md``), a source position, the node and port involved, what was expected, what was
found and a hint. Passes collect several independent diagnostics and raise them together as one
:class:`SpecError`. Rendering follows modern compilers: the source line with a caret under the
position, then ``= found`` / ``= hint`` notes. ``--format json`` prints :meth:`Diagnostic.to_json`.

Output stays small whatever the spec: every text field of a diagnostic is clipped to
:data:`MAX_FIELD` characters, a long source line is shown as a window around the caret, "did you
mean" compares short names only, and :meth:`SpecError.render` shows the first :data:`MAX_SHOWN`
diagnostics, then how many more there are. A pass builds at most :data:`MAX_DIAGNOSTICS` diagnostics and
counts the rest on the last one it built (:attr:`Diagnostic.more`), so that 300,000 unknown keys take neither
minutes nor gigabytes: :attr:`SpecError.total` and :func:`counted` stay exact.

Rendered text is safe on a terminal whatever the spec holds: control characters (an escape sequence
that would clear the screen or retitle the window, a carriage return that would hide text) and
bidirectional overrides, in the source excerpt or in a name the message quotes, are drawn as visible
symbols (:func:`terminal_safe`), one column each so that the caret stays under its character
(:mod:`vibench.compiler.terminal_text`, re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from vibench.compiler.display import _ESCAPE
from vibench.compiler.ir import Pos

# "Did you mean" lives in suggestions.py; the passes import it from here, with the diagnostics.
from vibench.compiler.suggestions import MAX_SUGGEST_LEN as MAX_SUGGEST_LEN  # re-exported: callers import them here
from vibench.compiler.suggestions import MAX_SUGGEST_POOL as MAX_SUGGEST_POOL
from vibench.compiler.suggestions import MAX_SUGGEST_WORK as MAX_SUGGEST_WORK
from vibench.compiler.suggestions import Suggestions as Suggestions
from vibench.compiler.suggestions import closest as closest
from vibench.compiler.suggestions import suggest as suggest

# Text as a terminal draws it lives in terminal_text.py; callers import it from here, with the diagnostics.
from vibench.compiler.terminal_text import display_width as display_width  # re-exported: callers import them here
from vibench.compiler.terminal_text import one_cell as one_cell
from vibench.compiler.terminal_text import one_line as one_line
from vibench.compiler.terminal_text import pad as pad
from vibench.compiler.terminal_text import terminal_safe as terminal_safe

MAX_FIELD = 500  # characters of a message, expected, found, hint or note
MAX_SHOWN = 50  # diagnostics rendered; the rest are counted
MAX_DIAGNOSTICS = 1_000  # diagnostics a pass builds (validate: the first in file order); the rest are counted
MAX_SOURCE_WIDTH = 160  # characters of a source line shown around the caret


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec, located and explained."""

    code: str
    message: str
    pos: Pos | None = None
    node: str | None = None
    port: str | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = ()
    # Carets to draw under the position: the length of the name or value there as the pass read it (1: the token
    # there). Where it is written in quotes, the carets cover it as written, quotes and escapes included
    # (`"kernel_sise"`): a SpecError sets this to that length, for editors too (:func:`_as_written`).
    span: int = 1
    # Reported at a user's setting (`with:`, a config key) although a template raised it: where it did
    # (the node's line in the template). Said in a note too; the editor links to it.
    origin: Pos | None = None
    # Problems of this severity after this one that the pass counted but did not build (MAX_DIAGNOSTICS).
    more: int = 0

    def __post_init__(self) -> None:
        for key in ("message", "node", "port", "expected", "found", "hint"):
            value = getattr(self, key)
            # (+ 40: a clipped text keeps its "... (N more characters)", so replace() does not clip twice)
            if value is not None and (len(value) > MAX_FIELD + 40 or "\n" in value or "\r" in value):
                object.__setattr__(self, key, clip(value))
        if any(len(n) > MAX_FIELD + 40 or "\n" in n or "\r" in n for n in self.notes) or len(self.notes) > 21:
            notes = tuple(clip(n) for n in self.notes[:20])
            if len(self.notes) > 20:
                notes += (f"... and {len(self.notes) - 20} more notes",)
            object.__setattr__(self, "notes", notes)

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.pos is not None:
            out["file"] = self.pos.file
            out["line"] = self.pos.line
            out["column"] = self.pos.col
        for key in ("node", "port", "expected", "found", "hint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.notes:
            out["notes"] = list(self.notes)
        if self.origin is not None:
            out["origin"] = {"file": self.origin.file, "line": self.origin.line, "column": self.origin.col}
        return out

    def render(self, sources: dict[str, str] | None = None) -> str:
        """The compiler-style text of this diagnostic (``sources`` maps file name to text)."""
        where = ""
        if self.node and f"node `{self.node}`" not in self.message:
            where = f" at node `{self.node}`"
        if self.port and f"port `{self.port}`" not in self.message:
            where += (", " if where else " at ") + f"port `{self.port}`"
        lines = [f"{self.severity}[{self.code}]: {self.message}{where}"]
        # As rustc draws it: the bars and the `=` notes stand in the column after the line number's
        # width, the arrow one column to their left (a 3-digit line number moves them all right).
        gutter = " " * len(str(self.pos.line)) if self.pos is not None else " "
        drawn = False  # the source line with its caret, which then carries `expected`
        if self.pos is not None:
            lines.append(f"{gutter}--> {one_line(str(self.pos))}")  # a file name may hold a line break
            text = (sources or {}).get(self.pos.file)
            if text is not None and self.pos.line >= 1:
                src_lines = _split_lines(text)
                if self.pos.line == len(src_lines) + 1:
                    src_lines.append("")  # the end of a file that ends with a newline
                if self.pos.line <= len(src_lines):
                    src = src_lines[self.pos.line - 1].expandtabs(1)
                    col = self.pos.col
                    if len(src) > MAX_SOURCE_WIDTH:  # a window around the caret
                        start = max(0, min(col - 1 - MAX_SOURCE_WIDTH // 4, len(src) - MAX_SOURCE_WIDTH))
                        lead = "..." if start > 0 else ""
                        tail = "..." if start + MAX_SOURCE_WIDTH < len(src) else ""
                        src = lead + src[start:start + MAX_SOURCE_WIDTH] + tail
                        col = col - start + len(lead)
                    lines.append(f"{gutter} |")
                    lines.append(f"{self.pos.line} | {src}")
                    span = _quoted_length(src, col - 1) or (self.span if self.span > 1 else _token_length(src, col - 1))
                    span = max(1, min(span, len(src) - col + 1))
                    # In terminal columns: a CJK character takes two (a caret after `doc: 卷积层` sat under
                    # the wrong word), a combining mark none.
                    caret = " " * display_width(src[:max(col - 1, 0)])
                    caret += "^" * max(1, display_width(src[col - 1:col - 1 + span]))
                    if self.expected is not None:
                        caret += f" expected {self.expected}"
                    lines.append(f"{gutter} | {caret}")
                    lines.append(f"{gutter} |")
                    drawn = True
        if not drawn and self.expected is not None:  # no position, or its text is not at hand (a file not shown)
            lines.append(f"{gutter} = expected: {self.expected}")
        if self.found is not None:
            lines.append(f"{gutter} = found: {self.found}")
        for note in self.notes:
            lines.append(f"{gutter} = note: {note}")
        if self.hint is not None:
            lines.append(f"{gutter} = hint: {self.hint}")
        return terminal_safe("\n".join(lines))


def clip(text: str, limit: int = MAX_FIELD) -> str:
    """``text`` on one line (line breaks written as ``\\n``) and at most ``limit`` characters."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    cut = limit
    for m in _ESCAPE.finditer(flat, 0, limit + 10):  # from the start: `\\n` is `\\` then `n`
        if m.start() >= limit:
            break
        if m.end() > limit:  # never end inside `\n`, `\x41`, `\u1234`, `\U0001f600` or `\\`: cut before it
            cut = m.start()
            break
    return flat[:cut] + f"... ({len(flat) - cut:,} more characters)"


@lru_cache(maxsize=16)
def _split_lines(text: str) -> list[str]:
    # Many diagnostics in one file split it once (rendering 5,000 of them used to split it 5,000 times).
    # The lines YAML counts (`\r\n`, `\n`, `\r`, NEL, U+2028, U+2029), which the positions count:
    # str.splitlines also breaks at \x0b, \x0c and \x1c-\x1e, and showed the wrong line after one.
    lines = YAML_LINE_BREAK.split(text)
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()  # the break that ends the last line starts no line
    return lines


YAML_LINE_BREAK = re.compile("\r\n?|[\n\x85\u2028\u2029]")
"""Where YAML (libyaml) ends a line, so where the compiler's positions count lines; LSP counts only
``\\r\\n``, ``\\n`` and ``\\r`` (vibench/lsp/text.py)."""


def _token_length(line: str, start: int) -> int:
    """How many carets underline the value at ``start``: a quoted string, a name or number, or 1."""
    if start >= len(line):
        return 1
    quoted = _quoted_length(line, start)
    if quoted is not None:
        return quoted
    if line[start] in "'\"":  # a quoted string that does not close on this line
        return 1
    end = start  # a backslash is a character of a plain scalar (`fam/ab\cd`, a Windows path), not its end
    while end < len(line) and (line[end].isalnum() or line[end] in "_-.$/#\\"):
        end += 1
    return max(end - start, 1)


# One character (or escape) per repetition: a string that does not close backtracks in linear time.
_QUOTED = {'"': re.compile(r'"(?:[^"\\]|\\.)*"'), "'": re.compile(r"'(?:[^']|'')*'")}


def _quoted_length(line: str, start: int) -> int | None:
    r"""Characters of the quoted scalar that starts at ``line[start]``, its quotes and escapes included (YAML's
    rules: ``\"`` in double quotes, ``''`` in single ones); None when none starts there or it does not close
    on this line.

    >>> _quoted_length(r'x: "a\"b" # c', 3), _quoted_length("x: 'it''s'", 3), _quoted_length("it's", 2)
    (6, 7, None)
    """
    pattern = _QUOTED.get(line[start:start + 1]) if start >= 0 else None
    found = pattern.match(line, start) if pattern is not None else None
    return found.end() - start if found is not None else None


def _as_written(d: Diagnostic, sources: dict[str, str]) -> Diagnostic:
    """``d`` with its span covering the quoted scalar at its position as written: a pass gives the length of
    the name it read, which falls short of ``"kernel_sise"`` by the quotes (and the escapes in it)."""
    pos = d.pos
    text = sources.get(pos.file) if pos is not None else None
    if text is None or pos is None or pos.line < 1 or pos.col < 1:
        return d
    lines = _split_lines(text)
    length = _quoted_length(lines[pos.line - 1], pos.col - 1) if pos.line <= len(lines) else None
    return d if length is None or length == d.span else replace(d, span=length)


class SpecError(Exception):
    """One or more problems in a spec. ``diagnostics`` holds them all, in source order.

    >>> import vibench
    >>> try:
    ...     vibench.check(text="vibench: 1\\nname: M\\ninputs: {x: {shape: [B, 4]}}\\n"
    ...                        "nodes: {fc: {block: lineer, in: x, out_features: 2}}\\noutputs: {y: fc}\\n")
    ... except vibench.SpecError as err:
    ...     print(err.diagnostics[0].code, err.diagnostics[0].hint)
    E110 did you mean `linear`?
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None) -> None:
        self.sources = dict(sources or {})
        self.diagnostics = tuple(sorted((_as_written(d, self.sources) for d in diagnostics), key=_sort_key))
        super().__init__(self.diagnostics[0].message if self.diagnostics else "")

    def __str__(self) -> str:  # rendered on demand: passes raise and re-raise these
        return self.render()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        # Pickled (a multiprocessing worker's error, copy.copy) as what it holds: Exception's default rebuilt it
        # from its message, whose characters were then read as diagnostics (a Pool's result thread died and
        # `get()` never returned). A subclass with other constructor arguments comes back as a SpecError. The
        # instance's attributes come back too, as Exception's default keeps them: `add_note`'s `__notes__`, an
        # attribute a caller set.
        cls = type(self) if type(self).__init__ is SpecError.__init__ else SpecError
        return cls, (self.diagnostics, self.sources), self.__dict__

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    @property
    def total(self) -> int:
        """How many problems were found: the diagnostics, and those counted but not built (:func:`counted`)."""
        return counted(self.diagnostics)

    def render(self, limit: int | None = MAX_SHOWN) -> str:
        """The diagnostics as text: the first ``limit`` (None: all), then how many more there are."""
        shown = self.diagnostics if limit is None else self.diagnostics[:limit]
        text = "\n\n".join(d.render(self.sources) for d in shown)
        more = self.total - len(shown)
        if more:
            text += f"\n\n... and {more:,} more (the first {len(shown)} of {self.total:,} are shown)"
        return text

    def to_json(self, limit: int | None = None) -> list[dict]:
        """The diagnostics as JSON objects (the first ``limit``; None: all)."""
        shown = self.diagnostics if limit is None else self.diagnostics[:limit]
        return [d.to_json() for d in shown]


def counted(diagnostics: Iterable[Diagnostic]) -> int:
    """The problems ``diagnostics`` stand for: each, and the ones it counts after itself (:attr:`Diagnostic.more`)."""
    return sum(1 + d.more for d in diagnostics)


def _sort_key(d: Diagnostic) -> tuple:
    """Errors first (in source order), then warnings (in source order)."""
    first = d.severity != "error"
    if d.pos is None:
        return (first, "", 0, 0, d.code)
    return (first, d.pos.file, d.pos.line, d.pos.col, d.code)


@dataclass
class Collector:
    """Accumulates diagnostics within a pass; ``raise_if_any`` ends the pass when there are errors."""

    sources: dict[str, str] = field(default_factory=dict)
    items: list[Diagnostic] = field(default_factory=list)
    _seen: set = field(default_factory=set)

    def add(self, diag: Diagnostic) -> None:
        key = (diag.code, diag.pos, diag.node, diag.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for d in diags:
            self.add(d)

    def drop(self, code: str, pos: Pos | None) -> None:
        """Take back the diagnostics of ``code`` at ``pos`` (a later finding explains them better)."""
        self.items = [d for d in self.items if not (d.code == code and d.pos == pos)]
        self._seen = {k for k in self._seen if not (k[0] == code and k[1] == pos)}

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def raise_if_any(self) -> None:
        """End the pass with every diagnostic (warnings too, after the errors) when there are errors."""
        if self.errors:
            raise SpecError(self.items, self.sources)


def plain(msg: str) -> str:
    """A pydantic error message in the words of vibench's own: what is expected, without pydantic's
    lead (``Input should be a valid integer`` -> ``integer``, ``Value error, ...`` -> ``...``) and with
    ``mapping`` for its ``dictionary`` (also ``dictionary or instance of BlockSpec``)."""
    for lead in ("Input should be a valid ", "Input should be ", "Value error, "):
        if msg.startswith(lead):
            msg = msg[len(lead):]
            break
    if msg == "dictionary" or msg.startswith("dictionary or instance of "):
        return "mapping"
    return msg


NO_SLASH_COMMENTS = "specs (YAML or JSON) have no `//` or `/* */` comments"
"""Said where a `//` or `/* */` comment, which YAML reads as text, made a syntax error or a key."""
COMMENT_FIX = "YAML's comments are `# ...` and JSON has none: delete the comment, or write it as `# ...`"


def comment_hint(key: object) -> str | None:
    """The hint for an unknown key that starts like a comment (``/* width */ "out_channels"``), or None.

    >>> comment_hint("kernel_sise") is None, comment_hint("// layers").startswith("it starts like a comment")
    (True, True)
    """
    if isinstance(key, str) and key.lstrip().startswith(("//", "/*")):
        return f"it starts like a comment, but {NO_SLASH_COMMENTS}, so YAML read it as a key; {COMMENT_FIX}"
    return None


def one_of(candidates: Iterable[str], limit: int = 12) -> str:
    """A short human list of valid choices."""
    pool = sorted(set(candidates))
    shown = ", ".join(f"`{clip(c, 40)}`" for c in pool[:limit])
    return shown + (f" (and {len(pool) - limit} more)" if len(pool) > limit else "")
