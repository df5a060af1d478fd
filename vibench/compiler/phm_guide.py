"""Keys of PHM-Vibench's model guide that its models never read, read as vibench extensions.

PHM-Vibench's model-factory guide (``src/model_factory/CLAUDE.md``) documents config keys that
none of its model classes reads: ResNet1D ``depth: 18``, ``in_channels``, AttentionLSTM
``hidden_size``, PatchTST ``patch_len``, multi-task task names ``prediction`` and ``regression``,
and ``activation``/``dropout`` on models that have neither. A config written from the guide
builds a model that silently ignores them (or crashes, for want of ``input_dim``). vibench reads
them as the guide means them and says so with a note (I101) at each key:

* :data:`ALIASES` — a key that is another spelling of a template parameter;
* :data:`RESNET_DEPTHS` — ``depth`` of ``CNN/ResNet1D``: the standard ResNet stage layout;
* :data:`TASK_ALIASES` — multi-task task names in ``task_configs``: noted, and left as written, since the
  template reads them itself (M_01_ISFM's ``aliases``, note I104), so that its messages quote the tasks as the
  user named them; an empty ``task_configs`` names no task (E208 here, where the template's loop would say it);
* ``activation`` / ``dropout`` on a template without such a parameter: W101 with the reason.

A guide key that contradicts an explicit one (``depth: 50`` with ``block_type: basic``,
``in_channels: 1`` with ``input_dim: 2``; one a base config gives is named by key and file, never quoted),
also one given beside the config (``--set block_type=basic``, a keyword of ``vibench.build``), or a
``depth`` that is not a standard ResNet, is E222. A guide key given beside the config instead
(``--set depth=18``) is E201, whose hint :func:`given_hint` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vibench.compiler.caller_words import CallerWords
from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.ir import Pos

ALIASES = {"in_channels": "input_dim", "hidden_size": "hidden_dim", "patch_len": "patch_size"}
"""The guide's name -> the template parameter it means (applied when the template declares the latter)."""

RESNET_DEPTHS: dict[int, dict[str, Any]] = {
    18: {"block_type": "basic", "layers": [2, 2, 2, 2]},
    34: {"block_type": "basic", "layers": [3, 4, 6, 3]},
    50: {"block_type": "bottleneck", "layers": [3, 4, 6, 3]},
    101: {"block_type": "bottleneck", "layers": [3, 4, 23, 3]},
    152: {"block_type": "bottleneck", "layers": [3, 8, 36, 3]},
}
"""ResNet-N (He et al., 2016): residual block type and blocks per stage."""

DEPTH_MODELS = ("CNN/ResNet1D",)
"""Reference models whose `depth` the guide documents as the ResNet depth."""

TASK_ALIASES = {"prediction": "signal_prediction", "regression": "rul_prediction"}
"""The guide's multi-task task names -> vibench's."""
TASKS = "classification, signal_prediction, rul_prediction, anomaly_detection"
"""vibench's multi-task task names, as messages list them."""

FIXED_BY_REFERENCE = {
    "activation": "its activations are fixed in its code",
    "dropout": "it has no dropout setting",
}
"""Guide keys that a template without such a parameter cannot honour: W101, with the reason."""

GUIDE_KEYS = frozenset({*ALIASES, *TASK_ALIASES, *FIXED_BY_REFERENCE, "depth", "num_classes"})
"""The model guide's names of keys, which messages name wherever they were written (a base config's too)."""


