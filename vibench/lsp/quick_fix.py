"""Quick fixes: the replacement a diagnostic's "did you mean `x`?" proposes, placed in the document's text.

Moved out of :mod:`vibench.lsp.checking` (which places the diagnostics and calls :func:`fix_for`), so that both
stay under ~400 lines. A fix replaces the misspelt name where it is written as a name: in the diagnostic's range
(a node in `node.port`, the port, a whole `cnn/Name`, a name inside a `${...}`, never the text of a string in
one), or, where that range is a key the compiler reported for its value (E112 at `out_channels` for
`out_channels: widht`), in that key's value (there first when the name is the value found: `dim: dim`). A fix
that would write a key its mapping already has (`inn` made `in` beside an `in:`: the compiler's E005) is not offered.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vibench.lsp.outline import Outline, Path

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import Diagnostic

_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
# The name a "did you mean" diagnostic is about, as the compiler's messages and hints word it (the diagnostic has
# no field for it): "unknown value `lyaer1`", "unknown block `conv1dd`", "has no output port `outt`" (the port:
# written after the `.` of `node.port`), "defines no block `Inne`", "invalid type `itn`", "model type `ISFMM`",
# "`Smal` is not a component", "`inn` is not a node key". Other names it quotes (the node reading the name, the
# node whose port it is) are not it.
_UNKNOWN_NAME = re.compile(r"(?:\bunknown [a-z]+|\bno (?:input |(output ))?port|\bdefines no block|\binvalid type"
                           r"|\bmodel type) `([^`]+)`|`([^`]+)` is not a (?:component|node key)")
_NAME_RUN = re.compile(r"[A-Za-z0-9_./#\-]+")  # a name with its separators: `rnn.out`, `cnn/ResNet1D`
_SEPARATORS = "./#-"


def suggestion(d: Diagnostic) -> str | None:
    """The name a "did you mean `x`?" hint proposes."""
    m = _DID_YOU_MEAN.search(d.hint or "")
    return m.group(1) if m else None


class KeyIndex:
    """The keys of an outline by the span they are written at (quotes included), built when first asked: a
    fix's range is looked up here, not by a walk of every entry per diagnostic."""

    def __init__(self, outline: Outline) -> None:
        self.outline = outline
        self._by_span: dict[tuple[int, int], Path] | None = None

    def at(self, start: int, end: int, text: str) -> Path | None:
        """The path of the key written at ``text[start:end]``, or inside the quotes there; None if none is."""
        if self._by_span is None:
            self._by_span = {}
            for path, entry in self.outline.entries.items():
                if entry.key_span is not None:
                    self._by_span.setdefault(entry.key_span, path)
        found = self._by_span.get((start, end))
        if found is None and text[start - 1:start] in ("'", '"') and text[end:end + 1] == text[start - 1:start]:
            found = self._by_span.get((start - 1, end + 1))
        return found


def fix_for(d: Diagnostic, start: int, end: int, text: str, keys: KeyIndex) -> tuple[int, int, str] | None:
    """(start, end, replacement) of the fix for diagnostic ``d`` placed at ``text[start:end]`` (see the module
    docstring), or None. The misspelt name is the one :func:`_misspelt` reads from the diagnostic; a name the
    text does not hold as written (`${kind + 'v1d'}` made `convv1d`) gets no fix."""
    wanted = suggestion(d)
    misspelt = _misspelt(d) if wanted is not None else None
    if wanted is None or misspelt is None or misspelt[0] == wanted:
        return None
    name, is_port, is_value = misspelt
    places = [(start, end)]
    key = keys.at(start, end, text)
    entry = keys.outline.entry(key) if key is not None else None
    if entry is not None and entry.value_span is not None:  # a key reported for its value (E112): the value too,
        # first when the name is the value the compiler found: `dim: dim` beside a parameter `dims` is E112 for the
        # value, and rewriting the key made it E111
        places.insert(0 if is_value else 1, entry.value_span)
    for a, b in places:
        found = _name_in(text[a:b], name, is_port)
        if found is None:
            continue
        fix_start, fix_end = a + found[0], a + found[1]
        written = keys.at(fix_start, fix_end, text)
        if written is not None and wanted in {str(k) for k in keys.outline.keys(written[:-1])}:
            return None  # `inn` -> `in` where `in:` is written: a duplicate key (E005), no fix
        return fix_start, fix_end, wanted
    return None


