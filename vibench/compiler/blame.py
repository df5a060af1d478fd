"""Which of a user's settings an error inside a template comes from, found by trying them one by one.

A spec that sets a library template's parameters (`extends:` + `with:`, or a PHM-Vibench config,
which becomes one) can fail inside the template: `with: {d_model: 30}` of Autoformer fails at the
attention node's `num_heads: n_heads` (8), whose line is in the library, not in the user's file. An
error about a node value that *reads* a setting is already reported at that setting (see
``Elaborator.setting_pos``); a size *derived* from a setting cannot be traced that way (the node
sees the number 30, not where it came from).

So, when an error stays outside the user's file, the spec is checked again with one setting at a
time: first each `with:` key alone (the others at the template's defaults), then each key left
out. A key that alone gives the error, or without which the error goes away while nothing of its
own breaks (no required value missing, no other error inside the template), is where the user
reads it: the error moves to that key, with a note saying where the template raised it and
which trial told. Errors that need two settings together stay where they were raised.

This runs only on the way out of a failed compile, for at most :data:`MAX_SETTINGS_TRIED` keys
(two trials each), each trial under the compile's own limits and at most :data:`MAX_TRIAL_NODES`
nodes (a model larger than that gets no verdict), so the trials of a hostile spec cost a bounded
amount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.load import LoadedDoc

MAX_SETTINGS_TRIED = 32  # `with:` keys tried (two compiles each); PHM-Vibench configs set 20 and more model keys
MAX_TRIAL_NODES = 2_000  # a trial stops (E213, no verdict) beyond this: the library's largest model has ~800


def blame_settings(doc: LoadedDoc, diagnostics: tuple[Diagnostic, ...],
                   check: Callable[[LoadedDoc], Any]) -> tuple[Diagnostic, ...]:
    """``diagnostics`` with each error raised outside ``doc``'s file moved to the `with:` key of ``doc``
    it comes from, when a trial tells (``check`` compiles a document, raising SpecError)."""
    data = doc.data
    settings = data.get("with") if isinstance(data, dict) and "extends" in data else None
    outside = [d for d in diagnostics if d.severity == "error" and d.pos is not None and d.pos.file != doc.file]
    if not outside or not isinstance(settings, dict) or not 0 < len(settings) <= MAX_SETTINGS_TRIED:
        return diagnostics
    errors = {_identity(d) for d in diagnostics if d.severity == "error"}

    def trial(kept: dict[str, Any]) -> list[Diagnostic]:
        try:
            check(replace(doc, data={**data, "with": kept}))
        except SpecError as err:
            return [d for d in err.diagnostics if d.severity == "error"]
        return []

    cause: dict[int, tuple[str, str]] = {}  # id of an error outside -> (the key it comes from, why)
    # 1. The key alone gives the error: with the other settings at the template's defaults it is there.
    if len(settings) > 1:
        for key in settings:
            if all(id(d) in cause for d in outside):
                break
            alone = {_identity(d) for d in trial({key: settings[key]})}
            for d in outside:
                if _identity(d) in alone:
                    cause.setdefault(id(d), (key, f"this `{key}` alone gives it"))
    # 2. Without the key the error goes away, and leaving it out breaks nothing of its own: no required
    #    value goes missing (E209), no other node of the template fails first. (A new error at another of
    #    the user's settings is one the failure hid: the nodes after a failed one are not checked.)
    for key in settings:
        if all(id(d) in cause for d in outside):
            break
        found = trial({k: v for k, v in settings.items() if k != key})
        new = [d for d in found if _identity(d) not in errors]
        if any(d.code == "E209" or d.pos is None or d.pos.file != doc.file for d in new):
            continue
        remaining = {_identity(d) for d in found}
        for d in outside:
            if _identity(d) not in remaining:
                cause.setdefault(id(d), (key, f"without this `{key}` the error goes away"))
    if not cause:
        return diagnostics
    return tuple(_moved(d, doc, *cause[id(d)]) if id(d) in cause else d for d in diagnostics)


def _identity(d: Diagnostic) -> tuple:
    return d.code, d.pos, d.node, d.message


def _moved(d: Diagnostic, doc: LoadedDoc, key: str, why: str) -> Diagnostic:
    where = f"node `{d.node}` at {d.pos}" if d.node else f"{d.pos}"
    note = f"raised by {where}; {why}"
    return replace(d, pos=doc.pos(("with", key)), span=1, notes=(note, *d.notes), origin=d.origin or d.pos)
