"""Schemas for specs that extend a template: ``extends:`` names and the ``with:`` parameters.

The main schema lists the templates on the spec path (the shipped library, and the folders given
with ``--spec-path``) under ``extends:`` and, per template, an
``if extends == T then with: {T's parameters}`` condition, so ``with:`` completes the parameters of
whichever of them the file extends. ``vibench-compile schema --template NAME`` builds a narrower
schema for specs extending one template (``extends:`` fixed, no ``nodes:``), also one that is
neither in the library nor on a spec path the main schema was written with: a spec file.

A template's parameters are read with the compiler's own resolver (``extends`` chains included), so
the schema offers exactly what ``with:`` accepts. A library template that does not resolve is still
listed, described as invalid, without parameters.

The templates of the spec path are read within the budgets of ``vibench-compile --list``
(:class:`vibench.compiler.library_index.BudgetedLibrary`; 40 templates of 2 MB took 203 s), each folder walked
within its limits (:func:`vibench.compiler.spec_walk.walk_specs`): a template over them is offered by name
only, without its parameters, and :func:`recording_left_out` tells the command line which and why.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibench.compiler.ir import ParamDecl, UnitDef
from vibench.schemas.param_schema import LARGEST_FLOAT, code_span, non_finite
from vibench.schemas.value_rules import yaml_text

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library


@dataclass(frozen=True)
class TemplateInfo:
    """A template as the schema shows it."""

    name: str  # as written after `extends:`
    summary: str  # one line: the first line of its doc, or why it does not resolve
    markdown: str
    params: tuple[ParamDecl, ...] | None  # None: the template does not resolve
    # slot parameter -> the components its folder offers, looked for from the folder of the file that declares
    # the slot (the template's own `comp/` beside it, wherever it is), then on the search path, as the compiler does
    components: dict[str, list[str]] = field(default_factory=dict)
    # `with:` key its reference ignores (`reference: ignored_keys`, no parameter) -> what the compiler's W101 says,
    # as text and as markdown (the key a code span no backtick in it closes; the template's reason is a doc)
    ignored: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class LeftOut:
    """What the schemas built while :func:`recording_left_out` runs left out, for the command line to say."""

    notes: list[str] = field(default_factory=list)  # one line each: a template offered by name only, a walk stopped
    templates: set[str] = field(default_factory=set)  # real paths of the templates found on the path, read or not
    read: set[str] = field(default_factory=set)  # real paths of the files read (the templates and what they use)

    def lines(self) -> list[str]:
        """The notes to print: the first :data:`~vibench.compiler.diagnostics.MAX_SHOWN`, then how many more."""
        from vibench.compiler.diagnostics import MAX_SHOWN

        more = len(self.notes) - MAX_SHOWN
        return self.notes[:MAX_SHOWN] + [f"... and {more:,} more (the first {MAX_SHOWN} are shown)"] * (more > 0)


_LEFT_OUT: ContextVar[LeftOut | None] = ContextVar("vibench_schema_left_out", default=None)


@contextlib.contextmanager
def recording_left_out() -> Iterator[LeftOut]:
    """What :func:`templates_on_path` leaves out while the block runs (in this thread or task), with the templates
    it found and the files it read: ``vibench-compile schema -o`` overwrites none of them, and finds them here
    rather than by reading every template again."""
    recording = LeftOut()
    token = _LEFT_OUT.set(recording)
    try:
        yield recording
    finally:
        _LEFT_OUT.reset(token)


def templates_on_path(search_path: list[str]) -> list[TemplateInfo]:
    """Every template on the spec search path: the folders given, then the shipped library.

    Names are ``family/Name`` relative to their folder; a name found twice is the first one, as
    ``extends:`` resolves it. Sorted by name. The library's templates are read first, then the others
    within what is left of the budgets (:class:`~vibench.compiler.library_index.BudgetedLibrary`): a large
    spec-path folder leaves none of the library's out.
    """
    from vibench.compiler.display import clip_path
    from vibench.compiler.library_index import BudgetedLibrary, ListingBudget
    from vibench.compiler.resolve import LIBRARY_DIR
    from vibench.compiler.spec_walk import walk_specs

    library = BudgetedLibrary(search_path, ListingBudget())
    recording = _LEFT_OUT.get()
    found: dict[str, tuple[str, bool]] = {}  # name -> (path, in the library)
    for root in [*library.user_dirs, LIBRARY_DIR]:
        walk = walk_specs(root)
        if walk.stopped is not None and recording is not None:
            recording.notes.append(f"the walk of {clip_path(root)} stopped {walk.stopped}: its templates further "
                                   "in are not offered (give --spec-path a folder of specs)")
        if recording is not None:
            recording.templates |= {os.path.realpath(path) for path in walk.paths}
        for path in walk.paths:
            rel = os.path.relpath(path, root)
            found.setdefault(os.path.splitext(rel)[0].replace(os.sep, "/"), (path, root == LIBRARY_DIR))
    infos = {name: _info(name, found[name][0], library) for name in sorted(found, key=lambda n: (not found[n][1], n))}
    if recording is not None:
        recording.read |= library.read
    return [infos[name] for name in sorted(found)]


def templates_under(root: str, suffixes: tuple[str, ...]) -> list[str]:
    """The spec files under ``root`` that are templates (in walk order, names sorted), as ``--list`` walks a
    folder (:func:`~vibench.compiler.spec_walk.walk_specs`, within its limits): hidden folders (``.vscode``,
    ``.git``) skipped, and no schema ``vibench-compile schema`` wrote (``schema -I . -o
    .vscode/vibench.schema.json`` listed its own previous output as an invalid template, and refused to overwrite
    it as a file it read). ``suffixes``: the spec files' (:data:`~vibench.compiler.resolve.SPEC_SUFFIXES`)."""
    from vibench.compiler.spec_walk import walk_specs

    return [path for path in walk_specs(root).paths if path.endswith(suffixes)]


