"""The pieces of :mod:`vibench.testing.graphs`: the values, nodes and units a generated spec is grown
from, the checks of what a block's port can read (moved out of ``graphs.py``), and the language
features a finished spec uses."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.testing.params import block_params
from vibench.testing.specs import yaml_value

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from vibench.compiler.blocks.base import Block

# Variadic blocks that can take a for_each node's whole list of values.
_LIST_CONSUMERS = ("concat", "add", "mul", "ensemble_fusion")


@dataclass
class _Value:
    ref: str  # how a node reads it: "x0", "n3", "n3.h_n", "n4.1"
    node: str  # the producing node (or input) name
    dims: tuple[int, ...]
    dtype: str
    symbols: tuple[str | None, ...]  # per dim: the symbol name when the static dim is a bare symbol


@dataclass
class _Node:
    name: str
    block: str
    ins: list[str] | str  # refs in port order, or one ref to a whole for_each list
    params: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # repeat, when, for_each

    def line(self, indent: str) -> str:
        block = registry.get(self.block)
        if isinstance(self.ins, str):
            in_text = self.ins
        elif block is None or (len(self.ins) == 1 and len(block.inputs) == 1 and not block.variadic):
            in_text = self.ins[0] if len(self.ins) == 1 else "[" + ", ".join(self.ins) + "]"
        elif block.variadic:
            in_text = "[" + ", ".join(self.ins) + "]"
        else:
            in_text = "{" + ", ".join(f"{port}: {ref}" for port, ref in zip(block.inputs, self.ins, strict=False)) + "}"
        items = [f"block: {yaml_value(self.block)}", f"in: {in_text}"]
        items += [f"{key}: {yaml_value(value)}" for key, value in self.extra.items()]
        items += [f"{key}: {yaml_value(value)}" for key, value in self.params.items()]
        return f"{indent}{self.name}: {{{', '.join(items)}}}"


@dataclass
class _Unit:
    """The model or one local composite block under construction."""

    name: str
    nodes: list[_Node] = field(default_factory=list)
    pool: list[_Value] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    input_shape: tuple[str | int, ...] = ()  # composites: the declared shape of their one input `x`
    input_dtype: str = "float32"
    input_dims: tuple[int, ...] = ()
    used_by: str = ""  # composites: the root node that checks the body while it grows

    def consumed(self) -> set[str]:
        used: set[str] = set()
        for node in self.nodes:
            for ref in [node.ins] if isinstance(node.ins, str) else node.ins:
                used.add(ref.split(".")[0])
        return used

    def sinks(self) -> list[str]:
        used = self.consumed()
        return [n.name for n in self.nodes if n.name not in used]

    def sink_refs(self) -> list[str]:
        """What an output reads of each sink: the node's name where that is one value, every copy of a
        ``for_each`` node (``{from: n.*}``; a later such sink its first copy), the first of numbered outputs
        (``n.0``: a bare name of several numbered outputs is E405)."""
        refs = []
        starred = False  # one `{from: n.*}` only: its outputs are named by copy (`0`, `1`), a second would clash
        for name in self.sinks():
            node = next(n for n in self.nodes if n.name == name)
            ports = [v.ref for v in self.pool if v.node == name]
            if "for_each" in node.extra and not starred:
                refs.append(f"{{from: {name}.*}}")
                starred = True
            elif "for_each" in node.extra:
                refs.append(f"{name}.0")
            elif name in ports or not ports:
                refs.append(name)
            else:
                refs.append(ports[0])
        return refs


def _features(root: _Unit, composites: dict[str, _Unit], inputs: int) -> set[str]:
    """The language features of the spec these units write (``inputs`` model inputs), read off the spec
    itself: a step that added one and then went back (an input made for a node that did not fit) leaves no
    trace. A node that ``repeat: 0`` or ``when`` switches off still writes what it uses."""
    nodes = [node for unit in (root, *composites.values()) for node in unit.nodes]
    found = {"several_inputs"} if inputs > 1 else set()
    for node in nodes:
        block = registry.get(node.block)
        if not isinstance(node.ins, str) and len(node.ins) > 1:
            found.add("multi_input")
        if block is not None and len(block.outputs) != 1:
            found.add("multi_output")
        if "repeat" in node.extra:  # `${3 + i}`: a parameter varies with the copy
            indexed = any(isinstance(v, str) and v.endswith(" + i}") for v in node.params.values())
            found.add("repeat_index" if indexed else "repeat")
        found.update(key for key in ("when", "for_each") if key in node.extra)
        if isinstance(node.ins, str):  # one reference to a for_each node's whole list
            found.add("for_each_list")
    if composites:
        found.add("composite")
    if any(unit.params for unit in composites.values()):
        found.add("composite_param")
    if sum(node.block in composites for node in nodes) > len(composites):  # each is made with one use
        found.add("composite_reuse")
    if any(node.block in composites for unit in composites.values() for node in unit.nodes):
        found.add("nested_composite")
    return found


@functools.cache
def _params(name: str) -> SearchStrategy[dict[str, Any]]:
    return block_params(name)


def _layout(text: str) -> tuple[str | int, ...]:
    return tuple(int(d) if d.isdigit() else d for d in text.split())


def _fits(v: _Value, layout: tuple[str | int, ...], bound: dict[str, int], dtypes: tuple[str, ...]) -> bool:
    """Whether value ``v`` can stand for ``layout`` (rank, dtype, fixed sizes, symbols already bound)."""
    if len(v.dims) != len(layout) or v.dtype not in dtypes:
        return False
    for d, size in zip(layout, v.dims, strict=True):
        if isinstance(d, int):
            if d != size:
                return False
        elif d in bound and bound[d] != size:
            return False
    return True


def _reads(block: Block, v: _Value) -> bool:
    """Whether the first port of ``block`` is drawn with values like ``v`` (its test layouts, ranks, dtypes)."""
    if v.dtype not in block.test_dtypes:
        return False
    if block.test_layouts:
        return any(_fits(v, _layout(alt[0]), {}, block.test_dtypes) for alt in block.test_layouts)
    return len(v.dims) in block.test_ranks
