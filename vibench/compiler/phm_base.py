"""PHM-Vibench base configs: finding one in the experiment's project (:func:`project_root`), reading its
`model:` section once per compilation (:func:`base_model`), and saying a diagnostic about a value it gave
without quoting what the file holds (:func:`said_without_base_values`, which every diagnostic of the merged
`model:` section passes through; :func:`hide_base_values`, :func:`hide`): a base config is trusted no
more than the experiment, and its values, keys and what a pass computes from them stay out of messages.
A mapping the experiment writes over a base config's (:class:`MergedAt`) is said as the merge of both: its
reason kept where it quotes only what the experiment wrote, at the experiment's key it names."""

from __future__ import annotations

import itertools
import os
import re
import stat
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc, SourceBudgetExceeded, _file_kind, read_spec_file
from vibench.compiler.number_words import reading_words
from vibench.compiler.phm_readings import first_written, yaml_1_1_numbers
from vibench.compiler.phm_unshown import Unshown, occurs, strings_in

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library


def _layout_warning(message: str, pos: Pos | None, found: str, hint: str) -> Diagnostic:
    return Diagnostic("W114", message, pos, severity="warning", found=found, hint=hint)


def project_root(folder: str, looked: dict[str, str] | None = None) -> str:
    """The project root of a config in ``folder``: the nearest folder at or above it that holds
    ``.git`` or a ``configs`` folder (never the home folder or ``/``), else ``folder`` itself. ``looked``
    receives each marker path tested (-> ``"kind"``): one created or removed later moves the root."""
    start = os.path.realpath(folder)
    refused = {os.path.realpath(os.path.expanduser("~")), os.path.realpath(os.sep)}
    current = start
    while current not in refused:
        markers = [os.path.join(current, ".git"), os.path.join(current, "configs")]
        if looked is not None:
            looked.update(dict.fromkeys(markers, "kind"))
        if os.path.exists(markers[0]) or os.path.isdir(markers[1]):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return start


