"""How many lines model.py would have, reckoned from its classes before any is written (E213 past the limit).

The node limit bounds the model, not its code. A block whose every use has values of its own is a class per use,
and a chain of layers is written out again at each use, nested as its blocks nest: fourteen levels of a block using
the one below twice with values of its own (49,150 nodes, 16,384 classes and 16,383 chains written inline) wrote a
24 MB model.py of 295,045 lines in 93 s of CPU, where a chain of 100,000 layers writes 200,000 lines. So the lines
are counted from the grouped classes (:func:`~vibench.compiler.codegen.structure.group`: no constructor is written
yet), at least as many as the file has (:class:`ModelLines`: each constructor laid out at its column, a layer deep
in nested chains split over several lines, the spec's docs), and a model past :func:`line_limit` is E213 before any
of it is written. The count is a least one (the class may write a literal as a longer name), so the source written
is counted too, before any file is (:func:`check_written_lines`): no model.py past the limit is written.

>>> line_limit(100_000), line_limit(1_000)
(250000, 100000)
"""

from __future__ import annotations

import ast
from typing import Any

from vibench.compiler.codegen.code import names_in
from vibench.compiler.codegen.plan import Child, Slot, constant_value
from vibench.compiler.codegen.structure import Classes, Structure, group
from vibench.compiler.codegen.text import WIDTH
from vibench.compiler.codegen.text import width as columns
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.ir import Program

CLASS_LINES = 10
"""A class's lines besides its constructors and forward statements: ``class ...:``, its docstring, ``def __init__``,
``super().__init__()``, ``def forward``, ``return`` and the blank lines between them and after the class."""

HEADER_LINES = 20
"""The file's header, imports and the lines between its parts (natives and helpers are not counted)."""

MEMBER_INDENT = 8  # the column of a constructor's line in ``__init__``

_LOOP = len(" for _ in range()") + 1
"""The least columns a comprehension of copies adds to the copy, brackets aside: ``[copy for _ in range(n)]``."""

_CHAIN_HEAD = "nn.Sequential(OrderedDict("
"""How a chain of layers written at a use opens (:func:`~vibench.compiler.codegen.inline.inlined`); ``))`` closes it."""


def line_limit(max_nodes: int) -> int:
    """The lines model.py may have under a node limit of ``max_nodes`` (see :mod:`vibench.compiler.limits`)."""
    from vibench.compiler.limits import LINES_PER_NODE, MIN_LINES

    return max(MIN_LINES, int(LINES_PER_NODE * max_nodes))


def check_model_lines(program: Program) -> Classes:
    """The program's classes, grouped (:func:`~vibench.compiler.codegen.structure.group`: the emitter writes them);
    E213 when model.py would have more lines than :func:`line_limit` allows under the node limit ``program`` was
    compiled with, found before any class is written."""
    classes = group(program)
    lines = ModelLines(classes)
    limit = line_limit(_max_nodes(program))
    if lines.total <= limit:
        return classes
    raise SpecError([lines.too_long(limit)], _sources(program))


def check_written_lines(program: Program, classes: Classes, source: str) -> None:
    """E213, as :func:`check_model_lines` says it, when the source written for ``classes`` has more lines than
    :func:`line_limit` allows: the count from the classes is a least count (a literal may be written as a longer
    name, a line split further), so the lines written are counted before the caller writes any file."""
    limit = line_limit(_max_nodes(program))
    written = source.count("\n")
    if written > limit:
        raise SpecError([ModelLines(classes).too_long(limit, written)], _sources(program))


def _max_nodes(program: Program) -> int:
    from vibench.compiler.limits import MAX_NODES

    request = program.request
    return request.limits[0] if request is not None and request.limits is not None else MAX_NODES


def _sources(program: Program) -> dict[str, str]:
    request = program.request
    return {program.root.file: request.text} if request is not None and request.text is not None else {}


