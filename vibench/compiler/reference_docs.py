"""The block and template reference: ``vibench-compile --blocks NAME``, ``--list NAME``, and the
generated pages ``docs/blocks.md`` and ``docs/templates.md`` (``scripts/reference_docs.py``).

Everything here is read from the registry and the spec library, never written by hand: a block's
parameters come from its pydantic ``Params`` model (type, default, bounds, description), its ports
and category from the class, its shape rule in words from its docstring, and its example from a
one-node spec built from the block's own metadata (``test_layouts``/``test_ranks``, ``test_hints``,
the parameters' types and bounds) and checked by the compiler, which also prints the shapes it gives.
A template's parameters are its declared ``params:``; its interface is the one checked at its defaults.

    >>> print(block_reference("relu").splitlines()[0])
    relu (activation): Rectified linear unit, max(x, 0).
"""

from __future__ import annotations

import inspect
import json
import os
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.ir import ParamDecl, Program


class UnknownName(Exception):
    """A block or template name that does not exist; the message carries a "did you mean"."""


@dataclass(frozen=True)
class ParamRow:
    """One parameter as the reference shows it."""

    name: str
    type: str
    default: str  # "required", or the default as JSON
    bounds: str  # ">= 1", "one of: basic, bottleneck", a slot folder...
    doc: str


@dataclass(frozen=True)
class Example:
    """A spec that uses the block or template, and what the compiler says about it."""

    spec: str
    result: str  # "x [B, 8, L] -> out [B, 4, L - 2]", or why it does not compile
    constraints: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------


def _block(name: str) -> Block:
    from vibench.compiler import registry
    from vibench.compiler.diagnostics import suggest

    block = registry.get(name)
    if block is None:
        hint = suggest(name, registry.all_blocks())
        raise UnknownName(f"--blocks {_clip(name)}: no such block" + (f"; {hint}" if hint else "")
                          + " (`vibench-compile --blocks` lists them all)")
    return block


def block_params(block: Block) -> list[ParamRow]:
    """The rows of a block's parameter table, in the model's field order."""
    from vibench.schemas.jsonschema import bounds_text, type_text

    props = block.Params.model_json_schema().get("properties", {})
    rows = []
    for name, info in block.Params.model_fields.items():
        prop = dict(props.get(name, {}))
        kind = type_text({k: v for k, v in prop.items() if k not in ("default", "description", "title")})
        default = "required" if info.is_required() else _flow(info.get_default(call_default_factory=True))
        rows.append(ParamRow(name, kind, default, bounds_text(prop.get("anyOf", [prop])), info.description or ""))
    return rows


def shape_rule(block: Block) -> str:
    """The block's shape rule in words: its docstring after the one-line summary."""
    body = inspect.cleandoc(block.long_description).split("\n", 1)
    return body[1].strip() if len(body) > 1 else ""


