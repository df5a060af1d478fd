"""What a node reference may name at the cursor, as the compiler reads references (E405).

A plain name reads a node's one output, or the first of its named outputs (``lstm`` is ``lstm.out``); it
names nothing for numbered outputs (``split``, ``chunk``: ``sp.0``, ``sp.1``), nor for a ``for_each`` over a
mapping (one node per key: ``heads.<key>``). A ``for_each`` over a list names the list of its copies
(``br.0``, ``br.1`` read one), which only a block that takes a list of inputs (``concat``, ``add``...) takes
whole: in its ``in:`` as a name or a list item, never as a named port nor under ``outputs:``; as the whole ``in:``
of such a block that needs two inputs or more, it is the only value that compiles (vibench/compiler/unit_builder.py,
typecheck.py, keyed.py; docs/language.md, "for_each"). Shapes come from the last good check; a node it does not
know is read from the text and its block's declared outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from vibench.lsp.catalog import Catalog
from vibench.lsp.document import (
    Document,
    block_interface,
    checked_node,
    node_block,
    node_of,
    references,
    unit_of,
    units_for,
)
from vibench.lsp.outline import Path


@dataclass(frozen=True)
class Candidate:
    """A name that compiles where the cursor is: ``detail`` says what it reads, ``sort`` orders the nearest
    preceding node first."""

    label: str
    detail: str
    sort: str
    is_input: bool = False


@dataclass(frozen=True)
class _Readable:
    """How a node is read: ``bare`` the detail of its plain name (None when the plain name compiles nowhere),
    ``whole`` whether the plain name is a ``for_each`` node's list, ``ports`` its ``name.port`` spellings."""

    bare: str | None
    whole: bool = False
    ports: tuple[tuple[str, str], ...] = ()


def candidates(doc: Document, catalog: Catalog, path: Path) -> list[Candidate]:
    """The inputs and nodes a reference at ``path`` (in ``in:`` or ``outputs:``) may name, each in the spellings
    the compiler accepts there, nearest preceding node first."""
    o = doc.outline
    unit = unit_of(path)
    here = node_of(path)
    names = references(o, unit)
    order = [n for n, _ in names]
    at = order.index(here) if here in order else len(order)
    takes_list, needs_list = _reading(doc, catalog, path)
    groups = _checked_groups(doc, unit)
    shapes = _input_shapes(doc, unit)
    out = []
    for index, (name, what) in enumerate(names):
        if name == here:
            continue
        rank = at - index if index < at else len(order) + index  # the nearest preceding node first
        if needs_list:
            readable = _readable(doc, catalog, unit, name, groups) if what == "node" else None
            if readable is not None and readable.whole and readable.bare is not None:
                out.append(Candidate(name, readable.bare, f"{rank:06d}"))
            continue
        if what == "input":
            shape = shapes.get(name, "")
            out.append(Candidate(name, "input" + (f" {shape}" if shape else ""), f"{rank:06d}", is_input=True))
            continue
        readable = _readable(doc, catalog, unit, name, groups)
        if readable.bare is not None and (takes_list or not readable.whole):
            out.append(Candidate(name, readable.bare, f"{rank:06d}"))
        out += [Candidate(f"{name}.{port}", detail, f"{rank:06d}.{port}") for port, detail in readable.ports]
    return out


def _input_shapes(doc: Document, unit: Path) -> dict[str, str]:
    """The checked shape of each input of ``unit`` by name (of its first specialisation that has it, for a
    composite), read once per request: looking each input up among all of them took the square of their
    number (9 s a request for 30,000 inputs)."""
    from vibench.compiler.symbolic import fmt_shape

    shapes: dict[str, str] = {}
    for u in units_for(doc, unit):
        for name, tensor in u.inputs:
            if name not in shapes:
                shapes[name] = fmt_shape(tensor.shape)
    return shapes


