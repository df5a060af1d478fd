"""The walk of :func:`vibench.compiler.blame.blame_settings` up the `extends:` chain: the user's files between the
compiled one and the template (`top.yaml` extends `mid.yaml`, which extends the template with `depth: -1`) are tried
in turn for the errors still raised in the template, each compiled with what the files below it write over it, at
most :data:`~vibench.compiler.blame.MAX_CHAIN_TRIALS` compiles in all. It reads the files the compile read; it
writes nothing but the diagnostics it returns.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from vibench.compiler.blame import (
    MAX_CHAIN_TRIALS,
    Blamed,
    Setting,
    Trial,
    _causes,
    _identity,
    _moved,
    _trial,
)
from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.limits import MAX_NESTING
from vibench.compiler.load import LoadedDoc, read_spec_file
from vibench.compiler.param_types import infer_type
from vibench.compiler.shape_hints import blamed_needs
from vibench.compiler.spec_files import LIBRARY_DIR
from vibench.compiler.spec_paths import within
from vibench.compiler.spec_search import SpecSearch


def blame_chain(doc: LoadedDoc, located: tuple[Blamed, ...], check: Trial, given: dict[str, Any], errors: set[tuple],
                budget: int, search: SpecSearch) -> tuple[Blamed, ...]:
    """``located`` with each error still raised in a template moved to the setting, in a file that ``doc`` extends
    in turn, that gives it: `top.yaml` extends `mid.yaml`, which extends `base.yaml` with `depth: -1`; E211 of
    `repeat: depth` is at `mid.yaml`'s `depth:`, as when `mid.yaml` is compiled.

    The files are walked from ``doc`` up to the template (a library file ends the walk: its `with:` is not the
    user's). Each one's keys are tried as ``doc``'s are, in that file compiled with what the files below it write
    over it (:func:`_flattened`), for the errors that this compile gives too (else its trials tell of another
    model). A key is kept with the value the compile read, the nearest setting's, and left out with it: `top.yaml`'s
    `depth: -2` over `mid.yaml`'s `depth: -1`, left out of `top.yaml` only, still fails with `-1`, and is
    `top.yaml`'s once left out of both. The error moves to that nearest setting (:func:`_moved_up`). A file without
    `with:` is passed through; a key that names a parameter a file between declares itself sets its default there
    (:func:`_declared_set`). ``budget``: the settings ``doc``'s trials left to try; a file with more keys than that,
    or whose trials could take the walk past :data:`MAX_CHAIN_TRIALS` compiles, ends the walk."""
    trials = [0]  # the walk's compiles so far

    def counted(doc: LoadedDoc, values: dict[str, Any]) -> Any:
        trials[0] += 1
        return check(doc, values)

    below = [doc]  # the files the walk came through, ``doc`` first
    files = {doc.file}
    flat, written = doc.data, _with(doc)  # what they write over the next file: all of it, and their `with:` keys
    for _ in range(MAX_NESTING):  # (a longer chain was refused: E206)
        parent = _extended(below[-1], search)
        if parent is None:
            break
        settings = parent.data.get("with", {})  # (a file without `with:` is passed through: it names the model)
        files.add(parent.file)
        pending = [b.diagnostic for b in located if b.setting is None and b.diagnostic.severity == "error"
                   and b.diagnostic.pos is not None and b.diagnostic.pos.file not in files]
        if not pending or not isinstance(settings, dict) or len(settings) > budget:
            break
        if trials[0] + _most_trials(len(settings)) > MAX_CHAIN_TRIALS:  # (deterministic: counted, not timed)
            break
        budget -= len(settings)
        flat, through = _declared_set(_flattened(parent, flat), written)
        below.append(parent)

        def trial(kept: list[Setting], parent: LoadedDoc = parent, settings: dict = settings, flat: dict = flat,
                  through: dict = through) -> list[Diagnostic] | None:
            left_out = settings.keys() - {key for _, key in kept}
            values = {**settings, **through}
            return _trial(counted, replace(parent, data={**flat, "with": {k: v for k, v in values.items()
                                                                         if k not in left_out}}),
                          {k: v for k, v in given.items() if k not in left_out}, errors)

        candidates = [Setting(key in given, key) for key in settings]  # (a given one is named as given)
        # The file as flattened gives the compile's errors, else its trials tell of another model; one that stops at
        # a trial's own limit (a model over MAX_TRIAL_NODES, which the compile built) cannot say otherwise, and its
        # trials without a key (a smaller model) still tell, as they do when that file is compiled.
        reproduced = trial(candidates) if candidates else []
        if reproduced is not None:
            pending = [d for d in pending if _identity(d) in {_identity(r) for r in reproduced}]
        if pending:
            cause = _causes(candidates, pending, set(), errors, parent.file, trial, search.value_origin,
                            search.setting_named)
            located = tuple(_moved_up(b.diagnostic, below, given, cause[id(b.diagnostic)], search)
                            if id(b.diagnostic) in cause else b for b in located)
        written = {**settings, **written}  # (the nearest setting wins)
    return located


def _most_trials(keys: int) -> int:
    """The most compiles that trying a file of the walk with ``keys`` `with:` keys takes: the one that checks it gives
    the compile's errors, then those of :func:`_causes` (a baseline and each key alone, when there are several, and
    each key left out)."""
    return 1 + 2 * keys + (keys > 1) if keys else 0


def _declared_set(flat: dict[str, Any], written: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``flat`` (a file flattened with those below it) with each key of ``written`` (their `with:` keys) that names
    a parameter ``flat`` declares itself made that parameter's default, as the compile reads it (`with: {d: 5}` over
    a file with `params: {d: 2}` sets that file's `d`, not its template's), and the other keys, for its `with:`."""
    declared = flat.get("params")
    if not isinstance(declared, dict) or not written.keys() & declared.keys():
        return flat, written
    params = {name: _defaulted(entry, written[name]) if name in written else entry
              for name, entry in declared.items()}
    return {**flat, "params": params}, {key: value for key, value in written.items() if key not in declared}


