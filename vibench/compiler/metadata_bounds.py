"""The bounds of a unit's `metadata:`, which model.py writes as the class attribute ``METADATA``: how deep it
nests, how long its keys are and how many characters it holds in all (E104), checked on what the spec writes
(:func:`vibench.compiler.resolve_units.parsed_metadata`) and again on what its `${...}` evaluate to
(:func:`check_metadata_value`, before model.py is written and by ``--check``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibench.compiler.codegen.text import WIDTH, string
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.ir import Pos, Template

# `metadata:` is written out as the class attribute METADATA, one entry a line, each level 4 columns further
# in: at 12 levels a key of 32 columns and the longest number (`-2.2250738585072014e-308`) still fit ruff's
# 120 (tests/test_emitted_bounds.py). The library nests 2 levels, with keys of at most 17 characters.
MAX_METADATA_DEPTH = 12
MAX_METADATA_KEY = 32
# ... and at most this many characters in all, indentation included: a `${...}` may give a text of 100,000
# characters, and a list of 1,000 of them (11 KB of spec) wrote a 119 MB model.py in 142 s. The library's
# METADATA (components and task loss weights) is at most 251 characters; a table of a few thousand entries fits.
MAX_METADATA_CHARS = 1_000_000


def metadata_problem(value: Any, at: tuple = ()) -> tuple[tuple, bool, Diagnostic] | None:
    """The first entry of a `metadata:` value (or of what its `${...}` gave) nested more than
    :data:`MAX_METADATA_DEPTH` mappings and lists deep, or whose key model.py writes in more than
    :data:`MAX_METADATA_KEY` columns: (its path below `metadata:`, whether the key is meant, an E104
    without position); None when there is none."""
    if len(at) >= MAX_METADATA_DEPTH and isinstance(value, dict | list):
        return at, False, Diagnostic("E104", "`metadata` is nested too deep", None,
                                     expected=f"at most {MAX_METADATA_DEPTH} levels of mappings and lists",
                                     found=f"a {'mapping' if isinstance(value, dict) else 'list'} at level "
                                     f"{len(at) + 1}")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(value, dict):
            written = string(key)[1:-1] if isinstance(key, str) else repr(key)
            width = len(written) + sum(unicodedata.east_asian_width(ch) in "WF" for ch in written)
            if width > MAX_METADATA_KEY:
                return at + (key,), True, Diagnostic(
                    "E104", f"`metadata` key `{written[:40]}...` is too long", None,
                    expected=f"at most {MAX_METADATA_KEY} characters (as model.py writes the key)",
                    found=f"{width:,} characters", hint="model.py writes METADATA one entry a line, which fits "
                    "120 columns: shorten the key, or make it a value (`{name: ..., value: ...}`)")
        found = metadata_problem(item, at + (key,))
        if found is not None:
            return found
    return None


def metadata_size_problem(value: Any, evaluated: bool = True) -> tuple[tuple, bool, Diagnostic] | None:
    """The entry of a `metadata:` value at which model.py's METADATA, one entry a line, passes
    :data:`MAX_METADATA_CHARS` characters, as :func:`metadata_problem` says it (None when it stays below); the
    walk stops there, so a list of a thousand long texts costs no more than the limit. Not ``evaluated`` (as the
    spec writes it), an entry with `${...}` counts nothing: what it gives is measured once evaluated.

    >>> metadata_size_problem({"names": ["x" * 600_000, "y" * 600_000]})[0]
    ('names', 1)
    """
    at = _past_size(value, (), 0, evaluated)[1]
    return None if at is None else (at, False, _too_large(None))


def _too_large(pos: Pos | None) -> Diagnostic:
    return Diagnostic(
        "E104", "`metadata` is too large for model.py", pos,
        expected=f"at most {MAX_METADATA_CHARS:,} characters as model.py writes METADATA (one entry a line)",
        found=f"more than {MAX_METADATA_CHARS:,} characters (counted up to the entry at which it passes)",
        hint="METADATA is for a few facts about the model: keep a large table in a file the training code reads")


def evaluate_metadata(value: Any, evaluate: Callable[[Template], Any]) -> tuple[Any, Diagnostic | None]:
    """A unit's `metadata:` (its `${...}` parsed) with each template evaluated by ``evaluate``, in the order model.py
    writes them: (the value, None), or (None, E104) at the first template whose value takes METADATA past
    :data:`MAX_METADATA_CHARS` as :func:`metadata_size_problem` counts it (without position when a plain entry
    after it passes). The walk stops there: forty thousand entries ``"${s}${s}"`` were all built before the whole
    was measured, gigabytes for a limit of a million characters.

    >>> from vibench.compiler.expr import parse_value
    >>> table = {"a": parse_value("${s}", None), "b": parse_value("${s + s}", None)}
    >>> evaluate_metadata(table, lambda t: "x" * 600_000)[1].notes
    ("at METADATA['b'], as the `${...}` of `metadata` evaluate",)
    """
    try:
        return _evaluated(value, (), 0, evaluate)[0], None
    except _Past as past:
        return None, replace(_too_large(past.pos), notes=(_where(past.at),))


class _Past(Exception):
    """Raised by :func:`_evaluated` at the entry where METADATA passes its limit."""

    def __init__(self, at: tuple, pos: Pos | None) -> None:
        self.at = at
        self.pos = pos


def _evaluated(item: Any, at: tuple, total: int, evaluate: Callable[[Template], Any]) -> tuple[Any, int]:
    """``item`` evaluated, and ``total`` plus its characters, as :func:`_past_size` counts its value (_Past where
    that passes the limit)."""
    if isinstance(item, Template):
        value = evaluate(item)
        total, past = _past_size(value, at, total, True)
        if past is not None:
            raise _Past(past, item.pos)
        return value, total
    if not isinstance(item, dict | list):
        total, past = _past_size(item, at, total, True)
        if past is not None:
            raise _Past(past, None)
        return item, total
    column = 4 + 4 * len(at)
    total += column + 4
    out: dict | list = {} if isinstance(item, dict) else []
    for key, entry in item.items() if isinstance(item, dict) else enumerate(item):
        total += column + 6
        if isinstance(item, dict):
            total += 2 + _literal_size(key) if isinstance(key, str) else len(repr(key))
        value, total = _evaluated(entry, at + (key,), total, evaluate)
        if isinstance(out, dict):
            out[key] = value
        else:
            out.append(value)
    if total > MAX_METADATA_CHARS:
        raise _Past(at, None)
    return out, total


def _where(at: tuple) -> str:
    return f"at METADATA{''.join(f'[{k!r}]' for k in at)[:200]}, as the `${{...}}` of `metadata` evaluate"


def _literal_size(text: str) -> int:
    """The characters of ``text``'s literal (one longer than the limit is not read: it is past it anyway)."""
    return len(text) + 2 if len(text) > MAX_METADATA_CHARS else len(string(text))


