"""The block reference: ``vibench-compile --blocks NAME`` (see :mod:`vibench.compiler.reference_docs`).

A block's parameters come from its pydantic ``Params`` model, its ports and category from the class,
its shape rule in words from its docstring, and its example from a one-node spec built from the
block's own metadata (``test_layouts``/``test_ranks``, ``test_hints``, the parameters' types and
bounds) and checked by the compiler.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal

from vibench.compiler.reference_text import Example, ParamRow, UnknownName, _clip, _flow, _indent, _interface, _table

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block

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
        lines += [f"  {port}: layer.{port}" for port in block.outputs] or ["  y: layer.0"]  # numbered: the first
    return "\n".join(lines) + "\n"


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
