"""The bounds, the error and the callables of ``${...}`` expressions (see :mod:`vibench.compiler.expr`).

The limits (:data:`MAX_INT`, :data:`MAX_LEN`, :data:`MAX_STEPS`...), :class:`ExprError`, and
:data:`FUNCTIONS`, the only callables an expression may use (with the type tests of
:data:`PREDICATES`). Shared by the parser (:mod:`vibench.compiler.expr_parse`) and the evaluator
(:mod:`vibench.compiler.expr_eval`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vibench.compiler.ir import Pos

MAX_INT = 2**62
MAX_LEN = 100_000
MAX_STEPS = 100_000  # one expression
MAX_TOTAL_STEPS = 1_000_000  # every expression of one compilation together (10 per allowed node)
MAX_EXPR_CHARS = 2_000
MAX_NESTING = 100  # levels of the expression's syntax tree
MAX_VALUE_DEPTH = 64  # levels of nested lists and mappings in a value (as in a spec file)


class ExprError(Exception):
    """An expression that cannot be parsed (``syntax=True``) or evaluated. ``pos``: where the template
    that failed is written, when known (set by :func:`~vibench.compiler.expr_parse.parse_located` and by
    the evaluation of a nested value; a caller whose value has one position may ignore it)."""

    def __init__(self, message: str, text: str = "", *, syntax: bool = False, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.syntax = syntax
        self.hint = hint
        self.pos: Pos | None = None


def _range(*args: Any) -> list[int]:
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in args) or not 1 <= len(args) <= 3:
        raise ExprError("range() takes one to three integers")
    r = range(*args)
    if len(r) > MAX_LEN:
        raise ExprError(f"range() of {len(r):,} values is too long (limit {MAX_LEN:,})")
    return list(r)


def _get(mapping: Any, key: Any, default: Any = None) -> Any:
    if not isinstance(mapping, dict):
        raise ExprError(f"get() takes a mapping, found {type(mapping).__name__}")
    return mapping.get(key, default)


def _keys(mapping: Any) -> list:
    if not isinstance(mapping, dict):
        raise ExprError(f"keys() takes a mapping, found {type(mapping).__name__}")
    return list(mapping)


def _omit(mapping: Any, *names: Any) -> dict:
    if not isinstance(mapping, dict):
        raise ExprError(f"omit() takes a mapping, found {type(mapping).__name__}")
    return {k: v for k, v in mapping.items() if k not in names}


def _dict(pairs: Any) -> dict:
    if not isinstance(pairs, list | tuple) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in pairs):
        raise ExprError("dict() takes a list of [key, value] pairs")
    if not all(isinstance(p[0], str | int) and not isinstance(p[0], bool) for p in pairs):
        raise ExprError("dict() keys must be strings or integers")
    return {k: v for k, v in pairs}


def _require(condition: Any, message: Any = "a requirement of the spec is not met") -> bool:
    if not condition:
        text = str(message)
        raise ExprError(text if len(text) <= 500 else text[:500] + "...")
    return True


def _merge(*mappings: Any) -> dict:
    """The union of mappings; a later one wins on a shared key (``merge(defaults, given)``)."""
    out: dict = {}
    for m in mappings:
        if not isinstance(m, dict):
            raise ExprError(f"merge() takes mappings, found {type(m).__name__}")
        out.update(m)
    return out


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


PREDICATES: dict[str, Callable[[Any], bool]] = {
    "is_mapping": lambda x: isinstance(x, dict),
    "is_list": lambda x: isinstance(x, list | tuple),
    "is_int": _is_int,
    "is_number": _is_number,
    "is_str": lambda x: isinstance(x, str),
    "is_bool": lambda x: isinstance(x, bool),
    "is_none": lambda x: x is None,
}
"""Type tests: ``is_mapping(num_classes)`` instead of ``str(num_classes)[:1] == '{'``. ``true`` is
not an int and not a number (as for parameters)."""


def _int(x: Any = 0, *base: Any) -> int:
    # int() of a long string: Python's refusal names sys.set_int_max_str_digits, a 4,000-digit one is slow.
    if isinstance(x, str) and len(x) > 100:
        raise ExprError(f"int() of a string of {len(x):,} characters (at most 100)")
    return int(x, *base)


def _round(x: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and (isinstance(ndigits, bool) or not isinstance(ndigits, int) or abs(ndigits) > 64):
        raise ExprError(f"round() takes at most 64 digits, found {str(ndigits)[:20]}")
    return round(x, ndigits)


def _sum(values: Any, start: Any = 0) -> Any:
    """sum() in linear time: lists and tuples are concatenated once, not pairwise."""
    if not isinstance(values, list | tuple):
        raise ExprError(f"sum() takes a list, found {type(values).__name__}")
    if isinstance(start, list | tuple):
        out = list(start)
        for v in values:
            if not isinstance(v, type(start)):
                raise ExprError(f"sum() of {type(start).__name__}s met a {type(v).__name__}")
            out.extend(v)
            if len(out) > MAX_LEN:
                raise ExprError(f"sum() gives more than {MAX_LEN:,} values")
        return out if isinstance(start, list) else tuple(out)
    return sum(values, start)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "get": _get,
    "keys": _keys,
    "omit": _omit,
    "merge": _merge,
    "dict": _dict,
    "require": _require,
    "all": all,
    "any": any,
    "min": min,
    "max": max,
    "abs": abs,
    "len": len,
    "int": _int,
    "float": float,
    "round": _round,
    "sum": _sum,
    "bool": bool,
    "str": str,
    "list": list,
    "range": _range,
    "ceil": math.ceil,
    "floor": math.floor,
    "log2": math.log2,
    "sqrt": math.sqrt,
    **PREDICATES,
}
"""The only callables an expression may use."""
