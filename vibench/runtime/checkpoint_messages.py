"""What a message about a reference checkpoint says: its keys as ``repr`` writes them, clipped, lists of them, and
the hints that follow a checkpoint that does not fit (which ``num_classes`` its per-system heads were trained with).

>>> _key("classifier.weight")
"'classifier.weight'"
>>> shared = (1,)
>>> for _ in range(60):  # 2**60 parts, each level shared, as a pickle's memo shares them
...     shared = (shared, shared)
>>> _key(shared)[:12], len(_key(shared))
('((((((((((((', 123)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Mapping, Sequence
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
    """A checkpoint key in a message, as ``repr`` writes it (a newline in a key cannot start a line of
    its own), at most :data:`MAX_KEY_CHARS` of it. A key of more than :data:`MAX_REPR_PARTS` parts written out (a
    tuple of a tuple of ..., each part shared: ``repr`` of 2**60 parts never ends) is written part by part, only as
    far as is shown."""
    try:
        if isinstance(key, str) and len(key) > MAX_KEY_CHARS:
            return f"{key[:MAX_KEY_CHARS]!r}... ({len(key):,} characters)"
        shown = repr(key) if _parts(key) <= MAX_REPR_PARTS else _written(key, MAX_KEY_CHARS + 3)
    except Exception as err:  # noqa: BLE001 - a tuple nested past the recursion limit; a trusted file's object
        return f"<{type(key).__name__} key: repr raised {type(err).__name__}>"
    return shown if len(shown) <= MAX_KEY_CHARS + 2 else shown[:MAX_KEY_CHARS] + "..."


MAX_REPR_PARTS = 100_000
"""The most parts (tuples' and frozensets' items, written out) of a key :func:`_key` gives to ``repr`` whole."""
_OPENED = (tuple, frozenset)  # what a key holds parts of: what else a dict's key can be holds none it writes


def _parts(key: Any) -> int:
    """How many parts ``key`` has written out, a shared part each time, up to one past :data:`MAX_REPR_PARTS`;
    each distinct part is counted once (a key a pickle shares 60 levels deep takes 60 steps), without recursion."""
    sizes: dict[int, int] = {}
    todo: list[tuple[Any, bool]] = [(key, False)]
    while todo:
        item, counted = todo.pop()
        if type(item) not in _OPENED or id(item) in sizes:
            continue
        if counted:  # its parts are sized: one beyond them
            total = 1 + sum(sizes.get(id(part), 1) for part in item)
            sizes[id(item)] = min(total, MAX_REPR_PARTS + 1)
        else:
            todo.append((item, True))
            todo.extend((part, False) for part in item)
    return sizes.get(id(key), 1)


def _written(key: Any, limit: int) -> str:
    """``repr(key)``'s first ``limit`` characters or so, written part by part: a tuple's or frozenset's items one at a
    time, stopping once ``limit`` are written (each item's own ``repr`` is a number's, a string's: short, or clipped
    after it)."""
    out: list[str] = []
    written = 0
    todo: list[tuple[Any, bool]] = [(key, False)]  # an object, or (True) text written as it is
    while todo and written < limit:
        item, text = todo.pop()
        if text:
            piece = item
        elif type(item) in _OPENED:
            parts = list(itertools.islice(item, limit))  # of a tuple of millions, what is shown
            opening, closing = ("(", ",)" if len(item) == 1 else ")") if type(item) is tuple else ("frozenset({", "})")
            if type(item) is frozenset and not item:
                opening, closing = "frozenset(", ")"
            pieces: list[tuple[Any, bool]] = [(opening, True)]
            for at, part in enumerate(parts):
                pieces += [(", ", True)] if at else []
                pieces.append((part, False))
            todo.extend(reversed([*pieces, (closing, True)]))
            continue
        else:
            piece = repr(item[: limit + 1] if isinstance(item, (str, bytes)) else item)
        out.append(piece)
        written += len(piece)
    return "".join(out)
def _bounded(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_CHARS else message[:MAX_MESSAGE_CHARS] + "... (clipped)"


def _keys(keys: Sequence[Any]) -> str:
    return _listing([_key(k) for k in keys[:8]], total=len(keys))


def _listing(items: Sequence[str], limit: int = 8, total: int | None = None) -> str:
    total = len(items) if total is None else total
    return ", ".join(items[:limit]) + (f", ... ({total - limit} more)" if total > limit else "")
