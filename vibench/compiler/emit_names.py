"""The top-level names of model.py, for the emitter (:mod:`vibench.compiler.emit`): the classes' names, the
natives in an order where each is defined before it is read, and the model's name checked against the natives
its blocks bring (E106, which the pipeline asks for under ``--check`` too).

model.py defines each top-level name once: its imports, the natives of its blocks (their source, copied),
the helpers it uses, and one class per composite structure, the model's class last under the spec's
``name:``. A structure's class takes its block's name, made unique (``Stage``, ``Stage_kernel7``); the
model's name is the spec's own, so a native of that name is an error, not a rename.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from vibench.compiler.codegen.namer import MODULE_NAMES, Namespace

if TYPE_CHECKING:
    from vibench.compiler.codegen.structure import Classes, Structure
    from vibench.compiler.ir import Pos, Program, Unit


def in_definition_order(natives: list[Any]) -> list[Any]:
    """``natives`` as the blocks list them, each moved after the natives it needs while model.py defines it (a
    base class, a class attribute, a default value, an annotation, what a function it calls then reads:
    :func:`~vibench.compiler.blocks.native_order.definition_needs`): ``class ScaledAct(BaseAct)`` written before
    ``BaseAct`` stopped model.py's import with a NameError. Natives already in such an order keep it. No
    recursion: a chain of 1,100 subclasses listed last first was a RecursionError. (Natives that need each
    other are refused: :mod:`~vibench.compiler.blocks.contract`.)"""
    from vibench.compiler.blocks.native_order import definition_order, needs_of

    by_name = {_native_name(n): n for n in reversed(natives)}  # (the first of a name listed twice)
    needs = needs_of(tuple(by_name[name] for name in dict.fromkeys(_native_name(n) for n in natives)))
    order, _ = definition_order(list(needs), needs)
    return [by_name[name] for name in order]


def _native_name(native: Any) -> str:
    return native if isinstance(native, str) else str(native.__name__)


def check_top_level_names(names: list[str]) -> None:
    """The safety net behind the registry's checks (a plug-in native is refused when its name is taken):
    model.py defines each top-level name once, else a later definition would silently replace one."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RuntimeError(f"model.py would define `{name}` twice (this is a bug)")
        seen.add(name)


def name_classes(classes: Classes, program: Program) -> None:
    """Name every structure's class (the model's is the spec's ``name:``; E106 when a native takes it)."""
    names = Namespace(reserved=frozenset(MODULE_NAMES) | _builtins())
    for s in classes.structures:
        for plan in s.plans:
            for slot in plan.slots.values():
                if slot.block is not None:
                    for copy in slot.node.copies:
                        for n in slot.block.native_classes(copy.params):
                            names.reserve(n if isinstance(n, str) else n.__name__)
    if program.root.name in names:  # (the pipeline's check_model_name said so first: this is its safety net)
        from vibench.compiler.diagnostics import Diagnostic, SpecError

        pos = program.root.definition.pos if program.root.definition is not None else None
        check_model_name(program, pos)  # (E106 naming the block that brings it)
        raise SpecError([Diagnostic("E106", f"model name `{program.root.name}` is taken in model.py", pos,
                                    found=f"a block of the model defines a class `{program.root.name}`",
                                    hint=f"rename the model, e.g. `{program.root.name}Model`")])
    names.reserve(program.root.name)
    classes.root.name = program.root.name
    for s in classes.structures:  # a class never takes the name of a constructor's argument, which would hide it
        for unit in s.units:
            for name in _argument_names(unit):
                names.reserve(name)
    first: dict[tuple[str, str], Structure] = {}
    for s in classes.structures:
        if s is classes.root:
            continue
        unit = s.units[0]
        key = (unit.qualname, unit.file)
        if key not in first:
            first[key] = s
            s.name = names.take(unit.name)
        else:
            name = unit.name + _difference(first[key], s)
            s.name = names.take(name[:MAX_VARIANT_NAME].rstrip("_"))


def check_model_name(program: Program, pos: Pos | None) -> None:
    """E106 at ``pos`` (where the spec writes ``name:``) when a block of the model brings a native class or
    function of the model's name into model.py (``name: MovingAverage`` beside a ``series_decomposition``
    node): the model's class would take its name. The pipeline calls it, so that ``--check`` and the editor
    say so, not only writing model.py."""
    from vibench.compiler import registry
    from vibench.compiler.diagnostics import Diagnostic, SpecError

    name = program.root.name
    units = (*program.units, program.root)
    # The blocks used, once each (a 10,000-node chain holds three): most bring no natives, and their nodes
    # are not visited again.
    used = {node.block for unit in units for node in unit.nodes if node.kind == "primitive"}
    with_natives = {b: block for b in used if (block := registry.get(b)) is not None and block.natives}
    if not with_natives:
        return
    for unit in units:
        for node in unit.nodes:
            block = with_natives.get(node.block) if node.kind == "primitive" else None
            if block is None:
                continue
            if any(_native_name(n) == name for copy in node.copies for n in block.native_classes(copy.params)):
                raise SpecError([Diagnostic(
                    "E106", f"model name `{name}` is taken in model.py", pos,
                    found=f"block `{block.name}` (node `{node.name}`) brings the native `{name}` into model.py",
                    hint=f"rename the model, e.g. `{name}Model`")])


def _argument_names(unit: Unit) -> list[str]:
    """The names a unit's class may take as constructor arguments: its parameters, `let` values and input sizes
    (``__init__(self, Stage: int)`` made the constructor's ``Stage()`` call an int)."""
    lets = [let.name for let in unit.definition.lets] if unit.definition is not None else []
    return [name for name, _ in unit.params] + lets + [name for name, _ in unit.const_symbols]


MAX_VARIANT_NAME = 64
"""Characters of a second structure's class name before the number `take` may add (`_2`): a block name of
up to 48 (E106) and as much of the difference as fits, so `self.<32-character node> = <Class>()` stays
within the line width (a bare call has nothing to split at)."""


def _difference(base: Structure, s: Structure) -> str:
    """How structure ``s`` differs from the first one of its block: ``_transition``, ``_kernel7``..."""
    from vibench.compiler.codegen.structure import env_of

    mine = [env_of(u) for u in s.units]
    theirs = [env_of(u) for u in base.units]
    for name in mine[0]:
        values = {repr(e.get(name)) for e in mine}
        others = {repr(e.get(name)) for e in theirs}
        if len(values) == 1 and not values & others:
            value = mine[0][name]
            if value is True:
                return f"_{name}"
            if value is False:
                return f"_no_{name}"
            text = f"neg{-value}" if isinstance(value, int | float) and value < 0 else str(value)
            return f"_{name}_{re.sub(r'[^0-9A-Za-z]+', '_', text).strip('_')[:20]}"
    return "_variant"


def _builtins() -> frozenset[str]:
    import builtins

    return frozenset(dir(builtins))
