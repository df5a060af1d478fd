"""Layout adapters: ``as:`` on an input or output, so that no template switches on the layout itself.

``x: {shape: [B, L, C], layout: "${layout}", as: BCL}`` — the caller passes ``x`` in ``layout``
order, the nodes read it as ``[B, C, L]``; ``signal: {from: decoder, layout: "${layout}", as: BCL}``
— ``decoder`` gives ``[B, C, L]``, the caller gets ``signal`` in ``layout`` order. Each becomes one
``transpose`` node (dims 1 and 2) whose ``when:`` is "the two orders differ", named after the input
or output (``x_bcl``; ``signal``, the value returned as ``signal``), located at the ``as:`` key: the
graph, shapes, emitted code
and parameter counts are exactly those of the hand-written switch it replaces. An output's shape promise
keeps the output's layout: it is written channels-last, as an input's shape is (promises.py).
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Collector, Diagnostic, clip
from vibench.compiler.ir import InputDecl, NodeDef, OutputDef, Pos, Ref, Template

LAYOUTS = ("BLC", "BCL")  # the axis orders a `layout:` names


def with_adapters(inputs: dict[str, Any], outputs: dict[str, Any], input_decls: list[InputDecl],
                  nodes: list[NodeDef], output_defs: list[OutputDef], names: set[str], as_pos: Any,
                  diags: Collector
                  ) -> tuple[list[NodeDef], list[OutputDef]]:
    """The nodes and outputs with the transposes the ``as:`` keys ask for. ``as_pos(kind, name)``:
    where the ``as:`` of input or output ``name`` is written."""
    taken = {n.name for n in nodes} | {d.name for d in input_decls}
    before: list[NodeDef] = []
    renamed: dict[str, str] = {}
    for decl in input_decls:
        order = getattr(inputs.get(decl.name), "as_", None)
        if order is None:
            continue
        pos = as_pos("inputs", decl.name)
        if decl.layout is None:
            diags.add(Diagnostic("E212", f"input `{decl.name}` has `as: {order}` but no `layout`", pos,
                                 hint=_layout_hint(order, names, "the caller passes")))
            continue
        name = _fresh(f"{decl.name}_{order.lower()}", taken)
        before.append(_transpose(name, decl.name, decl.layout, order, pos, -len(input_decls) + len(before),
                                 f"`{decl.name}` as {order}"))
        renamed[decl.name] = name
    body = [_reading(nd, renamed) for nd in nodes]
    after: list[NodeDef] = []
    outs: list[OutputDef] = []
    for out in output_defs:
        spec = outputs.get(out.name)
        order = getattr(spec, "as_", None)
        ref = _renamed(out.ref, renamed)
        if order is None and getattr(spec, "layout", None) is None:
            outs.append(replace(out, ref=ref) if ref is not out.ref else out)
            continue
        pos = as_pos("outputs", out.name)
        if ref.port == "*":  # one transpose per output: `node.*` holds several (it said "no output port `*`")
            diags.add(Diagnostic("E212", f"output `{out.name}` takes every output of `{ref.node}` (`.*`), which "
                                 "`layout`/`as` cannot reorder", pos,
                                 hint=f"name one output (`from: {ref.node}.PORT`) for each layout-aware output"))
            continue
        if getattr(spec, "layout", None) is None:  # `as:` alone (with neither, the output was kept above)
            diags.add(Diagnostic("E212", f"output `{out.name}` has `as: {order}` but no `layout`", pos,
                                 hint=_layout_hint(str(order), names, "the caller gets")))
            continue
        layout = layout_value(getattr(spec, "layout", None), pos, f"output `{out.name}`", names, diags)
        if order is None or layout is None:
            if order is None:
                diags.add(Diagnostic("E212", f"output `{out.name}` has a `layout` but no `as`", pos,
                                     hint="add `as: BCL` or `as: BLC` (the order of the `from` node's value)"))
            continue
        name = _fresh(out.name if out.name not in taken else f"{out.name}_out", taken)
        node = _transpose(name, ref.node, layout, order, pos, len(nodes) + len(after), f"`{out.name}` from {order}",
                          port=ref.port)
        after.append(node)
        outs.append(replace(out, ref=Ref(name, None, out.ref.pos), layout=layout))  # its promise: channels-last
    return before + body + after, outs


def _layout_hint(order: str, names: set[str], what: str) -> str:
    """E212's hint for `as: order` without a `layout:`: the other order, written out (a layout equal to `as:`
    transposes nothing); the parameter `layout` only where the unit declares one (it was suggested in any
    unit, and then read as an unknown name)."""
    other = next((o for o in LAYOUTS if o != order), LAYOUTS[0])
    if "layout" in names:
        return f"add `layout: layout` (its value: the order {what}), or `layout: {other}`"
    return f"add `layout: {other}` (the order {what}; the nodes read {order}), or declare a parameter `layout` " \
           "and write `layout: layout` to take either"


def _transpose(name: str, source: str, layout: str | Template, order: str, pos: Pos | None, index: int,
               doc: str, port: str | None = None) -> NodeDef:
    differ: bool | Template
    if isinstance(layout, Template):
        test = ast.Compare(left=layout.expr, ops=[ast.NotEq()], comparators=[ast.Constant(order)])
        differ = Template(f"${{{ast.unparse(layout.expr)} != {order!r}}}", (test,), pos)
    else:
        differ = layout != order
    return NodeDef(name=name, index=index, block="transpose", inputs=((None, Ref(source, port, pos)),),
                   params=(("dim0", 1, pos), ("dim1", 2, pos)), when=differ, doc=doc, pos=pos, block_pos=pos,
                   adapter=f"as: {order}")


def layout_value(value: Any, pos: Pos | None, what: str, names: set[str], diags: Collector) -> str | Template | None:
    """A `layout:` (of ``what``: "input `x`" or "output `y`"): BLC, BCL, the name of a parameter or ``let``
    in ``names``, or a ``${...}``; None (with E203/E204/E212 in ``diags``) otherwise."""
    from vibench.compiler.expr import ExprError, bare_name, name_template, parse_template

    if value is None:
        return None
    if bare_name(value) in names:  # `layout: layout` reads the parameter
        return name_template(value, pos)
    try:
        parsed = parse_template(value, pos)
    except ExprError as err:
        diags.add(Diagnostic("E203" if err.syntax else "E204", f"{err.message} in the layout of {what}", pos,
                             found=err.text or None, hint=err.hint))
        return None
    if isinstance(parsed, str) and parsed not in LAYOUTS:
        diags.add(Diagnostic("E212", f"the layout of {what} must be BLC, BCL, a parameter's name or `${{...}}`", pos,
                             found=clip(repr(parsed), 60)))
        return None
    return parsed


def _reading(nd: NodeDef, renamed: dict[str, str]) -> NodeDef:
    if not renamed or not any(ref.node in renamed for _, ref in nd.inputs):
        return nd
    return replace(nd, inputs=tuple((port, _renamed(ref, renamed)) for port, ref in nd.inputs))


def _renamed(ref: Ref, renamed: dict[str, str]) -> Ref:
    return Ref(renamed[ref.node], ref.port, ref.pos) if ref.node in renamed and ref.port is None else ref


def _fresh(name: str, taken: set[str]) -> str:
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}{k}"
    taken.add(out)
    return out
