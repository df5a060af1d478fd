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
  reported as warnings (W101, W102, W103), never silently dropped: with the errors when the compile fails
  (:data:`KEPT_WITH_ERRORS`), and E221 for a missing key names an unread key that looks like it;
* a template parameter the reference model never reads (a vibench extension, such as Informer's
  ``distil``: :data:`~vibench.compiler.phm_reference.EXTENSIONS`) is passed on with note I106, as the
  model then is not the one PHM-Vibench builds from the config.

The `model:` section is read as PHM-Vibench's ``load_config`` merges it (:mod:`vibench.compiler.phm_merge`):
every `base_configs` entry in order, whatever its name (a file's `model:` section counts), then the
experiment's own `model:` with its dotted keys (``model.signal_processing_configs.layer1: [HT, I]``, expanded
to any depth, only in a config with `base_configs`), a mapping merged into a mapping key by key at any depth,
any other value replacing what was there. What that loader reads differently — a base file without `model:`,
a dotted key it does not apply — is W114.

Positions point into the experiment file, so a wrong value is located where the user wrote it.

A base config is found relative to the experiment's folder, its *project root* or the working
folder, and must lie inside the project root or a folder of the spec search path (E205 otherwise).
The project root is the nearest folder above the experiment (its own folder included) that holds
``.git`` or a ``configs`` folder — PHM-Vibench's layout — but never the home folder or ``/``;
without such a folder it is the experiment's own folder. Nothing a base config holds is echoed in
messages: not its lines (a YAML error in it is reported at the `base_configs` entry, by line and
column only), nor its values, nor its keys. Every diagnostic said of the merged `model:` section
passes through :func:`~vibench.compiler.phm_base.said_without_base_values`: one located at a
`base_configs` entry is phrased by :func:`~vibench.compiler.phm_base.hide_base_values` — the code, the
position and the template parameter it concerns, never the value or what a pass computed from it — unless
its code is worded so already (:data:`~vibench.compiler.phm_base.SAID_AS_WRITTEN`: I106 names a template
parameter and quotes no value); one located in the experiment names what a base config gave by key and file
(E222 against a base config's `input_dim`, E221's default computed from it); and keys no one reads are
counted, not named (W103), so pointing `base_configs` at a secret does not print the secret.

Each base config file is read once however many entries name it, and the files count against the
compilation's budget of spec files (:func:`vibench.compiler.load.source_budget`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from vibench.compiler.caller_words import CallerWords
from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, Diagnostic, SpecError, Suggestions, clip, closest, one_of
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc
from vibench.compiler.load_compose import Loc, pyyaml_readings
from vibench.compiler.params import count_rest, expected_names
from vibench.compiler.phm_base import base_files, hide, keys_from_bases, said_without_base_values, unshown
from vibench.compiler.phm_checks import empty_slots, extension_keys, find_template, num_classes_from, required_keys
from vibench.compiler.phm_guide import ALIASES, GUIDE_KEYS, apply_guide, fixed_key_reason, given_hint
from vibench.compiler.phm_merge import MAX_BASE_CONFIGS as MAX_BASE_CONFIGS  # its limit, named here too
from vibench.compiler.phm_merge import ModelSection, model_section
from vibench.compiler.phm_metadata import DatasetMetadata
from vibench.compiler.phm_readings import duplicate_keys, may_read_otherwise, yaml_1_1_numbers
from vibench.compiler.phm_reference import unregistered
from vibench.compiler.phm_template import FAMILY_FOLDERS as FAMILY_FOLDERS  # where the editor imports it from
from vibench.compiler.phm_template import no_template, template_for
from vibench.compiler.resolve import Library
from vibench.compiler.resolve_extends import reference_key_warning
from vibench.compiler.yaml_text import yaml_text

FACTORY_KEYS = {
    "weights_path": "the PHM-Vibench factory loads this checkpoint; use "
    "vibench.runtime.checkpoint.load_reference_state_dict",
}
SECTIONS = ("environment", "data", "model", "task", "trainer")
MAX_NAMED_UNKNOWN = 100
"""Unknown keys of an experiment's `model:` named one by one (W103, with a "did you mean"); the rest are counted."""
KEPT_WITH_ERRORS = ("W101", "W102", "W103", "W113", "W114")
"""What is said of the config's keys and layout that a failed compile reports with its errors: a misspelt key
(`input_dm`) is often why it fails, and a hint that fills in a default would build another model."""