def _reading(doc: Document, catalog: Catalog, path: Path) -> tuple[bool, bool]:
    """(takes a list, needs a list) at ``path``: a ``for_each`` node's whole list compiles in the ``in:`` (a name,
    or an item of a list) of a node whose block takes a list of inputs, and is the only value that compiles as the
    whole ``in:`` of one that needs more than one input (``in: x`` of a ``concat`` is E405); a named port or an
    output takes one value."""
    rel = path[len(unit_of(path)):]
    if not (len(rel) >= 3 and rel[0] == "nodes" and rel[2] == "in") or (len(rel) == 4 and not isinstance(rel[3], int)):
        return False, False
    reader = node_block(doc.outline, unit_of(path), str(rel[1]))
    block = catalog.block(reader) if reader else None
    if block is None or not block.variadic:
        return False, False
    return True, len(rel) == 3 and block.min_inputs > 1


def _readable(doc: Document, catalog: Catalog, unit: Path, name: str,
              groups: dict[str, list[tuple[str, str]]]) -> _Readable:
    """How node ``name`` is read, from the last good check (``groups``: :func:`_checked_groups`), else the text."""
    from vibench.compiler.symbolic import fmt_shape

    node = checked_node(doc, unit, name)
    if node is not None:
        outs = [(port, fmt_shape(tensor.shape)) for port, tensor in node.outputs]
        if node.parallel:
            return _Readable(f"node, the list of its {_copies(len(outs))}", True,
                             tuple((port, f"copy `{port}` of {name} {shape}") for port, shape in outs))
        if len(outs) == 1:
            return _Readable(f"node {outs[0][1]}")
        ports = tuple((port, f"output `{port}` of {name} {shape}") for port, shape in outs)
        return _Readable(None if outs[0][0].isdigit() else f"node {outs[0][1]}", ports=ports)
    keyed = groups.get(name)
    if keyed:
        return _Readable(None, ports=tuple((key, f"copy `{key}` of {name} {shape}") for key, shape in keyed))
    return _written(doc, catalog, unit, name)


def _checked_groups(doc: Document, unit: Path) -> dict[str, list[tuple[str, str]]]:
    """[(key, shape)] by name of each node that made one node per key of a mapping (``for_each``) at the last good
    check: the checked nodes named by its keys, which keep its definition's position (vibench/compiler/keyed.py)."""
    from vibench.compiler.symbolic import fmt_shape

    checked = units_for(doc, unit)[:1]
    definition = checked[0].definition if checked else None
    if definition is None:
        return {}
    by_pos = {nd.pos: nd.name for nd in definition.nodes if nd.for_each is not None and nd.pos is not None}
    groups: dict[str, list[tuple[str, str]]] = {}
    for n in checked[0].nodes:
        group = by_pos.get(n.pos) if n.pos is not None else None
        if group is not None and group != n.name:
            groups.setdefault(group, []).append((n.name, fmt_shape(n.outputs[0][1].shape)))
    return groups


def _written(doc: Document, catalog: Catalog, unit: Path, name: str) -> _Readable:
    """A node the last good check does not know, read from the text: its ``for_each`` (a list: its copies; a
    mapping: its keys; an expression: unknown, so nothing is offered) or its block's declared outputs."""
    o = doc.outline
    at = (*unit, "nodes", name, "for_each")
    kind = o.kind(at)
    if kind == "seq":
        count = len(o.keys(at))
        return _Readable(f"node, the list of its {_copies(count)}", True,
                         tuple((str(k), f"copy `{k}` of {name}") for k in range(count)))
    if kind == "map":
        return _Readable(None, ports=tuple((str(k), f"copy `{k}` of {name}") for k in o.keys(at)))
    if kind is not None:
        return _Readable(None)
    block = node_block(o, unit, name)
    found = catalog.block(block) if block else None
    if found is not None and not found.outputs:  # numbered outputs (as many as its parameters say): `.0` always
        return _Readable(None, ports=(("0", f"output `0` of {name}"),))
    _, _, outputs = block_interface(doc, catalog, block)
    ports = tuple((port, f"output `{port}` of {name}") for port in outputs) if len(outputs) > 1 else ()
    return _Readable("node", ports=ports)


def _copies(count: int) -> str:
    return f"{count} cop{'y' if count == 1 else 'ies'}"
