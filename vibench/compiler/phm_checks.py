"""Checks of a PHM-Vibench experiment config that PHM-Vibench itself would fail or fill in.

Used by :func:`vibench.compiler.phm.translate`; each function reads the config as PyYAML and
the reference factory read it and reports what vibench would otherwise have to guess:

* :func:`duplicate_keys`, :func:`yaml_1_1_numbers` — a key written twice (W113 inside `model:`, W110 elsewhere) and
  a plain scalar PyYAML reads otherwise (E001 inside `model:`), from :mod:`vibench.compiler.phm_readings`;
* :func:`find_template` — the template of a `type/name`, or of an ISFM component on its own;
* :func:`num_classes_from` — ``num_classes`` from the dataset metadata table (``--metadata``, by
  :func:`classes_for`, which a vibench spec's compile uses too), W116 for the rows it skips,
  and W111 when it falls back to the template's default (a number, or null: no classifier) that a component
  chosen reads;
* :func:`required_keys` — keys the reference model (and each component its slots hold) reads as
  attributes and cannot be built without (:func:`vibench.compiler.phm_reference.required`):
  E221 with the value vibench would use (not one computed from a base config's value), or W112 when vibench
  needs no value for it; none while a slot names a component that does not exist, whose E214 comes first;
* :func:`empty_slots` — the slots the reference model leaves empty when their key is missing or false
  (:data:`vibench.compiler.phm_reference.EMPTY_SLOTS`): set to null, which the template builds as nothing;
* :func:`extension_keys` — keys the template (or a component its slots hold) reads and the reference model
  does not (:data:`vibench.compiler.phm_reference.EXTENSIONS`): note I106, the model is not PHM-Vibench's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.expr import template_names
from vibench.compiler.ir import ParamDecl, Pos, Template, UnitDef
from vibench.compiler.phm_metadata import MAX_SYSTEMS as MAX_SYSTEMS  # the limit E202 says, named here too
from vibench.compiler.phm_metadata import DatasetMetadata, skipped_rows_warning
from vibench.compiler.phm_readings import MODEL_SECTIONS as MODEL_SECTIONS  # (split out; named here too)
from vibench.compiler.phm_readings import _json
from vibench.compiler.phm_readings import duplicate_keys as duplicate_keys
from vibench.compiler.phm_readings import first_written as first_written
from vibench.compiler.phm_readings import yaml_1_1_numbers as yaml_1_1_numbers
from vibench.compiler.phm_reference import EMPTY_SLOTS, EXTENSIONS, required
from vibench.compiler.phm_units import chosen_units, reads_parameter
from vibench.compiler.resolve import Library


def find_template(template: str, library: Library, pos: Pos | None) -> tuple[str | None, str | None]:
    """The file of ``template`` (``isfm/M_01_ISFM``), else of a component of that name in one of the
    family's slot folders (``isfm/backbone/B_08_PatchTST``): (path, the component's name or None)."""
    # Only a name with no file moves on to the next: a file there that links outside the search path, or is a
    # folder, is said as such (the library's component of that name was compiled in its place, with an I102).
    path = library.locate(template, None, pos)
    if path is not None:
        return path, None
    folder, _, name = template.partition("/")
    for sub in _subfolders(folder, library):
        component = f"{folder}/{sub}/{name}"
        path = library.locate(component, None, pos)
        if path is not None:
            return path, component
    return None, None


def _subfolders(folder: str, library: Library) -> list[str]:
    """The names of the folders under ``folder`` in the roots a lookup searches (sorted).

    Which component :func:`find_template` takes follows these listings (a folder added that sorts first may hold
    another of that name), so each is recorded in ``library.looked`` (``"folders"``), as a slot folder's is:
    ``vibench.build``'s cache keeps it with its model, and a folder added or removed since is another model."""
    found: set[str] = set()
    for root in dict.fromkeys(library.roots(None)):
        base = os.path.join(root, folder)
        # as the OS looks it up (each root is absolute; `top/link/..` is where the link leads up from, which
        # `abspath` made `top`), absent too: created later, it may hold the component
        library.looked[base] = "folders"
        if os.path.isdir(base):
            found |= {entry for entry in os.listdir(base) if os.path.isdir(os.path.join(base, entry))}
    return sorted(found)


