"""Composing one YAML document from libyaml's event stream (see :mod:`vibench.compiler.load`).

:class:`_Composer` turns PyYAML's C parser events into plain values and a map of source positions
(:class:`Loc`), enforcing the safety rules as it builds: standard tags only (E003), at most
:data:`MAX_DEPTH` levels (E002), the expanded size bounded by :data:`MAX_EXPANDED` and
:data:`MAX_ALIAS_UNITS` (E002), duplicate keys refused (E005) or listed, and ``<<`` merges applied.
PyYAML is imported when a composer is made, not with this module.

JSON is read as YAML, with one repair: libyaml refuses a character beyond U+FFFF escaped as a UTF-16
surrogate pair (``"\\ud83d\\ude00"``, as Python's ``json.dumps`` writes it), so the double-quoted
scalar it refused has its pairs rewritten as YAML's ``\\U0001f600`` and the text is read again (at
most :data:`MAX_PAIR_SCALARS` scalars); positions are mapped back to the text as written.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from vibench.compiler.diagnostics import COMMENT_FIX, NO_SLASH_COMMENTS, YAML_LINE_BREAK, Diagnostic, SpecError
from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.ir import Pos

MAX_DEPTH = 64
MAX_EXPANDED = 2_000_000
MAX_ALIAS_UNITS = 100_000
_CHARS_PER_UNIT = 64

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null")}
_STR, _INT, _FLOAT, _BOOL, _MERGE_TAG = (_STD + t for t in ("str", "int", "float", "bool", "merge"))
_TAG_HINT = "specs use plain mappings, sequences and scalars; tags that construct objects are refused"
_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_ESCAPE = "found invalid Unicode character escape code"  # libyaml's words for `\ud800`
_SECOND_DOCUMENT = "did not find expected <document start>"  # libyaml's words for text after the document
MAX_PAIR_SCALARS = 100  # double-quoted scalars whose surrogate-pair escapes are rewritten, each costing a reread
_MAX_REREAD = 16 * 2**20  # characters read again for them in all (about 4 s): a 16 MiB file gets few
_PAIR = r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})"  # `\ud83d\ude00`: 12 characters
_PAIR_AT = re.compile(_PAIR)
_PAIR_OR_ESCAPE_OR_QUOTE = re.compile(_PAIR + r'|\\.|"', re.S)  # a double-quoted scalar's tokens that matter
_ESCAPE_AT = re.compile(r"\\(?:u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")
_ONE_DOCUMENT_HINT = "keep one spec per file (one YAML mapping or JSON object); write another in a file of its own"
_SHORTER = 2  # `\U0001F600` is 2 characters shorter than the pair it replaces
_PAIR_HINT = ("write these characters as UTF-8 (`json.dumps(..., ensure_ascii=False)`): vibench rewrites "
              f"surrogate-pair escapes (`\\ud83d\\ude00`) in at most {MAX_PAIR_SCALARS} strings of a file "
              "(fewer in a very large one)")
# A comment as JSON-with-comments writes it, where a token starts (a line's first, or after `,` `{` `[`): YAML
# reads it as text, so it is a syntax error or part of a key. Strings and `#` comments are blanked first.
_SLASH_COMMENT = re.compile(r"(?:^|[,{\[])[ \t]*(//|/\*)")
_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"?|\'(?:[^\']|\'\')*\'?|(?<!\S)#.*')


@dataclass(slots=True)
class Loc:
    """Source positions of one value: its own position and, for containers, its children's."""

    pos: tuple[int, int]  # (line, col), 1-based
    children: Any = None  # dict key -> (key (line, col), Loc) for mappings; list[Loc] for sequences


