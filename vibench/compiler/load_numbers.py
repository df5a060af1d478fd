"""YAML 1.1's numbers that YAML 1.2, JSON and Python read otherwise (see :mod:`vibench.compiler.load_compose`):
base 60 (`1:30` is 90), a leading zero (`010` is octal 8, `08` no integer) and an underscore Python refuses (`10_`
is 10); in a `.json` spec any leading zero. A spec's is E001 (:class:`YAML11NumberError`: `num_classes: 010` gave
8 classes); a lenient read (a PHM-Vibench experiment config's, :func:`vibench.compiler.pipeline.load`) keeps
PyYAML's value and lists each with its E001, which :mod:`vibench.compiler.phm` raises inside `model:` only.

A lenient read lists too what a spec means as YAML 1.2 does and PyYAML reads otherwise, keeping vibench's value
(:meth:`Yaml11Numbers._yaml_1_2_float`, :meth:`Yaml11Numbers._yaml_1_1_type`): a float without a dot or without
an exponent's sign, or a signed one without a leading digit (`1e-1`, `1.0e5`, `-.5`, PyYAML's strings: AttentionLSTM
took `dropout: 1e-1` as 0.1, and PHM-Vibench's nn.LSTM the string), a date or time (`2020-01-01`, a
``datetime.date`` there; as a key PyYAML's date, E102 where a key is a name) and `=` (YAML 1.1's value key, which
PyYAML's safe loader refuses with the file). Outside `model:` vibench reads no value, and inside it the E001 stands,
so the value kept is the one a spec means: a lenient reader of a spec's text (the editor's types of its defaults,
:mod:`vibench.lsp.param_types`) reads `1e-5` as a float.

A lenient read lists such a scalar, and builds its E001, only where the model may read it
(:meth:`Yaml11Numbers._listed_here`: under the top-level `model:` or `base_configs:`, in an anchored node, under a
top-level `<<`), or anywhere in a document without `model:`, which is read again to list them all (a base config's
top-level keys are its model's): 2,000,000 `1e-1` under `data:` took 30 s and 2 GB for errors no one read. A text
passed over once takes its value at once the next time (:attr:`_passed`). :func:`reading_words` says what one is
without quoting it (a base config's).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, Diagnostic, SpecError
from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.ir import Pos

BOOL_WORDS_HINT = "YAML reads yes/no/on/off/true/false as booleans; quote the word to keep it a string"
"""The hint of a boolean where text is expected (`act: yes`, `--set act=no`)."""

INT_TAG = "tag:yaml.org,2002:int"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
MAX_INT_DIGITS = 1000  # characters: more than MAX_INT takes in any base (65 in binary), fewer than int() reads


class Listed(NamedTuple):
    """A scalar that a lenient read lists (:attr:`vibench.compiler.load.LoadedDoc.numbers`): where it is written,
    the code of its diagnostic (E001; E102 for a date key), and the diagnostic, built for the first MAX_DIAGNOSTICS
    listed and the first of those in a section the model reads, or where a read is asked to (:func:`~vibench.compiler.
    load_compose.pyyaml_readings`): None past those, as a pass keeps at most MAX_DIAGNOSTICS (500,000 `1e0` under
    `model:` took 11 s and 640 MB to build 500,000 errors)."""

    pos: Pos
    code: str
    diagnostic: Diagnostic | None


class BuildUpTo(set[Pos]):
    """Positions to build (a read's ``build_at``); the read stops once it built the last one (:class:`BuiltUpTo`)."""

    def __init__(self, positions: set[Pos]) -> None:
        super().__init__(positions)
        self.last = max(positions, key=lambda pos: (pos.line, pos.col))


class BuiltUpTo(Exception):
    """A :class:`BuildUpTo` read stopped there (the text after it not read); ``listed``: what it listed."""

    def __init__(self, listed: tuple[Listed, ...]) -> None:
        super().__init__("built up to the last position asked for")
        self.listed = listed


class YAML11NumberError(SpecError):
    """The E001 of a number that YAML 1.1 reads otherwise than YAML 1.2 or Python (`1:30`, `010`, `08`, `10_`): a
    PHM-Vibench experiment config is read again as PyYAML reads it (:func:`vibench.compiler.pipeline.load`)."""


class _LenientCache(dict):
    """The plain scalars' cache of a lenient read, which keeps no YAML 1.1 number: each one is listed."""

    def __init__(self) -> None:
        super().__init__()
        self.uncached: set[str] = set()

    def __setitem__(self, text: str, value: Any) -> None:
        if text not in self.uncached:
            super().__setitem__(text, value)


class Yaml11Numbers:
    """The composer's handling of these numbers (a mixin of :class:`vibench.compiler.load_compose._Composer`)."""

    if TYPE_CHECKING:  # the composer's
        yaml: Any
        json: bool
        file: str
        numbers: list[Listed] | None
        build_at: set[Pos] | None
        unlisted: bool
        scalar_cache: dict[str, Any]
        constructor: Any

        def error(self, code: str, message: str, mark: Any, error: type[SpecError] = SpecError,
                  **kw: Any) -> SpecError: ...

        def _written(self, pos: tuple[int, int]) -> tuple[int, int]: ...

        _stack: list[list]
        _plain_key: bool | None
        _pending: Any
        _scope: tuple[Any, bool]
        _passed: tuple[dict[str, Any], dict[str, Any]]
        listed_everywhere: bool

    _listed_read: int  # scalars listed in a section the model reads, in this read (reset with the list)

    def _refuse_yaml_1_1_number(self, tag: str, node: Any, event: Any) -> int | float | None:
        """E001 for an int or float scalar that YAML 1.1 reads otherwise than YAML 1.2, JSON and Python do (a
        leading zero of the same value either way, `007`, is read but in a `.json` spec); one that is not even a
        valid YAML 1.1 number (`!!int 09`) is left to the E001 of an invalid scalar. None, or in a lenient read
        the number YAML 1.1 reads."""
        try:
            construct = self.constructor.construct_yaml_int if tag == INT_TAG else self.constructor.construct_yaml_float
            value = construct(node)
        except (ValueError, KeyError, OverflowError):
            return None
        if tag == INT_TAG and ":" not in node.value and not self.json and value == int(node.value.replace("_", ""), 10):
            return None  # `007`, `00`: the number every reader means
        return self._pyyaml_number(node.value, event, value, lambda: self._yaml_1_1_number(node.value, event, value))

    def _refuse_underscores(self, tag: str, node: Any, event: Any) -> int | float | None:
        """E001 for an int or float scalar with an underscore Python refuses (`10_`, `1__0`, `0_`, `1_.5`), which
        YAML 1.1 drops wherever it is: docs/language.md says `1_000` reads as in Python, and `out_features: 10_`
        was 10 silently. None, or in a lenient read the number YAML 1.1 reads. Python's own reader decides (one
        `_` between two digits, or after `0x`/`0b`); a number with a `:` is base 60, refused as such."""
        text = node.value
        try:
            if tag != INT_TAG:
                float(text)
            else:
                int(text, 0 if text.lstrip("+-")[1:2] in ("x", "b") else 10)
            return None
        except ValueError:
            pass
        try:
            construct = self.constructor.construct_yaml_int if tag == INT_TAG else self.constructor.construct_yaml_float
            value = construct(node)
        except (ValueError, KeyError, OverflowError):  # `0b_`: no number in YAML 1.1 either
            value = None
        shown = text if len(text) <= 40 else text[:40] + "..."
        read = "no number" if value is None else str(value) if isinstance(value, int) else repr(value)
        read = read if len(read) <= 40 else read[:40] + "..."

        def err() -> SpecError:
            return self.error("E001", f"`{shown}` is no number in Python: an underscore stands between two digits",
                              event.start_mark, YAML11NumberError,
                              expected="a number whose underscores each stand between two digits (`1_000`)",
                              found=f"`{shown}`, which YAML 1.1 reads as {read}", span=len(text),
                              hint=(f"write {read}, or " if value is not None else "write the number, or ")
                              + f'quote it (`"{shown}"`) to keep the text')

        if value is None:
            raise err()
        return self._pyyaml_number(text, event, value, err)

    def _yaml_1_2_float(self, text: str, event: Any, key: bool) -> float:
        """In a lenient read, YAML 1.2's float of ``text``, one that YAML 1.1 reads as a string (`1e-1`, `1.0e5`,
        `-.5`: YAML 1.1's floats have a dot before any exponent, a sign in it, and a digit before a signed one's
        dot), listed with its E001. As a ``key`` it is PyYAML's name: quoted, both read that name (`0.1:`, the
        number both read, is a key that is no name, E102 inside `model:`)."""
        value = float(text)
        shown = text if len(text) <= 40 else text[:40] + "..."

        def err() -> SpecError:
            found = f"`{shown}`, which YAML 1.2 reads as {value!r} and YAML 1.1 (PyYAML, PHM-Vibench's loader) as text"
            if key:
                return self.error("E001", f"key `{shown}` is a number in YAML 1.2 and a name in YAML 1.1",
                                  event.start_mark, YAML11NumberError, expected="a name (a quoted string)",
                                  found=found, span=len(text), hint=_KEY_HINT.format(shown))
            both = _written_for_both(value)
            return self.error("E001", f"`{shown}` is no number in YAML 1.1: PyYAML reads it as a string",
                              event.start_mark, YAML11NumberError,
                              expected="a float that YAML 1.1 reads too (`0.1`; an exponent after a dot, with its "
                              "sign: `1.0e-5`), or a quoted string", found=found, span=len(text),
                              hint=f"write {both} so that both read that number, or quote it (`\"{shown}\"`) to keep "
                              "the text")

        return self._pyyaml_number(text, event, value, err)

    def _yaml_1_1_type(self, tag: str, text: str, event: Any, key: bool) -> Any:
        """In a lenient read, ``text``, which vibench reads as text and YAML 1.1 as another type: a date or time
        (`2020-01-01`, `2001-12-14 21:59:43`) or `=` (YAML 1.1's value key, which PyYAML's safe loader cannot
        construct: it refuses the file, as it does an impossible date, `2020-13-01`), listed with its E001; a
        date ``key`` with the E102 of a key that is no string (`model:`'s keys are names), and read as PyYAML's
        date, as the other keys that are no string are (a base config's is said so at its entry)."""
        shown = text if len(text) <= 40 else text[:40] + "..."
        quoted = f'quote it (`"{shown}"`)'

        def reading() -> tuple[Any, str]:  # PyYAML's value, or why it refuses the file
            if tag != TIMESTAMP_TAG:
                return None, "YAML 1.1 reads it as its value key"
            try:
                return self.constructor.construct_yaml_timestamp(
                    self.yaml.ScalarNode(tag, text, event.start_mark, event.end_mark)), ""
            except (ValueError, OverflowError) as impossible:
                return None, f"YAML 1.1 reads it as a date, and it is none ({impossible})"

        key_read = reading() if key else None  # a key is PyYAML's date; a value, vibench's text (read if listed)

        def err() -> SpecError:
            read, refused = key_read or reading()
            if refused:
                return self.error("E001", f"`{shown}` cannot be read by PyYAML: {refused}", event.start_mark,
                                  YAML11NumberError, expected="a quoted string",
                                  found=f"`{shown}`, which PyYAML (PHM-Vibench's loader) refuses, and the whole file "
                                  "with it", span=len(text), hint=f"{quoted} to keep the text")
            if key:
                return self.error("E102", f"key `{shown}` is not a string: YAML 1.1 reads it as a date",
                                  event.start_mark, expected="a name (a string)",
                                  found=f"{type(read).__name__} {read!r}, as PyYAML (PHM-Vibench's loader) reads it",
                                  span=len(text), hint=f'quote it: `"{shown}": ...`')
            return self.error("E001", f"`{shown}` is a date in YAML 1.1: PyYAML reads it as no string",
                              event.start_mark, YAML11NumberError, expected="a quoted string, or a number",
                              found=f"`{shown}`, which PyYAML (PHM-Vibench's loader) reads as {read!r} and vibench "
                              "as text", span=len(text), hint=f"{quoted} so that both read the text")

        kept = key_read[0] if key_read is not None and not key_read[1] else text
        code = "E102" if key_read is not None and not key_read[1] else "E001"  # err's, known without building it
        return self._pyyaml_number(text, event, kept, err, code)

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

    def _pyyaml_number(self, text: str, event: Any, read: Any, err: Callable[[], SpecError], code: str = "E001") -> Any:
        """``read``, PyYAML's value of ``text``, in a lenient read; else ``err()``, its E001 (``code``), raised. A
        lenient read lists the scalar where the model may read it (:meth:`_listed_here`), and only there builds its
        diagnostic (:class:`Listed` says which): a million `lr: 1e-3` under `data:` made a million errors no one
        reads (2 GB, 30 s)."""
        if self.numbers is None:
            raise err()
        if isinstance(self.scalar_cache, _LenientCache):  # each occurrence is seen: none is cached
            self.scalar_cache.uncached.add(text)
        if self._plain_key is not None:  # the next one passed over takes this value at once
            self._passed[self._plain_key][text] = read
        if self._listed_here(event):
            mark = event.start_mark
            pos = Pos(self.file, *self._written((mark.line + 1, mark.column + 1)))
            if not self.numbers:  # (the first one listed, or the first after a read again from the start)
                self._listed_read = 0
            in_model = self._in_read_section()
            self._listed_read += in_model
            diagnostic = None
            if pos in self.build_at if self.build_at is not None else \
                    len(self.numbers) < MAX_DIAGNOSTICS or (in_model and self._listed_read <= MAX_DIAGNOSTICS):
                diagnostic = err().diagnostics[0]
                if self._plain_key and diagnostic.code == "E001":  # a key is a name: `10:` is no better than `010:`
                    shown = text if len(text) <= 40 else text[:40] + "..."
                    diagnostic = replace(diagnostic, hint=_KEY_HINT.format(shown))
            self.numbers.append(Listed(pos, code, diagnostic))
            if isinstance(self.build_at, BuildUpTo) and pos == self.build_at.last:
                raise BuiltUpTo(tuple(self.numbers))
        else:
            self.unlisted = True
        return read

    def _listed_here(self, event: Any) -> bool:
        """Whether a lenient read lists the scalar of ``event``, which PyYAML reads otherwise (its E001 built):
        where the model may read it — inside the top-level `model:` or `base_configs:` (or a top-level `<<` merge,
        which may bring either), in an anchored node (an alias or a merge may bring it there), or anywhere in a
        document that is no mapping; else it is passed over (a config's `data:` may write a million of them). One
        answer per frame on top of the stack: the path to it is fixed while it is built."""
        stack = self._stack  # frames [is_map, container, loc, pending key (key, pos, event), size, anchor, merges]
        if self.listed_everywhere or not stack or event.anchor is not None or self._plain_key is None:
            return True
        top = stack[-1]
        if len(stack) == 1:  # a key of the top level, or its value
            return not top[0] or (not self._plain_key and _read_by_model(self._pending))
        if self._scope[0] is top:
            return self._scope[1]
        first = stack[0][3]  # (the top-level key, ...), once its value is a container
        listed = not stack[0][0] or first is None or _read_by_model(first[0]) or \
            any(frame[5] is not None for frame in stack)
        self._scope = (top, listed)
        return listed

    def _in_read_section(self) -> bool:
        """Whether a scalar :meth:`_listed_here` lists is in a section the model reads, not only in an anchored node
        elsewhere (a thousand under `data: &d`, read by no alias, came first, and a second read of all the text
        built the model's: a 300,000-number config took 17 s, not 9)."""
        stack = self._stack
        if self.listed_everywhere or not stack or self._plain_key is None:
            return True
        if len(stack) == 1:
            return not stack[0][0] or (not self._plain_key and _read_by_model(self._pending))
        first = stack[0][3]
        return not stack[0][0] or first is None or _read_by_model(first[0])

    def _yaml_1_1_number(self, text: str, event: Any, value: int | float | None) -> SpecError:
        """E001 for ``text``, which YAML 1.1 reads as ``value`` (None: as no integer) where a reader of YAML 1.2,
        JSON or Python reads another number or none: base 60 (`1:30`, 90), a leading zero (`010`, octal 8;
        `08`, no integer), and in a JSON spec a leading zero of any number (`01.5`). A spec never means one
        silently: `num_classes: 010` gave 8 classes."""
        shown = text if len(text) <= 40 else text[:40] + "..."
        read = "" if value is None else str(value) if isinstance(value, int) else repr(value)
        read = read if len(read) <= 40 else read[:40] + "..."
        quoted = f'quote it (`"{shown}"`) to keep the text'
        if ":" in text:
            return self.error("E001", f"`{shown}` is a base-60 number in YAML 1.1", event.start_mark,
                              YAML11NumberError,
                              expected="a number written in decimal, or a quoted string",
                              found=f"`{shown}`, which YAML 1.1 reads in base 60 as {read}", span=len(text),
                              hint=f"write {read} if that number is meant, or {quoted} (a time, "
                              "a ratio)")
        json = "JSON has no leading zero, and " if self.json else ""
        if not _LEADING_ZERO.match(text):  # JSON's `01.5`, `01e3`: YAML reads the number meant
            return self.error("E001", f"`{shown}` is not a JSON number: it has a leading zero", event.start_mark,
                              YAML11NumberError,
                              expected="a JSON number (no leading zero)", found=f"`{shown}`",
                              hint=f"write {_LEADING_ZEROS.sub(_SIGN, text)}, or {quoted}")
        decimal = str(int(text.replace("_", ""), 10))
        if value is None:
            message = f"`{shown}` has a leading zero: YAML 1.1 reads it as no integer (its digits are not octal)"
            found, meant = f"`{shown}`: {json}YAML 1.1 reads a leading zero as octal", ""
        else:
            message = f"`{shown}` has a leading zero: YAML 1.1 reads it as the octal number {read}"
            found = f"`{shown}`: {json}YAML 1.2 and Python read {decimal} or refuse it"
            meant = f" (or {value}, if the octal number is meant)" if str(value) != decimal else ""  # JSON's `007`
        return self.error("E001", message, event.start_mark, YAML11NumberError,
                          expected="a decimal integer without a leading zero",
                          found=found,
                          hint=f"write {decimal}{meant}, or {quoted}")


_KEY_HINT = 'quote it (`"{}": ...`): a key is a name, and quoted both read it as that name'
"""The hint of a key that PyYAML reads otherwise, in a lenient read (a key of `model:` is a name, E102 else)."""
class _Merge:
    """YAML 1.1's merge key `<<` (YAML 1.2 has none), as a key the composer reads: it applies the merge."""

    def __repr__(self) -> str:
        return "<<"


_MERGE = _Merge()


def _read_by_model(key: Any) -> bool:
    """Whether the value of the top-level ``key`` may hold what the model reads."""
    return key is _MERGE or (key.__class__ is str and key in ("model", "base_configs"))


# YAML 1.1's numbers that YAML 1.2, JSON and Python read otherwise (or refuse): a leading zero (`010` is octal 8,
# `08` no integer) and base 60 (`1:30` is 90, checked by its `:`). A spec's `num_classes: 010` gave 8 classes.
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+\Z")
_JSON_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]")  # in a .json spec, floats too: `01.5` is not JSON
_LEADING_ZEROS = re.compile(r"^([-+]?)0+(?=[0-9])")
_SIGN = r"\1"  # what _LEADING_ZEROS keeps


def _written_for_both(value: float) -> str:
    """``value`` as YAML 1.1 and 1.2 both read it: a digit before the dot, and an exponent after a dot, with its
    sign (`1.0e-05`; `.inf`).

    >>> [_written_for_both(v) for v in (1e-5, 1e20, -0.5, 1.5e-7, math.inf)]
    ['1.0e-05', '1.0e+20', '-0.5', '1.5e-07', '.inf']
    """
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    mantissa, e, exponent = repr(value).partition("e")
    return (mantissa if "." in mantissa or not e else mantissa + ".0") + e + exponent
