"""What the language server knows besides the open documents: the block catalogue, the spec
library's templates and spec files it references (the document model's keys: :mod:`vibench.lsp.document_model`).

Everything is read through the compiler (the registry, :mod:`vibench.schemas.template_schema`, the
resolver's :class:`~vibench.compiler.resolve.Library`), computed once and cached: a block's
parameters when first asked for, a spec file's interface until the file changes. :meth:`Catalog.warm`
builds the expensive parts (about 2 s: importing the compiler, every library template) in the
background when the server starts, so the first completion does not pay for them.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.lsp.document_model import document_model as document_model  # where callers import them from
from vibench.lsp.document_model import model_keys as model_keys
from vibench.lsp.visible import code, plain

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.diagnostics import Diagnostic
    from vibench.compiler.ir import ParamDecl, UnitDef
    from vibench.compiler.resolve import Library
    from vibench.schemas.template_schema import TemplateInfo


@dataclass(frozen=True)
class ParamInfo:
    """A parameter as the editor shows it: a block's, a template's or a composite's."""

    name: str
    type: str
    doc: str
    required: bool
    default: str | None  # the default as written in YAML/JSON, None when required or computed
    bounds: str = ""  # ">= 1, <= 8"
    choices: tuple[Any, ...] | None = None
    slot: str | None = None  # a spec folder whose specs the value names
    # the folder of the file that declares the slot, where its folder is looked for first (as the compiler does,
    # vibench/compiler/slots.py); None for a parameter of the edited document, whose own folder that is
    slot_dir: str | None = None

    @property
    def detail(self) -> str:
        if self.required:
            return f"{self.type} (required)"
        return self.type + (f" = {self.default}" if self.default is not None else "")

    def markdown(self) -> str:
        """``**name**: `type`, bounds; default; the doc``."""
        line = f"**{plain(self.name)}**: {code(self.type)}" + (f", {self.bounds}" if self.bounds else "")
        if self.slot:
            line += f", a spec of {code(self.slot + '/')}"
        if self.required:
            line += "; required"
        elif self.default is not None:
            line += f"; default {code(self.default)}"
        return line + (f"\n\n{self.doc}" if self.doc else "")


