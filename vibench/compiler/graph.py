"""Pass 4, graph: structural checks of a UnitDef with networkx, and its node order.

Pre: a UnitDef from ``resolve``. Post: the same UnitDef with its nodes in topological order (ties
broken by spec order), or a SpecError: unknown references (E401, with "did you mean"), a cycle
(E402, the cycle path shown), nodes that reach no output (E403, raised as :class:`UnusedNodes`, which
carries the ordered unit: a caller may go on checking it), names used twice (E404).
Ports are checked later, when each node's block is known (E405).

Where every node reads only nodes written before it (how specs are written), the spec order is
already the answer: it is a topological order, it is the one ties-by-spec-order gives, and there
is no cycle; which nodes reach an output is then one backward sweep. networkx is imported and used
only when some node reads a later one (to order the graph, find and report a cycle). Measured:
``import networkx`` is 180 ms of a cold ``--check`` whose whole budget is about 575 ms (0.25x
``import torch``), and on a 10,000-node chain its DiGraph + ``is_directed_acyclic_graph`` +
``ancestors`` + ``lexicographical_topological_sort`` took 190 ms, the sweep 15 ms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import cache

from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError
from vibench.compiler.ir import NodeDef, UnitDef
from vibench.compiler.suggestions import MAX_SUGGEST_WORK, Suggestions


def check_graph(unit: UnitDef, sources: dict[str, str] | None = None) -> UnitDef:
    """Check one unit's graph and return it with its nodes topologically ordered."""
    diags = Collector(sources=sources or {})
    inputs = {i.name for i in unit.inputs}
    nodes = {n.name: n for n in unit.nodes}
    where = f"block `{unit.name}`" if "#" in unit.qualname else f"model `{unit.name}`"
    for n in unit.nodes if not inputs.isdisjoint(nodes) else ():
        if n.name in inputs:
            diags.add(Diagnostic("E404", f"node `{n.name}` has the name of an input of {where}", n.pos, node=n.name,
                                 hint="rename the node; inputs and nodes share one namespace"))
    known = inputs | set(nodes)
    # One pool for every unknown name, its work bounded (5,000 misspelt references took 208 s, one full
    # lookup each); the list of names, the hint when none is close, is written once. Inputs, then nodes as
    # written: of equally near names the first is offered, a node before the reader before one after it.
    names = Suggestions([i.name for i in unit.inputs] + [n.name for n in unit.nodes])
    downstream = _Downstream(unit.nodes)

    @cache
    def defined() -> str:
        return f"names defined in {where}: " + ", ".join(f"`{k}`" for k in sorted(known))

    forward = True  # every node reads only nodes written before it, and the nodes are in spec order
    last = unit.nodes[0].index - 1 if unit.nodes else 0  # the index of the node before
    for n in unit.nodes:
        forward = forward and last < n.index
        last = n.index
        for _, ref in n.inputs:
            source = nodes.get(ref.node)
            if source is not None:
                forward = forward and source.index < n.index
            elif ref.node not in known:
                diags.add(Diagnostic("E401", f"node `{n.name}` reads unknown value `{ref.node}`", ref.pos,
                                     node=n.name, span=len(str(ref)),
                                     hint=names.hint(ref.node, downstream.outside(n.name)) or defined()))
            elif ref.port is not None:
                diags.add(Diagnostic("E405", f"input `{ref.node}` has no ports; `{ref}` is not a value", ref.pos,
                                     node=n.name, hint=f"read the input as `{ref.node}`"))
    output_names = set()
    for out in unit.outputs:
        if out.ref.node not in known:
            diags.add(Diagnostic("E401", f"output `{out.name}` reads unknown value `{out.ref.node}`", out.ref.pos,
                                 span=len(str(out.ref)),
                                 hint=names.hint(out.ref.node) or "outputs name a node or an input"))
        output_names.add(out.name)
    if not unit.outputs:
        diags.add(Diagnostic("E103", f"{where} has no outputs", unit.pos, hint="add `outputs: {name: node}`"))
    diags.raise_if_any()

    if forward and len(nodes) == len(unit.nodes):
        live = _live_in_order(unit, nodes)
        order = None
    else:
        edges = [(ref.node, n.name) for n in unit.nodes for _, ref in n.inputs if ref.node in nodes]
        live, order = _analyse(unit, nodes, edges, where, sources)
    for n in unit.nodes if len(live) < len(nodes) else ():  # `live` holds names of nodes only
        if n.name not in live:
            diags.add(Diagnostic("E403", f"node `{n.name}` does not lead to any output of {where}", n.pos, node=n.name,
                                 hint="use its value, list it under `outputs:`, or remove it"))
    ordered = replace(unit, nodes=unit.nodes if order is None else tuple(nodes[name] for name in order))
    if diags.errors:  # only E403s: the graph is sound, and its nodes can be checked as any others
        raise UnusedNodes(diags.items, diags.sources, ordered)
    return ordered


