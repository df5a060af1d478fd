"""Completion: what may be written at the cursor, from the text and the last good check.

Never waits for a compile: the cursor's place comes from :func:`vibench.lsp.outline.cursor_at`, the
names from the document's outline and the catalogue, and shapes (as item details) from the last
good program. Offered:

* a node's keys: its block's parameters (type, default, doc) and the node keys not yet written;
* ``block:`` values: the catalogue (one-line description; the full doc on resolve), the document's
  composites (inside a composite, not itself nor one that uses it: E206) and the library's templates;
* node references in ``in:`` (string, list or port mapping) and ``outputs:``: the unit's inputs
  and nodes in the spellings the compiler takes there (:mod:`vibench.lsp.completion_refs`), nearest
  preceding node first, each with its checked shape; port names as the keys of an ``in:`` mapping;
* ``extends:`` values: templates; ``with:`` keys (and a PHM config's ``model:`` keys): the
  template's parameters; values of slots (``backbone: B_0...``) and of parameters with choices
  (a block's fixed values: ``padding_mode: zeros``);
* a block parameter that takes no text: the unit's parameters of a type it takes and ``let`` names
  (names as values);
* the document model's keys elsewhere (top level, ``params:``, ``inputs:``, ...; at the top level
  only those the compiler combines with the keys written, E107) and its fixed values (``dtype``).

In a JSON spec (language id `json` or `jsonc`, or a name ending `.json`) a name typed without its
opening quote is inserted as a JSON string, a key with its colon (``"bias": ``); a key typed inside
quotes gets its colon after the closing quote. In YAML a value YAML would read as something else written
plain (a fixed value ``on``, ``1``, ``a: b``) is inserted quoted (:mod:`vibench.lsp.value_text`).
"""

from __future__ import annotations

import json

from lsprotocol import types as t

from vibench.lsp.catalog import Catalog, ParamInfo, document_model, model_keys
from vibench.lsp.completion_refs import candidates as reference_candidates
from vibench.lsp.document import (
    NODE_KEYS,
    Document,
    block_interface,
    is_phm,
    is_reference,
    node_block,
    template_of,
    template_param_path,
    unit_of,
)
from vibench.lsp.outline import Cursor
from vibench.lsp.param_types import declared_as, kinds_taken, takes_text
from vibench.lsp.value_text import inside_quotes, quoted, reads_plain

KEY = t.CompletionItemKind.Property


def complete(doc: Document, catalog: Catalog, offset: int) -> list[t.CompletionItem]:
    cursor = doc.cursor(offset)
    if cursor.role == "key":
        return _keys(doc, catalog, cursor)
    if cursor.role == "value":
        return _values(doc, catalog, cursor)
    return []


def resolve(item: t.CompletionItem, catalog: Catalog) -> t.CompletionItem:
    """Add the full documentation of a block or template item (kept out of the list: it is long). Its `data`
    comes back from the client as any JSON: a name that is no string (`{"block": ["x"]}`) resolves to the
    item as it is."""
    data = item.data if isinstance(item.data, dict) else {}
    block, template = data.get("block"), data.get("template")
    if isinstance(block, str) and block:
        item.documentation = _markdown(catalog.block_markdown(block))
    elif isinstance(template, str) and template:
        info = catalog.templates().get(template)
        if info is not None:
            item.documentation = _markdown(info.markdown)
    return item


# --------------------------------------------------------------------------------------------
# keys
# --------------------------------------------------------------------------------------------


def _keys(doc: Document, catalog: Catalog, cursor: Cursor) -> list[t.CompletionItem]:
    o, path = doc.outline, cursor.path
    unit = unit_of(path)
    rel = path[len(unit):]
    present = {str(k) for k in o.keys(path)} - {cursor.word}
    if len(rel) == 2 and rel[0] == "nodes":  # a node's keys
        params, _, _ = block_interface(doc, catalog, node_block(o, unit, str(rel[1])))
        items = [_param_item(p, cursor, doc) for p in params if p.name not in present]
        node_doc = model_keys(document_model(("nodes", "x")))  # type: ignore[arg-type]
        items += [_key_item(k, node_doc[k][1], cursor, doc, node_doc[k][0], sort="1") for k in NODE_KEYS
                  if k not in present and k in node_doc]
        return items
    if len(rel) == 3 and rel[0] == "nodes" and rel[2] == "with":
        params, _, _ = block_interface(doc, catalog, node_block(o, unit, str(rel[1])))
        return [_param_item(p, cursor, doc) for p in params if p.name not in present]
    if len(rel) == 3 and rel[0] == "nodes" and rel[2] == "in":  # `in: {port: ...}`
        _, ports, _ = block_interface(doc, catalog, node_block(o, unit, str(rel[1])))
        return [_key_item(p, "input port", cursor, doc) for p in ports if p not in present]
    if path == ("with",) or (path == ("model",) and is_phm(o)):
        template = template_of(doc, catalog)
        if template is None:
            return []
        items = [_param_item(p, cursor, doc) for p in template.params if p.name not in present]
        if path == ("model",):
            items += [_key_item(k, "PHM-Vibench model family and name", cursor, doc) for k in ("type", "name")
                      if k not in present]
        return items
    if is_phm(o):
        return []
    model = document_model(path)
    if model is None:
        return []
    refused = _refused_with(present) if path == () else set()
    return [_key_item(k, text, cursor, doc, type_) for k, (type_, text) in model_keys(model).items()
            if k not in present and k not in refused and not (k == "$schema" and not doc.is_json)]


