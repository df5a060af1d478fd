"""What E303 ("must be known at compile time") says, and how it is fixed.

The shapes pass (:meth:`vibench.compiler.shapes._Specializer.report_need`) reports E303 when a rule needs a
dimension as a number and the input shape leaves it free. The fix depends on why it is free, and this module
words each case:

* most often the input's size is simply unbound: give it a number in `inputs:` or bind it (`--input`);
* a channels-first block reads the time axis of an input with a `layout:` (:func:`time_axis_hint`);
* the node compares an explicit size parameter with the free dimension (`in_features: 8` against the last
  dimension `L - 2`): with the size bound the check is E301, whose own hint ("linear maps the last dimension;
  flatten or pool") says what is wrong (:func:`need_diagnostic` with the ``mismatch`` a probe found);
* the error was moved onto a user's setting (a `with:` key, a PHM-Vibench config's key, `--set`) by
  :mod:`vibench.compiler.blame`: that setting is what to change (:func:`blamed_needs`) — a config that extends a
  template has no `inputs:` to bind, and a PHM-Vibench config no nodes to pool with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.caller_words import CallerWords
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos, UnitDef
from vibench.compiler.symbolic_errors import NeedConcrete

if TYPE_CHECKING:
    from vibench.compiler.blame import Blamed

FREE_FOUND = "it depends on {}, which the input shape leaves free"
"""E303's `found`, with the free symbols named (`` `L` ``): words only; the symbols go with it as data
(:class:`NeedDiagnostic`)."""


@dataclass(frozen=True)
class NeedDiagnostic(Diagnostic):
    """E303 as :func:`need_diagnostic` makes it, with the symbols it needs known as data: :func:`blamed_needs` names
    them in its hint without reading them back from the words of `found` (``replace``, as blame moves an error to a
    setting, keeps them)."""

    free: tuple[str, ...] = ()


def need_diagnostic(need: NeedConcrete, missing: list[str], root: UnitDef, words: CallerWords,
                    mismatch: Diagnostic | None = None) -> Diagnostic:
    """E303 for ``need`` at the root ``root``, whose ``missing`` symbols nothing binds. ``mismatch``: the E301 its
    node reports at one of its parameters once those symbols are numbers (see the module docstring)."""
    pos = need.pos if isinstance(need.pos, Pos) else None
    names = _quoted(missing)
    bind = "`inputs=`" if words.in_python else "--input"
    example = _bind_example(root, missing, words.in_python)
    hint = time_axis_hint(root, need.node, missing)
    compared = _compared(root, need.node, mismatch) if hint is None and mismatch is not None else None
    notes: tuple[str, ...] = ()
    if compared is not None and mismatch is not None:
        expected = mismatch.expected or "it"
        notes = (f"bound to another size, {names} makes node `{need.node}` fail its check: {mismatch.message} "
                 f"(E301)",)
        hint = (f"`{compared[0]}` at line {compared[1].line} asks for {expected} here"
                + (f": {mismatch.hint}; or give" if mismatch.hint else "; give")
                + f" {names} the size that makes it {expected}, in `inputs:` or with {bind}{example}")
    return NeedDiagnostic(
        "E303", f"{need_text(need.what, missing)} must be known at compile time", pos, node=need.node,
        found=FREE_FOUND.format(names), notes=notes,
        hint=hint or f"give {names} a number in `inputs:` (or make it a parameter), bind it with {bind}{example}, "
                     "or reduce that dimension first (e.g. pooling to a fixed size)", free=tuple(missing))


def _quoted(symbols: Iterable[str]) -> str:
    return ", ".join(f"`{s}`" for s in symbols)


def need_text(what: str, symbols: list[str]) -> str:
    """What a NeedConcrete needs, each symbol said once: a block's words may name the dimension (`the input length
    L (it sizes the weights)`) before ``ctx.concrete`` adds it, quoted (`` `L` ``); the quoted one then stands in
    the words' place.

    >>> need_text("the input length L (it sizes the weights) `L`", ["L"])
    'the input length `L` (it sizes the weights)'
    >>> need_text("the last dimension (in_features) `L`", ["L"])
    'the last dimension (in_features) `L`'
    """
    for symbol in symbols:
        quoted = f" `{symbol}`"
        at = what.find(quoted)
        word = re.search(rf"(?<![`\w]){re.escape(symbol)}(?![`\w])", what[:at]) if at > 0 else None
        if word is not None:
            what = what[:word.start()] + f"`{symbol}`" + what[word.end():at] + what[at + len(quoted):]
    return what


def _bind_example(root: UnitDef, missing: list[str], in_python: bool) -> str:
    """How to bind the first input whose shape names a ``missing`` symbol (`` (`--input x=<B>,1,<L>` ...)``)."""
    for decl in root.inputs:
        shape = decl.shape if isinstance(decl.shape, tuple) else ()
        if any(d in missing for d in shape if isinstance(d, str)):
            dims = [f"<{d}>" if isinstance(d, str) else str(d) if isinstance(d, int) else "?" for d in shape]
            return (f" (`inputs={{{decl.name!r}: ({', '.join(dims)})}}` with numbers)" if in_python
                    else f" (`--input {decl.name}={','.join(dims)}` with numbers)")
    return ""


def _compared(root: UnitDef, node: str | None, mismatch: Diagnostic) -> tuple[str, Pos] | None:
    """(the parameter, where it is written) of ``root``'s node ``node`` at which ``mismatch`` stands: a size the user
    wrote (`in_features: 8`), which the rule compares with the free dimension; None when it stands elsewhere."""
    nd = next((n for n in root.nodes if n.name == node), None)
    for name, _, pos in nd.params if nd is not None else ():
        if pos is not None and pos == mismatch.pos:
            return name, pos
    return None


def time_axis_hint(root: UnitDef, node: str | None, missing: list[str]) -> str | None:
    """For a node of ``root`` whose block reads channels (see :mod:`~vibench.compiler.roles`) and needs a
    free symbol that is an input's time axis by its `layout:` (a shape with a layout is written [B, L, C]):
    the axes are swapped, so binding the length is the wrong fix (``x [B, L, 4], layout: BLC`` into a
    ``conv1d`` reads L as its channels; with ``[B, 128, 4]`` it is W107)."""
    from vibench.compiler.roles import CHANNELS_FIRST, RECURRENT

    nd = next((n for n in root.nodes if n.name == node), None)
    if nd is None or not isinstance(nd.block, str) or nd.block not in CHANNELS_FIRST | RECURRENT:
        return None
    by_name = {n.name: n for n in root.nodes}
    read: set[str] = set()  # the inputs the node's value comes from, through nodes before it (a dropout, a norm)
    todo = [ref.node for _, ref in nd.inputs]
    while todo:
        name = todo.pop()
        if name in read:
            continue
        read.add(name)
        if name in by_name:
            todo += [ref.node for _, ref in by_name[name].inputs]
    for decl in root.inputs:
        shape = decl.shape if isinstance(decl.shape, tuple) else ()
        if decl.name not in read:  # another input's (one read through its `as:` adapter has its axes swapped)
            continue
        if decl.layout is not None and len(shape) == 3 and shape[1] in missing:
            time = shape[1]
            if nd.block in RECURRENT:
                what, order = "its features from the last dimension", "BLC"
            else:
                what, order = "its channels from dimension 1", "BCL"
            return (f"`{time}` is the time axis of input `{decl.name}` by its `layout:`, and `{nd.block}` reads "
                    f"{what}: transpose first (`{{block: transpose, dim0: 1, dim1: 2}}`), or read the input "
                    f"`as: {order}`")
    return None


def blamed_needs(located: Iterable[Blamed], data: Any, given: Mapping[str, Any], words: CallerWords,
                 config: bool) -> tuple[Diagnostic, ...]:
    """The diagnostics of ``located`` (what :func:`vibench.compiler.blame.blame_settings` made of them) with each E303
    that it blamed on a user's setting hinting at that setting: the `with:` key of the document ``data`` (a key of
    the `model:` section when ``config``, a PHM-Vibench config) or the value ``given`` with the compile (``--set``,
    Python's keywords) that leaves the dimension free. The hint of the shapes pass (`inputs:`, pooling) is for a
    file with inputs and nodes of its own, which neither is."""
    settings = data.get("with") if isinstance(data, dict) else None
    settings = settings if isinstance(settings, dict) else {}  # (`with: 3` is E102)
    out = []
    for after, setting in located:
        if after.code == "E303" and setting is not None:
            key = setting.key
            by_value = key in given  # a value given for it replaces the `with:` key's: that is the one read
            value = given[key] if by_value else settings[key]
            where = (f" (`{key}=...`)" if words.in_python else f" (`--set {key}=...`)") if by_value else \
                " in the `model:` section" if config else " under `with:`"
            free = after.free if isinstance(after, NeedDiagnostic) else ()
            names = _quoted(free) or "the size"
            bind = "`inputs=`" if words.in_python else "--input"
            change = (f"set `{key}`{where} to a number: null leaves {names} free, and the template needs it as a "
                      "number" if value is None else f"change `{key}`{where}: with this value the template needs "
                      f"{names} as a number, which the input shape leaves free")
            after = replace(after, hint=f"{change}; or bind {names} with {bind}")
        out.append(after)
    return tuple(out)
