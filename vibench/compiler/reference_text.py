"""What the block and template references share (see :mod:`vibench.compiler.reference_docs`).

:class:`UnknownName`, the rows and examples the references show (:class:`ParamRow`, :class:`Example`),
a checked program's interface in words, and the text helpers: YAML flow literals (:func:`_flow`),
aligned tables that wrap at :data:`WIDTH`, indenting and clipping.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vibench.compiler.ir import Program


class UnknownName(Exception):
    """A block or template name that does not exist; the message carries a "did you mean"."""


@dataclass(frozen=True)
class ParamRow:
    """One parameter as the reference shows it."""

    name: str
    type: str
    default: str  # "required", or the default as JSON
    bounds: str  # ">= 1", "one of: basic, bottleneck", a slot folder...
    doc: str


@dataclass(frozen=True)
class Example:
    """A spec that uses the block or template, and what the compiler says about it."""

    spec: str
    result: str  # "x [B, 8, L] -> out [B, 4, L - 2]", or why it does not compile
    constraints: tuple[str, ...] = ()


def _flow(value: Any) -> str:
    """A YAML flow literal; symbols and plain words stay unquoted."""
    if isinstance(value, str) and value.isidentifier() and value not in ("true", "false", "null", "yes", "no",
                                                                         "on", "off", "y", "n"):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(str(k))}: {_flow(v)}" for k, v in value.items()) + "}"
    return _json(value)


def _interface(program: Program) -> str:
    from vibench.compiler.symbolic import fmt_shape

    root = program.root
    ins = ", ".join(f"{n} {_typed(fmt_shape(t.shape), t.dtype)}" for n, t in root.inputs)
    outs = ", ".join(f"{n} {_typed(fmt_shape(t.shape), t.dtype)}" for n, _, t in root.outputs)
    return f"{ins} -> {outs}"


def _typed(shape: str, dtype: str) -> str:
    return shape if dtype == "float32" else f"{shape} {dtype}"


def _indent(text: str, prefix: str = "  ") -> list[str]:
    return [prefix + line if line else "" for line in text.splitlines()]


WIDTH = 100  # text columns of --blocks NAME / --list NAME before the last column wraps
CELL_WIDTH = 48
"""Terminal columns a cell of a column other than the last may take: a longer one (a default of 300 numbers, a
type listing ten choices) does not widen its column; it is clipped there to the column's width and written in
full under its row, so that one long value neither widens every row nor pushes the descriptions off the screen."""
MAX_SPILLED = 2_000  # characters of such a cell written under its row
MIN_CLIPPED = 10  # columns a clipped cell keeps in its row (`[0, 1, ...`)


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Aligned columns, two spaces apart, indented by two; the last column wraps at :data:`WIDTH`
    (continued under itself), keeping at least 40 columns. Columns are measured in terminal columns (a CJK
    character takes two), every cell is on one line (a line break or tab in it written ``\\n``, ``\\t``), and a
    cell of another column wider than :data:`CELL_WIDTH` is clipped in its row (``...``) and follows in full
    under the row, under the second column, wrapped at :data:`WIDTH`.

    >>> print("\\n".join(_table([("a", "int", "1", "A."), ("b", "list", str(list(range(20))), "B.")])))
      a  int   1           A.
      b  list  [0, 1, ...  B.
         [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    """
    import textwrap

    from vibench.compiler.diagnostics import clip, display_width, one_cell, pad

    cells = [[one_cell(c) for c in r[:-1]] for r in rows]
    widths = []
    for k in range(len(rows[0]) - 1):
        fitting = [display_width(r[k]) for r in cells if display_width(r[k]) <= CELL_WIDTH]
        long = len(fitting) < len(cells)
        widths.append(max(max(fitting, default=0), MIN_CLIPPED if long else 0))
    shown = [[c if display_width(c) <= CELL_WIDTH else _clip_columns(c, w) for c, w in zip(r, widths, strict=True)]
             for r in cells]
    left = 2 + sum(w + 2 for w in widths)
    under = " " * (2 + (widths[0] + 2 if len(widths) > 1 else 0))  # where a long cell is written in full
    lines = []
    for r, full, short in zip(rows, cells, shown, strict=True):
        head = "  " + "".join(pad(c, w) + "  " for c, w in zip(short, widths, strict=True))
        parts = textwrap.wrap(r[-1], max(40, WIDTH - left)) or [""]
        lines.append((head + parts[0]).rstrip())
        lines += [" " * left + part for part in parts[1:]]
        for cell, clipped in zip(full, short, strict=True):
            if cell != clipped:  # (a default of megabytes: its first MAX_SPILLED characters)
                lines += textwrap.wrap(clip(cell, MAX_SPILLED), WIDTH, initial_indent=under, subsequent_indent=under,
                                       break_on_hyphens=False)
    return lines


def _clip_columns(text: str, width: int) -> str:
    """The start of ``text`` that fits ``width`` terminal columns with ``...`` after it."""
    from vibench.compiler.diagnostics import display_width

    used = end = 0
    for ch in text:
        used += display_width(ch)
        if used > width - 3:
            break
        end += 1
    return text[:end] + "..."


def _json(value: Any) -> str:
    """``value`` as JSON, which YAML reads too: a character that is not printable written as JSON's ``\\u`` escape
    (a right-to-left override or a C1 control in a string default showed as U+FFFD in the `with:` example, not
    the text a reader may copy), any other as it is (`模型`, `é`).

    >>> print(_json({"tag": "a\\u202eb", "name": "模型"}))
    {"tag": "a\\u202eb", "name": "模型"}
    """
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
    # (json.dumps escapes C0 controls already; the others can only be inside a string, where an escape is valid)
    return text if text.isprintable() else "".join(c if c.isprintable() else json.dumps(c)[1:-1] for c in text)


def _clip(text: str, limit: int = 80) -> str:
    """A name in a message: escaped as file names are (:func:`vibench.compiler.display.escaped`: a byte that is not
    UTF-8 ``\\xfe``, not ``\\udcfe``) and at most ``limit`` characters then ``...``, never cut inside an escape.

    >>> _clip("fam/T\\udcfe"), _clip("ab\\n" * 3, 7)
    ('fam/T\\\\xfe', 'ab\\\\nab...')
    """
    from vibench.compiler.display import _ESCAPE, escaped

    flat = escaped(text)
    if len(flat) <= limit:
        return flat
    cut = limit
    for m in _ESCAPE.finditer(flat, 0, limit + 10):  # from the start: `\\n` is `\\` then `n`
        if m.start() >= limit:
            break
        if m.end() > limit:
            cut = m.start()
            break
    return flat[:cut] + "..."
