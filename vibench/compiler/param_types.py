"""The type language of declared parameters, and checking a value against a declaration.

Type strings: ``int``, ``float``, ``bool``, ``str``, ``any``, ``None``, ``list[T]``,
``dict[K, V]`` (K: ``str`` or ``int``), ``tuple[T, ...]``, ``tuple[A, B, ...]`` of a fixed length and
unions ``A | B`` (so ``int | None`` is an optional int). They are parsed here (never evaluated) into
typing objects and checked by pydantic ``TypeAdapter`` in strict mode: ``true`` is not an int and ``"4"``
is not a number; an int is accepted where a float is expected. The one conversion is that a list (what
YAML, JSON and ``--set`` write) is accepted where a tuple is declared, as block parameters accept it; a
parameter's value keeps the list form (a tuple given through the Python API becomes a list), the form
expressions, list-typed parameters and model.py's ``COMPILED_PARAMETERS`` read.

Apart from :mod:`vibench.compiler.params`, which binds values to a declaration list (defaults that read
each other, the diagnostics of a call): the name resolver, the code generator and the schema read a type
here without binding anything.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from typing import Any, Union

from vibench.compiler.expr_functions import MAX_VALUE_DEPTH
from vibench.compiler.ir import ParamDecl
from vibench.compiler.param_errors import spoken_error
from vibench.compiler.suggestions import closest

_TOKEN = re.compile(r"\s*(\[|\]|,|\||\.\.\.|[A-Za-z_][A-Za-z0-9_]*)")
_ATOMS: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "any": Any, "None": type(None)}


class TypeSyntaxError(ValueError):
    pass


def parse_type(text: str) -> Any:
    """Parse a parameter type string into a typing object (TypeSyntaxError when invalid)."""
    tokens = _tokens(text)
    pos = 0

    def union() -> Any:
        nonlocal pos
        options = [term()]
        while pos < len(tokens) and tokens[pos] == "|":
            pos += 1
            options.append(term())
        return options[0] if len(options) == 1 else Union[tuple(options)]  # noqa: UP007

    def term() -> Any:
        nonlocal pos
        if pos >= len(tokens):
            raise TypeSyntaxError("unexpected end of type")
        tok = tokens[pos]
        pos += 1
        if tok in _ATOMS:
            return _ATOMS[tok]
        if tok in ("list", "dict", "tuple"):
            expect("[")
            if tok == "list":
                inner = union()
                expect("]")
                return list[inner]  # type: ignore[valid-type]
            if tok == "tuple":
                items = [union()]
                expect(",")
                if pos < len(tokens) and tokens[pos] == "...":
                    pos += 1
                    expect("]")
                    return tuple[items[0], ...]  # type: ignore[valid-type]
                items.append(union())
                while pos < len(tokens) and tokens[pos] == ",":
                    pos += 1
                    items.append(union())
                expect("]")
                return types.GenericAlias(tuple, tuple(items))  # `tuple[int, int]`: exactly two items
            key = union()
            if key not in (str, int, Union[int, str], Union[str, int]):  # noqa: UP007
                raise TypeSyntaxError("dict keys must be str or int")
            expect(",")
            value = union()
            expect("]")
            return dict[key, value]  # type: ignore[valid-type]
        raise TypeSyntaxError(f"unknown type `{tok}`")

    def expect(tok: str) -> None:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != tok:
            raise TypeSyntaxError(f"expected `{tok}`")
        pos += 1

    result = union()
    if pos != len(tokens):
        raise TypeSyntaxError(f"unexpected `{tokens[pos]}`")
    return result


def _tokens(text: str) -> list[str]:
    """The tokens of a type string; one that nests brackets deeper than a value may (:data:`MAX_VALUE_DEPTH`) is
    refused here, before the parser's recursion (`list[` 5,000 times was a RecursionError)."""
    out = []
    i = 0
    depth = 0
    text = text.strip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            raise TypeSyntaxError(f"unexpected character `{text[i]}`")
        out.append(m.group(1))
        depth += {"[": 1, "]": -1}.get(out[-1], 0)
        if depth > MAX_VALUE_DEPTH:
            raise TypeSyntaxError(f"type nests deeper than {MAX_VALUE_DEPTH} levels")
        i = m.end()
    return out


TYPES_EXPECTED = ("int, float, bool, str, any, None, list[T], tuple[T, ...], tuple[A, B], dict[str, T], dict[int, T], "
                  "A | B")
# Words other languages and Python's typing module use for the types above (`Optional[T]` is rewritten whole).
_OTHER_WORDS = {"List": "list", "Dict": "dict", "Tuple": "tuple", "Any": "any", "none": "None", "null": "None",
                "NoneType": "None", "number": "float"}
