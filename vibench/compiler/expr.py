"""Sandboxed ``${...}`` expressions.

A spec value may contain ``${expr}``: a value that is exactly one ``${expr}`` takes the expression's
value (an int stays an int), any other string is interpolated. ``$${`` writes a literal ``${``.

Expressions use a small, Python-like language, parsed with :mod:`ast` but *never* compiled or
passed to ``eval``; this module walks the tree itself and accepts only:

* literals (numbers, strings, booleans, None), lists and tuples, list comprehensions;
* names bound by the spec: parameters, ``i`` (the copy index inside ``repeat``) and dimension
  symbols whose value is known at compile time;
* arithmetic ``+ - * / // % **``, comparisons, ``and or not``, ``a if c else b``, indexing and slicing;
* calls of the functions in :data:`FUNCTIONS` (no attributes, no keyword arguments, no imports):
  numeric helpers, ``get(mapping, key, default)``, ``keys``, ``omit(mapping, *keys)``,
  ``merge(mapping, ...)``, ``dict(pairs)``, the type tests of :data:`PREDICATES` (``is_mapping``...),
  ``all``/``any`` and ``require(condition, message)``, which fails the compile with the spec
  author's message when the condition is false.

Every evaluation is bounded, so no expression can hang the compiler or exhaust memory, and no
``MemoryError`` or ``RecursionError`` escapes:

* syntax: at most :data:`MAX_EXPR_CHARS` characters and :data:`MAX_NESTING` levels of nesting;
* values: integers up to :data:`MAX_INT` in magnitude, strings and lists up to :data:`MAX_LEN`
  elements, nested values up to :data:`MAX_VALUE_DEPTH` levels;
* work: every operation costs a step and every value it creates costs its size (a list counts its
  elements, deeply; a string one cell per 64 characters); one expression may take
  :data:`MAX_STEPS`, and all expressions of one compilation together :data:`MAX_TOTAL_STEPS`
  (see :func:`budget`). Operations whose cost is not linear in their inputs (``%`` formatting of
  strings, ``round`` to huge precisions, ``sum`` of lists) are refused or made linear.

Failures raise :class:`ExprError` with the offending text.

This module is the public face of the expression language and re-exports its parts: the bounds,
:class:`ExprError` and :data:`FUNCTIONS` (:mod:`vibench.compiler.expr_functions`), parsing of templates
(:mod:`vibench.compiler.expr_parse`) and the sandboxed evaluator (:mod:`vibench.compiler.expr_eval`).
"""

from __future__ import annotations

from vibench.compiler.expr_eval import Unknown, budget, evaluate_template, evaluate_value
from vibench.compiler.expr_functions import (
    FUNCTIONS,
    MAX_EXPR_CHARS,
    MAX_INT,
    MAX_LEN,
    MAX_NESTING,
    MAX_STEPS,
    MAX_TOTAL_STEPS,
    MAX_VALUE_DEPTH,
    PREDICATES,
    ExprError,
)
from vibench.compiler.expr_parse import (
    bare_name,
    contains_template,
    has_template,
    is_written_name,
    name_template,
    parse_expression,
    parse_template,
    parse_value,
    template_names,
    written_name,
)

__all__ = [
    "FUNCTIONS", "MAX_EXPR_CHARS", "MAX_INT", "MAX_LEN", "MAX_NESTING", "MAX_STEPS", "MAX_TOTAL_STEPS",
    "MAX_VALUE_DEPTH", "PREDICATES", "ExprError", "Unknown", "bare_name", "budget", "contains_template",
    "evaluate_template", "evaluate_value", "has_template", "is_written_name", "name_template", "parse_expression",
    "parse_template", "parse_value", "template_names", "written_name",
]
