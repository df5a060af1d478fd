"""Spec text for test cases: the case records, YAML literals and one-node specs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.compiler.load_compose import MAX_DEPTH

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
    fill: int | float | None = None  # every element this value, not drawn (a system id must name a configured
    # system; a bool input takes True or False)
    positive: bool = False  # drawn positive (a sampling rate: Block.positive_inputs reads it)
    choices: tuple[int, ...] = ()  # every element drawn from these (the system ids a routing input may hold)


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
    """A spec of blocks in sequence (the first reads ``inputs``, each other the node before it);
    ``nodes`` pairs node names with blocks; ``crashes`` holds any spec text that made the compiler raise
    something other than a SpecError while the chain was grown (each a pair of the spec text and the
    exception's one-line description), as :class:`~vibench.testing.GraphCase` does."""

    text: str
    inputs: tuple[TensorCase, ...]
    nodes: tuple[tuple[str, str], ...]
    crashes: tuple[tuple[str, str], ...] = ()

    @property
    def bindings(self) -> dict[str, tuple[int, ...]]:
        return {t.name: t.dims for t in self.inputs}


# --------------------------------------------------------------------------------------------
# spec text
# --------------------------------------------------------------------------------------------


def yaml_value(value: Any) -> str:
    """A YAML flow literal that loads back as ``value`` (``yaml.safe_load`` and the compiler's loader
    alike; a tuple loads as a list). Floats always carry a '.', as YAML 1.1 wants; strings are
    double-quoted with every character outside printable ASCII escaped (``\\UXXXXXXXX`` above the
    BMP); mapping keys may be str, int, float, bool or None (one longer than :data:`MAX_SIMPLE_KEY`
    characters as written is an explicit ``? key : value``).

    A value is written as the plain value it holds, as the compiler reads parameter values given in
    Python (docs/api.md): a numpy scalar (``np.float32(0.25)``, ``np.int64(3)``, ``np.bool_(True)``) or
    a 0-d tensor as its ``.item()``, a subclass of int, float or str (``np.float64``, an ``IntEnum`` or a
    float ``Enum`` member) as the int, float or str it is, never its ``repr``.

    Raises ValueError for what no spec can hold (a non-finite float, a string with a lone surrogate, a
    list or dict that contains itself or nests deeper than the compiler reads,
    :data:`~vibench.compiler.load_compose.MAX_DEPTH` levels, two keys of a mapping that are written as the
    same YAML key, as ``torch.tensor(1)`` twice or ``1.0`` and ``torch.tensor(1)``) and TypeError for any
    other type (a set, bytes, a complex, a tuple as a key...).

    >>> yaml_value({"p": 16, "eps": 1e-05, "mode": "same", "dims": (0, 2, 1), "bias": None})
    '{"p": 16, "eps": 1.0e-05, "mode": "same", "dims": [0, 2, 1], "bias": null}'
    >>> print(yaml_value({1: "é", "b": "\\U0001d505\\n"}))
    {1: "\\u00e9", "b": "\\U0001d505\\n"}
    >>> import numpy as np
    >>> yaml_value([np.float64(0.5), np.float32(0.25), np.int64(3), np.bool_(True)])
    '[0.5, 0.25, 3, true]'
    """
    return _literal(value, [])


def _literal(value: Any, within: list[Any]) -> str:
    """:func:`yaml_value` of ``value``, a part of the containers ``within`` (outermost first)."""
    value = _plain(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot write the non-finite float {float(value)} into a spec")
        text = float.__repr__(value)  # (a subclass's repr is `np.float64(0.5)` or `<FE.A: 0.5>`)
        return text.replace("e", ".0e") if "." not in text else text
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):
        return _quoted(str.__str__(value))
    if not isinstance(value, (list, tuple, dict)):
        raise TypeError(f"cannot write {type(value).__name__} into a spec")
    # Refused before Python's recursion limit is: a value that contains itself, or one nested past what the
    # compiler reads (it refuses such a spec, E002), was a RecursionError.
    if any(value is outer for outer in within):
        raise ValueError(f"cannot write a {type(value).__name__} that contains itself into a spec (it would nest "
                         "without end)")
    if len(within) >= MAX_DEPTH:
        raise ValueError(f"cannot write a value nested deeper than {MAX_DEPTH} levels into a spec: the compiler "
                         "reads no deeper (E002)")
    within.append(value)
    try:
        if isinstance(value, dict):
            return "{" + ", ".join(_entries(value, within)) + "}"
        return "[" + ", ".join(_literal(v, within) for v in value) + "]"
    finally:
        within.pop()


def _entries(mapping: dict[Any, Any], within: list[Any]) -> list[str]:
    """The ``key: value`` entries of a mapping. Keys that Python holds apart but that load back as one key
    (two tensors holding 1, or ``torch.tensor(1.0)`` and ``1``: YAML reads ``1.0`` and ``1`` as equal keys) are a
    ValueError naming them: the spec would hold the key twice, which the compiler refuses (E005) and PyYAML
    reads as the last value alone."""
    seen: dict[Any, tuple[Any, Any]] = {}  # the key loaded back -> (the key given, that value)
    out = []
    for key, value in mapping.items():
        written = _key(key)
        plain = _plain(key)
        if plain in seen:
            first, first_plain = seen[plain]
            raise ValueError(f"cannot write the mapping keys {_shown(first)} and {_shown(key)} into one mapping of "
                             f"a spec: both load back as the key {_shown(first_plain)}, and a mapping holds each key "
                             "once")
        seen[plain] = (key, plain)
        out.append(_entry(written, _literal(value, within)))
    return out


def _shown(value: Any) -> str:
    """``repr(value)``, clipped: how a message names a value (a repr of 5,000 digits is refused by Python)."""
    try:
        return f"{value!r:.60}"
    except ValueError:
        return f"a {type(value).__name__}"


def _plain(value: Any) -> Any:
    """A numpy scalar or a 0-d tensor as the Python value it holds (``.item()``), as
    :func:`vibench.compiler.pipeline.python_values` reads a parameter value; anything else as it is.
    Neither numpy nor torch is imported: such a value is known by its type's module."""
    if type(value).__module__ in ("numpy", "torch") and getattr(value, "ndim", None) == 0 and hasattr(value, "item") \
            and not getattr(value, "is_meta", False):  # a meta tensor holds no value: the TypeError below
        return value.item()
    return value


MAX_SIMPLE_KEY = 1_000
"""Longest key written ``key: value``: YAML reads a simple key of at most 1,024 characters (PyYAML, and the
compiler's loader on top of it); a longer one is written as an explicit key, ``? key : value``."""


def _entry(key: str, value: str) -> str:
    return f"{key}: {value}" if len(key) <= MAX_SIMPLE_KEY else f"? {key} : {value}"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_NOT_PRINTABLE_ASCII = re.compile(r'[\\"]|[^ -~]')


def _quoted(text: str) -> str:
    """A double-quoted YAML scalar of ``text``: ASCII only, as ``json.dumps`` writes it below U+10000,
    but a character above as one ``\\UXXXXXXXX`` escape (YAML has no surrogate pairs)."""

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        code = ord(char)
        if char in _ESCAPES:
            return _ESCAPES[char]
        if 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"cannot write a lone surrogate (U+{code:04X}) into a spec: YAML has no such character")
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return '"' + _NOT_PRINTABLE_ASCII.sub(escape, text) + '"'