def _name_in(span: str, name: str, is_port: bool) -> tuple[int, int] | None:
    """Where ``name`` is written as a name in ``span`` (:func:`_candidates`; after a `.` only if it is a port;
    never inside a string of a `${...}`), or None."""
    quoted = _expression_strings(span)
    for a, b in _candidates(span):
        if span[a:b] == name and (span[a - 1:a] == ".") == is_port and not any(k in quoted for k in range(a, b)):
            return a, b
    return None


def _misspelt(d: Diagnostic) -> tuple[str, bool, bool] | None:
    """(the name a diagnostic says is unknown, whether it is an output port: written after a `.`, whether it is
    the value the diagnostic found), or None.

    The name its message (else its hint) says is unknown (:data:`_UNKNOWN_NAME`: `lyaer1`, not the node `layer2`,
    in "node `layer2` reads unknown value `lyaer1`"; the port `outt` in "node `outx` has no output port `outt`"),
    else the value it found (`repeat: widht` found 'widht': the value's repr). Never a guess among the names it
    quotes: the reading node's name can be as near the suggestion as the misspelt one, and the fix rewrote it.
    """
    for words in (d.message, d.hint or ""):
        unknown = _UNKNOWN_NAME.search(words)
        if unknown is not None:
            return unknown.group(2) or unknown.group(3), unknown.group(1) is not None, False
    found = d.found
    if found is not None and len(found) > 1 and found[0] in "'\"" and found[-1] == found[0]:
        return found[1:-1], False, True
    return None


def _expression_strings(span: str) -> set[int]:
    """The offsets in ``span`` (a value as written: plain, or in YAML's or JSON's quotes) that lie in a string
    of a `${...}` expression: `'widht'` in `"${len('widht') + widht}"` is text, not the name."""
    chars = _scalar_chars(span)
    inside: set[int] = set()
    depth, quote, escaped, i = 0, "", False, 0  # depth: of braces in an expression; 0 outside one
    while i < len(chars):
        ch, at = chars[i]
        following = "".join(c for c, _ in chars[i + 1:i + 3])
        if depth == 0:
            if ch == "$" and following.startswith("${"):  # `$${`: text, no expression
                i += 3
                continue
            if ch == "$" and following.startswith("{"):
                depth, i = 1, i + 2
                continue
        elif quote:
            inside.add(at)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            inside.add(at)
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        i += 1
    return inside


def _scalar_chars(span: str) -> list[tuple[str, int]]:
    """The characters of the value written in ``span``, each with its offset in ``span``: inside double quotes
    (YAML's or JSON's) `\\"` is a `"`, inside YAML's single quotes `''` is a `'`."""
    out: list[tuple[str, int]] = []
    if span[:1] == '"':
        i = 1
        while i < len(span) and span[i] != '"':
            step = 2 if span[i] == "\\" and i + 1 < len(span) else 1
            out.append((span[i + step - 1], i))
            i += step
    elif span[:1] == "'":
        i = 1
        while i < len(span) and (span[i] != "'" or span[i + 1:i + 2] == "'"):
            out.append((span[i], i))
            i += 2 if span[i] == "'" else 1
    else:
        out = [(ch, i) for i, ch in enumerate(span)]
    return out


def _candidates(span: str) -> list[tuple[int, int]]:
    """The spans a misspelt name may be in ``span``: each run of name characters, and each part of
    it from its start or a separator to a separator or its end, so that the replacement never
    takes a separator the name keeps.

    >>> span = "rnn.out.x"
    >>> [span[a:b] for a, b in _candidates(span)]
    ['rnn', 'rnn.out', 'rnn.out.x', 'out', 'out.x', 'x']
    """
    out = []
    for run in _NAME_RUN.finditer(span):
        name, offset = run.group(), run.start()
        cuts = [i for i, ch in enumerate(name) if ch in _SEPARATORS]
        starts = [0, *(i + 1 for i in cuts)]
        ends = [*cuts, len(name)]
        out += [(offset + a, offset + b) for a in starts for b in ends if b > a]
    return out
