"""Human and machine reports of a checked program: --check, --summary, --graph."""

from __future__ import annotations

from typing import Any

from vibench.compiler.ir import Node, Program, TensorType, Unit
from vibench.compiler.symbolic import Dim, evaluate, fmt_shape, free_symbols


def _value(d: Dim, env: dict[str, int]) -> Dim:
    if isinstance(d, int) or not free_symbols(d) <= set(env):
        return d
    return evaluate(d, env)


def _shape(shape: tuple[Dim, ...], env: dict[str, int]) -> str:
    return fmt_shape(tuple(_value(d, env) for d in shape))


def _flops(d: Dim, env: dict[str, int]) -> str:
    v = _value(d, env)
    if isinstance(v, int):
        for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
            if abs(v) >= scale:
                return f"{v / scale:.2f}{unit}"
        return str(v)
    return str(v)


def check_report(program: Program, *, summary: bool, written: str | None) -> str:
    root = program.root
    env = dict(program.bindings)
    lines = []
    head = f"ok: {root.name} - {root.param_count:,} parameters"
    if written:
        head += f", written to {written}"
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
        lines += _table(root, env)
        lines.append(f"total FLOPs: {_flops(root.flops, env)}" + ("" if env else " (symbolic; bind with --input)"))
    return "\n".join(lines)


def _table(unit: Unit, env: dict[str, int]) -> list[str]:
    rows = [("node", "block", "output", "params", "FLOPs")]
    for node in unit.nodes:
        out = "; ".join(_shape(t.shape, env) for _, t in node.outputs)
        block = _block_label(node)
        rows.append((node.name, block, out, f"{node.param_count:,}", _flops(node.flops, env)))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    lines: list[str] = []
    for r in rows:
        lines.append("  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                              r[3].rjust(widths[3]), r[4].rjust(widths[4])]).rstrip())
    return lines


def _block_label(node: Node) -> str:
    if node.parallel:
        names = dict.fromkeys((c.block or node.block).rsplit("#", 1)[-1] for c in node.copies)
        return "for_each: " + ", ".join(names)
    return node.block.rsplit("#", 1)[-1] + (f" x{len(node.copies)}" if node.repeated else "")


def check_report_json(program: Program, *, summary: bool, written: str | None) -> dict[str, Any]:
    root = program.root
    env = dict(program.bindings)

    def dims(shape: tuple[Dim, ...]) -> list[Any]:
        return [v if isinstance(v, int) else str(v) for v in (_value(d, env) for d in shape)]

    out: dict[str, Any] = {
        "ok": True,
        "model": root.name,
        "parameters": root.param_count,
        "inputs": {n: {"shape": dims(t.shape), "dtype": t.dtype} for n, t in root.inputs},
        "outputs": {n: {"shape": dims(t.shape), "dtype": t.dtype} for n, _, t in root.outputs},
        "constraints": [{"constraint": c.text, "node": c.node, "reason": c.reason} for c in root.constraints],
        "bindings": env,
        "warnings": [w.to_json() for w in program.warnings],
    }
    if written:
        out["written"] = written
    if summary:
        out["nodes"] = [
            {"name": n.name, "block": n.block, "outputs": {p: dims(t.shape) for p, t in n.outputs},
             "parameters": n.param_count,
             "flops": (lambda v: v if isinstance(v, int) else str(v))(_value(n.flops, env))}
            for n in root.nodes
        ]
        flops = _value(root.flops, env)
        out["flops"] = flops if isinstance(flops, int) else str(flops)
    return out


def graph_text(program: Program, path: str) -> str:
    """Mermaid (``.mmd``/``.md``/``.mermaid``) or Graphviz DOT (``.dot``/``.gv``) with shapes on edges."""
    lower = path.lower()
    if lower.endswith((".dot", ".gv")):
        return _dot(program)
    if lower.endswith((".mmd", ".mermaid", ".md")):
        text = _mermaid(program)
        return f"```mermaid\n{text}```\n" if lower.endswith(".md") else text
    from vibench.compiler.cli import UsageError

    raise UsageError(f"--graph {path}: use a .mmd, .md, .dot or .gv file name")


def _edges(unit: Unit) -> list[tuple[str, str, str]]:
    types: dict[tuple[str, str | None], TensorType] = {(n, None): t for n, t in unit.inputs}
    for node in unit.nodes:
        for port, t in node.outputs:
            types[(node.name, port)] = t
    edges = []
    for node in unit.nodes:
        for _, ref in node.inputs:
            edges.append((ref.node, node.name, fmt_shape(types[(ref.node, ref.port)].shape)))
    for name, ref, t in unit.outputs:
        edges.append((ref.node, f"out_{name}", fmt_shape(t.shape)))
    return edges


def _mermaid(program: Program) -> str:
    unit = program.root
    lines = ["flowchart TD"]
    for name, _ in unit.inputs:
        lines.append(f'  {name}(["{name}"])')
    for node in unit.nodes:
        block = _block_label(node)
        lines.append(f'  {node.name}["{node.name}: {block}"]')
    for name, _, _ in unit.outputs:
        lines.append(f'  out_{name}(["{name}"])')
    for a, b, label in _edges(unit):
        lines.append(f'  {a} -->|"{label}"| {b}')
    return "\n".join(lines) + "\n"


def _dot(program: Program) -> str:
    unit = program.root
    lines = [f'digraph "{unit.name}" {{', "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    for name, _ in unit.inputs:
        lines.append(f'  "{name}" [shape=ellipse];')
    for node in unit.nodes:
        block = _block_label(node)
        lines.append(f'  "{node.name}" [label="{node.name}\\n{block}"];')
    for name, _, _ in unit.outputs:
        lines.append(f'  "out_{name}" [shape=ellipse, label="{name}"];')
    for a, b, label in _edges(unit):
        lines.append(f'  "{a}" -> "{b}" [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
