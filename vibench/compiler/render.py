"""Pictures of a checked program: ``--graph`` as Mermaid, Graphviz DOT, SVG/PNG (through Graphviz's
``dot``) or a self-contained HTML page, with the shape of every value on its edge.

All formats draw one :class:`~vibench.compiler.render_view.View` (render_view.py): boxes, ovals and, for
composites expanded down to ``depth`` levels, groups. The HTML page carries the inner levels too and
expands or collapses a composite when it is clicked; it needs no network (the script and style are
inline) and no Graphviz.

Spec text (names, docs, block names, shapes) is untrusted: every string that reaches a picture
passes :func:`escape` for the format it lands in, and nothing else writes spec text into one.
"""

from __future__ import annotations

import json
import os
from typing import Any, Literal

from vibench.compiler.diagnostics import terminal_safe
from vibench.compiler.ir import Program
from vibench.compiler.render_graphviz import RenderError, render_with_dot

# re-exported: report.py and the tests import them here
from vibench.compiler.render_view import MAX_DOC as MAX_DOC
from vibench.compiler.render_view import Item, View, view
from vibench.compiler.render_view import block_label as block_label
from vibench.compiler.render_view import body_mappings as body_mappings
from vibench.compiler.render_view import indexed as indexed
from vibench.compiler.render_view import outer_shape as outer_shape
from vibench.compiler.render_view import tooltip as tooltip
from vibench.compiler.render_view import value_types as value_types

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
    for edge in v.edges:
        lines.append(f'  {edge.source} -->|"{escape(edge.shape, "mermaid")}"| {edge.target}')
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
                # tooltip="" on a cluster without a doc: Graphviz gives a cluster the tooltip of the one around it
                lines.append(f'{indent}  label="{label}"; style="rounded,dashed"; color="#7a8aa6";'
                             f' tooltip="{escape(item.doc, "dot-tooltip")}";')
                emit(item.children, indent + "  ")
                lines.append(f"{indent}}}")
            elif item.kind in ("input", "output", "port"):
                style = ', shape=ellipse, fillcolor="#fdf1dc"' if item.kind != "port" else \
                    ', shape=ellipse, fillcolor="#ffffff", fontsize=9'
                lines.append(f'{indent}{item.id} [label="{label}"{style}{tip}];')
            else:
                lines.append(f'{indent}{item.id} [label="{label}"{tip}];')

    emit(v.items, "  ")
    for edge in v.edges:
        lines.append(f'  {edge.source} -> {edge.target} [label="{escape(edge.shape, "dot")}"];')
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


def _item_json(item: Item, docs: dict[str, int]) -> dict[str, Any]:
    """``item`` for the page's data, its doc by number in ``docs`` (each doc written once)."""
    out: dict[str, Any] = {"id": item.id, "kind": item.kind, "name": item.name, "detail": item.detail,
                           "level": item.level}
    if item.doc:
        out["doc"] = docs.setdefault(item.doc, len(docs))
    if item.kind == "group":
        out["open"] = item.open
    if item.children:
        out["children"] = [_item_json(c, docs) for c in item.children]
    return out


def html_page(program: Program, depth: int) -> str:
    """A self-contained page: the graph with every composite level, open at first where the picture at ``depth``
    draws it expanded (:attr:`Item.open`)."""
    full = view(program, 1_000_000, opened=depth)
    # each shape and each doc written once, named by number: a repeat's copies carry the same ones (30,000 copies of
    # a block whose docs held 600 `<` each wrote 192 MB)
    shapes: dict[str, int] = {}
    docs: dict[str, int] = {}
    edges = [[e.source, e.target, shapes.setdefault(e.shape, len(shapes)), e.wire] for e in full.edges]
    items = [_item_json(i, docs) for i in full.items]
    data = {"title": full.title, "depth": depth, "items": items, "edges": edges, "shapes": list(shapes),
            "docs": list(docs), "params": f"{program.root.param_count:,} parameters"}
    payload = escape(json.dumps(data, ensure_ascii=False, sort_keys=True), "script")
    title = escape(f"{full.title} - vibench graph", "html")
    return _page().replace("@TITLE@", title).replace("@DATA@", payload)


def _page() -> str:
    """The page around the data: templates/graph.html.j2 (plain text with two @MARKERS@, not Jinja)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates", "graph.html.j2")
    with open(path, encoding="utf-8") as fh:
        return fh.read()
