"""The `model:` section of a PHM-Vibench experiment as its ``load_config`` merges it (:func:`model_section`).

PHM-Vibench (``src/configs/config_utils.py``) reads a config that has `base_configs` so: the file of each
entry in order, whatever the entry's name, then the experiment itself without `base_configs`, each merged
into what came before by ``ConfigWrapper._recursive_update`` — a mapping into a mapping key by key, at any
depth; any other value (a list, a number, a string, null) replaces what was there whole, and a mapping
replaces a value that is none. The experiment's dotted keys (``model.signal_processing_configs.layer1: [HT,
I]``) are expanded to any depth before that merge, in the order written: each sets a key inside what
`model:` and the dotted keys above it built, making the mappings on its path; a `model:` below replaces
them. A base config's dotted keys are not expanded, nor are those of a config without `base_configs`: they
stay top-level keys that no model reads.

vibench merges so too and keeps where each value was written — a key of the experiment, a dotted key, or the
`base_configs` entry whose file gave it — key by key in a mapping merged from several places: a diagnostic
about a base config's `layer3` stands at its entry (and quotes nothing of it,
:mod:`vibench.compiler.phm_base`), one about the experiment's `layer1` at its line. Where vibench reads a
config otherwise than that loader, or the loader stops, W114 says so at the place: a dotted key it cannot
apply (a path through a value that is no mapping: a TypeError there; an empty name part), one that a
`model:` or dotted key below it replaces, one in a config without `base_configs` or in a base config, a null
`base_configs` entry, a base config's `model:` that is no mapping and drops the model keys above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.ir import Pos
from vibench.compiler.limits import MAX_SOURCE_VALUES
from vibench.compiler.load import LoadedDoc
from vibench.compiler.load_compose import Loc
from vibench.compiler.phm_base import MergedAt, base_model
from vibench.compiler.phm_unshown import strings_in

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library

MAX_BASE_CONFIGS = 1_000
"""Entries of `base_configs` (PHM-Vibench's configs have five): each is looked up on disk, about 90 µs, so
500,000 entries of distinct spellings of one path took 45 s; 1,000 take a tenth of a second."""
MAX_MERGED_KEYS = 2 * MAX_SOURCE_VALUES
"""Keys one merge of the `model:` sections may visit (E002 beyond). Each value a compilation loads is visited
at most twice — as a key merged in and as a key merged into — unless a file is named again after others
(entries in a row that name one file merge once): 1,000 entries alternating two files of 100,000 keys would
visit 10^8."""


@dataclass(eq=False)
class Written:
    """A value of the `model:` section being merged, and where it was written: ``pos`` is its key in the
    experiment (or the dotted key), or the `base_configs` entry whose file gave it (``base``). A mapping merged
    from several places holds its keys in ``items``, each where it was written; ``path``, for a value of the
    experiment, is where it is in the document, which locates its keys."""

    value: Any
    pos: Pos | None
    base: bool
    path: tuple | None = None
    items: dict[Any, Written] | None = None

    def is_mapping(self) -> bool:
        return self.items is not None or isinstance(self.value, dict)

    def plain(self) -> Any:
        return {key: item.plain() for key, item in self.items.items()} if self.items is not None else self.value

    def loc(self, doc: LoadedDoc) -> Loc:
        """The location map of the value at its key: a mapping merged from several places key by key; a value the
        experiment wrote whole (``path``), with the places of what it holds in ``doc`` (an error inside
        `task_configs: {classification: {num_clases: 3}}` stands at `num_clases`, not at `task_configs:`); one from
        a base config, at its entry alone."""
        at = _at(self.pos)
        if self.items is None:
            written = doc.locate(self.path) if self.path is not None and not self.base else None
            return Loc(at, written.children if written is not None else None)
        return Loc(at, {key: (_at(item.pos), item.loc(doc)) for key, item in self.items.items()})

    def has_base(self) -> bool:
        return self.base or (self.items is not None and any(item.has_base() for item in self.items.values()))

    def mixed(self, name: str) -> list[MergedAt]:
        """Where the experiment wrote a mapping that keeps values of a base config, at any depth (``name`` is its
        key), each with what the experiment and the base configs wrote in it: what is said there of the whole
        mapping may quote only the experiment's part (:func:`~vibench.compiler.phm_base.hide_base_values`). The
        mappings inside share the words of the outermost (a diagnostic there is said as strictly)."""
        if self.items is None or self.base or not self.has_base() or self.pos is None:
            return []
        own: list[tuple[str, Pos, int]] = []
        own_words: set[str] = set()
        base_strings: set[str] = set()
        stack: list[tuple[Any, Written]] = [(key, item) for key, item in reversed(self.items.items())]
        inner: list[tuple[str, Pos]] = []
        while stack:  # depth first, in the order written
            key, item = stack.pop()
            if item.base:
                strings_in([key, item.plain()], base_strings)
                continue
            _words(key, own_words)
            if item.pos is not None:
                own.append((str(key), item.pos, len(str(item.path[-1])) if item.path else 1))
            if item.items is None:
                _words(item.value, own_words)
                continue
            if item.has_base() and item.pos is not None and item.pos != self.pos:
                inner.append((str(key), item.pos))
            stack += [(k, v) for k, v in reversed(item.items.items())]
        words = (tuple(own), frozenset(own_words), frozenset(base_strings))
        return [MergedAt(at.file, at.line, at.col, key, *words) for key, at in [(name, self.pos), *inner]]


def _words(value: Any, into: set[str]) -> None:
    """The words messages print of ``value`` (its keys, items and scalars, and the words inside a string)."""
    stack = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
        else:
            text = str(value)
            into.update({text, text.lower(), *re.findall(r"[\w.+-]+|\w+", text), *re.findall(r"\w+", text)})


@dataclass
class ModelSection:
    """The merged `model:` mapping: its values, where each key was written, the keys whose whole value comes
    from base configs (located at their entry), and each value's location map for the translated spec."""

    values: dict[str, Any]
    where: dict[str, Pos | None]
    from_bases: set[str]
    locs: dict[str, Loc]


def model_section(doc: LoadedDoc, library: Library, warnings: list[Diagnostic]) -> ModelSection:
    """The effective `model:` mapping of ``doc`` as PHM-Vibench's ``load_config`` merges it (see the module).
    Warnings (W113, W114) go to ``warnings``, once per file; a base config named by several entries is read
    and checked once. A key written in the experiment over a mapping that keeps a base config's values is
    added to ``library.quiet``: what is said there of the whole value is said without them."""
    data = doc.data
    merger = _Merger(doc)
    state: Written | None = None
    refs: dict[Pos | None, str] = {}
    dropped: list[Diagnostic] = []  # base configs whose `model:` no mapping replaced the model so far: W114 unless last
    bases = data.get("base_configs")
    if bases is not None:
        for pos, file, ref in _entries(doc, bases, library, warnings, merger.sections):
            section = merger.sections[file]
            if state is not None and state.is_mapping() and not isinstance(section, dict):
                dropped.append(_layout(f"base config `{clip(ref, 120)}` holds no `model:` mapping: the model keys "
                                       "of the entries above it are dropped", pos, "PHM-Vibench's loader "
                                       "replaces the model merged so far with what that file's `model:` holds",
                                       "give that file a `model:` mapping, or remove the entry"))
            refs[pos] = ref
            state = merger.merge(state, Written(section, pos, True))
    own = data.get("model")
    if isinstance(own, dict):
        bad = [_key_error(doc, key) for key in own if not isinstance(key, str)]
        if bad:
            raise SpecError(bad, {doc.file: doc.text})
    experiment = merger.experiment(bool(bases), warnings)
    if experiment is not None and not experiment.is_mapping():  # `model:` written as no mapping
        if own is not None:
            raise SpecError([Diagnostic("E102", "`model:` must be a mapping", doc.pos(("model",)),
                                        found=type(own).__name__)], {doc.file: doc.text})
        if state is not None and state.is_mapping():  # left empty over the base configs' model
            raise SpecError([Diagnostic("E103", "the `model:` section is empty", doc.pos(("model",), key=True),
                                        expected="a mapping with `type` and `name`, or no `model:` line",
                                        notes=("PHM-Vibench's loader replaces the model of the base configs with "
                                               "this null, and builds no model",),
                                        hint="remove the `model:` line to use the base configs' model, or write "
                                        "its keys under it")], {doc.file: doc.text})
        return ModelSection({}, {}, set(), {})  # nothing to replace: "needs `type` and `name`"
    if experiment is not None:
        state = merger.merge(state, experiment)
    if state is None:
        return ModelSection({}, {}, set(), {})
    if not state.is_mapping():  # the last base config's `model:` is null or no mapping, and nothing follows
        raise SpecError([Diagnostic("E102", f"base config `{clip(refs.get(state.pos, ''), 120)}` holds no "
                                    "`model:` mapping", state.pos)], {doc.file: doc.text})
    warnings += dropped  # (the last one, with nothing after it, is the E102 above)
    items = merger.items(state)
    for key, item in items.items():
        library.quiet.update(item.mixed(key))
    return ModelSection({key: item.plain() for key, item in items.items()},
                        {key: item.pos for key, item in items.items()},
                        {key for key, item in items.items() if item.base},
                        {key: item.loc(doc) for key, item in items.items()})


def _entries(doc: LoadedDoc, bases: Any, library: Library, warnings: list[Diagnostic],
             sections: dict[tuple[str, bool], Any]) -> list[tuple[Pos | None, tuple[str, bool], str]]:
    """The `base_configs` entries whose file has model keys: (the entry's position, the file's key in
    ``sections`` of :func:`base_model`, the path written). Entries in a row that name one file are one (the
    last): merging a file again into itself changes nothing."""
    if not isinstance(bases, dict):
        raise SpecError([Diagnostic("E102", "`base_configs` must map sections to files", doc.pos(("base_configs",)),
                                    found=type(bases).__name__)], {doc.file: doc.text})
    if len(bases) > MAX_BASE_CONFIGS:
        raise SpecError([Diagnostic("E002", f"`base_configs` has {len(bases):,} entries",
                                    doc.pos(("base_configs",), key=True),
                                    expected=f"at most {MAX_BASE_CONFIGS:,} base configs",
                                    hint="merge base configs into fewer files")], {doc.file: doc.text})
    entries: list[tuple[Pos | None, tuple[str, bool], str]] = []
    for entry, ref in bases.items():  # PHM-Vibench merges each file whole, whatever the entry's name
        pos = doc.pos(("base_configs", entry))
        if ref is None:
            warnings.append(_layout(f"`base_configs.{clip(str(entry), 80)}` is null: vibench skips it", pos,
                                    "PHM-Vibench's loader looks for a file named `None` beside the experiment "
                                    "(FileNotFoundError)", "remove the entry, or name a file"))
            continue
        if not isinstance(ref, str):
            raise SpecError([Diagnostic("E102", f"`base_configs.{entry}` must be a file path", pos)],
                            {doc.file: doc.text})
        file = base_model(ref, doc, library, pos, entry == "model", warnings, sections)
        if file is None:
            continue
        if entries and entries[-1][1] == file:
            entries.pop()
        entries.append((pos, file, ref))
    return entries


class _Merger:
    """``ConfigWrapper._recursive_update`` on :class:`Written` values, counting the keys it visits."""

    def __init__(self, doc: LoadedDoc) -> None:
        self.doc = doc
        self.visited = 0
        self.sections: dict[tuple[str, bool], Any] = {}
        self.shared: dict[int, list[str]] | None = None  # the experiment's aliased mappings (:func:`_shared`)
        self.warned: Written | None = None  # the dotted key last warned of: once each

    def items(self, value: Written) -> dict[Any, Written]:
        """The keys of the mapping ``value``, each where it was written (``value`` holds them from now on)."""
        if value.items is None:
            mapping: dict = value.value
            self.count(len(mapping), value.pos)
            path = value.path
            value.items = {key: Written(item, self.doc.pos((*path, key), key=True), False, (*path, key))
                           for key, item in mapping.items()} if path is not None else \
                {key: Written(item, value.pos, value.base) for key, item in mapping.items()}
        return value.items

    def merge(self, target: Written | None, source: Written) -> Written:
        """``source`` merged into ``target`` (either may be changed)."""
        if target is None or not (target.is_mapping() and source.is_mapping()):
            return source
        items = self.items(target)
        for key, item in self.items(source).items():
            self.count(1, source.pos)
            items[key] = self.merge(items[key], item) if key in items else item
        target.pos, target.base = source.pos, target.base and source.base
        return target

    def count(self, keys: int, pos: Pos | None) -> None:
        self.visited += keys
        if self.visited > MAX_MERGED_KEYS:
            raise SpecError([Diagnostic("E002", f"merging the `model:` sections visits more than "
                                        f"{MAX_MERGED_KEYS:,} keys", pos,
                                        hint="name each base config once, or merge them into fewer files")],
                            {self.doc.file: self.doc.text})

    def experiment(self, composed: bool, warnings: list[Diagnostic]) -> Written | None:
        """The experiment's `model:` with its dotted keys expanded as PHM-Vibench expands them (only when
        ``composed``, a config with `base_configs`), or None when it writes neither."""
        doc = self.doc
        model: Written | None = None
        applied: list[tuple[str, tuple[str, ...], Written]] = []  # the dotted keys set so far, to say which are lost
        for top, value in doc.data.items():
            if top == "model":  # replaces what the dotted keys above it built
                for dotted, parts, _ in applied:
                    warnings.append(_layout(f"`{clip(dotted, 120)}` has no effect: the `model:` section below it "
                                            "replaces it", doc.pos((dotted,), key=True), "PHM-Vibench's config "
                                            "loader sets dotted keys in the order written, and `model:` replaces "
                                            "them", _inside_model(parts)))
                model, applied = Written(value, doc.pos(("model",), key=True), False, ("model",)), []
                continue
            if not isinstance(top, str) or not top.startswith("model."):
                continue
            pos, parts = doc.pos((top,), key=True), tuple(top.split(".")[1:])
            if not composed:
                warnings.append(_layout(f"`{clip(top, 120)}` is not read as `{clip('.'.join(parts), 120)}` of the "
                                        "model", pos, "PHM-Vibench expands dotted keys only in a config with "
                                        "`base_configs:`; here its loader keeps a top-level key of that name, "
                                        "which no model reads (vibench ignores it too)", _inside_model(parts)))
                continue
            if "" in parts:
                warnings.append(_layout(f"`{clip(top, 120)}` has an empty name between its dots: vibench ignores "
                                        "it", pos, "PHM-Vibench's loader sets a key named `` (empty), which no "
                                        "model reads", "write the key's full name, e.g. `model.num_classes`"))
                continue
            if model is None:
                model = Written(None, pos, False, items={})
            written = Written(value, pos, False, (top,))
            blocked = self._set(model, parts, written, warnings)
            if blocked is not None:
                warnings.append(_layout(f"`{clip(top, 120)}` cannot be set: `{clip(blocked, 120)}` is no mapping, "
                                        "and vibench ignores the key", pos, "PHM-Vibench's config loader stops "
                                        "here with a TypeError (it sets a key inside a value that is no mapping)",
                                        f"write `{clip(blocked, 120)}` as a mapping, or remove this key"))
                continue
            for dotted, earlier, _ in applied:  # `model.a.b` then `model.a`: the first is gone
                if earlier[:len(parts)] == parts:
                    warnings.append(_layout(f"`{clip(dotted, 120)}` has no effect: `{clip(top, 120)}` below it "
                                            "replaces it", doc.pos((dotted,), key=True), "PHM-Vibench's config "
                                            "loader sets dotted keys in the order written",
                                            "remove one of the two"))
            applied = [entry for entry in applied if entry[1][:len(parts)] != parts] + [(top, parts, written)]
        return model

    def _set(self, model: Written, parts: tuple[str, ...], value: Written, warnings: list[Diagnostic]) -> str | None:
        """Sets ``value`` at ``parts`` inside ``model``, making the mappings on the way; or the dotted name of
        the value on the way that is no mapping (nothing set). A mapping on the way that the experiment names
        twice (a YAML alias) changes here only: W114 (PHM-Vibench's loader changes the one object both share)."""
        node = model
        for depth, part in enumerate(parts):
            if not node.is_mapping():
                return ".".join(("model", *parts[:depth]))
            if isinstance(node.value, dict) and depth and not node.base:
                self._aliased(node.value, ".".join(("model", *parts[:depth])), value, warnings)
            items = self.items(node)
            if depth == len(parts) - 1:
                items[part] = value
            else:
                node = items.setdefault(part, Written(None, value.pos, False, items={}))
        return None

    def _aliased(self, mapping: dict, here: str, value: Written, warnings: list[Diagnostic]) -> None:
        if self.shared is None:  # each mapping of the experiment's model keys named more than once -> where
            self.shared = _shared({top: item for top, item in self.doc.data.items()
                                   if top == "model" or (isinstance(top, str) and top.startswith("model."))})
        places = self.shared.get(id(mapping))
        if places is None or self.warned is value:
            return
        self.warned = value
        others = [place for place in places if place != here] or places
        dotted = value.path[0] if value.path else here
        warnings.append(_layout(
            f"`{clip(str(dotted), 120)}` sets a key in `{clip(here, 120)}`, which is one mapping with "
            f"`{clip(others[0], 120)}` (a YAML alias): vibench changes only `{clip(here, 120)}`", value.pos,
            "PHM-Vibench's loader sets the key inside the one object both names share, and so changes "
            f"`{clip(others[0], 120)}` too", "write the mapping out at each place instead of the alias, or set the "
            "key at each place"))


def _shared(tops: dict) -> dict[int, list[str]]:
    """The mappings written at more than one place of ``tops`` (YAML aliases: one object), by ``id``, with the
    first two places (dotted names); each is walked once, however many aliases name it."""
    seen: dict[int, list[str]] = {}
    stack: list[tuple[Any, str]] = [(value, str(top)) for top, value in reversed(tops.items())]
    while stack:
        value, place = stack.pop()
        if not isinstance(value, dict | list):
            continue
        places = seen.setdefault(id(value), [])
        if len(places) < 2:
            places.append(place)
        if len(places) > 1:  # named again: walked already
            continue
        children = value.items() if isinstance(value, dict) else enumerate(value)
        stack += [(item, f"{place}.{key}") for key, item in reversed(list(children))]
    return {key: places for key, places in seen.items() if len(places) > 1}


def _inside_model(parts: tuple[str, ...]) -> str:
    if len(parts) == 1:
        return f"write `{clip(parts[0], 120)}:` inside `model:`"
    nested = clip(".".join(parts[1:]), 80)
    return f"write it inside `model:`, as `{clip(parts[0], 80)}:` with `{nested}` nested under it"


def _at(pos: Pos | None) -> tuple[int, int]:
    return (pos.line, pos.col) if pos is not None else (1, 1)


def _key_error(doc: LoadedDoc, key: Any) -> Diagnostic:
    """E102 for a key of `model:` that YAML did not read as a string (`1:`, `true:`, `null:`)."""
    pos = doc.pos(("model", key), key=True)
    lines = doc.text.splitlines()
    line = lines[pos.line - 1] if pos is not None and 0 < pos.line <= len(lines) else ""
    written = line[pos.col - 1:].split(":", 1)[0].strip() if pos is not None and line else str(key)
    hint = f"quote it: `\"{written}\": ...`"
    if isinstance(key, bool):
        hint = f"YAML reads `{written}` as the boolean {str(key).lower()}; " + hint
    return Diagnostic("E102", f"key `{clip(written, 120)}` in `model:` is not a string", pos,
                      expected="a name (a string)", found="null" if key is None else f"{type(key).__name__} {key!r}",
                      hint=hint)


def _layout(message: str, pos: Pos | None, found: str, hint: str) -> Diagnostic:
    return Diagnostic("W114", message, pos, severity="warning", found=found, hint=hint)
