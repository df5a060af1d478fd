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
"""

from __future__ import annotations

import os
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError, suggest
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc, Loc, read_spec_file
from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES, Library

FAMILY_FOLDERS = {"ISFM": "isfm", "CNN": "cnn", "RNN": "rnn", "Transformer": "transformer", "MLP": "mlp", "NO": "no"}
FACTORY_KEYS = {
    "weights_path": "the PHM-Vibench factory loads this checkpoint; use "
    "vibench.runtime.checkpoint.load_reference_state_dict",
    "weight_path": "a misspelling of `weights_path` that even the PHM-Vibench factory ignores",
}
SECTIONS = ("environment", "data", "model", "task", "trainer")


def is_experiment(data: Any) -> bool:
    """True for a PHM-Vibench experiment config (a mapping with `model:` or `base_configs:`, no `vibench:`)."""
    return isinstance(data, dict) and "vibench" not in data and ("model" in data or "base_configs" in data)


def translate(doc: LoadedDoc, library: Library) -> tuple[LoadedDoc, list[Diagnostic]]:
    """The equivalent spec document, and warnings about keys that have no effect."""
    model, where = _model_section(doc, library)
    warnings: list[Diagnostic] = []
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
    template = _template(kind, name, type_pos, name_pos, doc)
    try:
        path = library.find(template, None, name_pos)
    except SpecError:
        raise _no_template(kind, name, FAMILY_FOLDERS[kind], name_pos, doc) from None
    root, _ = library.load(path, where.get("name", model_pos))
    declared = {p.name for p in root.params}
    ignored = dict(root.reference.ignored_keys) if root.reference is not None else {}
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
            warnings.append(Diagnostic("W101", f"`{key}` is ignored by the reference {kind}/{name}; vibench "
                                       "ignores it too", pos, severity="warning", found=ignored[key]))
        elif key in FACTORY_KEYS:
            warnings.append(Diagnostic("W102", f"`{key}` is read by the PHM-Vibench factory, not by the model", pos,
                                       severity="warning", hint=FACTORY_KEYS[key]))
        else:
            warnings.append(Diagnostic("W103", f"unknown key `{key}`: neither `{template}` nor the reference reads "
                                       "it", pos, severity="warning",
                                       hint=suggest(key, declared) or "remove it, or check the template's "
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
        raise SpecError([Diagnostic("E220", f"no vibench templates for PHM-Vibench model type `{kind}`", type_pos,
                                    expected="one of " + ", ".join(f"`{k}`" for k in FAMILY_FOLDERS),
                                    hint=suggest(kind, FAMILY_FOLDERS))], {doc.file: doc.text})
    if not name.replace("_", "").isalnum():
        raise _no_template(kind, name, folder, name_pos, doc)
    return f"{folder}/{name}"


def _no_template(kind: str, name: str, folder: str, pos: Pos | None, doc: LoadedDoc) -> SpecError:
    base = os.path.join(LIBRARY_DIR, folder)
    available = sorted(os.path.splitext(f)[0] for f in os.listdir(base)
                       if f.endswith(SPEC_SUFFIXES)) if os.path.isdir(base) else []
    return SpecError([Diagnostic("E220", f"no vibench template for PHM-Vibench model `{kind}/{name}`", pos,
                                 expected="one of " + (", ".join(f"`{a}`" for a in available) or "(none)"),
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


def _base_model(ref: str, doc: LoadedDoc, library: Library, pos: Pos | None) -> dict[str, Any]:
    """The `model:` section of a base config file, found next to the experiment or on the search path."""
    from_dir = os.path.dirname(doc.path) if doc.path else library.cwd
    candidates = [os.path.normpath(os.path.join(d, ref)) for d in [from_dir, library.cwd, *library.user_dirs]]
    roots = [os.path.realpath(d) for d in [from_dir, library.cwd, *library.user_dirs]]
    if os.path.isabs(ref):
        raise SpecError([Diagnostic("E205", f"base config `{ref}` is an absolute path", pos,
                                    hint="write it relative to the experiment file or the working folder")],
                        {doc.file: doc.text})
    for cand in candidates:
        if os.path.isfile(cand):
            real = os.path.realpath(cand)
            if not any(real == r or real.startswith(r + os.sep) for r in roots):
                raise SpecError([Diagnostic("E205", f"base config `{ref}` points outside the search path", pos)],
                                {doc.file: doc.text})
            if doc.path and real == os.path.realpath(doc.path):
                raise SpecError([Diagnostic("E206", "the experiment names itself as its base config", pos)],
                                {doc.file: doc.text})
            base = read_spec_file(real, library.display(real))
            library.sources[base.file] = base.text
            section = base.data.get("model", base.data) if isinstance(base.data, dict) else None
            if not isinstance(section, dict):
                raise SpecError([Diagnostic("E102", f"base config `{ref}` holds no `model:` mapping", pos)],
                                {doc.file: doc.text})
            return section
    raise SpecError([Diagnostic("E205", f"base config `{ref}` not found", pos,
                                notes=("searched from: " + ", ".join(library.display(d) for d in roots),))],
                    {doc.file: doc.text})
