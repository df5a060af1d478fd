"""Composing one YAML document from libyaml's event stream (see :mod:`vibench.compiler.load`).

:class:`_Composer` turns PyYAML's C parser events into plain values and a map of source positions
(:class:`Loc`), enforcing the safety rules as it builds: standard tags only (E003,
:mod:`vibench.compiler.load_scalars`, which also constructs a tagged or plain scalar's value), at most
:data:`MAX_DEPTH` levels (E002), the expanded size bounded by :data:`MAX_EXPANDED` and
:data:`MAX_ALIAS_UNITS` (E002), duplicate keys refused (E005) or listed and ``<<`` merges applied
(:mod:`vibench.compiler.load_keys`; a ``<<`` that is no key is E001). A number that YAML 1.1 reads otherwise
than YAML 1.2 and Python (`1:30`, `010`, `08`, `10_`) is E001 (:class:`YAML11NumberError`), or in a lenient read
(a PHM-Vibench config's) read as PyYAML reads it and listed with that E001; such a read lists too what vibench
reads as YAML 1.2 does and PyYAML otherwise (`1e-1`, `2020-01-01`, `=`), keeping vibench's value
(:mod:`vibench.compiler.load_numbers`), as :func:`pyyaml_readings` lists them for a config read as a spec; only
where a PHM-Vibench config's model may read them
(:meth:`~vibench.compiler.load_numbers.Yaml11Numbers._listed_here`).
PyYAML is imported when a composer is made, not with this module.

JSON is read as YAML, unquoted text other than JSON's literals refused (E001, a `//` or `/*` in it named as the
comment it is), with one repair: libyaml refuses a character beyond U+FFFF escaped as a UTF-16
surrogate pair (``"\\ud83d\\ude00"``, as Python's ``json.dumps`` writes it), so the double-quoted
scalar it refused has its pairs rewritten as YAML's ``\\U0001f600`` and the text is read again (at
most :data:`MAX_PAIR_SCALARS` scalars); positions are mapped back to the text as written. That repair,
the E001 for every other refusal of libyaml's and those of `<<` and of a JSON spec's unquoted text, live in
:mod:`vibench.compiler.load_refusals`, imported only when the text is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.ir import Pos
from vibench.compiler.load_keys import MappingKeys
from vibench.compiler.load_numbers import _JSON_LEADING_ZERO, _LEADING_ZERO, _MERGE, Listed, _LenientCache
from vibench.compiler.load_scalars import _MERGE_TAG, _SCALAR_TAGS, TaggedScalars

if TYPE_CHECKING:
    from vibench.compiler.load_refusals import RefusedText

MAX_DEPTH = 64
MAX_EXPANDED = 2_000_000
MAX_ALIAS_UNITS = 100_000
_CHARS_PER_UNIT = 64

_SECOND_DOCUMENT = "did not find expected <document start>"  # libyaml's words for text after the document
MAX_PAIR_SCALARS = 100  # double-quoted scalars whose surrogate-pair escapes are rewritten, each costing a reread
_MAX_REREAD = 16 * 2**20  # characters read again for them in all (about 4 s): a 16 MiB file gets few


@dataclass(slots=True)
class Loc:
    """Source positions of one value: its own position and, for containers, its children's."""

    pos: tuple[int, int]  # (line, col), 1-based
    children: Any = None  # dict key -> (key (line, col), Loc) for mappings; list[Loc] for sequences