class ModelLines:
    """At least how many lines model.py has for these classes, never more than it writes: the lines each class has
    besides its constructors and forward statements, its docstring's (the spec's `doc:` and its ports'), one forward
    statement per node, and each node's constructors laid out as :func:`~vibench.compiler.codegen.layout.split`
    lays them out at their column. A constructor's width is counted at its least (a literal as one column: the
    class may write a name for it), so a line counted split is split in the file; a chain of layers written inline
    is counted at each use, at the column of that use (deeper chains split their layers further)."""

    def __init__(self, classes: Classes) -> None:
        self.classes = classes
        self.chain_width: dict[int, int] = {}  # structure id of a chain written inline -> its least columns
        self.split: dict[tuple[int, int], int] = {}  # (id of a node or a constructor, column) -> its lines split
        self.widths: dict[int, int] = {}  # id of a node -> the least columns of its constructors
        self.own: dict[int, int] = {}  # structure id -> its lines in model.py (a chain written inline has none)
        self.looped: set[int] = set()  # ids of the repeated nodes that may be written `[copy for _ in range(n)]`
        loops = _Loops(classes)
        for s in classes.structures:  # (children first: a chain's width is known before a use writes it)
            plan = s.representative
            self.looped.update(id(slot) for slot in plan.slots.values() if loops.looped(s, slot, surely=False))
            if s.inline:
                self.chain_width[s.id] = len(_CHAIN_HEAD) + 2 + _joined(
                    [(len(name) + 1, self.width(slot)) for name, slot in plan.slots.items() if slot.ctors])
            else:
                init = sum(self.slot_lines(s, slot) for slot in plan.slots.values() if slot.ctors)
                self.own[s.id] = CLASS_LINES + _doc_lines(s) + init + len(plan.slots)
        self.total = HEADER_LINES + sum(self.own.values())

    def slot_lines(self, s: Structure, slot: Slot) -> int:
        """The lines of one node's constructors in the ``__init__`` of ``s``'s class (``self.name = ...``)."""
        if slot.name in s.optional:  # `... if self.with_x else nn.Identity()`: one line at least
            return 1
        return self.lines(slot, MEMBER_INDENT, len(f"self.{slot.name} = "), 0)

    def lines(self, item: Slot | ast.expr, column: int, prefix: int, suffix: int) -> int:
        """The least lines of a node's constructors (a :class:`Slot`) or of one constructor written at ``column``
        after ``prefix`` columns and before ``suffix``: one when it may fit, else as many as it takes split."""
        if column + prefix + self.width(item) + suffix <= WIDTH:
            return 1
        return self.split_lines(item, column)

    def split_lines(self, item: Slot | ast.expr, column: int) -> int:
        """:meth:`lines` of a line that does not fit: as many whatever comes before and after it."""
        column = min(column, WIDTH + 1)  # past the line's width every line splits alike
        key = (id(item), column)
        if key not in self.split:
            self.split[key] = self._split(item, column)
        return self.split[key]

    def _split(self, item: Slot | ast.expr, column: int) -> int:
        if isinstance(item, Slot):
            ctors = item.ctors
            if item.kind == "module":
                return self.split_lines(ctors[0], column) if len(ctors) == 1 else 1
            if id(item) in self.looped:  # nn.Sequential(*[copy for _ in range(n)]): the copy at two columns more
                copy, inner = ctors[0], column + 4
                if inner + self.width(copy) + _LOOP + 2 <= WIDTH:
                    return 3
                return 5 if inner + 4 + self.width(copy) + _LOOP <= WIDTH else 5 + self.lines(copy, inner + 4, 0, 0)
            return self._split_items([(0, ctor) for ctor in ctors], column)
        if isinstance(item, Child):
            child = _home(self.classes, item)
            if child is None or not child.inline:  # a call of the child's class
                return 1
            # nn.Sequential( / OrderedDict( / its layers / ) / ): each layer at the column of this use
            layers = [(len(n) + 1, slot) for n, slot in child.representative.slots.items() if slot.ctors]
            inner = column + 4
            if inner + self.chain_width[child.id] - len("nn.Sequential()") <= WIDTH:
                return 3
            return 2 + self._split_items(layers, inner)
        if isinstance(item, ast.Call) and not constant_value(item)[0]:
            return self._split_items(_call_items(item), column)
        return 1  # a literal (the class may write a name), or an expression counted as one line

    def _split_items(self, items: list[tuple[int, Any]], column: int) -> int:
        """The least lines of a bracket pair opened at ``column`` that does not fit on its line, holding ``items``
        (the columns of each one's ``name=`` and it): its contents on one line when they may fit, else one item per
        line, each split as it needs."""
        inner = column + 4
        if not items:
            return 1
        if len(items) == 1:
            prefix, item = items[0]
            return 2 + self.lines(item, inner, prefix, 0)
        if inner + _joined([(prefix, self.width(item)) for prefix, item in items]) <= WIDTH:
            return 3
        return 2 + sum(self.lines(item, inner, prefix, 1) for prefix, item in items)

    def width(self, e: Slot | ast.expr) -> int:
        """The least columns of a node's constructors written flat (its one constructor, its copies in a container,
        one copy when they may be written as a comprehension) or of one constructor: more than :data:`WIDTH` when
        it cannot fit on a line."""
        if isinstance(e, Slot):
            if id(e) not in self.widths:
                ctors = e.ctors
                if e.kind == "module" and len(ctors) == 1:
                    self.widths[id(e)] = self.width(ctors[0])
                elif id(e) in self.looped:
                    self.widths[id(e)] = self.width(ctors[0]) + _LOOP + 2
                else:
                    self.widths[id(e)] = 2 + _joined([(0, self.width(ctor)) for ctor in ctors])
            return self.widths[id(e)]
        if isinstance(e, Child):
            child = _home(self.classes, e)
            if child is None:
                return 3
            return self.chain_width[child.id] if child.inline else _class_name_width(child) + 2  # `Name()`
        return _least_width(e, WIDTH + 1)

    def too_long(self, limit: int, written: int | None = None) -> Diagnostic:
        """E213 at the first use of the block whose classes have the most lines, saying how many classes it is and
        which of its parameters differ between them; at the model's largest node when its own class is longer.
        ``written``: the lines of the source written (:func:`check_written_lines`), else those counted."""
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
            slots = [s for s in classes.root.representative.slots.values() if s.ctors]
            slot = max(slots, key=lambda s: self.slot_lines(classes.root, s), default=None)
        inline = sum(1 for s in classes.structures if s.inline)
        if inline:
            notes.append(f"{inline:,} chains of layers are written out at each of their uses, nested as their blocks "
                         "nest")
        doc = _doc_lines(classes.root)
        if doc > self.total // 2:
            notes.append(f"the spec's `doc:` makes {doc:,} lines of the model's docstring")
            fix = "shorten the spec's `doc:` (model.py writes it whole)"
        else:
            fix = ("give the uses of a block the same values where they can share a class (each use with values of its "
                   "own is a class of its own)")
        count = f"{written:,}" if written is not None else f"about {self.total:,}"
        return Diagnostic(
            "E213", f"model.py would have more than {limit:,} lines" + (f" at node `{slot.name}`" if slot else ""),
            slot.node.pos if slot is not None else classes.root.units[0].pos, node=slot.name if slot else None,
            expected=f"at most {limit:,} lines of model.py ({LINES_PER_NODE} per allowed node, at least {MIN_LINES:,})",
            found=f"{count} lines in {len(own):,} class" + ("" if len(own) == 1 else "es"),
            notes=tuple(notes),
            hint=f"{fix}; if the model really is this large, raise --max-nodes (max_nodes= "
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


def _doc_lines(s: Structure) -> int:
    """The docstring's lines besides the one :data:`CLASS_LINES` counts: the spec's `doc:` after its first line (and
    the closing quotes then), and, in the model's, the lines of its ports' docs after their first."""
    unit = s.units[0]
    lines = _text_lines(unit.doc.strip()) if unit.doc else 0
    more = lines if lines > 1 else 0
    if s.is_root and unit.definition is not None:
        docs = [i.doc for i in unit.definition.inputs] + [o.doc for o in unit.definition.outputs]
        more += sum(_text_lines(doc) - 1 for doc in docs if doc)
    return more


def _text_lines(text: str) -> int:
    """The least lines a docstring writes a text in: one a line, and a line wrapped to :data:`WIDTH` columns at most
    (its characters besides white space are all written; a line not in ASCII is counted one)."""
    lines = 0
    for line in text.split("\n"):
        kept = len("".join(line.split())) if line.isascii() else 0
        lines += max(1, -(-kept // WIDTH))
    return lines


class _Loops:
    """Which repeated nodes' copies are written as one comprehension, ``[copy for _ in range(n)]``: explain writes so
    the copies of a node whose count differs between the uses, and three copies or more written alike that read no
    loop variable (``written_alike``; a copy that holds a comprehension reads ``_``). Whether copies are written
    alike is known only once they are written, so each question is asked two ways: may they be (``surely=False``:
    calls of one composite block's class, whose values the class may leave out, may), and surely are they."""

    def __init__(self, classes: Classes) -> None:
        self.classes = classes
        self.known: dict[tuple[int, bool], bool] = {}  # (id of a slot or plan, surely) -> the answer
        self.counts: dict[tuple[int, str], bool] = {}  # (structure id, node) -> its copies differ in number

    def looped(self, s: Structure, slot: Slot, surely: bool) -> bool:
        """Whether the copies of ``slot`` (of one of ``s``'s plans) may be (surely are) written as a comprehension."""
        key = (id(slot), surely)
        if key not in self.known:
            self.known[key] = self._looped(s, slot, surely)
        return self.known[key]

    def _looped(self, s: Structure, slot: Slot, surely: bool) -> bool:
        if slot.kind != "repeat":
            return False
        key = (s.id, slot.name)
        if key not in self.counts:
            self.counts[key] = len({len(p.slots[slot.name].ctors) for p in s.plans if slot.name in p.slots}) > 1
        if self.counts[key]:
            return True
        first, *others = slot.ctors
        if len(others) < 2 or self.comprehends(first) or not isinstance(first, Child) and {"_", "i"} & names_in(first):
            return False
        return all(self.alike(first, other, surely) for other in others)

    def comprehends(self, ctor: ast.expr) -> bool:
        """Whether a copy surely holds a comprehension (a chain of layers written inline, one of whose nodes'
        copies surely are one)."""
        child = _home(self.classes, ctor)
        if child is None or not child.inline:
            return False
        plan = child.plans[child.position(ctor.unit)]  # type: ignore[attr-defined]
        key = (id(plan), True)
        if key not in self.known:
            self.known[key] = any(self.looped(child, slot, True) or any(self.comprehends(c) for c in slot.ctors)
                                  for slot in plan.slots.values())
        return self.known[key]

    def alike(self, a: ast.expr, b: ast.expr, surely: bool) -> bool:
        """Whether two copies may be (surely are) written the same: the same code; calls of one composite block's
        class (surely: with the same values); one chain of layers whose uses' layers are (it is written with each
        use's values)."""
        if a is b:
            return True
        if not (isinstance(a, Child) and isinstance(b, Child)):
            return not isinstance(a, Child) and not isinstance(b, Child) and ast.dump(a) == ast.dump(b)
        home = _home(self.classes, a)
        if home is None or _home(self.classes, b) is not home:
            return False
        if not home.inline:
            return not surely or a.unit.params == b.unit.params  # type: ignore[union-attr]
        slots_a = home.plans[home.position(a.unit)].slots  # type: ignore[arg-type]
        slots_b = home.plans[home.position(b.unit)].slots  # type: ignore[arg-type]
        return slots_a.keys() == slots_b.keys() and all(
            len(slot.ctors) == len(slots_b[name].ctors)
            and all(self.alike(x, y, surely) for x, y in zip(slot.ctors, slots_b[name].ctors, strict=True))
            for name, slot in slots_a.items())



def _home(classes: Classes, ctor: ast.expr) -> Structure | None:
    """The structure a composite's copy belongs to (None for a block's constructor)."""
    return classes.of_unit.get(ctor.unit.key) if isinstance(ctor, Child) and ctor.unit is not None else None


def _class_name_width(s: Structure) -> int:
    """The least columns of the name of ``s``'s class (:func:`~vibench.compiler.emit_names.name_classes`, after
    grouping): its block's name, a variant's cut to 64 characters and its trailing ``_`` left out; one for a name
    not in ASCII (it is normalised)."""
    name = s.units[0].name
    return max(1, min(64, len(name.rstrip("_")))) if name.isascii() else 1


def _call_items(call: ast.Call) -> list[tuple[int, Any]]:
    """A constructor call's items as :func:`~vibench.compiler.codegen.layout.split` lays them out, each with the
    columns of its ``name=``; a keyword the class may leave out (torch's default, an ``inplace`` that
    ``--no-inplace`` drops) is not counted."""
    items: list[tuple[int, Any]] = [(0, a) for a in call.args]
    items += [(2 if k.arg is None else columns(k.arg) + 1, k.value) for k in call.keywords if not _droppable(k)]
    return items


def _droppable(keyword: ast.keyword) -> bool:
    return hasattr(keyword, "vb_default") or keyword.arg == "inplace"


def _joined(items: list[tuple[int, int]]) -> int:
    """The columns of items (each its prefix's and its own) written on one line, ``, `` between them."""
    return sum(prefix + width for prefix, width in items) + 2 * max(len(items) - 1, 0)


def _least_width(e: ast.expr, room: int) -> int:
    """At most the columns of the constructor ``e`` as the class writes it, and more than ``room`` when it is surely
    wider: a literal counts one column (the class may write it as a name), a keyword the class may leave out none,
    a name and an attribute their letters, a call its brackets and the ``, `` between its items."""
    least = 0
    stack: list[ast.AST] = [e]
    while stack and least <= room:
        node = stack.pop()
        if isinstance(node, ast.keyword):  # (one the class may leave out is not on the stack)
            least += 2 if node.arg is None else columns(node.arg) + 1
            stack.append(node.value)
        elif isinstance(node, ast.Call) and not isinstance(node, Child) and not constant_value(node)[0]:
            items = [*node.args, *(k for k in node.keywords if not _droppable(k))]
            least += 2 + 2 * max(len(items) - 1, 0)
            stack += [node.func, *items]
        elif isinstance(node, ast.Attribute):
            least += 1 + columns(node.attr)
            stack.append(node.value)
        elif isinstance(node, ast.Name):
            least += columns(node.id)
        else:  # a literal, or a part whose columns are not counted further
            least += 1
    return least