def base_model(ref: str, doc: LoadedDoc, library: Library, pos: Pos | None, flat: bool,
                warnings: list[Diagnostic], sections: dict[tuple[str, bool], Any]
                ) -> tuple[str, bool] | None:
    """The key in ``sections`` of the `model:` section of a base config file, found in the experiment's project
    or on the search path (None when the file has none; with ``flat``, for `base_configs.model`, its top-level
    keys, W114). A file already in ``sections`` is not read or checked again. Its section is what the file
    writes under `model:` — a mapping, or null or another value, which replaces the model merged so far
    (:mod:`vibench.compiler.phm_merge`). A path inside the project that is there but no regular file (a folder,
    a FIFO) is E004, found without opening it; one found nowhere is E205."""
    shown = clip(ref, 120)
    # Beside the experiment as it was named, as PHM-Vibench's `yaml_path.parent / base` reads it (docs/phm.md), not
    # beside its real file as a vibench spec's references are: an experiment that is a link `exps/exp.yaml ->
    # ../real/exp.yaml` reads `exps/m.yaml`. That folder's real path opens the same files (the OS resolves a
    # link on the way before a `..` of the entry) under the names the project root and the cache record use.
    # Without the name given (another caller), the real file's folder; the working folder for text.
    named = os.path.join(library.cwd, library.given_path) if library.given_path and doc.path else None
    from_dir = (os.path.realpath(os.path.dirname(named)) if named is not None
                else os.path.dirname(os.path.realpath(doc.path)) if doc.path else library.cwd)
    root = project_root(from_dir, library.looked)
    bases = list(dict.fromkeys([from_dir, root, library.cwd, *library.user_dirs]))
    allowed = [os.path.realpath(d) for d in [root, *library.user_dirs]]
    if os.path.isabs(ref) or ref.startswith("~"):  # the same files on every machine (docs/phm.md)
        what = "is an absolute path" if os.path.isabs(ref) else "starts with `~`, which is not expanded"
        raise SpecError([Diagnostic("E205", f"base config `{shown}` {what}", pos,
                                    hint="write it relative to the experiment file or its project's root")],
                        {doc.file: doc.text})
    unusable: tuple[str, int] | None = None  # the first path inside the project that is there but no regular file
    for base_dir in bases:  # each path tried is recorded: a file created at one, or a link re-pointed, is another model
        # Joined, never normalised (each base is absolute), as PHM-Vibench's `yaml_path.parent / base` is: the file
        # system follows `link/../m.yaml` from where `link` leads, which `normpath` made the `m.yaml` beside `link`.
        cand = os.path.join(base_dir, ref)
        mode = _mode(cand)  # stat, never open: a FIFO would wait for a writer
        if mode is None or not stat.S_ISREG(mode):
            library.absent.add(cand)
            if mode is not None and unusable is None and _inside(os.path.realpath(cand), allowed):
                unusable = (cand, mode)
            continue
        real = os.path.realpath(cand)
        if cand != real:
            library.links[cand] = real
        if not _inside(real, allowed):
            continue  # outside the project: never read (and not named, so the error does not confirm it exists)
        if doc.path and real == os.path.realpath(doc.path):
            raise SpecError([Diagnostic("E206", "the experiment names itself as its base config", pos)],
                            {doc.file: doc.text})
        library.read.add(real)
        if (real, flat) in sections:
            library.quiet.add(pos)
            return real, flat
        try:
            base = read_spec_file(real, library.display(real), lenient_keys=True, at=pos)
        except SourceBudgetExceeded as err:  # names the file (a path the experiment wrote), not what it holds
            raise SpecError(err.diagnostics, {doc.file: doc.text}) from None
        except SpecError as err:  # reported at the entry, without the base file's text or values
            raise SpecError([_quiet(d, shown, pos) for d in err.diagnostics[:1]], {doc.file: doc.text}) from None
        nested = isinstance(base.data, dict) and "model" in base.data
        if isinstance(base.data, dict) and any(isinstance(key, str) and key.startswith("model.") for key in base.data) \
                and (nested or not flat):  # read flat, such a key is one of the model's (W103, counted)
            warnings.append(_layout_warning(
                f"base config `{shown}` has a dotted `model.` key, which nothing reads", pos,
                "PHM-Vibench expands dotted keys only in the experiment itself: from a base config such a key lands "
                "at the top level of the config, where its model factory does not read it (vibench ignores it too)",
                "nest it under `model:` in that file"))
        if not nested and not flat and (base.data is None or isinstance(base.data, dict)):
            return None  # a data, task or trainer file: nothing of the model
        # A `model:` that is null or no mapping replaces the model so far, as in PHM-Vibench: the merge says so
        # (vibench.compiler.phm_merge), and it is an error only when nothing after it gives a mapping.
        section = base.data["model"] if nested else base.data
        if not nested and not isinstance(section, dict):
            raise SpecError([Diagnostic("E102", f"base config `{shown}` holds no `model:` mapping", pos)],
                            {doc.file: doc.text})
        if isinstance(section, dict) and any(not isinstance(key, str) for key in section):
            key = next(key for key in section if not isinstance(key, str))
            at = base.pos(("model", key) if nested else (key,), key=True)
            where = f" (line {at.line}, column {at.col})" if at is not None else ""
            raise SpecError([Diagnostic("E102", f"base config `{shown}` has a key in `model:` that is not a "
                                        f"string{where}", pos, expected="a name (a string)",
                                        hint="quote it in that file; its contents are not shown here")],
                            {doc.file: doc.text})
        if not nested:
            warnings.append(_layout_warning(
                f"base config `{shown}` has no `model:` section: vibench reads its top-level keys as the model's",
                pos, "PHM-Vibench merges a base config whole, so these keys land at the top level of the config, "
                "where its model factory does not read them", "nest them under `model:` in that file"))
        numbers = yaml_1_1_numbers(base, ("model",) if nested else None)
        if numbers:  # `num_classes: 010`, `dropout: 1e-1`, a date in the base config's model keys: as in the experiment
            at, (what, how) = numbers[0].pos, reading_words(numbers[0])
            where = f" (line {at.line}, column {at.col})" if at is not None else ""
            raise SpecError([Diagnostic(numbers[0].code, f"base config `{shown}` has, in its model keys{where}, {what}",
                                        pos, expected=numbers[0].expected,
                                        hint=f"{how} in that file; its contents are not shown here")],
                            {doc.file: doc.text})
        for path, at, _, first in first_written(base.duplicates):  # others: PyYAML's way, as in the experiment
            if not nested or path[0] == "model":
                inside = " in its `model:` section" if nested else ""
                warnings.append(Diagnostic("W113", f"base config `{shown}` repeats a key{inside} (line {at.line}, "
                                           f"column {at.col}): the last value is used", pos,
                                           severity="warning", notes=(f"it is first written at line {first.line}",),
                                           found="PyYAML, and so PHM-Vibench, keeps the last value; the first one "
                                           "has no effect",
                                           hint="remove the one you do not mean in that file; its contents are not "
                                           "shown here"))
        library.quiet.add(pos)
        sections[real, flat] = section
        return real, flat
    if unusable is not None:  # there, but a folder or a FIFO: said so, as E004 says it of a spec file
        raise SpecError([Diagnostic("E004", f"base config `{shown}` is {_file_kind(unusable[1])}, not a regular file",
                                    pos, found=clip(library.display(unusable[0]), 200),
                                    hint="name a .yaml, .yml or .json config file")], {doc.file: doc.text})
    searched = ", ".join(library.display(d) for d in allowed)
    added = "to `search_path=`" if library.in_python else "with --spec-path"
    raise SpecError([Diagnostic("E205", f"base config `{shown}` not found in the experiment's project", pos,
                                notes=(f"base configs are read only inside: {searched}",),
                                hint="write the path relative to the experiment or its project root (the folder "
                                f"with `.git` or `configs/`), or add its folder {added}")],
                    {doc.file: doc.text})


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except (OSError, ValueError):  # missing, a broken link, a name the system refuses
        return None