def _defaulted(entry: Any, value: Any) -> dict[str, Any]:
    """The declaration of a parameter, ``entry`` (`d: 2`, or `{type: int, default: 2}`), with ``value`` for its default
    and its type unchanged."""
    if isinstance(entry, dict):
        return {**entry, "default": value}
    return {"type": infer_type(entry), "default": value}


def _with(doc: LoadedDoc) -> dict[str, Any]:
    """The `with:` mapping of ``doc``, empty when it has none (or not a mapping, which E102 refuses)."""
    settings = doc.data.get("with") if isinstance(doc.data, dict) else None
    return settings if isinstance(settings, dict) else {}


def _extended(doc: LoadedDoc, search: SpecSearch) -> LoadedDoc | None:
    """The user's file that ``doc`` extends, when that file extends a spec in turn (a file between ``doc`` and its
    template); None for a library file, for a template (it has nodes, no `extends:`), or when none is found."""
    ref = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if not isinstance(ref, str):
        return None
    from_dir = os.path.dirname(os.path.realpath(doc.path)) if doc.path else search.cwd  # as resolve_file reads it
    try:
        path = search.locate(ref, from_dir, None)
        if path is None or within(path, [os.path.realpath(LIBRARY_DIR)]):
            return None
        parent = read_spec_file(path, search.display(path))  # read by the compile already: this compile's copy
    except SpecError:
        return None
    return parent if isinstance(parent.data, dict) and "extends" in parent.data else None


def _flattened(parent: LoadedDoc, below: dict[str, Any]) -> dict[str, Any]:
    """``parent``'s data with what the file that extends it (its data ``below``, itself flattened so) writes over
    it, as the compile reads them: that file's own `params:` first, `metadata:` one level deep, `name:`, `doc:` and
    `reference:` whole (the trial gives `with:`)."""
    data = dict(parent.data)
    for key, value in below.items():
        if key == "params" and isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**value, **data[key]}  # (a name declared twice is E210: no value is lost)
        elif key == "metadata" and isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        elif key in ("name", "doc", "params", "metadata", "reference"):
            data[key] = value
    return data


def _moved_up(d: Diagnostic, files: list[LoadedDoc], given: dict[str, Any], cause: tuple[Setting, str, str],
              words: SpecSearch) -> Blamed:
    """``d`` moved to the setting that ``cause`` names: the value given with the compile, else the `with:` key of the
    nearest of ``files`` (the compiled one first, then those it extends in turn) that sets it. A given value and a
    key of the compiled file are left to say (:func:`~vibench.compiler.shape_hints.blamed_needs`, with the compiled
    file's settings) as by ``doc``'s own trials; a key of a file it extends gets that file's E303 hint here."""
    (_, key), verdict, other = cause
    owner = files[0] if key in given else next(file for file in files if key in _with(file))
    # The trial left the key out of every one of ``files`` and of the given values at once: the note names the
    # others it was left out of (without `top.yaml`'s `depth: -2` alone, `mid.yaml`'s `depth: -1` still fails).
    along = [f"{file.file}'s `{key}: {clip(json.dumps(_with(file)[key], default=str), 40)}`" for file in files
             if key in _with(file) and (file is not owner or key in given)]
    if key in given:
        settings = _with(files[0])
        return Blamed(_moved(d, files[0], settings, Setting(True, key), verdict, other, words.value_origin, along),
                      Setting(True, key))
    moved = Blamed(_moved(d, owner, _with(owner), Setting(False, key), verdict, other, words.value_origin, along),
                   Setting(False, key))
    if owner is files[0]:
        return moved
    return Blamed(blamed_needs((moved,), owner.data, given, words, False)[0])