def apply_guide(model: dict[str, Any], where: dict[str, Pos | None], declared: set[str], reference: str,
                position: Callable[[tuple], Pos | None], given: Mapping[str, Any] | None = None,
                words: CallerWords | None = None, bases: Mapping[str, str] | None = None
                ) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Rewrite the guide's keys in ``model`` (in place) into the template's, task names aside (the template reads
    them: :func:`_task_names`); return (notes, errors).

    ``declared`` are the template's parameters, ``reference`` its reference model (``CNN/ResNet1D``),
    ``where`` the position of each key of ``model`` and ``position(path)`` that of a nested key
    (``("task_configs", "prediction")``): where it was written in the experiment file, or the `base_configs`
    entry whose file gave it. ``given`` are the values set beside the config
    (``--set``, a keyword of ``vibench.build``), which replace the config's: a guide key they contradict is E222
    too (its note would describe a model the compile does not build), said in ``words`` (the caller's).
    ``bases`` names the base config that gave a key's value (``"base config `base/m.yaml`"``): a guide key
    written here that contradicts such a value names that key and file, never the value.
    """
    given = given or {}
    words = words or CallerWords()
    bases = bases or {}
    notes: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    for alias, target in ALIASES.items():
        if alias not in model or alias in declared or target not in declared:
            continue
        value = model.pop(alias)
        pos = where.get(alias)
        if target in model and model[target] != value:
            if alias in bases and target not in bases:  # said at the key written here, naming the base config's
                errors.append(_against_base(target, model[target], where.get(target), alias, bases[alias],
                                            f"`{alias}` is the model guide's name for `{target}`"))
            else:
                errors.append(_conflict(alias, value, target, model[target], pos, bases.get(target)))
            continue
        if target in given and _contradicts(given[target], value):
            errors.append(_given_conflict(alias, value, target, given[target], pos, words))
            continue
        model.setdefault(target, value)
        where.setdefault(target, pos)
        notes.append(_note(f"`{alias}` is the model guide's name for `{target}`: read as `{target}: {value!r}`",
                           pos, "PHM-Vibench's models never read it"))
    if "depth" in model and "depth" not in declared and reference in DEPTH_MODELS:
        _resnet_depth(model, where, given, words, notes, errors, bases)
    if "task_configs" in declared and given.get("task_configs") == {} and isinstance(given["task_configs"], dict):
        errors.append(_no_task(position(("task_configs",)), f"`task_configs` ({words.given_as}) names no task",
                               words.given_note("task_configs"), words))
    elif isinstance(model.get("task_configs"), dict) and "task_configs" in declared and "task_configs" not in given:
        _task_names(model, where, position, notes, errors)  # (a given `task_configs` replaces the config's)
    return notes, errors


def given_hint(key: str, value: Any, declared: set[str], reference: str, template: str,
               words: CallerWords) -> str | None:
    """The hint of E201 for a guide key given beside the config (``--set depth=18``), which only the config's
    `model:` section reads as the guide means it (None for a key that is none of the guide's)."""
    reason = fixed_key_reason(key, reference)
    if reason is not None:
        return f"remove it: {reason}, so in the `model:` section it would be ignored too (W101)"
    if key in ALIASES and ALIASES[key] in declared:
        return f"`{key}` is the model guide's name for `{ALIASES[key]}`: set `{ALIASES[key]}` instead"
    if key in ALIASES:
        return f"`{key}` is the model guide's name for `{ALIASES[key]}`, which `{template}` does not take"
    if key == "depth" and reference in DEPTH_MODELS:
        layout = RESNET_DEPTHS.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if layout is None:
            return ("`depth` is the model guide's ResNet depth, which the template takes as `block_type` and `layers`"
                    f" (blocks per stage); the standard depths are {', '.join(str(d) for d in RESNET_DEPTHS)}")
        if words.in_python:
            setting = f"`block_type={layout['block_type']!r}, layers={layout['layers']}`"
        else:
            stages = ",".join(str(n) for n in layout["layers"])  # one shell word
            setting = f"`--set block_type={layout['block_type']} --set layers=[{stages}]`"
        return (f"`depth` is the model guide's ResNet depth: ResNet-{value} is {setting}, or write `depth: {value}` "
                "in the `model:` section, which reads it as the guide means it (note I101)")
    if key in TASK_ALIASES:
        if "task_configs" in declared:
            return f"`{key}` is the model guide's name for the task `{TASK_ALIASES[key]}`: a key of `task_configs`"
        return f"`{key}` is the model guide's name for a task of a multi-task model; `{template}` has no tasks"
    return None


def fixed_key_reason(key: str, reference: str) -> str | None:
    """Why a template without ``key`` ignores the guide's ``activation``/``dropout`` (None for other keys)."""
    reason = FIXED_BY_REFERENCE.get(key)
    return f"the model guide documents it, but the reference {reference} never reads it: {reason}" if reason else None


def _resnet_depth(model: dict[str, Any], where: dict[str, Pos | None], given: Mapping[str, Any],
                  words: CallerWords, notes: list[Diagnostic], errors: list[Diagnostic],
                  bases: Mapping[str, str]) -> None:
    depth = model.pop("depth")
    pos = where.get("depth")
    layout = RESNET_DEPTHS.get(depth) if isinstance(depth, int) and not isinstance(depth, bool) else None
    if layout is None:
        errors.append(Diagnostic("E222", "`depth` must be a standard ResNet depth", pos, found=repr(depth),
                                 expected=", ".join(str(d) for d in RESNET_DEPTHS),
                                 hint="or give `block_type` and `layers` (blocks per stage) yourself"))
        return
    for key, value in layout.items():
        why = f"ResNet-{depth} has {key} {value!r}"
        if key in model and model[key] != value:
            if "depth" in bases and key not in bases:  # said at the key written here: ResNet-N would quote the depth
                errors.append(_against_base(key, model[key], where.get(key), "depth", bases["depth"],
                                            "the model guide's `depth` is a ResNet depth, which sets `block_type` "
                                            f"and `layers`; the base config's gives another `{key}`"))
            else:
                errors.append(_conflict("depth", depth, key, model[key], pos, bases.get(key), why))
            return
        if key in given and _contradicts(given[key], value):
            errors.append(_given_conflict("depth", depth, key, given[key], pos, words, why))
            return
    for key, value in layout.items():
        model.setdefault(key, value)
        where.setdefault(key, pos)
    notes.append(_note(f"`depth: {depth}` is read as ResNet-{depth}: block_type {layout['block_type']}, layers "
                       f"{layout['layers']}", pos, "PHM-Vibench's ResNet1D never reads `depth`"))


def _task_names(model: dict[str, Any], where: dict[str, Pos | None], position: Callable[[tuple], Pos | None],
                notes: list[Diagnostic], errors: list[Diagnostic]) -> None:
    """I101 at each guide task name of `task_configs`, E222 for a task under both names, E208 for no task.

    The names stay as written: the template reads the guide's names itself (M_01_ISFM's `aliases`), and a
    rename here made its messages quote tasks the user never wrote (`found: {'rul_prediction': inf}` for
    `regression:`)."""
    configs = model["task_configs"]
    if not configs:
        errors.append(_no_task(where.get("task_configs"), "`task_configs` names no task"))
        return
    for task in configs:
        target = TASK_ALIASES.get(task) if isinstance(task, str) else None
        if target is None:
            continue
        pos = position(("task_configs", task))
        if target in configs:  # (`task_configs` named: at a base config's entry, the message names only it)
            errors.append(Diagnostic("E222", f"task `{task}` and task `{target}` of `task_configs` are the same task",
                                     pos, hint=f"`{task}` is the model guide's name for `{target}`; keep one of them"))
            continue
        notes.append(_note(f"task `{task}` of `task_configs` is the model guide's name for `{target}`", pos,
                           f"vibench's tasks: {TASKS}"))


def _no_task(pos: Pos | None, message: str, note: str | None = None, words: CallerWords | None = None) -> Diagnostic:
    """E208 for an empty `task_configs`, written in the config or given beside it (``note`` and ``words``: the
    caller's, whose value replaces the config's): said here, or the template's per-task loop would name itself
    (E211 `for_each` of node `task_heads`), not the setting."""
    if words is None:
        hint = "name the tasks (`task_configs: {classification: {}}`), or remove `task_configs` for the single head " \
            "that `task_head` names"
    else:
        setting = "`task_configs={'classification': {}}`" if words.in_python else \
            "`--set 'task_configs={classification: {}}'`"
        hint = f"name the tasks ({setting}), or leave out {words.setting_named('task_configs')} for the tasks of " \
            "the `model:` section (or, without them, the single head that `task_head` names)"
    return Diagnostic("E208", message, pos, found="{}", expected=f"one task or more of {TASKS}",
                      notes=(note,) if note is not None else (), hint=hint)


def _note(message: str, pos: Pos | None, found: str) -> Diagnostic:
    return Diagnostic("I101", message + " (a vibench extension)", pos, severity="note", found=found)


def _given_conflict(key: str, value: Any, other: str, given: Any, pos: Pos | None, words: CallerWords,
                    why: str | None = None) -> Diagnostic:
    """E222 at the guide key ``key`` for a value of ``other`` given beside the config, said in the caller's words."""
    return Diagnostic("E222", f"`{key}: {value!r}` contradicts `{other}: {clip(repr(given), 80)}` ({words.given_as})",
                      pos, found=why or f"`{key}` is the model guide's name for `{other}`",
                      notes=(words.given_note(other),),
                      hint=f"keep one of them: remove `{key}` from the `model:` section, or leave out "
                      f"{words.setting_named(other)}")


def _contradicts(given: Any, value: Any) -> bool:
    """Whether a value given beside the config contradicts the guide key's: one of its kind that differs (a bool is
    no int; a list holds items of the kinds the guide's does). A value of another kind — a tuple or an array for a
    list, a string for a number, `layers` of strings — is no contradiction: what is wrong with it is its type, which
    the type check says (E202, with the type it found), where a contradiction would name the guide key instead."""
    if _kind(given) != _kind(value):
        return False
    if isinstance(given, list) and value and not {_kind(item) for item in given} <= {_kind(item) for item in value}:
        return False
    try:
        return (given == value) is not True
    except (TypeError, ValueError):  # an array inside a mapping or list: no truth value, and no kind the guide gives
        return False


def _kind(value: Any) -> str:
    """A value's kind as the guide's values have them: bool, number, str, list, dict, null, else its type's name
    (a tuple, a NumPy array or integer)."""
    if isinstance(value, bool):
        return "bool"
    if type(value) in (int, float):
        return "number"
    kinds = {str: "str", list: "list", dict: "dict", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _conflict(key: str, value: Any, other: str, other_value: Any, pos: Pos | None, base: str | None,
              why: str | None = None) -> Diagnostic:
    """E222 at the guide key ``key``, whose value contradicts the template parameter ``other``'s: quoted when the
    experiment wrote it; named by key and file when ``base`` (the base config that gave it) holds it."""
    if base is None:
        return Diagnostic("E222", f"`{key}: {value!r}` contradicts `{other}: {clip(repr(other_value), 80)}`", pos,
                          found=why or f"`{key}` is the model guide's name for `{other}`",
                          hint=f"keep one of them (`{other}` is the template's own parameter)")
    return Diagnostic("E222", f"`{key}: {value!r}` contradicts `{other}` of {base}", pos,
                      found=why or f"`{key}` is the model guide's name for `{other}`",
                      hint=f"keep one of them: remove `{key}` here, or `{other}` from that file (`{other}` is the "
                      "template's own parameter; what a base config holds is never shown in messages)")


def _against_base(key: str, value: Any, pos: Pos | None, guide_key: str, base: str, why: str) -> Diagnostic:
    """E222 at the template parameter ``key`` the experiment writes, which the guide key ``guide_key`` of ``base``
    (the base config that gave it) contradicts: that key and file are named, its value never."""
    return Diagnostic("E222", f"`{key}: {clip(repr(value), 80)}` contradicts `{guide_key}` of {base}", pos, found=why,
                      hint=f"keep one of them: remove `{key}` here, or `{guide_key}` from that file (`{key}` is the "
                      "template's own parameter; what a base config holds is never shown in messages)")