def num_classes_from(model: dict[str, Any], where: dict[str, Pos | None], root: UnitDef,
                     metadata: DatasetMetadata | None, given: Collection[str],
                     model_pos: Pos | None, *, in_python: bool = False, library: Library | None = None,
                     hidden: Collection[str] = ()) -> list[Diagnostic]:
    """Put the metadata's ``num_classes`` into ``model`` (the factory's rule); W111 on a silent default, unless
    nothing of the model the config chooses reads it (with ``library``, which finds the components: setting it
    would be W104). The hints name the table and the values as the caller gives them (``in_python``: `metadata=`,
    not `--metadata`).

    ``hidden`` are the keys whose values came from a base config (never quoted): the table's value that replaces
    such a `num_classes` is located at ``model_pos``, as one the config does not write, not at the base config's
    entry, whose values are said without quoting them (an error in the table's value is the table's)."""
    decl = root.param("num_classes")
    if decl is None or "num_classes" in given:
        return []
    if metadata is None:
        if "num_classes" in model or decl.required:
            return []
        settings = {**model, **given} if isinstance(given, Mapping) else model
        if library is not None and not reads_parameter("num_classes", settings, root, library):
            return []  # M_02_ISFM_Prompt without a head: no default is used either
        if decl.default is None:  # the template then builds something else than a classifier
            builds = next((part.strip().rstrip(".") for part in (decl.doc or "").split(";") if "null" in part),
                          "null: no classifier")
            message = f"`num_classes` is not set: vibench builds `{root.name}` without a classifier ({builds})"
        else:
            message = f"`num_classes` is not set: vibench uses the template's default {_json(decl.default)}"
        table = "`metadata=`" if in_python else "`--metadata FILE`"
        return [Diagnostic("W111", message, model_pos, severity="warning",
                           found="PHM-Vibench's factory always sets it, from the dataset metadata table",
                           hint=f"pass the experiment's metadata table with {table}, or write "
                           "`num_classes:` in the `model:` section")]
    option, keyword = ("metadata=", "pass `num_classes=N` to vibench.build") if in_python else \
        ("--metadata", "set it with `--set num_classes=N`")
    if "num_classes" in hidden or "num_classes" not in where:
        where["num_classes"] = model_pos
    value = classes_for(decl, metadata, root.name, where["num_classes"],
                        "replaces the config's `num_classes`, as PHM-Vibench's factory does: leave the table out "
                        f"(`{option}`) and write `num_classes:` in the `model:` section, {keyword}")
    warnings = [w for w in (skipped_rows_warning(metadata),) if w is not None]
    before = model.get("num_classes")
    model["num_classes"] = value
    config = "the base config's `num_classes`" if "num_classes" in hidden else \
        f"the config's `num_classes: {_json(before)}`"
    replaced = f"; it replaces {config}, as PHM-Vibench's factory does" \
        if before is not None and before != value else ""
    return [Diagnostic("I103", f"`num_classes` is {_json(value)}, from the metadata table{replaced}",
                       where["num_classes"], severity="note",
                       found=f"max(Label) + 1 per Dataset_id in {metadata.path}"), *warnings]


def classes_for(decl: ParamDecl, metadata: DatasetMetadata, model: str, pos: Pos | None, fix: str) -> Any:
    """The metadata's ``num_classes`` for the parameter ``decl`` of ``model``: the mapping of the factory for a
    parameter that takes one (ISFM's heads, one per system; at most :data:`MAX_SYSTEMS`), else the count of a
    single-system table; a table of several systems for one classifier, or of too many, is E202 at ``pos``
    (``fix``: what the hint says to do, after "the table gives N systems and ...")."""
    value: Any = dict(metadata.num_classes)
    # A table of more systems is read only up to the first one past the limit (read_metadata): its count is not known.
    systems = f"{len(value):,} systems" if len(value) <= MAX_SYSTEMS else f"more than {MAX_SYSTEMS:,} systems"
    if "dict" in decl.type:
        if len(value) > MAX_SYSTEMS:  # one head per system: refused before a pass reads it (E204 in an expression)
            raise SpecError([Diagnostic(
                "E202", f"the metadata table {clip(metadata.path, 200)} has {systems}: too many for `num_classes` "
                f"of `{model}`", pos, expected=f"at most {MAX_SYSTEMS:,} systems (one head each)",
                found=f"{systems} (Dataset_id values with a labelled row)",
                hint="give the table of the datasets the experiment trains on")])
        return value
    if len(value) != 1:  # one classifier: the reference crashes on the factory's mapping
        raise SpecError([Diagnostic(
            "E202", f"`{model}` has one classifier, but the metadata table has {systems}", pos,
            expected="`num_classes` an int", found=f"{clip(_json(value), 200)} from {clip(metadata.path, 200)}",
            hint=f"the table gives {systems} and {fix}, or use an ISFM model, whose heads take one class "
            "count per system")])
    return next(iter(value.values()))


