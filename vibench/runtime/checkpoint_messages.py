"""What a message about a reference checkpoint says: its keys as ``repr`` writes them, clipped, lists of them, and
the hints that follow a checkpoint that does not fit (which ``num_classes`` its per-system heads were trained with).

>>> _key("classifier.weight")
"'classifier.weight'"
>>> shared = (1,)
>>> for _ in range(60):  # 2**60 parts, each level shared, as a pickle's memo shares them
...     shared = (shared, shared)
>>> _key(shared)[:12], len(_key(shared))
('((((((((((((', 123)
>>> _key((torch.zeros(50, 50), "x" * 10**6))[:36]  # a tensor by its shape, a string sliced before its repr
"(<Tensor [50, 50] float32>, 'xxxxxxx"
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import torch

from vibench.runtime.checkpoint_zip import shown as _shown

_SYSTEM_HEAD = re.compile(r"^(?P<module>.*?)\.heads\.(?P<system>[^.]+)\.(?P<rest>.+)$")


def system_heads(state_dict: Mapping[str, torch.Tensor], ids: Collection[str] | None = ()) -> dict[str, dict[str, int]]:
    """Per-system classification heads in a (renamed) state_dict: module -> {system id: classes}.

    A head's classes are the rows of its last weight (``tokens`` of H_02: the prototypes). A system id
    is an integer (PHM-Vibench's Dataset_id) or one of ``ids`` (``None``: any): the second ``heads``
    of ``mutiple_fc.heads.heads.1.weight`` is no system.
    """
    found: dict[str, dict[str, int]] = {}
    for key, value in state_dict.items():
        match = _SYSTEM_HEAD.match(key) if isinstance(key, str) else None
        if match is None or not isinstance(value, torch.Tensor) or value.dim() < 1:
            continue
        system, rest = match["system"], match["rest"]
        if ids is not None and not (system.isascii() and system.isdigit()) and system not in ids:
            continue
        if rest == "tokens" and value.dim() >= 2:
            found.setdefault(match["module"], {})[system] = int(value.shape[-2])
        elif rest.endswith("weight") and value.dim() == 2:
            found.setdefault(match["module"], {})[system] = int(value.shape[0])  # the last layer wins
    return found


def head_mismatch(own: Mapping[str, torch.Tensor], checkpoint: Mapping[str, torch.Tensor]) -> str:
    """Why the classification heads of a checkpoint and a model differ, in terms of ``num_classes`` ('' if they
    do not, or cannot tell). The checkpoint's system ids are integers or the model's own."""
    ours = system_heads(own, ids=None)
    theirs = system_heads(checkpoint, ids={system for systems in ours.values() for system in systems})
    for module, systems in theirs.items():
        if ours.get(module) != systems:
            ids = ", ".join(_shown(k, 40) for k in sorted(systems, key=_id_order))
            parent = module.rpartition(".")[0]
            heads = (module + ".", f"{parent}.shared" if parent else "shared")  # per-system heads, or the int form's
            if not any(isinstance(k, str) and k.startswith(heads) for k in own):
                # no num_classes gives a head the model does not build at all (H_09 with a task_id that leaves it out)
                return (f"The checkpoint has per-system heads {ids} under {_key(module)}, a part this model does not "
                        "build with its parameters: build it with the settings the checkpoint was trained with")
            form = "{" + ", ".join(f"{_shown(k, 40)}: {systems[k]}" for k in sorted(systems, key=_id_order)) + "}"
            return f"The checkpoint has per-system heads {ids}: write num_classes: {form}"
    if ours and not theirs:
        shared = [v for k, v in checkpoint.items() if "shared" in k and k.endswith("weight") and v.dim() == 2]
        if shared:
            return (f"The checkpoint has one head for every system ({int(shared[-1].shape[0])} classes): write "
                    f"num_classes: {int(shared[-1].shape[0])} (the int form)")
    return ""


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isascii() and key.isdigit() else (1 << 62, key)


def _count(n: int, one: str, many: str) -> str:
    """``n`` with the words that agree with it: '1 entry does', '3 entries do'; 'one is' reads '1 is'."""
    return f"{n:,} {one if n == 1 else many}"


EXPANDED_HINT = "An expanded tensor holds more elements than it stores: save it .contiguous()"

MAX_KEY_CHARS = 120
"""The most characters of one checkpoint key a message shows."""
MAX_MESSAGE_CHARS = 4000
"""The most characters of a message about a checkpoint (8 keys of each kind at most, each clipped)."""


def _key(key: Any) -> str:
    """A checkpoint key in a message, as ``repr`` writes it (a newline in a key cannot start a line of its own), at
    most :data:`MAX_KEY_CHARS` of it. It is written part by part and only as far as is shown, so its cost is the text
    shown whatever the key holds: ``repr`` of a tuple of 2**60 shared parts never ends, of a 40,000-character string
    shared 16,000 times over is 650 MB, of a tensor walks its values."""
    if isinstance(key, str) and len(key) > MAX_KEY_CHARS:
        return f"{key[:MAX_KEY_CHARS]!r}... ({len(key):,} characters)"
    try:
        shown = _written(key, MAX_KEY_CHARS + 3)
    except Exception as err:  # noqa: BLE001 - a trusted file's object: a tensor subclass whose shape raises
        return f"<{type(key).__name__} key: writing it raised {type(err).__name__}>"
    return shown if len(shown) <= MAX_KEY_CHARS + 2 else shown[:MAX_KEY_CHARS] + "..."


def _written(key: Any, limit: int) -> str:
    """``repr(key)``'s first ``limit`` characters or so, written part by part: a tuple's or frozenset's items one at a
    time (each opened one writes at least its bracket: at most ``limit`` are open), stopping once ``limit`` are
    written; each other part as :func:`_leaf` writes it, at most ``limit`` or so characters."""
    out: list[str] = []
    written = 0
    todo: list[Iterator[tuple[bool, Any]]] = [iter([(False, key)])]  # what is left of each part opened
    while todo and written < limit:
        step = next(todo[-1], None)
        if step is None:
            todo.pop()
            continue
        text, item = step
        if not text and type(item) in (tuple, frozenset):  # a subclass (torch.Size, a namedtuple): by its type
            todo.append(_opened(item))
            continue
        piece = item if text else _leaf(item, limit)
        out.append(piece)
        written += len(piece)
    return "".join(out)


def _opened(item: tuple[Any, ...] | frozenset[Any]) -> Iterator[tuple[bool, Any]]:
    """A tuple's or frozenset's text as ``repr`` writes it, one piece at a time: (True, text) or (False, a part)."""
    if type(item) is tuple:
        opening, closing = "(", ",)" if len(item) == 1 else ")"
    else:
        opening, closing = ("frozenset({", "})") if item else ("frozenset(", ")")
    yield True, opening
    for at, part in enumerate(item):
        if at:
            yield True, ", "
        yield False, part
    yield True, closing


def _leaf(item: Any, limit: int) -> str:
    """A part of a key that is no tuple: a str or bytes as ``repr`` writes its first ``limit + 1`` characters (sliced
    before, not after), a number or None as ``repr`` does (an int of thousands of digits by its size), a tensor by its
    type, shape and dtype, anything else by its type: never by a ``repr`` whose cost or text is the object's."""
    if isinstance(item, (str, bytes)):
        return repr(item[: limit + 1])
    if type(item) is int and item.bit_length() > 4 * limit:
        return f"<int of {item.bit_length():,} bits>"
    if type(item) in (int, float, complex, bool, type(None)):
        return repr(item)
    if isinstance(item, torch.Tensor):
        return f"<{type(item).__name__} {list(item.shape)} {str(item.dtype).removeprefix('torch.')}>"
    return f"<{type(item).__name__} object>"


def _bounded(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + "... (clipped)"


def _keys(keys: Sequence[Any]) -> str:
    return _listing([_key(k) for k in keys[:8]], total=len(keys))


def _listing(items: Sequence[str], limit: int = 8, total: int | None = None) -> str:
    total = len(items) if total is None else total
    return ", ".join(items[:limit]) + (f", ... ({total - limit} more)" if total > limit else "")