_TYPE_WORDS = ("int", "float", "bool", "str", "any", "None", "list", "dict", "tuple")


def type_suggestion(text: str) -> str | None:
    """The hint of an invalid type string: the type it most likely means, when that one parses (`list[integer]`:
    `list[int]`; `Optional[int]`: `int | None`), or None."""
    if len(text) > 200:  # no type is written so long by mistake: nothing to guess
        return None
    try:
        tokens = _tokens(text)
    except TypeSyntaxError:
        return None
    respelt = _unions([_respelt(t) for t in tokens])
    if respelt is None:
        return None
    candidate = "".join({",": ", ", "|": " | "}.get(t, t) for t in respelt)
    try:
        parse_type(candidate)
    except TypeSyntaxError:
        return None
    why = " (a union is written with `|`: `Optional[T]` is `T | None`)" if {"Optional", "Union"} & set(tokens) else ""
    return f"did you mean `{candidate}`?{why}"


def _respelt(word: str) -> str:
    """A word of a type string as the type language spells it (`integer`: `int`, `List`: `list`)."""
    if word in _OTHER_WORDS:
        return _OTHER_WORDS[word]
    if word.isidentifier() and word not in _TYPE_WORDS and word not in ("Optional", "Union"):
        return closest(word, _TYPE_WORDS) or word
    return word


