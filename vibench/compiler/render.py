"""Pictures of a checked program: ``--graph`` as Mermaid, Graphviz DOT, SVG/PNG (through Graphviz's
``dot``) or a self-contained HTML page, with the shape of every value on its edge.

All formats draw one :class:`View`: the program's nodes as boxes, its inputs and outputs as ovals,
and each composite node either as one box or, expanded, as a group holding its body (each copy of a
``repeat`` a group of its own), down to ``depth`` levels. The HTML page carries every level and
expands or collapses a composite when it is clicked; it needs no network (the script and style are
inline) and no Graphviz.

Spec text (names, docs, block names, shapes) is untrusted: every string that reaches a picture
passes :func:`escape` for the format it lands in, and nothing else writes spec text into one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from vibench.compiler.diagnostics import terminal_safe
from vibench.compiler.ir import Node, Program, TensorType, Unit, ValueRef
from vibench.compiler.render_graphviz import RenderError, render_with_dot
from vibench.compiler.symbolic import Dim, bound, fmt_dim, fmt_shape, free_symbols, subs

Target = Literal["html", "dot", "dot-tooltip", "mermaid", "script"]

TEXT_SUFFIXES = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "markdown", ".dot": "dot", ".gv": "dot",
                 ".html": "html", ".htm": "html"}
DOT_SUFFIXES = {".svg": "svg", ".png": "png"}
GRAPH_SUFFIXES = tuple(TEXT_SUFFIXES) + tuple(DOT_SUFFIXES)


def escape(text: str, target: Target) -> str:
    """``text`` made inert in ``target``: HTML/SVG text and attributes, a double-quoted DOT string (a
    tooltip's apart), a quoted Mermaid label, or JSON inside an HTML ``<script>`` element (no ``</script>``,
    no ``<!--``).

    >>> escape('a "b" </script>', "html")
    'a &quot;b&quot; &lt;/script&gt;'
    """
    if target == "html":
        import html

        return html.escape(text, quote=True)
    if target in ("dot", "dot-tooltip"):
        # a quoted DOT string; <, > and & as entities (Graphviz shows the characters), so a DOT file
        # pasted into a page or an SVG viewer never holds markup
        flat = text.replace("&", "&#38;").replace("<", "&#60;").replace(">", "&#62;")
        # a backslash escaped once in a label; twice in a tooltip, which Graphviz (2.43) reads as an escString
        # twice (`\\N` in a .dot file became `\N`, then the node's name: `doc: C:\Nodes` showed `C:n2odes`)
        flat = flat.replace("\\", "\\\\\\\\" if target == "dot-tooltip" else "\\\\").replace('"', '\\"')
        # control characters (an escape sequence in a `doc:`) drawn as visible symbols, as on a terminal:
        # `cat graph.dot` must not act on them
        return terminal_safe(flat.replace("\r\n", "\n").replace("\n", "\\n"))  # a lone \r drawn as ␍
    if target == "mermaid":
        out = []
        for ch in text:
            out.append(f"#{ord(ch)};" if ch in '"#<>&`[](){}|;' or not ch.isprintable() else ch)
        return "".join(out)
    # script: JSON text for inline <script>: every <, >, & and line separator as a \\u escape (str.translate:
    # a page of megabytes is escaped in C, not a character at a time)
    return text.translate(_SCRIPT)


_SCRIPT = {ord(ch): f"\\u{ord(ch):04x}" for ch in "<>&\u2028\u2029"}

MAX_DOC = 500
"""Characters of a ``doc:`` a picture shows (a tooltip): a longer one is clipped, so that a long doc in a
``repeat`` body, drawn once per copy, cannot grow the picture beyond its boxes (docs/cli.md)."""


def tooltip(doc: str | None) -> str:
    """``doc`` as a picture's tooltip shows it: at most :data:`MAX_DOC` characters, then how many were left out.

    >>> tooltip("x" * 600)[-28:]
    'xxx... (100 more characters)'
    """
    text = doc or ""
    if len(text) <= MAX_DOC:
        return text
    return text[:MAX_DOC] + f"... ({len(text) - MAX_DOC:,} more characters)"


# --------------------------------------------------------------------------------------------
# the view: boxes, groups and edges
# --------------------------------------------------------------------------------------------


@dataclass
class Item:
    """A box (``node``, ``input``, ``output``, ``port``: a composite's input inside its group) or a
    ``group`` (an expanded composite, or one copy of it) holding ``children``."""

    id: str
    kind: str
    name: str
    detail: str = ""  # the block (and xN for repeats)
    doc: str = ""
    level: int = 0  # composite nesting: 0 for the model's own nodes
    children: list[Item] = field(default_factory=list)


@dataclass
class View:
    title: str
    items: list[Item]
    edges: list[tuple[str, str, str]]  # (from box id, to box id, shape)


def view(program: Program, depth: int) -> View:
    """The picture of ``program`` with composites expanded ``depth`` levels deep (0: none)."""
    builder = _Builder(depth, dict(program.bindings))
    items, _ = builder.unit(program.root, "", 0, None)
    return View(program.root.name, items, builder.edges)


class _Builder:
    def __init__(self, depth: int, env: dict[str, int]) -> None:
        self.depth = depth
        self.env = env
        self.edges: list[tuple[str, str, str]] = []
        self.count = 0

    def new_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def shape(self, shape: tuple[Dim, ...], mapping: dict[str, Dim]) -> str:
        return fmt_shape(outer_shape(shape, mapping, self.env))

    def unit(self, unit: Unit, path: str, level: int, feeds: dict[str, tuple[str, str]] | None,
             mapping: dict[str, Dim] | None = None) -> tuple[list[Item], dict[tuple[str, str | None], str]]:
        """Items of ``unit``; ``feeds`` (inside a composite): input name -> (outer box, shape) that feeds it;
        ``mapping``: the body's symbols in the model's terms. Returns the items and where each value is
        produced (value -> box id)."""
        mapping = mapping or {}
        items: list[Item] = []
        producers: dict[tuple[str, str | None], str] = {}
        shapes: dict[tuple[str, str | None], str] = {}
        types = value_types(unit)
        for name, t in unit.inputs:
            item = Item(self.new_id(), "port" if level else "input", name, doc=_input_doc(unit, name), level=level)
            items.append(item)
            producers[(name, None)] = item.id
            shapes[(name, None)] = self.shape(t.shape, mapping)
            if feeds is not None and name in feeds:
                source, label = feeds[name]
                self.edges.append((source, item.id, label))
        for node in unit.nodes:
            for port, t in node.outputs:
                shapes[(node.name, port)] = self.shape(t.shape, mapping)
            shapes[(node.name, None)] = shapes[(node.name, node.outputs[0][0])] if node.outputs else ""
            inner = body_mappings(node, mapping, types) if node.kind == "composite" else []
            item, outs = self.node(node, f"{path}{node.name}", level, producers, shapes, mapping, inner)
            items.append(item)
            producers.update(outs)
        for name, ref, t in unit.outputs:
            if level:
                producers[("@out", name)] = producers[_key(ref)]
                continue
            item = Item(self.new_id(), "output", name, doc=_output_doc(unit, name))
            items.append(item)
            self.edges.append((producers[_key(ref)], item.id, self.shape(t.shape, mapping)))
        return items, producers

    def node(self, node: Node, path: str, level: int, producers: dict[tuple[str, str | None], str],
             shapes: dict[tuple[str, str | None], str], mapping: dict[str, Dim],
             mappings: list[dict[str, Dim]]) -> tuple[Item, dict[tuple[str, str | None], str]]:
        label = block_label(node)
        inputs = [(port, producers[_key(ref)], shapes[_key(ref)]) for port, ref in node.inputs]
        units = [c.unit for c in node.copies]
        if node.kind != "composite" or level >= self.depth or any(u is None for u in units):
            item = Item(self.new_id(), "node", node.name, label, tooltip(node.doc), level)
            for _, source, shape in inputs:
                self.edges.append((source, item.id, shape))
            outs: dict[tuple[str, str | None], str] = {(node.name, p): item.id for p, _ in node.outputs}
            outs[(node.name, None)] = item.id
            return item, outs
        # a frame is labelled with the composite's path (`layer2.0.downsample`), as --summary names its rows
        group = Item(self.new_id(), "group", path, label, tooltip(node.doc), level)
        feeds = {port: (source, shape) for port, source, shape in inputs}
        outs = {}
        previous: dict[tuple[str, str | None], str] | None = None
        for k, copy in enumerate(node.copies):
            assert copy.unit is not None
            unit = copy.unit
            if previous is not None and not node.parallel and unit.inputs and unit.outputs:
                # a repeat chains its copies: copy k's first input is copy k-1's first output
                first_out = unit.outputs[0][0]
                feeds = dict(feeds)
                feeds[unit.inputs[0][0]] = (previous[("@out", first_out)],
                                            self.shape(node.copies[k - 1].outputs[0][1].shape, mapping))
            items, produced = self.unit(unit, f"{path}.{k}." if indexed(node) else f"{path}.", level + 1,
                                        feeds, mappings[k])
            if len(node.copies) > 1:
                group.children.append(Item(self.new_id(), "group", f"{path}.{k}", unit.name, "", level + 1,
                                           items))
            else:
                group.children.extend(items)
            previous = produced
            if node.parallel:
                outs[(node.name, str(k))] = produced[("@out", unit.outputs[0][0])]
        if not node.parallel and previous is not None:
            for port, _, _ in node.copies[-1].unit.outputs:  # type: ignore[union-attr]
                outs[(node.name, port)] = previous[("@out", port)]
        first = node.outputs[0][0] if node.outputs else None
        if (node.name, first) in outs:
            outs[(node.name, None)] = outs[(node.name, first)]
        return group, outs


def indexed(node: Node) -> bool:
    """Whether model.py holds ``node``'s copies in an indexed container (nn.Sequential, nn.ModuleList), so
    that its submodules' state_dict keys read ``name.<k>.``: a `repeat` or `for_each` node, even of one copy."""
    return node.repeated or node.parallel


def value_types(unit: Unit) -> dict[str, TensorType]:
    """Every value of ``unit`` by its reference text (``x``, ``conv1.out``)."""
    types = {name: t for name, t in unit.inputs}
    for node in unit.nodes:
        for port, t in node.outputs:
            types[f"{node.name}.{port}"] = t
    return types


def outer_shape(shape: tuple[Dim, ...], mapping: dict[str, Dim], env: dict[str, int]) -> tuple[Dim, ...]:
    """A composite body's shape in the model's symbols (``mapping``), with the symbols ``env`` binds put in
    (:func:`bound`)."""
    out = []
    for d in shape:
        if mapping and not isinstance(d, int):
            d = subs(d, mapping)
        out.append(bound(d, env))
    return tuple(out)


def body_mappings(node: Node, mapping: dict[str, Dim], types: dict[str, TensorType]) -> list[dict[str, Dim]]:
    """For each copy of composite ``node``: its body's input symbols in the model's terms.

    A body is specialised in symbols of its own (``L`` of its input, whatever the caller's length);
    each symbol that stands alone in an input's shape maps to the dimension fed there, so the body
    reads ``[B, 64, (L + 3) // 4]`` as the model does. A repeat feeds copy k with copy k-1's output.
    """
    feeds: dict[str, tuple[Dim, ...]] = {}  # in the model's terms
    for port, ref in node.inputs:
        t = types.get(str(ref))
        if t is not None:
            feeds[port] = outer_shape(t.shape, mapping, {})
    out: list[dict[str, Dim]] = []
    for k, copy in enumerate(node.copies):
        unit = copy.unit
        local: dict[str, Dim] = {}
        if unit is None:
            out.append(local)
            continue
        if k and not node.parallel and unit.inputs:  # a copy's outputs are typed in the caller's symbols
            feeds = {**feeds, unit.inputs[0][0]: outer_shape(node.copies[k - 1].outputs[0][1].shape, mapping, {})}
        for name, t in unit.inputs:
            fed = feeds.get(name)
            if fed is None or len(fed) != len(t.shape):
                continue
            for inner, actual in zip(t.shape, fed, strict=True):
                if not isinstance(inner, int) and {fmt_dim(inner)} == free_symbols(inner) and fmt_dim(inner) \
                        not in local:
                    local[fmt_dim(inner)] = actual
        out.append(local)
    return out


def _key(ref: ValueRef) -> tuple[str, str | None]:
    return (ref.node, ref.port)


def block_label(node: Node) -> str:
    """``conv1d``, ``BasicBlock x2``, ``E_01_HSE``, ``for_each: a, b``: the block a node runs (no file paths)."""
    if node.parallel:
        names = dict.fromkeys(_short(c.block or node.block) for c in node.copies)
        return "for_each: " + ", ".join(names)
    return _short(node.block) + (f" x{len(node.copies)}" if node.repeated else "")


def _short(block: str) -> str:
    """A composite's name without its file (``a/b.yaml#Down`` -> ``Down``; ``a/E_01_HSE.yaml`` -> ``E_01_HSE``)."""
    if "#" in block:
        return block.rsplit("#", 1)[-1]
    name = block.rsplit("/", 1)[-1]
    if os.sep == "\\":  # where `\` separates folders (Windows); elsewhere it is part of the name
        name = name.rsplit("\\", 1)[-1]
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in (".yaml", ".yml", ".json") else block


def _input_doc(unit: Unit, name: str) -> str:
    d = unit.definition
    return next((tooltip(i.doc) for i in d.inputs if i.name == name), "") if d is not None else ""


def _output_doc(unit: Unit, name: str) -> str:
    d = unit.definition
    return next((tooltip(o.doc) for o in d.outputs if o.name == name), "") if d is not None else ""


def _walk(items: list[Item]) -> list[Item]:
    out = []
    for item in items:
        out.append(item)
        out += _walk(item.children)
    return out


# --------------------------------------------------------------------------------------------
# text formats
# --------------------------------------------------------------------------------------------


def mermaid(v: View) -> str:
    lines = ["flowchart TD"]

    def emit(items: list[Item], indent: str) -> None:
        for item in items:
            text = escape(item.name + (f": {item.detail}" if item.detail else ""), "mermaid")
            if item.kind == "group":
                lines.append(f'{indent}subgraph {item.id} ["{text}"]')
                emit(item.children, indent + "  ")
                lines.append(f"{indent}end")
            elif item.kind in ("input", "output"):
                lines.append(f'{indent}{item.id}(["{text}"])')
            elif item.kind == "port":
                lines.append(f'{indent}{item.id}(("{text}"))')
            else:
                lines.append(f'{indent}{item.id}["{text}"]')

    emit(v.items, "  ")
    for a, b, label in v.edges:
        lines.append(f'  {a} -->|"{escape(label, "mermaid")}"| {b}')
    return "\n".join(lines) + "\n"


def dot(v: View) -> str:
    lines = [f'digraph "{escape(v.title, "dot")}" {{', "  rankdir=TB;", '  graph [fontname="Helvetica", fontsize=11];',
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']

    def emit(items: list[Item], indent: str) -> None:
        for item in items:
            label = escape(item.name + (f"\n{item.detail}" if item.detail else ""), "dot")
            tip = f', tooltip="{escape(item.doc, "dot-tooltip")}"' if item.doc else ""
            if item.kind == "group":
                lines.append(f'{indent}subgraph "cluster_{item.id}" {{')
                lines.append(f'{indent}  label="{label}"; style="rounded,dashed"; color="#7a8aa6";'
                             + (f' tooltip="{escape(item.doc, "dot-tooltip")}";' if item.doc else ""))
                emit(item.children, indent + "  ")
                lines.append(f"{indent}}}")
            elif item.kind in ("input", "output", "port"):
                style = ', shape=ellipse, fillcolor="#fdf1dc"' if item.kind != "port" else \
                    ', shape=ellipse, fillcolor="#ffffff", fontsize=9'
                lines.append(f'{indent}{item.id} [label="{label}"{style}{tip}];')
            else:
                lines.append(f'{indent}{item.id} [label="{label}"{tip}];')

    emit(v.items, "  ")
    for a, b, label in v.edges:
        lines.append(f'  {a} -> {b} [label="{escape(label, "dot")}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_output(program: Program, path: str, depth: int = 0) -> str | bytes:
    """The picture ``path``'s suffix asks for (see the module docstring)."""
    suffix = os.path.splitext(path.lower())[1]
    v = view(program, depth)
    if suffix in DOT_SUFFIXES:
        return render_with_dot(dot(v), DOT_SUFFIXES[suffix])
    kind = TEXT_SUFFIXES.get(suffix)
    if kind == "dot":
        return dot(v)
    if kind == "mermaid":
        return mermaid(v)
    if kind == "markdown":
        return f"```mermaid\n{mermaid(v)}```\n"
    if kind == "html":
        return html_page(program, depth)
    raise RenderError(f"use a {', '.join(GRAPH_SUFFIXES)} file name")


# --------------------------------------------------------------------------------------------
# the HTML page
# --------------------------------------------------------------------------------------------


def _item_json(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.id, "kind": item.kind, "name": item.name, "detail": item.detail,
                           "doc": item.doc, "level": item.level}
    if item.children:
        out["children"] = [_item_json(c) for c in item.children]
    return out


def html_page(program: Program, depth: int) -> str:
    """A self-contained page: the graph with every composite level, expanded ``depth`` levels at first."""
    full = view(program, 1_000_000)
    data = {"title": full.title, "depth": depth, "items": [_item_json(i) for i in full.items],
            "edges": [list(e) for e in full.edges],
            "params": f"{program.root.param_count:,} parameters"}
    payload = escape(json.dumps(data, ensure_ascii=False, sort_keys=True), "script")
    title = escape(f"{program.root.name} - vibench graph", "html")
    return _page().replace("@TITLE@", title).replace("@DATA@", payload)


def _page() -> str:
    """The page around the data: templates/graph.html.j2 (plain text with two @MARKERS@, not Jinja)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates", "graph.html.j2")
    with open(path, encoding="utf-8") as fh:
        return fh.read()
