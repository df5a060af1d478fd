"""Human and machine reports of a checked program: --check and --summary (pictures: :mod:`render`)."""

from __future__ import annotations

from typing import Any

from vibench.compiler.diagnostics import MAX_SHOWN, display_width, one_cell, one_line, pad
from vibench.compiler.ir import Node, Program, Unit
from vibench.compiler.symbolic import MAX_SHOWN_DIGITS, Dim, bound, fmt_int, fmt_shape


def _shape(shape: tuple[Dim, ...], env: dict[str, int]) -> str:
    return fmt_shape(tuple(bound(d, env) for d in shape))


def _flops(d: Dim, env: dict[str, int]) -> str:
    v = bound(d, env)
    if isinstance(v, int):
        if abs(v) >= 10**MAX_SHOWN_DIGITS:  # (past what a float divides: written by its length)
            return fmt_int(v)
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
        rows.append((_path_cell(path, level), _cell(_block_label(node)), _cell(out), f"{node.param_count:,}",
                     _cell(flops)))
    # in terminal columns: a block named in CJK takes two per character (docs/cli.md)
    widths = [max(display_width(r[k]) for r in rows) for k in range(5)]
    lines: list[str] = []
    for r in rows:
        cells = [pad(cell, width, right=k >= 3) for k, (cell, width) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return lines


MAX_CELL = 200
"""Terminal columns of a cell of the --summary table: a longer one is cut, ending `...` (a node's path: in its
middle, :func:`_path_cell`), as every row is padded to its column's widest cell (a length pooled and joined through
150 layers wrote a 20,000-column shape; a `for_each` over 1,000 composites a 34,000-column block cell, 100 MB for
3,000 rows; 30 nested composites of 32-character names 1,100-column paths). The JSON report (`--format json`) has
every formula and name whole. The library's widest cell, MobileNet1D's FLOPs, is 170."""


def _cell(text: str, width: int = MAX_CELL) -> str:
    return text if display_width(text) <= width else _fit(text, width - 3) + "..."


def _fit(text: str, columns: int) -> str:
    """The longest start of ``text`` that takes at most ``columns`` terminal columns."""
    cut = text[:columns]
    while display_width(cut) > columns:
        cut = cut[:-1]
    return cut


def _path_cell(path: str, level: int) -> str:
    """The node column: the state_dict path indented two columns a level; a path too long for :data:`MAX_CELL` (less
    its indentation, which shows the nesting) is cut in the middle, a third kept before the ``...``, the rest after
    it: the rows of one deep composite share their start, and its end, the node's own name, tells them apart."""
    indent = "  " * level  # (at most 64 columns: composites nest at most limits.MAX_NESTING = 32 deep)
    text, width = one_cell(path), MAX_CELL - len(indent)
    if display_width(text) <= width:
        return indent + text
    head = _fit(text, (width - 3) // 3)
    tail = _fit(text[::-1], width - 3 - display_width(head))[::-1]
    return f"{indent}{head}...{tail}"


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
            {"name": path, **_blocks_json(n),
             "outputs": {p: dims(outer_shape(t.shape, mapping, {})) for p, t in n.outputs},
             "parameters": n.param_count,
             "flops": (lambda v: v if isinstance(v, int) else str(v))(bound(outer_shape((n.flops,), mapping, {})[0],
                                                                               env)),
             "level": level}
            for path, n, level, mapping in _rows(root, depth)
        ]
        flops = bound(root.flops, env)
        out["flops"] = flops if isinstance(flops, int) else str(flops)
    return out


def _blocks_json(node: Node) -> dict[str, Any]:
    """A --summary JSON row's blocks, as the text's block column tells them (``BasicBlock x2``, ``for_each: a, b``):
    ``block``, the block every copy runs (null for a `for_each` whose copies run different ones: it gave the first
    copy's, beside the parameters and FLOPs of all); ``blocks``, each copy's, in the order of the model's
    ``name.<k>.`` keys; ``copies``, how many (1 for a node of neither `repeat` nor `for_each`)."""
    blocks = [c.block or node.block for c in node.copies]
    return {"block": blocks[0] if len(set(blocks)) == 1 else None, "blocks": blocks, "copies": len(blocks)}