def translate(doc: LoadedDoc, library: Library, metadata: DatasetMetadata | None = None,
              given: Mapping[str, Any] | None = None) -> tuple[LoadedDoc, list[Diagnostic]]:
    """The equivalent spec document, and the notes and warnings about the config's keys.

    ``metadata`` (PHM-Vibench's metadata table, read by :mod:`vibench.compiler.phm_metadata`)
    gives ``num_classes`` as the reference factory does; ``given`` holds the parameters set on the
    command line (``--set``) or in Python, with their values: no key of the config needs to supply
    them, and a component given for a slot is the one whose keys the reference needs.
    """
    if not doc.numbers and not doc.duplicates and may_read_otherwise(doc):  # read as a spec (pipeline.load):
        doc = replace(doc, numbers=pyyaml_readings(doc.text, doc.file))  # `dropout: 1e-1`, 0.1, is PyYAML's string
    numbers = yaml_1_1_numbers(doc)  # `num_classes: 010`: E001, as in a spec; elsewhere PyYAML's number
    if numbers:
        raise SpecError(numbers, {doc.file: doc.text})
    warnings = duplicate_keys(doc)
    layout: list[Diagnostic] = []  # what the base configs and dotted keys say (W113, W114), kept with errors
    try:
        synthesized, notes = _translate(doc, library, metadata, given or {}, layout)
    except SpecError as err:  # the repeated keys come with what else is wrong (the last value was read)
        repeated = [d for d in warnings + layout if d.code in KEPT_WITH_ERRORS]
        raise SpecError(list(err.diagnostics) + repeated, err.sources) from None
    return synthesized, warnings + notes


def _translate(doc: LoadedDoc, library: Library, metadata: DatasetMetadata | None,
               given: Mapping[str, Any], layout: list[Diagnostic]) -> tuple[LoadedDoc, list[Diagnostic]]:
    """The spec, with the base configs' own warnings (``layout``: W113, W114, which quote nothing of them) and
    then what is said of the merged `model:` section, each of those said by
    :func:`~vibench.compiler.phm_base.said_without_base_values` and without a string a base config gave
    (:func:`~vibench.compiler.phm_base.unshown`)."""
    section = model_section(doc, library, layout)
    names = {"type", "name"}  # the parameters hidden messages may name: the template's join once it is known
    known = (names, GUIDE_KEYS)  # (`names` grows by the template's once it is known)
    strings = unshown(section.values, section.where, library.quiet, library.sources.values(), known)
    try:
        synthesized, notes = _read_section(doc, section, library, metadata, given, names)
    except SpecError as err:
        raise SpecError(strings.said(said_without_base_values(err.diagnostics, library.quiet, names)),
                        err.sources) from None
    return synthesized, [*layout, *strings.said(said_without_base_values(notes, library.quiet, names))]


