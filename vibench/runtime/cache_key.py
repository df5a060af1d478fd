"""How a request of ``vibench.build`` is written into its cache key (:func:`vibench.runtime.cache.key`):
exactly, so that two requests a compilation could tell apart never share a key.

>>> encoded({"b": (1, 2.0), "a": [True]})
['dict', [[['str', 'b'], ['tuple', [['int', 1], ['float', 2.0]]]], [['str', 'a'], ['list', [['bool', True]]]]]]
"""

from __future__ import annotations

from typing import Any


class Unkeyable(ValueError):
    """A value that :func:`vibench.runtime.cache.key` cannot write exactly (see :func:`encoded`): the build of a
    request holding one is compiled every time, never cached."""


MAX_KEYED_DEPTH = 64
"""Levels of nesting a keyed value may have: the compiler refuses a deeper one (E202), as does
:func:`vibench.compiler.pipeline.python_values`, which stops there."""


def encoded(value: Any, depth: int = 0) -> list[Any]:
    """``value`` as JSON that tells apart every two values a compilation could tell apart: each value with
    its type's name, a mapping as its (key, value) pairs in their order (a template that builds a layer
    per entry builds them in that order), a tuple apart from a list. A value that is neither None, a bool,
    a number, a str, a list, a tuple nor a dict (of those), or one nested deeper than
    :data:`MAX_KEYED_DEPTH` levels (a list that holds itself), is :class:`Unkeyable`: the compiler refuses
    one, and no text written for it (its ``repr``) could be trusted to differ from another's."""
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if depth > MAX_KEYED_DEPTH:
        raise Unkeyable(f"a value nests deeper than {MAX_KEYED_DEPTH} levels")
    if isinstance(value, dict):
        return [name, [[encoded(k, depth + 1), encoded(v, depth + 1)] for k, v in value.items()]]
    if isinstance(value, (list, tuple)):
        return [name, [encoded(v, depth + 1) for v in value]]
    if value is None or isinstance(value, (str, int, float)):  # JSON writes each exactly (a float by its repr)
        return [name, value]
    raise Unkeyable(f"a value of type {name}")
