"""Pass 6, emit: a Program -> the source of a standalone model.py.

Pre: a Program from ``infer_shapes``. Post: Python source that imports only torch (and math where a
block needs it), defines the native classes the blocks need, one class per composite
specialisation (children first) and the model class last. The same Program always gives the same
bytes: names, order and comments are computed here, in Python, from the IR's ordered tuples; the
jinja2 template only lays them out.

Class names: a composite used with one set of parameters keeps its spec name (``BasicBlock``);
used with several, each class name adds the parameters that tell them apart
(``BasicBlock_cout128_stride2``).
"""

from __future__ import annotations

import ast
import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any

from vibench._version import __version__
from vibench.compiler import registry
from vibench.compiler.blocks.base import Block, py
from vibench.compiler.ir import Node, Program, TensorType, Unit
from vibench.compiler.symbolic import fmt_shape

NATIVES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime", "natives")
_MAX_NAME = 60
LINE_WIDTH = 120
INIT_INDENT = 8  # statements sit inside `def ...:` inside `class ...:`


@dataclass
class _Class:
    name: str
    doc_lines: list[str]
    init_lines: list[str] = field(default_factory=list)
    forward_args: str = ""
    forward_returns: str = "torch.Tensor"
    signature: list[str] = field(default_factory=list)  # the `def forward(...)` line(s)
    forward_lines: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)


def emit(program: Program, *, out_path: str | None = None) -> str:
    """Render the program as model.py source (``out_path`` only feeds the regenerate comment)."""
    names = _class_names(program)
    imports: set[str] = set()
    natives: list[str] = []
    classes = [_unit_class(u, names, imports, natives, is_root=False) for u in program.units]
    classes.append(_unit_class(program.root, names, imports, natives, is_root=True))
    template = _template()
    return template.render(
        header=_header(program, out_path),
        imports=_import_lines(imports),
        natives=[_native_source(n) for n in natives],
        classes=classes,
    )


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------


def _class_names(program: Program) -> dict[tuple, str]:
    by_def: dict[str, list[Unit]] = {}
    for u in program.units:
        by_def.setdefault(u.qualname, []).append(u)
    taken = {program.root.name} | set(_all_natives(program))
    names: dict[tuple, str] = {}
    for _qualname, units in by_def.items():
        base = units[0].name
        if len(units) == 1:
            candidates = [base]
        else:
            candidates = [_distinguished(base, u, units) for u in units]
        for u, cand in zip(units, candidates, strict=False):
            name = cand if len(cand) <= _MAX_NAME else base
            final = name
            k = 2
            while final in taken:
                final = f"{name}_{k}"
                k += 1
            taken.add(final)
            names[u.key] = final
    names[program.root.key] = program.root.name
    return names


def _distinguished(base: str, unit: Unit, siblings: list[Unit]) -> str:
    values = dict(unit.params) | {f"{s}": v for s, v in unit.const_symbols}
    keys = list(dict(unit.params)) + [s for s, _ in unit.const_symbols]
    parts = []
    for key in keys:
        mine = values.get(key)
        if any((dict(o.params) | dict(o.const_symbols)).get(key) != mine for o in siblings):
            parts.append(f"{key}{_name_part(mine)}")
    return base + ("_" + "_".join(parts) if parts else "")


def _name_part(value: Any) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, (list, tuple)):
        return "x".join(_name_part(v) for v in value)
    text = str(value).replace("-", "m").replace(".", "p")
    return re.sub(r"[^0-9A-Za-z]", "", text)


def _all_natives(program: Program) -> list[str]:
    out: list[str] = []
    for unit in list(program.units) + [program.root]:
        for node in unit.nodes:
            if node.kind == "primitive":
                block = registry.get(node.block)
                if block is not None:
                    out += list(block.natives)
    return out


class _Vars:
    """One namespace of local variable names in a forward()."""

    def __init__(self, reserved: set[str]) -> None:
        self.used = set(reserved)

    def take(self, wanted: str) -> str:
        name = wanted
        k = 1
        while name in self.used:
            name = f"{wanted}_{k}"
            k += 1
        self.used.add(name)
        return name


# --------------------------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------------------------