# Top-level keys the compiler refuses next to `extends:` (E107; `with:` needs `extends:`).
_EXTENDS = frozenset({"extends", "with"})
_NOT_WITH_EXTENDS = frozenset({"inputs", "nodes", "outputs", "blocks", "let", "checks"})


def _refused_with(present: set[str]) -> frozenset[str]:
    """The top-level keys that cannot be combined with those written (``present``): a spec extends
    a template and sets its parameters, or defines the whole model (resolve.py, E107)."""
    if present & _EXTENDS:
        return _NOT_WITH_EXTENDS
    if present & _NOT_WITH_EXTENDS:
        return _EXTENDS
    return frozenset()


def _param_item(p: ParamInfo, cursor: Cursor, doc: Document) -> t.CompletionItem:
    return t.CompletionItem(label=p.name, kind=KEY, detail=p.detail, documentation=_markdown(p.markdown()),
                            sort_text=("0" if p.required else "1") + p.name, text_edit=_key_edit(doc, cursor, p.name))


def _key_item(key: str, text: str, cursor: Cursor, doc: Document, type_: str | None = None,
              sort: str = "0") -> t.CompletionItem:
    return t.CompletionItem(label=key, kind=KEY, detail=type_, documentation=_markdown(text) if text else None,
                            sort_text=sort + key, text_edit=_key_edit(doc, cursor, key))


def _key_edit(doc: Document, cursor: Cursor, key: str) -> t.TextEdit:
    """Write ``key`` with its colon (``key: ``), unless one follows already, as the document writes keys.

    Typed inside quotes (``"bi|"``, or ``"|"`` an editor closed), the key's closing quote goes before the
    colon: the edit takes the closing quote too (``bias": ``). Typed without a quote in JSON, the key is
    written as a JSON string (``"bias": ``). A ``$`` before the word (``$schema``) is part of the key."""
    start, end = cursor.start, cursor.end
    if key.startswith("$") and doc.text[start - 1:start] == "$":
        start -= 1
    quote = doc.text[start - 1:start] if doc.text[start - 1:start] in ('"', "'") else ""
    closed = bool(quote) and doc.text[end:end + 1] == quote
    after = doc.text[end + closed:end + closed + 40].lstrip(" \t")
    colon = "" if after.startswith(":") else ": "
    if quote and closed and not colon:  # `"bi|": 1`: only the name changes
        text = key
    elif quote:  # `"bi|"` or `"bi|`: the key, its closing quote (rewritten if there was one), the colon
        text, end = key + quote + colon, end + closed
    elif doc.is_json:
        text = json.dumps(key, ensure_ascii=False) + colon
    else:
        text = key + colon
    return t.TextEdit(range=span_range(doc, start, end), new_text=text)


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------


