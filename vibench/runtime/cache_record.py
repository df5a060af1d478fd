"""The record of an entry of :mod:`vibench.runtime.cache`'s folder, ``m_<name>.json``: what its model was compiled
from beyond its key (:class:`~vibench.runtime.cache_deps.Deps`), its class and warnings, written by
:func:`written` and read back by :func:`read`, which takes anything else (damaged, edited, another version's
shape, another key's) for a miss.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vibench._version import __version__
from vibench.runtime.cache_deps import Compiled, Deps

_FIELDS = ("class", "vibench", "key", "source", "files", "absent", "blocks", "links", "looked", "warnings")


def written(k: str, compiled: Compiled, deps: Deps) -> str:
    """The record of key ``k``'s model ``compiled`` with the dependencies ``deps``, as JSON."""
    meta: dict[str, Any] = {
        "class": compiled.class_name,
        "vibench": __version__,
        "key": k,
        "source": hashlib.sha256(compiled.source.encode("utf-8")).hexdigest(),
        "files": dict(sorted(deps.files.items())),
        "absent": list(deps.absent),
        "blocks": deps.blocks,
        "links": deps.links,
        "looked": deps.looked,
        "warnings": [list(warning) for warning in compiled.warnings],
    }
    meta["check"] = record_check(meta)
    return json.dumps(meta, indent=1)


def read(text: bytes, k: str) -> tuple[str, Deps, tuple[tuple[str, str], ...]] | None:
    """The class name, dependencies and warnings that ``text``, an ``m_<name>.json`` of key ``k``, records, or None
    when it cannot be read (nested too deep for the parser, not UTF-8, anything else), is not the shape
    this version writes (an older vibench's, a damaged file) or is another key's."""
    try:
        meta = json.loads(text.decode("utf-8"))
    except Exception:  # noqa: BLE001 - a damaged record is a miss (RecursionError, MemoryError, ...), never an error
        return None
    if not isinstance(meta, dict) or meta.get("key") != k:
        return None
    class_name, files, absent, blocks = meta.get("class"), meta.get("files"), meta.get("absent"), meta.get("blocks")
    links, warned, looked = meta.get("links"), meta.get("warnings"), meta.get("looked")
    if not isinstance(class_name, str) or not class_name.isidentifier() or not isinstance(meta.get("source"), str):
        return None
    if not isinstance(files, dict) or not all(isinstance(h, str) or h is None for h in files.values()):
        return None
    if not isinstance(absent, list) or not all(isinstance(p, str) for p in absent):
        return None
    if not isinstance(blocks, dict) or not all(isinstance(c, str) for c in blocks.values()):
        return None
    if not isinstance(links, dict) or not all(isinstance(r, str) for r in links.values()):
        return None
    if not isinstance(looked, dict) or not all(isinstance(seen, str) for seen in looked.values()):
        return None
    if not isinstance(warned, list) or not all(
        isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w) for w in warned
    ):
        return None
    if meta.get("check") != record_check(meta):  # an edit that kept the shape: another class named, a file left out
        return None
    deps = Deps(dict(files), absent, blocks, links, looked=looked)
    return class_name, deps, tuple((code, text) for code, text in warned)


def record_check(meta: dict[str, Any]) -> str:
    """The SHA-256 of a record's fields, which the record holds as ``check``: a record changed since it
    was written (damaged, or edited by hand) is a miss, whatever it names."""
    fields = {name: meta.get(name) for name in _FIELDS}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