class _Composer(TaggedScalars, MappingKeys):
    def __init__(self, text: str, file: str, duplicates: list | None = None, numbers: list | None = None) -> None:
        import yaml

        self.yaml = yaml
        self.text = text
        self.file = file
        self.anchors: dict[str, tuple[Any, Loc, int, int]] = {}  # value, place, size units, levels
        self.written = 0  # size units of the values the file writes out
        self.aliased = 0  # size units that aliases add
        self.scalar_cache: dict[str, Any] = {} if numbers is None else _LenientCache()
        self.constructor = yaml.constructor.SafeConstructor()
        self.implicit_resolvers = yaml.resolver.Resolver.yaml_implicit_resolvers  # first character -> [(tag, regexp)]
        self.duplicates = duplicates  # None: a repeated key is E005
        self.numbers = numbers  # None: a YAML 1.1 number is E001; else each one Listed, read as PyYAML
        self.build_at: set[Pos] | None = None  # the Listed whose diagnostics to build (None: the first ones)
        # A lenient read lists such a number only where the model may read it (_listed_here), unless the document
        # turns out to have no `model:` (a base config's top-level keys are its model's): `unlisted` says one was
        # passed over, and the text is read again listing all (`listed_everywhere`).
        self.unlisted = False
        self.listed_everywhere = False
        self._stack: list[list] = []  # the frames of the document being built (_document's)
        self._plain_key: bool | None = None  # the plain scalar being resolved is a key (None: unknown, a tagged one)
        self._pending: Any = None  # the key whose value it is, when it is none
        self._scope: tuple[Any, bool] = (None, True)  # the frame on top when last asked, and whether it is listed
        self._passed: tuple[dict[str, Any], dict[str, Any]] = ({}, {})  # such a text -> its value ([True]: a key's)
        self.parsed = text  # what libyaml reads: the text, its surrogate pairs rewritten where it refused them
        self.refused: RefusedText | None = None  # made when libyaml first refuses the text
        self.json = file.lower().endswith(".json")  # a leading zero is refused in any number (not JSON)

    def error(self, code: str, message: str, mark: Any, error: type[SpecError] = SpecError, **kw: Any) -> SpecError:
        pos = Pos(self.file, *self._written((mark.line + 1, mark.column + 1))) if mark is not None \
            else Pos(self.file, 1, 1)
        return error([Diagnostic(code, message, pos, **kw)], {self.file: self.text})

    def compose(self) -> tuple[Any, Loc | None]:
        yaml = self.yaml
        while True:
            # The C parser's events without `yaml.parse`'s generator around it (10,000 nodes: 135 ms, not 161).
            try:
                parser = yaml.CSafeLoader(self.parsed)
            except UnicodeEncodeError as err:  # the text is not Unicode that UTF-8 can hold
                raise self._refusals().surrogate_error(err.start) from None
            try:
                data, root = self._compose_stream(iter(parser.get_event, None))
            except yaml.MarkedYAMLError as err:
                refused = self._refusals()
                rewritten = refused.pairs_rewritten(self.parsed, err)
                if rewritten is None:
                    raise refused.syntax_error(err, self.parsed) from None
                self.parsed = rewritten
                self._restart()  # read again from the start
                continue
            except yaml.reader.ReaderError as err:
                raise self._refusals().reader_error(err, self.parsed) from None
            except yaml.YAMLError as err:
                raise self.error("E001", f"YAML syntax error: {err}", None) from None
            finally:
                parser.dispose()
            if self.unlisted and not self.listed_everywhere and not (isinstance(data, dict) and "model" in data):
                self._restart()  # no `model:`: each of them may be the model's (a base config's top-level keys)
                self.listed_everywhere = True
                continue
            if self.refused is not None and root is not None:
                self.refused.unshift(root)
            return data, root

    def _restart(self) -> None:
        """Forget what a read of the text built, to read it again from the start."""
        self.anchors.clear()
        self.written = self.aliased = 0
        if self.duplicates is not None:
            self.duplicates.clear()
        if self.numbers is not None:
            self.numbers.clear()

    def _refusals(self) -> RefusedText:
        """The error path's helper, made (and its module imported) when libyaml first refuses the text."""
        if self.refused is None:
            from vibench.compiler.load_refusals import RefusedText

            self.refused = RefusedText(self.text, self.file, max_scalars=MAX_PAIR_SCALARS, max_reread=_MAX_REREAD)
        return self.refused

    def _written(self, pos: tuple[int, int]) -> tuple[int, int]:
        """A 1-based (line, column) in the text libyaml read, as a position in the text as written."""
        return pos if self.refused is None else self.refused.written(pos)

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
            raise self._refusals().after_document(err.problem_mark, self.parsed) from None
        if not isinstance(following, yaml.StreamEndEvent):
            raise self._refusals().second_document(following.start_mark)
        return data, loc

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
        missing, merge = _MISSING, _MERGE
        stack: list[list] = []  # [is_map, container, loc, pending_key, units_before, anchor, merges | None]
        self._stack = stack
        result: tuple[Any, Loc] | None = None
        # Size units so far: `written` (the values the file writes out) and `aliased` (what aliases add); a
        # container's size is what they grew by from its start to its end (its own unit included), so no
        # per-child sum is kept. `room` is what `written` may reach before the document is too large.
        written, aliased = self.written, self.aliased
        room = MAX_EXPANDED - aliased
        chars_per_unit, max_depth = _CHARS_PER_UNIT, MAX_DEPTH
        # The container being built (stack[-1]) and its fields the loop reads for every child, as locals.
        # `want_key`: the next node is a key of the mapping being built; else, in a mapping, `key`, `key_pos`
        # and `key_event` are the key read, its value not yet (saved in the frame, as `pending_key`, while a
        # child container is built). Three locals, not a tuple: no object made per key for it.
        frame: list | None = None
        is_map = want_key = False
        container: Any = None
        children: Any = None
        key: Any = None
        key_pos: tuple[int, int] = (0, 0)
        key_event: Any = None
        # The 1-based number of the line of the last position made, shared by every position on that line: most
        # lines hold several (a flow mapping's keys and values), and each number would be an int object kept
        # (10,000 nodes: 315,000 -> 239,000 memory blocks held by the loaded document).
        line0, line1 = -1, 0
        for event in it:
            cls = type(event)
            value: Any
            loc: Loc
            size: int
            if cls is scalar_event:
                text = event.value
                if (tag := event.tag) is not None and tag != "!":
                    self._plain_key = None  # (a lenient read lists a tagged number wherever it is)
                    value = self._tagged(event)
                elif not event.implicit[0]:
                    value = text  # quoted or block scalar: a string
                else:  # a plain scalar: resolved once per text
                    value = scalar_cache.get(text, missing)
                    if value is missing:
                        value = scalar_cache[text] = self._resolve_plain(text, event, want_key, key)
                mark = event.start_mark
                if mark.line != line0:
                    line0 = mark.line
                    line1 = line0 + 1
                pos = (line1, mark.column + 1)
                size = 1 + len(text) // chars_per_unit
                written += size
                if written > room:
                    raise self._too_many(event)
                anchor = event.anchor
                if want_key and anchor is None:
                    # A key of the mapping being built: only its position is kept (no Loc).
                    key, key_pos, key_event, want_key = value, pos, event, False
                    continue
                if value is merge and not want_key:  # only a key merges: never a value
                    raise self._refusals().merge_value(event.start_mark)
                loc = Loc(pos)
                if anchor is not None:
                    anchors[anchor] = (value, loc, size, 0)
            elif cls is map_start or cls is seq_start:
                if event.tag is not None:
                    self._check_container_tag(event, cls is map_start)
                if len(stack) >= max_depth:
                    raise self.error("E002", f"the document nests deeper than {MAX_DEPTH} levels", event.start_mark,
                                     hint="specs never need this much nesting; write the structure flatter")
                if frame is not None:
                    frame[3] = None if want_key or not is_map else (key, key_pos, key_event)
                mark = event.start_mark
                if mark.line != line0:
                    line0 = mark.line
                    line1 = line0 + 1
                is_map = want_key = cls is map_start
                container, children = ({}, {}) if is_map else ([], [])
                frame = [is_map, container, Loc((line1, mark.column + 1), children), None,
                         written + aliased, event.anchor, None, 0]
                stack.append(frame)
                continue
            elif cls is map_end or cls is seq_end:
                done = stack.pop()
                height = done[7] + 1  # the levels it holds, its aliases' expanded
                if stack:
                    frame = stack[-1]
                    if height > frame[7]:
                        frame[7] = height
                    is_map, container, children = frame[0], frame[1], frame[2].children
                    want_key = is_map and frame[3] is None
                    if not want_key and is_map:
                        key, key_pos, key_event = frame[3]
                else:
                    frame, is_map, want_key = None, False, False
                if done[6]:
                    self._apply_merges(done)
                written += 1
                if written > room:
                    raise self._too_many(event)
                value, loc = done[1], done[2]
                if done[5] is not None:
                    anchors[done[5]] = (value, loc, written + aliased - done[4], height)
            elif cls is alias_event:
                if event.anchor not in anchors:
                    if any(f[5] == event.anchor for f in stack):
                        raise self.error("E002", f"alias `*{event.anchor}` refers to a node that contains it",
                                         event.start_mark, hint="recursive structures are not allowed in specs")
                    raise self.error("E001", f"unknown alias `*{event.anchor}`", event.start_mark)
                value, loc, size, height = anchors[event.anchor]
                # An alias nests what it names where it stands: `&a1 [*a0]`, `&a2 [*a1]`, ... is 2 levels as
                # written and as deep as the chain once read (a 440-link chain was a RecursionError downstream).
                if height and len(stack) + height > max_depth:
                    raise self.error("E002", f"the document nests deeper than {MAX_DEPTH} levels once its aliases "
                                     "are expanded", event.start_mark,
                                     hint="specs never need this much nesting; write the structure flatter")
                if frame is not None and height > frame[7]:
                    frame[7] = height
                if value is merge and not want_key:  # `&m <<: {...}`, then `a: *m`
                    raise self._refusals().merge_value(event.start_mark, event.anchor)
                aliased += size
                room = MAX_EXPANDED - aliased
                if aliased > max(MAX_ALIAS_UNITS, 10 * written):
                    raise self.error("E002", "aliases expand the document beyond the size limit", event.start_mark,
                                     expected=f"aliases that add at most {MAX_ALIAS_UNITS:,} values (or ten "
                                     "times what the file writes out)",
                                     hint="this looks like a 'billion laughs' document; write the values out")
                if written > room:
                    raise self._too_many(event)
            elif cls is doc_end:
                break
            else:  # pragma: no cover - libyaml emits no other events inside a document
                raise self.error("E001", f"unexpected YAML event {cls.__name__}", event.start_mark)

            if frame is None:
                result = (value, loc)
            elif not is_map:
                container.append(value)
                children.append(loc)
            elif want_key:  # a key written as an alias, an anchor or a collection
                key, key_pos, key_event, want_key = value, loc.pos, event, False
            else:
                want_key = True
                if key.__class__ is str and key not in container:  # the common case, checked in _put
                    container[key] = value
                    children[key] = (key_pos, loc)
                else:
                    self._put(frame, key, key_pos, key_event, value, loc, stack)
        self.written, self.aliased = written, aliased
        if result is None:  # pragma: no cover - a DocumentStart is always followed by a node
            raise self.error("E001", "empty document", None)
        return result

    def _too_many(self, event: Any) -> SpecError:
        return self.error("E002", "the document holds too many values", event.start_mark,
                          expected=f"at most {MAX_EXPANDED:,} values (a long string counts one per "
                          f"{_CHARS_PER_UNIT} characters), aliases expanded",
                          hint="split the spec into files, or use `repeat:` for repeated layers")

    def _resolve_plain(self, text: str, event: Any, key: bool, pending: Any) -> Any:
        """The value of a plain scalar (``key``: a mapping key; else the value of the key ``pending``, in a
        mapping), as PyYAML's implicit resolvers and YAML 1.2's floats give it; a lenient read lists what PyYAML
        reads otherwise (:mod:`vibench.compiler.load_numbers`), where :meth:`_listed_here` says."""
        if self.numbers is not None:  # (a text PyYAML reads otherwise is never cached: each one is seen here)
            self._plain_key, self._pending = key, pending
            value = self._passed[key].get(text, _MISSING)
            if value is not _MISSING and not self._listed_here(event):  # read before, and passed over here
                self.unlisted = True
                return value
        if self.json and not _JSON_LITERAL.match(text):  # JSON writes any other value in double quotes
            if (refused := self._refusals().not_json(text, event, self.parsed)) is not None:
                raise refused
            return None  # libyaml refuses the text next
        for tag, regexp in self.implicit_resolvers.get(text[:1], ()):
            if regexp.match(text):
                if tag == _MERGE_TAG:
                    return _MERGE
                if tag in _SCALAR_TAGS:
                    return self._construct(tag, text, event)
                if self.numbers is not None:  # a date, `=`: a date to PyYAML, or no file it reads
                    return self._yaml_1_1_type(tag, text, event, key)
                return text  # timestamps and other implicit types stay strings
        if text[:1] in _NUMBER_STARTS and _FLOAT_1_2.match(text):  # names (most plain scalars) skip the regex
            if _LEADING_ZERO.match(text):  # `08`: YAML 1.1 reads no octal integer, YAML 1.2 eight
                return self._pyyaml_number(text, event, text, lambda: self._yaml_1_1_number(text, event, None))
            if self.json and _JSON_LEADING_ZERO.match(text):  # `01e3`
                return self._pyyaml_number(text, event, text, lambda: self._yaml_1_1_number(text, event, float(text)))
            if self.numbers is not None:  # `1e-1`: PyYAML's string
                return self._yaml_1_2_float(text, event, key)
            return float(text)
        return text


