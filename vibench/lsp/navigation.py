"""Go to definition, document symbols and quick fixes.

* definition: a node reference (``in:``, ``outputs:``; ``node.port`` too) -> the node's (or
  input's) key in the same unit; a ``block:`` value -> the composite under ``blocks:`` or the spec
  file (``file#Block``: the block in it); ``extends:``, a slot value (``backbone: B_08_PatchTST``)
  and a PHM config's ``model: name`` -> the template file; a PHM ``base_configs:`` entry -> that file;
* symbols: the model's inputs, nodes (with block and checked shape), outputs and parameters, and
  each composite under ``blocks:`` with its own;
* code actions: for each diagnostic whose hint says "did you mean `x`?", replace the misspelt name (while
  the text at the diagnostic's fix is still that name: a stale fix is not offered).
"""

from __future__ import annotations

import os
from typing import Any

from lsprotocol import types as t

from vibench.lsp.catalog import Catalog
from vibench.lsp.completion import span_range
from vibench.lsp.document import (
    Document,
    checked_node,
    is_library_ref,
    is_phm,
    is_reference,
    node_block,
    phm_template,
    unit_of,
    value_slot_param,
)
from vibench.lsp.outline import Path


def definition(doc: Document, catalog: Catalog, offset: int) -> list[t.Location] | None:
    cursor = doc.cursor(offset, whole_word=True)
    if cursor.role != "value" or not cursor.word:
        return None
    o, path, word = doc.outline, cursor.path, cursor.word
    unit = unit_of(path)
    rel = path[len(unit):]
    if is_reference(path):
        name = word.split(".")[0]
        for section in ("nodes", "inputs"):
            target = _key_location(doc, (*unit, section, name))
            if target is not None:
                return [target]
        return None
    if len(rel) == 3 and rel[0] == "nodes" and rel[2] == "block":
        if not is_library_ref(word):
            target = _key_location(doc, ("blocks", word))
            return [target] if target is not None else None
        return _unit_location(catalog, word, doc.from_dir, doc.encoding)
    if path == ("extends",):
        return _unit_location(catalog, word, doc.from_dir, doc.encoding)
    if len(path) == 2 and path[0] == "base_configs" and is_phm(o) and doc.from_dir:
        return _file_location(_base_config(doc, catalog, o.value(path) or word))
    if path == ("model", "name") and is_phm(o):
        template_name = phm_template(o)
        return _unit_location(catalog, template_name, doc.from_dir, doc.encoding) if template_name else None
    param = value_slot_param(doc, catalog, path)  # a slot's component: from the folder that declares the slot
    if param is None or not param.slot:
        return None
    return _unit_location(catalog, f"{param.slot}/{word}", param.slot_dir or doc.from_dir, doc.encoding, doc.from_dir)


def _key_location(doc: Document, path: Path) -> t.Location | None:
    entry = doc.outline.entry(path)
    if entry is None or entry.key_span is None:
        return None
    return t.Location(uri=doc.uri, range=span_range(doc, *entry.key_span))


def _base_config(doc: Document, catalog: Catalog, ref: str) -> str | None:
    """The file a PHM-Vibench `base_configs` entry names, found as the compiler finds it
    (:func:`vibench.compiler.phm_base.base_model`): relative to the experiment's folder, its project root, the
    working folder or a folder of the search path, the first regular file there, and only inside the project root or
    the search path; None where the compiler reads none (E205: a file outside the project was opened all the same)."""
    from vibench.compiler.phm_base import project_root
    from vibench.compiler.spec_paths import within

    if not doc.from_dir or os.path.isabs(ref) or ref.startswith("~") or "\0" in ref:
        return None
    library = catalog.library(doc.from_dir)
    # beside the experiment as it is named (a link's folder, not its target's), as PHM-Vibench and the compiler read
    named = os.path.realpath(os.path.dirname(doc.path)) if doc.path else doc.from_dir
    root = project_root(named)
    allowed = [os.path.realpath(folder) for folder in [root, *library.user_dirs]]
    for folder in dict.fromkeys([named, root, library.cwd, *library.user_dirs]):
        candidate = os.path.join(folder, ref)  # never normalised: `link/../m.yaml` is where the link leads up from
        if not os.path.isfile(candidate):
            continue
        real = os.path.realpath(candidate)
        if within(real, allowed):  # the experiment itself is E206: no base config
            return None if doc.path is not None and real == os.path.realpath(doc.path) else real
    return None


def _file_location(file: str | None) -> list[t.Location] | None:
    """The start of a PHM-Vibench base config (only the file is named: its text is not read here)."""
    from pathlib import Path as FilePath

    if file is None or not os.path.isfile(file):
        return None
    start = t.Position(line=0, character=0)
    return [t.Location(uri=FilePath(os.path.abspath(file)).as_uri(), range=t.Range(start=start, end=start))]