def _unions(tokens: list[str]) -> list[str] | None:
    """``tokens`` with each `Optional[T]` written `T | None` and each `Union[A, B]` `A | B` (None when a bracket
    is not closed)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in ("Optional", "Union") and tokens[i + 1 : i + 2] == ["["]:
            depth, end = 0, None
            for j in range(i + 1, len(tokens)):
                depth += {"[": 1, "]": -1}.get(tokens[j], 0)
                if depth == 0:
                    end = j
                    break
            inner = _unions(tokens[i + 2 : end]) if end is not None else None
            if end is None or inner is None:
                return None
            options: list[list[str]] = [[]]  # the arguments, split at the commas outside brackets
            depth = 0
            for t in inner:
                depth += {"[": 1, "]": -1}.get(t, 0)
                if t == "," and depth == 0:
                    options.append([])
                else:
                    options[-1].append(t)
            options += [["None"]] if tokens[i] == "Optional" else []
            out += [t for k, option in enumerate(options) for t in ([] if k == 0 else ["|"]) + option]
            i = end + 1
            continue
        out.append(tokens[i])
        i += 1
    return out


@functools.lru_cache(maxsize=256)
def _adapter(type_text: str) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(_lists_as_tuples(parse_type(type_text)))


def _lists_as_tuples(annotation: Any) -> Any:
    """``annotation`` with each tuple type (at any depth) also taking a list, whose length a fixed-length
    tuple checks first (pydantic's own messages say `field required` for a missing item)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list or origin is dict:
        return types.GenericAlias(origin, tuple(_lists_as_tuples(a) for a in args))
    if origin is Union or origin is types.UnionType:
        return Union[tuple(_lists_as_tuples(a) for a in args)]  # noqa: UP007
    if origin is not tuple:
        return annotation
    from pydantic import BeforeValidator

    variadic = len(args) == 2 and args[1] is Ellipsis
    items = (_lists_as_tuples(args[0]), ...) if variadic else tuple(_lists_as_tuples(a) for a in args)
    length = None if variadic else len(args)
    validator = BeforeValidator(functools.partial(_list_as_tuple, length=length))
    return typing.Annotated[types.GenericAlias(tuple, items), validator]


def _list_as_tuple(value: Any, length: int | None) -> Any:
    """A list (or tuple) as a tuple; one of another length than a fixed-length tuple's is refused."""
    from pydantic_core import PydanticCustomError

    if not isinstance(value, (list, tuple)):
        return value  # refused by the tuple type itself: `not tuple`
    if length is not None and len(value) != length:
        raise PydanticCustomError("tuple_length", "must have exactly {length} items, found {found}",
                                  {"found": len(value), "length": length})
    return tuple(value)


def admits_text(annotation: Any) -> bool:
    """Whether a field of this type takes a string (``str``, a string literal or enum, ``any``, or a
    union with one): there a plain name is text; elsewhere it names a parameter (``bare_name``)."""
    if annotation is Any:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, str)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return any(isinstance(a, str) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return admits_text(typing.get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(admits_text(a) for a in typing.get_args(annotation))
    return False


@functools.lru_cache(maxsize=256)
def type_admits_text(type_text: str) -> bool:
    """:func:`admits_text` of a declared type string (an unparsable one: True, so names stay text)."""
    try:
        return admits_text(parse_type(type_text))
    except TypeSyntaxError:
        return True


def infer_type(value: Any) -> str:
    """The type string a shorthand default implies."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        kinds = {infer_type(v) for v in value}
        if kinds == {"int"}:
            return "list[int]"
        if kinds <= {"int", "float"} and kinds:
            return "list[float]"
        if len(kinds) == 1:
            return f"list[{kinds.pop()}]"
        return "list[any]"
    if isinstance(value, dict):
        return "dict[str, any]"
    return "any"


def check_value(decl: ParamDecl, value: Any) -> tuple[Any, str | None, str | None]:
    """Check a value against a declaration: (coerced value, error code, message) with code None when fine."""
    if value is None and decl.type in ("any",):
        return value, None, None
    try:
        coerced = _adapter(decl.type).validate_python(value, strict=True)
    except Exception as err:  # pydantic.ValidationError
        detail = "; ".join(spoken_error(e, value) for e in getattr(err, "errors", lambda: [])()[:3]) or str(err)
        return value, "E202", f"expected {decl.type}: {detail}"
    if "any" in decl.type and (odd := _no_spec_value(coerced)) is not None:  # from Python: a set, bytes, a class
        return value, "E202", f"expected {decl.type}: a {odd} is no value a spec can hold (YAML has none)"
    if isinstance(coerced, tuple) or "tuple" in decl.type:  # kept as lists: what expressions and list types read
        coerced = _tuples_as_lists(coerced)
    if isinstance(coerced, (int, float)) and not isinstance(coerced, bool):
        for bound, ok, text in (
            (decl.ge, lambda b: coerced >= b, ">="),
            (decl.gt, lambda b: coerced > b, ">"),
            (decl.le, lambda b: coerced <= b, "<="),
            (decl.lt, lambda b: coerced < b, "<"),
        ):
            if bound is not None and not ok(bound):
                return coerced, "E208", f"must be {text} {_num(bound)}"
    if decl.choices is not None and not is_choice(coerced, choice_values(decl)):
        return coerced, "E208", ONE_OF + ", ".join(repr(c) for c in decl.choices)
    return coerced, None, None


ONE_OF = "must be one of "  # how check_value's message for a value that is none of the choices starts


def choice_values(decl: ParamDecl) -> list[Any]:
    """A declaration's choices as its type reads them (`choices: [1, 2]` of a `float`: 1.0 and 2.0; a choice that
    does not fit the type stays as written, and no value is it)."""
    out = []
    for choice in decl.choices or ():
        try:
            out.append(_tuples_as_lists(_adapter(decl.type).validate_python(choice, strict=True)))
        except Exception:  # pydantic.ValidationError
            out.append(choice)
    return out


def is_choice(value: Any, choices: list[Any]) -> bool:
    """Whether ``value`` is one of ``choices``, compared as values are checked, strictly: by type as well as
    value (`true` is not `1` and `1.0` is not `1`, though Python's `in` says they are), at any depth."""
    return any(_same(value, choice) for choice in choices)


def _same(a: Any, b: Any) -> bool:
    if a is b:  # as `in` compares: a `.nan` choice takes the `.nan` a spec writes (the loader has one NaN)
        return True
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:  # keys by type too: 1 and True are one key to Python
        return len(a) == len(b) and {(type(k), k) for k in a} == {(type(k), k) for k in b} and \
            all(_same(v, b[k]) for k, v in a.items())
    return bool(a == b)


def _no_spec_value(value: Any, depth: int = 0) -> str | None:
    """The type name of the first part of ``value`` that no spec can write (None, bools, numbers, text, lists
    and mappings can), or None; values nested deeper than the resolver allows are its to refuse."""
    if depth > 64 or value is None or type(value) in (bool, int, float, str):
        return None
    if type(value) in (list, tuple):
        return next((odd for v in value if (odd := _no_spec_value(v, depth + 1)) is not None), None)
    if type(value) is dict:
        if any(type(k) not in (str, int, bool, float) and k is not None for k in value):
            return "mapping with a key that is no number or text"
        return next((odd for v in value.values() if (odd := _no_spec_value(v, depth + 1)) is not None), None)
    return type(value).__name__


def _tuples_as_lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_tuples_as_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _tuples_as_lists(v) for k, v in value.items()}
    return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def takes_null(block: Any, name: str) -> bool:
    """Does parameter ``name`` of ``block`` (a composite's UnitDef, or a built-in block with its pydantic
    ``Params``) take null: its type admits None, or is `any`? (`inherit: true` passes a user's null only there.)"""
    if hasattr(block, "param"):  # a UnitDef
        decl = block.param(name)
        if decl is None:
            return False
        try:
            kind = parse_type(decl.type)
        except TypeSyntaxError:
            return False
    else:
        field = block.Params.model_fields.get(name)
        if field is None:
            return False
        kind = field.annotation
    if kind is Any or kind is None or kind is type(None):
        return True
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)
