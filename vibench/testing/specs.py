"""Spec text for test cases: the case records, YAML literals and one-node specs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block

NODE = "layer"
"""The node name of every :func:`one_node_spec`."""

@dataclass(frozen=True)
class TensorCase:
    """One input tensor: its spec name, its declared shape (symbols or ints), its sizes and dtype."""

    name: str
    shape: tuple[str | int, ...]
    dims: tuple[int, ...]
    dtype: str = "float32"
    fill: int | None = None  # every element this value (an id that must name a configured system), not drawn


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



def block_of(name: str) -> Block:
    """The registered block ``name`` (KeyError when there is none)."""
    block = registry.get(name)
    if block is None:
        raise KeyError(f"unknown block `{name}`")
    return block