def _read_section(doc: LoadedDoc, section: ModelSection, library: Library, metadata: DatasetMetadata | None,
                  given: Mapping[str, Any], names: set[str]) -> tuple[LoadedDoc, list[Diagnostic]]:
    model, where, from_bases = section.values, section.where, section.from_bases
    warnings: list[Diagnostic] = []
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
    present = [key for key, value in (("type", kind), ("name", name)) if not isinstance(value, str | None)]
    if present:  # written, but not as a name (`name: [ResNet1D]`): said at the value, not as if it were missing
        key = present[0]
        pos = doc.pos(("model", key)) if key in own_keys else where.get(key, model_pos)
        value = kind if key == "type" else name
        raise SpecError([Diagnostic("E103", f"`{key}` of the `model:` section must be a name", pos,
                                    found=clip(repr(value), 80), expected="a string (`type: CNN`, `name: ResNet1D`)",
                                    hint="they select the PHM-Vibench model class the template reproduces")],
                        {doc.file: doc.text})
    if not isinstance(kind, str) or not isinstance(name, str):
        raise SpecError([_missing_type_or_name(kind, name, model_pos)], {doc.file: doc.text})
    type_pos = doc.pos(("model", "type")) if "type" in own_keys else where.get("type", model_pos)
    name_pos = doc.pos(("model", "name")) if "name" in own_keys else where.get("name", model_pos)
    hidden = [value for key, value in (("type", kind), ("name", name)) if key in from_bases and value]
    try:
        template = template_for(kind, name, type_pos, name_pos, doc, hidden)
        if library.home is None:  # the experiment's folder, as resolve sets it: searched, and listed, here too
            library.home = os.path.dirname(os.path.realpath(doc.path)) if doc.path else library.cwd
        path, component = find_template(template, library, name_pos)
        if path is None:
            raise no_template(kind, name, FAMILY_FOLDERS[kind], name_pos, doc, hidden) from None
    except SpecError as err:  # a type or name from a base config is named, not shown
        if not hidden:
            raise
        raise SpecError([hide(d, hidden) for d in err.diagnostics], err.sources) from None
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
    names |= declared | set(ignored) | set(FACTORY_KEYS) | set(ALIASES) | {"depth", "num_classes"}
    model, where = dict(model), dict(where)
    notes, errors = apply_guide(model, where, declared, reference,
                                lambda path: _nested_pos(doc, section, path, model_pos), given, library,
                                base_files(doc, where, library.quiet))
    warnings += notes
    errors += _unknown_given(given, declared, ignored, reference, template, root.name, library, model_pos)
    based = keys_from_bases(where, library.quiet)  # after the guide: a key it set from a base config's is one too
    for key in based & given.keys():  # replaced by the value given beside the config: located as if none were written,
        where[key] = model_pos  # not at the base config's entry, whose values are said without quoting them
    empty_slots(model, root, given)  # M_02_ISFM_Prompt without a backbone: none, as there (nn.Identity)
    warnings += num_classes_from(model, where, root, metadata, given, model_pos, in_python=library.in_python,
                                 library=library, hidden=based)
    missing, unneeded = required_keys(model, root, library, given, model_pos, keys_from_bases(where, library.quiet))
    warnings += unneeded
    unused, unknown = _unused_keys(model, where, declared, ignored, reference, template, from_bases, model_pos)
    if errors or missing:  # with the keys nothing reads: `input_dm: 2` is likely the missing `input_dim`
        near = [_near_miss(key, d, model, where, declared, unknown) for key, d in missing.items()]
        raise SpecError(errors + near + unused, {doc.file: doc.text})
    warnings += extension_keys(model, where, root, library, given, model_pos)
    warnings += _unregistered_components(model, where, reference, model_pos, from_bases, given, library)
    warnings += unused
    with_ = {key: _literal(value) for key, value in model.items() if key in declared and key not in ("type", "name")}
    data = {"vibench": 1, "extends": template, "with": with_}
    children: dict[str, Any] = {
        "vibench": ((1, 1), Loc((1, 1))),
        "extends": ((1, 1), Loc(_at(where.get("name", model_pos)))),
        "with": ((1, 1), Loc(_at(model_pos), {k: _entry(where, section.locs, k, model_pos) for k in with_})),
    }
    synthesized = LoadedDoc(data=data, file=doc.file, path=doc.path, text=doc.text, root=Loc((1, 1), children))
    return synthesized, warnings


def _unused_keys(model: dict[str, Any], where: dict[str, Pos | None], declared: set[str], ignored: dict[str, str],
                 reference: str, template: str, from_bases: set[str], model_pos: Pos | None
                 ) -> tuple[list[Diagnostic], list[str]]:
    """(W101, W102, W103 for the keys of the merged `model:` section the template does not read, the experiment's
    own unknown keys W103 names): said whether or not the config compiles, as a misspelt key is often why not."""
    warnings: list[Diagnostic] = []
    unread: dict[Pos | None, int] = {}  # base config entry -> how many of its keys nothing reads (W103, unnamed)
    unknown: list[str] = []  # the experiment's own unknown keys: the first ones named with a hint, the rest counted
    more, hints = 0, Suggestions(declared | FACTORY_KEYS.keys())  # (one "did you mean" budget for them all; the
    # factory's keys among them: `weight_path` is a misspelling of `weights_path` that nothing in PHM-Vibench reads)
    for key in model:
        pos = where.get(key, model_pos)
        if key in ("type", "name") or key in declared:
            continue
        fixed = None if key in ignored else fixed_key_reason(key, reference)  # the guide's `activation`, `dropout`
        if key in ignored:  # the reference ignores it too, or reads it where vibench needs none (TSPN's `device`)
            warnings.append(reference_key_warning(f"`{key}`", key, reference, ignored[key], pos))
        elif fixed is not None:
            warnings.append(Diagnostic("W101", f"`{key}` does not change the outputs of the reference "
                                       f"{reference}; vibench ignores it", pos, severity="warning", found=fixed,
                                       hint=f"`{template}` has no `{key}` parameter: its architecture is the "
                                       "reference's"))
        elif key in FACTORY_KEYS:
            warnings.append(Diagnostic("W102", f"`{key}` is read by the PHM-Vibench factory, not by the model", pos,
                                       severity="warning", hint=FACTORY_KEYS[key]))
        elif key in from_bases and key not in ALIASES:  # its name is the base config's: counted, not shown
            unread[pos] = unread.get(pos, 0) + 1
        elif len(unknown) >= MAX_NAMED_UNKNOWN:  # past the first ones, counted (a 600,000-key section: 40 s of hints)
            more += 1
        else:
            unknown.append(key)
            hint = hints.hint(key) if key not in ALIASES else (
                f"`{key}` is the model guide's name for `{ALIASES[key]}`, which `{template}` does not take")
            warnings.append(Diagnostic("W103", f"unknown key `{key}`: neither `{template}` nor the reference reads "
                                       "it", pos, severity="warning",
                                       hint=hint or "remove it, or check the template's "
                                       "parameters with `vibench-compile --list`"))
    if more:
        warnings.append(Diagnostic("W103", f"{more:,} more unknown keys that neither `{template}` nor the reference "
                                   "reads", model_pos, severity="warning",
                                   hint=f"the first {MAX_NAMED_UNKNOWN} are named above; compare the section with "
                                   f"`vibench-compile --list {template}`"))
    for pos, count in unread.items():
        keys = "a key" if count == 1 else f"{count:,} keys"
        warnings.append(Diagnostic("W103", f"the base config has {keys} that neither `{template}` nor the "
                                   "reference reads", pos, severity="warning",
                                   hint="their names are not shown here: compare that file's `model:` section with "
                                   f"`vibench-compile --list {template}`"))
    return warnings, [key for key in unknown if key not in ALIASES]


