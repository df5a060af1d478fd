"""Pass 1, load: YAML or JSON text -> plain Python values plus a map of source positions.

Pre: any text. Post: a :class:`LoadedDoc` whose ``data`` holds only dict / list / str / int /
float / bool / None, or a :class:`SpecError` (E001-E005); never another exception, never a hang.

The document is read from libyaml's event stream (PyYAML's C ``CSafeLoader`` parser) and composed
here, not by ``yaml.compose``. Measured on a 10,000-node spec: C events 62 ms, ``yaml.compose``
290 ms (its implicit resolver runs a Python regex per scalar), ``yaml.load`` 473 ms; composing from
events with a cache of resolved plain scalars keeps loading near the event cost. Composing here
also makes the safety rules cheap and exact:

* only the standard scalar, sequence and mapping tags; anything that would construct an object
  (``!!python/...``, custom tags, ``!!set``) is E003;
* nesting deeper than :data:`MAX_DEPTH` is E002 (libyaml's own composer recurses in C and crashes
  the process on a 100,000-deep document);
* aliases are shared, never copied, and the *expanded* size of the document is counted as it is
  built (one unit per value, plus one per 64 characters of a string, so an alias of a long string
  weighs what it would cost to copy): the document may hold :data:`MAX_EXPANDED` units, and aliases
  may add at most :data:`MAX_ALIAS_UNITS` units or ten times what the file writes out, whichever is
  more. Later passes walk the expanded values, so this bounds their work too; a "billion laughs"
  document (or one long string aliased a million times) stops with E002;
* duplicate mapping keys are E005 (PyYAML silently keeps the last); with ``lenient_keys`` the last
  one is kept, as PyYAML does, and every repeat is listed in :attr:`LoadedDoc.duplicates` (how a
  PHM-Vibench experiment's sections other than `model:` are read, :mod:`vibench.compiler.phm`);
* a number that YAML 1.1 reads otherwise than YAML 1.2 (base 60, `1:30`; a leading zero, `010`, `08`) is E001
  (:class:`~vibench.compiler.load_numbers.YAML11NumberError`); with ``lenient_keys`` it is read as PyYAML
  reads it (90, 8, the string `08`) and listed with that E001 in :attr:`LoadedDoc.numbers`.

JSON, read as YAML, means what JSON means by a surrogate-pair escape (``"\\ud83d\\ude00"``, which libyaml
refuses alone): the one character beyond U+FFFF; positions stay those of the text as written.

Only regular files are read (a device such as ``/dev/zero``, a FIFO or a folder is E004, found
without blocking on it), and never more than :data:`MAX_BYTES` bytes, whatever the file's size claims.

Inside :func:`source_budget` (one compilation, see :func:`vibench.compiler.pipeline.compile_program`)
the files read share one budget: :data:`~vibench.compiler.limits.MAX_SOURCE_BYTES` bytes,
:data:`~vibench.compiler.limits.MAX_SOURCE_FILES` files and
:data:`~vibench.compiler.limits.MAX_SOURCE_VALUES` loaded values, E002
(:class:`SourceBudgetExceeded`) beyond, located at the reference that crossed it. A file read again
is read once: its text is kept by real path, its loaded document by path and name.

The composer and the document limits live in :mod:`vibench.compiler.load_compose`; what happens when
libyaml refuses the text (the surrogate-pair rewrite, E001 diagnostics) in :mod:`vibench.compiler.load_refusals`.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import stat
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from vibench.compiler.descriptor_names import descriptor
from vibench.compiler.diagnostics import YAML_LINE_BREAK, Diagnostic, SpecError
from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.ir import Pos
from vibench.compiler.limits import MAX_SOURCE_BYTES, MAX_SOURCE_FILES, MAX_SOURCE_VALUES
from vibench.compiler.load_compose import _CHARS_PER_UNIT, MAX_ALIAS_UNITS, MAX_DEPTH, Loc, _Composer
from vibench.compiler.load_numbers import Listed
from vibench.compiler.spec_reads import note_read

MAX_BYTES = 16 * 1024 * 1024
_WHAT_COUNTS = "the spec, its templates, the files its `block:` references name, base configs and slot components"


class SourceBudgetExceeded(SpecError):
    """E002: the files of one compilation read past a limit of :func:`source_budget` together. Callers
    that skip a file they cannot load (a slot's components) let this one through."""


@dataclass
class SourceBudget:
    """What one compilation may still read, and what it has read (see :func:`source_budget`)."""

    max_bytes: int = MAX_SOURCE_BYTES
    max_files: int = MAX_SOURCE_FILES
    max_values: int = MAX_SOURCE_VALUES
    files: int = 0
    bytes_read: int = 0
    values: int = 0
    texts: dict[str, str] = field(default_factory=dict)  # real path -> text: each file is read once
    docs: dict[tuple[str, str, bool], LoadedDoc] = field(default_factory=dict)  # (path, name, lenient) -> doc

    def charge_file(self, size: int, shown: str) -> None:
        """Count a file of ``size`` bytes about to be read (E002 when it does not fit)."""
        if self.files >= self.max_files:
            raise self._exceeded(f"more than {self.max_files:,} spec files", f"`{shown}` would be file "
                                 f"{self.files + 1:,}", f"{self.max_files:,} files", shown)
        self.files += 1
        self.charge_bytes(size, shown)

    def charge_bytes(self, size: int, shown: str) -> None:
        """Count ``size`` more bytes read from ``shown`` (E002 beyond the budget)."""
        if self.bytes_read + size > self.max_bytes:
            raise self._exceeded(f"more than {_mib(self.max_bytes)} of spec files",
                                 f"`{shown}` ({size:,} bytes) after {self.bytes_read:,} bytes in "
                                 f"{self.files - 1:,} files", f"{self.max_bytes:,} bytes",
                                 shown)
        self.bytes_read += size

    def charge_values(self, values: int, shown: str) -> None:
        """Count the values of a document just loaded (E002 beyond the budget)."""
        if self.values + values > self.max_values:
            raise self._exceeded(f"more than {self.max_values:,} values from its spec files",
                                 f"`{shown}` ({values:,} values) after {self.values:,}",
                                 f"{self.max_values:,} values (a value is a scalar, list or mapping, aliases "
                                 f"expanded; a long string counts one per {_CHARS_PER_UNIT} characters)", shown)
        self.values += values

    @staticmethod
    def _exceeded(what: str, found: str, limit: str, shown: str) -> SourceBudgetExceeded:
        return SourceBudgetExceeded([Diagnostic(
            "E002", f"the compilation reads {what}", Pos(shown, 1, 1), found=found,
            expected=f"at most {limit}, all files together",
            notes=(f"one compilation reads at most {limit} from spec files: {_WHAT_COUNTS}; a file used "
                   "again is read once and counts once",),
            hint="reference fewer or smaller files: merge small block files into one, name one file from "
            "several places rather than copies of it, keep data out of spec files")])


def _mib(size: int) -> str:
    return f"{size // 2**20:,} MiB" if size % 2**20 == 0 else f"{size:,} bytes"


_SOURCES: ContextVar[SourceBudget | None] = ContextVar("vibench_source_budget", default=None)


@contextlib.contextmanager
def source_budget(max_bytes: int = MAX_SOURCE_BYTES, max_files: int = MAX_SOURCE_FILES,
                  max_values: int = MAX_SOURCE_VALUES) -> Iterator[SourceBudget]:
    """Share one budget among the spec files read inside (in this thread or task): one compilation.

    Every :func:`read_spec_file` inside counts against it, and reads a file it read before only once:

    >>> spec = os.path.join(os.path.dirname(__file__), "..", "specs", "cnn", "ResNet1D.yaml")
    >>> with source_budget(max_files=1) as sources:
    ...     first = read_spec_file(spec)
    ...     (first is read_spec_file(spec), sources.files)
    (True, 1)
    """
    sources = SourceBudget(max_bytes, max_files, max_values)
    token = _SOURCES.set(sources)
    try:
        yield sources
    finally:
        _SOURCES.reset(token)


@dataclass
class LoadedDoc:
    """A loaded document: plain data, where each piece came from, and the text it came from."""

    data: Any
    file: str  # the name shown in messages
    path: str | None  # absolute path on disk, None for in-memory text
    text: str
    root: Loc | None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    duplicates: tuple[tuple[tuple, Pos, Pos], ...] = ()
    """Keys written twice in one mapping (path of the key, position of the repeat, of the first): only with
    ``lenient_keys``."""
    numbers: tuple[Listed, ...] = ()
    """YAML 1.1 numbers read as PyYAML reads them (their position, code, and the E001 of a strict read, built
    when asked): only with ``lenient_keys``."""

    @property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def _walk(self, path: tuple) -> tuple[Loc | None, tuple[int, int] | None]:
        # Memoised per path: resolving a 10,000-node spec asks for ~80,000 positions, mostly
        # siblings, so each lookup is one step from its (cached) parent.
        cache = self._cache
        hit = cache.get(path)
        if hit is not None:
            return hit
        result: tuple[Loc | None, tuple[int, int] | None] = (None, None)
        if not path:
            result = (self.root, None)
        else:
            parent = self._walk(path[:-1])[0]
            children = parent.children if parent is not None else None
            if children is not None:
                part = path[-1]
                if children.__class__ is dict:
                    entry = children.get(part)
                    if entry is not None:
                        result = (entry[1], entry[0])
                elif isinstance(part, int) and 0 <= part < len(children):
                    result = (children[part], None)
        cache[path] = result
        return result

    def locate(self, path: tuple) -> Loc | None:
        """The location map of the value at ``path`` (None when the path does not exist)."""
        return self._walk(path)[0]

    def pos(self, path: tuple, *, key: bool = False) -> Pos | None:
        """The position of the value at ``path`` (or of its key with ``key=True``); the nearest
        enclosing position when the path does not exist (e.g. a missing required key)."""
        loc, key_pos = self._walk(path)
        if loc is not None:  # the common case first: the path exists
            return Pos(self.file, *(key_pos if key and key_pos is not None else loc.pos))
        for cut in range(len(path) - 1, -1, -1):
            loc, key_pos = self._walk(path[:cut])
            if loc is not None:
                return Pos(self.file, *(key_pos if key_pos is not None else loc.pos))
        return Pos(self.file, 1, 1)


def read_spec_file(path: str, display: str | None = None, *, lenient_keys: bool = False,
                   at: Pos | None = None) -> LoadedDoc:
    """Load a spec file from disk (E004 when it cannot be read or is not a regular file).

    Inside :func:`source_budget` the file counts against the compilation's budget (E002 at ``at``, the
    reference that names the file, when it does not fit) and a file read before is not read again.
    """
    shown = display if display is not None else path
    # The document's path, whose folder its relative references are read from: the real file's, so that one file
    # is one model however it is reached (through a link, or named by another spec, which reads the real path:
    # `X/link.yaml -> ../Y/spec.yaml` read `X/base.yaml` compiled itself, `Y/base.yaml` extended). None for a
    # descriptor (`/dev/stdin`, `/dev/fd/3`): what it reads has no folder of its own, so its references are found
    # from the working folder, as for `vibench-compile -` (/dev/stdin searched /dev).
    where = None if descriptor(path) is not None else os.path.realpath(path)
    sources = _SOURCES.get()
    if sources is None:
        return load_text(decode_spec(_read_bytes(path, shown, None), shown), shown, where, lenient_keys=lenient_keys)
    key = (where or os.path.abspath(path), shown, lenient_keys)
    doc = sources.docs.get(key)
    if doc is not None:
        return doc
    real = os.path.realpath(path)
    try:
        text = sources.texts.get(real)
        if text is None:
            text = decode_spec(_read_bytes(path, shown, sources), shown)
            sources.texts[real] = text
        doc = load_text(text, shown, where, lenient_keys=lenient_keys)
    except SourceBudgetExceeded as err:
        if at is None:
            raise
        raise SourceBudgetExceeded([replace(d, pos=at) for d in err.diagnostics]) from None
    sources.docs[key] = doc
    return doc


def _read_bytes(path: str, shown: str, sources: SourceBudget | None) -> bytes:
    """The bytes of a regular file, at most :data:`MAX_BYTES` (E002 beyond, E004 when it cannot be read)."""
    try:
        _regular(os.stat(path).st_mode, shown)  # devices, FIFOs and sockets are never opened
        # O_NONBLOCK: should the path become a FIFO meanwhile, opening it must not wait for a writer.
        with open(path, "rb", opener=_open_nonblocking) as fh:
            _regular(os.fstat(fh.fileno()).st_mode, shown)
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_BYTES:
                raise _too_large(shown, f"{size:,} bytes")
            if sources is not None:
                sources.charge_file(size, shown)  # before reading: a file past the budget is never read
            raw = fh.read(MAX_BYTES + 1)  # bounded even when the size above was wrong (a growing file)
            if len(raw) > MAX_BYTES:
                raise _too_large(shown, f"more than {MAX_BYTES:,} bytes")
            if sources is not None and len(raw) > size:  # it grew since: the bytes read count
                sources.charge_bytes(len(raw) - size, shown)
    except IsADirectoryError:
        raise SpecError([Diagnostic("E004", "spec file is a folder, not a regular file", Pos(shown, 1, 1),
                                    found=shown, hint="give the path of a .yaml, .yml or .json file")]) from None
    except OSError as err:
        raise SpecError([Diagnostic("E004", f"cannot read spec file: {err.strerror or err}", Pos(shown, 1, 1),
                                    found=shown, hint="check the path and the file's permissions")]) from None
    note_read(path, raw)  # the bytes compiled: vibench.build's cache keeps its entry on them, not on the file later
    return raw


def read_spec_stream(stream: Any, shown: str = "<stdin>") -> str:
    """The spec text of a binary stream (standard input): at most :data:`MAX_BYTES` bytes (E002
    beyond), decoded as :func:`decode_spec` does; E004 when it cannot be read."""
    try:
        raw = stream.read(MAX_BYTES + 1)
    except OSError as err:
        raise SpecError([Diagnostic("E004", f"cannot read the spec: {err.strerror or err}", Pos(shown, 1, 1),
                                    found=shown)]) from None
    if len(raw) > MAX_BYTES:
        raise _too_large(shown, f"more than {MAX_BYTES:,} bytes")
    return decode_spec(raw, shown)


def decode_spec(raw: bytes, shown: str) -> str:
    """Spec bytes as text: UTF-8, a byte-order mark dropped; E001 at the first byte that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        # The text with the bad bytes replaced, so that the message can show the line.
        shown_text = raw.decode("utf-8-sig", errors="replace")
        body = raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw  # err.start counts from here
        raise SpecError([Diagnostic("E001", "spec file is not valid UTF-8", _offset_pos(body, err.start, shown),
                                    found=f"byte 0x{body[err.start]:02x}",
                                    hint="save the file as UTF-8")], {shown: shown_text}) from None


def _regular(mode: int, shown: str) -> None:
    if not stat.S_ISREG(mode):
        hint = "give the path of a .yaml, .yml or .json file"
        if not stat.S_ISDIR(mode):  # a stream (`cat s.yaml | vibench-compile /dev/stdin`): read through `-`
            hint += ", or `-` to read the spec from standard input (`... | vibench-compile -`; `text=` in Python)"
        raise SpecError([Diagnostic("E004", f"spec file is {_file_kind(mode)}, not a regular file", Pos(shown, 1, 1),
                                    found=shown, hint=hint)])


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "a special file")


def _too_large(shown: str, found: str) -> SpecError:
    return SpecError([Diagnostic("E002", "spec file is too large", Pos(shown, 1, 1), found=found,
                                 expected=f"at most {MAX_BYTES:,} bytes")])


def oversized(value: Any) -> str | None:
    """What is too big about a value given from outside a file (``--set``, API parameters), or None.

    The limits of a loaded document apply: at most :data:`MAX_DEPTH` levels of nesting,
    :data:`MAX_ALIAS_UNITS` size units (a value, or 64 characters of a string) and integers within
    2**62 in magnitude. A value that contains itself nests without end and is refused too.
    """
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        total += 1 + (len(item) // _CHARS_PER_UNIT if isinstance(item, str | bytes) else 0)
        if total > MAX_ALIAS_UNITS:
            return f"it is larger than {MAX_ALIAS_UNITS:,} values"
        if isinstance(item, int) and not -MAX_INT <= item <= MAX_INT:  # a file's integer is bounded at load too
            return "an integer in it is beyond 2**62 in magnitude"
        if isinstance(item, dict):
            item = [*item.keys(), *item.values()]
        if isinstance(item, list | tuple | set | frozenset):
            if depth >= MAX_DEPTH:
                return f"it nests deeper than {MAX_DEPTH} levels"
            stack.extend((child, depth + 1) for child in item)
    return None


def _offset_pos(raw: bytes, offset: int, file: str) -> Pos:
    """The position of byte ``offset`` of ``raw`` (UTF-8 up to there, no byte-order mark) as every other
    diagnostic counts it: lines end where YAML ends them (`\\r\\n`, `\\n`, `\\r`, NEL, U+2028, U+2029) and columns
    count characters (a bad byte after `doc: "ééé` is at column 10, although it is the 13th byte of its line).

    >>> str(_offset_pos("a\\rb: é".encode() + b"\\xff", 7, "f.yaml"))
    'f.yaml:2:5'
    """
    lines = YAML_LINE_BREAK.split(raw[:offset].decode("utf-8"))
    return Pos(file, len(lines), len(lines[-1]) + 1)


def load_text(text: str, file: str = "<string>", path: str | None = None, *, lenient_keys: bool = False) -> LoadedDoc:
    """Load spec text (YAML, or JSON, which is read as YAML) into a :class:`LoadedDoc`.

    ``lenient_keys``: a repeated mapping key keeps its last value (as PyYAML) and is listed in
    ``duplicates`` instead of raising E005; a YAML 1.1 number (`1:30`, `010`, `08`) is read as PyYAML
    reads it and listed in ``numbers`` instead of raising E001.
    """
    if len(text) > MAX_BYTES:
        raise SpecError([Diagnostic("E002", "spec text is too large", Pos(file, 1, 1),
                                    expected=f"at most {MAX_BYTES:,} characters")])
    composer = _Composer(text, file, [] if lenient_keys else None, [] if lenient_keys else None)
    data, root = composer.compose()
    sources = _SOURCES.get()
    if sources is not None:  # the values of every document a compilation loads, together
        sources.charge_values(composer.written + composer.aliased, file)
    return LoadedDoc(data=data, file=file, path=path, text=text, root=root,
                     duplicates=tuple(composer.duplicates or ()), numbers=tuple(composer.numbers or ()))


def is_experiment(data: Any) -> bool:
    """True for a PHM-Vibench experiment config (a mapping with `model:` or `base_configs:`, no `vibench:`).

    Here, not in :mod:`vibench.compiler.phm`, so that compiling a spec does not import the PHM modules
    (about 18 ms of a cold start without bytecode)."""
    return isinstance(data, dict) and "vibench" not in data and ("model" in data or "base_configs" in data)
