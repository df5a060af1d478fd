"""Pass 3, resolve: a spec that instantiates a template (`extends:` and `with:`).

The template is found and loaded through the :class:`~vibench.compiler.resolve.Library`; the `with:` values
become its parameters' defaults (located at this file's `with:` keys), the file's own parameters come first so
that they may read them, and `metadata:` is merged into the template's one level deep. Errors: E107, E201,
E205, E210, W101.

Two checks of the values given with the compile (``--set``, ``vibench.build``'s keywords), which `resolve` binds
and calls here, concern `with:` most: :func:`ignored_key_warning` says a given key the reference ignores came
from the command line (or Python), and :func:`unread_given` refuses a given value whose only readers are `with:`
entries that other given values replace.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.caller_words import CallerWords
from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, Collector, Diagnostic, Suggestions, clip
from vibench.compiler.expr import ExprError, parse_value, template_names
from vibench.compiler.ir import ParamDecl, Pos, Template, UnitDef
from vibench.compiler.lets import inherited_checks
from vibench.compiler.load import LoadedDoc
from vibench.compiler.names import named_value
from vibench.compiler.params import count_rest, expected_names
from vibench.compiler.phm_reference import needed_hint, read_by_reference
from vibench.compiler.resolve_decls import _check_model_name, _expr_diag, _param_decls, expression_names, let_given
from vibench.compiler.resolve_units import parsed_metadata, reference_renames_pos
from vibench.compiler.setting_places import Places
from vibench.compiler.slots import note_slot_folders, slot_folder
from vibench.compiler.spec_files import LIBRARY_DIR, SPEC_SUFFIXES
from vibench.compiler.spec_paths import within
from vibench.schemas.document import SpecDocument

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library


def resolve_extends(doc: LoadedDoc, spec: SpecDocument, library: Library, diags: Collector,
                    from_dir: str) -> tuple[UnitDef, dict[str, UnitDef]]:
    """The root UnitDef of a spec with `extends:` (its template's, with the `with:` values as defaults and this
    file's own parameters first) and the template's composite blocks."""
    for section in ("inputs", "nodes", "outputs"):
        if getattr(spec, section) is not None:
            diags.add(Diagnostic("E107", f"`{section}:` cannot be combined with `extends:`",
                                 doc.pos((section,), key=True),
                                 hint="a spec with `extends:` only sets the template's parameters under `with:`"))
    for section, given_ in (("blocks", spec.blocks), ("let", spec.let), ("checks", spec.checks)):
        if given_:
            diags.add(Diagnostic("E107", f"`{section}:` cannot be combined with `extends:`",
                                 doc.pos((section,), key=True),
                                 hint="a spec with `extends:` only sets the template's parameters under `with:`"))
    assert spec.extends is not None
    if "#" in spec.extends:
        diags.add(Diagnostic("E205", f"`extends:` names a whole spec, not a block (`{spec.extends}`)",
                             doc.pos(("extends",)), expected="a spec such as `cnn/ResNet1D` or `./base.yaml`",
                             hint="use a composite block in a node instead: "
                             f"`{{block: \"{spec.extends}\", in: ...}}`"))
    diags.raise_if_any()
    base_path = library.find(spec.extends, from_dir, doc.pos(("extends",)))
    base, base_blocks = library.load(base_path, doc.pos(("extends",)))
    own = _param_decls(doc, (), spec.params, diags)
    note_slot_folders(library, own, from_dir)
    clash = [p.name for p in own if base.param(p.name) is not None]
    for name in clash:
        diags.add(Diagnostic("E210", f"parameter `{name}` is already a parameter of `{spec.extends}`",
                             doc.pos(("params", name), key=True), hint="set it under `with:` instead"))
    said = {d.pos for d in diags.items}  # (a name refused already, `item`: E106)
    for name, what in _names_taken(base, [p.name for p in own if p.name not in clash and p.pos not in said]):
        diags.add(Diagnostic("E210", f"parameter `{name}` is already {what} of `{spec.extends}`",
                             doc.pos(("params", name), key=True),
                             hint="rename it: a parameter declared here is read only by this file's `with:` and "
                             "`metadata:`"))
    # `with:` values become the template parameters' defaults; they may use this file's params.
    given = {}
    own_names = {p.name for p in own} | {p.name for p in base.params}
    for key, value in (spec.with_ or {}).items():
        pos = doc.pos(("with", key))
        # a mapping or list written as a block is set at its key: its own position is its first entry's, and an
        # error about the whole value is not that entry's (one about an entry is at it: setting_places.py)
        key_pos = doc.pos(("with", key), key=True)
        block = isinstance(value, (dict, list)) and pos is not None and key_pos is not None and pos.line != key_pos.line
        at = key_pos if block else pos
        try:
            # `num_classes: classes` reads a parameter (this file's or the template's), as in a node (names.py)
            given[key] = (named_value(base, key, parse_value(value, pos), own_names, pos), at)
        except ExprError as err:
            diags.add(_expr_diag(err, pos, f"`with.{key}`"))
    _unknown_keys(doc, given, spec.extends, base, base_path, library, diags)
    diags.raise_if_any()  # a parameter of this file that `with:` does not read is W105, after the shapes pass
    params: list[ParamDecl] = []
    for decl in base.params:
        if decl.name in given:
            # Errors in the value point at `with:` in this file, not at the template's declaration.
            params.append(replace(decl, default=given[decl.name][0], required=False, pos=given[decl.name][1],
                                  given=True, places=Places.of(doc, ("with", decl.name))))
            # a slot set here is still the template's: its components are looked for from the template's folder
            note_slot_folders(library, params[-1:], slot_folder(library, decl) or os.path.dirname(base_path))
        else:
            params.append(decl)
    # The file's own parameters come first so that `with:` values (now defaults) can read them.
    merged = tuple(own) + tuple(params)
    name = spec.name or base.name
    if spec.name is not None:
        _check_model_name(diags, doc, spec.name)
        diags.raise_if_any()
    metadata = base.metadata
    if spec.metadata:
        own_meta = parsed_metadata(doc, (), spec.metadata, diags)
        diags.raise_if_any()
        # one level deep (docs/language.md): a key written here replaces the template's value of it whole
        metadata = {**(base.metadata if isinstance(base.metadata, dict) else {}), **own_meta}
    renames_pos = reference_renames_pos(doc, spec.reference, diags) if spec.reference else base.renames_pos
    diags.raise_if_any()
    # the template's checks stay the template's: an error in one names `Head`, not the spec extending it
    root = replace(base, name=name, doc=spec.doc or base.doc, params=merged, qualname=base.qualname, pos=doc.pos(()),
                   metadata=metadata, reference=spec.reference or base.reference, renames_pos=renames_pos,
                   checks=inherited_checks(base), own=base.own | {p.name for p in own})
    return root, base_blocks


def _names_taken(base: UnitDef, names: list[str]) -> list[tuple[str, str]]:
    """Those of ``names`` (this file's parameters) that template ``base`` has as a `let` or reads (a symbol of an
    input's shape, a loop's `item`), each with what it is there: as a parameter of the template it would take this
    file's value (`params: {B: 5}` fixed ResNet1D's batch), so E210 refuses it."""
    from vibench.compiler.expr_functions import FUNCTIONS

    if not names:
        return []
    lets = {let.name for let in base.lets}
    symbols = {d for inp in base.inputs if not isinstance(inp.shape, Template) for d in inp.shape if isinstance(d, str)}
    # (a plain word on a node whose block is `${...}` is text unless the block declares it a name: `padding: same`)
    nodes = tuple(nd if isinstance(nd.block, str) else replace(nd, block="") for nd in base.nodes)
    read = (expression_names(replace(base, nodes=nodes))[0] | template_names([nd.block for nd in base.nodes])) - set(
        FUNCTIONS)
    return [(name, "a `let`" if name in lets else "a symbol of an input's shape" if name in symbols
             else "a name read by a value") for name in names if name in lets or name in read]


def _unknown_keys(doc: LoadedDoc, given: Collection[str], ref: str, base: UnitDef, base_path: str, library: Library,
                  diags: Collector) -> None:
    """W101 for each `with:` key of ``given`` that the reference of template ``ref`` (read from ``base_path``)
    ignores, E201 for each other key it does not declare (one naming a `let` says so). Of the E201s the first
    :data:`~vibench.compiler.diagnostics.MAX_DIAGNOSTICS` are built, sharing one "did you mean" budget and one
    `expected` text, and the rest are counted on the last: 5,000 unknown keys of a 5,000-parameter template, each
    with its own lookup and list, took over a minute."""
    ignored = dict(base.reference.ignored_keys) if base.reference is not None else {}
    names = [p.name for p in base.params]
    declared = set(names)
    unknown = [key for key in given if key not in declared]
    expected = expected_names(names, f"`{ref}`")
    as_let = expected_names(names, f"`{base.name}`")  # (let_given's words, which name the template's model)
    hints = Suggestions(names)
    lets = {let.name for let in base.lets}
    shadowed = _shadowed_library_file(ref, base_path) if unknown else None
    built: list[Diagnostic] = []
    rest = 0
    for key in unknown:
        pos = doc.pos(("with", key), key=True)
        if key in ignored:  # the reference accepts it and never reads it
            library.warnings.append(ignored_key_warning(key, base, ignored[key], pos))
        elif len(built) >= MAX_DIAGNOSTICS:
            rest += 1
        else:
            built.append((let_given(base, key, "", pos, as_let) if key in lets else None)
                         or _unknown_with(key, ref, names, hints.hint(key), expected, shadowed, base_path, library,
                                          pos))
    diags.extend(count_rest(built, rest, f"unknown parameter{{s}} of template `{ref}`"))


def _unknown_with(key: str, ref: str, names: list[str], close: str | None, expected: str, shadowed: str | None,
                  base_path: str, library: Library, pos: Pos | None) -> Diagnostic:
    """E201 for a `with:` key that template ``ref`` (read from ``base_path``, declaring ``names``) does not declare
    (``close``: its "did you mean"); when that file is the user's and hides a library template of the same name
    (``shadowed``), which the user may have meant, a note says so."""
    notes = (f"`{ref}` is read from {library.display(base_path)}, which shadows the library's `{ref}` "
             f"({library.display(shadowed)}): the library comes last on the spec search path (docs/language.md, "
             "\"Templates\")",) if shadowed is not None else ()
    hint = close or (
        f"to extend the library's template, rename or move {library.display(base_path)}" if shadowed is not None
        else "remove it" if not names else "see `vibench-compile --list`")
    return Diagnostic("E201", f"unknown parameter `{key}` for template `{ref}`", pos, expected=expected, notes=notes,
                      hint=hint)


def _shadowed_library_file(ref: str, path: str) -> str | None:
    """The library's file named ``ref`` when ``path``, the file ``ref`` found, is another one (a user's
    `cnn/ResNet1D.yaml` beside the spec is found first); None otherwise. A relative reference names no library file."""
    if ref.startswith((".", "/")) or ref.endswith(SPEC_SUFFIXES):
        return None
    library = os.path.realpath(LIBRARY_DIR)
    stem = os.path.normpath(os.path.join(library, ref))
    for candidate in (stem + suffix for suffix in SPEC_SUFFIXES):
        if within(candidate, [library]) and os.path.isfile(candidate):
            return None if os.path.realpath(candidate) == os.path.realpath(path) else candidate
    return None


def ignored_key_warning(key: str, root: UnitDef, reason: str, pos: Pos | None,
                        words: CallerWords | None = None) -> Diagnostic:
    """W101: ``key`` is accepted but never read by the reference model that ``root`` reproduces. ``words``, for a
    value given with the compile (``--set``, a keyword of ``vibench.build``, the metadata table): the message says
    where it came from, as E201 does, since ``pos`` is only where the file declares its parameters."""
    model = root.reference.model if root.reference is not None else root.name
    shown = f"`{key}` ({words.given_how(key)})" if words is not None else f"`{key}`"
    return reference_key_warning(shown, key, model, reason, pos)


def reference_key_warning(shown: str, key: str, model: str, reason: str, pos: Pos | None,
                          model_shown: str | None = None) -> Diagnostic:
    """W101 for ``key`` (``shown`` in the message) of reference ``model`` (``model_shown``, if given: the schema's
    markdown), which vibench does not read: the reference ignores it too, or reads it and cannot be built without
    it (TSPN's `device`: W112 asks a config for it)."""
    named = model if model_shown is None else model_shown
    if key in read_by_reference(model):
        return Diagnostic("W101", f"{shown} is read by the reference {named}, not by vibench's model", pos,
                          severity="warning", found=reason, hint=needed_hint(model))
    return Diagnostic("W101", f"{shown} does not change the outputs of the reference {named}; vibench ignores it", pos,
                      severity="warning", found=reason)


def unread_given(root: UnitDef, given: Collection[str], words: CallerWords) -> list[Diagnostic]:
    """E201 for each parameter given with the compile whose only readers are the defaults of parameters also
    given, which replace them: `--set classes=6` beside `--set num_classes=5` of a spec with
    `with: {num_classes: classes}` would be recorded in model.py (``COMPILED_PARAMETERS``) while the model
    never reads it. A parameter that nothing reads at all is W105 (build_warnings.py), not this; one that the
    model's own values read (a node, a `let`, a check) is read, whatever the defaults.

    Every default counts as a reader while its parameter is not given: B_09_FNO's `width: {default: d_model}` reads
    `d_model` whatever replaces `with: {modes: "${d_model // 32}"}`; a replaced one reads nothing. Only values that a
    replaced `with:` entry read make an error:
    a template's declared default that reads another parameter is a key fallback (B_09_FNO's
    `modes: {default: num_modes}`: PHM-Vibench takes `modes` when both are given). Each error is located at the
    `with:` entry, with a note on where the value came from."""
    names = set(given)
    readers: dict[str, list[ParamDecl]] = {}  # a given parameter -> the parameters whose defaults read it
    for reader in root.params:
        for name in template_names(reader.default):  # (not `names - {reader.name}`: a copy per parameter)
            if name != reader.name and name in names:
                readers.setdefault(name, []).append(reader)
    # A reader that is not given reads the value: no error. Where every reader is given, the value is unread, but
    # when they are all a template's own defaults it is a key fallback (a config giving both keys follows the
    # reference's rule, the one key wins): an error only where a `with:` entry read it.
    unread = [decl for decl in root.params if decl.name in readers and all(r.name in names for r in readers[decl.name])
              and any(r.given for r in readers[decl.name])]
    readers = {name: [r for r in found if r.given] for name, found in readers.items()}  # what the message names
    if not unread:
        return []
    used, inherits = expression_names(replace(root, params=()))
    if inherits:  # a node with `inherit: true` may hand any parameter to its block: no telling what is unread
        return []
    errors = []
    for decl in unread:
        if decl.name in used:
            continue
        first, *rest = readers[decl.name]
        written = f"`with: {{{first.name}: {_shown(first.default, decl.name)}}}`"
        others = "".join(f", `{d.name}`" for d in rest)
        errors.append(Diagnostic(
            "E201", f"`{decl.name}` ({words.given_how(decl.name)}) has no effect: `{first.name}`"
            f"{others} ({words.given_how(first.name)}) replaces {written}, the only value that reads it",
            first.pos, notes=(words.value_origin(decl.name),),
            hint=f"give one of them: {words.setting_named(decl.name)} alone sets `{first.name}` through "
            f"{written}, {words.setting_named(first.name)} alone sets it directly"))
    return errors


def _shown(value: Any, name: str) -> str:
    """A `with:` value that reads ``name``, as the file writes it: ``classes`` for the plain name, the expression's
    text otherwise (``${classes + 1}``), ``...`` for a list or mapping that holds one."""
    if not isinstance(value, Template):
        return "..."
    return name if value.text == "${" + name + "}" else clip(value.text, 80)