def _unit_class(unit: Unit, names: dict[tuple, str], imports: set[str], natives: list[str], *, is_root: bool) -> _Class:
    cls = _Class(name=names[unit.key], doc_lines=_docstring(unit, is_root))
    if is_root and unit.metadata:
        cls.attributes += wrap(f"METADATA = {py(unit.metadata)}", 4)
    if is_root and unit.state_dict_renames:
        renames = [list(r) for r in unit.state_dict_renames]
        cls.attributes += wrap(f"REFERENCE_STATE_DICT_RENAMES = {py(renames)}", 4)
    input_names = [n for n, _ in unit.inputs]
    cls.forward_args = ", ".join(f"{n}: torch.Tensor" for n in input_names)
    variables = _Vars(set(input_names) | {n.name for n in unit.nodes} | {"self", "torch", "nn", "F", "math"})
    var_of: dict[tuple[str, str | None], str] = {(n, None): n for n in input_names}
    used_values = _used_values(unit)
    for node in unit.nodes:
        ports = [p for p, _ in node.outputs]
        out_vars = []
        for k, port in enumerate(ports):
            if node.parallel:
                var = variables.take(f"{node.name}_{port}")  # every copy runs: one variable each
            elif k == 0:
                var = node.name
            elif (node.name, port) in used_values:
                var = variables.take(f"{node.name}_{port}")
            else:
                var = "_"
            var_of[(node.name, port)] = var
            out_vars.append(var)
        args = [var_of[(v.node, v.port)] for _, v in node.inputs]
        _emit_node(cls, node, args, out_vars, names, imports, natives)
    cls.init_lines = [w for line in cls.init_lines for w in wrap(line, INIT_INDENT)]
    cls.forward_lines = [w for line in cls.forward_lines for w in _place_comment(line, INIT_INDENT)]
    returns = [(name, var_of[(ref.node, ref.port)]) for name, ref, _ in unit.outputs]
    if len(returns) == 1:
        cls.forward_lines.append(f"return {returns[0][1]}")
    elif is_root:
        cls.forward_returns = "dict[str, torch.Tensor]"
        items = ", ".join(f"{py(name)}: {var}" for name, var in returns)
        cls.forward_lines += wrap(f"return {{{items}}}", INIT_INDENT)
    else:
        cls.forward_returns = "tuple[" + ", ".join("torch.Tensor" for _ in returns) + "]"
        values = ", ".join(var for _, var in returns)
        fits = INIT_INDENT + len("return ") + len(values) <= LINE_WIDTH
        cls.forward_lines += [f"return {values}"] if fits else wrap(f"return ({values})", INIT_INDENT)
    cls.signature = _signature(cls.forward_args, cls.forward_returns)
    return cls


def _signature(args: str, returns: str, indent: int = 4) -> list[str]:
    """``def forward(self, ...) -> ...:`` on one line, or black-style with the parameters indented."""
    line = f"def forward(self, {args}) -> {returns}:"
    if indent + len(line) <= LINE_WIDTH:
        return [line]
    params = f"self, {args}"
    if indent + 4 + len(params) <= LINE_WIDTH:
        return ["def forward(", f"    {params}", f") -> {returns}:"]
    return ["def forward(", *(f"    {p}," for p in params.split(", ")), f") -> {returns}:"]


def wrap(line: str, indent: int, width: int = LINE_WIDTH) -> list[str]:
    """Split a long ``name = call(a, b, ...)`` black-style: one argument per line, recursively."""
    if indent + len(line) <= width:
        return [line]
    code, comment = _split_comment(line)
    opening = _outer_call(code)
    if opening is None:
        return [line]
    head, inner = code[: opening + 1], code[opening + 1 : -1]
    args = _split_args(inner)
    tail = code[-1] + (f"  {comment}" if comment else "")
    joined = ", ".join(args)
    if indent + 4 + len(joined) <= width:  # black's first choice: all arguments on one indented line
        return [head, "    " + joined, tail]
    out = [head]
    for arg in args:
        pieces = wrap(arg, indent + 4, width - 1)  # leave room for the trailing comma
        pieces[-1] += ","
        out += ["    " + w for w in pieces]
    out.append(tail)
    return out


def _place_comment(line: str, indent: int, width: int = LINE_WIDTH) -> list[str]:
    """Keep a forward() line within the width: move a long shape comment above the statement."""
    if indent + len(line) <= width:
        return [line]
    code, comment = _split_comment(line)
    if comment:
        return [comment] + wrap(code, indent, width)
    return wrap(code, indent, width)


def _split_comment(line: str) -> tuple[str, str]:
    depth, quote = 0, ""
    for k, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and depth == 0:
            return line[:k].rstrip(), line[k:]
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return line, ""


def _outer_call(code: str) -> int | None:
    """Index of the bracket whose closing partner ends the line (a call, list or dict), if any."""
    if not code.endswith((")", "]", "}")):
        return None
    depth, quote = 0, ""
    for k in range(len(code) - 1, -1, -1):
        ch = code[k]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in ")]}":
            depth += 1
        elif ch in "([{":
            depth -= 1
            if depth == 0:
                return k
    return None