def block_example(block: Block) -> Example:
    """A one-node spec of ``block`` with its required parameters, checked; the first of a few input
    declarations that compiles (symbolic, then with feature dims fixed, then all dims fixed)."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import compile_program

    params = _example_params(block)
    candidates = _example_layouts(block)
    first_error = ""
    for layouts in candidates:
        for fix in ("", "features", "all"):
            text = _one_node_spec(block, params, [_fixed(layout, fix) for layout in layouts])
            try:
                program = compile_program(text=text, display=f"{block.name}.yaml")
            except SpecError as err:
                first_error = first_error or f"{err.diagnostics[0].code}: {err.diagnostics[0].message}"
                continue
            return Example(text, _interface(program), tuple(c.text for c in program.root.constraints))
    return Example(_one_node_spec(block, params, candidates[0]), f"(does not compile as written: {first_error})")


_SYMBOL_SIZES = {"B": 2, "L": 32, "S": 32, "T": 32}


def _example_layouts(block: Block) -> list[list[tuple[str | int, ...]]]:
    """Input declarations to try, one list of shapes per try: the block's test layouts, else one
    layout per test rank (rank 3 first), shared by every required input."""
    if block.test_layouts:
        return [[tuple(int(d) if d.isdigit() else d for d in layout.split()) for layout in alt]
                for alt in block.test_layouts]
    count = block.min_inputs if block.variadic else len(block.inputs) - len(block.optional_inputs)
    out: list[list[tuple[str | int, ...]]] = []
    for rank in sorted(block.test_ranks, key=lambda r: (r != 3, r)):
        named = {1: ("L",), 2: ("B", "C"), 3: ("B", "C", "L"), 4: ("B", "C", "H", "L")}.get(rank)
        layout: tuple[str | int, ...] = named or ("B",) + tuple(f"D{k}" for k in range(1, rank))
        out.append([layout] * count)
    return out


def _fixed(layout: tuple[str | int, ...], fix: str) -> tuple[str | int, ...]:
    """``fix``: "" keeps symbols, "features" fixes all but B and L-like ones (to 8), "all" fixes every one."""
    if fix == "":
        return layout
    return tuple(d if isinstance(d, int) or (fix == "features" and d in _SYMBOL_SIZES)
                 else _SYMBOL_SIZES.get(d, 8) for d in layout)


def _example_params(block: Block) -> dict[str, Any]:
    hinted: dict[str, Any] = {}
    for key, choices in block.test_hints.items():
        if isinstance(key, tuple):
            hinted.update(zip(key, choices[0], strict=True))
        else:
            hinted[key] = choices[0]
    out: dict[str, Any] = {}
    axes = iter(range(1, 100))
    for name, info in block.Params.model_fields.items():
        if not info.is_required() and name not in hinted:
            continue
        if name in hinted:
            out[name] = hinted[name]
        else:
            out[name] = _example_value(info.annotation, list(info.metadata), name, axes)
    return out


def _example_value(tp: Any, metadata: list[Any], name: str, axes: typing.Iterator[int]) -> Any:
    """A small, readable value of type ``tp`` within the bounds in ``metadata``."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        inner, *extra = typing.get_args(tp)
        return _example_value(inner, [c for m in extra for c in getattr(m, "metadata", [m])], name, axes)
    if origin in (typing.Union, types.UnionType):
        arg = next(a for a in typing.get_args(tp) if a is not type(None))
        return _example_value(arg, metadata, name, axes)
    if origin is Literal:
        return typing.get_args(tp)[0]
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return [_example_value(args[0], metadata, name, axes) if args else 4]
    if origin is dict:
        return {"0": _example_value(typing.get_args(tp)[1], metadata, name, axes)}
    if tp is bool:
        return True
    low = next((getattr(m, "ge", None) for m in metadata if getattr(m, "ge", None) is not None), None)
    above = next((getattr(m, "gt", None) for m in metadata if getattr(m, "gt", None) is not None), None)
    high = next((getattr(m, "le", None) for m in metadata if getattr(m, "le", None) is not None), None)
    if tp is int:
        if low is None and above is None and high is None:
            return next(axes)  # an axis: 1, then 2...
        value = 3 if "kernel" in name else 4
        if low is not None:
            value = max(value, int(low))
        if above is not None:
            value = max(value, int(above) + 1)
        return min(value, int(high)) if high is not None else value
    if tp is float:
        return 0.5 if high is None or high >= 0.5 else float(high)
    if tp is str:
        return "x"
    return None


def _one_node_spec(block: Block, params: dict[str, Any], shapes: list[tuple[str | int, ...]]) -> str:
    names = ([f"x{k}" for k in range(len(shapes))] if block.variadic
             else list(block.inputs[:len(shapes)]))
    if block.variadic:
        wired = _flow(names)
    elif len(names) == 1 and len(block.inputs) == 1:
        wired = names[0]
    else:
        wired = "{" + ", ".join(f"{port}: {port}" for port in names) + "}"
    dtype = block.test_dtypes[0]
    lines = ["vibench: 1", "name: Example", "inputs:"]
    for name, shape in zip(names, shapes, strict=True):
        lines.append(f"  {name}: {{shape: {_flow(list(shape))}" + (f", dtype: {dtype}}}" if dtype != "float32"
                                                                      else "}"))
    items = [f"block: {block.name}", f"in: {wired}"] + [f"{k}: {_flow(v)}" for k, v in params.items()]
    lines += ["nodes:", f"  layer: {{{', '.join(items)}}}", "outputs:"]
    if len(block.outputs) == 1:
        lines.append("  y: layer")
    else:
        lines += [f"  {port}: layer.{port}" for port in block.outputs] or ["  y: layer"]
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    """A YAML flow literal; symbols and plain words stay unquoted."""
    if isinstance(value, str) and value.isidentifier() and value not in ("true", "false", "null", "yes", "no",
                                                                         "on", "off", "y", "n"):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(str(k))}: {_flow(v)}" for k, v in value.items()) + "}"
    return _json(value)


