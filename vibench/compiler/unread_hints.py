"""W104's wording: the messages and hints of a value set that nothing built reads (when:
:mod:`vibench.compiler.build_warnings`), and :func:`passed_key_warnings`, W104 for a key written on a node that its
composite passes on only to components that do not read it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from vibench.compiler.chosen_components import inner_components
from vibench.compiler.dead_keys import DeadReader, ReadersMemo, component_readers
from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.ir import NodeDef, ParamDecl, Pos, Template, Unit
from vibench.compiler.phm_reference import needed_hint
from vibench.compiler.unread_params import stem


def passed_key_warnings(nd: NodeDef, units: list[Unit], keys: Mapping[str, str | None],
                        memo: ReadersMemo) -> dict[str, Diagnostic]:
    """W104 for each of ``keys`` (:func:`~vibench.compiler.dead_keys.dead_keys`: written on node ``nd``, and read by
    no copy of its composite, ``units``, each copy's; with how one passes it on unread) -> at the key: `e_layers` on a
    node of B_11_MomentumEncoder, whose default `base_encoder` B_04_Dlinear reads none; `sampling_seed` on an
    Informer at `attention: top_k`. ``memo``: what reads a component's keys, one walk of each component."""
    places = dict(nd.with_keys)
    at = {k: pos for k, _, pos in nd.params}
    if isinstance(nd.with_, dict):
        at.update({k: places.get(k, nd.with_pos) for k in nd.with_ if k not in at})
    seen: dict[int, list[str]] = {}
    inside = list(dict.fromkeys(name for u in units for name in inner_components(u, seen)))
    found = ("the components here: " + ", ".join(inside)) if inside else None
    unit = units[0]
    decls = unit.definition.param_index if unit.definition is not None else {}
    readers, wheres = component_readers(unit, set(keys), memo)
    out = {}
    for k, why in keys.items():
        shown = None
        if k in readers:
            message, hint = not_built(unit.name, readers[k]), idle_hint(readers[k])
        elif k in wheres:
            message, hint = f"this {unit.name} builds nothing that reads it", unused_by(wheres[k], component=True)
        elif why is not None:  # passed on, unread, by its own nodes: the chain says why
            message, hint = f"this {unit.name} {why}", "remove it"
        else:
            message = f"no component of this {unit.name} reads it"
            hint, shown = unread_hint(decls[k], inside) if k in decls else "remove it", found
        out[k] = Diagnostic("W104", f"`{k}` has no effect here: {message}", at.get(k) or nd.pos, node=nd.name,
                            severity="warning", found=shown, hint=hint)
    return out


def dead_key_warning(what: str, passed: DeadReader, pos: Pos | None, needed_by: str | None) -> Diagnostic:
    """W104 for a value (``what``) that a node built reads only to pass it on under a key its block reads nothing of
    (``passed``: AttentionCNN's `attention_reduction`, passed as `reduction` to an AttentionBlock without CBAM;
    Informer's `factor`, which its prob_sparse_attention reads only at `mode: prob_sparse`)."""
    fix = needed_hint(needed_by) if needed_by else "remove it"
    as_key = f"as `{passed.key}` " if f"`{passed.key}`" not in what else ""
    tail = (not_built(passed.component, list(passed.idle)).replace(f"this {passed.component} ", "") if passed.idle
            else "does not use it here" if passed.why else "builds nothing that reads it")
    message = f"{what} has no effect here: node `{passed.node}` passes it {as_key}to {passed.component}, which {tail}"
    if passed.idle:
        hint = idle_hint(list(passed.idle), needed_by, passed.component)
    elif passed.where:
        where = passed.where if passed.where == "`metadata:`" else f"{passed.where} of {passed.component}"
        hint = unused_by(where, fix, component=True)
    else:
        hint = f"{passed.component} {passed.why}{_settings(passed)}; {fix}" if passed.why else fix
    return Diagnostic("W104", message, pos, severity="warning", hint=hint,
                      found=clip(f"node `{passed.node}` has `{passed.key}: {passed.written}`", 120))


def block_key_warning(nd: NodeDef, key: str, block: str, why: str) -> Diagnostic:
    """W104 for key ``key`` written on node ``nd``, which its catalogue ``block`` reads nothing of given its other
    values (``why``: `reads it only at `mode: prob_sparse``), at the key."""
    places = dict(nd.with_keys)
    pos = next((at for k, _, at in nd.params if k == key), None) or places.get(key, nd.with_pos) or nd.pos
    return Diagnostic("W104", f"`{key}` has no effect here: {block} {why}", pos, node=nd.name, severity="warning",
                      hint="remove it")


def idle_and_passed_warning(what: str, unit: str, off: list[NodeDef], passed: DeadReader, pos: Pos | None,
                            needed_by: str | None) -> Diagnostic:
    """W104 for a value (``what``) that nodes of ``unit`` not built (``off``) read, and a node built passes on
    unread (``passed``): AttentionLSTM's `dropout` without a classifier and with one lstm layer."""
    fix = needed_hint(needed_by) if needed_by else "remove it"
    dead = dead_key_warning(what, passed, pos, needed_by)
    as_key = f"as `{passed.key}` " if f"`{passed.key}`" not in what else ""
    message = (f"{what} has no effect here: {not_built(unit, off)}, and node `{passed.node}` passes it {as_key}to "
               f"{passed.component}, which does not use it here")
    idle = idle_hint(off, needed_by).removesuffix(f"; {fix}").replace("it is read only by", "it is read by", 1)
    return replace(dead, message=message, hint=f"{idle}; {dead.hint or fix}")


def passed_on(passed: DeadReader) -> str:
    """How a component's node passes a parameter on unread (``passed``), for the hint of a caller's W104: `passes it
    as `factor` to prob_sparse_attention (its node `attention`), which reads it only at `mode: prob_sparse``."""
    if passed.idle:
        first = passed.idle[0]
        when = f", `when: {first.when.text}`" if isinstance(first.when, Template) else ""
        more = f" (and {len(passed.idle) - 1} more)" if len(passed.idle) > 1 else ""
        how = f"does not build its node `{first.name}`{more} that reads it{when}"
    elif passed.why:
        how = passed.why + _settings(passed)
    else:
        how = f"reads it only in {passed.where}, unused here" if passed.where else "reads nothing of it"
    return f"passes it as `{passed.key}` to {passed.component} (its node `{passed.node}`), which {how}"


def _settings(passed: DeadReader) -> str:
    """What the node that passes a value on to a catalogue block writes of the keys its block's reason names (` (node
    `ode_func` has `num_layers: ode_layers`)`: the template's own key, not the block's); empty when it writes none."""
    return f" (node `{passed.node}` has {passed.settings})" if passed.settings else ""


def not_built(unit: str, readers: list[NodeDef]) -> str:
    """W104's reason for a value that only nodes not built read: "this X does not build the node that reads it"."""
    return f"this {unit} does not build " + ("the node that reads it" if len(readers) == 1 else
                                               "the nodes that read it")


def unused_by(where: str, fix: str = "remove it", component: bool = False) -> str:
    """W104's hint for a value that only ``where`` reads (:func:`~vibench.compiler.unread_params.value_reader`),
    where it is not used: a branch not taken, a `let` nothing uses, the `metadata:` of a ``component`` (written
    nowhere)."""
    if component and where == "`metadata:`":
        return f"it is read only by its `metadata:`, which model.py writes for the model, not for a component; {fix}"
    return f"it is read only by {where}, which does not use it here; {fix}"


def fallback_warning(what: str, decl: ParamDecl, pos: Pos | None, component: str | None, params: list[str],
                      needed_by: str | None) -> Diagnostic:
    """W104 for a value read only as the default of ``params``, which are given values of their own (a key fallback:
    B_09_FNO's `d_model`, the default of `width`); ``component``: the one that reads it so (None: this unit)."""
    keys = ", ".join(f"`{p}`" for p in params)
    one = len(params) == 1
    reader = f"{component} reads it" if component else "it is read"
    fix = needed_hint(needed_by) if needed_by else f"remove `{decl.name}`, or remove {keys} to use it"
    return Diagnostic("W104", f"{what} has no effect here: {reader} only as the default of {keys}, which "
                      f"{'is' if one else 'are'} set", pos, severity="warning",
                      hint=f"a value given to {keys} replaces {'its' if one else 'their'} default (as PHM-Vibench "
                      f"takes the key given); {fix}")


def idle_hint(readers: list[NodeDef], needed_by: str | None = None, component: str | None = None) -> str:
    """W104's hint for a parameter that only nodes not built read: which nodes (of ``component``: one chosen here),
    and the `when:` that leaves one out; not "remove it" where PHM-Vibench's ``needed_by`` needs the key."""
    names = ", ".join(f"`{nd.name}`" for nd in readers[:4]) + (f" and {len(readers) - 4} more" if len(readers) > 4
                                                                else "")
    why = (f" (`when: {readers[0].when.text}`)" if len(readers) == 1 and isinstance(readers[0].when, Template)
           else "")
    fix = needed_hint(needed_by) if needed_by else "remove it"
    of = f" of {component}" if component else ""
    return f"it is read only by node{'s' if len(readers) > 1 else ''} {names}{of}, not built here{why}; {fix}"


def unread_hint(decl: ParamDecl, picked: Collection[str] = (), needed_by: str | None = None,
                 extended: Collection[str] = ()) -> str:
    """How to fix a value that no component reads: the components that would, other than those chosen here, those
    that PHM-Vibench's reference does not read it in (``extended``) marked; not "remove it" where PHM-Vibench's
    ``needed_by`` needs the key."""
    if needed_by:
        others = other_takers(decl, picked, extended) if decl.scope else None
        return (f"it is read by {others} (pick one of them to use it); " if others else "") + needed_hint(needed_by)
    if not decl.scope:
        return "it reaches only the components that declare it; remove it, or pick a component that takes it"
    others = other_takers(decl, picked, extended)
    return f"it is read by {others}; remove it, or pick one of them" if others else "remove it"


def table_hint(decl: ParamDecl, picked: Collection[str], option: str) -> str:
    """W104's hint for a value PHM-Vibench's metadata table gave (``option``: how the caller passed it), which the
    user cannot remove from the config or the command line."""
    others = other_takers(decl, picked) if decl.scope else None
    return (f"the metadata table gave it ({option}), as PHM-Vibench's factory does; no component chosen here reads "
            "it" + (f" ({others} would)" if others else ""))


def other_takers(decl: ParamDecl, picked: Collection[str], extended: Collection[str] = ()) -> str | None:
    """The components that declare ``decl`` other than those chosen here (``picked``), the first six named; those
    whose PHM-Vibench reference does not read it (``extended``) marked so."""
    takers = [name + (" (a vibench extension)" if stem(name) in extended else "")
              for name in (t.rsplit("/", 1)[-1] for t in decl.scope) if stem(name) not in picked]
    return (", ".join(takers[:6]) + (f" and {len(takers) - 6} more" if len(takers) > 6 else "")) if takers else None


def shown_value(value: Any) -> str:
    """A component's value as a hint quotes it: its YAML text, clipped."""
    from vibench.compiler.yaml_text import yaml_text

    try:
        return clip(yaml_text(value), 80)
    except TypeError:  # no YAML value: as Python writes it
        return clip(repr(value), 80)