def _key(key: Any) -> str:
    key = _plain(key)
    if key is None or isinstance(key, (str, int, float)):  # bool is an int
        return yaml_value(key)
    raise TypeError(f"cannot write a {type(key).__name__} mapping key into a spec: keys are str, int, float, "
                    "bool or None")


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)?")  # `x`, or a node's port: `n0.0`
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _name(name: str) -> str:
    """A name (an input, a port reference, a parameter key, a dtype) as a spec writes it: plain where
    YAML reads that word back as the same string (not ``true``, ``null``...), else a quoted literal, so
    that a name holding ``: `` or ``}`` stays one name instead of adding entries to the spec. A subclass of
    str is written as the str it holds: an f-string would call its ``__format__`` (``SE.K`` for a member of
    ``class SE(str, Enum)``, whatever its value)."""
    name = str.__str__(name)
    if _PLAIN_NAME.fullmatch(name) and name.lower() not in _YAML_WORDS:
        return name
    return yaml_value(name)


def _inputs_text(inputs: tuple[TensorCase, ...]) -> list[str]:
    lines = ["inputs:"]
    for t in inputs:
        lines.append(f"  {_name(t.name)}: {{shape: {yaml_value(list(t.shape))}, dtype: {_name(t.dtype)}}}")
    return lines


def _in_text(block: Block, names: list[str]) -> str:
    if block.variadic:
        return yaml_value(names)
    if len(names) == 1 and len(block.inputs) == 1:
        return _name(names[0])
    return "{" + ", ".join(f"{port}: {_name(name)}" for port, name in zip(block.inputs, names, strict=False)) + "}"


def _node_text(node: str, block_name: str, params: dict[str, Any], inputs: list[str], repeat: int | None = None) -> str:
    block = block_of(block_name)
    items = [f"block: {_name(block_name)}", f"in: {_in_text(block, inputs)}"]
    if repeat is not None:
        items.append(f"repeat: {repeat}")
    items += [f"{_name(key)}: {yaml_value(value)}" for key, value in params.items()]
    return f"  {node}: {{{', '.join(items)}}}"


