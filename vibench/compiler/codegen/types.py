"""Python annotations for the arguments of emitted classes.

A spec parameter's declared type (``int``, ``list[int]``, ``int | None``, ``dict[str, any]``...)
is rebuilt token by token from the type language of :mod:`vibench.compiler.param_types` (``any``
becomes ``object``); anything else gives ``object``. No text of the spec reaches the file except
these known tokens.

>>> annotation_of("int | None"), annotation_of("dict[str, any]"), annotation_of("list[int] ; import os")
('int | None', 'dict[str, object]', 'object')
>>> annotation_of_value([1, 2]), annotation_of_value(0.5)
('list[int]', 'float')
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.param_types import TypeSyntaxError, _tokens, parse_type

_WORDS = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
    "any": "object",
    "None": "None",
    "list": "list",
    "dict": "dict",
    "tuple": "tuple",
}


def annotation_of(type_text: str) -> str:
    try:
        parse_type(type_text)
        tokens = _tokens(type_text)
    except (TypeSyntaxError, ValueError):
        return "object"
    out = []
    for tok in tokens:
        if tok in _WORDS:
            out.append(_WORDS[tok])
        elif tok in ("[", "]", "...", "|", ","):
            out.append({"|": " | ", ",": ", "}.get(tok, tok))
        else:
            return "object"
    return "".join(out)


def annotation_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        inner = {annotation_of_value(v) for v in value}
        return f"list[{inner.pop()}]" if len(inner) == 1 else "list[object]"
    return "object"
