"""The sizes that a class below the model's writes by name in its shape comments: those that an argument
carrying a free parameter of the model sets (``x = self.fc2(x)  # [B, num_classes]`` in
``Classifier(num_classes)``, not the compiled ``[B, 3]``).

The model's own class gets its named sizes from the probes of :mod:`vibench.compiler.free_params`. A free
parameter reaches a class below only as a whole ``${p}`` of a node that class returns
(:func:`~vibench.compiler.free_candidates.candidates`); which output axes such a node sets to it follows from
its block's shape rule alone (:func:`~vibench.compiler.free_sizes.output_axes`), and for a composite node
from the axes its body's outputs have so, recursively. A size is named only where every use of the class
agrees, so the name holds for any value the model's class takes.
"""

from __future__ import annotations

import ast

from vibench.compiler.codegen.structure import Structure
from vibench.compiler.free_sizes import model_float_dtype, output_axes
from vibench.compiler.ir import Template, Unit
from vibench.compiler.limits import MAX_NESTING


def argument_sizes(s: Structure) -> dict[tuple[str, str, int], str]:
    """(node, port, axis) -> the argument of class ``s`` that is that size in every use, for the arguments
    that carry a free parameter of the model (:func:`~vibench.compiler.codegen.structure.thread`); empty for
    the model's class (the probes name its sizes) and for a class that takes none."""
    if s.is_root or not s.forced:
        return {}
    names = {a.spec: a.name for a in s.args if a.spec in s.forced and not a.symbol}
    if not names:
        return {}
    found: dict[tuple[str, str, int], str] | None = None
    for plan in s.plans:
        here = _set_by(plan.unit, names, 0)
        found = here if found is None else {k: v for k, v in found.items() if here.get(k) == v}
    return found or {}


def _set_by(unit: Unit, names: dict[str, str], depth: int) -> dict[tuple[str, str, int], str]:
    """The output axes of ``unit``'s nodes that a parameter of ``names`` (spec name -> the name written) sets
    whole: a built-in node's parameter ``${p}`` that its rule only places at output axes, or a composite
    node's (through its body)."""
    if unit.definition is None or depth > MAX_NESTING:
        return {}
    written = {nd.name: nd for nd in unit.definition.nodes}
    dtype = model_float_dtype(unit)
    sizes: dict[tuple[str, str, int], str] = {}
    for node in unit.nodes:
        nd = written.get(node.name)
        if nd is None or node.repeated or node.parallel or len(node.copies) != 1:
            continue  # a copy of a `repeat` reads another's output: no axis is the parameter alone
        for key, raw, _ in nd.params:
            if not (isinstance(raw, Template) and raw.whole and isinstance(raw.expr, ast.Name)):
                continue
            name = names.get(raw.expr.id)
            if name is None:
                continue
            if node.kind == "primitive":
                axes = output_axes(unit, node, key, dtype) or frozenset()
                sizes.update({(node.name, port, axis): name for port, axis in axes})
                continue
            body = node.copies[0].unit
            if body is None:
                continue
            inner = _set_by(body, {key: name}, depth + 1)
            ports = {port for port, _ in node.outputs}
            for out, ref, _ in body.outputs:
                source = next((n for n in body.nodes if n.name == ref.node), None)
                if out not in ports or source is None or not source.outputs:
                    continue  # (an output that is the body's input sets nothing)
                port = ref.port or source.outputs[0][0]
                sizes.update({(node.name, out, axis): written_as for (n, p, axis), written_as in inner.items()
                              if n == ref.node and p == port})
    return sizes