def _past_size(item: Any, at: tuple, total: int, evaluated: bool) -> tuple[int, tuple | None]:
    """``total`` plus the characters of ``item``'s entry at ``at`` (written at column 4 + 4 * len(at)), and
    where it passed the limit."""
    column = 4 + 4 * len(at)
    if not evaluated and isinstance(item, str) and "${" in item:
        return total, None
    if isinstance(item, str):  # a text too long for its line: pieces of one literal a line, in parentheses
        size = _literal_size(item)
        total += size + (0 if column + size < WIDTH else 2 + size // max(WIDTH - column - 8, 20)) * (column + 7)
    elif isinstance(item, dict | list):
        total += column + 4  # the brackets, the closing one on a line of its own
        for key, entry in item.items() if isinstance(item, dict) else enumerate(item):
            if not evaluated and isinstance(entry, str) and "${" in entry:
                continue
            total += column + 6  # the entry's line: indentation, comma, line break; a key, its quotes and `: `
            if isinstance(item, dict):
                total += 2 + _literal_size(key) if isinstance(key, str) else len(repr(key))
            total, past = _past_size(entry, at + (key,), total, evaluated)
            if past is not None:
                return total, past
    else:
        total += len(repr(item))
    return total, at if total > MAX_METADATA_CHARS else None


def check_metadata_value(value: Any, pos: Pos | None) -> None:
    """E104 (a SpecError at ``pos``, the unit) when what a `metadata:` evaluated to breaks the bounds of
    :func:`metadata_problem` or :func:`metadata_size_problem`, its `${...}` having given a deeper value, a longer
    key or more text than the spec wrote."""
    problem = metadata_size_problem(value) or metadata_problem(value)
    if problem is not None:
        at, _, diag = problem
        raise SpecError([replace(diag, pos=pos, notes=(_where(at),))])
