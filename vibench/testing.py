"""Hypothesis strategies for vibench specs, driven by the block registry.

Everything a strategy needs comes from what a block declares — its pydantic parameter model
(types, bounds, defaults), ``test_ranks``, ``test_dtypes``, ``test_layouts`` and ``test_hints``
(see :class:`vibench.compiler.blocks.base.Block`) — so a new block, built-in or plugin, is covered
without a line here. Draws are *plausible*, not guaranteed valid: compile them with
:func:`compile_case`, which rejects (``hypothesis.reject``) the ones the compiler refuses.

* :func:`block_params` — parameter values for one block;
* :func:`block_cases` — one node of a block on small inputs (a :class:`BlockCase`);
* :func:`chain_specs` — small valid specs of several blocks in sequence (a :class:`ChainCase`);
* :func:`one_node_spec` — the spec text of one node; :func:`random_inputs` — tensors for a case.

Input shapes use symbols whose name sets their range: ``B`` is a batch (1..4), ``L`` and ``S`` are
sequence lengths (1..32, often a power of two), any other symbol is a width (1..8, sometimes 12 or
16); integers in a layout are fixed sizes. Each symbol is declared either as a symbol (bound through
``inputs=``) or as its number, so shape rules meet both free and compile-time dimensions.
hypothesis (and torch, for :func:`random_inputs`) are imported only when a function here is
called, so importing this module costs nothing::

    from hypothesis import given
    from vibench.testing import block_cases, compile_case

    @given(block_cases("conv1d"))
    def test_conv(case):
        case, program = compile_case(case)
        assert program.root.node("layer").outputs
"""

from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from vibench.compiler import registry

if TYPE_CHECKING:
    import torch
    from hypothesis.strategies import SearchStrategy
    from pydantic.fields import FieldInfo

    from vibench.compiler.blocks.base import Block
    from vibench.compiler.ir import Program

NODE = "layer"
"""The node name of every :func:`one_node_spec`."""

_RANK_LAYOUTS = {1: ("L",), 2: ("B", "C"), 3: ("B", "C", "L"), 4: ("B", "C", "H", "L")}
_OMIT = object()  # "leave this parameter at its default"


@dataclass(frozen=True)
class TensorCase:
    """One input tensor: its spec name, its declared shape (symbols or ints), its sizes and dtype."""

    name: str
    shape: tuple[str | int, ...]
    dims: tuple[int, ...]
    dtype: str = "float32"


@dataclass(frozen=True)
class BlockCase:
    """One node of ``block`` with ``params`` on ``inputs``; ``outputs`` lists the ports the spec
    returns (None: the node's default output)."""

    block: str
    params: dict[str, Any]
    inputs: tuple[TensorCase, ...]
    outputs: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        return one_node_spec(self.block, self.params, self.inputs, self.outputs)

    @property
    def bindings(self) -> dict[str, tuple[int, ...]]:
        """The concrete input shapes, as ``vibench.check(inputs=...)`` takes them."""
        return {t.name: t.dims for t in self.inputs}


@dataclass(frozen=True)
class ChainCase:
    """A spec of blocks in sequence on one input ``x``; ``nodes`` pairs node names with blocks."""

    text: str
    inputs: tuple[TensorCase, ...]
    nodes: tuple[tuple[str, str], ...]

    @property
    def bindings(self) -> dict[str, tuple[int, ...]]:
        return {t.name: t.dims for t in self.inputs}


# --------------------------------------------------------------------------------------------
# spec text
# --------------------------------------------------------------------------------------------


def yaml_value(value: Any) -> str:
    """A YAML flow literal that loads back as ``value`` (floats always carry a '.', as YAML 1.1 wants).

    >>> yaml_value({"p": 16, "eps": 1e-05, "mode": "same", "dims": (0, 2, 1), "bias": None})
    '{"p": 16, "eps": 1.0e-05, "mode": "same", "dims": [0, 2, 1], "bias": null}'
    """
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot write the non-finite float {value} into a spec")
        text = repr(value)
        return text.replace("e", ".0e") if "." not in text else text
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {yaml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} into a spec")


def _inputs_text(inputs: tuple[TensorCase, ...]) -> list[str]:
    lines = ["inputs:"]
    for t in inputs:
        lines.append(f"  {t.name}: {{shape: {yaml_value(list(t.shape))}, dtype: {t.dtype}}}")
    return lines