def _inside(real: str, folders: list[str]) -> bool:
    return any(real == folder or real.startswith(folder + os.sep) for folder in folders)


@dataclass(frozen=True, slots=True)
class MergedAt(Pos):
    """Where the experiment wrote the model key ``name`` whose mapping keeps keys of a base config, at any depth:
    the keys the experiment wrote in it (``own``: each name, where and its length there, in the order written),
    the words of what it wrote there (keys and values, as messages print them) and the strings of what the base
    configs gave (keys and values, :func:`~vibench.compiler.phm_unshown.strings_in`). Held in ``Library.quiet``;
    never equal to a plain :class:`Pos`."""

    name: str
    own: tuple[tuple[str, Pos, int], ...]
    own_words: frozenset[str]
    base_strings: frozenset[str]


def hide(d: Diagnostic, values: list[str]) -> Diagnostic:
    from dataclasses import replace

    def hide(text: str | None) -> str | None:  # whole names only: a suggested `MobileNet1D` stays readable
        for value in values:
            text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(value)}(?![A-Za-z0-9_])", "<from the base config>",
                          text) if text is not None else None
        return text

    return replace(d, message=hide(d.message) or d.message, found=hide(d.found), hint=hide(d.hint),
                   notes=tuple(hide(note) or "" for note in d.notes))


_NOT_SHOWN = "(a value from the base config, not shown)"
_REASONS = {
    "E202": "has the wrong type", "E203": "is not a valid expression", "E204": "cannot be evaluated",
    "E208": "is out of bounds, or not one of the choices",
    "E211": "gives an invalid `repeat`, `for_each`, `when` or condition",
    "E213": "makes more nodes than a model may have", "E214": "names no component of the slot's folder",
    "E215": "fails a check of the template", "E222": "is a model-guide value that cannot be applied",
    "E301": "gives shapes that do not fit", "E302": "breaks a constraint of the template",
    "E307": "gives more parameters than a model may have", "E309": "makes an output too large to compute",
    "W101": "does not change the reference's outputs; vibench ignores it", "W104": "is read by no chosen component",
    "I101": "is read as the model guide documents it", "I103": "is replaced by the metadata table's class count",
}
"""What a diagnostic at a base config's entry says about the value, by code (others: "cannot be used")."""
_PUBLIC_EXPECTED = {"E202", "E208", "E209", "E214", "E222"}
"""Codes whose ``expected`` comes from the template's declaration (a type, bounds, the slot's components)."""


