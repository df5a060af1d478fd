"""How many lines model.py would have, reckoned from its classes before any is written (E213 past the limit).

The node limit bounds the model, not its code. A block whose every use has values of its own is a class per use,
and a chain of layers is written out again at each use, nested as its blocks nest: fourteen levels of a block using
the one below twice with values of its own (49,150 nodes, 16,384 classes and 16,383 chains written inline) wrote a
24 MB model.py of 295,045 lines in 93 s of CPU, where a chain of 100,000 layers writes 200,000 lines. So the lines
are counted from the grouped classes (:func:`~vibench.compiler.codegen.structure.group`: no constructor is written
yet, no line laid out), and a model past :func:`line_limit` is E213 before any of it is (the CLI writes no file).

>>> line_limit(100_000), line_limit(1_000)
(250000, 100000)
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.codegen.plan import Child, Slot
from vibench.compiler.codegen.structure import Classes, Structure, group
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.ir import Program

CLASS_LINES = 10
"""A class's lines besides its constructors and forward statements: ``class ...:``, its docstring, ``def __init__``,
``super().__init__()``, ``def forward``, ``return`` and the blank lines between them and after the class."""

INLINE_LINES = 4
"""The lines around a chain of layers written at a use: ``nn.Sequential(``, ``OrderedDict(`` and their brackets."""

HEADER_LINES = 20
"""The file's header, imports and the lines between its parts (natives and helpers are not counted)."""


def line_limit(max_nodes: int) -> int:
    """The lines model.py may have under a node limit of ``max_nodes`` (see :mod:`vibench.compiler.limits`)."""
    from vibench.compiler.limits import LINES_PER_NODE, MIN_LINES

    return max(MIN_LINES, int(LINES_PER_NODE * max_nodes))


def check_model_lines(program: Program) -> Classes:
    """The program's classes, grouped (:func:`~vibench.compiler.codegen.structure.group`: the emitter writes them);
    E213 when model.py would have more lines than :func:`line_limit` allows under the node limit ``program`` was
    compiled with, found before any class is written."""
    from vibench.compiler.limits import MAX_NODES

    request = program.request
    max_nodes = request.limits[0] if request is not None and request.limits is not None else MAX_NODES
    classes = group(program)
    lines = ModelLines(classes)
    limit = line_limit(max_nodes)
    if lines.total <= limit:
        return classes
    sources = {program.root.file: request.text} if request is not None and request.text is not None else {}
    raise SpecError([lines.too_long(limit)], sources)


class ModelLines:
    """About how many lines model.py has for these classes: at least as many as it writes for their constructors
    (one per copy of a node, a chain of layers written inline counted at each use, with the brackets around it)
    and forward statements (one per node), and the lines each class has besides them."""

    def __init__(self, classes: Classes) -> None:
        self.classes = classes
        self.written: dict[int, int] = {}  # structure id -> the lines of its constructors, inline chains included
        self.own: dict[int, int] = {}  # structure id -> its lines in model.py (a chain written inline has none)
        for s in classes.structures:  # (children first: a chain's lines are known before a use writes it)
            plan = s.representative
            self.written[s.id] = sum(self.slot_lines(slot.ctors) for slot in plan.slots.values())
            if not s.inline:
                self.own[s.id] = CLASS_LINES + self.written[s.id] + len(plan.slots)
        self.total = HEADER_LINES + sum(self.own.values())

    def slot_lines(self, ctors: list[Any]) -> int:
        """The lines of one node's constructors: one per copy, a chain of layers written out where it is used,
        and the container's brackets around several copies."""
        lines = 2 if len(ctors) > 1 else 0
        for ctor in ctors:
            child = self.classes.of_unit.get(ctor.unit.key) if isinstance(ctor, Child) and ctor.unit is not None \
                else None
            lines += INLINE_LINES + self.written[child.id] if child is not None and child.inline else 1
        return lines

    def too_long(self, limit: int) -> Diagnostic:
        """E213 at the first use of the block whose classes have the most lines, saying how many classes it is and
        which of its parameters differ between them; at the model's largest node when its own class is longer."""
        from vibench.compiler.limits import LINES_PER_NODE, MIN_LINES

        classes, own = self.classes, self.own
        by_block: dict[int, list[Structure]] = {}
        for s in classes.structures:
            if s.definition is not None and not s.inline and not s.is_root:
                by_block.setdefault(id(s.definition), []).append(s)
        heaviest = max(by_block.values(), key=lambda group: sum(own[s.id] for s in group), default=[])
        notes: list[str] = []
        slot: Slot | None
        heavy = sum(own[s.id] for s in heaviest)
        if heaviest and heavy > own[classes.root.id]:
            block = heaviest[0].definition.name if heaviest[0].definition is not None else heaviest[0].name
            slot = _first_use(classes, {s.id for s in heaviest})
            differ = _differing(heaviest)
            notes.append(f"block `{block}` is {len(heaviest):,} of the classes, with {heavy:,} lines"
                         + (f": its uses differ in {differ}" if differ else ""))
        else:  # the model's own class: its node that writes the most
            slots = classes.root.representative.slots.values()
            slot = max(slots, key=lambda s: self.slot_lines(s.ctors), default=None)
        inline = sum(1 for s in classes.structures if s.inline)
        if inline:
            notes.append(f"{inline:,} chains of layers are written out at each of their uses, nested as their blocks "
                         "nest")
        return Diagnostic(
            "E213", f"model.py would have more than {limit:,} lines" + (f" at node `{slot.name}`" if slot else ""),
            slot.node.pos if slot is not None else classes.root.units[0].pos, node=slot.name if slot else None,
            expected=f"at most {limit:,} lines of model.py ({LINES_PER_NODE} per allowed node, at least {MIN_LINES:,})",
            found=f"about {self.total:,} lines in {len(own):,} classes",
            notes=tuple(notes),
            hint="give the uses of a block the same values where they can share a class (each use with values of "
                 "its own is a class of its own); if the model really is this large, raise --max-nodes (max_nodes= "
                 f"in the API): model.py may have {LINES_PER_NODE} lines per allowed node, at least {MIN_LINES:,}")


def _first_use(classes: Classes, ids: set[int]) -> Slot | None:
    """The first node (children first) that uses one of the structures ``ids``."""
    for s in classes.structures:
        for plan in s.plans:
            for slot in plan.slots.values():
                for ctor in slot.ctors:
                    if isinstance(ctor, Child) and ctor.unit is not None and classes.of_unit[ctor.unit.key].id in ids:
                        return slot
    return None


def _differing(structures: list[Structure], most: int = 3) -> str:
    """The parameters whose values differ between these classes' first uses (of the first 1,000 classes), as
    `a`, `b`."""
    uses = [dict(s.units[0].params) for s in structures[:1_000]]
    first = uses[0] if uses else {}
    names = [n for n, v in first.items() if any(use.get(n, v) != v for use in uses[1:])]
    return ", ".join(f"`{n}`" for n in names[:most]) + (" ..." if len(names) > most else "")
