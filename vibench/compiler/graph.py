"""Pass 4, graph: structural checks of a UnitDef with networkx, and its node order.

Pre: a UnitDef from ``resolve``. Post: the same UnitDef with its nodes in topological order (ties
broken by spec order), or a SpecError: unknown references (E401, with "did you mean"), a cycle
(E402, the cycle path shown), nodes that reach no output (E403), names used twice (E404).
Ports are checked later, when each node's block is known (E405).
"""

from __future__ import annotations

from dataclasses import replace

from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError, suggest
from vibench.compiler.ir import UnitDef


def check_graph(unit: UnitDef, sources: dict[str, str] | None = None) -> UnitDef:
    """Check one unit's graph and return it with its nodes topologically ordered."""
    import networkx as nx

    diags = Collector(sources=sources or {})
    inputs = {i.name for i in unit.inputs}
    nodes = {n.name: n for n in unit.nodes}
    where = f"block `{unit.name}`" if "#" in unit.qualname else f"model `{unit.name}`"
    for n in unit.nodes:
        if n.name in inputs:
            diags.add(Diagnostic("E404", f"node `{n.name}` has the name of an input of {where}", n.pos, node=n.name,
                                 hint="rename the node; inputs and nodes share one namespace"))
    known = inputs | set(nodes)
    graph = nx.DiGraph()
    for name in nodes:  # add_node: add_nodes_from tries to unpack each 2-letter name as (node, attrs)
        graph.add_node(name)
    for n in unit.nodes:
        for _, ref in n.inputs:
            if ref.node not in known:
                diags.add(Diagnostic("E401", f"node `{n.name}` reads unknown value `{ref.node}`", ref.pos,
                                     node=n.name, span=len(str(ref)),
                                     hint=suggest(ref.node, known) or f"names defined in {where}: "
                                     + ", ".join(f"`{k}`" for k in sorted(known))))
            elif ref.node in nodes:
                graph.add_edge(ref.node, n.name)
            elif ref.port is not None:
                diags.add(Diagnostic("E405", f"input `{ref.node}` has no ports; `{ref}` is not a value", ref.pos,
                                     node=n.name, hint=f"read the input as `{ref.node}`"))
    output_names = set()
    for out in unit.outputs:
        if out.ref.node not in known:
            diags.add(Diagnostic("E401", f"output `{out.name}` reads unknown value `{out.ref.node}`", out.ref.pos,
                                 span=len(str(out.ref)),
                                 hint=suggest(out.ref.node, known) or "outputs name a node or an input"))
        output_names.add(out.name)
    if not unit.outputs:
        diags.add(Diagnostic("E103", f"{where} has no outputs", unit.pos, hint="add `outputs: {name: node}`"))
    diags.raise_if_any()

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
    for n in unit.nodes:
        if n.name not in live:
            diags.add(Diagnostic("E403", f"node `{n.name}` does not lead to any output of {where}", n.pos, node=n.name,
                                 hint="use its value, list it under `outputs:`, or remove it"))
    diags.raise_if_any()

    order = list(nx.lexicographical_topological_sort(graph, key=lambda name: nodes[name].index))
    return replace(unit, nodes=tuple(nodes[name] for name in order))