def _values(doc: Document, catalog: Catalog, cursor: Cursor) -> list[t.CompletionItem]:
    o, path = doc.outline, cursor.path
    unit = unit_of(path)
    rel = path[len(unit):]
    if len(rel) == 3 and rel[0] == "nodes" and rel[2] == "block":
        return _block_names(doc, catalog, cursor)
    if is_reference(path):
        return _references(doc, catalog, cursor)
    if path == ("extends",):
        return _templates(doc, catalog, cursor, None)
    if is_phm(o) and path == ("model", "type"):
        from vibench.compiler.phm import FAMILY_FOLDERS

        return [_value_item(k, f"templates in {v}/", cursor, doc) for k, v in FAMILY_FOLDERS.items()]
    if is_phm(o) and path == ("model", "name"):
        from vibench.compiler.phm import FAMILY_FOLDERS

        folder = FAMILY_FOLDERS.get(o.value(("model", "type")) or "")
        return _templates(doc, catalog, cursor, folder) if folder else []
    name = template_param_path(doc, path)
    if name is not None:
        template = template_of(doc, catalog)
        param = template.param(name) if template is not None else None
        return _param_values(doc, catalog, cursor, param)
    if len(rel) == 3 and rel[0] == "nodes" and rel[2] in _NAMED_NODE_KEYS:  # `when: classify`, `repeat: layers`
        flags = [_value_item(v, "literal", cursor, doc, literal=True) for v in ("true", "false")
                 if rel[2] in ("when", "checkpoint")]
        return flags + _unit_names(doc, cursor, unit, _NAMED_NODE_KEYS[rel[2]])
    if len(rel) in (3, 4) and rel[0] == "nodes" and rel[2] not in NODE_KEYS:
        params, _, _ = block_interface(doc, catalog, node_block(o, unit, str(rel[1])))
        param = next((p for p in params if p.name == rel[2]), None)
        return _param_values(doc, catalog, cursor, param) + _names(doc, cursor, unit, param)
    model = document_model(path[:-1]) if path else None
    if model is not None and path[-1] == "dtype":
        from vibench.schemas.document import DTYPES

        return [_value_item(d, "element type", cursor, doc) for d in DTYPES]
    return []


def _block_names(doc: Document, catalog: Catalog, cursor: Cursor) -> list[t.CompletionItem]:
    items = [t.CompletionItem(label=name, kind=t.CompletionItemKind.Class, detail=block.description,
                              sort_text="1" + name, data={"block": name}, text_edit=_value_edit(doc, cursor, name))
             for name, block in catalog.blocks().items()]
    unit = unit_of(cursor.path)
    using = _composites_using(doc, str(unit[1])) if unit else set()
    for name in doc.outline.keys(("blocks",)):
        if name in using:  # the composite itself, or one that uses it: a block would use itself (E206)
            continue
        text = doc.outline.value(("blocks", name, "doc")) or "composite block of this file"
        items.append(t.CompletionItem(label=str(name), kind=t.CompletionItemKind.Class, detail=text.strip(),
                                      sort_text="0" + str(name), text_edit=_value_edit(doc, cursor, str(name))))
    return items + _templates(doc, catalog, cursor, None, sort="2")


def _composites_using(doc: Document, composite: str) -> set[str]:
    """``composite`` and the document's composites that use it, directly or through others: one walk of the
    composites' users from it, each composite and node read once (going over every composite again for each
    one found took the square of their number: 49 s for a chain of 15,000)."""
    o = doc.outline
    users: dict[str, set[str]] = {}  # a block name -> the composites with a node of that block
    for b in o.keys(("blocks",)):
        for n in o.keys(("blocks", b, "nodes")):
            block = node_block(o, ("blocks", b), str(n))
            if block is not None:
                users.setdefault(block, set()).add(str(b))
    found, todo = {composite}, [composite]
    while todo:
        for user in users.get(todo.pop(), ()):
            if user not in found:
                found.add(user)
                todo.append(user)
    return found


def _templates(doc: Document, catalog: Catalog, cursor: Cursor, folder: str | None,
               sort: str = "0") -> list[t.CompletionItem]:
    items = []
    for name, info in catalog.templates().items():
        if folder is not None and not name.startswith(folder + "/"):
            continue
        label = name if folder is None else name[len(folder) + 1:]
        if "/" in label and folder is not None:  # a PHM `name:` is a template of the family folder itself
            continue
        items.append(t.CompletionItem(label=label, kind=t.CompletionItemKind.Module, detail=info.summary,
                                      sort_text=sort + label, data={"template": name},
                                      text_edit=_value_edit(doc, cursor, label)))
    return items


def _references(doc: Document, catalog: Catalog, cursor: Cursor) -> list[t.CompletionItem]:
    """The names that compile as a reference at the cursor (:mod:`vibench.lsp.completion_refs`)."""
    return [t.CompletionItem(label=c.label, kind=t.CompletionItemKind.Variable if c.is_input
                             else t.CompletionItemKind.Reference, detail=c.detail, sort_text=c.sort,
                             text_edit=_value_edit(doc, cursor, c.label))
            for c in reference_candidates(doc, catalog, cursor.path)]


