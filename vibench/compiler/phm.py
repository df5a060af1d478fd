"""PHM-Vibench experiment configs in, vibench specs out.

A PHM-Vibench experiment YAML has sections ``environment``, ``data``, ``model``, ``task``,
``trainer`` and may compose base files with ``base_configs: {model: path, ...}``; its ``model:``
section is one flat bag of hyperparameters whose ``type`` and ``name`` pick a model class. This
module turns such a document into the spec ``{vibench: 1, extends: <template>, with: {...}}``:

* ``type``/``name`` pick the template: ``CNN/ResNet1D`` -> ``cnn/ResNet1D``, ``ISFM/M_01_ISFM`` ->
  ``isfm/M_01_ISFM`` (E220 when the library has none);
* every key the template declares is passed under ``with:`` (templates use the reference's names);
* keys the reference accepts but never reads (the template lists them under
  ``reference: ignored_keys``), keys only the PHM-Vibench factory reads, and keys nobody reads are
  reported as warnings (W101, W102, W103), never silently dropped.

The `model:` section is read as PHM-Vibench's ``load_config`` merges it: every `base_configs` entry in
order, whatever its name (a file's `model:` section counts), then the experiment's own `model:`, then its
dotted keys (``model.num_classes: 7``, expanded only in a config with `base_configs`). What that loader
reads differently — a base file without `model:`, a dotted key it does not apply — is W114.

Positions point into the experiment file, so a wrong value is located where the user wrote it.

A base config is found relative to the experiment's folder, its *project root* or the working
folder, and must lie inside the project root or a folder of the spec search path (E205 otherwise).
The project root is the nearest folder above the experiment (its own folder included) that holds
``.git`` or a ``configs`` folder — PHM-Vibench's layout — but never the home folder or ``/``;
without such a folder it is the experiment's own folder. Nothing a base config holds is echoed in
messages: not its lines (a YAML error in it is reported at the `base_configs` entry, by line and
column only), nor its values (a bad value taken from it is named, not shown), so pointing
`base_configs` at a secret does not print the secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError, one_of, suggest
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc, read_spec_file
from vibench.compiler.load_compose import Loc
from vibench.compiler.phm_checks import duplicate_keys, find_template, num_classes_from, required_keys
from vibench.compiler.phm_guide import ALIASES, apply_guide, fixed_key_reason
from vibench.compiler.phm_metadata import DatasetMetadata
from vibench.compiler.phm_reference import MODELS, type_for_name, unregistered, why_not_buildable
from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES, Library

FAMILY_FOLDERS = {"ISFM": "isfm", "ISFM_Prompt": "isfm", "CNN": "cnn", "RNN": "rnn", "Transformer": "transformer",
                  "MLP": "mlp", "NO": "no",
                  "X_model": "x_model"}
"""PHM-Vibench model type -> library folder (the prompt-guided ISFM_Prompt family lives with the ISFM specs)."""
FACTORY_KEYS = {
    "weights_path": "the PHM-Vibench factory loads this checkpoint; use "
    "vibench.runtime.checkpoint.load_reference_state_dict",
    "weight_path": "a misspelling of `weights_path` that even the PHM-Vibench factory ignores",
}
SECTIONS = ("environment", "data", "model", "task", "trainer")


def translate(doc: LoadedDoc, library: Library, metadata: DatasetMetadata | None = None,
              given: Collection[str] = ()) -> tuple[LoadedDoc, list[Diagnostic]]:
    """The equivalent spec document, and the notes and warnings about the config's keys.

    ``metadata`` (PHM-Vibench's metadata table, read by :mod:`vibench.compiler.phm_metadata`)
    gives ``num_classes`` as the reference factory does; ``given`` names the parameters set on the
    command line (``--set``), which no key of the config needs to supply.
    """
    warnings = duplicate_keys(doc)
    layout: list[Diagnostic] = []  # what the base configs and dotted keys say (W113, W114), kept with errors
    try:
        synthesized, notes = _translate(doc, library, metadata, given, layout)
    except SpecError as err:  # the repeated keys come with what else is wrong (the last value was read)
        repeated = [d for d in warnings + layout if d.code in ("W113", "W114")]
        raise SpecError(list(err.diagnostics) + repeated, err.sources) from None
    return synthesized, warnings + notes


def _translate(doc: LoadedDoc, library: Library, metadata: DatasetMetadata | None,
               given: Collection[str], warnings: list[Diagnostic]) -> tuple[LoadedDoc, list[Diagnostic]]:
    model, where, from_bases = _model_section(doc, library, warnings)
    warnings = list(warnings)
    model_pos = doc.pos(("model",), key=True) if "model" in doc.data else doc.pos(("base_configs",), key=True)
    kind, name = model.get("type"), model.get("name")
    own_keys = {key for key in ("type", "name")  # written in the experiment's `model:` (not a dotted key)
                if key in where and where[key] == doc.pos(("model", key), key=True)}
    if isinstance(kind, bool) or isinstance(name, bool):
        key = "type" if isinstance(kind, bool) else "name"
        pos = doc.pos(("model", key)) if key in own_keys else where.get(key, model_pos)
        raise SpecError([Diagnostic("E103", f"`{key}` of the `model:` section must be a name", pos,
                                    found=repr(kind if key == "type" else name), expected="a string",
                                    hint="YAML reads an unquoted `NO`, `no`, `off` or `yes` as true/false: "
                                    f"quote it, e.g. `{key}: \"NO\"`")], {doc.file: doc.text})
    if not isinstance(kind, str) or not isinstance(name, str):
        raise SpecError([Diagnostic("E103", "the `model:` section needs `type` and `name`", model_pos,
                                    expected="e.g. `type: CNN` and `name: ResNet1D`",
                                    hint="they select the PHM-Vibench model class the template reproduces")],
                        {doc.file: doc.text})
    type_pos = doc.pos(("model", "type")) if "type" in own_keys else where.get("type", model_pos)
    name_pos = doc.pos(("model", "name")) if "name" in own_keys else where.get("name", model_pos)
    try:
        template = _template(kind, name, type_pos, name_pos, doc)
        path, component = find_template(template, library, name_pos)
        if path is None:
            raise _no_template(kind, name, FAMILY_FOLDERS[kind], name_pos, doc) from None
    except SpecError as err:  # a type or name from a base config is named, not shown
        hidden = [value for key, value in (("type", kind), ("name", name)) if key in from_bases and value]
        if not hidden:
            raise
        raise SpecError([_hide(d, hidden) for d in err.diagnostics], err.sources) from None
    if component is not None:
        template = component
        warnings.append(Diagnostic("I102", f"`{kind}/{name}` is a component: vibench compiles `{template}` on its "
                                   "own (a vibench extension)", name_pos, severity="note",
                                   found="PHM-Vibench's factory builds only whole models (it would import "
                                   f"src.model_factory.{kind}.{name}, which does not exist)"))
    root, _ = library.load(path, where.get("name", model_pos))
    declared = {p.name for p in root.params}
    ignored = dict(root.reference.ignored_keys) if root.reference is not None else {}
    reference = root.reference.model if root.reference is not None else f"{kind}/{name}"
    model = dict(model)
    notes, errors = apply_guide(model, where, declared, reference,
                                lambda path: doc.pos(("model", *path), key=True) if "model" in doc.data else model_pos)
    warnings += notes
    errors += _unknown_given(given, declared, ignored, reference, template, root.name, library, model_pos)
    warnings += num_classes_from(model, where, root, metadata, given, model_pos)
    missing, unneeded = required_keys(model, root, library, given, model_pos)
    warnings += unneeded
    if errors or missing:
        raise SpecError(errors + missing, {doc.file: doc.text})
    warnings += _unregistered_components(model, where, reference, model_pos, from_bases)
    with_: dict[str, Any] = {}
    with_locs: dict[str, Any] = {}
    for key, value in model.items():
        pos = where.get(key, model_pos)
        if key in ("type", "name"):
            continue
        if key in declared:
            with_[key] = value
            with_locs[key] = key
        elif key in ignored:
            warnings.append(Diagnostic("W101", f"`{key}` is ignored by the reference {reference}; vibench "
                                       "ignores it too", pos, severity="warning", found=ignored[key]))
        elif key in FACTORY_KEYS:
            warnings.append(Diagnostic("W102", f"`{key}` is read by the PHM-Vibench factory, not by the model", pos,
                                       severity="warning", hint=FACTORY_KEYS[key]))
        elif fixed_key_reason(key, reference) is not None:
            warnings.append(Diagnostic("W101", f"`{key}` is ignored by the reference {reference}; vibench "
                                       "ignores it too", pos, severity="warning",
                                       found=fixed_key_reason(key, reference),
                                       hint=f"`{template}` has no `{key}` parameter: its architecture is the "
                                       "reference's"))
        else:
            hint = suggest(key, declared) if key not in ALIASES else (
                f"`{key}` is the model guide's name for `{ALIASES[key]}`, which `{template}` does not take")
            warnings.append(Diagnostic("W103", f"unknown key `{key}`: neither `{template}` nor the reference reads "
                                       "it", pos, severity="warning",
                                       hint=hint or "remove it, or check the template's "
                                       "parameters with `vibench-compile --list`"))
    data = {"vibench": 1, "extends": template, "with": with_}
    children: dict[str, Any] = {
        "vibench": ((1, 1), Loc((1, 1))),
        "extends": ((1, 1), Loc(_at(where.get("name", model_pos)))),
        "with": ((1, 1), Loc(_at(model_pos), {k: _entry(where, k, model_pos) for k in with_locs})),
    }
    synthesized = LoadedDoc(data=data, file=doc.file, path=doc.path, text=doc.text, root=Loc((1, 1), children))
    return synthesized, warnings


def _unknown_given(given: Collection[str], declared: set[str], ignored: dict[str, str], reference: str,
                   template: str, model: str, library: Library, pos: Pos | None) -> list[Diagnostic]:
    """E201 for a parameter set on the command line (or in Python) that the template does not take,
    with a hint for a PHM-Vibench config, which has no `params:` to declare it in."""
    errors = []
    for key in given:
        if key in declared or key in ignored or key == "params":  # W101, or resolve's own `params=` E201
            continue
        reason = fixed_key_reason(key, reference)
        if reason is not None:
            hint = f"remove it: {reason}, so in the `model:` section it would be ignored too (W101)"
        elif key in ALIASES and ALIASES[key] in declared:
            hint = f"`{key}` is the model guide's name for `{ALIASES[key]}`: set `{ALIASES[key]}` instead"
        else:
            close = suggest(key, declared)
            hint = (f"{close[:-1]} (a key of the `model:` section)?" if close else
                    "remove it: the template's parameters are the keys of the `model:` section (a PHM-Vibench "
                    f"config has no `params:`); `vibench-compile --list {template}` shows them")
        errors.append(Diagnostic("E201", f"unknown parameter `{_clip(key)}` ({library.given_as}) for model `{model}`",
                                 pos, expected="one of " + one_of(declared), hint=hint))
    return errors


def _unregistered_components(model: dict[str, Any], where: dict[str, Pos | None], reference: str,
                             default: Pos | None, from_bases: set[str]) -> list[Diagnostic]:
    """W115 for each component PHM-Vibench's ISFM model does not hold in its tables (a KeyError there)."""
    warnings = []
    for slot in ("embedding", "backbone", "task_head"):
        value = model.get(slot)
        builds = unregistered(reference, slot, value) if isinstance(value, str) else None
        if builds is None:
            continue
        owner = reference.split("/")[-1]
        shown = "from the base config" if slot in from_bases else f"`{_clip(str(value))}`"
        warnings.append(Diagnostic("W115", f"PHM-Vibench's {owner} cannot build the {slot} {shown}; vibench "
                                   "builds it (a vibench extension)", where.get(slot, default), severity="warning",
                                   found=f"{owner} builds only: {', '.join(builds)} (any other name is a KeyError "
                                   "there)",
                                   hint="pick one of those if the config must also run in PHM-Vibench"))
    return warnings


def _at(pos: Pos | None) -> tuple[int, int]:
    return (pos.line, pos.col) if pos is not None else (1, 1)


def _entry(where: dict[str, Pos | None], key: str, default: Pos | None) -> tuple[tuple[int, int], Loc]:
    pos = _at(where.get(key, default))
    return pos, Loc(pos)


def _template(kind: str, name: str, type_pos: Pos | None, name_pos: Pos | None, doc: LoadedDoc) -> str:
    folder = FAMILY_FOLDERS.get(kind)
    if folder is None:
        reason = why_not_buildable(kind, name)
        family = type_for_name(kind)
        hint = (f"`{kind}` is a model `name` of type `{family}`: write `type: {family}` and `name: {kind}`"
                if family else suggest(kind, FAMILY_FOLDERS))
        notes = (reason,) if reason else (f"PHM-Vibench has {', '.join(f'{kind}/{n}' for n in MODELS[kind])}; "
                                          "vibench has no template for them yet",)
        raise SpecError([Diagnostic("E220", f"no vibench templates for PHM-Vibench model type `{kind}`", type_pos,
                                    expected="one of " + ", ".join(f"`{k}`" for k in FAMILY_FOLDERS),
                                    notes=notes, hint=hint)], {doc.file: doc.text})
    if not name.replace("_", "").isalnum():
        raise _no_template(kind, name, folder, name_pos, doc)
    family = type_for_name(name)
    if family is not None and family != kind:  # the factory imports src.model_factory.<type>.<name>
        raise SpecError([Diagnostic("E220", f"no PHM-Vibench model `{kind}/{name}`: `{name}` is of type "
                                    f"`{family}`, not `{kind}`", type_pos, expected=f"`type: {family}`",
                                    notes=(why_not_buildable(kind, name) or "",), hint=f"write `type: {family}`")],
                        {doc.file: doc.text})
    return f"{folder}/{name}"


def _no_template(kind: str, name: str, folder: str, pos: Pos | None, doc: LoadedDoc) -> SpecError:
    base = os.path.join(LIBRARY_DIR, folder)
    available = sorted(os.path.splitext(f)[0] for f in os.listdir(base)
                       if f.endswith(SPEC_SUFFIXES)) if os.path.isdir(base) else []
    reason = why_not_buildable(kind, name)
    note = reason or "PHM-Vibench has this model; vibench has no template for it yet"
    return SpecError([Diagnostic("E220", f"no vibench template for PHM-Vibench model `{kind}/{name}`", pos,
                                 expected="one of " + (", ".join(f"`{a}`" for a in available) or "(none)"),
                                 notes=(note,),
                                 hint=suggest(name, available) or "`vibench-compile --list` shows the library")],
                     {doc.file: doc.text})


def _model_section(doc: LoadedDoc, library: Library, warnings: list[Diagnostic]
                   ) -> tuple[dict[str, Any], dict[str, Pos | None], set[str]]:
    """The effective `model:` mapping as PHM-Vibench's ``load_config`` merges it, where each key was
    written, and the keys whose value comes from a base config (which point at its `base_configs` entry).

    Every `base_configs` entry is a whole config file, merged in order whatever the entry's name; then
    the experiment's own keys, with its dotted keys (``model.num_classes: 7``) expanded — only in a config
    with `base_configs`, as there. Warnings (W113, W114) go to ``warnings``."""
    data = doc.data
    merged: dict[str, Any] = {}
    where: dict[str, Pos | None] = {}
    bases = data.get("base_configs")
    if bases is not None:
        if not isinstance(bases, dict):
            raise SpecError([Diagnostic("E102", "`base_configs` must map sections to files",
                                        doc.pos(("base_configs",)), found=type(bases).__name__)],
                            {doc.file: doc.text})
        for entry, ref in bases.items():  # PHM-Vibench merges each file whole, whatever the entry's name
            if ref is None:
                continue
            pos = doc.pos(("base_configs", entry))
            if not isinstance(ref, str):
                raise SpecError([Diagnostic("E102", f"`base_configs.{entry}` must be a file path", pos)],
                                {doc.file: doc.text})
            section = _base_model(ref, doc, library, pos, entry == "model", warnings)
            for key, value in section.items():
                merged[key] = value
                where[key] = pos
    from_bases = set(merged)
    own = data.get("model")
    if own is not None:
        if not isinstance(own, dict):
            raise SpecError([Diagnostic("E102", "`model:` must be a mapping", doc.pos(("model",)),
                                        found=type(own).__name__)], {doc.file: doc.text})
        bad = [_key_error(doc, key) for key in own if not isinstance(key, str)]
        if bad:
            raise SpecError(bad, {doc.file: doc.text})
        for key, value in own.items():
            merged[key] = value
            where[key] = doc.pos(("model", key), key=True)
            from_bases.discard(key)
    for key, value in _dotted_keys(doc, bool(bases), warnings):
        merged[key] = value
        where[key] = doc.pos((f"model.{key}",), key=True)
        from_bases.discard(key)
    return merged, where, from_bases


def _key_error(doc: LoadedDoc, key: Any) -> Diagnostic:
    """E102 for a key of `model:` that YAML did not read as a string (`1:`, `true:`, `null:`)."""
    pos = doc.pos(("model", key), key=True)
    lines = doc.text.splitlines()
    line = lines[pos.line - 1] if pos is not None and 0 < pos.line <= len(lines) else ""
    written = line[pos.col - 1:].split(":", 1)[0].strip() if pos is not None and line else str(key)
    hint = f"quote it: `\"{written}\": ...`"
    if isinstance(key, bool):
        hint = f"YAML reads `{written}` as the boolean {str(key).lower()}; " + hint
    return Diagnostic("E102", f"key `{_clip(written)}` in `model:` is not a string", pos, expected="a name (a string)",
                      found="null" if key is None else f"{type(key).__name__} {key!r}", hint=hint)


def _dotted_keys(doc: LoadedDoc, composed: bool, warnings: list[Diagnostic]) -> list[tuple[str, Any]]:
    """The top-level ``model.KEY: value`` entries PHM-Vibench applies to the model: in a config with
    `base_configs` its loader expands them (a `model:` section written after one replaces it); in one
    without, it keeps them as top-level keys no model reads (W114 for both)."""
    applied: dict[str, tuple[Any, str]] = {}
    for top, value in doc.data.items():
        if top == "model":  # PHM-Vibench's loader: `model:` replaces what dotted keys above it built
            for key, (_, dotted) in applied.items():
                warnings.append(_layout(f"`{dotted}` has no effect: the `model:` section below it replaces it",
                                        doc.pos((dotted,), key=True), "PHM-Vibench's config loader sets "
                                        "dotted keys in the order written, and `model:` replaces them",
                                        f"write `{key}:` inside `model:`"))
            applied = {}
        if not isinstance(top, str) or not top.startswith("model.") or top.count(".") != 1 or top == "model.":
            continue
        key = top.split(".", 1)[1]
        if composed:
            applied[key] = (value, top)
        else:
            warnings.append(_layout(f"`{top}` is not read as `{key}` of the model", doc.pos((top,), key=True),
                                    "PHM-Vibench expands dotted keys only in a config with `base_configs:`; "
                                    "here its loader keeps a top-level key of that name, which no model reads "
                                    "(vibench ignores it too)", f"write `{key}:` inside `model:`"))
    return [(key, value) for key, (value, _) in applied.items()]


def _layout(message: str, pos: Pos | None, found: str, hint: str) -> Diagnostic:
    return Diagnostic("W114", message, pos, severity="warning", found=found, hint=hint)


def project_root(folder: str) -> str:
    """The project root of a config in ``folder``: the nearest folder at or above it that holds
    ``.git`` or a ``configs`` folder (never the home folder or ``/``), else ``folder`` itself."""
    start = os.path.realpath(folder)
    refused = {os.path.realpath(os.path.expanduser("~")), os.path.realpath(os.sep)}
    current = start
    while current not in refused:
        if os.path.exists(os.path.join(current, ".git")) or os.path.isdir(os.path.join(current, "configs")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return start


def _base_model(ref: str, doc: LoadedDoc, library: Library, pos: Pos | None, flat: bool,
                warnings: list[Diagnostic]) -> dict[str, Any]:
    """The `model:` section of a base config file, found in the experiment's project or on the search path
    (empty when the file has none; with ``flat``, for `base_configs.model`, its top-level keys, W114)."""
    shown = _clip(ref)
    from_dir = os.path.dirname(doc.path) if doc.path else library.cwd
    root = project_root(from_dir)
    bases = list(dict.fromkeys([from_dir, root, library.cwd, *library.user_dirs]))
    allowed = [os.path.realpath(d) for d in [root, *library.user_dirs]]
    if os.path.isabs(ref) or ref.startswith("~"):
        raise SpecError([Diagnostic("E205", f"base config `{shown}` is an absolute path", pos,
                                    hint="write it relative to the experiment file or its project's root")],
                        {doc.file: doc.text})
    for base_dir in bases:
        cand = os.path.normpath(os.path.join(base_dir, ref))
        if not os.path.isfile(cand):
            continue
        real = os.path.realpath(cand)
        if not any(real == r or real.startswith(r + os.sep) for r in allowed):
            continue  # outside the project: never read (and not named, so the error does not confirm it exists)
        if doc.path and real == os.path.realpath(doc.path):
            raise SpecError([Diagnostic("E206", "the experiment names itself as its base config", pos)],
                            {doc.file: doc.text})
        library.read.add(real)
        try:
            base = read_spec_file(real, library.display(real), lenient_keys=True)
        except SpecError as err:  # reported at the entry, without the base file's text or values
            raise SpecError([_quiet(d, shown, pos) for d in err.diagnostics[:1]], {doc.file: doc.text}) from None
        nested = isinstance(base.data, dict) and "model" in base.data
        if not nested and not flat and (base.data is None or isinstance(base.data, dict)):
            return {}  # a data, task or trainer file: nothing of the model
        section = base.data.get("model", base.data) if isinstance(base.data, dict) else None
        if not isinstance(section, dict):
            raise SpecError([Diagnostic("E102", f"base config `{shown}` holds no `model:` mapping", pos)],
                            {doc.file: doc.text})
        if any(not isinstance(key, str) for key in section):
            key = next(key for key in section if not isinstance(key, str))
            at = base.pos(("model", key) if nested else (key,), key=True)
            where = f" (line {at.line}, column {at.col})" if at is not None else ""
            raise SpecError([Diagnostic("E102", f"base config `{shown}` has a key in `model:` that is not a "
                                        f"string{where}", pos, expected="a name (a string)",
                                        hint="quote it in that file; its contents are not shown here")],
                            {doc.file: doc.text})
        if not nested:
            warnings.append(_layout(f"base config `{shown}` has no `model:` section: vibench reads its top-level "
                                    "keys as the model's", pos, "PHM-Vibench merges a base config whole, so these "
                                    "keys land at the top level of the config, where its model factory does not "
                                    "read them", "nest them under `model:` in that file"))
        for path, at, first in base.duplicates:  # others: PyYAML's way, as for the experiment's own sections
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
        return section
    searched = ", ".join(library.display(d) for d in allowed)
    raise SpecError([Diagnostic("E205", f"base config `{shown}` not found in the experiment's project", pos,
                                notes=(f"base configs are read only inside: {searched}",),
                                hint="write the path relative to the experiment or its project root (the folder "
                                "with `.git` or `configs/`), or add its folder with --spec-path")],
                    {doc.file: doc.text})


def _hide(d: Diagnostic, values: list[str]) -> Diagnostic:
    from dataclasses import replace

    def hide(text: str | None) -> str | None:  # whole names only: a suggested `MobileNet1D` stays readable
        for value in values:
            text = re.sub(rf"(?<![A-Za-z0-9_]){re.escape(value)}(?![A-Za-z0-9_])", "<from the base config>",
                          text) if text is not None else None
        return text

    return replace(d, message=hide(d.message) or d.message, found=hide(d.found), hint=hide(d.hint),
                   notes=tuple(hide(note) or "" for note in d.notes))


def _quiet(d: Diagnostic, ref: str, pos: Pos | None) -> Diagnostic:
    """A problem inside a base config, said without quoting the file."""
    where = f" (line {d.pos.line}, column {d.pos.col})" if d.pos is not None else ""
    kinds = {"E001": "is not valid YAML", "E002": "is too large or too deep", "E003": "uses a YAML tag",
             "E004": "cannot be read", "E005": "repeats a key"}
    return Diagnostic(d.code, f"base config `{ref}` {kinds.get(d.code, 'cannot be loaded')}{where}", pos,
                      hint="check that file; its contents are not shown here")


def _clip(text: str) -> str:
    from vibench.compiler.diagnostics import clip

    return clip(text, 120)