def output_ref(block: str, node: str) -> str:
    """How a spec reads the default output of ``node``, a node of ``block``: the bare name (its first
    named output), or ``node.0`` for a block of numbered outputs (chunk, split), whose bare name is E405
    when it makes several pieces."""
    known = registry.get(block)
    return f"{node}.0" if known is not None and not known.outputs else node


def one_node_spec(block: str, params: dict[str, Any], inputs: tuple[TensorCase, ...],
                  outputs: tuple[str, ...] | None = None, repeat: int | None = None) -> str:
    """The text of a spec with one node (named :data:`NODE`) of ``block`` reading ``inputs``.

    ``inputs`` are in the block's port order (the positional order of ``in:``); ``outputs`` names
    the ports to return (``y_<port>`` each), or None for the node's default output ``y`` (the first
    named output, or ``layer.0`` of numbered ones);
    ``repeat`` chains that many copies of the node. Names (inputs, parameter keys, dtypes) that are no
    plain word are written quoted, so each stays one name; an argument of another kind is a TypeError
    (``params`` a list, an input that is no TensorCase), a port of ``outputs`` that is no word a ValueError.

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
    _check_node_arguments(block, params, inputs, outputs, repeat)
    lines = ["vibench: 1", "name: BlockCase", *_inputs_text(inputs), "nodes:",
             _node_text(NODE, block, params, [t.name for t in inputs], repeat), "outputs:"]
    if outputs is None:
        lines.append(f"  y: {output_ref(block, NODE)}")
    else:
        lines += [f"  y_{port}: {NODE}.{port}" for port in map(str.__str__, outputs)]  # (a str subclass's format)
    return "\n".join(lines) + "\n"


_PORT = re.compile(r"[A-Za-z0-9_]+")


def _check_node_arguments(block: Any, params: Any, inputs: Any, outputs: Any, repeat: Any) -> None:
    """TypeError or ValueError naming the argument of :func:`one_node_spec` (or the field of a
    :class:`BlockCase`) that no spec can hold, before any text is written."""
    block_of(block)
    if not isinstance(params, dict):
        raise TypeError(f"params is a dict of parameter name -> value such as {{'out_features': 3}}, not "
                        f"{type(params).__name__}")
    for key in params:
        if not isinstance(key, str) or not key:
            raise TypeError(f"params: a parameter name is a non-empty str, not {key!r:.60}")
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (tuple, list)):
        raise TypeError(f"inputs is a tuple of vibench.testing.TensorCase, not {type(inputs).__name__}")
    for k, t in enumerate(inputs):
        if not isinstance(t, TensorCase):
            raise TypeError(f"inputs[{k}] is a vibench.testing.TensorCase, not {type(t).__name__}")
        for what, value in (("name", t.name), ("dtype", t.dtype)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"inputs[{k}]: the {what} is a non-empty str, not {value!r:.60}")
    if outputs is not None:
        if isinstance(outputs, (str, bytes)) or not isinstance(outputs, (tuple, list)):
            hint = f": write ({outputs!r:.40},)" if isinstance(outputs, str) else ""
            raise TypeError(f"outputs is a tuple of port names (None: the default output), not "
                            f"{type(outputs).__name__}{hint}")
        for port in outputs:
            if not (isinstance(port, str) and _PORT.fullmatch(port)):
                raise ValueError(f"outputs: a port name is letters, digits and _ ('0', 'mean'), not {port!r:.60}")
    if repeat is not None and (isinstance(repeat, bool) or not isinstance(repeat, int)):
        raise TypeError(f"repeat is an int (None: no repeat), not {type(repeat).__name__}")


class UnknownBlockError(KeyError, ValueError):
    """A block name that the registry does not hold: an argument of the wrong value (a ValueError),
    and a KeyError as well, as it was before it said what the name may have meant."""

    def __str__(self) -> str:  # the message as written, not KeyError's quoted repr
        return str(self.args[0])


def block_of(name: str) -> Block:
    """The registered block ``name``: TypeError for a name that is not a str, :class:`UnknownBlockError`
    (a ValueError and a KeyError) when there is none, with the name it may have meant and why a
    plug-in block of that name was refused, if one was (see
    :func:`vibench.compiler.registry.unknown_block_notes`).

    >>> from vibench.testing.specs import block_of
    >>> block_of("reluu")
    Traceback (most recent call last):
    vibench.testing.specs.UnknownBlockError: unknown block `reluu`; did you mean `relu`?
    """
    from vibench.compiler.diagnostics import clip, suggest

    if not isinstance(name, str):
        raise TypeError(f"a block name is a str, not {type(name).__name__} ({name!r:.40})")
    block = registry.get(name)
    if block is None:
        notes = [*registry.unknown_block_notes(name),
                 suggest(name, registry.all_blocks()) or "`vibench-compile --blocks` lists the catalogue"]
        raise UnknownBlockError(f"unknown block `{clip(name, 60)}`" + "".join(f"; {note}" for note in notes))
    return block
