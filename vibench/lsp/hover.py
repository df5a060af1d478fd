"""Hover: what the word under the cursor is, with what the compiler found about it.

* a node's name (its key, or a reference to it in ``in:``/``outputs:``): its block, inferred output
  shape(s), parameter count and FLOPs from the last good check (for a composite's node, per
  specialisation); "not checked" while the spec has never compiled;
* an input: its checked shape, dtype, doc, and the constraints on its symbols (``L >= 25``);
* an output: its checked shape;
* a ``block:`` value: the block's doc, ports and parameters (a composite's or template's too);
* a node key: the parameter's type, bounds, default and doc (or the node key's own doc);
* ``extends:`` (or a PHM config's ``model: name``): the template's doc and parameters, and the
  interface this spec gets; its ``with:`` keys and slot values: the parameter, the component;
* other keys of the document model: their description.
"""

from __future__ import annotations

import os

from lsprotocol import types as t

from vibench.lsp.catalog import Catalog, document_model, model_keys
from vibench.lsp.completion import span_range
from vibench.lsp.document import (
    Document,
    block_interface,
    composite_info,
    is_library_ref,
    is_phm,
    is_reference,
    node_block,
    template_of,
    unit_of,
    units_for,
    value_slot_param,
)
from vibench.lsp.visible import code, plain


def hover(doc: Document, catalog: Catalog, offset: int) -> t.Hover | None:
    cursor = doc.cursor(offset, whole_word=True)
    if not cursor.word:
        return None
    word, start = cursor.word, cursor.start
    if cursor.role == "key" and doc.text[start - 1:start] == "$":  # `$schema`: `$` is no name character
        word, start = "$" + word, start - 1
    text = _text(doc, catalog, cursor.path, cursor.role, word)
    if not text:
        return None
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text),
                   range=span_range(doc, start, cursor.end))


def _text(doc: Document, catalog: Catalog, path: tuple, role: str, word: str) -> str | None:
    o = doc.outline
    unit = unit_of(path)
    rel = path[len(unit):]
    if role == "key":
        if rel == ("nodes",):
            return node_text(doc, catalog, unit, word)
        if rel == ("inputs",):
            return input_text(doc, unit, word)
        if rel == ("outputs",):
            return output_text(doc, unit, word)
        if len(rel) == 2 and rel[0] == "nodes" or len(rel) == 3 and rel[0] == "nodes" and rel[2] == "with":
            params, _, _ = block_interface(doc, catalog, node_block(o, unit, str(rel[1])))
            param = next((p for p in params if p.name == word), None)
            if param is not None:
                return param.markdown()
            keys = model_keys(document_model(("nodes", "x")))  # type: ignore[arg-type]
            return f"**{word}**: `{keys[word][0]}`\n\n{keys[word][1]}" if word in keys and len(rel) == 2 else None
        if path == ("with",) or (path == ("model",) and is_phm(o)):
            template = template_of(doc, catalog)
            param = template.param(word) if template is not None else None
            return param.markdown() if param is not None else None
        model = document_model(path)
        if model is not None:
            keys = model_keys(model)
            return f"**{word}**: `{keys[word][0]}`\n\n{keys[word][1]}" if word in keys else None
        return None
    if role != "value":
        return None
    if len(rel) == 3 and rel[0] == "nodes" and rel[2] == "block":
        return block_text(doc, catalog, word)
    if is_reference(path):
        name = word.split(".")[0]
        if name in o.keys((*unit, "inputs")):
            return input_text(doc, unit, name)
        return node_text(doc, catalog, unit, name) if name in o.keys((*unit, "nodes")) else None
    if path == ("extends",) or (path == ("model", "name") and is_phm(o)):
        return extends_text(doc, catalog)
    param = value_slot_param(doc, catalog, path)  # a slot's component: from the folder that declares the slot
    if param is not None:
        component = catalog.slot_component(param, word, doc.from_dir)
        return component.markdown() if component is not None else None
    return None


def block_text(doc: Document, catalog: Catalog, name: str) -> str | None:
    if catalog.block(name) is not None:
        return catalog.block_markdown(name)
    if "${" in name:
        return None
    if not is_library_ref(name):
        unit = composite_info(doc.outline, name)
        return unit.markdown() if unit is not None else None
    unit = catalog.unit(name, doc.from_dir)
    if unit is not None:
        return unit.markdown()
    return unloaded_text(catalog, name, doc.from_dir)


def unloaded_text(catalog: Catalog, ref: str, from_dir: str | None) -> str | None:
    """For a spec reference whose file has errors: that it has, and the first of them; None when the
    file is not found or loads (and holds no such block)."""
    error = catalog.unit_error(ref, from_dir)
    if error is None:
        return None
    where = f"{os.path.basename(error.pos.file)}:{error.pos.line}:{error.pos.col}" if error.pos is not None else ""
    file = ref.partition("#")[0]
    return (f"**{plain(ref)}**\n\n{code(file)} has errors, so what it declares is not known until they are fixed; "
            f"the first: {code(error.code)}" + (f" at {code(where)}" if where else "") + f": {plain(error.message)}")


