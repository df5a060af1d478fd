"""A PHM-Vibench experiment config as PyYAML reads it, where the model reads it (:mod:`vibench.compiler.phm`).

* :func:`duplicate_keys` — a key written twice: PyYAML keeps the last value, and so does vibench
  (PHM-Vibench builds such configs). Inside `model:` (or `base_configs:`) the first value is
  silently dropped by PHM-Vibench, so vibench says which one it uses (W113), also for a mapping written
  elsewhere that `model:` reads through an alias or a `<<` merge; elsewhere vibench reads nothing of it (W110);
* :func:`yaml_1_1_numbers` — a plain scalar that PyYAML reads otherwise than vibench (`1:30`, `010`, `08`,
  `1e-1`, `2020-01-01`, `=`, listed by a lenient read: :mod:`vibench.compiler.load_numbers`): E001 inside `model:`
  (or `base_configs:`), as in a vibench spec, and a date key E102 inside `model:` (a name there; `base_configs`'
  entry names are read by no one); elsewhere read as PyYAML reads it, silently;
* :func:`may_read_otherwise` — whether a config that a strict read took as a spec may hold, where the model reads
  it, a scalar that YAML 1.2 and PyYAML read apart (`dropout: 1e-1`): only then is it read again as PyYAML reads
  it (a 16 MiB config was read twice).

Split out of :mod:`vibench.compiler.phm_checks`, which names them too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, YAML_LINE_BREAK, Diagnostic
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc
from vibench.compiler.load_compose import pyyaml_readings
from vibench.compiler.load_numbers import BuildUpTo, BuiltUpTo, Listed

MODEL_SECTIONS = ("model", "base_configs")
"""Top-level keys whose repeats change the model (W113); repeats anywhere else are W110."""


def duplicate_keys(doc: LoadedDoc) -> list[Diagnostic]:
    """W113 for each key repeated inside `model:` (the last value is the model's, as in PHM-Vibench),
    W110 for each one elsewhere."""
    warnings = []
    read: set[Pos] | None = None  # where the keys the `model:` section reads are written, once needed
    for path, pos, previous, first in first_written(doc.duplicates):
        key = path[-1]
        notes = (f"`{key}` is first written at line {first.line}",)
        last = _shown(_value_at(doc.data, path))
        where = f"the `{path[0]}:` section" if len(path) > 1 else "the top level"
        if path[0] not in MODEL_SECTIONS and len(path) > 1:
            read = _model_keys(doc) if read is None else read
            if pos in read:  # written elsewhere, read by the model through an alias or a `<<` merge
                where = f"the `{path[0]}:` section, which `model:` reads (through an alias or a `<<` merge)"
        if path[0] in MODEL_SECTIONS or (read is not None and pos in read):
            warnings.append(Diagnostic("W113", f"duplicate key `{key}` in {where}: the last value is used", pos,
                                       severity="warning", notes=notes,
                                       found=f"PyYAML, and so PHM-Vibench, keeps the last value{last}; the one "
                                       f"at line {previous.line} has no effect",
                                       hint="remove the one you do not mean, so that the file says what the "
                                       "model is"))
        else:
            warnings.append(Diagnostic("W110", f"duplicate key `{key}` in {where}", pos, severity="warning",
                                       notes=notes, found=f"PyYAML, and so PHM-Vibench, keeps the last value{last}",
                                       hint=f"vibench reads only the model's settings; remove one `{key}` so "
                                       "that the file says what it means"))
    return warnings


def first_written(duplicates: Iterable[tuple[tuple, Pos, Pos]]) -> list[tuple[tuple, Pos, Pos, Pos]]:
    """:attr:`~vibench.compiler.load.LoadedDoc.duplicates` (path, repeat, the one before it), each with where its key
    is first written: a key written three times was said to be "first written" at its second line."""
    firsts: dict[tuple, Pos] = {}
    return [(path, pos, previous, firsts.setdefault(path, previous)) for path, pos, previous in duplicates]


def yaml_1_1_numbers(doc: LoadedDoc, sections: tuple[str, ...] | None = MODEL_SECTIONS) -> list[Diagnostic]:
    """The E001 of each plain scalar PyYAML reads otherwise (`1:30`, `010`, `1e-1`, `2020-01-01`) that the model
    reads: written in ``sections`` (None: anywhere in the document, a base config without a `model:` section),
    or elsewhere and read through an alias or a `<<` merge. A date key is E102 only where it names a key of the
    model: an entry of `base_configs` may be named anything (PHM-Vibench reads its values alone, and
    c4a6ff6 compiled `2020-01-01: base/m.yaml`). The others are PyYAML's values, as PHM-Vibench reads them."""
    if not doc.numbers:
        return []
    read = _model_keys(doc, values=True, sections=sections)
    named: set[Pos] | None = None  # where the model's own keys are written, once a date key asks
    found: list[Listed] = []
    more = 0  # past MAX_DIAGNOSTICS: counted on the last one kept
    for listed in doc.numbers:
        if listed.pos not in read:
            continue
        if listed.code == "E102" and sections is not None and "base_configs" in sections:
            if named is None:
                named = _model_keys(doc, sections=tuple(s for s in sections if s != "base_configs"))
            if listed.pos not in named:
                continue
        if len(found) < MAX_DIAGNOSTICS:
            found.append(listed)
        else:
            more += 1
    unbuilt = {listed.pos for listed in found if listed.diagnostic is None}
    if unbuilt:  # in anchored nodes that an alias brings in, after MAX_DIAGNOSTICS listed: read up to them again
        built = _built_at(doc, unbuilt)
        found = [listed if listed.diagnostic is not None else listed._replace(diagnostic=built.get(listed.pos))
                 for listed in found]
    diagnostics = [listed.diagnostic for listed in found if listed.diagnostic is not None]
    if more:
        diagnostics[-1] = replace(diagnostics[-1], more=more, notes=(
            *diagnostics[-1].notes,
            f"{more:,} more number{'s' * (more != 1)} that PyYAML reads otherwise follow{'s' * (more == 1)}, counted "
            "but not listed"))
    return diagnostics


def _built_at(doc: LoadedDoc, positions: set[Pos]) -> dict[Pos, Diagnostic]:
    """The diagnostics of the scalars listed at ``positions``, by a lenient read of ``doc``'s text up to the last
    of them (:class:`~vibench.compiler.load_numbers.BuildUpTo`), or of all of it where that read restarted and
    came to the last before building the others."""
    try:
        listed = pyyaml_readings(doc.text, doc.file, BuildUpTo(positions))
    except BuiltUpTo as done:
        listed = done.listed
    built = {item.pos: item.diagnostic for item in listed if item.diagnostic is not None}
    if not positions <= built.keys():
        listed = pyyaml_readings(doc.text, doc.file, positions)
        built = {item.pos: item.diagnostic for item in listed if item.diagnostic is not None}
    return built


def _model_keys(doc: LoadedDoc, *, values: bool = False,
                sections: tuple[str, ...] | None = MODEL_SECTIONS) -> set[Pos]:
    """The positions of the keys written for the `model:` and `base_configs:` sections (or ``sections``;
    None: the whole document), wherever they are written, and with ``values`` their values' too: an alias
    shares the anchored mapping's positions, a `<<` merge copies the merged keys'. The last answer is kept:
    :func:`may_read_otherwise` and :func:`yaml_1_1_numbers` ask the same of one document, kept in its cache (a
    second walk of 500,000 values took half a second). Callers do not change the set."""
    key = (_MODEL_KEYS, values, sections)  # (no path of the document's: their parts are keys and indices)
    cached = doc._cache.get(key)  # (a replace()d doc shares the cache, as it shares the root)
    if cached is None:
        cached = doc._cache[key] = _walk_keys(doc, values, sections)
    return cached


_MODEL_KEYS = object()


def _walk_keys(doc: LoadedDoc, values: bool, sections: tuple[str, ...] | None) -> set[Pos]:
    out: set[Pos] = set()
    seen: set[int] = set()
    top = doc.root.children if doc.root is not None and isinstance(doc.root.children, dict) else {}
    stack = ([doc.root] if doc.root is not None else []) if sections is None else \
        [top[section][1] for section in sections if section in top]
    while stack:
        loc = stack.pop()
        if id(loc) in seen:  # an alias: walked once
            continue
        seen.add(id(loc))
        if values:
            out.add(Pos(doc.file, *loc.pos))
        if isinstance(loc.children, dict):
            for key_pos, child in loc.children.values():
                out.add(Pos(doc.file, *key_pos))
                stack.append(child)
        elif isinstance(loc.children, list):
            stack.extend(loc.children)
    return out



def _value_at(data: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)) or value is None:
        return ""
    text = _json(value)
    return f", `{text}`" if len(text) <= 60 else ""


