"""Declared parameters: their type language, checking values, and binding values to them.

Type strings: ``int``, ``float``, ``bool``, ``str``, ``any``, ``None``, ``list[T]``,
``dict[K, V]`` (K: ``str`` or ``int``), ``tuple[T, ...]``, ``tuple[A, B, ...]`` of a fixed length and
unions ``A | B`` (so ``int | None`` is an optional int). They are parsed here (never evaluated) into
typing objects and checked by pydantic ``TypeAdapter`` in strict mode: ``true`` is not an int and ``"4"``
is not a number; an int is accepted where a float is expected. The one conversion is that a list (what
YAML, JSON and ``--set`` write) is accepted where a tuple is declared, as block parameters accept it; a
parameter's value keeps the list form (a tuple given through the Python API becomes a list), the form
expressions, list-typed parameters and model.py's ``COMPILED_PARAMETERS`` read.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Union

from vibench.compiler.diagnostics import Diagnostic, clip, suggest
from vibench.compiler.expr import ExprError, contains_template, evaluate_value, template_names
from vibench.compiler.ir import ParamDecl, Pos
from vibench.compiler.limits import MAX_NESTING
from vibench.compiler.load_numbers import BOOL_WORDS_HINT
from vibench.compiler.param_errors import spoken_error

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
    out = []
    i = 0
    text = text.strip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m:
            raise TypeSyntaxError(f"unexpected character `{text[i]}`")
        out.append(m.group(1))
        i = m.end()
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
    if decl.choices is not None and coerced not in decl.choices:
        return coerced, "E208", "must be one of " + ", ".join(repr(c) for c in decl.choices)
    return coerced, None, None


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


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _cycle(name: str, chain: list[str], by_name: Mapping[str, ParamDecl]) -> str:
    """What a parameter whose value reads itself (``chain``: the parameters from it to the one that reads it
    again) depends on: its default, or the `with:` value of a spec extending the template (`width: ${width + 1}`)."""
    kinds = sorted({"`with:` value" if by_name[n].given else "default" for n in chain})
    if len(chain) == 1:
        return f"parameter `{name}` depends on itself through its {kinds[0]}"
    through = " and ".join(f"{kind}s" for kind in kinds)
    return f"parameter `{name}` depends on itself through the {through} of " + \
        " -> ".join(f"`{n}`" for n in [*chain, name])


def bind_params(
    decls: tuple[ParamDecl, ...],
    given: dict[str, tuple[Any, Pos | None]],
    *,
    env: dict[str, Any],
    where: str,
    unknown_code: str,
    call_pos: Pos | None,
    describe_given: Callable[[str], str] = lambda k: f"`{k}`",
    missing: Callable[[ParamDecl], tuple[Pos | None, str]] | None = None,
    origin: Callable[[str], str] | None = None,
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Bind values to declared parameters.

    ``given`` maps names to (value, position); values may hold templates, evaluated with ``env``
    (the caller's names). Defaults may hold templates too; they see the other parameters of the
    same declaration list. Returns the bound values and any diagnostics (unknown names, missing
    required parameters, type and bound errors, expression errors). ``missing`` gives the position
    and hint of an E209 for a declaration (default: ``call_pos`` and "set `name: ...`"). ``origin``,
    for values given outside the file (``--set``, Python keywords), gives a note saying where a
    refused given value came from (the error is placed at the parameter's declaration).
    """
    diags: list[Diagnostic] = []
    by_name = {d.name: d for d in decls}
    for key, (_, pos) in given.items():
        if key not in by_name:
            diags.append(Diagnostic(unknown_code, f"unknown parameter {describe_given(key)} for {where}", pos,
                                    expected="one of " + (", ".join(f"`{n}`" for n in by_name) or "(none)"),
                                    hint=suggest(key, by_name) or "remove it, or declare it in `params:`"))
    values: dict[str, Any] = {}
    state: dict[str, str] = {}
    busy: list[str] = []  # the defaults being evaluated, each reading the next
    # The parameters in the longest chain of defaults that ends in each value computed (1: a value of its own, or
    # a default that reads no other parameter). The limit is on this chain, whatever order the parameters are
    # written in: `busy` alone counted only the defaults still being evaluated, so a chain written in order (each
    # default reads the one above, computed already) was never too deep, and the same chain written bottom-up was.
    chained: dict[str, int] = {}
    said_too_deep = False
    # Parameters whose value was reported (wrong type, out of bounds); a default that reads one is not
    # reported again (gMLP's `output_dim: {default: input_dim, ge: 1}` with `input_dim: 0`: one error).
    bad: set[str] = set()

    def value_of(name: str) -> Any:
        if state.get(name) == "done":
            return values[name]
        if state.get(name) == "busy":
            raise ExprError(_cycle(name, busy[busy.index(name):], by_name))
        if len(busy) >= MAX_NESTING:  # defaults read in a chain of thousands exhausted Python's stack
            raise _too_deep(name)
        state[name] = "busy"
        busy.append(name)
        try:
            return compute(name)
        finally:
            busy.pop()

    def compute(name: str) -> Any:
        nonlocal said_too_deep
        decl = by_name[name]
        told: tuple[str, ...] = ()
        if name in given:
            raw, pos = given[name]
            scope = env
            told = (note,) if origin is not None and (note := origin(name)) else ()
        elif not decl.required:
            raw, pos = decl.default, getattr(decl.default, "pos", None) or decl.pos
            scope = _LazyScope(value_of, by_name, env, bad, chained)
        else:
            state[name] = "done"
            values[name] = _MISSING
            pos, hint = missing(decl) if missing is not None else (call_pos, f"set `{name}: ...`")
            diags.append(Diagnostic("E209", f"missing required parameter `{name}` for {where}", pos,
                                    expected=f"a value of type {decl.type}", hint=hint))
            return _MISSING
        try:
            value = evaluate_value(raw, scope) if contains_template(raw) else raw
        except ExprError as err:
            state[name] = "done"
            values[name] = _MISSING
            deep = err.message.startswith(_TOO_DEEP)  # one chain too deep is said once, not per 32 links
            if not (isinstance(scope, _LazyScope) and scope.read_bad) and not (deep and said_too_deep):
                diags.append(Diagnostic("E203" if err.syntax else "E204", f"cannot evaluate `{name}`: {err.message}",
                                        pos, found=err.text or None, hint=err.hint, notes=told))
            said_too_deep = said_too_deep or deep
            return _MISSING
        chained[name] = scope.chained + 1 if isinstance(scope, _LazyScope) else 1
        coerced, code, message = check_value(decl, value)
        if code is not None:
            bad.add(name)
        caused = isinstance(scope, _LazyScope) and scope.read_bad  # by a value already reported: not again
        if code == "E202" and not caused:
            words = isinstance(value, bool) and type_admits_text(decl.type)  # `act: yes` where text is taken
            diags.append(Diagnostic(code, f"wrong type for parameter `{name}` of {where}", pos,
                                    expected=decl.type, found=f"{clip(repr(value), 80)} ({_kind(value)})",
                                    hint=BOOL_WORDS_HINT if words else None,
                                    notes=((message.partition(": ")[2],) if ("[" in decl.type or "any" in decl.type)
                                           and message else ())
                                    + told))
        elif code is not None and not caused:
            diags.append(Diagnostic(code, f"parameter `{name}` of {where} is out of bounds", pos,
                                    expected=(message or "").removeprefix("must be "), found=clip(repr(value), 80),
                                    notes=told))
        state[name] = "done"
        values[name] = coerced
        return coerced

    for decl in decls:
        value_of(decl.name)
    return {k: v for k, v in values.items() if v is not _MISSING}, diags


