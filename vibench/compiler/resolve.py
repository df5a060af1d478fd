"""Pass 3, resolve: typed spec -> definitions (:class:`UnitDef`) with the root's parameters bound.

Pre: a validated :class:`SpecDocument` and its :class:`LoadedDoc`. Post: the root UnitDef whose
``param_values`` hold every parameter's checked value; every ``${...}`` parsed (syntax errors are
reported here); every name a valid identifier; ``extends`` chains followed through the spec search
path without cycles. Composite bodies stay generic: their templates are evaluated per use, by the
shapes pass. Errors: E106, E107, E2xx.

The :class:`Library` finds spec files (``cnn/ResNet1D``, ``./blocks.yaml``, ``file#Block``) on the search path
— the spec's own folder, folders the user adds, then the shipped library — and never outside it
(:mod:`vibench.compiler.spec_search`). Files are loaded once per compilation. A Library notes every file it
read (``read``), every path a lookup tried before the file it took (``absent``): a file created at one of
those later would be found instead, and each path a lookup took that is not its real path (``links``: a
symbolic link, of the file or of a folder on the way, pointed elsewhere later leads to another file), so
``vibench.build``'s cache keeps all three (:mod:`vibench.compiler.resolve_recording`), and what else a lookup
looked at (``looked``, :func:`recording_looked`): the listing of each slot folder and of each PHM-Vibench
model family's folder, whether a PHM project root's markers are there.

Each unit of a file (the model, its composite blocks) is read by :mod:`vibench.compiler.resolve_units`;
parameter declarations, ``let:``, ``checks:`` and the checks on names by :mod:`vibench.compiler.resolve_decls`;
a spec with ``extends:`` by :mod:`vibench.compiler.resolve_extends`;
a typed slot's value is checked (E214) against the folder of the file that declares it by :mod:`vibench.compiler.slots`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError, clip, one_of, suggest
from vibench.compiler.ir import ParamDecl, Pos, UnitDef
from vibench.compiler.limits import MAX_NESTING
from vibench.compiler.load import LoadedDoc, load_text, oversized, read_spec_file
from vibench.compiler.names import name_units
from vibench.compiler.params import bind_params
from vibench.compiler.resolve_decls import _check_model_name, _check_name, let_given
from vibench.compiler.resolve_extends import ignored_key_warning, resolve_extends, unread_given
from vibench.compiler.resolve_refusals import refuse_phm
from vibench.compiler.resolve_sources import _SOURCES
from vibench.compiler.resolve_units import _unit, reference_renames_pos
from vibench.compiler.scoped import with_scoped_params
from vibench.compiler.slots import check_slot, note_slot_folders, slot_folder
from vibench.compiler.slots import slot_components as slot_components  # where callers import it from
from vibench.compiler.spec_files import LIBRARY_DIR as LIBRARY_DIR  # where callers import them from
from vibench.compiler.spec_files import SPEC_SUFFIXES as SPEC_SUFFIXES
from vibench.compiler.spec_search import SpecSearch, _error
from vibench.schemas.document import SpecDocument

_LOOKED: ContextVar[dict[str, str] | None] = ContextVar("vibench_library_looked", default=None)


@contextlib.contextmanager
def recording_looked() -> Iterator[dict[str, str]]:
    """The ``looked`` of every :class:`Library` made while the block runs (in this thread or task), as
    :func:`~vibench.compiler.resolve_recording.recording_absent` gives its ``absent``: each path a lookup
    decided something by besides a file's text -> ``"kind"`` (whether it is a file, a folder or nothing: a
    project root's `.git`), ``"names"`` (a slot folder's listing) or ``"folders"`` (the folders a PHM-Vibench
    model family's folder holds, :func:`vibench.compiler.phm_checks.find_template`), for ``vibench.build``'s cache."""
    looked: dict[str, str] = {}
    token = _LOOKED.set(looked)
    try:
        yield looked
    finally:
        _LOOKED.reset(token)


class Library(SpecSearch):
    """Spec files on the search path, loaded once each (found by :class:`~vibench.compiler.spec_search.SpecSearch`);
    its messages name what the caller gave in the caller's words
    (:class:`~vibench.compiler.caller_words.CallerWords`: ``in_python``, ``from_table``)."""

    def __init__(self, search_path: list[str] | None = None, cwd: str | None = None) -> None:
        super().__init__(search_path, cwd)
        self.files: dict[str, tuple[UnitDef, dict[str, UnitDef]]] = {}
        recorded = _SOURCES.get()
        # each spec file read, by its name in messages -> its text (recording_sources)
        self.sources: dict[str, str] = recorded if recorded is not None else {}
        self.loading: list[str] = []
        self.read: set[str] = set()  # real paths of every file read (an output must not overwrite one)
        looking = _LOOKED.get()
        # a path a lookup decided something by besides a file's text -> "kind", "names" or "folders" (recording_looked)
        self.looked: dict[str, str] = looking if looking is not None else {}
        self.quiet: set[Pos | None] = set()  # positions whose values come from a file whose values are not shown
        # a slot parameter's declaration (or the `with:` value that sets it) -> the folder of the file that
        # declares the slot, where its components are looked for first (compiler/slots.py)
        self.slot_folders: dict[Pos, str] = {}
        self.warnings: list[Diagnostic] = []  # W101 for keys the reference ignores, set through `with:` or --set
        # the compiled file's path as the caller named it (its doc.path is the real one): PHM-Vibench reads an
        # experiment's base configs beside that name (vibench.compiler.phm_base.base_model); None for text
        self.given_path: str | None = None

    # -- loading ---------------------------------------------------------------------------------

    def load(self, path: str, pos: Pos | None) -> tuple[UnitDef, dict[str, UnitDef]]:
        """The root UnitDef (parameters unbound) and composite blocks of a spec file."""
        if path in self.files:
            return self.files[path]
        if path in self.loading:
            chain = " -> ".join(self.display(p) for p in self.loading[self.loading.index(path):] + [path])
            raise _error("E206", "include cycle", pos, found=chain, hint="a spec cannot extend or use itself")
        # `path` is as many levels below the compiled spec (loading[0]) as there are files being loaded: a chain of
        # MAX_NESTING + 1 files (MAX_NESTING levels) compiles, as docs/language.md says.
        if len(self.loading) > MAX_NESTING:
            shown = " -> ".join(self.display(p) for p in self.loading[:2]) + f" -> ... -> {self.display(path)}"
            raise _error("E206", f"specs extend or use each other more than {MAX_NESTING} levels deep", pos,
                         found=f"{len(self.loading)} levels: {shown}",
                         hint="extend the template a chain ends in directly, or merge the files between")
        self.loading.append(path)
        self.read.add(os.path.realpath(path))
        try:
            doc = read_spec_file(path, self.display(path), at=pos)  # a budget error lands at the reference
            self.sources[doc.file] = doc.text
            refuse_phm(doc, pos, LIBRARY_DIR)
            spec = _validate(doc)
            result = resolve_file(doc, spec, self)
        finally:
            self.loading.pop()
        self.files[path] = result
        return result

    def components(self, slot: str, from_dir: str | None = None) -> list[str]:
        """The spec names a slot folder offers, from ``from_dir``, on the search path and in the library (sorted);
        never through a symbolic link that leads outside the search path (:func:`vibench.compiler.slots.slot_dirs`)."""
        return slot_components(slot, self, from_dir)

    def block(self, ref: str, from_dir: str | None, pos: Pos | None) -> UnitDef:
        """A composite named by a spec reference: ``path`` (its model) or ``path#Block``."""
        path_part, hashed, block_name = ref.partition("#")
        if hashed and not path_part:  # `#Residual`: was "unknown spec ``", the empty name looked up
            named = f"`{clip(block_name, 60)}`" if block_name else "by its name"
            raise _error("E205", f"spec reference `{clip(ref, 200)}` names no spec file before `#`", pos,
                         expected="`path#Block`, such as `./blocks.yaml#Residual`", found=f"`{clip(ref, 200)}`",
                         hint=f"a block of this spec is named alone ({named}); a block of another file as "
                         f"`file.yaml#{clip(block_name, 60) or 'Block'}`")
        root, blocks = self.load(self.find(path_part, from_dir, pos), pos)
        if hashed and not block_name:  # `file#`: a name a check comparing names would not see as `file`
            raise _error("E110", f"`{ref}` names no block after `#`", pos, expected="`path` or `path#Block`",
                         found=f"`{ref}`", hint=f"its model is `{path_part}`; its blocks: "
                         f"{', '.join(sorted(blocks)) or '(none)'}")
        if not block_name:
            return root
        if block_name not in blocks:
            raise _error("E110", f"spec `{path_part}` defines no block `{block_name}`", pos,
                         hint=suggest(block_name, blocks) or f"its blocks: {', '.join(sorted(blocks)) or '(none)'}")
        return blocks[block_name]


def _validate(doc: LoadedDoc) -> SpecDocument:
    from vibench.compiler.validate import validate

    return validate(doc)


# --------------------------------------------------------------------------------------------
# The pass
# --------------------------------------------------------------------------------------------


def resolve(doc: LoadedDoc, spec: SpecDocument, library: Library, overrides: dict[str, Any] | None = None) -> UnitDef:
    """Resolve a validated spec into its root UnitDef with bound parameter values.

    ``overrides`` are ``--set`` values (or keyword arguments of :func:`vibench.build`).
    """
    library.sources[doc.file] = doc.text
    if library.home is None:  # the real file's folder, as for every file (read_spec_file: `doc.path`)
        library.home = os.path.dirname(os.path.realpath(doc.path)) if doc.path else library.cwd
    library.loading.append(doc.path or doc.file)  # spec text too, by its name: the first level of a chain
    try:
        root, _ = resolve_file(doc, spec, library)
    finally:
        library.loading.pop()
    # Problems with --set values point at the parameter's declaration (or, for an unknown name, at
    # the section that declares parameters): the flag itself has no place in the file.
    anchor = _params_anchor(doc)
    given: dict[str, tuple[Any, Pos | None]] = {}
    too_big, lets_given = [], []
    ignored = dict(root.reference.ignored_keys) if root.reference is not None else {}
    # Each given key looked up by name: `root.param` scans the declarations, quadratic in them (8,000 --set
    # values: resolve 4.0 -> 1.7 s); a `let` only for a name that is one.
    declared = {d.name: d for d in root.params} if overrides else {}
    let_names = {x.name for x in root.lets} if overrides else set()
    for key, value in (overrides or {}).items():
        decl = declared.get(key)
        if decl is None and key in ignored:  # --set of a key the reference ignores: said, then dropped
            library.warnings.append(ignored_key_warning(key, root, ignored[key], anchor, library))
            continue
        if decl is None and key in let_names and (
                refused := let_given(root, key, f" ({library.given_how(key)})", anchor)) is not None:
            lets_given.append(refused)  # (with the other unknown names bind_params reports)
            continue
        if decl is None and key in library.from_table:  # not the caller's value: "remove it" would not say how
            lets_given.append(_table_unknown(key, root, library, anchor, doc.path))
            continue
        given[key] = (value, (decl.pos if decl is not None else None) or anchor)
        problem = oversized(value)
        if problem is not None:
            too_big.append(Diagnostic("E202", f"the value given for `{str(key)[:80]}` is too large: {problem}",
                                      given[key][1] or root.pos, hint="give a plain, small value"))
    if too_big:
        raise SpecError(too_big, library.sources)

    def missing(decl: ParamDecl) -> tuple[Pos | None, str]:
        if spec.extends is not None:
            given = f"`{decl.name}=...` to vibench.build" if library.in_python else f"`--set {decl.name}=...`"
            return anchor, f"add `{decl.name}: ...` under `with:`, or pass {given}"
        return decl.pos or anchor, f"pass `--set {decl.name}=...` (or `{decl.name}=...` to vibench.build), " \
                                   "or give it a `default:`"

    if "params" in given and root.param("params") is None and isinstance(given["params"][0], dict):
        raise _error("E201", f"unknown parameter `params` ({library.given_as}) for model `{root.name}`",
                     given["params"][1] or root.pos, found="a dict of parameters under the name `params`",
                     hint="vibench.build takes the parameters themselves as keyword arguments: "
                          "build(spec, num_classes=4), or build(spec, **params)")
    values, diags = bind_params(root.params, given, env={}, where=f"model `{root.name}`", unknown_code="E201",
                                call_pos=root.pos, describe_given=lambda k: f"`{k}` ({library.given_how(k)})",
                                missing=missing, origin=library.value_origin)
    diags = lets_given + unread_given(root, given, library) + [replace(d, pos=d.pos or root.pos) for d in diags]
    for decl in root.params:
        if decl.slot is not None and decl.name in values:
            from_dir = slot_folder(library, decl) or (os.path.dirname(os.path.realpath(doc.path)) if doc.path
                                                      else library.cwd)  # the real file's folder, as resolve_file's
            note = library.value_origin(decl.name) if decl.name in given else None
            diags += check_slot(decl, values[decl.name], library, root, from_dir, note)
    if diags:
        raise SpecError(diags, library.sources)
    return replace(root, param_values=values, overridden={k: pos for k, (_, pos) in given.items()})


def _table_unknown(key: str, root: UnitDef, library: Library, anchor: Pos | None, path: str | None) -> Diagnostic:
    """E201 for the metadata table's ``key`` (``num_classes``) given to a model that declares no such parameter."""
    return Diagnostic("E201", f"unknown parameter `{key}` ({library.given_how(key)}) for model `{root.name}`", anchor,
                      expected="one of " + (one_of(d.name for d in root.params) or "(none)"),
                      notes=(library.value_origin(key),),
                      hint=(f"`{root.name}` is a library template with no `{key}`, so the table has nothing to set: "
                            f"leave the table out (`{library.metadata_option}`)") if _in_library(path) else (
                          f"the table gives `{key}`, which `{root.name}` does not declare: leave the table out "
                          f"(`{library.metadata_option}`), or declare `{key}` in `params:`"))


def _in_library(path: str | None) -> bool:
    """Whether the compiled file is a library template (not the user's to edit: no "declare it in `params:`"; a
    file of the user's that extends one is the user's)."""
    library = os.path.join(os.path.realpath(LIBRARY_DIR), "")
    return path is not None and os.path.realpath(path).startswith(library)


def _params_anchor(doc: LoadedDoc) -> Pos | None:
    """Where a spec sets its parameters: `params:`, else `with:`, else `extends:`, else its start."""
    for key in ("params", "with", "extends"):
        if isinstance(doc.data, dict) and key in doc.data:
            return doc.pos((key,), key=True)
    return doc.pos(())


def resolve_file(doc: LoadedDoc, spec: SpecDocument, library: Library) -> tuple[UnitDef, dict[str, UnitDef]]:
    """The root UnitDef (unbound) and the composite blocks of one spec file."""
    diags = Collector(sources=library.sources)
    # the real file's folder (text given with a path too): one file reads the same files however it is reached
    from_dir = os.path.dirname(os.path.realpath(doc.path)) if doc.path else library.cwd
    if spec.extends is not None:
        return resolve_extends(doc, spec, library, diags, from_dir)
    blocks: dict[str, UnitDef] = {}
    for bname, bspec in spec.blocks.items():
        path = ("blocks", bname)
        _check_name(diags, doc, path, bname, "block", allow_upper=True)
        blocks[bname] = _unit(doc, path, bname, f"{doc.file}#{bname}", bspec.doc, bspec.params, bspec.inputs,
                              bspec.nodes, bspec.outputs, blocks, diags, lets=bspec.let, checks=bspec.checks)
    for section in ("name", "inputs", "nodes", "outputs"):
        if getattr(spec, section) is None:
            diags.add(Diagnostic("E103", f"missing required key `{section}` in the spec", doc.pos(()),
                                 expected=f"`{section}`", hint="a spec without `extends:` defines the whole model"))
    if spec.with_ is not None:
        diags.add(Diagnostic("E107", "`with:` needs `extends:`", doc.pos(("with",), key=True),
                             hint="`with:` sets the parameters of the template named by `extends:`"))
    if spec.name is None or spec.inputs is None or spec.nodes is None or spec.outputs is None:
        diags.raise_if_any()
    assert spec.name is not None and spec.inputs is not None and spec.nodes is not None and spec.outputs is not None
    _check_model_name(diags, doc, spec.name)
    root = _unit(doc, (), spec.name, f"{doc.file}", spec.doc, spec.params, spec.inputs, spec.nodes, spec.outputs,
                 blocks, diags, metadata=spec.metadata, lets=spec.let, checks=spec.checks)
    if spec.reference is not None:
        root = replace(root, reference=spec.reference, renames_pos=reference_renames_pos(doc, spec.reference, diags))
    written = {blocks[bname].qualname: {*bspec.params, *bspec.let} for bname, bspec in spec.blocks.items()}
    written[root.qualname] = {*spec.params, *spec.let}  # (a failed declaration is not E211 again where it is read)
    root = name_units(root, blocks, library, from_dir, diags, written)
    diags.raise_if_any()
    note_slot_folders(library, root.params, from_dir)
    # A component's parameter named like one of the template's `let`s is left out: the name is the `let`'s, and a
    # value set for it is E201, which says so. Not E210 at the `let`: any component of any slot folder, a user's
    # `-I` folder included, may declare any name (an attention backbone's `heads` beside M_01_ISFM's `let`).
    return with_scoped_params(root, library, from_dir), blocks


def load_source(text: str | None, path: str | None) -> LoadedDoc:
    """Load a spec from text or a path (helper for the public API)."""
    if text is not None:
        return load_text(text, path or "<string>", os.path.realpath(path) if path else None)  # as read_spec_file
    assert path is not None
    return read_spec_file(path, path)