def required_keys(model: dict[str, Any], root: UnitDef, library: Library, given: Mapping[str, Any],
                  model_pos: Pos | None, hidden: Collection[str] = ()
                  ) -> tuple[dict[str, Diagnostic], list[Diagnostic]]:
    """(E221 errors, by the key each says is missing, and W112 warnings) for keys the reference needs and the config
    lacks: those of the components chosen, where a value ``given`` beside the config (``--set``,
    ``vibench.build``'s keywords) replaces the config's, as if written in its `model:` section (``backbone=None``:
    no backbone, as `backbone: null`). E221 shows the value vibench would use, unless it is computed from a key of
    ``hidden`` (a base config's value, never shown): then it names the key instead. (The key is handed over as
    data: what is added to an E221 later, an unread key that looks like it, is found by it, not by its message.)

    None while a slot of the model names a component its folder does not hold: PHM-Vibench cannot build the model
    under that name (a KeyError in its component table), nor can the compile, which says so with E214 at the slot's
    key (E205 for a slot of a component, at the key that chose the component). E221s said instead would have the
    user add keys, only for that error to follow (`embedding: E_01_HSE_Prompt` beside a PatchTST without
    `e_layers`), and which keys are missing depends on the component meant."""
    errors: dict[str, Diagnostic] = {}
    warnings: list[Diagnostic] = []
    seen: set[str] = set()
    composite = root.reference.model if root.reference is not None else None
    chosen = {**model, **given}
    units = chosen_units(chosen, root, library)
    if _names_no_component(chosen, units, library):
        return errors, warnings
    for unit in units:
        reference = unit.reference.model if unit.reference is not None else None
        for key in required(reference or "", chosen, composite):
            if key in chosen or key in seen:
                continue
            seen.add(key)
            owner = reference.split("/")[-1] if reference else unit.name
            decls = [d for d in (root.param(key), unit.param(key)) if d is not None]
            if not decls or (unit.reference is not None and key in unit.reference.ignored_keys):
                warnings.append(Diagnostic(
                    "W112", f"`{key}` is missing: PHM-Vibench's {owner} cannot be built without it", model_pos,
                    severity="warning", found=f"vibench's `{unit.name}` does not read `{key}`",
                    hint=f"add `{key}:` to the `model:` section if the config must also run in PHM-Vibench"))
                continue
            default, source = _default(decls, root, unit, chosen, set(hidden) - set(given))
            if default is None:  # an expression over other parameters: no single value to show
                found, hint = f"no `{key}`; vibench computes it ({source})", \
                    f"add `{key}:` with the value the experiment means"
            else:
                found = f"no `{key}`; vibench would use `{key}: {default}` ({source})"
                hint = f"add `{key}: {default}` to build what vibench would, or the value the experiment means"
            errors[key] = Diagnostic(
                "E221", f"`{key}` is missing: PHM-Vibench's {owner} cannot be built without it", model_pos,
                expected=f"`{key}: ...` in the `model:` section", found=found, hint=hint)
    return errors, warnings


def _names_no_component(chosen: Mapping[str, Any], units: list[UnitDef], library: Library) -> bool:
    """Does a slot of ``units`` (the template and the components it holds) name, in ``chosen`` or by its default, a
    component that is not found? Each name is looked up as :func:`~vibench.compiler.phm_units.chosen_units` looks
    it up, so one not found here is one the compile cannot build."""
    for unit in units:
        for decl in unit.params:
            if decl.slot is None:
                continue
            value = chosen.get(decl.name, decl.default)
            for name in value if isinstance(value, list) else [value]:
                if not isinstance(name, str):
                    continue
                try:
                    library.find(f"{decl.slot}/{name}", None, None)
                except SpecError:
                    return True
    return False


def empty_slots(model: dict[str, Any], root: UnitDef, given: Collection[str]) -> None:
    """Set to null each slot of ``root`` that its reference model fills with an ``nn.Identity`` when the
    config leaves it out or false (M_02_ISFM_Prompt's `backbone` and `task_head`), so that vibench builds
    what PHM-Vibench does rather than the template's default component (a template whose slot does not take
    null says so: E202 for the parameter). A slot given on the command line (``given``) keeps its value."""
    reference = root.reference.model if root.reference is not None else ""
    for slot in EMPTY_SLOTS.get(reference, ()):
        if slot not in given and not model.get(slot):
            model[slot] = None


