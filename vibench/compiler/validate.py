"""Pass 2, validate: a loaded document -> a typed :class:`SpecDocument`.

Pre: a :class:`LoadedDoc`. Post: a SpecDocument, or a :class:`SpecError` with one diagnostic per
problem, each at the position of the offending key or value. pydantic's errors are translated:
``extra_forbidden`` -> E101 (with "did you mean"), ``missing`` -> E103, type errors -> E102,
bounds -> E104, an unknown format version -> E105. Alternatives of a union that all fail at the
same place are merged into one E102 that lists what would have been accepted. At most
:data:`~vibench.compiler.diagnostics.MAX_DIAGNOSTICS` are built, the first in file order; the last one counts
the rest (:attr:`Diagnostic.more`).
"""

from __future__ import annotations

import heapq
import types
import typing
from dataclasses import replace
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from vibench.compiler.diagnostics import (
    MAX_DIAGNOSTICS,
    YAML_LINE_BREAK,
    Collector,
    Diagnostic,
    SpecError,
    clip,
    comment_hint,
    one_of,
    plain,
    suggest,
)
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc, is_experiment
from vibench.compiler.load_numbers import BOOL_WORDS_HINT
from vibench.schemas.document import NODE_KEYS, SpecDocument

_UNIONS = (typing.Union, types.UnionType)  # `Union[A, B]` and `A | B` have different origins
_PHM_SECTIONS = ("data", "task", "trainer", "environment")  # an experiment config's other sections
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def validate(doc: LoadedDoc) -> SpecDocument:
    """Validate the structure of a loaded spec."""
    if not isinstance(doc.data, dict):
        found = _not_a_mapping(doc)
        raise SpecError(
            [Diagnostic("E102", "a spec must be a mapping", doc.pos(()), expected="a mapping with `vibench: 1`",
                        found=found, hint="start the file with `vibench: 1`")],
            {doc.file: doc.text},
        )
    refusal = phm_refusal(doc)
    if refusal is not None:
        raise refusal
    try:
        return SpecDocument.model_validate(doc.data)
    except ValidationError as err:
        raise SpecError(translate_errors(err, doc, SpecDocument), {doc.file: doc.text}) from None


def phm_refusal(doc: LoadedDoc, at: Pos | None = None, template: str | None = None) -> SpecError | None:
    """E103 for a PHM-Vibench config where a vibench spec is needed, or None for anything else.

    An experiment config (`model:` or `base_configs:`, no `vibench:`) compiles on its own but cannot be
    extended or used as a block; a base config (only `data:`, `task:`, ...) has no model at all. ``at``:
    the reference that names the file (`extends:`, `block:`), where the error is reported; without one, it
    is reported in the file. ``template``: the library template the experiment's `model:` section picks,
    when the caller knows it (named in the hint)."""
    data = doc.data
    if not isinstance(data, dict):
        return None
    if is_experiment(data):
        key = "model" if "model" in data else "base_configs"
        shown = clip(doc.file, 200)
        target = f"the template its `model:` section names: `extends: {template}`" if template else \
            "the library template its `model:` section's `type` and `name` pick (`vibench-compile --list`)"
        return SpecError([Diagnostic(
            "E103", f"`{shown}` is a PHM-Vibench experiment config, not a vibench spec: it cannot be extended or "
            "used as a block", at or doc.pos((key,), key=True), expected="a vibench spec (`vibench: 1`)",
            found=f"a PHM-Vibench experiment config (`{key}:`, no `vibench:`)",
            hint=f"compile it directly (`vibench-compile {shown}`), or extend {target}, with that section's other "
            "keys under `with:`")], {doc.file: doc.text})
    spec_like = "vibench" in data or any(k in data for k in ("nodes", "inputs", "outputs", "blocks", "extends"))
    sections = [] if spec_like else [k for k in data if k in _PHM_SECTIONS]
    if not sections:
        return None
    return SpecError([Diagnostic(  # a PHM-Vibench base config (data, task, trainer): no `model:` to compile
        "E103", f"`{clip(doc.file, 200)}` is a PHM-Vibench config without a `model:` section",
        at or doc.pos((sections[0],), key=True),
        expected="an experiment config with `model:` (or `base_configs:` that give one), or a vibench spec "
        "(`vibench: 1`)", found=", ".join(f"`{k}:`" for k in sections) + " (PHM-Vibench's sections for the "
        "data, task and trainer) and no `model:`",
        hint="compile the experiment config that lists this file under `base_configs:`, or add a `model:` "
        "section with `type` and `name`")], {doc.file: doc.text})