def _interface(program: Program) -> str:
    from vibench.compiler.symbolic import fmt_shape

    root = program.root
    ins = ", ".join(f"{n} {_typed(fmt_shape(t.shape), t.dtype)}" for n, t in root.inputs)
    outs = ", ".join(f"{n} {_typed(fmt_shape(t.shape), t.dtype)}" for n, _, t in root.outputs)
    return f"{ins} -> {outs}"


def _typed(shape: str, dtype: str) -> str:
    return shape if dtype == "float32" else f"{shape} {dtype}"


def _ports(block: Block) -> tuple[str, str]:
    ins = ", ".join(block.inputs) + (f" (any number, at least {block.min_inputs})" if block.variadic else "")
    if block.optional_inputs:
        ins += "; optional: " + ", ".join(block.optional_inputs)
    outs = ", ".join(block.outputs) or "(numbered: node.0, node.1, ...)"
    return ins, outs


def block_reference(name: str) -> str:
    """The text of ``vibench-compile --blocks NAME``."""
    block = _block(name)
    ins, outs = _ports(block)
    lines = [f"{block.name} ({block.category}): {block.description}", ""]
    rule = shape_rule(block)
    if rule:
        lines += ["shape rule:", *_indent(rule), ""]
    lines += [f"inputs:  {ins}", f"outputs: {outs}", ""]
    rows = block_params(block)
    if rows:
        lines += ["parameters:", *_table([(r.name, r.type, r.default, r.bounds, r.doc) for r in rows]), ""]
    else:
        lines += ["parameters: none", ""]
    example = block_example(block)
    lines += ["example:", *_indent(example.spec.rstrip("\n")), f"  gives: {example.result}"]
    if example.constraints:
        lines.append("  requires: " + "; ".join(example.constraints))
    return "\n".join(lines)


def _indent(text: str, prefix: str = "  ") -> list[str]:
    return [prefix + line if line else "" for line in text.splitlines()]