def extension_keys(model: Mapping[str, Any], where: Mapping[str, Pos | None], root: UnitDef, library: Library,
                   given: Mapping[str, Any], model_pos: Pos | None) -> list[Diagnostic]:
    """I106 for each key of the config that the chosen template and components read and their reference models
    do not (Informer's `distil`): PHM-Vibench builds another model from the config, whose checkpoints need not
    load. A key that one chosen unit declares as its reference reads it (HSE_prompt's `use_prompt`, beside
    E_01_HSE_v2's) is no extension; a key set beside the config (``given``) is the caller's choice, not the
    config's; a key set to what gives the reference's model (`distil: false`, or Informer's `sampling_seed`
    while `attention` is `top_k`: :func:`reference_setting`) builds PHM-Vibench's. The note names the key and
    no value (a base config's keys are template parameters)."""
    settings = {**model, **given}
    units = chosen_units(settings, root, library)
    notes = []
    for key in model:
        if key in given:
            continue
        # Who reads it: the units that declare it themselves (a composite's slot-scoped copy is its components').
        readers = [unit for unit in units if any(d.name == key and not d.scope for d in unit.params)]
        unread = [text for unit in readers
                  if (text := EXTENSIONS.get(unit.reference.model if unit.reference else "", {}).get(key)) is not None]
        if not readers or len(unread) < len(readers):
            continue
        if all(_holds(reference_setting(text), settings, unit) for text, unit in zip(unread, readers, strict=True)):
            continue
        owner = readers[0].reference.model.split("/")[-1] if readers[0].reference is not None else readers[0].name
        notes.append(Diagnostic("I106", f"`{key}` is a vibench extension: PHM-Vibench's {owner} does not read it",
                                where.get(key, model_pos), severity="note", found=unread[0],
                                hint="vibench builds what the key says: where that is not what PHM-Vibench does, "
                                "the model and its checkpoints are not PHM-Vibench's"))
    return notes


_SETTING = re.compile(r"\(`(?P<key>\w+): (?P<value>[^`]+)`\)$")


def reference_setting(text: str) -> tuple[str, Any] | None:
    """The setting that gives the reference's model, as an :data:`~vibench.compiler.phm_reference.EXTENSIONS`
    text ends with it: ``(`distil: false`)`` -> ("distil", False); Informer's `sampling_seed` names
    ``(`attention: top_k`)``, under which no key is sampled. None where the text names none (E_03_Patch's
    `layout`: no value gives the reference's guess).

    >>> reference_setting("PHM-Vibench always keeps 5 periods (`top_k: 5`)")
    ('top_k', 5)
    >>> reference_setting("PHM-Vibench's head reads the token width from `input_dim`") is None
    True
    """
    match = _SETTING.search(text)
    if match is None:
        return None
    try:  # the value as YAML writes a scalar: false, null, 16, 0.1; else a word (top_k, BLC)
        value = json.loads(match["value"])
    except ValueError:
        value = match["value"]
    return match["key"], value


def _holds(setting: tuple[str, Any] | None, settings: Mapping[str, Any], unit: UnitDef) -> bool:
    """Does the config (else the unit's default) give the key of ``setting`` its value? A bool counts as no
    number (`distil: 0` is not `false`); a default computed from other keys is not worked out (False)."""
    if setting is None:
        return False
    key, wanted = setting
    if key in settings:
        value = settings[key]
    else:
        decl = unit.param(key)
        if decl is None or decl.required or isinstance(decl.default, Template) or template_names(decl.default):
            return False
        value = decl.default
    return isinstance(value, bool) is isinstance(wanted, bool) and value == wanted


def _default(decls: list[ParamDecl], root: UnitDef, unit: UnitDef,
             model: dict[str, Any], hidden: Collection[str]) -> tuple[str | None, str]:
    """(the value shown, where it comes from); None when the default is an expression over
    parameters the config does not set, or over one whose value a base config gave (in ``hidden``: what is
    computed from it is not shown either)."""
    from vibench.compiler.expr import ExprError, evaluate_value

    for decl in decls:
        if decl.default is not None:
            owner = root.name if decl is root.param(decl.name) else unit.name
            if isinstance(decl.default, Template) or template_names(decl.default):
                text = decl.default.text if isinstance(decl.default, Template) else "${...}"
                names = template_names(decl.default)
                based = sorted(names & set(hidden))
                if based:
                    keys = ", ".join(f"`{name}`" for name in based)
                    return None, f"`{owner}`'s default `{text[:80]}`, from the base config's {keys}"
                if names <= set(model):
                    try:
                        value = evaluate_value(decl.default, {n: model[n] for n in names})
                        return _json(value), f"`{owner}`'s default `{text[:80]}`"
                    except ExprError:
                        pass
                return None, f"`{owner}`'s default is `{text[:80]}`"
            return _json(decl.default), f"`{owner}`'s default"
    return "null", f"`{unit.name}` then uses its own rule"
