"""Why a block that is not built-in is kept out of the registry's catalogue, for :mod:`vibench.compiler.registry`:
the block contract, a name a built-in or another registered block holds, natives whose names model.py already
defines, imports its natives may not make (:func:`_admission_problems`), natives named like another admitted
plug-in block's (:func:`_native_clashes`); whatever such a check raises on a
plug-in's class as the reason to refuse it (:func:`_checked`); and where a refused class is defined, the note every
refusal carries (:func:`_located`). Separate from the registry because it holds no state: the catalogue is passed
in (``blocks``), and the registry decides what to do with the problems (register, raise, or warn W121).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.registry_index import _index, _is_builtin
from vibench.compiler.registry_plugins import (
    _class_name,
    _defined_at,
    _exception,
    _import_problems,
    _is_vibench,
    _model_py_names,
    _plugin_natives,
    _same_class,
    _shown_block,
)

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.blocks.contract import Problem
    from vibench.compiler.registry_plugins import _Source


def _located(cls: type) -> tuple[str, ...]:
    """A note of where a refused plug-in class is defined (``FILE:LINE``), when its source can be found."""
    where = _defined_at(cls)
    return (f"{_class_name(cls)} is defined at {where}",) if where else ()


def _checked(cls: type, natives: dict[str, str], blocks: dict[str, Block]) -> list[Problem]:
    """:func:`_admission_problems`, with whatever a check raises on this class as the reason to refuse it:
    one block that breaks a check in a way nobody foresaw (a property that raises, a source file no
    decoder reads) costs only itself."""
    from vibench.compiler.blocks.contract import FIX, Problem
    from vibench.compiler.plugin_calls import interrupts

    try:
        return _admission_problems(cls, natives, blocks)
    except BaseException as err:  # noqa: BLE001 - the plug-in's own failure, whatever its class: W121, never raised
        if interrupts(err):
            raise
        return [Problem(f"checking it raised {_exception(err)}", FIX)]


def _admission_problems(cls: Any, natives: dict[str, str], blocks: dict[str, Block]) -> list[Problem]:
    """What keeps a block that is not built-in out of the catalogue: the contract, a name a built-in
    or another registered block holds, natives whose names model.py already defines (``natives``: the
    built-ins', name -> module; ``blocks``: the catalogue). Other plug-ins' natives are
    :func:`_native_clashes`'s."""
    from vibench.compiler.blocks.contract import Problem, contract_problems, native_problems

    problems = contract_problems(cls)
    if problems:
        return problems
    if cls.name in _index() or _is_builtin(blocks.get(cls.name)):
        return [Problem("a built-in block has that name",
                        f"the built-in `{cls.name}` is used; rename the plug-in's block")]
    held = blocks.get(cls.name)
    if held is not None and not _same_class(type(held), cls):
        return [Problem(f"the name is taken by {_class_name(type(held))}", "rename one of the blocks")]
    taken = _model_py_names()
    for native in cls.natives:
        if isinstance(native, str) or _is_vibench(native):
            continue  # a built-in native itself: model.py holds it once
        name = native.__name__
        why = f"a built-in native ({natives[name]})" if name in natives else taken.get(name)
        if why:
            problems.append(Problem(f"its native `{name}` has the name of {why}",
                                    "rename the class (model.py defines each name once)"))
    return problems + native_problems(cls) + _import_problems(cls)


def _native_clashes(admitted: dict[type, _Source]) -> dict[type, list[Problem]]:
    """Why each of the plug-in classes ``admitted`` (those every other check admits, with where they come from)
    is refused for a native named like another one's native (not the same object): model.py defines each name
    once, so neither is used. Only these count: a refused block's natives never reach model.py."""
    from vibench.compiler.blocks.contract import Problem

    holders: dict[str, list[tuple[type, Any]]] = {}  # native name -> (class, native), in the entry points' order
    for cls in admitted:
        for native in _plugin_natives(cls):
            holders.setdefault(str(getattr(native, "__name__", "")), []).append((cls, native))
    clashes: dict[type, list[Problem]] = {}
    for cls, source in admitted.items():
        for native in _plugin_natives(cls):
            name = str(getattr(native, "__name__", ""))
            rivals = list(dict.fromkeys(c for c, n in holders[name] if n is not native and c is not cls))
            if not rivals:
                continue
            whose = "another plug-in's" if any(admitted[c] != source for c in rivals) else "another block's"
            named = " and ".join(f"block {_shown_block(c)} of {admitted[c]}" for c in rivals)
            clashes.setdefault(cls, []).append(Problem(
                f"its native `{name}` has the name of {whose} native, of {named}",
                "neither block is used: rename the class (model.py defines each name once), or uninstall one of "
                "the distributions"))
    return clashes