class _Downstream:
    """Which nodes read a node, directly or through others: a node's "did you mean" must not offer itself or one of
    them (`fc2: {in: fc}` was offered `fc2`; following the hint made a cycle, E402). Each node's are found once,
    when first asked, by a walk along who reads whom; the walks of a pass visit at most MAX_SUGGEST_WORK edges in
    all, after which a reader not yet walked is offered no node (inputs still: they read nothing)."""

    def __init__(self, nodes: tuple[NodeDef, ...]) -> None:
        self.nodes = nodes
        self.work = MAX_SUGGEST_WORK
        self._read_by: dict[str, list[str]] | None = None
        self._found: dict[str, set[str] | None] = {}  # None: the walk ran out of work

    def outside(self, reader: str) -> Callable[[str], bool]:
        """Whether a name may be offered to node ``reader``: an input, or a node that neither is nor reads it."""
        return lambda name: self._offered(reader, name)

    def _offered(self, reader: str, name: str) -> bool:
        read_by = self._read_by_nodes()
        if name not in read_by:
            return True
        found = self._downstream(reader)
        return found is not None and name not in found

    def _read_by_nodes(self) -> dict[str, list[str]]:
        """The nodes that read each node."""
        if self._read_by is None:
            self._read_by = {n.name: [] for n in self.nodes}
            for n in self.nodes:
                for _, ref in n.inputs:
                    if ref.node in self._read_by:
                        self._read_by[ref.node].append(n.name)
        return self._read_by

    def _downstream(self, reader: str) -> set[str] | None:
        """``reader`` and the nodes that read it, or None once the work is spent."""
        if reader not in self._found:
            read_by, found, todo = self._read_by_nodes(), {reader}, [reader]
            while todo and self.work > 0:
                for name in read_by[todo.pop()]:
                    self.work -= 1
                    if name not in found:
                        found.add(name)
                        todo.append(name)
            self._found[reader] = None if todo else found
        return self._found[reader]


class UnusedNodes(SpecError):
    """E403 alone: nodes that reach no output, in a graph that is otherwise sound (every reference known, no
    cycle). ``unit`` is the checked, ordered unit: the later passes may check it, dead nodes included, so that
    the spec's other problems (an unknown block or parameter in a live node) are reported with the E403s
    (docs/errors.md: independent problems are reported together)."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str], unit: UnitDef) -> None:
        super().__init__(diagnostics, sources)
        self.unit = unit


def _live_in_order(unit: UnitDef, nodes: dict[str, NodeDef]) -> set[str]:
    """The nodes that lead to an output, for nodes that read only earlier nodes: one sweep from the
    last node back (a node is live when an output or a live node reads it)."""
    live = {out.ref.node for out in unit.outputs if out.ref.node in nodes}
    for n in reversed(unit.nodes):
        if n.name in live:
            for _, ref in n.inputs:
                if ref.node in nodes:
                    live.add(ref.node)
    return live


def _analyse(unit: UnitDef, nodes: dict[str, NodeDef], edges: list[tuple[str, str]], where: str,
             sources: dict[str, str] | None) -> tuple[set[str], list[str]]:
    """Liveness and topological order (ties by spec order) with networkx; E402 for a cycle."""
    import networkx as nx

    graph = nx.DiGraph()
    for name in nodes:  # add_node: add_nodes_from tries to unpack each 2-letter name as (node, attrs)
        graph.add_node(name)
    graph.add_edges_from(edges)
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        path = [u for u, _ in cycle] + [cycle[0][0]]
        first = nodes[path[0]]
        # Point at the reference that closes the cycle: where `path[0]` reads `path[-2]`.
        closing = next((ref for _, ref in first.inputs if ref.node == path[-2] and ref.pos is not None), None)
        raise SpecError([Diagnostic("E402", f"cycle in {where}", closing.pos if closing else first.pos,
                                    node=first.name, span=len(str(closing)) if closing else 1,
                                    found=" -> ".join(path),
                                    hint="a model is a DAG: one of these edges must read an earlier value")],
                        sources)
    live: set[str] = set()
    for out in unit.outputs:
        if out.ref.node in nodes:
            live.add(out.ref.node)
            live |= nx.ancestors(graph, out.ref.node)
    order = list(nx.lexicographical_topological_sort(graph, key=lambda name: nodes[name].index))
    return live, order