def _near_miss(key: str, missing: Diagnostic, model: dict[str, Any], where: dict[str, Pos | None],
               declared: set[str], unknown: list[str]) -> Diagnostic:
    """E221 ``missing`` (of ``key``) with its hint at the first ``unknown`` key that is a misspelling of ``key``
    (`input_dm: 2` for `input_dim`): the default the hint offers otherwise builds another model than the one
    the config meant (one input channel, not two)."""
    near = next((u for u in unknown if closest(u, {*declared, key}) == key), None)
    if near is None or (pos := where.get(near)) is None:
        return missing
    try:  # a list or mapping (its text may be long), or a value YAML cannot write, is named by its key alone
        shown = "" if isinstance(model[near], list | dict) else f": {clip(yaml_text(model[near]), 60)}"
    except TypeError:
        shown = ""
    return replace(missing, hint=f"`{_clip(near)}{shown}` at line {pos.line} may be it: rename it to `{key}` "
                   f"(nothing reads `{_clip(near)}`)")


def _unknown_given(given: Mapping[str, Any], declared: set[str], ignored: dict[str, str], reference: str,
                   template: str, model: str, library: Library, pos: Pos | None) -> list[Diagnostic]:
    """E201 for a parameter set on the command line (or in Python) that the template does not take,
    with a hint for a PHM-Vibench config, which has no `params:` to declare it in: a key of the model guide
    (`depth`, `in_channels`, a task name) says what the template takes instead (:func:`given_hint`). The first
    MAX_DIAGNOSTICS are built, with one "did you mean" budget and one `expected` text, the rest counted."""
    # (a key the reference ignores is W101, and `params=` resolve's own E201)
    unknown = [key for key in given if key not in declared and key not in ignored and key != "params"]
    hints = Suggestions(declared)
    expected = "one of " + one_of(declared) if declared else expected_names((), f"model `{model}`")
    errors = []
    for key in unknown[:MAX_DIAGNOSTICS]:
        hint = given_hint(key, given[key], declared, reference, template, library)
        if hint is None:
            close = hints.hint(key)
            hint = (f"{close[:-1]} (a key of the `model:` section)?" if close else
                    "remove it: the template's parameters are the keys of the `model:` section (a PHM-Vibench "
                    f"config has no `params:`); `vibench-compile --list {template}` shows them")
        errors.append(Diagnostic("E201", f"unknown parameter `{_clip(key)}` ({library.given_as}) for model `{model}`",
                                 pos, expected=expected, hint=hint))
    return count_rest(errors, len(unknown) - len(errors), f"unknown parameter{{s}} for model `{model}`")