def _unit_location(catalog: Catalog, ref: str, from_dir: str | None,
                   encoding: str = "utf-16", home: str | None = None) -> list[t.Location] | None:
    """The spec file a reference names, at its block for ``file#Block`` (found in the file's text when
    the file has errors, see :meth:`Catalog.definition`). The compiler's position (code points, YAML's line
    breaks) is given in the client's ``encoding`` and lines, as every other position."""
    from pathlib import Path as FilePath

    from vibench.lsp.text import Lines

    found = catalog.definition(ref, from_dir, home)
    if found is None:
        return None
    file, line, col = found
    position = t.Position(line=line - 1, character=col - 1)
    if (line, col) != (1, 1):
        try:
            with open(file, encoding="utf-8", errors="surrogateescape", newline="") as fh:
                lines = Lines(fh.read(), encoding)
        except OSError:
            pass
        else:
            where, character = lines.position(lines.line_col_offset(line, col))
            position = t.Position(line=where, character=character)
    return [t.Location(uri=FilePath(file).as_uri(), range=t.Range(start=position, end=position))]


# --------------------------------------------------------------------------------------------
# symbols
# --------------------------------------------------------------------------------------------


def symbols(doc: Document) -> list[t.DocumentSymbol]:
    o = doc.outline
    out = _unit_symbols(doc, ())
    for name in o.keys(("blocks",)):
        entry = o.entry(("blocks", name))
        if entry is None or entry.key_span is None:
            continue
        out.append(t.DocumentSymbol(name=str(name), kind=t.SymbolKind.Class, detail="composite block",
                                    range=span_range(doc, entry.key_span[0], max(entry.end, entry.key_span[1])),
                                    selection_range=span_range(doc, *entry.key_span),
                                    children=_unit_symbols(doc, ("blocks", name))))
    return out


_SECTIONS = (("params", t.SymbolKind.Constant, "parameter"), ("inputs", t.SymbolKind.Variable, "input"),
             ("nodes", t.SymbolKind.Function, None), ("outputs", t.SymbolKind.Field, "output"))


def _unit_symbols(doc: Document, unit: Path) -> list[t.DocumentSymbol]:
    from vibench.compiler.symbolic import fmt_shape

    o = doc.outline
    out = []
    for section, kind, label in _SECTIONS:
        for name in o.keys((*unit, section)):
            entry = o.entry((*unit, section, name))
            if entry is None or entry.key_span is None:
                continue
            detail = label
            if section == "nodes":
                detail = node_block(o, unit, str(name)) or "node"
                node = checked_node(doc, unit, str(name))
                if node is not None:
                    detail += " " + "; ".join(fmt_shape(tt.shape) for _, tt in node.outputs)
            out.append(t.DocumentSymbol(name=str(name), kind=kind, detail=detail,
                                        range=span_range(doc, entry.key_span[0], max(entry.end, entry.key_span[1])),
                                        selection_range=span_range(doc, *entry.key_span)))
    return out


# --------------------------------------------------------------------------------------------
# quick fixes
# --------------------------------------------------------------------------------------------


def code_actions(doc: Document, params: t.CodeActionParams) -> list[t.CodeAction]:
    """A quick fix for each diagnostic in the request that carries a "did you mean" replacement, while the
    text at its range is still the name it replaces: a fix published before an edit elsewhere moved the text
    (a line added above) would replace whatever now sits there, so it is offered no more."""
    out = []
    for diag in params.context.diagnostics:
        fix = _fix_of(diag)
        if fix is None:
            continue
        edit_range, old, new_text = fix
        if _text_in(doc, edit_range) != old:
            continue
        out.append(t.CodeAction(title=f"Replace `{old}` with `{new_text}`", kind=t.CodeActionKind.QuickFix,
                                diagnostics=[diag], is_preferred=True,
                                edit=t.WorkspaceEdit(changes={doc.uri: [t.TextEdit(range=edit_range,
                                                                                    new_text=new_text)]})))
    return out


def fix_data(doc: Document, fix: tuple[int, int, str]) -> dict[str, Any]:
    """What a published diagnostic carries for its quick fix (clients send it back): the range, the text
    there when it was published, and its replacement."""
    start, end, text = fix
    a, b = doc.lines.position(start), doc.lines.position(end)
    return {"fix": {"range": [a[0], a[1], b[0], b[1]], "old": doc.text[start:end], "newText": text}}


_UINTEGER = range(2**31)  # LSP's uinteger: a line or character beyond it is no position


def _fix_of(diag: t.Diagnostic) -> tuple[t.Range, str, str] | None:
    """(range, text it replaces, replacement) of the fix a diagnostic sent back carries; None when it carries
    none, or none this server wrote (a client may send back any `data`)."""
    data = diag.data if isinstance(diag.data, dict) else None
    fix = data.get("fix") if data else None
    if not isinstance(fix, dict) or not isinstance(fix.get("newText"), str) or not isinstance(fix.get("old"), str):
        return None
    r = fix.get("range")
    if not (isinstance(r, list) and len(r) == 4
            and all(isinstance(x, int) and not isinstance(x, bool) and x in _UINTEGER for x in r)):
        return None
    start, end = t.Position(line=r[0], character=r[1]), t.Position(line=r[2], character=r[3])
    return t.Range(start=start, end=end), fix["old"], fix["newText"]


def _text_in(doc: Document, r: t.Range) -> str | None:
    start = doc.lines.offset(r.start.line, r.start.character)
    end = doc.lines.offset(r.end.line, r.end.character)
    return doc.text[start:end] if start < end else None
