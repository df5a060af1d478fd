"""Minimising a failing spec: hierarchical delta debugging over the YAML tree, or over lines.

:func:`minimise` keeps a change only while ``still_fails`` holds for the new text. On the tree it
runs ddmin over the entries of every mapping and list, outermost first, until nothing more goes:
entries of a ``nodes`` mapping are *bypassed* (deleted, their readers and outputs pointed at their
first input, so a valid spec stays valid), others deleted; then scalars are simplified one by one.
Text that is not a YAML mapping (or whose failure needs its exact text), or that is larger than the
compiler reads (E002: deeper than :data:`~vibench.compiler.load_compose.MAX_DEPTH` levels or holding more
values, aliases expanded), is reduced by lines, ddmin-style: the tree of such a text is never built
(libyaml's composer recurses in C, the dumper and ``copy.deepcopy`` in Python, and a 100,000-deep text
crashed the process; a chain of 700 anchors, each a list of the one before, nests 700 levels in two as
written, and the walks below visit every alias-expanded path). Every attempt costs one call
of ``still_fails`` and about one copy and dump of the spec; ``budget`` bounds them, and once it is spent
no candidate is built (``budget=0`` gives ``text`` back).

>>> import yaml
>>> def has_lstm(text):
...     nodes = yaml.safe_load(text).get("nodes") or {}
...     return any(node.get("block") == "lstm" for node in nodes.values())
>>> text = "vibench: 1\\nname: M\\ndoc: long\\nnodes: {a: {block: relu, in: x}, b: {block: lstm, in: a}}\\n"
>>> print(minimise(text, has_lstm), end="")
nodes:
  b: {block: lstm}
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from vibench.testing.mutations import _tree


def minimise(text: str, still_fails: Callable[[str], bool], budget: int = 300) -> str:
    """The smallest text found (within ``budget`` calls of ``still_fails``) that still fails. Candidates
    are built only while budget is left: the work is about ``budget`` times one copy of the spec.
    TypeError for a ``text`` that is no str, a ``still_fails`` that is not callable or a ``budget`` that
    is no int; ValueError for a ``budget`` below 0."""
    if not isinstance(text, str):
        raise TypeError(f"text is the spec as a str, not {type(text).__name__}"
                        + (" (decode it first)" if isinstance(text, (bytes, bytearray)) else ""))
    if not callable(still_fails):
        raise TypeError(f"still_fails is a callable taking a text and returning a bool, not "
                        f"{type(still_fails).__name__}")
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise TypeError(f"budget is an int (calls of still_fails; 0: text given back), not {type(budget).__name__}")
    if budget < 0:
        raise ValueError(f"budget must be at least 0 (0: text given back), got {budget}")
    spend = _Budget(budget)

    def fails(candidate: str) -> bool:
        try:
            return still_fails(candidate)
        except Exception:  # noqa: BLE001 - a predicate that cannot judge a candidate rejects it
            return False

    data = _tree(text)  # None beyond the compiler's limits, aliases expanded: only such trees are walked below
    try:
        if isinstance(data, dict):
            dumped = _dump(data)
            if dumped == text or (spend() and fails(dumped)):
                return _reduce_tree(data, dumped, fails, spend)[1]
    except _Spent:
        return text
    return _reduce_lines(text, fails, spend)


class _Spent(Exception):
    """Raised instead of building a candidate once the budget is spent: it unwinds the walks at once."""


class _Budget:
    """Counts attempts; calling it takes one (True), or raises :class:`_Spent` when none is left. An
    attempt is counted before its candidate is copied and dumped, so that a spent budget costs nothing."""

    def __init__(self, budget: int) -> None:
        self.left = budget

    def __call__(self) -> bool:
        if self.left <= 0:
            raise _Spent
        self.left -= 1
        return True


def _dump(data: Any) -> str:
    import yaml

    return yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=None)


def _reduce_tree(data: Any, text: str, fails: Callable[[str], bool], spend: _Budget) -> tuple[Any, str]:
    """Hierarchical delta debugging: ddmin over the entries of every mapping and list, outermost first
    (entries of a ``nodes`` mapping are bypassed, not just deleted), then simpler scalars one by one.
    The last failing ``(data, text)``, also when the budget runs out midway."""
    state = [data, text]

    def attempt(build: Callable[[], Any]) -> bool:
        """Keep what ``build`` makes (a copy of the tree, changed) if its text still fails."""
        spend()  # before the copy and the dump: they are the cost of an attempt
        candidate = build()
        candidate_text = _dump(candidate)
        if candidate_text != state[1] and fails(candidate_text):
            state[0], state[1] = candidate, candidate_text
            return True
        return False

    try:
        changed = True
        while changed:
            changed = False
            for path in _containers(state[0]):
                try:
                    container = _get(state[0], path)
                except (KeyError, IndexError, TypeError):
                    continue  # gone with an earlier reduction
                if isinstance(container, (dict, list)) and _ddmin(state, path, attempt):
                    changed = True
            for path in list(_paths(state[0])):
                try:
                    value = _get(state[0], path)
                except (KeyError, IndexError, TypeError):
                    continue  # gone with an earlier simplification
                for simple in _simpler(value):
                    if attempt(partial(_replaced, state[0], path, simple)):
                        changed = True
                        break
    except _Spent:
        pass
    return state[0], state[1]


def _replaced(data: Any, path: tuple, value: Any) -> Any:
    """A copy of ``data`` with ``value`` at ``path``."""
    smaller = copy.deepcopy(data)
    _get(smaller, path[:-1])[path[-1]] = value
    return smaller


def _keys(container: Any) -> list[Any]:
    return list(container) if isinstance(container, dict) else list(range(len(container)))


def _containers(data: Any) -> list[tuple]:
    """Paths of every mapping and list, outermost first."""
    out: list[tuple] = [()]
    k = 0
    while k < len(out):
        node = _get(data, out[k])
        out += [out[k] + (key,) for key in _keys(node) if isinstance(node[key], (dict, list))]
        k += 1
    return out


def _ddmin(state: list[Any], path: tuple, attempt: Callable[[Any], bool]) -> bool:
    """Remove as many entries of the container at ``path`` of ``state[0]`` as keeps the failure (ddmin)."""
    keys = _keys(_get(state[0], path))
    is_list = isinstance(_get(state[0], path), list)
    removed = False
    chunks = 2
    while keys:
        size = max(len(keys) // chunks, 1)
        for start in range(0, len(keys), size):
            chunk = keys[start:start + size]
            if attempt(partial(_without, state[0], path, chunk)):
                keys = list(range(len(keys) - len(chunk))) if is_list else keys[:start] + keys[start + size:]
                removed = True
                chunks = max(chunks - 1, 2)
                break
        else:
            if size == 1:
                break
            chunks = min(chunks * 2, len(keys))
    return removed


def _without(data: Any, path: tuple, keys: list[Any]) -> Any:
    """A copy of ``data`` without the entries ``keys`` of the container at ``path`` (nodes are bypassed)."""
    smaller = copy.deepcopy(data)
    container = _get(smaller, path)
    if path and path[-1] == "nodes" and isinstance(container, dict):
        _bypass(_get(smaller, path[:-1]), keys)
        return smaller
    for key in sorted(keys, reverse=True) if isinstance(container, list) else keys:
        del container[key]
    return smaller


def _simpler(value: Any) -> list[Any]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [v for v in (0, 1, value // 2) if abs(v) < abs(value)]
    if isinstance(value, str) and len(value) > 40:  # long text (docs); names and references stay readable
        return [value[:20]]
    if isinstance(value, (list, dict)) and len(value) > 1:
        return [value[:1] if isinstance(value, list) else dict(list(value.items())[:1])]
    return []


def _paths(data: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for k, value in enumerate(data):
            yield prefix + (k,)
            yield from _paths(value, prefix + (k,))


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _bypass(unit: dict, names: list[Any]) -> None:
    """Delete the nodes ``names`` of ``unit`` (in place) and make their readers (and outputs) read their
    first inputs instead: a reader of a chain of deleted nodes reads the chain's first live input, as if
    they were bypassed one after another. One pass over the unit, however many nodes go."""
    nodes = unit["nodes"]
    gone = {name: nodes.pop(name) for name in names}
    sources: dict[Any, Any] = {}

    def source(name: Any) -> Any:
        """What a reader of the deleted node ``name`` reads instead: None where it has no input."""
        if name not in sources:
            sources[name] = None  # a cycle of deleted nodes ends here
            node = gone[name]
            first = _first_ref(node.get("in") if isinstance(node, dict) else None)
            sources[name] = redirect(first) if first is not None else None
        return sources[name]

    def deleted(ref: str) -> Any:
        """The deleted node that ``ref`` (``name`` or ``name.port``) reads, else None."""
        if ref in gone:
            return ref
        cut = ref.find(".")
        while cut != -1:
            if ref[:cut] in gone:
                return ref[:cut]
            cut = ref.find(".", cut + 1)
        return None

    def redirect(ref: Any) -> Any:
        if isinstance(ref, str):
            name = deleted(ref)
            new = source(name) if name is not None else None
            return new if new is not None else ref
        if isinstance(ref, list):
            return [redirect(r) for r in ref]
        if isinstance(ref, dict):
            return {k: redirect(v) if k != "when" and k != "doc" else v for k, v in ref.items()}
        return ref

    for other in nodes.values():
        if isinstance(other, dict) and "in" in other:
            other["in"] = redirect(other["in"])
    if isinstance(unit.get("outputs"), dict):
        unit["outputs"] = {k: redirect(v) for k, v in unit["outputs"].items()}


def _first_ref(ref: Any) -> str | None:
    if isinstance(ref, str):
        return ref
    if isinstance(ref, list) and ref:
        return _first_ref(ref[0])
    if isinstance(ref, dict) and ref:
        return _first_ref(next(iter(ref.values())))
    return None


def _reduce_lines(text: str, fails: Callable[[str], bool], spend: _Budget) -> str:
    """ddmin over the lines of ``text`` (the text itself is known to fail), while budget is left."""
    lines = text.splitlines(keepends=True)
    chunks = 2
    try:
        while len(lines) >= 2:
            size = max(len(lines) // chunks, 1)
            reduced = False
            for start in range(0, len(lines), size):
                candidate = lines[:start] + lines[start + size:]
                if candidate and spend() and fails("".join(candidate)):
                    lines, chunks, reduced = candidate, max(chunks - 1, 2), True
                    break
            if not reduced:
                if size == 1:
                    break
                chunks = min(chunks * 2, len(lines))
    except _Spent:
        pass
    return "".join(lines)