@dataclass(frozen=True)
class UnitInfo:
    """A spec file, library template or composite block: what it declares."""

    name: str  # as referenced (`cnn/ResNet1D`, `./blocks.yaml#Down`)
    path: str | None  # the file, None for a composite of the document itself
    doc: str
    params: tuple[ParamInfo, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    line: int = 1  # 1-based position of its definition in ``path``
    col: int = 1

    def param(self, name: str) -> ParamInfo | None:
        return next((p for p in self.params if p.name == name), None)

    def markdown(self) -> str:
        text = f"**{plain(self.name)}**" + (f"\n\n{self.doc.strip()}" if self.doc.strip() else "")
        if self.inputs or self.outputs:
            text += f"\n\nInputs: {_names(self.inputs)}; outputs: {_names(self.outputs)}"
        if self.params:
            text += "\n\nParameters:\n" + "\n".join(f"- {_param_line(p)}" for p in self.params)
        return text


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(code(n) for n in names) or "(none)"


def _param_line(p: ParamInfo) -> str:
    text = f"{code(p.name)}: {code(p.type)}"
    if p.required:
        text += ", required"
    elif p.default is not None:
        text += f" = {code(p.default)}"
    return text + (f" — {p.doc}" if p.doc else "")


def _shown(value: Any) -> str | None:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None


def declared_param(decl: ParamDecl, slot_dir: str | None = None) -> ParamInfo:
    """A declared (template or composite) parameter as a :class:`ParamInfo` (``slot_dir``: the folder of the file
    that declares it, for a slot)."""
    from vibench.compiler.ir import Template

    bounds = ", ".join(f"{sign} {_number(v)}" for sign, v in ((">=", decl.ge), (">", decl.gt), ("<=", decl.le),
                                                             ("<", decl.lt)) if v is not None)
    if isinstance(decl.default, Template):
        default: str | None = f"{decl.default.text} (computed)"
    else:
        default = None if decl.required else _shown(decl.default)
    return ParamInfo(decl.name, decl.type, decl.doc or "", decl.required, default, bounds, decl.choices, decl.slot,
                     slot_dir if decl.slot is not None else None)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def unit_info(name: str, unit: UnitDef, path: str | None, library: Library | None = None) -> UnitInfo:
    """A unit of the file at ``path`` as the editor shows it; ``library``: the one that loaded it, which knows the
    folder of the file that declares each slot (one of a template ``path`` extends, for a slot it declares)."""
    from vibench.compiler.slots import slot_folder

    def folder(decl: ParamDecl) -> str | None:
        if decl.slot is None:
            return None
        known = slot_folder(library, decl) if library is not None else None
        return known or (os.path.dirname(path) if path else None)

    line, col = (unit.pos.line, unit.pos.col) if unit.pos is not None else (1, 1)
    return UnitInfo(name, path, unit.doc or "", tuple(declared_param(d, folder(d)) for d in unit.params),
                    tuple(i.name for i in unit.inputs), tuple(o.name for o in unit.outputs), line, col)


class Catalog:
    """Blocks, templates and referenced spec files, cached (thread-safe: warmed in a thread)."""

    def __init__(self, search_path: list[str] | None = None) -> None:
        self.search_path = list(search_path or [])
        self._given = list(self.search_path)  # the command line's and VIBENCH_SPEC_PATH's: kept by every setting
        self._lock = threading.RLock()
        self._blocks: dict[str, Block] | None = None
        self._block_params: dict[str, dict[str, ParamInfo]] = {}
        self._templates: dict[str, TemplateInfo] | None = None
        self._units: dict[tuple, UnitInfo | Diagnostic | None] = {}

    def set_folders(self, folders: list[str]) -> None:
        """The editor's ``specPath`` setting: the search path is the folders the server started with, then
        ``folders``, which replace those of an earlier setting (a setting says what the path is now; adding
        each one left a folder the user removed on the path). What was read on the old path is forgotten."""
        with self._lock:
            path = list(self._given)
            path += [folder for folder in dict.fromkeys(folders) if folder not in path]
            # a new list, not the old one changed: a check under way keeps the path it started with
            self.search_path = path
            self._templates = None
            self._units = {}

    def warm(self) -> None:
        """Import the compiler's passes and load the block registry (about 1.5 s, once)."""
        self.blocks()
        import vibench.compiler.pipeline  # noqa: F401  (the compile path, imported once)

    def warm_library(self) -> None:
        """Read every block's parameters and the library's templates (about 2 s, once)."""
        for name in self.blocks():
            self.block_params(name)
        self.templates()

    # -- blocks --------------------------------------------------------------------------------

    def blocks(self) -> dict[str, Block]:
        """The registry, loaded under this catalogue's lock: the registry marks itself loaded
        before its modules finish registering, so a second thread must not load it meanwhile
        (the server's checker calls this before compiling)."""
        with self._lock:
            if self._blocks is None:
                from vibench.compiler import registry

                self._blocks = registry.all_blocks()
            return self._blocks

    def block(self, name: str) -> Block | None:
        return self.blocks().get(name)

    def block_params(self, name: str) -> dict[str, ParamInfo]:
        """The parameters of catalogue block ``name`` (empty when there is no such block)."""
        with self._lock:
            cached = self._block_params.get(name)
            if cached is not None:
                return cached
            block = self.block(name)
            params = _block_params(block) if block is not None else {}
            self._block_params[name] = params
            return params

    def block_markdown(self, name: str) -> str:
        import inspect

        block = self.block(name)
        if block is None:
            return ""
        # `inputs` lists every port, the optional ones (`optional_inputs`) included: each is shown once
        ports = ", ".join(code(p) + (" (optional)" if p in block.optional_inputs else "") for p in block.inputs)
        ports += " (any number)" if block.variadic else ""
        text = f"**{plain(name)}** (block, {plain(block.category)})\n\n{inspect.cleandoc(block.long_description)}"
        text += f"\n\nInputs: {ports}; outputs: " + ", ".join(code(p) for p in block.outputs)
        params = self.block_params(name)
        if params:
            text += "\n\nParameters:\n" + "\n".join(f"- {_param_line(p)}" for p in params.values())
        return text

    # -- templates and spec files --------------------------------------------------------------

    def templates(self) -> dict[str, TemplateInfo]:
        """The templates on the spec path and in the library, by name (``cnn/ResNet1D``)."""
        self.blocks()
        with self._lock:
            if self._templates is None:
                from vibench.schemas.template_schema import templates_on_path

                self._templates = {t.name: t for t in templates_on_path(self.search_path)}
            return self._templates

    def library(self, home: str | None = None) -> Library:
        """A resolver on this catalogue's search path; ``home``: the folder of the spec being compiled (the edited
        document's), which a file it uses from another folder may use too, as in the compiler."""
        from vibench.compiler.resolve import Library

        library = Library(self.search_path)
        library.home = home
        return library

    def find(self, ref: str, from_dir: str | None, home: str | None = None) -> str | None:
        """The file a spec reference (``cnn/ResNet1D``, ``./base.yaml``; no ``#Block``) names, or None; a relative
        one names none from an unsaved document (no ``from_dir``), as its check finds none (:mod:`.folders`)."""
        from vibench.compiler.diagnostics import SpecError
        from vibench.compiler.spec_search import is_relative

        if from_dir is None and is_relative(ref):
            return None
        try:
            return str(self.library(home).find(ref, from_dir, None))
        except SpecError:
            return None

    def unit(self, ref: str, from_dir: str | None, home: str | None = None) -> UnitInfo | None:
        """The interface of the spec (or ``file#Block``) a reference names; None when it does not load."""
        loaded = self._load(ref, from_dir, home)
        return loaded if isinstance(loaded, UnitInfo) else None

    def slot_component(self, param: ParamInfo, name: str, from_dir: str | None) -> UnitInfo | None:
        """The component ``name`` of slot parameter ``param``, found as the compiler finds it: from the folder of
        the file that declares the slot, then from ``from_dir`` (the edited document's folder) and the search path."""
        if not param.slot:
            return None
        return self.unit(f"{param.slot}/{name}", param.slot_dir or from_dir, home=from_dir)

    def slot_definition(self, param: ParamInfo, name: str, from_dir: str | None) -> tuple[str, int, int] | None:
        """(file, line, col) of the component ``name`` of slot parameter ``param`` (see :meth:`slot_component`)."""
        if not param.slot:
            return None
        return self.definition(f"{param.slot}/{name}", param.slot_dir or from_dir, home=from_dir)

    def unit_error(self, ref: str, from_dir: str | None) -> Diagnostic | None:
        """Why the spec file a reference names does not load: the first of its errors (E001 for its YAML,
        E101 for an unknown key ...); None when it loads, or no file is found."""
        loaded = self._load(ref, from_dir)
        return None if loaded is None or isinstance(loaded, UnitInfo) else loaded

    def definition(self, ref: str, from_dir: str | None, home: str | None = None) -> tuple[str, int, int] | None:
        """(file, line, col), 1-based, of what a reference names: the spec file (its start), or the block
        of ``file#Block`` in it. When the file does not load (an error elsewhere in it), the block is found
        by its key under ``blocks:`` in the file's text; the file's start when not even that is there."""
        part, _, block = ref.partition("#")
        path = self.find(part, from_dir, home)
        if path is None or not block:
            return None if path is None else (path, 1, 1)
        unit = self.unit(ref, from_dir, home)
        if unit is not None:
            return path, unit.line, unit.col
        found = _key_position(path, ("blocks", block))
        return (path, *found) if found is not None else (path, 1, 1)

    def _load(self, ref: str, from_dir: str | None, home: str | None = None) -> UnitInfo | Diagnostic | None:
        """The unit a reference names; the first error of its file when that does not load; None when
        no file is found or the file holds no such block (cached until the file changes). ``home``: the folder of
        the spec being edited, ``from_dir`` when not given (whose files a file it uses may use too, as in the
        compiler: `../lib/X` from a template in a subfolder of it)."""
        from vibench.compiler.diagnostics import SpecError

        home = home if home is not None else from_dir
        part, _, block = ref.partition("#")
        path = self.find(part, from_dir, home)
        if path is None:
            return None
        try:
            stamp = os.stat(path).st_mtime_ns
        except OSError:
            return None
        key = (path, stamp, block, home)
        self.blocks()
        with self._lock:
            if key in self._units:
                return self._units[key]
            info: UnitInfo | Diagnostic | None
            try:
                library = self.library(home)
                root, blocks = library.load(path, None)
                unit = blocks.get(block) if block else root
                info = unit_info(ref, unit, path, library) if unit is not None else None
            except SpecError as err:
                info = err.diagnostics[0] if err.diagnostics else None
            self._units[key] = info
            return info

    def slot_components(self, slot: str, from_dir: str | None, home: str | None = None) -> list[str]:
        """The components a slot offers, its folder looked for from ``from_dir`` (the folder of the file that
        declares the slot), ``home`` (the edited document's folder) and the search path, as the compiler does."""
        from vibench.compiler.resolve import slot_components

        return slot_components(slot, self.library(home), from_dir)

    def param_components(self, param: ParamInfo, from_dir: str | None) -> list[str]:
        """The components slot parameter ``param`` offers to a document in ``from_dir`` (none for another)."""
        return self.slot_components(param.slot, param.slot_dir or from_dir, home=from_dir) if param.slot else []


def _key_position(path: str, keys: tuple[str, ...]) -> tuple[int, int] | None:
    """1-based (line, col) of the key at ``keys`` in the spec file at ``path``, read by the tolerant
    outline (so also in a file that does not load); None when it is not there or the file is not read."""
    from vibench.lsp.outline import outline
    from vibench.lsp.spec_kind import MAX_BYTES
    from vibench.lsp.text import BOM, Lines

    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            text = f.read()
    except OSError:
        return None
    entry = outline(text).entry(keys)
    if entry is None or entry.key_span is None:
        return None
    line, char = Lines(text, "utf-32").position(entry.key_span[0])  # code points, as the compiler counts
    return line + 1, char + 1 - (1 if line == 0 and text.startswith(BOM) else 0)


def _block_params(block: Block) -> dict[str, ParamInfo]:
    from vibench.schemas.jsonschema import bounds_text, type_text

    schema = block.Params.model_json_schema()
    props = schema.get("properties", {})
    out = {}
    for name, info in block.Params.model_fields.items():
        prop = dict(props.get(name, {}))
        members = prop.get("anyOf", [prop])
        required = info.is_required()
        default = None if required else _shown(info.get_default(call_default_factory=True))
        out[name] = ParamInfo(name, type_text({k: v for k, v in prop.items() if k not in ("default", "description",
                                                                                           "title")}),
                              info.description or "", required, default, bounds_text(members), _choices(members))
    return out


def _choices(members: list[dict[str, Any]]) -> tuple[Any, ...] | None:
    """The values a block parameter's literal members allow (``padding_mode``: zeros, reflect...; ``padding``:
    same, valid beside its numbers), in declaration order; None when it has none."""
    values: list[Any] = []
    for m in members:
        for value in m.get("enum", [m["const"]] if "const" in m else []):
            if value is not None and value not in values:
                values.append(value)
    return tuple(values) or None
