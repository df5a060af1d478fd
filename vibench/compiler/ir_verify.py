"""The invariants of the IR, checked after each pass (by the pass driver when
:data:`~vibench.compiler.pipeline.VERIFY_IR` is on, as the test suite sets it).

Apart from :mod:`vibench.compiler.ir`, which holds only the data: the passes build and read the IR without
these checks, and the checks are asserts about a whole definition or program, not part of any node.
"""

from __future__ import annotations

from vibench.compiler.ir import Program, Unit, UnitDef


def verify(unit: Unit) -> None:
    """Check the IR invariants of one unit (used by the tests after every pass)."""
    seen = {name for name, _ in unit.inputs}
    produced: set[tuple[str, str | None]] = {(name, None) for name in seen}
    for node in unit.nodes:
        assert node.name not in seen, f"duplicate or shadowing name {node.name}"
        for _, ref in node.inputs:
            assert (ref.node, ref.port) in produced, f"{node.name} reads {ref} before it exists"
        seen.add(node.name)
        for port, _ in node.outputs:
            produced.add((node.name, port))
        produced.add((node.name, None))
        assert node.copies, f"{node.name} has no instance"
    for _, ref, _ in unit.outputs:
        assert (ref.node, ref.port) in produced, f"output reads unknown {ref}"


def verify_definition(unit: UnitDef, _seen: set[int] | None = None) -> None:
    """Check the invariants of a resolved definition (after the resolve pass): parameter, let and node
    names are unique in their scopes, and the same holds for its blocks. (References are checked by
    the shapes pass, which reports an unknown one as a located error.)"""
    seen = _seen if _seen is not None else set()
    if id(unit) in seen:
        return  # the blocks of one file share their table: each is checked once
    seen.add(id(unit))
    params = [d.name for d in unit.params]
    assert len(params) == len(set(params)), f"{unit.qualname}: a parameter is declared twice"
    lets = [let.name for let in unit.lets]
    assert len(lets) == len(set(lets)) and not set(lets) & set(params), f"{unit.qualname}: a let name is taken"
    names = [nd.name for nd in unit.nodes]
    assert len(names) == len(set(names)), f"{unit.qualname}: a node name is used twice"
    for block in unit.blocks.values():
        verify_definition(block, seen)


def verify_program(program: Program) -> None:
    """Check every unit of a typed program (after the shapes pass): :func:`verify` on each, and the
    units come children before parents."""
    done: set[int] = set()
    for unit in (*program.units, program.root):
        verify(unit)
        for node in unit.nodes:
            for inst in node.copies:
                child = getattr(inst, "unit", None)
                if child is not None:
                    assert id(child) in done or child is unit, f"{unit.name}: child {child.name} comes after it"
        done.add(id(unit))
