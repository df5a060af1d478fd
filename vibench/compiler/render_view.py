"""The view every ``--graph`` picture draws (:mod:`vibench.compiler.render` writes it in each format): the
program's nodes as boxes, its inputs and outputs as ovals, and each composite node either as one box or,
expanded, as a group holding its body (each copy of a ``repeat`` or ``for_each`` a group of its own, named
``path.k`` as model.py's state_dict keys are), down to ``depth`` levels.

Every text a picture shows is bounded here, once for all formats: a ``doc:`` by :func:`tooltip`, a shape, a
name or a block by :func:`label`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from vibench.compiler.diagnostics import display_width
from vibench.compiler.ir import Node, Program, TensorType, Unit, ValueRef
from vibench.compiler.symbolic import Dim, bound, fmt_dim, fmt_shape, free_symbols, subs

MAX_DOC = 500
"""Characters of a ``doc:`` a picture shows (a tooltip): a longer one is clipped, so that a long doc in a
``repeat`` body, drawn once per copy, cannot grow the picture beyond its boxes (docs/cli.md)."""

MAX_DOC_BYTES = 1_000
"""Bytes those characters may take as a picture writes them: 500 ``<`` were 3,000 bytes escaped (``\\u003c``)
in each copy (a 2.7 kB spec with ``repeat: 30000`` wrote a 192 MB page), so markup and wide characters count
for more."""

_ESCAPED = frozenset("\"&'<>\\")  # what some format writes as an entity or escape of up to 6 bytes

MAX_LABEL = 200
"""Terminal columns (and characters) of a shape, name or block a picture shows, as --summary's cells
(report.MAX_CELL): a length pooled and joined through 11 layers has an 18,000-character shape, which Graphviz
refuses (a DOT string holds at most 16,384) and which every copy of a repeat carried on each of its edges."""


@lru_cache(maxsize=64)  # a repeat's copies share their docs: each is measured once
def tooltip(doc: str | None) -> str:
    """``doc`` as a picture's tooltip shows it: at most :data:`MAX_DOC` characters and :data:`MAX_DOC_BYTES`
    bytes as written, then how many characters were left out.

    >>> tooltip("x" * 600)[-28:], tooltip("<" * 600)[-29:]
    ('xxx... (100 more characters)', '<<<<... (434 more characters)')
    """
    text = doc or ""
    cut = size = 0
    for ch in text[:MAX_DOC]:
        size += _written(ch)
        if size > MAX_DOC_BYTES:
            break
        cut += 1
    if cut == len(text):
        return text
    more = len(text) - cut
    return text[:cut] + f"... ({more:,} more character{'s' if more > 1 else ''})"


def _written(ch: str) -> int:
    """The most bytes a picture writes for ``ch``: escaped (``&quot;``, ``\\u003c``, ``\\u202e``) or in UTF-8."""
    if " " <= ch <= "~":
        return 6 if ch in _ESCAPED else 1
    return len(ch.encode()) if ch.isprintable() else 6  # not printable (a lone surrogate too): an escape


def label(text: str) -> str:
    """``text`` cut to :data:`MAX_LABEL` columns, ending ``...`` (by characters too: marks take no column).

    >>> len(label("[B, " + "L + " * 100 + "L]")), label("[B, 4, L]")
    (200, '[B, 4, L]')
    """
    if len(text) <= MAX_LABEL and display_width(text) <= MAX_LABEL:
        return text
    cut = text[:MAX_LABEL - 3]
    while display_width(cut) > MAX_LABEL - 3:
        cut = cut[:-1]
    return cut + "..."


@dataclass
class Item:
    """A box (``node``, ``input``, ``output``, ``port``: a composite's input inside its group) or a
    ``group`` (an expanded composite, or one copy of it) holding ``children``."""

    id: str
    kind: str
    name: str
    detail: str = ""  # the block (and xN for repeats)
    doc: str = ""
    level: int = 0  # composite nesting: 0 for the model's own nodes
    children: list[Item] = field(default_factory=list)
    open: bool = False  # a group the picture at --depth draws expanded (the .html page opens it at first)


class Edge(NamedTuple):
    source: str  # box id
    target: str
    shape: str
    wire: int  # the node input (or model output) it carries: the edges that feed one input into every copy
    # of a composite share it, and are one edge while the composite is drawn as a box


@dataclass
class View:
    title: str
    items: list[Item]
    edges: list[Edge]


def view(program: Program, depth: int, opened: int | None = None) -> View:
    """The picture of ``program`` with composites expanded ``depth`` levels deep (0: none), those within
    ``opened`` levels (default: all) marked :attr:`Item.open`."""
    builder = _Builder(depth, depth if opened is None else opened, dict(program.bindings))
    items, _ = builder.unit(program.root, "", 0, None)
    return View(label(program.root.name), items, builder.edges)


Feeds = dict[str, tuple[str, str, int]]  # a body's input -> (outer box, shape, wire) that feeds it
Producers = dict[tuple[str, str | None], str]  # value -> the box that produces it


class _Builder:
    def __init__(self, depth: int, opened: int, env: dict[str, int]) -> None:
        self.depth = depth
        self.opened = opened
        self.env = env
        self.edges: list[Edge] = []
        self.count = 0
        self.wires = 0
        self.texts: dict[tuple[tuple[Dim, ...], tuple[tuple[str, Dim], ...]], str] = {}

    def new_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def new_wire(self) -> int:
        self.wires += 1
        return self.wires

    def shape(self, shape: tuple[Dim, ...], mapping: dict[str, Dim]) -> str:
        # each shape put in the model's terms once: the copies of a repeat (and the nodes of a body that keep
        # their input's shape) repeat their formulas, 20,000 edges of an 18,000-character one took 11 s
        key = (shape, tuple(mapping.items()))
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = label(fmt_shape(outer_shape(shape, mapping, self.env)))
        return text

    def unit(self, unit: Unit, path: str, level: int, feeds: Feeds | None,
             mapping: dict[str, Dim] | None = None) -> tuple[list[Item], Producers]:
        """Items of ``unit``; ``feeds``: what feeds each input inside a composite; ``mapping``: the body's
        symbols in the model's terms. Returns the items and where each value is produced."""
        mapping = mapping or {}
        items: list[Item] = []
        producers: Producers = {}
        shapes: dict[tuple[str, str | None], str] = {}
        types = value_types(unit)
        for name, t in unit.inputs:
            item = Item(self.new_id(), "port" if level else "input", label(name), doc=_input_doc(unit, name),
                        level=level)
            items.append(item)
            producers[(name, None)] = item.id
            shapes[(name, None)] = self.shape(t.shape, mapping)
            if feeds is not None and name in feeds:
                source, shape, wire = feeds[name]
                self.edges.append(Edge(source, item.id, shape, wire))
        for node in unit.nodes:
            for port, t in node.outputs:
                shapes[(node.name, port)] = self.shape(t.shape, mapping)
            shapes[(node.name, None)] = shapes[(node.name, node.outputs[0][0])] if node.outputs else ""
            inner = body_mappings(node, mapping, types) if node.kind == "composite" and level < self.depth else []
            item, outs = self.node(node, f"{path}{node.name}", level, producers, shapes, mapping, inner)
            items.append(item)
            producers.update(outs)
        for name, ref, t in unit.outputs:
            if level:
                producers[("@out", name)] = producers[_key(ref)]
                continue
            item = Item(self.new_id(), "output", label(name), doc=_output_doc(unit, name))
            items.append(item)
            self.edges.append(Edge(producers[_key(ref)], item.id, self.shape(t.shape, mapping), self.new_wire()))
        return items, producers

    def node(self, node: Node, path: str, level: int, producers: Producers,
             shapes: dict[tuple[str, str | None], str], mapping: dict[str, Dim],
             mappings: list[dict[str, Dim]]) -> tuple[Item, Producers]:
        block = label(block_label(node))
        # one wire per input; a list input (`add`'s) gives several under one port name
        inputs = [(port, (producers[_key(ref)], shapes[_key(ref)], self.new_wire())) for port, ref in node.inputs]
        units = [c.unit for c in node.copies]
        if node.kind != "composite" or level >= self.depth or any(u is None for u in units):
            item = Item(self.new_id(), "node", label(node.name), block, tooltip(node.doc), level)
            for _, (source, shape, wire) in inputs:
                self.edges.append(Edge(source, item.id, shape, wire))
            outs: Producers = {(node.name, p): item.id for p, _ in node.outputs}
            outs[(node.name, None)] = item.id
            return item, outs
        # a frame is labelled with the composite's path (`layer2.0.downsample`), as --summary names its rows
        group = Item(self.new_id(), "group", label(path), block, tooltip(node.doc), level, open=level < self.opened)
        feeds: Feeds = dict(inputs)
        outs = {}
        previous: Producers | None = None
        for k, copy in enumerate(node.copies):
            assert copy.unit is not None
            unit = copy.unit
            if previous is not None and not node.parallel and unit.inputs and unit.outputs:
                # a repeat chains its copies: copy k's first input is copy k-1's first output
                feeds = {**feeds, unit.inputs[0][0]: (previous[("@out", unit.outputs[0][0])],
                                                      self.shape(node.copies[k - 1].outputs[0][1].shape, mapping),
                                                      self.new_wire())}
            items, produced = self.unit(unit, f"{path}.{k}." if indexed(node) else f"{path}.", level + 1,
                                        feeds, mappings[k])
            if indexed(node):  # each copy in a frame of its own, numbered even when there is one (docs/cli.md)
                group.children.append(Item(self.new_id(), "group", label(f"{path}.{k}"), label(unit.name), "",
                                           level + 1, items, open=group.open))
            else:
                group.children.extend(items)
            previous = produced
            if node.parallel:
                outs[(node.name, str(k))] = produced[("@out", unit.outputs[0][0])]
        if not node.parallel and previous is not None:
            for port, _, _ in node.copies[-1].unit.outputs:  # type: ignore[union-attr]
                outs[(node.name, port)] = previous[("@out", port)]
        first = node.outputs[0][0] if node.outputs else None
        if (node.name, first) in outs:
            outs[(node.name, None)] = outs[(node.name, first)]
        return group, outs


def indexed(node: Node) -> bool:
    """Whether model.py holds ``node``'s copies in an indexed container (nn.Sequential, nn.ModuleList), so
    that its submodules' state_dict keys read ``name.<k>.``: a `repeat` or `for_each` node, even of one copy."""
    return node.repeated or node.parallel


def value_types(unit: Unit) -> dict[str, TensorType]:
    """Every value of ``unit`` by its reference text (``x``, ``conv1.out``)."""
    types = {name: t for name, t in unit.inputs}
    for node in unit.nodes:
        for port, t in node.outputs:
            types[f"{node.name}.{port}"] = t
    return types


def outer_shape(shape: tuple[Dim, ...], mapping: dict[str, Dim], env: dict[str, int]) -> tuple[Dim, ...]:
    """A composite body's shape in the model's symbols (``mapping``), with the symbols ``env`` binds put in
    (:func:`bound`)."""
    out = []
    for d in shape:
        if mapping and not isinstance(d, int):
            d = subs(d, mapping)
        out.append(bound(d, env))
    return tuple(out)


def body_mappings(node: Node, mapping: dict[str, Dim], types: dict[str, TensorType]) -> list[dict[str, Dim]]:
    """For each copy of composite ``node``: its body's input symbols in the model's terms.

    A body is specialised in symbols of its own (``L`` of its input, whatever the caller's length);
    each symbol that stands alone in an input's shape maps to the dimension fed there, so the body
    reads ``[B, 64, (L + 3) // 4]`` as the model does. A repeat feeds copy k with copy k-1's output.
    """
    feeds: dict[str, tuple[Dim, ...]] = {}  # in the model's terms
    for port, ref in node.inputs:
        t = types.get(str(ref))
        if t is not None:
            feeds[port] = outer_shape(t.shape, mapping, {})
    out: list[dict[str, Dim]] = []
    for k, copy in enumerate(node.copies):
        unit = copy.unit
        local: dict[str, Dim] = {}
        if unit is None:
            out.append(local)
            continue
        if k and not node.parallel and unit.inputs:  # a copy's outputs are typed in the caller's symbols
            feeds = {**feeds, unit.inputs[0][0]: outer_shape(node.copies[k - 1].outputs[0][1].shape, mapping, {})}
        for name, t in unit.inputs:
            fed = feeds.get(name)
            if fed is None or len(fed) != len(t.shape):
                continue
            for inner, actual in zip(t.shape, fed, strict=True):
                if not isinstance(inner, int) and {fmt_dim(inner)} == free_symbols(inner) and fmt_dim(inner) \
                        not in local:
                    local[fmt_dim(inner)] = actual
        out.append(local)
    return out


def _key(ref: ValueRef) -> tuple[str, str | None]:
    return (ref.node, ref.port)


def block_label(node: Node) -> str:
    """``conv1d``, ``BasicBlock x2``, ``E_01_HSE``, ``for_each: a, b``: the block a node runs (no file paths)."""
    if node.parallel:
        names = dict.fromkeys(_short(c.block or node.block) for c in node.copies)
        return "for_each: " + ", ".join(names)
    return _short(node.block) + (f" x{len(node.copies)}" if node.repeated else "")


def _short(block: str) -> str:
    """A composite's name without its file (``a/b.yaml#Down`` -> ``Down``; ``a/E_01_HSE.yaml`` -> ``E_01_HSE``)."""
    if "#" in block:
        return block.rsplit("#", 1)[-1]
    name = block.rsplit("/", 1)[-1]
    if os.sep == "\\":  # where `\` separates folders (Windows); elsewhere it is part of the name
        name = name.rsplit("\\", 1)[-1]
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in (".yaml", ".yml", ".json") else block


def _input_doc(unit: Unit, name: str) -> str:
    d = unit.definition
    return next((tooltip(i.doc) for i in d.inputs if i.name == name), "") if d is not None else ""


def _output_doc(unit: Unit, name: str) -> str:
    d = unit.definition
    return next((tooltip(o.doc) for o in d.outputs if o.name == name), "") if d is not None else ""