def _in_text(block: Block, names: list[str]) -> str:
    if block.variadic:
        return yaml_value(names)
    if len(names) == 1 and len(block.inputs) == 1:
        return names[0]
    return "{" + ", ".join(f"{port}: {name}" for port, name in zip(block.inputs, names, strict=False)) + "}"


def _node_text(node: str, block_name: str, params: dict[str, Any], inputs: list[str], repeat: int | None = None) -> str:
    block = registry.get(block_name)
    if block is None:
        raise KeyError(f"unknown block `{block_name}`")
    items = [f"block: {block_name}", f"in: {_in_text(block, inputs)}"]
    if repeat is not None:
        items.append(f"repeat: {repeat}")
    items += [f"{key}: {yaml_value(value)}" for key, value in params.items()]
    return f"  {node}: {{{', '.join(items)}}}"


def one_node_spec(block: str, params: dict[str, Any], inputs: tuple[TensorCase, ...],
                  outputs: tuple[str, ...] | None = None, repeat: int | None = None) -> str:
    """The text of a spec with one node (named :data:`NODE`) of ``block`` reading ``inputs``.

    ``inputs`` are in the block's port order (the positional order of ``in:``); ``outputs`` names
    the ports to return (``y_<port>`` each), or None for the node's default output ``y``;
    ``repeat`` chains that many copies of the node.

    >>> print(one_node_spec("linear", {"out_features": 3}, (TensorCase("x", ("B", 8), (2, 8)),)))
    vibench: 1
    name: BlockCase
    inputs:
      x: {shape: ["B", 8], dtype: float32}
    nodes:
      layer: {block: linear, in: x, out_features: 3}
    outputs:
      y: layer
    <BLANKLINE>
    """
    lines = ["vibench: 1", "name: BlockCase", *_inputs_text(inputs), "nodes:",
             _node_text(NODE, block, params, [t.name for t in inputs], repeat), "outputs:"]
    if outputs is None:
        lines.append(f"  y: {NODE}")
    else:
        lines += [f"  y_{port}: {NODE}.{port}" for port in outputs]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low excluded, high excluded) from annotated-types constraints (Ge, Gt, Le, Lt)."""
    lo = hi = None
    open_lo = open_hi = False
    for m in metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, open_lo = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
        if getattr(m, "lt", None) is not None:
            hi, open_hi = m.lt, True
    return lo, hi, open_lo, open_hi


def _int_strategy(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool) -> SearchStrategy[int]:
    import hypothesis.strategies as st

    if lo is None and hi is None:
        return st.integers(-4, 4)  # axis-like: dims, offsets
    low = int(lo) + (1 if open_lo else 0) if lo is not None else int(hi) - 8  # type: ignore[arg-type]
    high = int(hi) - (1 if open_hi else 0) if hi is not None else low + 7
    small = st.integers(low, min(high, low + 7))
    larger = [v for v in (16, 32, 64) if low <= v <= high]
    return st.one_of(small, st.sampled_from(larger)) if larger else small


def _float_strategy(lo: float | None, hi: float | None, open_lo: bool, open_hi: bool) -> SearchStrategy[float]:
    import hypothesis.strategies as st

    low = float(lo) if lo is not None else (float(hi) - 2 if hi is not None else -1.0)
    high = float(hi) if hi is not None else low + (1.0 if lo is not None else 2.0)
    # A grid of 20 steps keeps the emitted literals short (0.35, not 0.3498713...).
    first, last = (1 if open_lo else 0), (19 if open_hi else 20)
    return st.integers(first, last).map(lambda k: round(low + (high - low) * k / 20, 6))


def _type_strategy(tp: Any, metadata: list[Any]) -> SearchStrategy[Any]:
    """Values of type ``tp`` within the bounds in ``metadata`` (the field's, or an ``Annotated`` member's)."""
    import hypothesis.strategies as st

    origin = typing.get_origin(tp)
    if origin is Annotated:
        inner, *extra = typing.get_args(tp)
        return _type_strategy(inner, [c for m in extra for c in getattr(m, "metadata", [m])])
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_type_strategy(arg, metadata) for arg in typing.get_args(tp)])
    if origin is Literal:
        return st.sampled_from(typing.get_args(tp))
    if tp is type(None):
        return st.none()
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _int_strategy(*_bounds(metadata))
    if tp is float:
        return _float_strategy(*_bounds(metadata))
    if tp is str:
        return st.text(alphabet="abc ", min_size=1, max_size=6)
    if origin in (tuple, list):
        args = typing.get_args(tp)
        element = _type_strategy(args[0], metadata) if args else st.integers(-2, 8)
        values = st.lists(element, min_size=1, max_size=4)
        return values.map(tuple) if origin is tuple else values
    if origin is dict:
        key_type, value_type = typing.get_args(tp)
        return st.dictionaries(st.sampled_from("abcd"), _type_strategy(value_type, metadata), max_size=2)
    raise TypeError(f"no strategy for parameter type {tp!r}; give the block `test_hints` for it")


def _inferred(info: FieldInfo) -> bool:
    """A field the shape rule fills in from the input (the catalogue's convention: default None and
    "(inferred" in the description). Drawing it would mostly contradict the input, so it is left out."""
    return info.default is None and "(inferred" in (info.description or "")


def block_params(name: str) -> SearchStrategy[dict[str, Any]]:
    """Parameter values for block ``name``: hinted choices, else drawn from each field's type and
    bounds; optional fields are sometimes left out, inferred fields always are."""
    import hypothesis.strategies as st

    block = _block(name)
    hints = block.test_hints
    hinted: set[str] = set()
    parts: list[SearchStrategy[dict[str, Any]]] = []
    for key, choices in hints.items():
        keys = key if isinstance(key, tuple) else (key,)
        hinted.update(keys)
        pick = st.sampled_from(choices) if isinstance(key, tuple) else st.sampled_from(choices).map(_one)
        parts.append(pick.map(functools.partial(_named, keys)))
    for field, info in block.Params.model_fields.items():
        if field in hinted or _inferred(info):
            continue
        value = _type_strategy(info.annotation, list(info.metadata))
        if not info.is_required():
            value = st.one_of(st.just(_OMIT), value)
        parts.append(value.map(functools.partial(_named_unless_omitted, field)))
    order = list(block.Params.model_fields)

    def merge(dicts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        merged = {k: v for d in dicts for k, v in d.items()}
        return {k: merged[k] for k in sorted(merged, key=order.index)}

    return st.tuples(*parts).map(merge)


def _one(value: Any) -> tuple[Any]:
    return (value,)


def _named(keys: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(keys, values, strict=True))


def _named_unless_omitted(field: str, value: Any) -> dict[str, Any]:
    return {} if value is _OMIT else {field: value}


# --------------------------------------------------------------------------------------------
# inputs and cases
# --------------------------------------------------------------------------------------------


def _symbol_sizes(symbol: str) -> SearchStrategy[int]:
    import hypothesis.strategies as st

    if symbol == "B":
        return st.integers(1, 4)
    if symbol in ("L", "S"):
        return st.one_of(st.sampled_from([4, 8, 16, 32]), st.integers(1, 32))
    return st.one_of(st.integers(1, 8), st.sampled_from([12, 16]))


def _layouts(block: Block) -> SearchStrategy[tuple[tuple[str | int, ...], ...]]:
    """Declared shapes per input: the block's ``test_layouts``, else one rank-r layout shared by all
    required inputs."""
    import hypothesis.strategies as st

    if block.test_layouts:
        return st.sampled_from([tuple(tuple(_dim(d) for d in layout.split()) for layout in alt)
                                for alt in block.test_layouts])

    def layout(rank: int) -> tuple[str | int, ...]:
        return _RANK_LAYOUTS.get(rank) or ("B",) + tuple(f"D{k}" for k in range(1, rank))

    if block.variadic:
        count = st.integers(block.min_inputs, block.min_inputs + 1)
    else:
        count = st.just(len(block.inputs) - len(block.optional_inputs))
    return st.tuples(st.sampled_from(block.test_ranks), count).map(lambda rc: (layout(rc[0]),) * rc[1])


def _dim(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _port_names(block: Block, count: int) -> list[str]:
    if block.variadic:
        return [f"{block.inputs[0]}{k}" for k in range(count)]
    return list(block.inputs[:count])


def _tensors(draw: Any, block: Block) -> tuple[TensorCase, ...]:
    import hypothesis.strategies as st

    layouts = draw(_layouts(block))
    symbols = sorted({d for layout in layouts for d in layout if isinstance(d, str)})
    sizes = {s: draw(_symbol_sizes(s)) for s in symbols}
    # Some symbols are written as their number: rules see both free and compile-time dimensions.
    fixed = {s for s in symbols if draw(st.booleans())}
    dtype = draw(st.sampled_from(block.test_dtypes))
    names = _port_names(block, len(layouts))
    out = []
    for name, layout in zip(names, layouts, strict=True):
        shape = tuple(sizes[d] if d in fixed else d for d in layout)
        out.append(TensorCase(name, shape, tuple(sizes[d] if isinstance(d, str) else d for d in layout), dtype))
    return tuple(out)


def block_cases(name: str) -> SearchStrategy[BlockCase]:
    """One node of block ``name`` on small inputs (not yet compiled: see :func:`compile_case`)."""
    import hypothesis.strategies as st

    block = _block(name)

    @st.composite
    def cases(draw: Any) -> BlockCase:
        return BlockCase(name, draw(block_params(name)), _tensors(draw, block))

    return cases()


def compile_case(case: BlockCase) -> tuple[BlockCase, Program]:
    """Compile a case with its concrete input shapes; ``hypothesis.reject()`` when the compiler refuses
    it. A multi-output node is compiled again with every port as an output (returned case)."""
    import hypothesis

    from vibench.api import check
    from vibench.compiler.diagnostics import SpecError

    try:
        program = check(text=case.text, inputs=case.bindings)
        ports = tuple(port for port, _ in program.root.node(NODE).outputs)
        if case.outputs is None and len(ports) > 1:
            case = replace(case, outputs=ports)
            program = check(text=case.text, inputs=case.bindings)
    except SpecError:
        hypothesis.reject()
    return case, program


def random_inputs(inputs: tuple[TensorCase, ...], seed: int = 0) -> list[torch.Tensor]:
    """Random tensors of the given sizes and dtypes (integers and bools in {0, 1})."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    out = []
    for t in inputs:
        dtype = getattr(torch, t.dtype)
        if dtype.is_floating_point or dtype.is_complex:
            out.append(torch.randn(t.dims, generator=generator, dtype=dtype))
        else:
            out.append(torch.randint(0, 2, t.dims, generator=generator).to(dtype))
    return out