def load_template(ref: str, search_path: list[str]) -> TemplateInfo:
    """The template ``ref``: a spec file, or ``family/Name`` on the search path or in the library.

    Raises KeyError when there is no such spec, SpecError when it does not resolve.
    """
    from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES, Library

    library = Library(search_path)
    if os.path.isfile(ref):
        path = os.path.abspath(ref)
    else:
        candidates = [os.path.join(root, ref + suffix) for root in [*library.user_dirs, LIBRARY_DIR]
                      for suffix in ("", *SPEC_SUFFIXES)]
        path = next((c for c in candidates if os.path.isfile(c)), "")
        if not path:
            raise KeyError(f"unknown template `{ref}`: no such file, and no `{ref}` on the spec path or in the "
                           "library (see `vibench-compile --list`)")
    return _info(ref, path, library, strict=True)


def _info(name: str, path: str, library: Library, strict: bool = False) -> TemplateInfo:
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.display import clip_path
    from vibench.compiler.library_index import NotRead

    try:
        unit, _ = library.load(path, None)
    except NotRead as err:  # over the budgets of templates_on_path: its name only, and why
        used = "" if err.path == path else library.display(err.path)
        why = f"it extends or uses {used}: {err.why}" if used else err.why
        recording = _LEFT_OUT.get()
        if recording is not None:
            shown = f"it extends or uses {clip_path(used)}: {err.why}" if used else err.why
            recording.notes.append(f"{clip_path(name)} is offered by name only, without its parameters: not read "
                                   f"({shown})")
        text = f"(not read for this schema: {why}; `vibench-compile schema --template {name}` writes its own)"
        why = f"it extends or uses {code_span(used)}: {err.why}" if used else err.why
        return TemplateInfo(name, text, f"{_heading(name)} (not read for this schema: {why}; "
                            f"{code_span(f'vibench-compile schema --template {name}')} writes its own)", None)
    except SpecError as err:
        if strict:
            raise
        code = err.diagnostics[0].code
        check = f"vibench-compile --check {library.display(path)}"
        return TemplateInfo(name, f"(invalid: {code}; run `{check}`)",
                            f"{_heading(name)} (invalid: {code}; run {code_span(check)})", None)
    lines = (unit.doc or "").strip().splitlines()
    summary = lines[0] if lines else name
    listing = "\n".join(f"- {code_span(p.name)}: {p.doc or p.type}" for p in unit.params)
    markdown = f"{_heading(name)}: {(unit.doc or '').strip()}" + (f"\n\nParameters:\n{listing}" if listing else "")
    return TemplateInfo(name, summary, markdown, unit.params, _components(unit.params, path, library),
                        _ignored(unit))


# A name that no markdown reads as markup: ASCII words joined by `_`, `/` or `-` (no `.`: `www.x.io` is a link in
# GFM, no `:`, `[`, backtick or `@`); any other is written as a code span, which nothing in it can end or turn into one.
_PROSE_NAME = re.compile(r"[A-Za-z0-9]+(?:[_/-][A-Za-z0-9]+)*")


def _heading(name: str) -> str:
    """A template's name in bold at the head of its markdown (``**cnn/ResNet1D**``), shown as it is written."""
    return f"**{name if _PROSE_NAME.fullmatch(name) else code_span(name)}**"


