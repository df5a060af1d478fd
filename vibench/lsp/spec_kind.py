"""Which open documents the server answers for, told cheaply: from the name and the top-level keys.

The server is attached to every YAML and JSON file, most of which are no spec (CI workflows, a
10 MB ``package-lock.json``), so this must never read a document the way the outline does (every key
and value, in Python, a few seconds and hundreds of MB for such a file). :func:`top_keys` finds only
the top-level keys, with regular expressions doing the reading: lines at the first key's
indentation for block YAML; for a ``{...}`` document, the members at depth 1, stepping over nested
brackets and strings; in time linear in the text, holding nothing per line or comment. :func:`is_spec`
then applies the rule of docs/editor.md:

* a file named ``*.vibench.yaml`` / ``.yml`` / ``.json`` or under ``vibench/specs/``: a spec;
* an empty text (whitespace and ``#`` comments only): a spec (one being started);
* a top-level mapping with ``vibench`` or a close misspelling of it (the compiler's "did you mean",
  so that its E101 shows), or with ``nodes`` and ``inputs`` or ``outputs`` (the compiler then reports
  the missing ``vibench``), or a PHM-Vibench experiment config (:func:`is_phm_keys`): a spec;
* anything else (``{}``, a list, a scalar, other mappings): not a spec.

A text larger than :data:`MAX_BYTES`, vibench-compile's own limit, is not read at all (:func:`too_large`).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from vibench.lsp.text import BOM, yaml_lines

MAX_BYTES = 16 * 1024 * 1024
"""The most UTF-8 bytes of a document the server reads: vibench-compile's limit (``vibench.compiler.load.MAX_BYTES``,
E002 in docs/errors.md), so the server never reads what the compiler would refuse."""

INLINE_SCAN = 1024 * 1024
"""Characters up to which a request decides afresh, on the event loop, whether a new version is a spec (a few
ms at most). A longer document keeps its last decision for the requests, and the checker thread decides anew
for each version it checks: an edit to a 10 MB file does not cost each keystroke a scan of it."""

SPEC_SUFFIXES = (".yaml", ".yml", ".json")  # vibench.compiler.resolve's, without importing the compiler
PHM_SECTIONS = ("environment", "data", "model", "task", "trainer", "base_configs")

EMPTY: list[str] = []
"""What :func:`top_keys` returns for an empty text (compare with ``is``): not the same as ``{}``."""

# The patterns below read in time linear in the text: none tries shorter matches of a run it has read (a lazy
# `[^\n]*?` before `[ \t]*:`, a comment retried after the key behind it failed: 15-18 s for 100 KB), and each
# repeats a group at most REPEAT times per match (_end loops over matches), as the regular expression engine
# keeps state for each repetition until the match ends (about 140 bytes: 2.7 GB for a 16 MB file of comments).
# Where a group repeats, its alternatives start with different characters, so the matches a loop joins are
# those one match would find. (Python 3.10, which vibench supports, has no possessive quantifiers or atomic
# groups: a lookahead, which the engine does not re-enter, stands for one.)
REPEAT = 256
_UP_TO = f"{{0,{REPEAT}}}"  # the bounded repetition
# Before the first node: blanks, comments, directives, `---`, and the root node's tag or anchor (`--- !!map`,
# `&root`: no plain scalar starts with `!` or `&`).
_SKIP = re.compile(r"(?:[ \t\n]+|#[^\n]*|%[^\n]*|---(?=[ \t\n]|$)|[!&][^ \t\n]*(?=[ \t\n]|$))" + _UP_TO)
# JSON-with-comments' (not YAML's) blanks and comments; a `/*` never closed runs to the end of the text.
_SLASH_COMMENTS = re.compile(r"(?:[ \t\n]+|//[^\n]*|/\*.*?(?:\*/|$))" + _UP_TO, re.S)
# A double-quoted string, not over a line break (JSON has none): up to the first quote after an even number of
# backslashes, or the line's end; its escapes are no repeated group (a string of 500,000 held 60 MB).
_STRING = r'"(?:[^"\\\n]*"|[^\n]*?(?<!\\)(?:\\\\)*"|[^\n]*)'
_DEEP = re.compile(rf'[^"{{}}\[\]]*(?:{_STRING}[^"{{}}\[\]]*){_UP_TO}')  # up to the next bracket, strings skipped
_MEMBER = re.compile(rf'[^"{{}}\[\],]*(?:{_STRING}[^"{{}}\[\],]*){_UP_TO}')  # the same, stopping at a comma too
_OPENERS, _CLOSERS = re.compile(r"[\[{]*"), re.compile(r"[\]}]*")  # runs stepped over at once inside a nested container
_FLOW_GAP = re.compile(r"(?:\s+|//[^\n]*|\#[^\n]*)" + _UP_TO)  # before a flow key; `/* */` in _skip_gap
# A flow key after the gap: the plain one read up to a stop character at once (a lookahead, which the engine does
# not re-enter: only the whole run can be followed by `:`, so trying shorter ones would cost the square of a run
# of spaces for nothing) and stripped in _unquote.
_FLOW_KEY = re.compile(r"""(?:"([^"\\\n]*(?:\\.[^"\\\n]*)*)"|'([^'\n]*(?:''[^'\n]*)*)'
    |(?=([^\s:,{}\[\]"'\#][^:,{}\[\]\#\n]*))\3)\s*:""", re.S | re.X)
# A key at {indent}: a plain one is the shortest text before a `:` and a blank (or the line end), found without
# trying the blanks before each `:` anew, its trailing blanks stripped in _unquote. The key's own tag and anchor
# (`!!str vibench: 1`, `&v vibench: 1`) may come before it: the mapping is where they start. A `\r` after the
# colon is a `\r\n` line break (yaml_lines wrote a lone one as `\n`).
_BLOCK_KEY = r"""^{indent}(?:[!&][^\s]*[ \t]+){{0,2}}
    (?:"([^"\\\n]*(?:\\.[^"\\\n]*)*)"[ \t]*|'([^'\n]*(?:''[^'\n]*)*)'[ \t]*
    |([^\s\#'"\[\]{{}},&*!|>%@`?:-][^\n]*?|[?:-][^\s][^\n]*?)):(?=[ \t\r]|$)"""


_KEY_PROPERTIES = re.compile(r"[ ]*(?:[!&][^\s]*[ \t]+){1,2}")  # a key's tag and anchor, on its line before it
_EXPLICIT_KEY = r"^{indent}\?[ \t]+([^\s#'\"\[\]{{}},&*!|>%@`][^\n#]*)$"  # a plain key after `? `, blanks stripped


def too_large(text: str) -> bool:
    """Whether ``text`` is more than :data:`MAX_BYTES` bytes of UTF-8 (counted only when it may be)."""
    if len(text) > MAX_BYTES:
        return True
    if len(text) * 4 <= MAX_BYTES or text.isascii():
        return False
    return len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES


def spec_by_name(name: str) -> bool:
    """``*.vibench.yaml`` (``.yml``, ``.json``, any case) or a file of the spec library (``vibench/specs/``)."""
    name = name.lower().replace("\\", "/")
    return name.endswith(tuple(".vibench" + s for s in SPEC_SUFFIXES)) or "vibench/specs/" in name


def is_spec(text: str, name: str) -> bool:
    """Whether to treat ``text`` (the document ``name``, a path or uri) as a spec (the module's rule)."""
    if spec_by_name(name):
        return True
    keys = top_keys(text)
    if keys is EMPTY:
        return True
    if not keys:
        return False
    top = set(keys)
    return (any(_near_vibench(k) for k in top) or ("nodes" in top and ("inputs" in top or "outputs" in top))
            or is_phm_keys(top))


STARTED_AT_MOST = 4096
"""Characters up to which a text with no top-level key yet (``{}``, ``{"vi``, ``vib``) counts as a spec being
started: completion answers there (so ``vibench`` can be offered), diagnostics do not (a ``{}`` that is some
tool's settings file gets no E103)."""


def being_started(text: str) -> bool:
    """A short text with no top-level key yet: where a new spec starts, for completion only."""
    return len(text) <= STARTED_AT_MOST and not top_keys(text)


def is_phm_keys(top: Collection[str | int]) -> bool:
    """A PHM-Vibench experiment config, by its top-level keys: sections such as `model:`, no `vibench:` key."""
    return "vibench" not in top and ("model" in top or "base_configs" in top) and any(
        k in top for k in PHM_SECTIONS if k != "model")


def _near_vibench(key: str) -> bool:
    """``vibench``, or a key the compiler would ask about with "did you mean `vibench`?"."""
    if key == "vibench":
        return True
    if not 3 <= len(key) <= 16:  # difflib's ratio (>= 0.6) with a 7-letter word needs 3 to 16 letters
        return False
    from vibench.compiler.diagnostics import closest

    return closest(key, ("vibench",)) == "vibench"


def top_keys(text: str) -> list[str] | None:
    """The top-level keys of ``text`` in order; :data:`EMPTY` (itself) for an empty text; None when the
    top level is no mapping (a list, a scalar)."""
    text = yaml_lines(text[1:] if text.startswith(BOM) else text)
    start = _end(_SKIP, text, 0)
    if start == len(text):
        return EMPTY
    if text.startswith(("//", "/*"), start):  # a JSON-with-comments header: the object may follow
        start = _end(_SLASH_COMMENTS, text, start)
    if text.startswith("{", start):
        return _flow_keys(text, start)
    if text.startswith("[", start):
        return None
    return _block_keys(text, start)


def _flow_keys(text: str, at: int) -> list[str]:
    """The keys at depth 1 of the ``{...}`` at ``at``: each nested container is stepped over, one regular
    expression match from bracket to bracket (strings skipped) and a run of brackets at once, so Python loops
    about once per bracket that has text beside it."""
    keys: list[str] = []
    depth, n = 0, len(text)
    last_close = text.rfind("*/")  # a `/*` after the last `*/` opens no comment (see _skip_gap)
    while at < n:
        ch = text[at]
        if depth > 1 and ch in "{}[]":  # nested: only the depth matters, down to 1 (where the next member starts)
            brackets = (_OPENERS if ch in "{[" else _CLOSERS).match(text, at)
            run = brackets.end() - at if brackets is not None else 1
            step = run if ch in "{[" else min(run, depth - 1)
            depth, at = (depth + step if ch in "{[" else depth - step), at + step
            at = _end(_MEMBER if depth == 1 else _DEEP, text, at, '"')
            continue
        at += 1
        if ch in "}]":
            depth -= 1
            if depth == 0:
                break
        elif ch in "{[":
            depth += 1
        if depth == 1 and ch in "{,":  # a member starts: its key
            at = _skip_gap(text, at, last_close)
            key = _FLOW_KEY.match(text, at)
            if key is not None:
                keys.append(_unquote(key))
                at = key.end()
        at = _end(_MEMBER if depth == 1 else _DEEP, text, at, '"')
    return keys


def _skip_gap(text: str, at: int, last_close: int) -> int:
    """After blanks and comments from ``at``: a `/*` only where a `*/` (``last_close``, the last) follows it, so
    that no member searches the rest of the text for one that is not there."""
    while True:
        at = _end(_FLOW_GAP, text, at)
        if not text.startswith("/*", at) or at + 2 > last_close:
            return at
        at = text.index("*/", at + 2) + 2


def _block_keys(text: str, start: int) -> list[str] | None:
    """The keys of the block mapping whose first key is at ``start`` (lines at its indentation), or None
    when the first line holds no key (a ``- `` item, a scalar)."""
    line_start = text.rfind("\n", 0, start) + 1
    column = start - line_start
    if _KEY_PROPERTIES.fullmatch(text, line_start, start):  # `&v vibench: 1`: _SKIP read past the key's anchor,
        column = len(text[line_start:start]) - len(text[line_start:start].lstrip(" "))  # where the mapping starts
    indent = f"[ ]{{{column}}}"
    pattern = re.compile(_BLOCK_KEY.format(indent=indent), re.M | re.X)
    explicit = re.compile(_EXPLICIT_KEY.format(indent=indent), re.M)  # `? vibench` / `: 1` on the next line
    if pattern.match(text, line_start) is None and explicit.match(text, line_start) is None:
        return None
    found = [(m.start(), _unquote(m)) for m in pattern.finditer(text, line_start)]
    found += [(m.start(), m[1].rstrip(" \t\r")) for m in explicit.finditer(text, line_start)]
    return [key for _, key in sorted(found)]


def _end(pattern: re.Pattern[str], text: str, at: int, again: str | None = None) -> int:
    """Where ``pattern`` (one that matches the empty string too, its group repeated at most :data:`REPEAT`
    times) stops reading from ``at``: matched again from where it stopped while it read something, or, given
    ``again``, only where it stopped before that (where nothing but the bound on its repetitions stops it)."""
    while True:
        m = pattern.match(text, at)
        end = m.end() if m is not None else at
        if end == at or (again is not None and not text.startswith(again, end)):
            return end
        at = end


def _unquote(m: re.Match[str]) -> str:
    double, single, plain = m.groups()
    if double is not None:
        return double.replace('\\"', '"')
    if single is not None:
        return single.replace("''", "'")
    return plain.strip()
