"""Which of a user's settings an error inside a template comes from, found by trying them one by one.

A spec that sets a library template's parameters (`extends:` + `with:`, or a PHM-Vibench config,
which becomes one) can fail inside the template: `with: {d_model: 30}` of Autoformer fails at the
attention node's `num_heads: n_heads` (8), whose line is in the library, not in the user's file. An
error about a node value that *reads* a setting is already reported at that setting (see
``Elaborator.setting_pos``); a size *derived* from a setting cannot be traced that way (the node
sees the number 30, not where it came from).

So, when an error stays outside the user's file, the spec is checked again with one setting at a time; so is
an error in the compiled file itself (a template compiled by name, or a `with:` key that ``--set`` overrides)
when values were given with the compile, trying those values only. The settings are the `with:` keys and the
values given with the compile (``--set``, the ``params=`` of vibench.check, the keywords of vibench.build),
which a trial drops or keeps like the others. First, with every setting at the template's default (the
*baseline*), then each setting alone, then each setting left out. A setting that alone gives the error (and
the baseline does not), or without which the error goes away while nothing of its own breaks (no required
value missing, no other error inside the template), is where the user reads it. So is one without which the
same check of the same node says something else (`C == 1` instead of `C == 2`): the setting gives the value it
checks. The error moves to that `with:` key, with a note saying where the template raised it and which trial
told; a given value is said to come from the command line (or from Python), at its `with:` key when the file
sets the same key, else where it was raised. Errors that need two settings together, or that the template's
defaults give as well, stay where they were raised; one that goes away without any one of several settings
moves to the first of them, its note naming the others.

The user's files between the compiled one and the template (`top.yaml` extends `mid.yaml`, which extends the
template and sets `depth: -1`) are tried next, each in turn, for the errors still in the template: the error
moves to `mid.yaml`'s `depth:`, as when `mid.yaml` is compiled, or to the nearest setting that replaces it (whose
note names the other settings of that key the trial left out with it).

This runs only on the way out of a failed compile, for at most :data:`MAX_SETTINGS_TRIED` settings of all
those files together (two trials each, and a baseline and one more compile a file), and at most
:data:`MAX_CHAIN_TRIALS` compiles for the files the compiled one extends, all of them together (the walk ends,
with no verdict, at a file whose trials could exceed it; counted, not timed, so the same spec gets the same
answer), each trial under the
compile's own limits and at most :data:`MAX_TRIAL_NODES` nodes (a model larger than that gets no verdict), so
the trials of a hostile spec cost a bounded amount. A trial that stops at a limit of its own (those nodes, or the
expression steps that go with them) tells nothing, whatever the verdict would have been. An error that is itself
about a given value (an unknown key, a value of the wrong type or too large, at `params:`) names it already and is
not tried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.ir import Pos
from vibench.compiler.load import LoadedDoc

MAX_SETTINGS_TRIED = 32  # settings tried (two compiles each); PHM-Vibench configs set 20 and more model keys
MAX_CHAIN_TRIALS = 12  # compiles of the walk up the files the compiled one extends, all of them together
MAX_TRIAL_NODES = 2_000  # a trial stops (E213, no verdict) beyond this: the library's largest model has ~800

Trial = Callable[[LoadedDoc, dict[str, Any]], Any]
"""Compiles a document with the given values (``--set``), raising SpecError."""


class Setting(NamedTuple):
    """A user's setting that an error may come from."""

    given: bool  # given with the compile (``--set``, Python's keywords) rather than written under `with:`
    key: str


class Blamed(NamedTuple):
    """A diagnostic as :func:`blame_settings` leaves it, and the setting of the compiled file (or given value) it is
    blamed on, for what is said of that setting afterwards (:func:`vibench.compiler.shape_hints.blamed_needs`).
    None: none, and the diagnostic is as it came, or it was moved to a file that the compiled one extends, which
    said so already (:func:`vibench.compiler.blame_chain.blame_chain`)."""

    diagnostic: Diagnostic
    setting: Setting | None = None


# the walk up the `extends:` chain: (doc, located, check, given, errors of the compile, settings left) -> located
ChainWalk = Callable[[LoadedDoc, tuple[Blamed, ...], Trial, dict[str, Any], set[tuple], int], tuple[Blamed, ...]]