def _unregistered_components(model: dict[str, Any], where: dict[str, Pos | None], reference: str,
                             default: Pos | None, from_bases: set[str], given: Mapping[str, Any],
                             words: CallerWords) -> list[Diagnostic]:
    """W115 for each component PHM-Vibench's ISFM model does not hold in its tables (a KeyError there): the one
    the compile builds, a value ``given`` beside the config (``--set``) in place of the config's."""
    warnings = []
    for slot in ("embedding", "backbone", "task_head"):
        value = given[slot] if slot in given else model.get(slot)
        builds = unregistered(reference, slot, value) if isinstance(value, str) else None
        if builds is None:
            continue
        owner = reference.split("/")[-1]
        notes: tuple[str, ...] = ()
        if slot in given:
            shown, notes = f"`{_clip(str(value))}` ({words.given_as})", (words.given_note(slot),)
        else:
            shown = "from the base config" if slot in from_bases else f"`{_clip(str(value))}`"
        warnings.append(Diagnostic("W115", f"PHM-Vibench's {owner} cannot build the {slot} {shown}; vibench "
                                   "builds it (a vibench extension)", where.get(slot, default), severity="warning",
                                   found=f"{owner} builds only: {', '.join(builds)} (any other name is a KeyError "
                                   "there)", notes=notes,
                                   hint="pick one of those if the config must also run in PHM-Vibench"))
    return warnings


def _nested_pos(doc: LoadedDoc, section: ModelSection, path: tuple, default: Pos | None) -> Pos | None:
    """Where the value at ``path`` inside the merged `model:` section was written (``("task_configs", "prediction")``):
    its key in the experiment — under `model:`, or a dotted key (`model.task_configs:`) — or the `base_configs` entry
    whose file gave it; as far down the path as it was written, else at ``default``."""
    key, *inside = path
    pos, loc = section.where.get(key, default), section.locs.get(key)
    for part in inside:
        children = loc.children if loc is not None and isinstance(loc.children, dict) else {}
        if part not in children:
            break
        key_pos, loc = children[part]
        pos = Pos(doc.file, *key_pos)
    return pos


def _literal(value: Any) -> Any:
    """``value`` as the `with:` of a spec reads it literally: PHM-Vibench reads its configs with plain YAML, where
    `"${x}"` is text, so each `${` is written `$${` (which reads back as `${`; a written `$${` stays `$${`)."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    return value


def _at(pos: Pos | None) -> tuple[int, int]:
    return (pos.line, pos.col) if pos is not None else (1, 1)


def _entry(where: dict[str, Pos | None], locs: dict[str, Loc], key: str, default: Pos | None
           ) -> tuple[tuple[int, int], Loc]:
    """A `with:` entry's key position and location map: a mapping merged from several places is located
    key by key (:class:`~vibench.compiler.phm_merge.Written`), unless the model guide moved the key."""
    pos = _at(where.get(key, default))
    loc = locs.get(key)
    return pos, loc if loc is not None and loc.pos == pos else Loc(pos)


def _clip(text: str) -> str:
    return clip(text, 120)


def _missing_type_or_name(kind: str | None, name: str | None, pos: Pos | None) -> Diagnostic:
    """E103 for a `model:` section without ``type`` or ``name`` (or both): which one is missing, and, for a ``name``
    of a reference model, its ``type`` (`name: M_01_ISFM` without a type asked for the name it has)."""
    from vibench.compiler.phm_reference import MODELS, type_for_name

    why = "they select the PHM-Vibench model class the template reproduces"
    if kind is None and name is None:
        return Diagnostic("E103", "the `model:` section needs `type` and `name`", pos,
                          expected="e.g. `type: CNN` and `name: ResNet1D`", hint=why)
    if kind is None:
        family = type_for_name(str(name))
        return Diagnostic("E103", "the `model:` section needs `type` beside its `name`", pos,
                          found=f"`name: {clip(str(name), 60)}` and no `type`", expected="e.g. `type: CNN`",
                          hint=f"write `type: {family}` (PHM-Vibench's `{name}` is of type `{family}`)" if family
                          else f"write the model's family, one of {', '.join(f'`{k}`' for k in MODELS)}; {why}")
    names = MODELS.get(str(kind), ())
    return Diagnostic("E103", "the `model:` section needs `name` beside its `type`", pos,
                      found=f"`type: {clip(str(kind), 60)}` and no `name`", expected="e.g. `name: ResNet1D`",
                      hint=(f"write the model, one of {', '.join(f'`{n}`' for n in names[:12])}"
                            + (f" and {len(names) - 12} more" if len(names) > 12 else "")) if names else why)
