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


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Aligned columns, two spaces apart, indented by two; the last column wraps at :data:`WIDTH`
    (continued under itself), keeping at least 40 columns."""
    import textwrap

    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]) - 1)]
    left = 2 + sum(w + 2 for w in widths)
    lines = []
    for r in rows:
        head = "  " + "".join(c.ljust(w) + "  " for c, w in zip(r, widths, strict=False))
        parts = textwrap.wrap(r[-1], max(40, WIDTH - left)) or [""]
        lines.append((head + parts[0]).rstrip())
        lines += [" " * left + part for part in parts[1:]]
    return lines


def _json(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _clip(text: str, limit: int = 80) -> str:
    flat = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return flat if len(flat) <= limit else flat[:limit] + "..."