def _not_a_mapping(doc: LoadedDoc) -> str:
    """What a document that is not a mapping is: `an integer`, `a list`, `null`, `an empty document` (an
    empty file, one of comments only, or a bare `---`)."""
    if doc.data is not None:
        kind = _kind(doc.data)
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    pos = doc.pos(())
    lines = YAML_LINE_BREAK.split(doc.text)
    written = lines[pos.line - 1][pos.col - 1:] if doc.root is not None and pos is not None and \
        pos.line <= len(lines) else ""
    return "null" if written.startswith(("null", "Null", "NULL", "~", "!!null")) else "an empty document"


def translate_errors(err: ValidationError, doc: LoadedDoc, model: type[BaseModel], prefix: tuple = ()) -> list:
    """Map pydantic errors on ``doc.data[prefix]`` (validated as ``model``) to located diagnostics."""
    data = doc.data
    for part in prefix:
        data = data[part]
    groups: dict[tuple[tuple, bool], list[Any]] = {}  # pydantic's ErrorDetails
    keys: dict[int, dict] = {}
    for e in err.errors(include_url=False, include_input=False):  # values are read from the data (`_value`)
        path = _data_path(data, e["loc"], e["type"], keys)
        groups.setdefault((path, _is_key_error(e)), []).append(e)
    # Keep the most specific errors: drop a group when a deeper group lies under it, i.e. when its path is a
    # proper prefix of another's. The prefixes are collected once (comparing each path with every other took
    # the square of their number: minutes for a spec of 20,000 broken composites). An error in a key stays:
    # the errors under it are in its value (`off: {in: on}` has both).
    above = {q[:depth] for q, _ in groups for depth in range(len(q))}
    specific = [(p, is_key) for p, is_key in groups if is_key or p not in above]
    # Each group is one diagnostic. Past MAX_DIAGNOSTICS only the first in file order are built and the rest
    # counted: a "did you mean", a list of the allowed keys and a Diagnostic for each of 300,000 unknown keys
    # took `--check` 16 s and 782 MB to print 50 of them (100,000: 5.4 s, 294 MB); now 3.5 s and 566 MB
    # (100,000: 1.2 s, 220 MB), most of it the loaded document and pydantic's own list of errors.
    rest = max(0, len(specific) - MAX_DIAGNOSTICS)
    if rest:  # sorted(...)[:MAX_DIAGNOSTICS], without a position held for each of the others
        specific = heapq.nsmallest(MAX_DIAGNOSTICS, specific,
                                   key=lambda group: _line_col(_position(groups[group][0], prefix + group[0], doc)))
    out = Collector()
    for path, is_key in specific:
        out.add(_diagnostic(groups[path, is_key], prefix + path, doc, model))
    if not rest:
        return out.items
    last = max(out.items, key=lambda d: _line_col(d.pos))  # where SpecError's order puts the count
    note = f"{rest:,} more error{'s' * (rest != 1)} of the spec's structure follow{'s' * (rest == 1)}, counted " \
        f"but not listed: the first {MAX_DIAGNOSTICS:,} in the file are"
    return [d if d is not last else replace(d, more=rest, notes=(*d.notes, note)) for d in out.items]


def _line_col(pos: Pos | None) -> tuple[int, int]:
    return (0, 0) if pos is None else (pos.line, pos.col)


def _position(first: Any, path: tuple, doc: LoadedDoc) -> Pos | None:
    """Where the diagnostic of the errors whose first is ``first``, at ``path``, is reported: an unknown key or
    one that is not a string at the key, a missing key at its mapping's key, anything else at the value."""
    if first["type"] == "missing":
        return doc.pos(path[:-1], key=True)
    if first["type"] == "extra_forbidden" or _is_key_error(first) and path:
        return doc.pos(path, key=True)
    return doc.pos(path)


def _is_key_error(e: ErrorDetails) -> bool:
    """Whether pydantic's error ``e`` is about a mapping's key, not a value: `[key]` ends the location of a
    dict's key; invalid_key is a key among a model's fields."""
    return e["type"] == "invalid_key" or bool(e["loc"]) and e["loc"][-1] == "[key]"


_ABSENT = object()

# Keys of a spec (or a composite block) that take a mapping or a list and not null, with what each takes:
# a bare `blocks:` is "empty (null)" as a bare `nodes:` is (document.py's empty_key), not "wrong type".
_EMPTY_EXPECTED = {"blocks": "a mapping of composite block names to their definitions",
                   "let": "a mapping of names to `${...}` expressions",
                   "checks": "a list of checks",
                   "params": "a mapping of parameter names to their declarations",
                   # a composite's (the spec's own come as document.py's empty_key, with these words)
                   "inputs": "a mapping of input names to shapes",
                   "nodes": "a mapping of node names to nodes",
                   "outputs": "a mapping of output names to nodes"}