class _Composer:
    def __init__(self, text: str, file: str, duplicates: list | None = None) -> None:
        import yaml

        self.yaml = yaml
        self.text = text
        self.file = file
        self.anchors: dict[str, tuple[Any, Loc, int]] = {}
        self.written = 0  # size units of the values the file writes out
        self.aliased = 0  # size units that aliases add
        self.scalar_cache: dict[str, Any] = {}
        self.constructor = yaml.constructor.SafeConstructor()
        self.duplicates = duplicates  # None: a repeated key is E005
        # Lines (0-based) where surrogate pairs were rewritten: the columns, in the text libyaml reads, of each
        # `\U...` escape that stands for a pair. A position after one is 2 columns further right as written.
        self.shifts: dict[int, list[int]] = {}
        self.parsed = text  # what libyaml reads: the text, its surrogate pairs rewritten where it refused them
        self.rewritten = 0  # scalars whose pairs were rewritten
        self.reread = 0  # characters libyaml read before each rewrite: read again

    def error(self, code: str, message: str, mark: Any, **kw: Any) -> SpecError:
        pos = Pos(self.file, *self._written((mark.line + 1, mark.column + 1))) if mark is not None \
            else Pos(self.file, 1, 1)
        return SpecError([Diagnostic(code, message, pos, **kw)], {self.file: self.text})

    def compose(self) -> tuple[Any, Loc | None]:
        yaml = self.yaml
        while True:
            # The C parser's events without `yaml.parse`'s generator around it (10,000 nodes: 135 ms, not 161).
            try:
                parser = yaml.CSafeLoader(self.parsed)
            except UnicodeEncodeError as err:  # the text is not Unicode that UTF-8 can hold
                raise self._surrogate_error(err.start) from None
            try:
                data, root = self._compose_stream(iter(parser.get_event, None))
            except yaml.MarkedYAMLError as err:
                rewritten = self._pairs_rewritten(self.parsed, err)
                if rewritten is None:
                    raise self._syntax_error(err, self.parsed) from None
                self.parsed = rewritten
                continue
            except yaml.reader.ReaderError as err:
                raise self._reader_error(err, self.parsed) from None
            except yaml.YAMLError as err:
                raise self.error("E001", f"YAML syntax error: {err}", None) from None
            finally:
                parser.dispose()
            if self.shifts and root is not None:
                self._unshift(root)
            return data, root

    def _pairs_rewritten(self, parsed: str, err: Any) -> str | None:
        """The text for libyaml to read again: ``parsed`` with each surrogate-pair escape (``\\ud83d\\ude00``,
        valid JSON) of the double-quoted scalar where libyaml refused one written as one ``\\U0001F600``; None
        when libyaml refused something else (a lone surrogate is E001). Only in a double-quoted scalar is a
        backslash an escape, so only that scalar is rewritten, from its opening quote (libyaml's context
        mark) to its closing one, by YAML's escape rules. E001 after :data:`MAX_PAIR_SCALARS` scalars."""
        mark, start_mark = err.problem_mark, err.context_mark
        if err.problem != _BAD_ESCAPE or mark is None or start_mark is None:
            return None
        bom = 1 if parsed.startswith("\ufeff") else 0  # libyaml's index does not count it
        at, start = mark.index + bom - 2, start_mark.index + bom  # the refused escape's backslash; the quote
        if not _PAIR_AT.match(parsed, at) or parsed[start:start + 1] != '"':
            return None
        if self.rewritten >= MAX_PAIR_SCALARS or self.reread + mark.index > _MAX_REREAD:
            raise self._syntax_error(err, parsed, hint=_PAIR_HINT) from None
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
        on_line: dict[int, int] = {}  # pairs of this scalar rewritten so far on each line
        for index, escape in pairs:
            above = bisect_right(breaks, index)  # line breaks between the quote and the pair
            line = start_mark.line + above
            column = start_mark.column + index - start if above == 0 else index - breaks[above - 1]
            column -= _SHORTER * on_line.get(line, 0)  # in the text with this scalar's earlier pairs rewritten
            on_line[line] = on_line.get(line, 0) + 1
            columns = self.shifts.setdefault(line, [])
            columns[:] = sorted([c - _SHORTER if c > column else c for c in columns] + [column])
            pieces += [parsed[last:index], escape]
            last = index + len(escape) + _SHORTER
        pieces.append(parsed[last:])
        self.anchors.clear()  # read again from the start
        self.written = self.aliased = 0
        if self.duplicates is not None:
            self.duplicates.clear()
        return "".join(pieces)

    def _written(self, pos: tuple[int, int]) -> tuple[int, int]:
        """A 1-based (line, column) in the text libyaml read, as a position in the text as written."""
        columns = self.shifts.get(pos[0] - 1) if self.shifts else None
        if not columns:
            return pos
        return pos[0], pos[1] + _SHORTER * bisect_right(columns, pos[1] - 1 - len("\\U0001F600"))

    def _unshift(self, root: Loc) -> None:
        """Every position of the document as written (see :meth:`_written`); a Loc shared by aliases once."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            loc = stack.pop()
            if id(loc) in seen:
                continue
            seen.add(id(loc))
            loc.pos = self._written(loc.pos)
            if isinstance(loc.children, dict):
                for key, (key_pos, child) in loc.children.items():
                    loc.children[key] = (self._written(key_pos), child)
                    stack.append(child)
            elif loc.children:
                stack.extend(loc.children)

    def _syntax_error(self, err: Any, parsed: str, hint: str | None = None) -> SpecError:
        """E001 for a libyaml error: at the problem, with where the unfinished construct began, and where a
        `//` or `/* */` comment before it (which YAML reads as text) starts."""
        mark, context_mark = err.problem_mark, err.context_mark
        problem = err.problem or "invalid YAML"
        context = f" ({err.context})" if err.context else ""
        notes: tuple[str, ...] = ()
        found: str | None = None
        span = 1
        comment = _slash_comment(self.text, *(self._written((mark.line + 1, mark.column + 1)) if mark is not None
                                               else (len(self.text) + 1, 1)))
        if mark is None or (mark.index >= len(parsed) and context_mark is not None):
            # Unexpected end of the file: the start of the unclosed quote or bracket says more.
            mark, context_mark = context_mark or mark, None
            notes = ("the file ends before this is closed",)
            problem = problem.replace("end of stream", "end of file")
        if context_mark is not None and err.context and (context_mark.line, context_mark.column) != (
                mark.line, mark.column):
            line, column = self._written((context_mark.line + 1, context_mark.column + 1))
            notes = (f"{err.context.replace('while ', '', 1)} that starts at line {line}, column {column}",)
        where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        line_text = (YAML_LINE_BREAK.split(parsed, maxsplit=where[0])[where[0] - 1:] or [""])[0]
        if hint is None and "\t" in line_text[:where[1]]:
            hint = "YAML does not allow tabs for indentation; indent with spaces"
        escape = _refused_escape(parsed, mark) if problem == _BAD_ESCAPE and mark is not None else None
        if escape is not None:  # at the escape's backslash, not at its digits
            where, (found, span) = (where[0], where[1] - 2), escape
            hint = hint or ("write the whole character: as UTF-8, as `\\U0001F600`, or as both halves of its "
                            "surrogate pair together (`\\ud83d\\ude00`)")
        if comment is not None:
            token, line, column = comment
            notes += (f"`{token}` at line {line}, column {column} starts a comment, but {NO_SLASH_COMMENTS}",)
            hint = hint or f"{COMMENT_FIX} (a JSON spec is read as YAML)"
        return SpecError([Diagnostic("E001", f"YAML syntax error: {problem}{context}",
                                     Pos(self.file, *self._written(where)), found=found, notes=notes, span=span,
                                     hint=hint or "check indentation, brackets and quotes around this position")],
                         {self.file: self.text})

    def _reader_error(self, err: Any, parsed: str) -> SpecError:
        """E001 for a character YAML does not allow (a control character): at that character, whose
        position libyaml gives as a byte offset into the UTF-8 text."""
        before = parsed.encode("utf-8", "surrogatepass")[: err.position].decode("utf-8", "ignore")
        lines = YAML_LINE_BREAK.split(before)  # `\r` alone ends a line too (it was counted on line 1)
        line, column = len(lines) - 1, len(lines[-1])
        char = err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "\0")
        escape = f"\\x{char:02x}" if char < 256 else f"\\u{char:04x}"
        return SpecError([Diagnostic("E001", f"YAML syntax error: {err.reason}",
                                     Pos(self.file, *self._written((line + 1, column + 1))),
                                     found=f"the character U+{char:04X}",
                                     hint=f"delete it, or write it as {escape} inside a double-quoted string")],
                         {self.file: self.text})

    def _surrogate_error(self, index: int) -> SpecError:
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

    def _compose_stream(self, events: Any) -> tuple[Any, Loc | None]:
        yaml = self.yaml
        it = iter(events)
        next(it)  # StreamStart
        first = next(it)
        if isinstance(first, yaml.StreamEndEvent):
            return None, None
        data, loc = self._document(it)
        try:
            following = next(it)
        except yaml.MarkedYAMLError as err:
            if err.problem != _SECOND_DOCUMENT or err.problem_mark is None:
                raise
            raise self._after_document(err.problem_mark) from None
        if not isinstance(following, yaml.StreamEndEvent):
            raise self.error("E001", "a spec file holds exactly one YAML document", following.start_mark,
                             found="a second document (`---`)", hint=_ONE_DOCUMENT_HINT)
        return data, loc

    def _after_document(self, mark: Any) -> SpecError:
        """E001 for text after a whole document without `---`: a second JSON object after the first (or text
        after `...`), or a bracket or comma left over after the one that closed the document."""
        stray = self.parsed[mark.index + (1 if self.parsed.startswith("\ufeff") else 0):][:1]
        if stray in ("}", "]"):
            return self.error("E001", f"YAML syntax error: unmatched `{stray}` after the end of the document", mark,
                              hint="remove it, or the bracket before it that closes too early")
        if stray == ",":
            return self.error("E001", "YAML syntax error: `,` after the end of the document", mark,
                              hint="remove it: JSON has no comma after the last value")
        return self.error("E001", "a spec file holds exactly one YAML document", mark,
                          found="more text after the document ends (a second document)", hint=_ONE_DOCUMENT_HINT)

    def _document(self, it: Any) -> tuple[Any, Loc]:
        # Explicit stack instead of recursion: depth is checked, never bounded by the C stack.
        # The loop runs once per YAML event (10,000 nodes: ~100,000), so the common cases are inline
        # and the names it uses are locals: a plain scalar whose resolved value is cached, a plain
        # mapping or sequence, a key or value put into the mapping being built.
        yaml = self.yaml
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        map_end, seq_end, doc_end = yaml.MappingEndEvent, yaml.SequenceEndEvent, yaml.DocumentEndEvent
        scalar_cache = self.scalar_cache
        anchors = self.anchors
        missing = _MISSING
        stack: list[list] = []  # [is_map, container, loc, pending_key, size, anchor, start_mark, merges | None]
        result: tuple[Any, Loc] | None = None
        written = self.written
        chars_per_unit, max_expanded, max_depth = _CHARS_PER_UNIT, MAX_EXPANDED, MAX_DEPTH
        frame: list | None = None  # stack[-1], kept in step with the stack
        for event in it:
            cls = type(event)
            value: Any
            loc: Loc
            size: int
            if cls is scalar_event:
                text = event.value
                value = missing
                if event.implicit[0] and ((tag := event.tag) is None or tag == "!"):
                    value = scalar_cache.get(text, missing)
                if value is missing:
                    value = self._scalar(event)
                mark = event.start_mark
                pos = (mark.line + 1, mark.column + 1)
                size = 1 + len(text) // chars_per_unit
                written += size
                anchor = event.anchor
                if anchor is None and frame is not None and frame[0] and frame[3] is None:
                    # A key of the mapping being built: only its position is kept (no Loc).
                    frame[4] += size
                    frame[3] = (value, pos, event)
                    if written + self.aliased > max_expanded:
                        raise self._too_many(event)
                    continue
                loc = Loc(pos)
                if anchor is not None:
                    anchors[anchor] = (value, loc, size)
            elif cls is map_start or cls is seq_start:
                if event.tag is not None:
                    self._check_container_tag(event, cls is map_start)
                if len(stack) >= max_depth:
                    raise self.error("E002", f"the document nests deeper than {MAX_DEPTH} levels", event.start_mark,
                                     hint="specs never need this much nesting; write the structure flatter")
                is_map = cls is map_start
                mark = event.start_mark
                if is_map:
                    loc = Loc((mark.line + 1, mark.column + 1), {})
                    frame = [True, {}, loc, None, 1, event.anchor, mark, None]
                else:
                    loc = Loc((mark.line + 1, mark.column + 1), [])
                    frame = [False, [], loc, None, 1, event.anchor, mark, None]
                stack.append(frame)
                continue
            elif cls is map_end or cls is seq_end:
                done = stack.pop()
                frame = stack[-1] if stack else None
                if done[7]:
                    self._apply_merges(done)
                value, loc, size = done[1], done[2], done[4]
                if done[5] is not None:
                    anchors[done[5]] = (value, loc, size)
                written += 1
            elif cls is alias_event:
                if event.anchor not in anchors:
                    if any(f[5] == event.anchor for f in stack):
                        raise self.error("E002", f"alias `*{event.anchor}` refers to a node that contains it",
                                         event.start_mark, hint="recursive structures are not allowed in specs")
                    raise self.error("E001", f"unknown alias `*{event.anchor}`", event.start_mark)
                value, loc, size = anchors[event.anchor]
                self.aliased += size
                if self.aliased > max(MAX_ALIAS_UNITS, 10 * written):
                    raise self.error("E002", "aliases expand the document beyond the size limit", event.start_mark,
                                     expected=f"aliases that add at most {MAX_ALIAS_UNITS:,} values (or ten "
                                     "times what the file writes out)",
                                     hint="this looks like a 'billion laughs' document; write the values out")
            elif cls is doc_end:
                break
            else:  # pragma: no cover - libyaml emits no other events inside a document
                raise self.error("E001", f"unexpected YAML event {cls.__name__}", event.start_mark)

            if written + self.aliased > max_expanded:
                raise self._too_many(event)
            if frame is None:
                result = (value, loc)
                continue
            frame[4] += size
            if not frame[0]:
                frame[1].append(value)
                frame[2].children.append(loc)
            elif frame[3] is None:
                frame[3] = (value, loc.pos, event)  # a key written as an alias, an anchor or a collection
            else:
                key, key_pos, key_event = frame[3]
                frame[3] = None
                container = frame[1]
                if key.__class__ is str and key not in container:  # the common case, checked in _put
                    container[key] = value
                    frame[2].children[key] = (key_pos, loc)
                else:
                    self._put(frame, key, key_pos, key_event, value, loc, stack)
        self.written = written
        if result is None:  # pragma: no cover - a DocumentStart is always followed by a node
            raise self.error("E001", "empty document", None)
        return result

    def _too_many(self, event: Any) -> SpecError:
        return self.error("E002", "the document holds too many values", event.start_mark,
                          expected=f"at most {MAX_EXPANDED:,} values (a long string counts one per "
                          f"{_CHARS_PER_UNIT} characters), aliases expanded",
                          hint="split the spec into files, or use `repeat:` for repeated layers")

    def _put(self, frame: list, key: Any, key_pos: tuple[int, int], key_event: Any, value: Any, loc: Loc,
             stack: list) -> None:
        if key is _MERGE:
            frame[7] = [*(frame[7] or ()), (value, loc, key_event)]
            return
        if isinstance(key, (dict, list)):
            raise self.error("E001", "mapping keys must be plain scalars", key_event.start_mark,
                             found="a mapping or sequence used as a key")
        if key in frame[1] and self.duplicates is not None:  # PyYAML's way: the last one wins
            path = tuple((f[3][0] if f[3] is not None else None) if f[0] else len(f[1])
                         for f in stack[:-1]) + (key,)
            first = frame[2].children[key][0]
            repeat = (key_event.start_mark.line + 1, key_event.start_mark.column + 1)
            self.duplicates.append((path, Pos(self.file, *self._written(repeat)),
                                    Pos(self.file, *self._written(first))))
        elif key in frame[1]:
            raise self.error("E005", f"duplicate key `{key}`", key_event.start_mark,
                             hint="each key may appear once in a mapping; YAML would silently keep the last")
        frame[1][key] = value
        frame[2].children[key] = (key_pos, loc)

    def _apply_merges(self, frame: list) -> None:
        for value, loc, key_event in frame[7]:
            sources = value if isinstance(value, list) else [value]
            locs = loc.children if isinstance(value, list) else [loc]
            for src, src_loc in zip(sources, locs, strict=False):
                if not isinstance(src, dict):
                    raise self.error("E001", "`<<` merges only mappings", key_event.start_mark)
                for k, v in src.items():
                    if k not in frame[1]:
                        frame[1][k] = v
                        frame[2].children[k] = src_loc.children[k]

    def _check_container_tag(self, event: Any, is_map: bool) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            return
        if tag == _STD + ("map" if is_map else "seq"):
            return
        raise self.error("E003", f"YAML tag `{_tag_text(tag)}` is not allowed in a spec", event.start_mark,
                         hint=_TAG_HINT)

    def _scalar(self, event: Any) -> Any:
        tag = event.tag
        text = event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return text  # quoted or block scalar: a string
            cached = self.scalar_cache.get(text, _MISSING)
            if cached is not _MISSING:
                return cached
            value = self._resolve_plain(text, event)
            self.scalar_cache[text] = value
            return value
        if tag not in _SCALAR_TAGS:
            raise self.error("E003", f"YAML tag `{_tag_text(tag)}` is not allowed in a spec", event.start_mark,
                             hint=_TAG_HINT)
        return self._construct(tag, text, event)

    def _resolve_plain(self, text: str, event: Any) -> Any:
        resolvers = self.yaml.resolver.Resolver.yaml_implicit_resolvers
        candidates = resolvers.get(text[:1] if text else "", [])
        for tag, regexp in candidates:
            if regexp.match(text):
                if tag == _MERGE_TAG:
                    return _MERGE
                if tag in _SCALAR_TAGS:
                    return self._construct(tag, text, event)
                return text  # timestamps and other implicit types stay strings
        if text[:1] in _NUMBER_STARTS and _FLOAT_1_2.match(text):  # names (most plain scalars) skip the regex
            return float(text)
        return text

    def _construct(self, tag: str, text: str, event: Any) -> Any:
        yaml = self.yaml
        node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark)
        constructor = self.constructor
        if tag == _INT and len(text) > _MAX_INT_DIGITS:  # before int(), which refuses 4,301 digits
            raise self._out_of_range(text, event, f"an integer literal of {len(text):,} characters")
        try:
            if tag == _STR:
                return text
            if tag == _INT:
                value = constructor.construct_yaml_int(node)
                if not -MAX_INT <= value <= MAX_INT:
                    raise self._out_of_range(text, event)
                return value
            if tag == _FLOAT:
                return constructor.construct_yaml_float(node)
            if tag == _BOOL:
                return constructor.construct_yaml_bool(node)
            return None
        except (ValueError, KeyError, OverflowError):
            kind = tag.rsplit(":", 1)[-1]
            raise self.error("E001", f"invalid {kind} scalar `{text[:40]}`", event.start_mark,
                             expected=f"a valid {kind} after `!!{kind}`", found=repr(text[:40]),
                             hint=f"drop the `!!{kind}` tag, or write a valid {kind}") from None

    def _out_of_range(self, text: str, event: Any, what: str = "") -> SpecError:
        # The bound of every integer an expression computes (MAX_INT), so that no size, and no number in a
        # diagnostic or in model.py, is unbounded: a 5,000-digit `kernel_size` reached int() in a
        # constraint's message and crashed the compiler.
        shown = text if len(text) <= 40 else text[:40] + "..."
        return self.error("E001", "integer out of range", event.start_mark,
                          expected=f"at most 2**62 ({MAX_INT:,}) in magnitude",
                          found=f"{what} `{shown}`" if what else f"`{shown}`",
                          hint="no size in a spec comes near this; check the value, or quote it to make it "
                               "a string")


def _refused_escape(parsed: str, mark: Any) -> tuple[str, int] | None:
    """What the escape is whose digits libyaml refused at ``mark``, and its length: a lone surrogate, a code
    beyond U+10FFFF, or a surrogate pair that was not rewritten (more than :data:`MAX_PAIR_SCALARS`)."""
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
    """The last `//` or `/*` comment (JSON-with-comments') that starts a token before ``line``, ``column``
    (1-based) of ``text``: ``(token, line, column)``, or None. Strings and `#` comments are skipped, line by line.

    >>> _slash_comment('{"a": 1, // one\\n "url": "http://x", "b": 2}', 2, 30)
    ('//', 1, 10)
    """
    lines = YAML_LINE_BREAK.split(text, maxsplit=line)
    if len(lines) >= line:  # the text reaches that line: up to the column
        lines = lines[:line]
        lines[-1] = lines[-1][:max(column - 1, 0)]
    for number in range(len(lines), 0, -1):
        source = lines[number - 1]
        if "//" not in source and "/*" not in source:
            continue
        blanked = _STRING_OR_COMMENT.sub(lambda m: " " * len(m[0]), source)
        found = list(_SLASH_COMMENT.finditer(blanked))
        if found:
            return found[-1][1], number, found[-1].start(1) + 1
    return None


def _tag_text(tag: str) -> str:
    """A tag as the user wrote it: ``!!python/object`` rather than ``tag:yaml.org,2002:python/object``."""
    return "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag


class _Merge:
    def __repr__(self) -> str:
        return "<<"


_MERGE = _Merge()
_MISSING = object()
# YAML 1.2's (and JSON's) floats that YAML 1.1 reads as strings: an exponent without a dot or without a
# sign (`1e-5`, `1.5e5`, `2E3`), a signed fraction without a leading digit (`-.5`). `eps: 1e-5`, as
# docs/blocks.md prints the defaults and as every ML config writes it, was `expected number, found
# '1e-5'`; a JSON spec's `1e-5` was the same string, and the YAML language server called it a number.
_NUMBER_STARTS = frozenset("0123456789+-.")
_FLOAT_1_2 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_MAX_INT_DIGITS = 1000  # characters: more than MAX_INT takes in any base (65 in binary), fewer than int() reads