def _param_values(doc: Document, catalog: Catalog, cursor: Cursor, param: ParamInfo | None) -> list[t.CompletionItem]:
    if param is None:
        return []
    if param.slot:
        items = []
        # from the folder of the file that declares the slot (a template's `comp/` beside it), as the compiler does
        for name in catalog.param_components(param, doc.from_dir):
            info = catalog.templates().get(f"{param.slot}/{name}")
            items.append(t.CompletionItem(label=name, kind=t.CompletionItemKind.Module,
                                          detail=info.summary if info else f"{param.slot}/{name}",
                                          sort_text="0" + name, data={"template": f"{param.slot}/{name}"},
                                          text_edit=_value_edit(doc, cursor, name)))
        return items
    if param.choices:  # (a choice that is no string as YAML writes it: `true`, not Python's `True`)
        return [_value_item(c if isinstance(c, str) else _literal(c), param.doc, cursor, doc,
                            literal=not isinstance(c, str)) for c in param.choices if c is not None]
    if param.type == "bool":
        return [_value_item(v, param.doc, cursor, doc, literal=True) for v in ("true", "false")]
    return []


def _names(doc: Document, cursor: Cursor, unit: tuple, param: ParamInfo | None) -> list[t.CompletionItem]:
    """The unit's parameters and ``let`` values, for a block parameter that takes no text: there a
    plain name reads its value (``out_channels: width``; docs/language.md, "Names as values"), which the
    block then validates, so only names declared of a type the parameter takes (``bias: width`` is E112)."""
    if param is None or param.slot or param.choices or takes_text(param.type):
        return []
    return _unit_names(doc, cursor, unit, kinds_taken(param.type))


# The node keys that take a parameter's name as their value (docs/language.md, "Names as values"), and the
# declared types of the names they take (`repeat: act` of a str parameter is E211).
_NAMED_NODE_KEYS = {"when": ("bool",), "checkpoint": ("bool",), "repeat": ("int",), "for_each": ("list", "dict")}


def _unit_names(doc: Document, cursor: Cursor, unit: tuple, kinds: tuple[str, ...] = ()) -> list[t.CompletionItem]:
    """The unit's parameter and ``let`` names, as values; with ``kinds``, only parameters whose declared type
    (or shorthand default) is one of them, and every ``let`` (its type is not written)."""
    o = doc.outline
    items = []
    for section, what in (("params", "parameter"), ("let", "`let` value")):
        for name in o.keys(unit + (section,)):
            if kinds and section == "params" and not declared_as(o, unit + (section, name), kinds):
                continue
            items.append(t.CompletionItem(label=str(name), kind=t.CompletionItemKind.Variable,
                                          detail=f"{what} of this {'block' if unit else 'spec'}",
                                          sort_text="2" + str(name), text_edit=_value_edit(doc, cursor, str(name))))
    return items


def _literal(value: object) -> str:
    """A fixed value that is no string (a number, a boolean) as a spec writes it."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _value_item(value: str, detail: str, cursor: Cursor, doc: Document, literal: bool = False) -> t.CompletionItem:
    return t.CompletionItem(label=value, kind=t.CompletionItemKind.Value, detail=detail or None,
                            text_edit=_value_edit(doc, cursor, value, literal))


# --------------------------------------------------------------------------------------------


def _edit(doc: Document, cursor: Cursor, text: str) -> t.TextEdit:
    """Replace the whole word at the cursor (``lstm.h_n`` replaces ``lstm.``, ``cnn/Res``...)."""
    return t.TextEdit(range=span_range(doc, cursor.start, cursor.end), new_text=text)


def _value_edit(doc: Document, cursor: Cursor, text: str, literal: bool = False) -> t.TextEdit:
    """:func:`_edit` for a value: a ``literal`` (a number, ``true``) is inserted as it is; a string so that the
    compiler reads it back as that string (:mod:`vibench.lsp.value_text`): plain where YAML reads it so
    (``stem``), else quoted (``"a: b"``, ``"on"``), and always quoted in JSON (``"in": st`` gives ``"stem"``).
    Typed after an opening quote, it is escaped for that quote, or (a line break after a single quote) the
    quote is replaced by double quotes."""
    if literal:
        return _edit(doc, cursor, text)
    quote = doc.text[cursor.start - 1:cursor.start]
    if quote in ('"', "'"):
        inside = inside_quotes(text, quote, doc.is_json)
        if inside is not None:
            return _edit(doc, cursor, inside)
        end = cursor.end + (doc.text[cursor.end:cursor.end + 1] == quote)  # (a closing quote the editor added)
        return t.TextEdit(range=span_range(doc, cursor.start - 1, end), new_text=quoted(text, doc.is_json))
    return _edit(doc, cursor, text if not doc.is_json and reads_plain(text) else quoted(text, doc.is_json))


def span_range(doc: Document, start: int, end: int) -> t.Range:
    return doc.range(start, end)


def _markdown(text: str) -> t.MarkupContent:
    return t.MarkupContent(kind=t.MarkupKind.Markdown, value=text)