def blame_settings(doc: LoadedDoc, diagnostics: tuple[Diagnostic, ...], check: Trial,
                   overrides: Mapping[str, Any] | None = None,
                   origin: Callable[[str], str] | None = None,
                   spelling: Callable[[str], str] = lambda key: f"`--set {key}`",
                   walk: ChainWalk | None = None) -> tuple[Blamed, ...]:
    """``diagnostics``, one for one, with each error raised outside ``doc``'s file moved to the setting of ``doc`` it
    comes from, when a trial tells, and that setting. ``check(doc, overrides)`` compiles a document with those values;
    ``overrides`` are the values the compile was given (``--set``), ``origin(key)`` the note that says
    where such a value came from (the one E208 gives it), ``spelling(key)`` how a note names one, quoted
    (```--set key```, ```key=``` from Python, or the metadata table that gave it). ``walk`` then tries the `with:` keys
    of the files ``doc`` extends in turn (:func:`vibench.compiler.blame_chain.blame_chain`, given the compile's spec
    search path), with the settings these trials left to try."""
    data = doc.data
    extending = isinstance(data, dict) and "extends" in data
    settings = data.get("with", {}) if extending else {}
    if not isinstance(settings, dict):  # `with: 3` (E102 says so): no setting to blame
        return tuple(map(Blamed, diagnostics))
    given = dict(overrides or {})
    said = origin or (lambda key: f"the value of `{key}` is the one given with the parameters")
    # An error outside the file may come from any setting; one in the file (a template compiled itself, a value
    # reported at the `with:` key that --set overrides) from a given value only, unless it says so already.
    outside = [d for d in diagnostics if d.severity == "error" and d.pos is not None and d.pos.file != doc.file]
    inside = [d for d in diagnostics if d.severity == "error" and d not in outside and given
              and not any(said(key) in d.notes or _about_given(d, doc, key) for key in given)]
    candidates = [Setting(False, key) for key in settings or {}] + [Setting(True, key) for key in given]
    errors = {_identity(d) for d in diagnostics if d.severity == "error"}
    located = tuple(map(Blamed, diagnostics))
    if 0 < len(candidates) <= MAX_SETTINGS_TRIED and outside + inside:
        def trial(kept: list[Setting]) -> list[Diagnostic] | None:
            values = {key: settings[key] for by_value, key in kept if not by_value}
            return _trial(check, replace(doc, data={**data, "with": values}) if extending else doc,
                          {key: given[key] for by_value, key in kept if by_value}, errors)

        cause = _causes(candidates, outside + inside, {id(d) for d in inside}, errors, doc.file, trial, said,
                        spelling)
        located = tuple(Blamed(_moved(d, doc, settings, *cause[id(d)], said), cause[id(d)][0]) if id(d) in cause
                        else Blamed(d) for d in diagnostics)
    if walk is None or not extending:
        return located
    tried = len(candidates) if 0 < len(candidates) <= MAX_SETTINGS_TRIED else 0
    return walk(doc, located, check, given, errors, MAX_SETTINGS_TRIED - tried)


def _trial(check: Trial, doc: LoadedDoc, values: dict[str, Any], errors: set[tuple]) -> list[Diagnostic] | None:
    """The errors of ``check(doc, values)``; None when it stopped at a limit of the trials' own (then it tells
    nothing: the errors past that point are unknown) that the compile itself (its ``errors``) did not."""
    try:
        check(doc, values)
    except SpecError as err:
        found = [d for d in err.diagnostics if d.severity == "error"]
        return None if any(_trial_limit(d) and _identity(d) not in errors for d in found) else found
    return []