def _data_path(data: Any, loc: tuple, etype: str, keys: dict[int, dict]) -> tuple:
    """Follow a pydantic ``loc`` through the data, skipping union-member tags. The path holds the data's own
    keys: pydantic's loc holds `0` for the key `off:` (false), `'1.5'` for `1.5:`. ``keys``: the keys that are
    not strings of each mapping met, by ``id`` (the same for all the errors of one validation)."""
    path: list = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and part in cur:
            key = part if isinstance(part, str) else _own_keys(cur, keys).get(part, part)
            path.append(key)  # False, not 0: `0 in {False: ...}`, but the node is `off`, not `0`
            cur = cur[key]
        elif isinstance(cur, dict) and part == "in_" and "in" in cur:
            path.append("in")
            cur = cur["in"]
        elif isinstance(cur, dict) and isinstance(part, str) and (
                key := _own_keys(cur, keys).get(part, _ABSENT)) is not _ABSENT:
            path.append(key)  # a key that is not a string (`null:`, `1.5:`): pydantic's loc holds its text
            cur = cur[key]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            path.append(part)
            cur = cur[part]
        elif last and etype == "missing":
            path.append(part)
    return tuple(path)


def _own_keys(mapping: dict, keys: dict[int, dict]) -> dict:
    """The keys of ``mapping`` that are not strings, by themselves and by their text (memoised in ``keys``:
    looking each error's key up anew took the square of a mapping's size)."""
    own = keys.get(id(mapping))
    if own is None:
        others = [k for k in mapping if not isinstance(k, str)]
        own = keys[id(mapping)] = {**{str(k): k for k in others}, **{k: k for k in others}}
    return own


def _diagnostic(errors: list[dict], path: tuple, doc: LoadedDoc, model: type[BaseModel]) -> Diagnostic:
    first = errors[0]
    etype = first["type"]
    where = _describe(path, doc)
    at = _position(first, path, doc)
    if etype == "extra_forbidden":
        key = path[-1] if path else "?"
        allowed = _fields_at(model, path[:-1])
        return Diagnostic("E101", f"unknown key `{key}` in {_describe(path[:-1], doc)}", at,
                          expected=f"one of {one_of(allowed)}" if allowed else None, span=len(str(key)),
                          hint=comment_hint(key) or suggest(str(key), allowed)
                          or "remove it, or check the spec language reference")
    if etype == "missing":
        key = "in" if path and path[-1] == "in_" else (path[-1] if path else "?")
        return Diagnostic("E103", f"missing required key `{key}` in {_describe(path[:-1], doc)}",
                          at, expected=f"`{key}`", hint=f"add `{key}: ...`")
    if etype == "literal_error" and path == ("vibench",):
        return Diagnostic("E105", "unsupported spec format version", at,
                          expected="`vibench: 1`", found=repr(_value(doc.data, path)),
                          hint="write the number `1`, without quotes" if _value(doc.data, path) == "1"
                          else "this vibench reads format version 1")
    if (etype == "invalid_key" or first["loc"] and first["loc"][-1] == "[key]") and path:
        return _key_diagnostic(path, doc)  # `[key]`: a dict's key; invalid_key: one among a model's fields
    top = len(path) == 1 or (len(path) == 3 and path[0] == "blocks")  # the spec's keys, or a composite's
    empty = _EMPTY_EXPECTED.get(path[-1]) if top and isinstance(path[-1], str) else None
    if empty is not None and _value(doc.data, path) is None:  # `blocks:` bare, as document.py's empty_key
        first = {**first, "type": "empty_key", "ctx": {"what": empty}}
        etype = "empty_key"
    if etype == "empty_key":  # `nodes:` with nothing under it: YAML reads the value as null
        return Diagnostic("E102", f"{where} is empty (null)", at, expected=first["ctx"]["what"],
                          found="null",
                          hint=f"give `{path[-1]}:` its value (a key with nothing after it is null in YAML)")
    value = _value(doc.data, path)
    if len(path) >= 2 and path[-2] == "shape" and isinstance(path[-1], int) and type(value) is float:
        # 4.5, 1e19, .nan: pydantic's int refuses them in its words; 4.0 passes it and is E212 later (resolve_units)
        return Diagnostic("E212", "a dimension must be an integer, a symbol or `${...}`", at, found=repr(value))
    if etype in _RANGE_ERRORS:
        return Diagnostic("E104", f"value out of range for {where}", at,
                          expected=first["msg"].replace("Input should be ", ""), found=repr(_value(doc.data, path)))
    # `${...}` last: "expected list or `${...}`"
    expected = sorted({_expected_text(e) for e in errors}, key=lambda text: (text == _TEMPLATE, text))
    hint = None
    if isinstance(value, bool) and "string" in expected:
        hint = BOOL_WORDS_HINT
    found = "null" if value is None else f"{_kind(value)} {_short(value)}"  # not "null None"
    return Diagnostic("E102", f"wrong type for {where}", at, expected=" or ".join(expected), found=found,
                      hint=hint)