def _split_args(inner: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for k, ch in enumerate(inner):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:k].strip())
            start = k + 1
    tail = inner[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def _used_values(unit: Unit) -> set[tuple[str, str | None]]:
    used = {(v.node, v.port) for n in unit.nodes for _, v in n.inputs}
    used |= {(ref.node, ref.port) for _, ref, _ in unit.outputs}
    return used


def _emit_parallel(cls: _Class, node: Node, args: list[str], outs: list[str], names: dict[tuple, str],
                   imports: set[str], natives: list[str]) -> None:
    """`for_each`: the copies in one ModuleList, each called on the same inputs, one line per copy."""
    attr = f"self.{node.name}"
    ctors: list[str | None] = []
    calls: list[str] = []
    for k, copy in enumerate(node.copies):
        member = f"{attr}[{k}]"
        if copy.unit is not None:
            ctors.append(f"{names[copy.unit.key]}()")
            calls.append(f"{member}({', '.join(args)})")
            continue
        block = registry.get(copy.block or node.block)
        assert block is not None, copy.block
        imports.update(block.imports)
        natives.extend(n for n in block.native_classes(copy.params) if n not in natives)
        ctors.append(block.init_code(copy.params))
        calls.append(block.call_code(copy.params, args, member))
    if all(c is not None for c in ctors):
        cls.init_lines.append(f"{attr} = nn.ModuleList([{', '.join(c for c in ctors if c)}])")
    elif any(c is not None for c in ctors):
        raise RuntimeError(f"node {node.name}: copies with and without modules (this is a bug)")
    for k, (var, call_text) in enumerate(zip(outs, calls, strict=True)):
        shape = node.copies[k].outputs[0][1]
        where = f"  {os.path.basename(node.pos.file)}:{node.pos.line}" if node.pos is not None else ""
        cls.forward_lines.append(f"{var} = {call_text}  # {shape}{where}")


def _emit_node(cls: _Class, node: Node, args: list[str], outs: list[str], names: dict[tuple, str],
               imports: set[str], natives: list[str]) -> None:
    comment = _comment(node)
    attr = f"self.{node.name}"
    if node.parallel:
        _emit_parallel(cls, node, args, outs, names, imports, natives)
        return
    if node.kind == "composite":
        classes = [f"{names[c.unit.key]}()" for c in node.copies if c.unit is not None]
        if node.repeated:
            cls.init_lines.append(f"{attr} = nn.Sequential({', '.join(classes)})")
        else:
            cls.init_lines.append(f"{attr} = {classes[0]}")
        lhs = ", ".join(outs)
        cls.forward_lines.append(f"{lhs} = {attr}({', '.join(args)}){comment}")
        return
    block = registry.get(node.block)
    assert block is not None, node.block
    imports.update(block.imports)
    for copy in node.copies:
        natives.extend(n for n in block.native_classes(copy.params) if n not in natives)
    ctors: list[str | None] = [block.init_code(c.params) for c in node.copies]
    lhs = block.unpack(outs)
    if not node.repeated:
        if ctors[0] is not None:
            cls.init_lines.append(f"{attr} = {ctors[0]}")
        cls.forward_lines.append(f"{lhs} = {block.call_code(node.copies[0].params, args, attr)}{comment}")
        return
    plain = all(c is not None for c in ctors) and all(
        block.call_code(c.params, ["_x"], "_m") == "_m(_x)" for c in node.copies
    )
    if plain:
        cls.init_lines.append(f"{attr} = nn.Sequential({', '.join(c for c in ctors if c)})")
        cls.forward_lines.append(f"{lhs} = {attr}({args[0]}){comment}")
        return
    if all(c is not None for c in ctors):
        container = "nn.ParameterList" if block.init_kind == "parameter" else "nn.ModuleList"
        cls.init_lines.append(f"{attr} = {container}([{', '.join(ctors)}])")  # type: ignore[arg-type]
    current = args[0]
    for k, copy in enumerate(node.copies):
        line = f"{lhs} = {block.call_code(copy.params, [current], f'{attr}[{k}]')}"
        cls.forward_lines.append(line + (comment if k == len(node.copies) - 1 else ""))
        current = outs[0]


def _comment(node: Node) -> str:
    shapes = node.outputs
    if len(shapes) == 1:
        text = str(shapes[0][1])
    else:
        text = ", ".join(f"{p}: {t}" for p, t in shapes)
    where = f"  {os.path.basename(node.pos.file)}:{node.pos.line}" if node.pos is not None else ""
    return f"  # {text}{where}"


def _docstring(unit: Unit, is_root: bool) -> list[str]:
    lines: list[str] = []
    doc = (unit.doc or "").strip()
    if doc:
        lines += doc.splitlines()
    else:
        lines.append(f"{unit.name} (generated by vibench).")
    lines.append("")
    if not is_root and unit.params:
        lines += _doc_items("Settings:", [f"{k}={_short(v)}" for k, v in unit.params], ",")
    width = len("Constraints:")
    for label, items in (
        ("Inputs:", [f"{n} {_type_text(t)}" for n, t in unit.inputs]),
        ("Outputs:", [f"{n} {_type_text(t)}" for n, _, t in unit.outputs]),
    ):
        lines += _doc_items(f"{label:<{width}}", items, ",")
    if unit.constraints:
        lines += _doc_items("Constraints:", [c.text for c in unit.constraints], ";")
    lines.append(f"{'Parameters:':<{width}} {unit.param_count:,}")
    return lines


def _doc_items(label: str, items: list[str], sep: str) -> list[str]:
    """``label item, item, ...`` on one docstring line, or continued on lines aligned under the first item."""
    lines = [label]
    for k, item in enumerate(items):
        text = item + (sep if k < len(items) - 1 else "")
        if len(lines[-1]) > len(label) and 4 + len(lines[-1]) + 1 + len(text) > LINE_WIDTH:
            lines[-1] = lines[-1].rstrip()
            lines.append(" " * len(label))
        lines[-1] += " " + text
    return lines


def _type_text(t: TensorType) -> str:
    return fmt_shape(t.shape) + f" {t.dtype}"


def _short(value: Any) -> str:
    text = py(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------------------------
# file parts
# --------------------------------------------------------------------------------------------


def _header(program: Program, out_path: str | None) -> list[str]:
    src = program.source
    words = ["vibench-compile", _shell(src.display_path), f"-o {_shell(out_path or 'model.py')}"]
    words += [f"--set {_shell(f'{k}={v}')}" for k, v in src.overrides]
    words += [f"--input {_shell(f'{k}={v}')}" for k, v in src.input_bindings]
    first = f"# Generated by vibench-compile {__version__} from {src.display_path}"
    stamp = f"(sha256:{src.sha256[:16]}) - do not edit."
    lines = [f"{first} {stamp}"] if len(first) + 1 + len(stamp) <= LINE_WIDTH else [first, f"# {stamp}"]
    command = ["# Regenerate:"]
    for word in words:  # a long command continues on `\`-joined comment lines
        if command[-1] not in ("# Regenerate:", "#  ") and len(command[-1]) + 1 + len(word) + 2 > LINE_WIDTH:
            command[-1] += " \\"
            command.append("#  ")
        command[-1] += " " + word
    # A single word longer than a line (a large --set value) cannot wrap; the shell reads the
    # marker as a comment, so the command still copies and runs as printed.
    command = [c + "  # noqa: E501" if len(c) > LINE_WIDTH else c for c in command]
    return lines + command


def _shell(text: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./=,:@%+-]+", text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _import_lines(imports: set[str]) -> list[str]:
    lines = []
    if "math" in imports:
        lines.append("import math")
        lines.append("")
    lines.append("import torch")
    if "F" in imports:
        lines.append("import torch.nn.functional as F")
    lines.append("from torch import nn")
    return lines


@functools.cache
def _native_sources() -> dict[str, str]:
    out: dict[str, str] = {}
    for fname in sorted(os.listdir(NATIVES_DIR)):
        if not fname.endswith(".py") or fname.startswith("_"):
            continue
        with open(os.path.join(NATIVES_DIR, fname), encoding="utf-8") as fh:
            text = fh.read()
        tree = ast.parse(text)
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                segment = ast.get_source_segment(text, node)
                assert segment is not None
                decorators = "".join(f"@{ast.get_source_segment(text, d)}\n" for d in node.decorator_list)
                out[node.name] = decorators + segment
    return out


def _native_source(name: str) -> str:
    sources = _native_sources()
    if name not in sources:  # pragma: no cover - a block declares a native that does not exist
        raise RuntimeError(f"native `{name}` not found in vibench/runtime/natives (this is a bug)")
    return sources[name]


@functools.lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vibench.compiler", "templates"),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("model.py.j2")


def block_of(node: Node) -> Block | None:
    return registry.get(node.block) if node.kind == "primitive" else None
