"""Pydantic's errors about a parameter's value, said in the spec's terms (the notes of E202).

Pydantic locates an error by a path (``loc``) that holds its own words: ``'[key]'`` after a mapping's key when
the key itself has the wrong type, and the name of each member of a union it tried (``'int'``,
``'dict[str,int]'``). :func:`spoken_error` says the entry as a spec reads it: `key 1 is not a string`,
`['a'][0] is not an integer`.

A fixed value YAML reads as another type (``mode: on`` among ``Literal["on", "off"]``: true) gets
:func:`quote_hint`, the E112's hint to quote it; a text that is no choice, :func:`choice_hint`'s nearest one.
"""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from vibench.compiler.diagnostics import YAML_LINE_BREAK, SpecError, clip, plain, suggest
from vibench.compiler.ir import Template

if typing.TYPE_CHECKING:
    from pydantic import BaseModel

_ABSENT = object()


def spoken_error(e: dict, value: Any) -> str:
    """One of pydantic's errors about ``value`` in the spec's terms: `[3][2] is not an integer`, `key 1 is not a
    string` (pydantic's loc `[1]['[key]']`: the error is about a mapping's key, which is its input), `['a']: key 2
    is not a string`."""
    loc = tuple(e.get("loc", ()))
    about_key = "[key]" in loc
    path = _spoken_path(loc[:loc.index("[key]") - 1] if about_key else loc, value)
    msg = str(e.get("msg", ""))
    text = plain(msg)
    if msg.startswith("Input should be a valid "):
        text = f"is not {'an' if text[:1] in 'aeiou' else 'a'} {text}" if path or about_key else f"not {text}"
    if about_key:
        return f"{path + ': ' if path else ''}key {_yaml_key(e.get('input'))} {text}"
    return f"{path} {text}".strip()


def _spoken_path(loc: tuple, value: Any) -> str:
    """Pydantic's ``loc`` of an entry of ``value`` as the spec reads it (`['a'][0]`), without the names it gives
    the members of a union (`'int'`, `'dict[str,int]'`), which are no key or index of the value there."""
    path, current = "", value
    for part in loc:
        if isinstance(current, dict):  # pydantic names a key that is no str or int by its text (`None`, `1.5`)
            found = next((x for x in current if (x == part and type(x) is type(part)) or (
                type(x) not in (str, int) and str(x) == str(part))), _ABSENT)
        else:
            found = part if isinstance(current, (list, tuple)) and type(part) is int and 0 <= part < len(current) \
                else _ABSENT
        if found is not _ABSENT:
            path, current = path + f"[{found!r}]", current[found]
    return path


def _yaml_key(key: Any) -> str:
    """A mapping's key as a spec writes it: `1`, `1.5`, `null`, `true`, `'a'`."""
    if key is None or type(key) is bool:
        return str(key).lower() if key is not None else "null"
    return repr(key)


def quote_hint(params: type[BaseModel], field: str, errors: list[dict], written: Iterable[tuple],
               sources: Mapping[str, str] | None = None) -> str | None:
    """The hint of an E112 where YAML read a fixed value as another type: a parameter of fixed strings
    (``Literal["on", "off"]``) given true, null or a number that one of them, written plain, reads as (``mode:
    on``: true; the loader reads YAML 1.1's booleans). Those choices are to be quoted: `write "on" in quotes:
    YAML reads on as true`. None for any other error, and for a value an expression (``${...}``) computed.
    ``errors``: pydantic's on ``field``; ``written``: the node's parameters as written (name, value, position);
    ``sources``: the files' texts (file name -> text), where the value's own words are read.

    The hint names a choice as written only where the spec wrote that word: `mode: yes` is true as `on` is, but
    the user wrote yes, so the hint says what yes reads as, lists the choices and names "on" as the nearest. Where
    the words are not known (no ``sources``), it says what the value reads as, not what was written."""
    value = errors[0].get("input") if errors else None
    if not any(e.get("type") in ("literal_error", "enum") for e in errors) or not (
            value is None or type(value) in (bool, int, float)):
        return None
    if any(name == field and isinstance(raw, Template) for name, raw, *_ in written):
        return None
    info = params.model_fields.get(field) or next(
        (f for f in params.model_fields.values() if f.alias == field), None)
    if info is None:
        return None
    choices = [c for c in dict.fromkeys(fixed_values(info.annotation)) if type(c) is str]
    meant = [c for c in choices if _read_as(c, value)]
    if not meant:
        return None
    read = "null (no value)" if value is None else str(value).lower() if type(value) is bool else f"the number {value}"
    text = _written_text(field, value, written, sources)
    if text is not None and text in meant:  # `mode: on`: the very word the choice is
        return f'write "{text}" in quotes: YAML reads {text} as {read}'
    listed = ", ".join(f'"{clip(c, 40)}"' for c in choices[:12]) + (" ..." if len(choices) > 12 else "")
    nearest = " or ".join(f'"{c}"' for c in meant)
    said = f"YAML reads {text} as {read}" if text is not None else f"YAML read the value as {read}" + (
        " (it reads yes, no, on, off, true and false as booleans)" if type(value) is bool else "")
    return (f"{said}; the choices are {listed}: write the one meant in quotes ({nearest} reads as {read} too, "
            "the nearest)")


