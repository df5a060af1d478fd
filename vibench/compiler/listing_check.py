"""The check behind one line of ``vibench-compile --list`` (:func:`vibench.compiler.library_index.describe`): a
template compiled at its defaults as :func:`~vibench.compiler.pipeline.compile_program` compiles it, but through the
listing's own :class:`~vibench.compiler.library_index.BudgetedLibrary`, and its nodes charged to the listing.

Through that library, the files the templates of one folder extend or use are read and resolved once for the whole
listing, within its budgets (40 templates of a few bytes, each using a block of the same 1 MB file, read and resolved
it 40 times: 55 s, none of it counted). A compile that fails is charged the nodes it can have made, read from the
definitions it elaborated, not all those it was allowed (51 one-node drafts missing a parameter spent the listing's
budget, and the valid templates after them went unchecked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.ir import Template, UnitDef

if TYPE_CHECKING:
    from vibench.compiler.library_index import BudgetedLibrary
    from vibench.compiler.load import LoadedDoc
    from vibench.schemas.document import SpecDocument


def checked_interface(doc: LoadedDoc, spec: SpecDocument, library: BudgetedLibrary, max_nodes: int) -> str:
    """The interface of the template ``doc`` (validated: ``spec``) compiled at its defaults with at most
    ``max_nodes`` nodes, as ``compile_program(..., max_nodes=max_nodes, locate_settings=False)`` compiles it (its
    limits, its budgets of expression steps and source files), ``library`` reading the files it extends or uses.
    The nodes it makes are charged to ``library.budget``; one that does not compile is charged those it can have
    made (:func:`most_nodes`). Raises SpecError (the compile's), or NotRead for a file over the budgets."""
    from vibench.compiler import expr, limits
    from vibench.compiler.ir import SourceInfo
    from vibench.compiler.load import source_budget
    from vibench.compiler.pipeline import paused_gc
    from vibench.compiler.reference_text import _typed
    from vibench.compiler.resolve import resolve
    from vibench.compiler.shapes import infer_program
    from vibench.compiler.symbolic import fmt_shape

    if len(spec.nodes or ()) > max_nodes:  # as the compile refuses it (E213), before a node is resolved
        raise SpecError([Diagnostic("E213", f"the spec declares more than {max_nodes:,} nodes", doc.pos(("nodes",)))])
    source = SourceInfo(doc.file, doc.sha256, (), ())
    sources = source_budget(limits.MAX_SOURCE_BYTES, limits.MAX_SOURCE_FILES, limits.MAX_SOURCE_VALUES)
    with paused_gc(), expr.budget(limits.STEPS_PER_NODE * max_nodes), sources:
        root = resolve(doc, spec, library)  # (failing here, at its parameters, it made no node: charged none)
        try:
            program = infer_program(root, library, source, max_nodes=max_nodes)
        except Exception:  # (SpecError, or NotRead: charged, and said by the caller)
            library.budget.nodes -= most_nodes(root, max_nodes)
            raise
    unit = program.root
    library.budget.nodes -= node_count(unit, {})
    # dtypes as `--list NAME` writes them (reference_text._interface): `system_id [B] int64`, a float32 one unsaid
    ins = ", ".join(f"{n} {_typed(fmt_shape(t.shape), t.dtype)}" for n, t in unit.inputs)
    outs = ", ".join(f"{n} {_typed(fmt_shape(t.shape), t.dtype)}" for n, _, t in unit.outputs)
    slots = [f"{d.name} in {d.slot}/ ({_slot_default(unit, d.name)})" for d in root.params if d.slot is not None]
    return f"{ins} -> {outs}" + (f"; slots: {', '.join(slots)}" if slots else "")


def node_count(unit: Any, counted: dict[int, int]) -> int:
    """The nodes of ``unit`` after expansion, as the compile counts them against its limit (shapes.node_count)."""
    count = counted.get(id(unit))
    if count is None:
        count = sum(
            1 + c.submodules + (node_count(c.unit, counted) if c.unit is not None else 0)
            for n in unit.nodes
            for c in n.copies
        )
        counted[id(unit)] = count
    return count


def most_nodes(root: UnitDef, max_nodes: int) -> int:
    """At most how many nodes a compile of ``root`` made before it failed, read from the definitions: each node
    once, or as many times as a `repeat` or `for_each` written as a number or a list says, with the nodes of the
    composite of its file's `blocks:` it uses. ``max_nodes`` (all it was allowed) where that is not known before
    elaborating: a count or a block computed (`${...}`, a parameter's name), a block of another file (it may be a
    slot's)."""
    from vibench.compiler import registry

    counts: dict[int, int] = {}

    def count(unit: UnitDef) -> int:
        if id(unit) in counts:  # (a composite that uses itself counts as what it was allowed)
            return counts[id(unit)]
        counts[id(unit)] = total = max_nodes
        made = 0
        for node in unit.nodes:
            block, repeat, each = node.block, node.repeat, node.for_each
            if (
                isinstance(block, Template)
                or not (repeat is None or type(repeat) is int)
                or not (each is None or isinstance(each, list | dict))
            ):  # (a count named by a parameter is computed too)
                return total
            copies = (1 if repeat is None else repeat) * (1 if each is None else len(each))
            if block in unit.blocks:
                made += max(copies, 0) * (1 + count(unit.blocks[block]))
            elif registry.get(block) is not None:
                made += max(copies, 0)
            else:
                return total
            if made >= max_nodes:
                return total
        counts[id(unit)] = made
        return made

    return count(root)


def _slot_default(unit: Any, name: str) -> str:
    """A slot's default as a spec spells it: a component's name, a list of them, or null (none chosen)."""
    value = dict(unit.params).get(name)
    if value is None:
        return "null"
    return (", ".join(map(str, value)) or "[]") if isinstance(value, list) else str(value)
