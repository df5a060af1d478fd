"""W105: a declared parameter that no ``${...}`` reads and that the block of no ``inherit: true`` node declares.

:func:`warn_unused` (run by elaboration) says so once per definition, before the nodes are built, so that it comes
with their errors; :func:`forgive_unused` (run by the shapes pass) takes it back where a node's block is unknown.
Both write only diagnostics. (W104, a value set that nothing built reads, is :mod:`vibench.compiler.build_warnings`'s.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Template, UnitDef

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


def warn_unused(owner: _Specializer, udef: UnitDef) -> None:
    """W105, once per definition, for a declared parameter that no `${...}` reads (usually a typo
    where it should be used). A warning, so that the file's other problems are reported with it."""
    from vibench.compiler.diagnostics import closest
    from vibench.compiler.resolve_decls import expression_names

    key = (udef.qualname, udef.file)
    if key in owner.warned_unused:
        return
    owner.warned_unused.add(key)
    used, inherits = expression_names(udef)
    takers = _inherit_takers(owner, udef) if inherits else {}
    own = udef.own  # a spec's own parameters beside `extends:`: `inherit: true` passes none of them on
    if takers is None and not own:
        return  # a block chosen by `${...}` may read any of them (W104 says when none does)
    declared = {d.name for d in udef.params} | {let.name for let in udef.lets} | {"i", "item", "key"}
    # A bare name in an input's shape that no parameter has is a size symbol (`B`, `L`), declared by that use: no
    # typo. One only an output's promise writes is a typo's likely place (it binds any size): still suggested.
    symbols = {dim for d in udef.inputs if not isinstance(d.shape, Template) for dim in d.shape if isinstance(dim, str)}
    for decl in udef.params:
        if takers is None and decl.name not in own:
            continue
        if decl.name in used or (takers and decl.name in takers and decl.name not in own):  # passed by name
            continue
        if decl.scope:  # offered by a slot's components, not declared here (W104 says when a set one is unread)
            continue
        if decl.given:  # set by a `with:` that also replaced every value reading it (E201 when given with --set)
            owner.diags.add(Diagnostic(
                "W104", f"`{decl.name}` has no effect here: no value of this {udef.name} reads it", decl.pos,
                severity="warning", hint="the values that read it are given values of their own (in this `with:` or "
                "one extending it); remove it, or read it there (`${" + decl.name + "}`)"))
            continue
        if decl.name in own:  # (its file has no nodes: no typo there to point at)
            owner.diags.add(Diagnostic("W105", f"parameter `{decl.name}` is declared but never used", decl.pos,
                                       severity="warning", hint="a parameter declared beside `extends:` is read only "
                                       "by this file's `with:` and `metadata:`: use it there as `${" + decl.name
                                       + "}`, or remove it"))
            continue
        assert takers is not None  # (None only with own parameters, said above)
        typo = closest(decl.name, used - declared - symbols)
        hint = f"`{typo}` is used but not declared; did you mean `{decl.name}` there?" if typo else None
        meant = closest(decl.name, set(takers) - declared)
        if meant is not None and typo is None:
            hint = (f"did you mean `{meant}`? `inherit: true` passes a parameter by name, and `{takers[meant]}` "
                    f"takes `{meant}`")
        owner.diags.add(Diagnostic("W105", f"parameter `{decl.name}` is declared but never used",
                                   decl.pos, severity="warning",
                                   hint=hint or "use it as `${" + decl.name + "}`, or remove it"))


def _inherit_takers(owner: _Specializer, udef: UnitDef) -> dict[str, str] | None:
    """Each parameter that the block of some `inherit: true` node of ``udef`` declares -> that block's
    name; None when a block is not known before elaboration (`block: ${...}`, a name that fails: its
    node reports it), so that any parameter may be read."""
    from vibench.compiler.diagnostics import SpecError

    takers: dict[str, str] = {}
    for nd in udef.nodes:
        if not nd.inherit:
            continue
        if not isinstance(nd.block, str):
            return None
        try:
            block = owner.known_block(nd.block, udef, nd.block_pos)
        except SpecError:
            return None
        if block is None:
            return None
        names = [d.name for d in block.params] if isinstance(block, UnitDef) else list(block.Params.model_fields)
        for name in names:
            takers.setdefault(name, nd.block)
    return takers


def forgive_unused(owner: _Specializer, udef: UnitDef, node: str) -> None:
    """Take back W105 for the parameters that node ``node`` of ``udef`` names as plain values
    (``out_channels: p``) when its block is unknown (E110, E205): a plain name reads a parameter only
    where the block's parameter takes no text, which nobody can tell now; the error says what is wrong."""
    from vibench.compiler.resolve_decls import _names_written

    named: set[str] = set()
    for nd in udef.nodes:
        if nd.name == node:
            named |= set().union(*(_names_written(value) for _, value, _ in nd.params))
    for decl in udef.params:
        if decl.name in named:
            owner.diags.drop("W105", decl.pos)