_TOO_DEEP = "parameter defaults read each other more than"


def _too_deep(name: str) -> ExprError:
    """E204 of a default that reads ``name``, the parameter that would make its chain of defaults too long."""
    return ExprError(f"{_TOO_DEEP} {MAX_NESTING} deep (`{name}` is the next one)",
                     hint="give some of them values of their own")


class _LazyScope(dict):
    """The names a parameter default sees: the other parameters (evaluated on demand) and ``env``."""

    def __init__(self, value_of: Callable[[str], Any], decls: dict[str, ParamDecl], env: dict[str, Any],
                 bad: set[str], chains: dict[str, int]) -> None:
        super().__init__(env)
        self._value_of = value_of
        self._decls = decls
        self._bad = bad  # the parameters whose value was reported (shared with bind_params)
        self._chains = chains  # each computed parameter's chain of defaults (shared with bind_params)
        self.read_bad = False  # whether the default read a parameter whose value was reported
        self.chained = 0  # the longest chain of defaults among the parameters the default read

    def __contains__(self, key: object) -> bool:
        return key in self._decls or super().__contains__(key)

    def __getitem__(self, key: str) -> Any:
        if key in self._decls:
            value = self._value_of(key)
            chain = self._chains.get(key, 1)
            if chain >= MAX_NESTING:  # this default would make the chain one parameter longer than allowed
                raise _too_deep(key)
            self.chained = max(self.chained, chain)
            if key in self._bad or value is _MISSING:
                self.read_bad = True
            if value is _MISSING:
                raise ExprError(f"parameter `{key}` has no valid value")
            return value
        return super().__getitem__(key)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._decls) + list(super().keys()))


_MISSING = object()


def referenced_names(value: Any) -> frozenset[str]:
    return template_names(value)


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