def _key_diagnostic(path: tuple, doc: LoadedDoc) -> Diagnostic:
    """A mapping key that YAML did not read as a string: `off:` is the boolean false, `1:` an int."""
    key = path[-1]  # the data's own key (False, not pydantic's 0)
    pos = doc.pos(path, key=True)
    written = _written_key(doc, path)
    hint = f"quote it: `\"{written}\": ...`"
    if isinstance(key, bool):
        hint = f"YAML reads `{written}` as the boolean {str(key).lower()}; " + hint
    return Diagnostic("E102", f"key `{written}` in {_describe(path[:-1], doc)} is not a string", pos,
                      expected="a name (a string)", found="null" if key is None else f"{_kind(key)} {key!r}",
                      hint=hint)


_TEMPLATE = "`${...}`"  # what a string must be where a whole value may be one expression (a shape)


def _expected_text(e: dict) -> str:
    if e["type"] == "string_pattern_mismatch":  # pydantic's "String should match pattern '^\\s*\\$\\{.*\\}\\s*$'"
        pattern = str((e.get("ctx") or {}).get("pattern", ""))
        return _TEMPLATE if r"\$\{" in pattern else f"a string matching `{pattern}`"
    return plain(str(e["msg"]))


def _describe(path: tuple, doc: LoadedDoc) -> str:
    if not path:
        return "the spec"
    parts = _parts_as_written(path, doc)
    if len(parts) >= 2 and path[0] == "nodes":
        rest = ".".join(parts[2:])
        return f"node `{parts[1]}`" + (f" (`{rest}`)" if rest else "")
    return "`" + ".".join(parts) + "`"


def _parts_as_written(path: tuple, doc: LoadedDoc) -> list[str]:
    """The parts of ``path``, a key that YAML did not read as a string by its word in the spec: node `off`,
    not `False` (nor pydantic's `0`)."""
    parts = []
    value = doc.data
    for depth, part in enumerate(path):
        keyed = isinstance(value, dict) and not isinstance(part, str)
        parts.append(_written_key(doc, path[:depth + 1]) if keyed else str(part))
        value = _value(value, (part,))
    return parts


def _written_key(doc: LoadedDoc, path: tuple) -> str:
    """The key at ``path`` as the spec wrote it (`off`, `1.0`), up to its colon."""
    pos = doc.pos(path, key=True)
    lines = _lines(doc.text)
    if pos is None or not 1 <= pos.line <= len(lines):
        return str(path[-1])
    return lines[pos.line - 1][pos.col - 1:].split(":", 1)[0].strip() or str(path[-1])


@lru_cache(maxsize=4)
def _lines(text: str) -> list[str]:
    # The lines YAML counts, which the positions count; split once for the many keys of one file.
    return YAML_LINE_BREAK.split(text)


def _value(data: Any, path: tuple) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "integer", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fields_at(model: type[BaseModel], path: tuple) -> list[str]:
    """The keys a model accepts at ``path`` (for suggestions)."""
    current: Any = model
    for part in path:
        current = _step(current, part)
        if current is None:
            return []
    current = _unwrap_model(current)
    if current is None:
        return []
    names = [f.alias or n for n, f in current.model_fields.items()]
    if current.__name__ == "NodeSpec":
        names = list(NODE_KEYS)
    return names


def _step(tp: Any, part: Any) -> Any:
    model = _unwrap_model(tp)
    if model is not None:
        for name, f in model.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (dict, list):
        return args[-1] if args else None
    if origin in _UNIONS:
        for a in args:
            stepped = _step(a, part)
            if stepped is not None:
                return stepped
    return None


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap_model(typing.get_args(tp)[0])
    if origin in _UNIONS:
        for a in typing.get_args(tp):
            m = _unwrap_model(a)
            if m is not None:
                return m
    return None