def _causes(candidates: list[Setting], outside: list[Diagnostic], mine: set[int], errors: set[tuple], home: str,
            trial: Callable[[list[Setting]], list[Diagnostic] | None], said: Callable[[str], str],
            spelling: Callable[[str], str]) -> dict[int, tuple[Setting, str, str]]:
    """The id of each error of ``outside`` that the ``trial``s of the ``candidates`` (a compile of the file
    ``home`` with those kept, the others at the template's defaults) place -> (its setting, the trial that told,
    what it said). ``mine``: the ids of errors in ``home`` itself, which only a given value may be blamed for;
    ``errors``: the identities of the compile's own errors."""

    def fits(d: Diagnostic, setting: Setting) -> bool:
        return id(d) not in mine or setting[0]

    cause: dict[int, tuple[Setting, str, str]] = {}  # id of an error outside -> (its setting, trial, what it said)
    # 1. The setting alone gives the error: with the others at the template's defaults it is there, and with
    #    all of them at the defaults it is not (else every setting alone gives it). A baseline that misses a
    #    required value (E209) cannot tell.
    if len(candidates) > 1:
        baseline = trial([])
        default = None if baseline is None or any(d.code == "E209" for d in baseline) else {
            _identity(d) for d in baseline}
        for setting in candidates if default is not None else []:
            if all(id(d) in cause for d in outside):
                break
            if (kept := trial([setting])) is None:
                continue
            alone = {_identity(d) for d in kept}
            for d in outside:
                if _identity(d) in alone and _identity(d) not in (default or set()) and fits(d, setting):
                    cause.setdefault(id(d), (setting, "alone", ""))
    # 2. Without the setting the error goes away, and leaving it out breaks nothing of its own: no required value
    #    goes missing (E209), no other node of the template fails first. (A new error at another of the user's
    #    settings is one the failure hid: the nodes after a failed one are not checked. Not so for an error in
    #    the compiled file itself: a new error there may be what now stops the compile before reaching it, so
    #    such a trial tells nothing of it; a default `w: 0` that breaks node `a` does not make `--set w=8` the
    #    cause of node `c`'s error.) Or without it the same check of the same node says something else, and
    #    without any other setting it does not: that setting, and it alone, gives the value checked (two that
    #    each change it are two settings together). Where several settings each take the error away (a width
    #    and a head count that do not divide; the factors of a parameter budget), it moves to the first and its
    #    note names the others.
    changers: dict[int, list[tuple[Setting, str]]] = {}  # id of an error outside -> the settings that change it
    removers: dict[int, list[Setting]] = {}  # id of an error outside -> the settings without which it goes away
    for setting in candidates:
        if all(id(d) in cause for d in outside):
            break
        if (found := trial([other for other in candidates if other != setting])) is None:
            continue
        remaining = {_identity(d) for d in found}
        changed = {id(d): s for d in outside if _identity(d) not in remaining
                   for s in found if _place(s) == _place(d)}
        new = [s for s in found if _identity(s) not in errors and all(s is not c for c in changed.values())]
        if any(s.code == "E209" or s.pos is None or s.pos.file != home for s in new):
            continue
        for d in outside:
            if not fits(d, setting) or (id(d) in mine and new):
                continue
            if id(d) in changed:
                changers.setdefault(id(d), []).append((setting, clip(changed[id(d)].message, 120)))
            elif _identity(d) not in remaining:
                removers.setdefault(id(d), []).append(setting)
    for d in outside:  # the first setting without which it goes away, naming the others that do the same
        if id(d) not in cause and removers.get(id(d)):
            first, *others = _own_value_first(d, removers[id(d)], said)
            named = (spelling(k) if given else f"`{k}`" for given, k in others)
            cause[id(d)] = (first, "away", " or ".join(named))
    for d in outside:
        if id(d) not in cause and len(changers.get(id(d), [])) == 1:
            (setting, other), = changers[id(d)]
            cause[id(d)] = (setting, "changed", other)
    return cause


def _own_value_first(d: Diagnostic, settings: list[Setting], said: Callable[[str], str]) -> list[Setting]:
    """``settings`` (each of which takes ``d`` away) with the given value that ``d`` says its value is first: E208
    of a value given with the compile notes where it came from (``origin``), and a `with:` key that only lets
    the check run (a slot's component that reads the value) is not what it refuses."""
    own = [s for s in settings if s[0] and said(s[1]) in d.notes]
    return own + [s for s in settings if s not in own]