def hide_base_values(diagnostics: Iterable[Diagnostic], quiet: Collection[Pos | None],
                     names: Collection[str], *, kept: Collection[str] = ()) -> tuple[Diagnostic, ...]:
    """``diagnostics`` with each one located at a `base_configs` entry (a position in ``quiet``) said without
    what the base config holds: a message that names the template parameter it concerns (the parameter a
    failed check is `at:`, else the first of ``names`` the message or a note quotes in backticks) and why, by
    code; no found value, no notes, and an ``expected`` only where the template's declaration gives it.
    Position, span, node and origin stay; so does all of a diagnostic whose code is in ``kept`` (worded so
    already). Two that read the same once said so (two checks of one value) are one.

    >>> d = Diagnostic("E204", "cannot evaluate `width`: hunter2", Pos("e.yaml", 3, 10), found="${hunter2}")
    >>> quiet = hide_base_values([d], {Pos("e.yaml", 3, 10)}, {"width"})[0]
    >>> quiet.message, quiet.found
    ('the value of `width` from the base config cannot be evaluated', '(a value from the base config, not shown)')
    """
    merged: dict[tuple[str, int, int], MergedAt] = {}
    for at in quiet:  # a dotted key's mappings share its position: the outermost (most words) says it
        if isinstance(at, MergedAt):
            key, size = (at.file, at.line, at.col), len(at.own_words) + len(at.base_strings)
            held = merged.get(key)
            if held is None or (len(held.own_words) + len(held.base_strings), held.name) < (size, at.name):
                merged[key] = at
    out: dict[Diagnostic, None] = {}  # in order, each once: the hidden ones may now read alike
    for d in diagnostics:
        if d.code in kept:
            out.setdefault(d, None)
            continue
        mixed = merged.get((d.pos.file, d.pos.line, d.pos.col)) if d.pos is not None and merged else None
        out.setdefault(_merged(d, mixed) if mixed is not None else _unquoted(d, names) if d.pos in quiet else d, None)
    return tuple(out)


SAID_AS_WRITTEN = frozenset({"E220", "I102", "I106", "W101", "W102", "W103", "W112", "W115"})
"""Codes whose messages the translation words so that they quote nothing a base config holds but names public
anyway (a template parameter, a library component: E220 hides the type and name that found none,
:func:`hide`; W103 counts a base config's keys): said as they are. :func:`hide_base_values`
would say no more than "a value from the base config" of them."""


def said_without_base_values(diagnostics: Sequence[Diagnostic], quiet: Collection[Pos | None],
                             names: Collection[str]) -> list[Diagnostic]:
    """``diagnostics`` of the merged `model:` section, each located at a `base_configs` entry said without what the
    base config holds (:func:`hide_base_values`, naming at most a parameter of
    ``names``), but for the codes worded so already (:data:`SAID_AS_WRITTEN`). A message located elsewhere that
    would quote a base config's value (E222 against a base config's key, E221's default computed from one) is
    worded without it where it is made: it names the key and the file."""
    return list(hide_base_values(diagnostics, quiet, names, kept=SAID_AS_WRITTEN))


def base_files(doc: LoadedDoc, where: Mapping[str, Pos | None], quiet: Collection[Pos | None]) -> dict[str, str]:
    """Each key of the merged `model:` whose value a base config gave -> the words naming that config in a message
    about the key (the path its `base_configs` entry writes; a mapping merged from several, "the base configs")."""
    bases = doc.data.get("base_configs")
    entries = {doc.pos(("base_configs", entry)): ref for entry, ref in bases.items() if isinstance(ref, str)} \
        if isinstance(bases, dict) else {}
    return {key: f"base config `{clip(entries[at], 120)}`" if at in entries else "the base configs"
            for key in keys_from_bases(where, quiet) if (at := where[key]) is not None}


def keys_from_bases(where: Mapping[str, Pos | None], quiet: Collection[Pos | None]) -> set[str]:
    """The keys whose value holds what a base config gave: located at a `base_configs` entry, or a mapping that
    merges the experiment's keys with a base config's (:class:`MergedAt`, at the
    experiment's key). Their values, and what is computed from them, are never quoted."""
    merged = {(at.file, at.line, at.col) for at in quiet if isinstance(at, MergedAt)}
    return {key for key, at in where.items()
            if at is not None and (at in quiet or (at.file, at.line, at.col) in merged)}