def _ignored(unit: UnitDef) -> dict[str, tuple[str, str]]:
    """The keys the template's reference ignores that it does not declare, each with the W101 a ``with:`` setting
    it gets (the compiler takes such a key, warns and drops it: ``resolve_extends._unknown_keys``)."""
    from vibench.compiler.resolve_extends import reference_key_warning
    from vibench.schemas.param_schema import code_span

    if unit.reference is None:
        return {}
    declared = {p.name for p in unit.params}
    out = {}
    for key, why in unit.reference.ignored_keys.items():
        if key not in declared:
            model = unit.reference.model
            text = reference_key_warning(f"`{key}`", key, model, why, None).message
            markdown = reference_key_warning(code_span(key), key, model, why, None, code_span(model)).message
            out[key] = (f"{text} (the compiler's warning W101). The template says why: {why}",
                        f"{markdown} (the compiler's warning W101). The template says why: {why}")
    return out


def _components(params: tuple[ParamDecl, ...], path: str, library: Library) -> dict[str, list[str]]:
    """What each slot parameter of the template at ``path`` offers (``library`` loaded it: it knows the folder of
    the file that declares each slot, which may be a template ``path`` extends)."""
    from vibench.compiler.slots import slot_components, slot_folder

    return {p.name: slot_components(p.slot, library, slot_folder(library, p) or os.path.dirname(path))
            for p in params if p.slot is not None}


def with_schema(info: TemplateInfo) -> dict[str, Any]:
    """The ``with:`` mapping of a template: its parameters, and the keys its reference ignores, nothing else."""
    from vibench.schemas.param_schema import block_param

    assert info.params is not None
    # names: `with: {num_classes: classes}` reads the spec's own parameter `classes` (docs/language.md).
    props = {p.name: block_param(p.name, _field(p, info.components.get(p.name, [])), required=p.required,
                                 default_text=_default_text(p.default),
                                 names=True)
             for p in info.params}
    # A key the reference ignores takes any value, as the compiler does (W101, not an error); hover says why. Not
    # completed (it sets nothing), and not `deprecated`: yaml-language-server 1.25 ignores that keyword, and shows
    # a `deprecationMessage` as it shows an error.
    props.update((key, {"title": key, "description": text, "markdownDescription": markdown, "doNotSuggest": True})
                 for key, (text, markdown) in info.ignored.items())
    text = f"Values for the parameters of `{info.name}`."
    # `with:` with nothing under it (null) sets no parameter, as the compiler reads it. A list of types, not an
    # `anyOf`: the server names a failed single `type: object` by the title ('Expected "with"'), a list by its types.
    return {"title": "with", "type": ["object", "null"], "description": text,
            "markdownDescription": f"Values for the parameters of {code_span(info.name)}.",
            "properties": props, "additionalProperties": False}


def with_condition(info: TemplateInfo) -> dict[str, Any]:
    """``if extends == T then with: T's parameters`` (anchored, so that ``a/B`` never selects ``a/Bc``)."""
    tag = {"const": info.name, "pattern": f"^{re.escape(info.name)}$"}
    return {"if": {"properties": {"extends": tag}, "required": ["extends"]},
            "then": {"properties": {"with": with_schema(info)}}}


def narrow(root: dict[str, Any], info: TemplateInfo) -> None:
    """Turn the document schema into one for specs that extend ``info`` (in place)."""
    for key in ("inputs", "nodes", "outputs", "blocks", "let", "checks"):  # not allowed next to `extends:` (E107)
        root["properties"].pop(key)
    extends: dict[str, Any] = {"title": "extends", "description": info.summary, "markdownDescription": info.markdown}
    if info.name.endswith((".yaml", ".yml", ".json")):
        extends["type"] = "string"  # a file: the spec names it relative to its own folder
    else:
        extends["const"] = info.name
    root["properties"]["extends"] = extends
    root["properties"]["with"] = with_schema(info)
    root["required"] = ["vibench", "extends"]


def _field(p: ParamDecl, components: list[str]) -> dict[str, Any]:
    """A declared parameter as a pydantic-style field schema (type, bounds, choices, doc, default; ``components``:
    what a slot parameter's folder offers)."""
    from pydantic import TypeAdapter

    from vibench.compiler.param_types import parse_type
    from vibench.schemas.value_rules import KeyedJsonSchema, refuse_nan

    schema: dict[str, Any] = TypeAdapter(parse_type(p.type)).json_schema(schema_generator=KeyedJsonSchema)
    if p.choices is not None:
        schema = _choices(p)
    if p.slot is not None:
        # A typed slot: complete the components its folder offers (others, on a spec path the schema was not written
        # with, also compile).
        component = {"anyOf": [{"enum": components}, {"type": "string"}]}
        if p.choices is None:  # each text member of the type (`str`, `list[str] | None`) names a component
            schema = _with_strings(schema, component)
    if (p.ge, p.gt, p.le, p.lt) != (None,) * 4 and p.choices is None:  # (the choices kept are within them)
        bounds: dict[str, Any] | None = _json_bounds(p)
        for m in schema.get("anyOf", [schema]):
            if m.get("type") in ("integer", "number"):
                m.update({"not": {}} if bounds is None else bounds)  # (`not: {}`: no number is within them)
            if m.get("type") == "number" and bounds is not None:  # NaN is within no bound (also not `le: .inf`)
                m.update(refuse_nan("NaN is within no bound: a number within the bounds (the compiler's E208)."))
    schema["description"] = p.doc or f"Parameter `{p.name}` ({p.type})."
    if not p.required and _plain(p.default):
        schema["default"] = p.default
    return schema


