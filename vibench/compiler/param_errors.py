"""Pydantic's errors about a parameter's value, said in the spec's terms (the notes of E202).

Pydantic locates an error by a path (``loc``) that holds its own words: ``'[key]'`` after a mapping's key when
the key itself has the wrong type, and the name of each member of a union it tried (``'int'``,
``'dict[str,int]'``). :func:`spoken_error` says the entry as a spec reads it: `key 1 is not a string`,
`['a'][0] is not an integer`.
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.diagnostics import plain

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
