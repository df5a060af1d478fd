"""A "did you mean": the candidate a misspelt name most likely meant: the one it equals but for case and
`-`/`_` (``Relu`` is ``relu``), else the nearest by difflib's ratio (at least 0.6). Of equally near candidates,
the one that keeps the name's first and last letters (a typo is more often in the middle: `gte` meant `ge`, not
`gt`), then the first in the caller's order, so a pass can rank its names (nodes as written); a set has no
order but its hashes', which change from run to run: its names are ranked alphabetically, the last first.

:func:`suggest` answers for one name; :class:`Suggestions` for the many misspelt names of one pass, all
against the same candidates, with the work they take together bounded (:data:`MAX_SUGGEST_WORK`);
:class:`SuggestionSets` for those of a pass that looks names up among several candidate sets (each unit's names),
with one bound for them all.
Only short names are compared (:data:`MAX_SUGGEST_LEN`), each against at most :data:`MAX_SUGGEST_POOL`
candidates, the nearest in length.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

CUTOFF = 0.6  # difflib's ratio a candidate needs to be suggested (get_close_matches' default)

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
    """The candidates ``closest`` compares, once each, in the caller's order; a set's alphabetically, the last first
    (as difflib ranked ties before: a set's hints stay as they were). A name can be suggested only if it is short."""
    short = (c for c in candidates if isinstance(c, str) and len(c) <= MAX_SUGGEST_LEN)
    return sorted(set(short), reverse=True) if isinstance(candidates, (set, frozenset)) else list(dict.fromkeys(short))


def _nearest(name: str, pool: list[str]) -> list[str]:
    """At most MAX_SUGGEST_POOL names of ``pool``: those nearest ``name`` in length, in the pool's order."""
    if len(pool) <= MAX_SUGGEST_POOL:
        return pool
    kept = sorted(range(len(pool)), key=lambda i: abs(len(pool[i]) - len(name)))[:MAX_SUGGEST_POOL]
    return [pool[i] for i in sorted(kept)]


def _folded(name: str) -> str:
    """``name`` as compared for a match but for case and `-`/`_` (`Layer-Norm` is `layer_norm`)."""
    return name.lower().replace("-", "_")


def _folded_pool(pool: list[str]) -> dict[str, list[str]]:
    """``pool`` by :func:`_folded` name, each name's candidates in the pool's order."""
    folded: dict[str, list[str]] = {}
    for c in pool:
        folded.setdefault(_folded(c), []).append(c)
    return folded


def _same(name: str, folded: dict[str, list[str]], allowed: Callable[[str], bool] | None = None) -> str | None:
    """The ``allowed`` candidate ``name`` equals but for case and `-`/`_`: itself, else one that differs only by
    case (`Layer-Norm`: `layer-norm` before `layer_norm`), else the first."""
    alike = [c for c in folded.get(_folded(name), ()) if allowed is None or allowed(c)]
    if not alike:
        return None
    return name if name in alike else next((c for c in alike if c.lower() == name.lower()), alike[0])


def _ends(name: str, candidate: str) -> int:
    """How many of ``name``'s first and last letters ``candidate`` keeps (0 to 2), but for case."""
    return (candidate[:1].lower() == name[:1].lower()) + (candidate[-1:].lower() == name[-1:].lower())


def _closest_in(name: str, pool: list[str], folded: dict[str, list[str]] | None = None,
                allowed: Callable[[str], bool] | None = None) -> str | None:
    # The name as written but for case or `-`/`_` first: difflib's ratio prefers a shorter name that
    # shares more of the characters (`Relu` is nearer `elu` than `relu`, `in-ch` nearer `inch` than `in_ch`).
    same = _same(name, folded if folded is not None else _folded_pool(pool), allowed)
    if same is not None:
        return same
    import difflib  # only when there is something to suggest

    # difflib's nearest, best first; of equal ratios it puts the alphabetically last first (`gte` got `gt`), so
    # the tie among the best allowed goes to _ends, then to the pool's order.
    nearest = _nearest(name, pool)
    ranked = (c for c in difflib.get_close_matches(name, nearest, n=len(nearest) or 1, cutoff=CUTOFF)
              if allowed is None or allowed(c))
    best = next(ranked, None)
    if best is None:
        return None
    matcher = difflib.SequenceMatcher(None, best, name)  # as get_close_matches compares them
    top, tied = matcher.ratio(), [best]
    for c in ranked:
        matcher.set_seq1(c)
        if matcher.ratio() < top:
            break
        tied.append(c)
    position = {c: i for i, c in enumerate(nearest)} if len(tied) > 1 else {best: 0}
    return min(tied, key=lambda c: (-_ends(name, c), position[c]))


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

    def closest(self, name: str, allowed: Callable[[str], bool] | None = None) -> str | None:
        """As :func:`closest`, while the work lasts; only a candidate ``allowed`` accepts is suggested (asked only
        of a candidate that is nearer than those before it)."""
        if len(name) > MAX_SUGGEST_LEN:
            return None
        if self._pool is None:
            self._pool = _suggest_pool(self.candidates)
            self._folded = _folded_pool(self._pool)
        same = _same(name, self._folded, allowed)
        if same is not None:  # as closest does first; it costs no comparisons
            return same
        cost = min(len(self._pool), MAX_SUGGEST_POOL)
        if cost <= self.work:
            self.work -= cost
            return _closest_in(name, self._pool, self._folded, allowed)
        return None

    def hint(self, name: str, allowed: Callable[[str], bool] | None = None) -> str | None:
        """As :func:`suggest`, while the work lasts (``allowed``: as :meth:`closest`)."""
        match = self.closest(name, allowed)
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
