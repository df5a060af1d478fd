"""One open document: its text, its outline, and the last results of checking it.

A :class:`Document` keeps the latest text (what completion and hover read) apart from the last
*good* check (a :class:`~vibench.lsp.checking.Checked` with a program), so that shapes stay on
hover while the text is broken mid-edit. The helpers below answer the questions every feature
asks of the text: which unit (the model, or a composite under ``blocks:``) a path is in, which
block a node uses, where node references are written, and what a block name stands for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from vibench.lsp import spec_kind
from vibench.lsp.catalog import Catalog, ParamInfo, UnitInfo
from vibench.lsp.outline import Cursor, Outline, Path, cursor_at, outline
from vibench.lsp.outline_merge import MERGE, merged_path
from vibench.lsp.spec_kind import SPEC_SUFFIXES
from vibench.lsp.text import Lines

if TYPE_CHECKING:
    from vibench.compiler.ir import Node, Program, Unit
    from vibench.lsp.checking import Checked, Problem

JSON_LANGUAGES = ("json", "jsonc")


@dataclass
class Document:
    """An open document and what the server knows about it."""

    uri: str
    path: str | None  # the file on disk, None for an unsaved buffer
    text: str
    version: int | None = None
    encoding: str = "utf-16"
    last: Checked | None = None  # the latest check
    good: Checked | None = None  # the latest check that gave a program
    problems: list[Problem] = field(default_factory=list)  # of the latest check, as published
    language_id: str | None = None  # as the client opened it: `yaml`, `json`, `jsonc`, ...
    revision: int = 0  # counts the texts this document has had (a client's version may be None)
    told_too_large: bool = False  # whether the user was told the text is beyond MAX_BYTES
    _outline: Outline | None = field(default=None, repr=False)
    # The outline of an earlier version, kept only until this version's is built (cursor_at reads
    # only the cursor's line of text that starts like it): never two outlines at once for long.
    _base: Outline | None = field(default=None, repr=False)
    _lines: Lines | None = field(default=None, repr=False)
    _ranges: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False)
    _nodes: dict[Path, dict[str, Node]] = field(default_factory=dict, repr=False)  # of the good check
    _kind: tuple[int, bool] | None = field(default=None, repr=False)  # (revision, is a spec) last decided

    def update(self, text: str, version: int | None) -> None:
        self.text, self.version = text, version
        self.revision += 1
        self._base = self._outline or self._base
        self._outline = self._lines = None
        self._ranges = {}

    def range(self, start: int, end: int) -> Any:
        """The LSP range of text offsets (cached: completion items share one)."""
        key = (start, end)
        found = self._ranges.get(key)
        if found is None:
            from lsprotocol import types as t

            a, b = self.lines.position(start), self.lines.position(end)
            found = self._ranges[key] = t.Range(start=t.Position(line=a[0], character=a[1]),
                                                end=t.Position(line=b[0], character=b[1]))
        return found

    @property
    def outline(self) -> Outline:
        """Every key and value of the text (built once per version; only ever asked of a spec)."""
        if self._outline is None:
            self._outline, self._base = outline(self.text), None
        return self._outline

    def adopt(self, computed: Outline) -> None:
        """Keep an outline computed elsewhere (the checker thread) if it is of the current text."""
        if self._outline is None and computed.text == self.text:
            self._outline, self._base = computed, None

    def cursor(self, offset: int, whole_word: bool = False) -> Cursor:
        """What the text at ``offset`` is (reading only the cursor's line when the lines before it
        are those of a known outline). With ``whole_word`` (hover, definition), on a `block:` or `extends:`
        value the word is the whole scalar: a file reference may hold characters no name holds
        (``"./comp lib.yaml#Blk"``), and the name characters around the cursor were only a piece of it."""
        cursor = cursor_at(self.text, offset, whole_word=whole_word, base=self._outline or self._base)
        if MERGE in cursor.path:  # read through YAML's merge key: the path its keys have in the merged outline
            cursor = replace(cursor, path=merged_path(self.outline, cursor.path))
        if not whole_word or cursor.role != "value" or not names_file(cursor.path):
            return cursor
        entry = self.outline.entry(cursor.path)
        if entry is None or entry.value is None or entry.value_span is None:
            return cursor
        start, end = entry.value_span
        if not start <= offset <= end:
            return cursor
        return Cursor(cursor.path, "value", entry.value, start, end)

    @property
    def lines(self) -> Lines:
        if self._lines is None:
            self._lines = Lines(self.text, self.encoding)
        return self._lines

    @property
    def from_dir(self) -> str | None:
        """The folder the document's references are read from: its real file's, as the compiler reads them
        (:func:`vibench.compiler.load.read_spec_file`), so that go-to-definition, hover and completion name the
        files its diagnostics come from (a document opened as `X/link.yaml -> ../Y/spec.yaml` reads `./base` as
        `Y/base.yaml`). Resolved at each call: a link re-pointed since leads elsewhere."""
        return os.path.dirname(os.path.realpath(self.path)) if self.path else None

    @property
    def program(self) -> Program | None:
        return self.good.program if self.good is not None else None

    @property
    def stale(self) -> bool:
        """Whether the text changed since the last good check."""
        return self.good is None or self.good.text != self.text

    def record(self, checked: Checked) -> None:
        self.last = checked
        if checked.program is not None:
            self.good = checked
            self._nodes = {}

    def nodes(self, unit: Path) -> dict[str, Node]:
        """The checked nodes of a unit by name (of its first specialisation, for a composite)."""
        found = self._nodes.get(unit)
        if found is None:
            found = {}
            for u in reversed(units_for(self, unit)):
                found.update((n.name, n) for n in u.nodes)
            self._nodes[unit] = found
        return found

    @property
    def name(self) -> str:
        return self.path or self.uri

    @property
    def is_json(self) -> bool:
        """Whether completion writes JSON: the client's language id says so (`json`, `jsonc`), or the
        name ends with `.json` in any case (the suffix vibench-compile reads specs from)."""
        return self.language_id in JSON_LANGUAGES or self.name.lower().endswith(".json")

    @property
    def too_large(self) -> bool:
        """Beyond :data:`~vibench.lsp.spec_kind.MAX_BYTES` (vibench-compile's limit): the server reads none of it."""
        return spec_kind.too_large(self.text)

    def is_spec(self) -> bool:
        """Whether to treat the document as a spec or a PHM-Vibench config (other YAML and JSON is left
        alone; :mod:`vibench.lsp.spec_kind`). Decided once per version, from the top-level keys (never the
        outline); a document longer than :data:`~vibench.lsp.spec_kind.INLINE_SCAN` keeps its last decision
        until the checker thread, which decides for each version it checks, says otherwise (:meth:`know`)."""
        known = self._kind
        if known is not None and known[0] == self.revision:
            return known[1]
        if known is not None and len(self.text) > spec_kind.INLINE_SCAN:
            return known[1] and len(self.text) <= spec_kind.MAX_BYTES
        spec = not self.too_large and spec_kind.is_spec(self.text, self.name)
        self._kind = (self.revision, spec)
        return spec

    def answers_completion(self) -> bool:
        """Completion answers for a spec and for a short text with no top-level key yet (one being started,
        e.g. ``{}`` in a new ``.json`` file, which is no spec for diagnostics: :func:`spec_kind.being_started`)."""
        return self.is_spec() or spec_kind.being_started(self.text)

    def know(self, revision: int, spec: bool) -> None:
        """Keep a decision made elsewhere (the checker thread) on the text of ``revision``."""
        if self._kind is None or self._kind[0] <= revision:
            self._kind = (revision, spec)


def is_phm(o: Outline) -> bool:
    """A PHM-Vibench experiment config: sections such as `model:`, no `vibench:` key."""
    return spec_kind.is_phm_keys(o.keys(()))


# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------


def unit_of(path: Path) -> Path:
    """The unit a path is in: ``("blocks", B)`` for a composite's body, ``()`` for the model."""
    return path[:2] if len(path) >= 2 and path[0] == "blocks" else ()


def names_file(path: Path) -> bool:
    """Whether a value at ``path`` may name a spec file: a node's `block:`, or `extends:`."""
    rel = path[len(unit_of(path)):]
    return path == ("extends",) or (len(rel) == 3 and rel[0] == "nodes" and rel[2] == "block")


def node_of(path: Path) -> str | None:
    """The node a path is inside (``("nodes", X, ...)`` within its unit)."""
    rel = path[len(unit_of(path)):]
    return str(rel[1]) if len(rel) >= 2 and rel[0] == "nodes" else None


def is_reference(path: Path) -> bool:
    """Whether a value at ``path`` names a node or input: in `in:` or `outputs:` of its unit."""
    rel = path[len(unit_of(path)):]
    if len(rel) >= 3 and rel[0] == "nodes" and rel[2] == "in":
        return len(rel) <= 4
    if len(rel) >= 2 and rel[0] == "outputs":
        return len(rel) == 2 or (len(rel) == 3 and rel[2] == "from")
    return False


def node_block(o: Outline, unit: Path, node: str) -> str | None:
    return o.value((*unit, "nodes", node, "block"))


def references(o: Outline, unit: Path) -> list[tuple[str, str]]:
    """(name, "input" | "node") of everything a node of ``unit`` may read, in document order."""
    return [(str(k), "input") for k in o.keys((*unit, "inputs"))] + [(str(k), "node") for k in o.keys((*unit, "nodes"))]


def is_library_ref(block: str) -> bool:
    return "/" in block or "#" in block or block.endswith(SPEC_SUFFIXES)


def composite_params(o: Outline, name: str) -> list[ParamInfo]:
    """The parameters a composite of the document declares, read from its text."""
    base: Path = ("blocks", name, "params")
    out = []
    for key in o.keys(base):
        path = (*base, key)
        if o.kind(path) == "scalar":
            out.append(ParamInfo(str(key), "inferred from the default", "", False, o.value(path)))
            continue
        keys = o.keys(path)
        out.append(ParamInfo(str(key), o.value((*path, "type")) or "inferred from the default",
                             o.value((*path, "doc")) or "", "default" not in keys, o.value((*path, "default")),
                             slot=o.value((*path, "slot"))))
    return out


def composite_info(o: Outline, name: str) -> UnitInfo | None:
    if name not in o.keys(("blocks",)):
        return None
    base = ("blocks", name)
    return UnitInfo(name, None, o.value((*base, "doc")) or "", tuple(composite_params(o, name)),
                    tuple(str(k) for k in o.keys((*base, "inputs"))), tuple(str(k) for k in o.keys((*base, "outputs"))))


def block_interface(doc: Document, catalog: Catalog, block: str | None) -> tuple[list[ParamInfo], list[str], list[str]]:
    """(parameters, input ports, output ports) of what a `block:` value names; empty when unknown.

    A block's input ports include its optional ones (``Block.optional_inputs`` only marks them)."""
    if not block or "${" in block:
        return [], [], []
    found = catalog.block(block)
    if found is not None:
        return list(catalog.block_params(block).values()), list(found.inputs), list(found.outputs)
    unit = composite_info(doc.outline, block) if not is_library_ref(block) else catalog.unit(block, doc.from_dir)
    if unit is None:
        return [], [], []
    return list(unit.params), list(unit.inputs), list(unit.outputs)


def template_of(doc: Document, catalog: Catalog) -> UnitInfo | None:
    """The template the document instantiates: its `extends:`, or a PHM config's `model:` type/name, as its text
    writes them, else as the compiler merged them with its base configs at the last check."""
    o = doc.outline
    extends = o.value(("extends",))
    if extends:
        return catalog.unit(extends, doc.from_dir)
    name = phm_template(o) or (doc.last.phm_template if doc.last is not None and is_phm(o) else None)
    return catalog.unit(name, doc.from_dir) if name else None


def phm_template(o: Outline) -> str | None:
    """``cnn/ResNet1D`` for a PHM-Vibench `model: {type: CNN, name: ResNet1D}`."""
    from vibench.compiler.phm import FAMILY_FOLDERS

    if not is_phm(o):
        return None
    kind, name = o.value(("model", "type")), o.value(("model", "name"))
    if not kind or not name or kind not in FAMILY_FOLDERS:
        return None
    return f"{FAMILY_FOLDERS[kind]}/{name}"


def template_param_path(doc: Document, path: Path) -> str | None:
    """The template parameter a value at ``path`` sets: under `with:`, or a PHM `model:` key."""
    if len(path) in (2, 3) and path[0] == "with":
        return str(path[1])
    if len(path) in (2, 3) and path[0] == "model" and path[1] not in ("type", "name") and is_phm(doc.outline):
        return str(path[1])
    return None


# The keys a node writes besides its block's parameters (vibench.schemas.document.NODE_KEYS, which the server
# does not import at start-up; tests/test_lsp.py compares them).
NODE_KEYS = ("block", "in", "repeat", "when", "for_each", "inherit", "with", "checkpoint", "doc")


def value_slot(doc: Document, catalog: Catalog, path: Path) -> str | None:
    """The component folder (``isfm/backbone``) a value at ``path`` names a component of: a slot parameter
    of the extended template (`with:`, a PHM config's `model:`) or of a node's template block
    (`backbone: B_08_PatchTST` in a node whose block is isfm/M_01_ISFM); None elsewhere."""
    param = value_slot_param(doc, catalog, path)
    return param.slot if param is not None else None


def value_slot_param(doc: Document, catalog: Catalog, path: Path) -> ParamInfo | None:
    """The slot parameter a value at ``path`` sets (see :func:`value_slot`), which knows the folder of the file
    that declares it: its components are found with :meth:`Catalog.slot_component` from there, as the compiler
    finds them; None where the value sets no slot."""
    name = template_param_path(doc, path)
    if name is not None:
        template = template_of(doc, catalog)
        param = template.param(name) if template is not None else None
        return param if param is not None and param.slot else None
    unit = unit_of(path)
    rel = path[len(unit):]
    if len(rel) in (3, 4) and rel[0] == "nodes" and rel[2] not in NODE_KEYS:
        params, _, _ = block_interface(doc, catalog, node_block(doc.outline, unit, str(rel[1])))
        param = next((p for p in params if p.name == rel[2]), None)
        return param if param is not None and param.slot else None
    return None


# --------------------------------------------------------------------------------------------
# the last good program
# --------------------------------------------------------------------------------------------


def units_for(doc: Document, unit: Path) -> list[Unit]:
    """The checked units of a document's unit: the root, or each specialisation of a composite."""
    program = doc.program
    if program is None:
        return []
    if not unit:
        return [program.root]
    suffix = f"#{unit[1]}"
    return [u for u in program.units if u.qualname == f"{doc.good.display}{suffix}"] if doc.good else []


def checked_node(doc: Document, unit: Path, name: str) -> Node | None:
    """The node as last checked (the first specialisation, for a composite's node)."""
    return doc.nodes(unit).get(name)