def node_text(doc: Document, catalog: Catalog, unit: tuple, name: str) -> str:
    from vibench.compiler.symbolic import fmt_shape

    o = doc.outline
    block = node_block(o, unit, name) or "?"
    lines = [f"**{plain(name)}**: {code(block)}"]
    own_doc = o.value((*unit, "nodes", name, "doc"))
    units = units_for(doc, unit)
    shown = 0
    for u in units:
        node = next((n for n in u.nodes if n.name == name), None)
        if node is None:
            continue
        shown += 1
        if shown > 4:
            lines.append(f"... and {len(units) - 4} more uses")
            break
        if unit:
            params = ", ".join(f"{plain(k)}={code(str(v))}" for k, v in u.params)  # a value is any text
            lines.append(f"\nin {code(u.name)}" + (f" ({params})" if params else "") + ":")
        outs = node.outputs
        if len(outs) == 1:
            lines.append(f"- output: {code(fmt_shape(outs[0][1].shape))}" + _dtype(outs[0][1].dtype))
        else:
            lines += [f"- output {code(p)}: {code(fmt_shape(tt.shape))}" + _dtype(tt.dtype) for p, tt in outs]
        copies = f" ({len(node.copies)} copies)" if node.repeated or node.parallel else ""
        lines.append(f"- parameters: {node.param_count:,}{copies}")
        lines.append(f"- FLOPs: {_flops(node.flops)}")
    if not shown:
        if doc.good is None:
            lines.append("\nnot checked yet: the spec has errors (see the problems)")
        elif units:
            lines.append("\nnot built in the last good check (switched off by `when:`, or added since)")
    elif doc.stale:
        lines.append("\n_as of the last successful check; the spec has changed since_")
    if own_doc:
        lines.append(f"\n{own_doc}")
    return "\n".join(lines)


def input_text(doc: Document, unit: tuple, name: str) -> str:
    from vibench.compiler.symbolic import fmt_shape, free_symbols

    o = doc.outline
    lines = [f"**{plain(name)}** (input)"]
    for u in units_for(doc, unit)[:1]:
        tensor = dict(u.inputs).get(name)
        if tensor is None:
            continue
        lines.append(f"- shape: {code(fmt_shape(tensor.shape))}" + _dtype(tensor.dtype, always=True))
        symbols = set().union(*(free_symbols(d) for d in tensor.shape)) if tensor.shape else set()
        constraints = [c for c in u.constraints if free_symbols(c.lhs) & symbols]
        if constraints:
            lines.append("- constraints:")
            lines += [f"  - {code(c.text)}" + (f" ({plain(c.node)})" if c.node else "") + f": {c.reason}"
                      for c in constraints]
        elif symbols:
            lines.append("- constraints: none (any positive " + ", ".join(sorted(symbols)) + ")")
    own_doc = o.value((*unit, "inputs", name, "doc"))
    if own_doc:
        lines.append(f"\n{own_doc}")
    return "\n".join(lines)


def output_text(doc: Document, unit: tuple, name: str) -> str:
    from vibench.compiler.symbolic import fmt_shape

    lines = [f"**{plain(name)}** (output)"]
    for u in units_for(doc, unit)[:1]:
        for out_name, ref, tensor in u.outputs:
            if out_name == name:
                lines.append(f"- {code(str(ref))}: {code(fmt_shape(tensor.shape))}" + _dtype(tensor.dtype))
    return "\n".join(lines)


def extends_text(doc: Document, catalog: Catalog) -> str | None:
    from vibench.compiler.symbolic import fmt_shape

    template = template_of(doc, catalog)
    if template is None:
        extends = doc.outline.value(("extends",))
        return unloaded_text(catalog, extends, doc.from_dir) if extends else None
    text = template.markdown()
    program = doc.program
    if program is not None:
        root = program.root
        ins = ", ".join(f"{plain(n)} {code(fmt_shape(tt.shape))}" for n, tt in root.inputs)
        outs = ", ".join(f"{plain(n)} {code(fmt_shape(tt.shape))}" for n, _, tt in root.outputs)
        text = (f"**this model**: {ins} -> {outs}; {root.param_count:,} parameters, FLOPs {_flops(root.flops)}"
                f"\n\n---\n\n{text}")
    return text


def _dtype(dtype: str, always: bool = False) -> str:
    return f" {dtype}" if always or dtype != "float32" else ""


def _flops(value: object) -> str:
    if isinstance(value, int):
        for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
            if abs(value) >= scale:
                return f"{value:,} ({value / scale:.2f}{unit})"
        return f"{value:,}"
    return code(str(value))
