"""Keys of PHM-Vibench's model guide that its models never read, read as vibench extensions.

PHM-Vibench's model-factory guide (``src/model_factory/CLAUDE.md``) documents config keys that
none of its model classes reads: ResNet1D ``depth: 18``, ``in_channels``, AttentionLSTM
``hidden_size``, PatchTST ``patch_len``, multi-task task names ``prediction`` and ``regression``,
and ``activation``/``dropout`` on models that have neither. A config written from the guide
builds a model that silently ignores them (or crashes, for want of ``input_dim``). vibench reads
them as the guide means them and says so with a note (I101) at each key:

* :data:`ALIASES` — a key that is another spelling of a template parameter;
* :data:`RESNET_DEPTHS` — ``depth`` of ``CNN/ResNet1D``: the standard ResNet stage layout;
* :data:`TASK_ALIASES` — multi-task task names in ``task_configs`` and ``tasks``;
* ``activation`` / ``dropout`` on a template without such a parameter: W101 with the reason.

A guide key that contradicts an explicit one (``depth: 50`` with ``block_type: basic``,
``in_channels: 1`` with ``input_dim: 2``), or a ``depth`` that is not a standard ResNet, is E222.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vibench.compiler.diagnostics import Diagnostic
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

FIXED_BY_REFERENCE = {
    "activation": "its activations are fixed in its code",
    "dropout": "it has no dropout setting",
}
"""Guide keys that a template without such a parameter cannot honour: W101, with the reason."""


def apply_guide(model: dict[str, Any], where: dict[str, Pos | None], declared: set[str], reference: str,
                position: Callable[[tuple], Pos | None]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Rewrite the guide's keys in ``model`` (in place) into the template's; return (notes, errors).

    ``declared`` are the template's parameters, ``reference`` its reference model (``CNN/ResNet1D``),
    ``where`` the position of each key of ``model`` and ``position(path)`` that of a nested key
    (``("task_configs", "prediction")``) in the experiment file.
    """
    notes: list[Diagnostic] = []
    errors: list[Diagnostic] = []
    for alias, target in ALIASES.items():
        if alias not in model or alias in declared or target not in declared:
            continue
        value = model.pop(alias)
        pos = where.get(alias)
        if target in model and model[target] != value:
            errors.append(_conflict(alias, value, target, model[target], pos))
            continue
        model.setdefault(target, value)
        where.setdefault(target, pos)
        notes.append(_note(f"`{alias}` is the model guide's name for `{target}`: read as `{target}: {value!r}`",
                           pos, "PHM-Vibench's models never read it"))
    if "depth" in model and "depth" not in declared and reference in DEPTH_MODELS:
        _resnet_depth(model, where, notes, errors)
    if isinstance(model.get("task_configs"), dict) and "task_configs" in declared:
        _task_names(model, position, notes, errors)
    return notes, errors


def fixed_key_reason(key: str, reference: str) -> str | None:
    """Why a template without ``key`` ignores the guide's ``activation``/``dropout`` (None for other keys)."""
    reason = FIXED_BY_REFERENCE.get(key)
    return f"the model guide documents it, but the reference {reference} never reads it: {reason}" if reason else None


def _resnet_depth(model: dict[str, Any], where: dict[str, Pos | None], notes: list[Diagnostic],
                  errors: list[Diagnostic]) -> None:
    depth = model.pop("depth")
    pos = where.get("depth")
    layout = RESNET_DEPTHS.get(depth) if isinstance(depth, int) and not isinstance(depth, bool) else None
    if layout is None:
        errors.append(Diagnostic("E222", "`depth` must be a standard ResNet depth", pos, found=repr(depth),
                                 expected=", ".join(str(d) for d in RESNET_DEPTHS),
                                 hint="or give `block_type` and `layers` (blocks per stage) yourself"))
        return
    for key, value in layout.items():
        if key in model and model[key] != value:
            errors.append(_conflict("depth", depth, key, model[key], pos, f"ResNet-{depth} has {key} {value!r}"))
            return
    for key, value in layout.items():
        model.setdefault(key, value)
        where.setdefault(key, pos)
    notes.append(_note(f"`depth: {depth}` is read as ResNet-{depth}: block_type {layout['block_type']}, layers "
                       f"{layout['layers']}", pos, "PHM-Vibench's ResNet1D never reads `depth`"))


def _task_names(model: dict[str, Any], position: Callable[[tuple], Pos | None], notes: list[Diagnostic],
                errors: list[Diagnostic]) -> None:
    configs = dict(model["task_configs"])
    renamed: dict[str, Any] = {}
    for task, settings in configs.items():
        target = TASK_ALIASES.get(task) if isinstance(task, str) else None
        if target is None:
            renamed.setdefault(task, settings)
            continue
        pos = position(("task_configs", task))
        if target in configs:
            errors.append(Diagnostic("E222", f"task `{task}` and task `{target}` are the same task", pos,
                                     hint=f"`{task}` is the model guide's name for `{target}`; keep one of them"))
            continue
        renamed[target] = settings
        notes.append(_note(f"task `{task}` is the model guide's name for `{target}`", pos,
                           "vibench's tasks: classification, signal_prediction, rul_prediction, anomaly_detection"))
    model["task_configs"] = renamed
    tasks = model.get("tasks")
    if isinstance(tasks, list):
        model["tasks"] = [TASK_ALIASES.get(t, t) if isinstance(t, str) else t for t in tasks]


def _note(message: str, pos: Pos | None, found: str) -> Diagnostic:
    return Diagnostic("I101", message + " (a vibench extension)", pos, severity="note", found=found)


def _conflict(key: str, value: Any, other: str, other_value: Any, pos: Pos | None,
              why: str | None = None) -> Diagnostic:
    return Diagnostic("E222", f"`{key}: {value!r}` contradicts `{other}: {other_value!r}`", pos,
                      found=why or f"`{key}` is the model guide's name for `{other}`",
                      hint=f"keep one of them (`{other}` is the template's own parameter)")