def _written_text(field: str, value: Any, written: Iterable[tuple], sources: Mapping[str, str] | None) -> str | None:
    """The plain scalar that ``field``'s value is written as (`yes`), read in ``sources`` at the position
    ``written`` gives it: its key's (`mode: yes`, as a node's parameters are located) or its own. None when it is
    not known or the loader would not read it as ``value`` (a tag, a list's item, a value on the next line)."""
    pos = next((p for name, _, p, *_ in written if name == field), None)
    text = sources.get(pos.file) if sources is not None and pos is not None else None
    if text is None or pos is None or pos.line < 1 or pos.col < 1:
        return None
    lines = YAML_LINE_BREAK.split(text)  # the lines the positions count
    if pos.line > len(lines):
        return None
    key = r"(?:[\"']?" + re.escape(field) + r"[\"']?[ \t]*:[ \t]*)?"  # `mode: `, `"mode": ` in JSON
    found = re.compile(key + _PLAIN).match(lines[pos.line - 1], pos.col - 1)
    return found.group("value") if found is not None and _read_as(found.group("value"), value) else None


_PLAIN = r"(?P<value>[^\s,\[\]{}#'\"]+)"  # a flag, number or null as written: up to a space, `,`, `}` or comment


def choice_hint(params: type[BaseModel], field: str, errors: list[dict], value: Any) -> str | None:
    """The hint of an E112 where a text is none of a parameter's fixed texts (``features: [mean]`` among
    ``Literal["Mean", ...]``): the choice it is closest to (the choices are case-sensitive), else to write one of
    them (the field takes text: a plain name is no parameter's read here). None for another error."""
    if type(value) is not str or not any(e.get("type") in ("literal_error", "enum") for e in errors):
        return None
    info = params.model_fields.get(field)
    choices = [c for c in dict.fromkeys(fixed_values(info.annotation)) if type(c) is str] if info else []
    if not choices or value in choices:
        return None
    folded = [c for c in choices if c.casefold() == value.casefold()]
    if folded:
        return f"did you mean `{folded[0]}`? (the choices are case-sensitive)"
    return suggest(value, choices) or "write one of the choices listed under `expected` (they are case-sensitive)"


def fixed_values(annotation: Any) -> list[Any]:
    """The values a type annotation fixes: a ``Literal``'s and an Enum's members', also inside a union,
    ``Optional`` or ``Annotated`` (``Literal["a", "b"] | int``: a, b)."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return list(args)
    if typing.get_origin(annotation) is typing.Annotated:
        return fixed_values(args[0])
    return [value for arg in args for value in fixed_values(arg)]


def _read_as(text: str, value: Any) -> bool:
    """Whether the compiler's loader reads ``text``, written plain as a value, as ``value`` (the same type too:
    true is no 1)."""
    from vibench.compiler.load import load_text

    if not text.isprintable() or len(text) > 100:
        return False
    try:
        read = load_text(f"k: {text}\n").data
    except SpecError:
        return False
    return isinstance(read, dict) and "k" in read and type(read["k"]) is type(value) and read["k"] == value
