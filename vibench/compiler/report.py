"""Human and machine reports of a checked program: --check and --summary (pictures: :mod:`render`)."""

from __future__ import annotations

from typing import Any

from vibench.compiler.diagnostics import MAX_SHOWN, display_width, one_cell, one_line, pad
from vibench.compiler.ir import Node, Program, Unit
from vibench.compiler.symbolic import Dim, bound, fmt_shape


def _shape(shape: tuple[Dim, ...], env: dict[str, int]) -> str:
    return fmt_shape(tuple(bound(d, env) for d in shape))


def _flops(d: Dim, env: dict[str, int]) -> str:
    v = bound(d, env)
    if isinstance(v, int):
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(v) >= scale:
                return f"{v / scale:.2f}{unit}"
        return str(v)
    return str(v)


def check_report(program: Program, *, summary: bool, written: str | None, depth: int = 0) -> str:
    """The --check text; with ``summary``, a row per node (composites expanded ``depth`` levels:
    their body's rows follow theirs, named by state_dict path, ``layer1.0.conv1``)."""
    root = program.root
    env = dict(program.bindings)
    lines = []
    head = f"ok: {root.name} - {root.param_count:,} parameters"
    if written:
        head += f", written to {one_line(written)}"
    lines.append(head)
    for name, t in root.inputs:
        lines.append(f"  input  {name}: {_shape(t.shape, env)} {t.dtype}")
    for name, _, t in root.outputs:
        lines.append(f"  output {name}: {_shape(t.shape, env)} {t.dtype}")
    if root.constraints:
        lines.append("  constraints:")
        for c in root.constraints:
            where = f" ({c.node})" if c.node else ""
            lines.append(f"    {c.text}{where}: {c.reason}")
    if program.bindings:
        lines.append("  bound: " + ", ".join(f"{k}={v}" for k, v in program.bindings))
    if summary:
        lines.append("")
        lines += _table(root, env, depth)
        flops = bound(root.flops, env)
        # the hint where the total is still a formula (`128` with no --input, or a model of no nodes, is not)
        lines.append(f"total FLOPs: {_cell(_flops(flops, env))}"
                     + ("" if isinstance(flops, int) else " (symbolic; bind with --input)"))
    return "\n".join(lines)


def _table(unit: Unit, env: dict[str, int], depth: int = 0) -> list[str]:
    from vibench.compiler.render import outer_shape

    rows = [("node", "block", "output", "params", "FLOPs")]
    for path, node, level, mapping in _rows(unit, depth):
        out = "; ".join(_shape(outer_shape(t.shape, mapping, {}), env) for _, t in node.outputs)
        flops = _flops(outer_shape((node.flops,), mapping, {})[0], env)
        rows.append(("  " * level + path, _block_label(node), _cell(out), f"{node.param_count:,}", _cell(flops)))
    # in terminal columns: a block named in CJK takes two per character (docs/cli.md)
    widths = [max(display_width(r[k]) for r in rows) for k in range(5)]
    lines: list[str] = []
    for r in rows:
        cells = [pad(cell, width, right=k >= 3) for k, (cell, width) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


MAX_CELL = 200
"""Terminal columns of a shape or FLOPs cell of the --summary table: a longer formula (a length pooled and joined
through 150 layers wrote a 20,000-column shape, and every row was padded to it) is cut, ending `...`; the JSON
report (`--format json`) has every formula whole. The library's widest cell, MobileNet1D's FLOPs, is 170."""


def _cell(text: str) -> str:
    if display_width(text) <= MAX_CELL:
        return text
    cut = text[:MAX_CELL - 3]
    while display_width(cut) > MAX_CELL - 3:
        cut = cut[:-1]
    return cut + "..."


def _rows(unit: Unit, depth: int, prefix: str = "", level: int = 0,
          mapping: dict[str, Dim] | None = None) -> list[tuple[str, Node, int, dict[str, Dim]]]:
    """(state_dict-style path, node, nesting level, its symbols in the model's terms) of every node,
    composites expanded ``depth`` levels deep."""
    from vibench.compiler.render import body_mappings, indexed, value_types

    mapping = mapping or {}
    out: list[tuple[str, Node, int, dict[str, Dim]]] = []
    types = value_types(unit) if level < depth else {}
    for node in unit.nodes:
        path = prefix + node.name
        out.append((path, node, level, mapping))
        if node.kind != "composite" or level >= depth:
            continue
        # a `repeat` or `for_each` node holds its copies in an indexed container (nn.Sequential,
        # nn.ModuleList) even when it makes one copy: its rows are `network.0.conv1`, as state_dict names them
        many = indexed(node)
        for k, (copy, inner) in enumerate(zip(node.copies, body_mappings(node, mapping, types), strict=True)):
            if copy.unit is not None:
                out += _rows(copy.unit, depth, f"{path}.{k}." if many else f"{path}.", level + 1, inner)
    return out


def _block_label(node: Node) -> str:
    """The block column: on one line (a composite's file name may hold a line break, which printed a
    forged line of its own), a tab written ``\\t`` (it moved the columns after it to the next tab stop)."""
    from vibench.compiler.render import block_label

    return one_cell(block_label(node))


def check_report_json(program: Program, *, summary: bool, written: str | None, depth: int = 0) -> dict[str, Any]:
    root = program.root
    env = dict(program.bindings)

    def dims(shape: tuple[Dim, ...]) -> list[Any]:
        return [v if isinstance(v, int) else str(v) for v in (bound(d, env) for d in shape)]

    out: dict[str, Any] = {
        "ok": True,
        "model": root.name,
        "parameters": root.param_count,
        "inputs": {n: {"shape": dims(t.shape), "dtype": t.dtype} for n, t in root.inputs},
        "outputs": {n: {"shape": dims(t.shape), "dtype": t.dtype} for n, _, t in root.outputs},
        "constraints": [{"constraint": c.text, "node": c.node, "reason": c.reason} for c in root.constraints],
        "bindings": env,
        "warnings": [w.to_json() for w in program.warnings[:MAX_SHOWN]],
    }
    if len(program.warnings) > MAX_SHOWN:  # as a failed compile's `omitted`: the report stays small
        out["warnings_omitted"] = len(program.warnings) - MAX_SHOWN
    if written:
        out["written"] = written
    if summary:
        from vibench.compiler.render import outer_shape

        out["nodes"] = [
            {"name": path, "block": n.block,
             "outputs": {p: dims(outer_shape(t.shape, mapping, {})) for p, t in n.outputs},
             "parameters": n.param_count,
             "flops": (lambda v: v if isinstance(v, int) else str(v))(bound(outer_shape((n.flops,), mapping, {})[0],
                                                                               env))}
            | ({"level": level} if depth else {})
            for path, n, level, mapping in _rows(root, depth)
        ]
        flops = bound(root.flops, env)
        out["flops"] = flops if isinstance(flops, int) else str(flops)
    return out
