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
from collections.abc import Collection
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError, suggest
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc, read_spec_file
from vibench.compiler.load_compose import Loc
from vibench.compiler.phm_checks import duplicate_keys, find_template, num_classes_from, required_keys
from vibench.compiler.phm_guide import ALIASES, apply_guide, fixed_key_reason
from vibench.compiler.phm_metadata import DatasetMetadata
from vibench.compiler.phm_reference import MODELS, type_for_name, why_not_buildable
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
    try:
        synthesized, notes = _translate(doc, library, metadata, given)
    except SpecError as err:  # the repeated keys come with what else is wrong (the last value was read)
        repeated = [d for d in warnings if d.code == "W113"]
        raise SpecError(list(err.diagnostics) + repeated, err.sources) from None
    return synthesized, warnings + notes


def _translate(doc: LoadedDoc, library: Library, metadata: DatasetMetadata | None,
               given: Collection[str]) -> tuple[LoadedDoc, list[Diagnostic]]:
    warnings: list[Diagnostic] = []
    model, where = _model_section(doc, library)
    model_pos = doc.pos(("model",), key=True) if "model" in doc.data else doc.pos(("base_configs",), key=True)
    kind, name = model.get("type"), model.get("name")
    if isinstance(kind, bool) or isinstance(name, bool):
        own_keys = doc.data.get("model") if isinstance(doc.data.get("model"), dict) else {}
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
    own = doc.data.get("model") if isinstance(doc.data.get("model"), dict) else {}
    type_pos = doc.pos(("model", "type")) if "type" in own else where.get("type", model_pos)
    name_pos = doc.pos(("model", "name")) if "name" in own else where.get("name", model_pos)
    try:
        template = _template(kind, name, type_pos, name_pos, doc)
        path, component = find_template(template, library, name_pos)
        if path is None:
            raise _no_template(kind, name, FAMILY_FOLDERS[kind], name_pos, doc) from None
    except SpecError as err:  # a type or name from a base config is named, not shown
        hidden = [value for key, value in (("type", kind), ("name", name)) if key not in own and value]
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
    warnings += num_classes_from(model, where, root, metadata, given, model_pos)
    missing, unneeded = required_keys(model, root, library, given, model_pos)
    warnings += unneeded
    if errors or missing:
        raise SpecError(errors + missing, {doc.file: doc.text})
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


def _model_section(doc: LoadedDoc, library: Library) -> tuple[dict[str, Any], dict[str, Pos | None]]:
    """The effective `model:` mapping (base file first, the experiment's own keys on top) and where
    each key was written (keys from a base file point at its `base_configs` entry)."""
    data = doc.data
    merged: dict[str, Any] = {}
    where: dict[str, Pos | None] = {}
    bases = data.get("base_configs")
    if bases is not None:
        if not isinstance(bases, dict):
            raise SpecError([Diagnostic("E102", "`base_configs` must map sections to files",
                                        doc.pos(("base_configs",)), found=type(bases).__name__)],
                            {doc.file: doc.text})
        ref = bases.get("model")
        if ref is not None:
            pos = doc.pos(("base_configs", "model"))
            if not isinstance(ref, str):
                raise SpecError([Diagnostic("E102", "`base_configs.model` must be a file path", pos)],
                                {doc.file: doc.text})
            section = _base_model(ref, doc, library, pos)
            for key, value in section.items():
                merged[key] = value
                where[key] = pos
    own = data.get("model")
    if own is not None:
        if not isinstance(own, dict):
            raise SpecError([Diagnostic("E102", "`model:` must be a mapping", doc.pos(("model",)),
                                        found=type(own).__name__)], {doc.file: doc.text})
        for key, value in own.items():
            merged[key] = value
            where[key] = doc.pos(("model", key), key=True)
    return merged, where


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


def _base_model(ref: str, doc: LoadedDoc, library: Library, pos: Pos | None) -> dict[str, Any]:
    """The `model:` section of a base config file, found in the experiment's project or on the search path."""
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
        section = base.data.get("model", base.data) if isinstance(base.data, dict) else None
        nested = isinstance(base.data, dict) and "model" in base.data
        repeats = [d for path, d, _ in base.duplicates if not nested or path[0] == "model"]  # others: PyYAML's way
        if repeats:
            raise SpecError([_quiet(Diagnostic("E005", "", repeats[0]), shown, pos)], {doc.file: doc.text})
        if not isinstance(section, dict):
            raise SpecError([Diagnostic("E102", f"base config `{shown}` holds no `model:` mapping", pos)],
                            {doc.file: doc.text})
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

    def hide(text: str | None) -> str | None:
        for value in values:
            text = text.replace(value, "<from the base config>") if text is not None else None
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