def unshown(values: Mapping[str, Any], where: Mapping[str, Pos | None], quiet: Collection[Pos | None],
            public: Collection[str], known: Iterable[Collection[str]]) -> Unshown:
    """The strings that the base configs gave the model section ``values`` (keys located at a `base_configs` entry,
    and what a base config gave a mapping the experiment merged into, :class:`MergedAt`), kept out of messages but
    for the names ``known`` holds and where the texts of ``public`` (the experiment, the template and its components)
    write them too."""
    merged = {(at.file, at.line, at.col): at for at in quiet if isinstance(at, MergedAt)}
    strings: set[str] = set()
    for key, at in where.items():
        if at is None or key not in values:
            continue
        if at in quiet:
            strings_in([key, values[key]], strings)
        elif (mixed := merged.get((at.file, at.line, at.col))) is not None:
            strings |= mixed.base_strings
    return Unshown(strings, public, known)


_MERGED = "(the keys written here merged with the base config's, not shown)"
_BOTH = ("check the keys written here, and those the base config gives (what a base config holds is never shown "
         "in messages)")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])")
_SOURCE_AT = re.compile(r"\S+:\d+:\d+")  # `checked by X at file:40:5`: the template's line, not a value


def _merged(d: Diagnostic, at: MergedAt) -> Diagnostic:
    """``d``, about the mapping at ``at`` merged from the experiment's keys and a base config's: its reason
    (the message up to its first `;`, then each part and note) kept where it quotes no string of the base
    configs (as a message writes it: `'\\thunterpass'` in a mapping's repr) and no number the experiment did not
    write, and then located at the first key of the experiment it names; else said by code, as at a base config's
    entry, but as the merge of both."""
    own = at.own_words
    strings = [text for text in at.base_strings if text not in own]  # (one the experiment wrote too is its own)

    def leaks(text: str) -> bool:
        if any(occurs(string, text) for string in strings):
            return True
        return any(number not in own for number in _NUMBER.findall(_SOURCE_AT.sub("", text)))

    first, *rest = d.message.split("; ")
    merged = f"the value of `{at.name}` merges the keys written here with the base config's"
    if leaks(first):
        reason = _REASONS.get(d.code, "cannot be used" if d.severity == "error" else "has no effect as written")
        return replace(d, message=f"{merged}, and {reason}", found=_MERGED if d.found is not None else None,
                       expected=d.expected if d.code in _PUBLIC_EXPECTED else None, notes=(), hint=_BOTH)
    reason = "; ".join([first, *(part for part in rest if not leaks(part))])
    notes = tuple(note for note in d.notes if not leaks(note))
    named = re.findall(r"\w+", " ".join([reason, *notes]))
    pos, span = next(((where, length) for key, where, length in at.own if key in named), (d.pos, d.span))
    return replace(d, message=f"{merged}: {reason}", pos=pos, span=span,
                   found=d.found if d.found is None or not leaks(d.found) else _MERGED,
                   expected=d.expected if d.expected is None or not leaks(d.expected) else None,
                   hint=_BOTH if len(notes) < len(d.notes) or d.hint is not None and leaks(d.hint) else d.hint,
                   notes=notes)


def _unquoted(d: Diagnostic, names: Collection[str]) -> Diagnostic:
    checked = re.match(r"`([A-Za-z_][A-Za-z0-9_]*)` = ", d.found or "")  # a failed check's: its `at:` = value
    quoted = itertools.chain([checked.group(1)] if checked else [], (
        name for text in (d.message, *d.notes)  # `depth` and `in_channels: 31337` alike: the key only
        for name in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?::[^`]*)?`", text)))
    name = next((n for n in quoted if n in names), None)
    reason = _REASONS.get(d.code, "cannot be used" if d.severity == "error" else "has no effect as written")
    return replace(d, message=f"{f'the value of `{name}`' if name else 'a value'} from the base config {reason}",
                   found=_NOT_SHOWN if d.found is not None else None,
                   expected=d.expected if d.code in _PUBLIC_EXPECTED else None,
                   hint="check it in that file: what a base config holds is never shown in messages",
                   notes=())


def _quiet(d: Diagnostic, ref: str, pos: Pos | None) -> Diagnostic:
    """A problem inside a base config, said without quoting the file."""
    where = f" (line {d.pos.line}, column {d.pos.col})" if d.pos is not None else ""
    kinds = {"E001": "is not valid YAML", "E002": "is too large or too deep", "E003": "uses a YAML tag",
             "E004": "cannot be read", "E005": "repeats a key"}
    return Diagnostic(d.code, f"base config `{ref}` {kinds.get(d.code, 'cannot be loaded')}{where}", pos,
                      hint="check that file; its contents are not shown here")