WIDTH = 100  # text columns of --blocks NAME / --list NAME before the last column wraps


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Aligned columns, two spaces apart, indented by two; the last column wraps at :data:`WIDTH`
    (continued under itself), keeping at least 40 columns."""
    import textwrap

    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]) - 1)]
    left = 2 + sum(w + 2 for w in widths)
    lines = []
    for r in rows:
        head = "  " + "".join(c.ljust(w) + "  " for c, w in zip(r, widths, strict=False))
        parts = textwrap.wrap(r[-1], max(40, WIDTH - left)) or [""]
        lines.append((head + parts[0]).rstrip())
        lines += [" " * left + part for part in parts[1:]]
    return lines


# --------------------------------------------------------------------------------------------
# templates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateDoc:
    name: str
    doc: str
    params: tuple[ParamRow, ...]
    interface: str  # checked at the defaults: "x [B, L, 1] -> logits [B, 10]", or the declared ports
    inputs: tuple[tuple[str, str], ...]  # name -> declared doc
    outputs: tuple[tuple[str, str], ...]
    slots: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # (param, folder, default, components)
    blocks: tuple[tuple[str, str], ...]  # composites the template defines: name -> first doc line
    problem: str = ""  # why it does not compile at its defaults


def template_doc(name: str, search_path: list[str] | None = None) -> TemplateDoc:
    """What the reference says about library template ``name`` (``cnn/ResNet1D``)."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.library_index import template_names
    from vibench.compiler.resolve import Library, slot_components

    library = Library(list(search_path or []))
    try:
        path = str(library.find(name, None, None))
    except SpecError:
        path = ""
    if not path or name.startswith((".", "/")) or not os.path.isfile(path):
        from vibench.compiler.diagnostics import closest, suggest

        names = template_names()
        hint = suggest(name, names)
        if hint is None:  # `resnet1d` for cnn/ResNet1D: the name without its folder
            by_leaf = {n.rsplit("/", 1)[-1]: n for n in names}
            leaf = closest(name.rsplit("/", 1)[-1], by_leaf)
            hint = f"did you mean `{by_leaf[leaf]}`?" if leaf else None
        raise UnknownName(f"--list {_clip(name)}: no such template" + (f"; {hint}" if hint else "")
                          + " (`vibench-compile --list` lists them all)")
    unit, blocks = library.load(path, None)
    rows = tuple(_declared_row(d) for d in unit.params)
    problem = ""
    try:
        interface = _interface(_compile(path, search_path))
    except SpecError as err:
        interface = ""
        problem = f"{err.diagnostics[0].code}: {err.diagnostics[0].message}"
    slots = []
    for d in unit.params:
        if d.slot is not None:
            components = tuple(slot_components(d.slot, library, os.path.dirname(path)))
            slots.append((d.name, d.slot, _flow(d.default), components))
    composites = tuple((b, _first_line(u.doc)) for b, u in blocks.items() if "#" not in b and b != unit.name)
    return TemplateDoc(name, (unit.doc or "").strip(), rows, interface,
                       tuple((i.name, i.doc or "") for i in unit.inputs),
                       tuple((o.name, o.doc or "") for o in unit.outputs), tuple(slots), composites, problem)


def _compile(path: str, search_path: list[str] | None) -> Program:
    from vibench.compiler.pipeline import compile_program

    return compile_program(path, search_path=list(search_path or []))


def _declared_row(d: ParamDecl) -> ParamRow:
    from vibench.compiler.ir import Template

    bounds = [f"{sign} {_number(v)}" for sign, v in ((">=", d.ge), (">", d.gt), ("<=", d.le), ("<", d.lt))
              if v is not None]
    if d.choices is not None:
        bounds.append("one of: " + ", ".join(_json(c) if not isinstance(c, str) else c for c in d.choices))
    if d.slot is not None:
        bounds.append(f"a spec in {d.slot}/")
    if d.required:
        default = "required"
    elif isinstance(d.default, Template):
        default = d.default.text
    else:
        default = _flow(d.default)
    return ParamRow(d.name, d.type, default, ", ".join(bounds), " ".join((d.doc or "").split()))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _example_rows(doc: TemplateDoc) -> list[ParamRow]:
    """The parameters an example sets: the first two with a plain default (at that default)."""
    return [r for r in doc.params if r.default not in ("required", "null") and not r.default.startswith("${")
            and not r.type.startswith(("list", "dict"))][:2]


def template_example(doc: TemplateDoc) -> str:
    """A user spec that extends the template (its first parameters at their defaults)."""
    values = [f"{r.name}: {r.default}" for r in _example_rows(doc)]
    return f"vibench: 1\nextends: {doc.name}\nwith: {{{', '.join(values)}}}\n"


def template_reference(name: str, search_path: list[str] | None = None) -> str:
    """The text of ``vibench-compile --list NAME``."""
    doc = template_doc(name, search_path)
    lines = [f"{doc.name}: {_first_line(doc.doc)}", ""]
    rest = doc.doc.split("\n", 1)[1].strip() if "\n" in doc.doc else ""
    if rest:
        lines += [*_indent(rest), ""]
    lines += [f"interface at the defaults: {doc.interface or '(does not compile: ' + doc.problem + ')'}", ""]
    for label, ports in (("inputs", doc.inputs), ("outputs", doc.outputs)):
        if ports:
            lines += [f"{label}:", *_table([(n, d or "") for n, d in ports])]
    lines.append("")
    if doc.params:
        lines += ["parameters:", *_table([(r.name, r.type, r.default, r.bounds, r.doc) for r in doc.params]), ""]
    for param, folder, default, components in doc.slots:
        lines += [f"slot {param} (a spec in {folder}/, default {default}):", *_wrap(", ".join(components)), ""]
    if doc.blocks:
        lines += ["composite blocks:", *_table([(b, d) for b, d in doc.blocks]), ""]
    lines += ["example (a spec of your own):", *_indent(template_example(doc).rstrip("\n")), "",
              f"  or: vibench-compile {doc.name} --check" + "".join(
                  f" --set {r.name}={r.default}" for r in _example_rows(doc))]
    return "\n".join(lines)


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="  ") or ["  (none)"]


