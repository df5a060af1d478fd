"""Warnings about a unit's parameters, and what its outputs and reference renames come to, in the shapes pass.

(W105, a declared parameter no ``${...}`` reads, is :mod:`vibench.compiler.unused_params`'s.) The
:class:`BuildWarnings` part of :class:`~vibench.compiler.unit_builder.TypeChecker` adds W104 (a
parameter the user set that nothing built reads — no expression of a node built, no branch of `metadata:` taken —
and no ``inherit: true`` node passed on to a component that reads it (a composite's ``Unit.unread``, which the
same walk gives each unit with such nodes); W101 for such a key the reference ignores; for the root
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

from vibench.compiler.chosen_components import ChosenComponents, KeyColumns
from vibench.compiler.dead_keys import DeadReader, ReadersMemo, dead_keys, dead_readers, written
from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborated import Elaborated, Failed, expr_diag
from vibench.compiler.expr import ExprError, contains_template, parse_value
from vibench.compiler.ir import Node, NodeDef, OutputDef, ParamDecl, Pos, Ref, TensorType, UnitDef, ValueRef
from vibench.compiler.phm_guide import ALIASES
from vibench.compiler.phm_reference import needed_hint
from vibench.compiler.unread_hints import (
    block_key_warning,
    dead_key_warning,
    fallback_warning,
    idle_and_passed_warning,
    idle_hint,
    not_built,
    passed_key_warnings,
    passed_on,
    shown_value,
    table_hint,
    unread_hint,
    unused_by,
)
from vibench.compiler.unread_params import (
    built_reads,
    extension_takers,
    fallback_readers,
    idle_readers,
    line_col,
    metadata_reads_apart,
    needed_by_reference,
    passed_unread,
    set_in,
    stem,
    user_file,
    value_reader,
    within_library,
)
from vibench.compiler.unread_params import metadata_reads as metadata_reads  # (split out; named here too)

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


_ALIASED = frozenset(ALIASES.values())  # the parameters a model guide key is read as (`in_channels`: `input_dim`)


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
    _dead: dict[str, dict[str, str | None]] | None = None  # (:meth:`dead`)

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
        reads. A value that a chosen component declares is unread when its node gives it one of its own (a task of
        `task_configs`), a null when it takes none: W104 says so, naming that node or the value the component keeps.
        Each names the value as it came (`--set`, Python, the metadata table, a model guide key), and no hint says
        "remove it" of a key PHM-Vibench's reference needs (W112) or of a value the metadata table gave.
        Linear in the parameters and the nodes: 16,000 values each read only by a node not built were looked
        for among all such nodes, one by one (13 s)."""
        from vibench.compiler.resolve_extends import ignored_key_warning

        own_file = user_file(udef, self.owner.library)
        # W105 (warn_unused) already said so of a parameter that no block of an `inherit: true` node declares, W104 of
        # one a `with:` gave whose readers it replaced.
        said = {d.pos for d in self.owner.diags.items if d.code in ("W105", "W104")}
        unread = [decl for decl in udef.params if not (decl.pos is not None and decl.pos in said)
                  and (set_in(decl, own_file) or decl.name in udef.overridden) and decl.name in self.params]
        if not unread:  # (the common case, nothing set: then no walk over the nodes)
            return
        # Set to a value of its own: not where that value is its default holding an expression, which is then what
        # reads (`with: {num_classes: classes}`, `{layers: ["${n}", 2]}`; unless --set gives it another value).
        given = {d.name for d in udef.params if self.params.get(d.name) is not None
                 and (d.given or set_in(d, own_file) or d.name in udef.overridden)
                 and (d.name in udef.overridden or not contains_template(d.default))}
        left, idle = self.unread_here(udef, {d.name for d in unread}, given)
        unread = [decl for decl in unread if decl.name in left]
        if not unread:
            return
        fallbacks = fallback_readers(self.elaborated, self.node_index, given, {d.name for d in unread})
        passed = self.inherited  # passed on, to components that do not read it: said as unread by all
        # said in the order they are written (the scoped ones come in the order their components declare them)
        unread.sort(key=lambda d: line_col(d.pos if set_in(d, own_file) else udef.overridden[d.name]))
        chosen = [n for n in self.nodes if n.kind == "composite"]
        components = ChosenComponents(chosen, self.groups)  # every copy's: each backbone of `ensemble_backbones`
        found = ("the components here: " + components.shown()) if components.nodes else None
        ignored = dict(udef.reference.ignored_keys) if udef.reference is not None else {}
        readers = idle_readers(idle, {d.name for d in unread}, udef.lets)
        passed_on = dead_readers(udef, self.dead(), self.node_index, self.groups, {d.name for d in unread})
        needed = needed_by_reference(udef, chosen, self.params)  # key -> the PHM-Vibench reference that needs it
        texts = KeyColumns(self.owner.diags.sources)
        words = self.owner.library
        for decl in unread:
            by_user = set_in(decl, own_file)
            pos = decl.pos if by_user else udef.overridden[decl.name]
            value = self.params[decl.name]
            # The chosen components that declare it: a value reaches them unless their node gives its own, a null
            # unless they take null. A null given to one of them is said as a null, whether or not the reference
            # ignores the key: "pick one of them" would name the component already picked.
            # (the template's own parameter that `inherit: true` passes on: the chosen components that declare it)
            takers = dict.fromkeys(stem(t) for t in decl.scope) if decl.scope else components.declaring(decl.name)
            taking = [name for name in takers if name in components.nodes and decl.name not in passed]
            null_kept = value is None and bool(taking)
            if decl.name in ignored and not null_kept:  # its reference ignores it, and so does every component chosen
                at = texts.key_pos(pos, decl.name) if by_user else pos  # at its key, as a key nothing declares
                shown = None if by_user and decl.name not in words.from_table else words
                warning = ignored_key_warning(decl.name, udef, ignored[decl.name], at, shown)
                # not "remove it" of a key PHM-Vibench needs (W112 asks for it then): W104's hints say so too
                extended = extension_takers(self.owner, udef, decl) if decl.scope else set()
                inside = components.idle_in(decl.name)  # a component chosen reads it in nodes it does not build
                hint = (needed_hint(needed[decl.name]) if decl.name in needed
                        else idle_hint(inside[1], None, inside[0]) if inside is not None
                        else unread_hint(decl, components.nodes, None, extended) if decl.scope else warning.hint)
            elif decl.name in fallbacks and value is not None:
                what = self.value_named(decl, pos, by_user, texts)
                reader, params = fallbacks[decl.name]
                warning = replace(fallback_warning(what, decl, pos, reader, params, needed.get(decl.name)),
                                  found=found if reader else None)
                hint = warning.hint
            elif value is not None or decl.scope:
                what = self.value_named(decl, pos, by_user, texts)
                warning = self.unread_warning(udef, what, decl, pos, readers.get(decl.name), taking, components,
                                              needed.get(decl.name), passed_on.get(decl.name), found)
                hint = warning.hint
            else:
                continue  # a null for the template's own parameter: no different from leaving it out
            if decl.name in words.from_table:  # not the caller's value: "remove it" would not say how
                hint = table_hint(decl, components.nodes, words.metadata_option)
            self.owner.diags.add(replace(warning, hint=hint))

    def warn_passed_keys(self) -> None:
        """W104 for a key written on a node of the user's (a library template's is not theirs to change) that no copy
        of its block reads (:func:`~vibench.compiler.dead_keys.dead_keys`): a composite that passes it on to none
        that does (:func:`passed_key_warnings`), a catalogue block that reads nothing of it given its other values
        (:func:`block_key_warning`: `factor` of a prob_sparse_attention at `mode: top_k`). The copies of a `for_each`
        over a mapping are one node's: a key one reads has an effect. A key of a node of a composite definition is
        said when the model is built, and only if none of the definition's uses read it (:class:`HeldKeyWarnings`)."""
        udef = self.elaborated.udef
        root = len(self.owner.stack) == 1
        first = {name: keys[0] for name, keys in self.groups.items() if keys}
        dead = self.dead()
        memo: ReadersMemo = {}
        for nd in udef.nodes:
            if not (nd.params or isinstance(nd.with_, dict)) or (nd.name not in dead and root):
                continue  # (the root's one use: only its dead keys need a look)
            node = self.node_index.get(first.get(nd.name, nd.name))
            if node is None or not node.copies or within_library(nd.pos):
                continue
            keys = dead.get(nd.name, {})
            units = [copy.unit for copy in node.copies if copy.unit is not None]
            said = (passed_key_warnings(nd, units, keys, memo) if units else
                    {k: block_key_warning(nd, k, node.block, why) for k, why in keys.items() if why is not None})
            read = [] if root else [k for k, v in written(nd) if v is not None and k not in keys]
            self.owner.held_keys.note(udef, nd, read, said)
        if root:  # the model is built: what no use of a definition read is said
            self.owner.held_keys.flush(self.owner.diags)

    def dead(self) -> dict[str, dict[str, str | None]]:
        """:func:`~vibench.compiler.dead_keys.dead_keys` of this unit, found once (asked when its nodes are built)."""
        if self._dead is None:
            self._dead = dead_keys(self.elaborated, self.node_index)
        return self._dead

    def component_unread(self, udef: UnitDef) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
        """``Unit.unread`` and ``Unit.unread_why`` of a unit built inside another: its parameters nothing built reads,
        and how its nodes pass on, unread, those they read (:func:`~vibench.compiler.unread_hints.passed_on`)."""
        unread = self.unread_here(udef, {d.name for d in udef.params}, root=False)[0]
        dead = self.dead() if unread else {}
        passed = dead_readers(udef, dead, self.node_index, self.groups, unread) if dead else {}
        return frozenset(unread), tuple((name, passed_on(reader)) for name, reader in passed.items())

    def unread_here(self, udef: UnitDef, names: set[str], given: Collection[str] = (),
                    root: bool = True) -> tuple[set[str], list[NodeDef]]:
        """Those of ``names`` that nothing built here reads: no expression of a node built, of an input, an output, a
        `let` or a check, no default of a parameter not ``given``, no branch of `metadata:` taken, no component an
        `inherit: true` node passed one to that reads it (:func:`~vibench.compiler.unread_params.passed_unread`);
        and the nodes not built. The walks are over the nodes once, `metadata:` only for the names still unread, and
        only of the ``root`` unit: a component's `metadata:` is written nowhere (model.py has the model's)."""
        used, idle = built_reads(udef, self.elaborated, given, root, self.dead())
        left = names - used
        if left and root:
            left -= metadata_reads_apart(udef.metadata, self.env, left)
        passed = left & self.inherited
        if passed:  # read where a component they reached reads them
            left -= passed - passed_unread(self.elaborated, self.node_index, passed)
        return left, idle

    def value_named(self, decl: ParamDecl, pos: Pos | None, by_user: bool, texts: KeyColumns) -> str:
        """How W104 names the value of ``decl`` set at ``pos``: as the user wrote its key (the model guide's
        `in_channels`, read as `input_dim`), and with where it came from when not from the file (``--set``, Python,
        the metadata table)."""
        words = self.owner.library
        if not by_user or decl.name in words.from_table:
            return f"`{decl.name}` ({words.given_how(decl.name)})"
        written = texts.written_key(pos) if decl.name in _ALIASED else None  # (a line read for at most 3 names)
        if written is not None and ALIASES.get(written) == decl.name:
            return f"`{written}` (read as `{decl.name}`)"
        return f"`{decl.name}`"

    def unread_warning(self, udef: UnitDef, what: str, decl: ParamDecl, pos: Pos | None, off: list[NodeDef] | None,
                       taking: list[str], components: ChosenComponents, needed_by: str | None,
                       passed_to: DeadReader | None = None, found: str | None = None) -> Diagnostic:
        """W104 for the unread value of ``decl`` (``what``) set at ``pos``: only nodes not built (``off``) read it;
        the components chosen here that declare it (``taking``) got a value of their own from their nodes, or take
        no null; or no component chosen reads it; or a node built passes it on under a key its component reads
        nothing of (``passed_to``). ``needed_by``: the PHM-Vibench reference that needs the key; ``found``: the
        components chosen, which a message about components shows."""
        value = self.params[decl.name]
        if value is not None and off:
            if passed_to is not None:  # and a node built passes it on unread (AttentionLSTM's one-layer lstm)
                return idle_and_passed_warning(what, udef.name, off, passed_to, pos, needed_by)
            return Diagnostic("W104", f"{what} has no effect here: {not_built(udef.name, off)}", pos,
                              severity="warning", hint=idle_hint(off, needed_by))
        if passed_to is not None:  # a node built passes it on under a key its component does not read
            return dead_key_warning(what, passed_to, pos, needed_by)
        if not taking:
            idle = components.idle_in(decl.name)  # a component chosen reads it in nodes it does not build
            where = value_reader(udef, decl.name) if idle is None and not components.declaring(decl.name) else None
            if where is not None:  # read here only where its value is not used: a branch not taken, a `let` unread
                return Diagnostic("W104", f"{what} has no effect here: this {udef.name} builds nothing that reads it",
                                  pos, severity="warning",
                                  hint=unused_by(where, needed_hint(needed_by) if needed_by else "remove it"))
            return Diagnostic("W104", f"{what} has no effect here: no component of this {udef.name} reads it", pos,
                              severity="warning", found=found,
                              hint=idle_hint(idle[1], needed_by, idle[0]) if idle is not None
                              else unread_hint(decl, components.nodes, needed_by,
                                               extension_takers(self.owner, udef, decl)))
        names, one = ", ".join(taking), len(taking) == 1
        if value is not None:  # declared, and not passed on: the node's own keys or `with:` set it
            nodes = list(dict.fromkeys(node for name in taking for node in components.nodes[name]))
            shown = ", ".join(nodes[:4]) + (f" and {len(nodes) - 4} more" if len(nodes) > 4 else "")
            return Diagnostic("W104", f"{what} has no effect here: {names} take{'s' if one else ''} "
                              f"{'its' if one else 'their'} value from {shown} instead", pos, severity="warning",
                              found=found,
                              hint="the value a node gives its component itself (its keys, its `with:`) replaces the "
                              "one `inherit: true` passes on; "
                              + (needed_hint(needed_by) if needed_by else "remove it here, or change that value"))
        # a null none of them takes: each keeps the value it has without it, which the hint names
        kept = [f"{name} keeps `{decl.name}: {shown_value(held)}`" for name in taking
                if (held := components.value(name, decl.name)) is not None]
        fix = (f"give `{decl.name}` a value (keep the key: PHM-Vibench's {needed_by} cannot be built without it)"
               if needed_by else f"give `{decl.name}` a value, or remove it")
        return Diagnostic("W104", f"{what} set to null has no effect here: {names} take{'s' if one else ''} no null "
                          f"for it, and keep{'s' if one else ''} {'its' if one else 'their'} own value", pos,
                          severity="warning", found=found, hint="; ".join(kept) + (": " if kept else "") + fix)

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
