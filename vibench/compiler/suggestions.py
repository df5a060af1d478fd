"""A "did you mean": the candidate a misspelt name most likely meant: the one it equals but for case and
`-`/`_` (``Relu`` is ``relu``), else the nearest by difflib's ratio (at least 0.6).

:func:`suggest` answers for one name; :class:`Suggestions` for the many misspelt names of one pass, all
against the same candidates, with the work they take together bounded (:data:`MAX_SUGGEST_WORK`);
:class:`SuggestionSets` for those of a pass that looks names up among several candidate sets (each unit's names),
with one bound for them all.
Only short names are compared (:data:`MAX_SUGGEST_LEN`), each against at most :data:`MAX_SUGGEST_POOL`
candidates, the nearest in length.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

MAX_SUGGEST_LEN = 100  # names longer than this get no "did you mean"
MAX_SUGGEST_POOL = 2_000  # candidates compared for a "did you mean"
MAX_SUGGEST_WORK = 100_000
"""Candidates one :class:`Suggestions` compares in all. A comparison costs up to about 20 us (2,000 names
alike, `nodx_17` among `node_0` ... `node_4999`: 40 ms a lookup), so a pass spends at most about 2 s on "did
you mean" however many names are unknown: enough for the first 50 of them (the diagnostics shown) among
2,000 names, or 970 among the 103 catalogue blocks. One lookup per name made 5,000 unknown references take 208 s."""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a misspelt ``name`` most likely meant, or None when nothing is close."""
    if len(name) > MAX_SUGGEST_LEN:  # difflib is quadratic in the lengths; nobody mistypes 100 characters
        return None
    return _closest_in(name, _suggest_pool(candidates))


def _suggest_pool(candidates: Iterable[str]) -> list[str]:
    """The candidates ``closest`` compares, sorted (a name can be suggested only if it is short)."""
    return sorted({c for c in candidates if isinstance(c, str) and len(c) <= MAX_SUGGEST_LEN})


def _nearest(name: str, pool: list[str]) -> list[str]:
    """At most MAX_SUGGEST_POOL names of the sorted ``pool``: those nearest ``name`` in length, sorted."""
    if len(pool) <= MAX_SUGGEST_POOL:
        return pool
    return sorted(sorted(pool, key=lambda c: abs(len(c) - len(name)))[:MAX_SUGGEST_POOL])


def _folded(name: str) -> str:
    """``name`` as compared for a match but for case and `-`/`_` (`Layer-Norm` is `layer_norm`)."""
    return name.lower().replace("-", "_")


def _folded_pool(pool: list[str]) -> dict[str, list[str]]:
    """The sorted ``pool`` by :func:`_folded` name."""
    folded: dict[str, list[str]] = {}
    for c in pool:
        folded.setdefault(_folded(c), []).append(c)
    return folded


def _same(name: str, folded: dict[str, list[str]]) -> str | None:
    """The candidate ``name`` equals but for case and `-`/`_`: itself, else the one that differs only by case
    (`Layer-Norm`: `layer-norm` before `layer_norm`), else the last."""
    alike = folded.get(_folded(name))
    if not alike:
        return None
    return name if name in alike else next((c for c in alike if c.lower() == name.lower()), alike[-1])


def _closest_in(name: str, pool: list[str], folded: dict[str, list[str]] | None = None) -> str | None:
    # The name as written but for case or `-`/`_` first: difflib's ratio prefers a shorter name that
    # shares more of the characters (`Relu` is nearer `elu` than `relu`, `in-ch` nearer `inch` than `in_ch`).
    same = _same(name, folded if folded is not None else _folded_pool(pool))
    if same is not None:
        return same
    import difflib  # only when there is something to suggest

    matches = difflib.get_close_matches(name, _nearest(name, pool), n=1, cutoff=0.6)
    return matches[0] if matches else None


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt ``name``, or None when nothing is close."""
    match = closest(name, candidates)
    return f"did you mean `{match}`?" if match else None


class Suggestions:
    """A "did you mean" for the misspelt names of one pass, all against the same ``candidates``: the
    candidates are sorted once, and the lookups together compare at most ``work`` of them
    (:data:`MAX_SUGGEST_WORK`). A name asked after the work is spent gets only the exact match but for
    case and `-`/`_` (``Conv`` for ``conv``), or None. Hints depend only on the candidates and the order
    names are asked in, so a pass that asks in source order gives the same messages at every run, the
    first ones (those the command line shows) with their suggestion.

    >>> names = Suggestions(["conv", "linear", "relu"])
    >>> names.hint("lineer"), names.hint("Relu"), names.hint("softmax")
    ('did you mean `linear`?', 'did you mean `relu`?', None)
    """

    def __init__(self, candidates: Iterable[str], work: int = MAX_SUGGEST_WORK) -> None:
        self.candidates = candidates
        self.work = work
        self._pool: list[str] | None = None
        self._folded: dict[str, list[str]] = {}

    def closest(self, name: str) -> str | None:
        """As :func:`closest`, while the work lasts."""
        if len(name) > MAX_SUGGEST_LEN:
            return None
        if self._pool is None:
            self._pool = _suggest_pool(self.candidates)
            self._folded = _folded_pool(self._pool)
        same = _same(name, self._folded)
        if same is not None:  # as closest does first; it costs no comparisons
            return same
        cost = min(len(self._pool), MAX_SUGGEST_POOL)
        if cost <= self.work:
            self.work -= cost
            return _closest_in(name, self._pool, self._folded)
        return None

    def hint(self, name: str) -> str | None:
        """As :func:`suggest`, while the work lasts."""
        match = self.closest(name)
        return f"did you mean `{match}`?" if match else None


class SuggestionSets:
    """A "did you mean" for the misspelt names of one pass that looks them up among several sets of candidates (the
    names of each unit it reads, the parameters of each block): one :class:`Suggestions` per set, made at its first
    lookup, all sharing one budget of ``work`` (:data:`MAX_SUGGEST_WORK`). A set is named by a ``key`` the caller
    chooses (a definition's id); its candidates are asked for only when it is first made.

    >>> sets = SuggestionSets()
    >>> sets.hint("a", lambda: ["width", "depth"], "widht"), sets.hint("b", lambda: ["relu"], "Relu")
    ('did you mean `width`?', 'did you mean `relu`?')
    """

    def __init__(self, work: int = MAX_SUGGEST_WORK) -> None:
        self.work = work
        self._sets: dict[Hashable, Suggestions] = {}

    def hint(self, key: Hashable, candidates: Callable[[], Iterable[str]], name: str) -> str | None:
        """As :meth:`Suggestions.hint`, among the set ``key`` (made from ``candidates()`` at its first lookup)."""
        names = self._sets.get(key)
        if names is None:
            names = self._sets[key] = Suggestions(candidates())
        names.work = self.work  # (the budget is the pass's: what the other sets spent is gone)
        try:
            return names.hint(name)
        finally:
            self.work = names.work