# An infinite bound as JSON can write it (it has no infinity): {} where every number but NaN meets it, None where none.
_INFINITE_BOUNDS: dict[tuple[str, bool], dict[str, float] | None] = {
    ("minimum", True): {"exclusiveMinimum": LARGEST_FLOAT},  # >= inf: inf alone
    ("exclusiveMinimum", True): None,  # > inf
    ("maximum", True): {},  # <= inf
    ("exclusiveMaximum", True): {"maximum": LARGEST_FLOAT},  # < inf: every finite number
    ("minimum", False): {},  # >= -inf
    ("exclusiveMinimum", False): {"minimum": -LARGEST_FLOAT},  # > -inf: every finite number
    ("maximum", False): {"exclusiveMaximum": -LARGEST_FLOAT},  # <= -inf: -inf alone
    ("exclusiveMaximum", False): None,  # < -inf
}


def _json_bounds(p: ParamDecl) -> dict[str, float] | None:
    """The declared bounds as JSON Schema keywords; None when no number meets them (a NaN bound: the compiler
    compares, and a comparison with NaN is false; ``gt: .inf``). ``Infinity`` is no JSON: an infinite bound is
    written with the largest float (``lt: .inf`` as ``maximum: 1.797...e308``), or left out (``le: .inf``)."""
    out: dict[str, float] = {}
    for key, bound in (("minimum", p.ge), ("exclusiveMinimum", p.gt), ("maximum", p.le), ("exclusiveMaximum", p.lt)):
        if bound is None:
            continue
        if math.isnan(bound):
            return None
        written = _INFINITE_BOUNDS[key, bound > 0] if math.isinf(bound) else {
            key: int(bound) if float(bound).is_integer() else bound}
        if written is None:
            return None
        for k, v in written.items():  # two of one side (`ge: 0, gt: -.inf`): the tighter
            out[k] = v if k not in out else max(out[k], v) if k.endswith("inimum") else min(out[k], v)
    return out


def _choices(p: ParamDecl) -> dict[str, Any]:
    """``choices:`` as JSON Schema: those within the bounds (a number outside them is E208 before the choices are
    compared; NaN is within none), each non-finite one (``.inf``: no JSON text) as the schema only it meets."""
    def within(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        return ((p.ge is None or value >= p.ge) and (p.gt is None or value > p.gt)
                and (p.le is None or value <= p.le) and (p.lt is None or value < p.lt))

    kept = [c for c in p.choices or () if within(c)]
    odd = [c for c in kept if isinstance(c, float) and not math.isfinite(c)]
    plain = [c for c in kept if not (isinstance(c, float) and not math.isfinite(c))]
    if not odd:
        return {"enum": plain}
    return {"anyOf": [{"enum": plain}] * bool(plain) + [non_finite(c) for c in odd]}


def _with_strings(schema: Any, component: dict[str, Any], top: bool = True) -> Any:
    """``schema`` with each ``{"type": "string"}`` in it replaced by ``component`` (typed ``string`` as well
    below the top: a list's items read as text, so a plain name there is a component, not a parameter)."""
    if schema == {"type": "string"}:
        return dict(component) if top else {"type": "string", **component}
    if isinstance(schema, dict):
        return {k: _with_strings(v, component, top and k == "anyOf") for k, v in schema.items()}
    if isinstance(schema, list):
        return [_with_strings(v, component, top) for v in schema]
    return schema


def _default_text(value: Any) -> str | None:
    """How the description shows a default that is no JSON: a float that is not finite as YAML writes it
    (``.inf``), a ``${...}`` as computed; None for plain data (the schema's ``default``)."""
    if _plain(value):
        return None
    if not _plain(_finite(value)):
        return "computed from other parameters"
    return code_span(yaml_text(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return 0.0
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _plain(value: Any) -> bool:
    """Whether a default is plain data (not a ``${...}`` computed from other parameters)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