# --------------------------------------------------------------------------------------------
# the generated pages
# --------------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _md_params(rows: tuple[ParamRow, ...] | list[ParamRow]) -> list[str]:
    out = ["| parameter | type | default | bounds | description |", "|---|---|---|---|---|"]
    out += [f"| `{r.name}` | `{_md_cell(r.type)}` | "
            + ("required" if r.default == "required" else f"`{_md_cell(r.default)}`")
            + f" | {_md_cell(r.bounds)} | {_md_cell(r.doc)} |" for r in rows]
    return out


def blocks_markdown() -> str:
    """docs/blocks.md: every built-in block, by category (installed plug-ins stay out of the page)."""
    from vibench.compiler import registry

    blocks = {name: block for name, block in registry.all_blocks().items()
              if type(block).__module__.startswith("vibench.")}
    categories = sorted({b.category for b in blocks.values()})
    lines = ["# Block reference", "",
             "<!-- generated by scripts/reference_docs.py from the block registry (`make docs`); do not edit -->", "",
             "Every block a spec's `block:` can name, with its parameters, ports, shape rule and a checked "
             "example. The same text for one block: `vibench-compile --blocks NAME`.", ""]
    for category in categories:
        names = [n for n, b in blocks.items() if b.category == category]
        lines.append(f"- **{category}**: " + ", ".join(f"[`{n}`](#{n})" for n in names))
    lines.append("")
    for category in categories:
        lines += [f"## {category}", ""]
        for name, block in blocks.items():
            if block.category != category:
                continue
            ins, outs = _ports(block)
            lines += [f"### {name}", "", block.description, ""]
            rule = shape_rule(block)
            if rule:
                lines += [" ".join(rule.split()), ""]
            lines += [f"Inputs: {ins}. Outputs: {outs}.", ""]
            rows = block_params(block)
            lines += [*_md_params(rows), ""] if rows else ["No parameters.", ""]
            example = block_example(block)
            lines += ["```yaml", example.spec.rstrip("\n"), "```", "", f"gives `{example.result}`"
                      + (f", requires {'; '.join(f'`{c}`' for c in example.constraints)}" if example.constraints
                         else ""), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def templates_markdown() -> str:
    """docs/templates.md: every template of the spec library."""
    from vibench.compiler.library_index import template_names

    names = template_names()
    lines = ["# Template reference", "",
             "<!-- generated by scripts/reference_docs.py from the spec library (`make docs`); do not edit -->", "",
             "Every template of the spec library, with its parameters, interface and slots. The same text for "
             "one template: `vibench-compile --list NAME`.", ""]
    lines += [f"- [`{n}`](#{_anchor(n)})" for n in names]
    lines.append("")
    for name in names:
        doc = template_doc(name)
        lines += [f"## {name}", "", " ".join(doc.doc.split()) or "(no description)", ""]
        lines += [f"Interface at the defaults: `{doc.interface}`" if doc.interface
                  else f"Does not compile at its defaults ({doc.problem}).", ""]
        if doc.params:
            lines += [*_md_params(doc.params), ""]
        for param, folder, default, components in doc.slots:
            lines += [f"Slot `{param}` (a spec in `{folder}/`, default `{default}`): "
                      + ", ".join(f"`{c}`" for c in components), ""]
        lines += ["```yaml", template_example(doc).rstrip("\n"), "```", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _anchor(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch in "-_")


# --------------------------------------------------------------------------------------------


def _json(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _clip(text: str, limit: int = 80) -> str:
    flat = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return flat if len(flat) <= limit else flat[:limit] + "..."