def pyyaml_readings(text: str, file: str, build_at: set[Pos] | None = None) -> tuple[Listed, ...]:
    """What a lenient read of ``text`` lists (:attr:`vibench.compiler.load.LoadedDoc.numbers`): each plain scalar
    PyYAML reads otherwise than vibench where the model may read it, with its E001 (a date key's: E102). For a
    PHM-Vibench experiment config that a strict read took as a spec, as YAML 1.2 (`dropout: 1e-1`, 0.1 there, is
    PyYAML's string), when :func:`vibench.compiler.phm_readings.may_read_otherwise` says it may hold one. The
    diagnostics built are the first MAX_DIAGNOSTICS', or with ``build_at`` those at its positions."""
    composer = _Composer(text, file, [], [])
    composer.build_at = build_at
    composer.compose()
    return tuple(composer.numbers or ())


_MISSING = object()
# YAML 1.2's (and JSON's) floats that YAML 1.1 reads as strings: an exponent without a dot or without a
# sign (`1e-5`, `1.5e5`, `2E3`), a signed fraction without a leading digit (`-.5`). `eps: 1e-5`, as
# docs/blocks.md prints the defaults and as every ML config writes it, was `expected number, found
# '1e-5'`; a JSON spec's `1e-5` was the same string, and the YAML language server called it a number. A lenient
# read (a PHM-Vibench config's, which PyYAML reads) lists each one: E001 inside `model:`.
_NUMBER_STARTS = frozenset("0123456789+-.")
_FLOAT_1_2 = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
# What JSON writes unquoted: true, false, null and numbers (a leading zero, `07`, is its own E001, said so).
_JSON_LITERAL = re.compile(r"(?:true|false|null|-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)\Z")