def _json(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


# What may begin, at its place, a plain scalar that YAML 1.2 (a strict read) and PyYAML read apart: a float
# without a dot before its exponent or without the exponent's sign, a signed one without a digit before its dot,
# a date, `=` (the numbers YAML 1.1 reads otherwise, `010` and `1:30`, make a strict read fail: the lenient one
# lists them), or an anchor or tag before the scalar. More than those: only a match is read again.
_AT_PLACE = re.compile(r"[&!=]|[-+]?(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9_]+)[eE]|[-+]\.[0-9]|[0-9]{4}-[0-9]")


def may_read_otherwise(doc: LoadedDoc) -> bool:
    """Whether ``doc``, read as a spec, may hold a plain scalar that PyYAML reads otherwise where the model reads
    it (its position in ``model:`` or ``base_configs:``, or one an alias or a merge brings there): a text without
    any is not read again (:func:`vibench.compiler.load_compose.pyyaml_readings`). False is sure; True is a maybe.
    Only the text's lines up to the last such position are looked at (a regex over 16 MiB took half a second).
    """
    text = doc.text
    if text.startswith("\ufeff"):  # columns may count the byte-order mark or not: read it again
        return True
    places = sorted((pos.line, pos.col) for pos in _model_keys(doc, values=True))
    starts = [0]  # the offset of each line's start, as far as the places need
    breaks = YAML_LINE_BREAK.finditer(text)
    for line, col in places:
        while len(starts) < line:
            found = next(breaks, None)
            if found is None:
                return True  # (no such line: read again, which says what is there)
            starts.append(found.end())
        if _AT_PLACE.match(text, starts[line - 1] + col - 1) is not None:
            return True
    return False
