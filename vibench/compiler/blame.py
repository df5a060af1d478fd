"""Which of a user's settings an error inside a template comes from, found by leaving each one out.

A spec that sets a library template's parameters (`extends:` + `with:`, or a PHM-Vibench config,
which becomes one) can fail inside the template: `with: {d_model: 30}` of Autoformer fails at the
attention node's `num_heads: n_heads` (8), whose line is in the library, not in the user's file. An
error about a node value that *reads* a setting is already reported at that setting (see
``Elaborator.setting_pos``); a size *derived* from a setting cannot be traced that way (the node
sees the number 30, not where it came from).

So, when an error stays outside the user's file, each `with:` key is left out in turn and the spec
checked again: a key whose absence makes that error go away, and brings no error of its own, is
where the user reads it (the error moves to that key, with a note saying where the template
raised it). This runs only on the way out of a failed compile, for at most
:data:`MAX_SETTINGS_TRIED` keys, each trial under the compile's own limits and at most
:data:`MAX_TRIAL_NODES` nodes, so the trials of a hostile spec cost a bounded amount.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.load import LoadedDoc

MAX_SETTINGS_TRIED = 16  # `with:` keys left out one at a time (a compile each), on a failed compile only
MAX_TRIAL_NODES = 2_000  # a trial stops (E213, no verdict) beyond this: the library's largest model has ~800


def blame_settings(doc: LoadedDoc, diagnostics: tuple[Diagnostic, ...],
                   check: Callable[[LoadedDoc], Any]) -> tuple[Diagnostic, ...]:
    """``diagnostics`` with each error raised outside ``doc``'s file moved to the `with:` key of ``doc``
    it comes from, when leaving one key out tells (``check`` compiles a document, raising SpecError)."""
    data = doc.data
    settings = data.get("with") if isinstance(data, dict) and "extends" in data else None
    outside = [d for d in diagnostics if d.severity == "error" and d.pos is not None and d.pos.file != doc.file]
    if not outside or not isinstance(settings, dict) or not 0 < len(settings) <= MAX_SETTINGS_TRIED:
        return diagnostics
    errors = {_identity(d) for d in diagnostics if d.severity == "error"}
    cause: dict[int, str] = {}  # id of an error outside -> the key it comes from (the first that tells)
    for key in settings:
        trial = replace(doc, data={**data, "with": {k: v for k, v in settings.items() if k != key}})
        try:
            check(trial)
            remaining: set[tuple] = set()
        except SpecError as err:
            remaining = {_identity(d) for d in err.diagnostics if d.severity == "error"}
        if not remaining <= errors:  # leaving it out breaks something else (a required value): no verdict
            continue
        for d in outside:
            if _identity(d) not in remaining:
                cause.setdefault(id(d), key)
    if not cause:
        return diagnostics
    return tuple(_moved(d, doc, cause[id(d)]) if id(d) in cause else d for d in diagnostics)


def _identity(d: Diagnostic) -> tuple:
    return d.code, d.pos, d.node, d.message


def _moved(d: Diagnostic, doc: LoadedDoc, key: str) -> Diagnostic:
    where = f"node `{d.node}` at {d.pos}" if d.node else f"{d.pos}"
    note = f"raised by {where}; without this `{key}` the error goes away"
    return replace(d, pos=doc.pos(("with", key)), span=1, notes=(note, *d.notes), origin=d.origin or d.pos)