# --------------------------------------------------------------------------------------------
# chains
# --------------------------------------------------------------------------------------------


def chain_specs(max_nodes: int = 4, blocks: list[str] | None = None, tries: int = 6) -> SearchStrategy[ChainCase]:
    """Small valid specs: an input ``x`` and up to ``max_nodes`` blocks, each reading the previous one.

    Each step draws a block whose ``test_ranks`` and ``test_dtypes`` admit the current value, then
    its parameters, and keeps the node only if the spec still compiles (up to ``tries`` draws per
    step). A block with several required inputs reads the previous value on each of them.
    """
    import hypothesis
    import hypothesis.strategies as st

    from vibench.api import check
    from vibench.compiler.diagnostics import SpecError

    names = blocks if blocks is not None else list(registry.all_blocks())

    @st.composite
    def chains(draw: Any) -> ChainCase:
        rank = draw(st.sampled_from([2, 3]))
        layout = _RANK_LAYOUTS[rank]
        x = TensorCase("x", layout, tuple(draw(_symbol_sizes(s)) for s in layout))
        lines: list[str] = []
        nodes: list[tuple[str, str]] = []
        current, rank, dtype = "x", len(layout), x.dtype
        for k in range(draw(st.integers(1, max_nodes))):
            fitting = [n for n in names if rank in _block(n).test_ranks and dtype in _block(n).test_dtypes]
            if not fitting:
                break
            for _ in range(tries):
                name = draw(st.sampled_from(fitting))
                block = _block(name)
                count = block.min_inputs if block.variadic else len(block.inputs) - len(block.optional_inputs)
                line = _node_text(f"n{k}", name, draw(block_params(name)), [current] * count)
                text = _chain_text(x, lines + [line], f"n{k}")
                try:
                    program = check(text=text, inputs={"x": x.dims})
                except SpecError:
                    continue
                out = program.root.node(f"n{k}").outputs[0][1]
                lines.append(line)
                nodes.append((f"n{k}", name))
                current, rank, dtype = f"n{k}", len(out.shape), out.dtype
                break
            else:
                break
        if not nodes:
            hypothesis.reject()
        return ChainCase(_chain_text(x, lines, current), (x,), tuple(nodes))

    return chains()


def _chain_text(x: TensorCase, node_lines: list[str], last: str) -> str:
    lines = ["vibench: 1", "name: ChainCase", *_inputs_text((x,)), "nodes:", *node_lines, "outputs:", f"  y: {last}"]
    return "\n".join(lines) + "\n"


def _block(name: str) -> Block:
    block = registry.get(name)
    if block is None:
        raise KeyError(f"unknown block `{name}`")
    return block
