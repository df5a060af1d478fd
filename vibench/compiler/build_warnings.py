"""Warnings about a unit's parameters, and what its outputs and reference renames come to, in the shapes pass.

:func:`warn_unused` (run by elaboration) adds W105: a declared parameter that no ``${...}`` reads and
that the block of no ``inherit: true`` node declares; once per definition, before the nodes are built, so
that it comes with their errors. The
:class:`BuildWarnings` part of :class:`~vibench.compiler.unit_builder.TypeChecker` adds W104 (a
parameter the user set that nothing built reads — no expression of a node built, no branch of `metadata:` taken —
and no ``inherit: true`` node passed on; W101 for such a key the reference ignores; for the root
unit, once its nodes are typed) and W108 (a node only optional ports the chosen blocks lack would read).
It also gives the
values an output ``from: node.*`` returns, and the unit's ``reference.state_dict_renames`` (its own,
or its single-copy components' scoped to their nodes). It reads the definition and the built nodes;
it writes only diagnostics. What reads a parameter (nodes not built, `metadata:`, PHM-Vibench's references) is
found by :mod:`vibench.compiler.unread_params`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborated import Elaborated, Failed, expr_diag
from vibench.compiler.expr import ExprError, parse_value, template_names
from vibench.compiler.ir import Node, NodeDef, OutputDef, ParamDecl, Pos, Ref, Template, TensorType, UnitDef, ValueRef
from vibench.compiler.unread_params import (
    KeyColumns,
    idle_readers,
    line_col,
    metadata_reads_apart,
    needed_by_reference,
    set_in,
    stem,
    user_file,
)
from vibench.compiler.unread_params import metadata_reads as metadata_reads  # (split out; named here too)

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


class BuildWarnings:
    """The warning and output methods of :class:`~vibench.compiler.unit_builder.TypeChecker`, which sets
    the state below (see its ``__init__``)."""

    owner: _Specializer
    elaborated: Elaborated
    params: Mapping[str, Any]
    env: Mapping[str, Any]
    aliases: dict[str, ValueRef]
    failed: set[str]
    nodes: list[Node]
    node_index: dict[str, Node]
    inherited: frozenset[str]
    groups: Mapping[str, tuple[str, ...]]

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...
        def value(self, ref: Ref, node: str | None) -> ValueRef: ...
        def evaluate(self, value: Any, env: Mapping[str, Any], pos: Pos | None, where: str, node: str) -> Any: ...

    def warn_unread(self, udef: UnitDef) -> None:
        """W104 for a parameter the user set (in `with:` of the file compiled, a PHM-Vibench config, or with the
        compile) that nothing built here reads: no expression of a node built, of an input, an output, a `let` or a
        check, no branch of `metadata:` taken, and no `inherit: true` node passed it on. A node switched off reads
        nothing: M_01_ISFM's `fusion_strategy` without `ensemble_backbones`, or `task_head` beside `task_configs`, has
        no effect (the reference, which hands one namespace to every component, ignores it too). W101 instead, with
        the template's reason, for a key its reference ignores (`reference: ignored_keys`) that no chosen component
        reads. Linear in the parameters and the nodes: 16,000 values each read only by a node not built were looked
        for among all such nodes, one by one (13 s)."""
        from vibench.compiler.resolve_decls import expression_names
        from vibench.compiler.resolve_extends import ignored_key_warning

        if not any(nd.inherit for nd in udef.nodes):
            return  # W105 covers unused parameters of a spec without inherit
        built = {node.name for node in self.elaborated.nodes if node.mode != "off"}
        built |= {name for name, keys in self.groups.items() if keys}  # `for_each` over a mapping: its copies' keys
        idle = [nd for nd in udef.nodes if nd.name not in built]
        used, _ = expression_names(replace(udef, nodes=tuple(nd for nd in udef.nodes if nd.name in built),
                                           metadata=None))
        for nd in idle:  # what switched it off (or left it out) was read
            used |= template_names(nd.when) | template_names(nd.repeat) | template_names(nd.for_each)
        own_file = user_file(udef, self.owner.library)
        # W105 (warn_unused) already said so of a parameter that no block of an `inherit: true` node declares.
        said = {d.pos for d in self.owner.diags.items if d.code == "W105"}
        unread = [decl for decl in udef.params if not (decl.pos is not None and decl.pos in said)
                  and (set_in(decl, own_file) or decl.name in udef.overridden)
                  and decl.name not in used and decl.name not in self.inherited]
        if not unread:
            return
        used |= metadata_reads_apart(udef.metadata, self.env, {d.name for d in unread})
        unread = [decl for decl in unread if decl.name not in used and decl.name in self.params]
        if not unread:
            return
        # said in the order they are written (the scoped ones come in the order their components declare them)
        unread.sort(key=lambda d: line_col(d.pos if set_in(d, own_file) else udef.overridden[d.name]))
        chosen = [n for n in self.nodes if n.kind == "composite"]
        takers = [stem(n.block) for n in chosen]
        found = ("the components here: " + ", ".join(takers)) if takers else None
        picked = set(takers) | {stem(c.block) for n in chosen for c in n.copies if c.block}
        ignored = dict(udef.reference.ignored_keys) if udef.reference is not None else {}
        readers = idle_readers(idle, {d.name for d in unread})
        needed: dict[str, str] | None = None  # key -> the reference that needs it, made at need
        texts = KeyColumns(self.owner.diags.sources)
        for decl in unread:
            by_user = set_in(decl, own_file)
            pos = decl.pos if by_user else udef.overridden[decl.name]
            what = f"`{decl.name}`" + (" (from --set or vibench.build)" if not by_user else "")
            value = self.params[decl.name]
            # A null given to a component chosen here that declares the key is said as a null, whether or not the
            # reference ignores the key: "pick one of them" would name the component already picked.
            taken = value is None and any(stem(t) in picked for t in decl.scope)
            if decl.name in ignored and not taken:  # its reference ignores it, and so does every component chosen
                if needed is None:
                    needed = needed_by_reference(udef, chosen, self.params)
                words = None if by_user else self.owner.library
                at = texts.key_pos(pos, decl.name) if by_user else pos  # at its key, as a key nothing declares
                hint = (_needed_hint(needed[decl.name]) if decl.name in needed
                        else _unread_hint(decl, picked) if decl.scope else None)
                self.owner.diags.add(replace(ignored_key_warning(decl.name, udef, ignored[decl.name], at, words),
                                             hint=hint))
            elif value is not None and decl.name in readers:
                off = readers[decl.name]
                self.owner.diags.add(Diagnostic(
                    "W104", f"{what} has no effect here: this {udef.name} does not build "
                    + ("the node that reads it" if len(off) == 1 else "the nodes that read it"), pos,
                    severity="warning", found=found, hint=_idle_hint(off)))
            elif value is not None:
                self.owner.diags.add(Diagnostic(
                    "W104", f"{what} has no effect here: no component of this {udef.name} reads it", pos,
                    severity="warning", found=found, hint=_unread_hint(decl, picked)))
            elif decl.scope:  # a null no component takes: each keeps its default
                self.owner.diags.add(Diagnostic(
                    "W104", f"{what} set to null has no effect here: no component of this {udef.name} takes "
                    "null for it, and each keeps its own default", pos, severity="warning", found=found,
                    hint=f"give `{decl.name}` a value (the reference may read null as one of its own: "
                    "B_08_PatchTST's `activation: null` is gelu there), or remove it"))

    def warn_unread_nodes(self, udef: UnitDef, outputs: list[tuple[str, ValueRef, TensorType]]) -> None:
        """W108 for a node whose only readers take it through an optional port (``x?: node``) that the
        block chosen here does not have: it still runs, and nothing reads its value (E403 refuses a
        node no output needs before the blocks are known; this is the same after). Once per node."""
        live = {ref.node for _, ref, _ in outputs}
        for node in reversed(self.nodes):  # built in order: a reader comes after what it reads
            if node.name in live:
                live.update(v.node for _, v in node.inputs)
        definitions = {nd.name: nd for nd in udef.nodes}
        for node in self.nodes:
            if node.name not in live:
                nd = definitions.get(node.name)
                self.owner.diags.add(Diagnostic(
                    "W108", f"node `{node.name}` runs, but nothing reads it here",
                    nd.pos if nd is not None else udef.pos, severity="warning", node=node.name,
                    found="read only through optional ports (`port?:`) that the blocks chosen here do not have",
                    hint="switch it off where those blocks are chosen (`when:`), as E_com_00_PE's first_channel"))

    def renames(self, udef: UnitDef) -> tuple[tuple[str, str], ...]:
        """`reference.state_dict_renames`: [pattern, replacement] pairs, or one `${...}` giving them.

        A spec that declares none takes its single-copy components' own renames, scoped to the node
        (`^(weight|bias)` of the head becomes `^task_head\\.(weight|bias)`): a composite of library
        components loads the reference composite's checkpoint without restating them.
        """
        if udef.reference is None or not udef.reference.state_dict_renames:
            return self.component_renames()
        value = udef.reference.state_dict_renames
        if isinstance(value, str):
            where = "`reference.state_dict_renames`"
            at = udef.renames_pos or udef.pos  # the `${...}` (a template's own, for a spec that extends it)
            try:
                value = self.evaluate(parse_value(value, at), self.env, at, where, udef.name)
            except ExprError as err:
                raise self.error(expr_diag(err, at, where)) from None
            pairs = isinstance(value, list) and all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(s, str) for s in r) for r in value)
            if not pairs:
                raise self.error(Diagnostic("E210", f"{where} must give [pattern, replacement] pairs of strings",
                                            at, found=clip(repr(value), 120)))
            from vibench.compiler.rename_rules import rename_problem

            for pattern, replacement in value:
                problem = rename_problem(pattern, replacement)
                if problem is not None:
                    raise self.error(Diagnostic("E210", f"{where}: {problem}", at,
                                                found=clip(repr([pattern, replacement]), 200)))
        return tuple((pattern, replacement) for pattern, replacement in value)

    def component_renames(self) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for node in self.nodes:
            unit = node.copies[0].unit if len(node.copies) == 1 and not node.parallel else None
            for pattern, replacement in unit.state_dict_renames if unit is not None else ():
                if pattern.startswith("^"):  # an unanchored rule cannot be scoped to the node
                    out.append((f"^{re.escape(node.name)}\\.{pattern[1:]}", f"{node.name}.{replacement}"))
        return tuple(out)

    def every_output(self, out: OutputDef) -> list[tuple[str, ValueRef, TensorType]]:
        name = out.ref.node
        if self.failed & {name}:
            raise Failed()
        if name in self.groups:  # `for_each` over a mapping: each copy's first output, under its key
            return [(key, self.value(Ref(name, key, out.ref.pos), None), self.node_index[key].outputs[0][1])
                    for key in self.groups[name]]
        target = self.node_index.get(name)
        if target is None or name in self.aliases:
            raise self.error(Diagnostic("E405", f"`{name}.*` names every output of a node, and `{name}` is "
                                        + ("switched off" if name in self.aliases else "not a node"), out.ref.pos,
                                        hint=f"return it as `{name}`"))
        if self.failed & {name}:
            raise Failed()
        return [(port, ValueRef(name, port), t) for port, t in target.outputs]


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
    if takers is None:
        return  # a block chosen by `${...}` may read any of them (W104 says when none does)
    declared = {d.name for d in udef.params} | {let.name for let in udef.lets} | {"i", "item", "key"}
    # A bare name in an input's shape that no parameter has is a size symbol (`B`, `L`), declared by that use: no
    # typo. One only an output's promise writes is a typo's likely place (it binds any size): still suggested.
    symbols = {dim for d in udef.inputs if not isinstance(d.shape, Template) for dim in d.shape if isinstance(dim, str)}
    for decl in udef.params:
        if decl.name in used or decl.name in takers:  # `inherit: true` passes it by name to a block declaring it
            continue
        if decl.scope:  # offered by a slot's components, not declared here (W104 says when a set one is unread)
            continue
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


def _needed_hint(owner: str) -> str:
    return (f"vibench does not need it, but PHM-Vibench's {owner} cannot be built without it: keep it where the "
            "config must also run in PHM-Vibench, remove it otherwise")


def _idle_hint(readers: list[NodeDef]) -> str:
    """W104's hint for a parameter that only nodes not built read: which nodes, and the `when:` that leaves one out."""
    names = ", ".join(f"`{nd.name}`" for nd in readers[:4]) + (f" and {len(readers) - 4} more" if len(readers) > 4
                                                                else "")
    why = (f" (`when: {readers[0].when.text}`)" if len(readers) == 1 and isinstance(readers[0].when, Template)
           else "")
    return f"it is read only by node{'s' if len(readers) > 1 else ''} {names}, not built here{why}; remove it"


def _unread_hint(decl: ParamDecl, picked: Collection[str] = ()) -> str:
    """How to fix a value that no component reads: the components that would, other than those chosen here."""
    if not decl.scope:
        return "it reaches only the components that declare it; remove it, or pick a component that takes it"
    takers = [name for name in (t.rsplit("/", 1)[-1] for t in decl.scope) if stem(name) not in picked]
    if not takers:
        return "remove it"
    shown = ", ".join(takers[:6]) + (f" and {len(takers) - 6} more" if len(takers) > 6 else "")
    return f"it is read by {shown}; remove it, or pick one of them"