def _trial_limit(d: Diagnostic) -> bool:
    """Whether ``d`` is an error of a limit that a trial has lower than the compile: the node count (E213: a
    trial stops at :data:`MAX_TRIAL_NODES`) or the steps that the compile's expressions share (E204: a trial's
    budget is that of :data:`MAX_TRIAL_NODES` nodes; the evaluator says "... per compilation" of this shared
    budget only, an expression's own limit being the same in both). The caller keeps such an error when the
    compile itself gave the very same one."""
    return d.code == "E213" or (d.code == "E204" and "per compilation)" in d.message)


def _about_given(d: Diagnostic, doc: LoadedDoc, key: str) -> bool:
    """Whether ``d`` is about the value given for ``key`` itself, and says so: it names `key` and stands where
    given values meet the file's declarations - the `params:` (or `with:`) mapping, where an unknown key is
    refused (E201), or `key`'s own declaration, where a value of the wrong type, too large or nested too
    deeply is (E202). Such an error is raised by checking the given value against the declaration, before
    anything else reads it: a note that the value was given, and that without it the error goes away, only
    restates it. (An error at a node, or at a `with:` key that the given value overrides, is not one: there
    the note says which value it checked.)"""
    if d.pos is None or f"`{key}`" not in d.message:
        return False
    anchors = {doc.pos(path, key=at_key) for path in (("params",), ("params", key), ("with",))
               for at_key in (False, True)}
    return d.pos in anchors


def _identity(d: Diagnostic) -> tuple:
    return d.code, d.pos, d.node, d.message


def _place(d: Diagnostic) -> tuple:
    """The check an error comes from, whatever values it names."""
    return d.code, d.pos, d.node


def _moved(d: Diagnostic, doc: LoadedDoc, settings: dict[str, Any], setting: Setting, verdict: str, other: str,
           origin: Callable[[str], str], along: list[str] | None = None) -> Diagnostic:
    """``d`` moved to ``setting`` of ``doc``, its note saying which trial told; ``along``: the other settings of the
    same key that the trial left out with it (files of the `extends:` chain), which "without it" names."""
    by_value, key = setting
    raised = d.origin or d.pos  # (an error moved once already, to a `with:` two files up, says where it was raised)
    where = f"node `{d.node}` at {raised}" if d.node else f"{raised}"
    also = f", as it does without {other}" if verdict == "away" and other else ""
    without = "".join(f" and {place}" for place in along or ())
    if not by_value:
        why = {"alone": f"this `{key}` alone gives it",
               "away": f"without this `{key}`{without} the error goes away{also}",
               "changed": f"this `{key}` gives the value it checks: without it{without}, it reads \"{other}\""}[verdict]
        return replace(d, pos=_setting_pos(doc, settings, key, d), span=1,
                       notes=(f"raised by {where}; {why}", *d.notes), origin=d.origin or d.pos)
    given = origin(key)
    why = {"alone": f"{given}, which alone gives it", "away": f"{given}; without it{without} the error goes away{also}",
           "changed": f"{given}; it gives the value checked: without it{without}, it reads \"{other}\""}[verdict]
    notes = tuple(n for n in d.notes if n != given)  # E208 of a given value says where it came from already
    if key not in settings:  # the user's file does not set it: the error stays where it was raised, said to be theirs
        return replace(d, notes=(why, *notes))
    return replace(d, pos=_setting_pos(doc, settings, key, d), span=1, notes=(f"raised by {where}; {why}", *notes),
                   origin=d.origin or d.pos)


def _setting_pos(doc: LoadedDoc, settings: dict[str, Any], key: str, d: Diagnostic) -> Pos | None:
    """Where the `with:` setting ``key`` that gives ``d`` is written: its value (`4` of `width: 4`); for a mapping,
    the entry named like the node that failed (`c:` of `task_configs: {a: ..., c: ...}` for copy `c` of a
    `for_each` over it) or its one entry, else the key, as for a list (the value's own position is, for one
    written as a block, its first entry's)."""
    value = settings.get(key)
    if isinstance(value, dict) and d.node is not None and d.node in value:
        return doc.pos(("with", key, d.node), key=True)
    if isinstance(value, dict) and len(value) == 1:
        return doc.pos(("with", key, next(iter(value))), key=True)
    return doc.pos(("with", key), key=isinstance(value, (dict, list)))
