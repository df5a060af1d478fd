"""The rules of ``reference.state_dict_renames``: what a [pattern, replacement] pair may be.

The emitted ``load_reference_state_dict`` applies each rule with ``re.sub`` to every key of a
checkpoint, so a rule is checked where the spec writes it, not when a user loads weights:

* the pattern is a valid regular expression of at most :data:`MAX_PATTERN` characters;
* the replacement is a valid template for it (``\\2`` of a pattern with one group was an ``re.error``
  at load time);
* no repetition holds another repetition or an alternative (``(a+)+``, ``(\\w*)*``, ``(a|ab)*``):
  Python's backtracking matcher takes time exponential in the key's length on such a pattern
  (``^(a+)+$`` against 30 ``a`` and a ``!``: minutes), and both the spec and the checkpoint may come
  from someone else. The library's rules need one level (``(\\d+\\.)?``, ``(\\w+)$``) and
  alternatives outside repetitions (``(weight|bias)``);
* the steps the pattern can take from one character of a key are at most :data:`MAX_STEPS`:
  repetitions and alternatives that can overlap what follows them multiply (``.*.*.*!`` takes a key's
  length cubed, from each of its characters, on a key it does not fit; ``a?a?...a?aaa...`` doubles
  with each ``a?``), and the pattern's author chooses how many. A key is at most :data:`MAX_KEY`
  characters (the loaders refuse longer ones before a rule runs), so one ``.*`` is fine and two are
  not — except in a pattern anchored with ``^`` (``^(.*)\\.(.*)$``), which the matcher tries from the
  key's first character only, so it gets the budget of all the starts (``MAX_STEPS * MAX_KEY``); a
  repetition of one character that cannot match the character that must follow it
  (``[^.]*\\.``, ``\\d+\\.``, ``(\\w+)$``) backs off without trying the rest again: it runs over the
  key once. The library's rules take at most 1,070 steps (:data:`MAX_STEPS` is 16,400); the worst
  patterns admitted took under 0.1 s on a key of :data:`MAX_KEY` characters (measured).
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_PREFIX = "network."
"""The model's key prefix in PHM-Vibench's Lightning checkpoints (its task keeps the model as ``network``):
the default of ``--weights-prefix`` and of the runtime's loader (here, where both sides can import it
without torch)."""
MAX_PATTERN = 500
"""Characters of one pattern (the library's longest has 60)."""
MAX_KEY = 1024
"""Characters of the longest checkpoint key the loaders rename (``vibench.runtime.checkpoint.MAX_KEY_LENGTH``)."""
MAX_STEPS = 16 * (MAX_KEY + 1)
"""Steps one pattern may take from one character of a key: one ``.*`` (a key's length + 1 ways)
followed by 14 items (the library's rules take at most 1,070: one ``\\d+`` or ``\\w+`` runs over a key)."""

try:  # the regular-expression parser: `re._parser` since Python 3.11, `sre_parse` before
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT} | ({_sre.POSSESSIVE_REPEAT} if hasattr(_sre, "POSSESSIVE_REPEAT")
                                                 else set())


def rename_problem(pattern: str, replacement: str) -> str | None:
    """What is wrong with one rename rule (a sentence for a diagnostic), or None."""
    if len(pattern) > MAX_PATTERN:
        return f"the pattern has {len(pattern):,} characters (at most {MAX_PATTERN})"
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        return f"invalid regular expression: {err}"
    try:
        compiled.sub(replacement, "")  # parses the replacement template, whether or not anything matches
    except (re.error, IndexError) as err:
        return f"invalid replacement for this pattern: {err}"
    parsed = _sre.parse(pattern)
    if _nested_repeat(parsed):
        return ("a repetition that holds another repetition or alternatives (such as `(a+)+` or `(a|ab)*`) "
                "can take time exponential in a key's length; write one level (`a+`, `(a|ab)` once)")
    # Python's matcher tries a pattern from every character of a key, or only from the first when it is
    # anchored there: the budget is for all its starts together.
    budget = MAX_STEPS * MAX_KEY if _anchored(parsed) else MAX_STEPS
    if _steps(parsed, 1, _END, not parsed.state.flags & re.IGNORECASE, budget)[1] > budget:
        return (f"the pattern can take more than {MAX_STEPS * MAX_KEY:,} steps on a key of {MAX_KEY:,} characters "
                "(from its first character when anchored with `^`, else from each), and Python's matcher takes "
                "them all on a key the pattern does not fit: repetitions "
                "and alternatives that can overlap what follows them multiply (`.*.*` takes the key's length "
                "squared). Write one `.*` at most, anchor the rule with `^`, and between dots write `[^.]*` or "
                "`\\w+`, which stop at the next dot (`^[^.]*\\.[^.]*\\.weight$`)")
    return None


_END = "end"
"""What follows the last item of a pattern (or of an assertion), or `$`: nothing to try again."""
_ONE_CHARACTER = {_sre.LITERAL, _sre.NOT_LITERAL, _sre.ANY, _sre.IN}


def _anchored(parsed: Any) -> bool:
    """Whether the pattern matches only from a key's first character (``^`` without MULTILINE, ``\\A``)."""
    items = list(parsed)
    if not items or items[0][0] is not _sre.AT:
        return False
    where = items[0][1]
    return where is _sre.AT_BEGINNING_STRING or (where is _sre.AT_BEGINNING and not parsed.state.flags & re.MULTILINE)


def _steps(parsed: Any, paths: int, follow: str | None, exact: bool, budget: int = MAX_STEPS) -> tuple[int, int]:
    """(ways out, steps) of ``parsed`` reached in ``paths`` ways, at one position of a key of
    :data:`MAX_KEY` characters: an upper bound, both capped just over ``budget``. ``follow`` is
    what must match after it: one character, :data:`_END`, or None when unknown; ``exact`` is False
    under case-insensitive matching, where a character class is not compared with what follows it."""
    steps, items, cap = 0, list(parsed), budget + 1
    for i, (op, av) in enumerate(items):
        after = _first(items, i + 1, follow)
        if op in _REPEATS:
            low, high, sub = av
            high = min(high, MAX_KEY)
            if len(sub) == 1 and sub[0][0] in _ONE_CHARACTER:
                steps += paths * (high - low + 1)  # the lengths it runs over and backs off through
                if not (exact and _stops(sub, after)):  # each length tries the rest again
                    paths *= high - low + 1
            else:  # a group: each round from where the last one ended
                rounds, out = paths, paths if low == 0 else 0
                for k in range(1, high + 1):
                    rounds, more = _steps(sub, rounds, None, exact, budget)
                    steps, out = steps + more, out + (rounds if k >= low else 0)
                    if steps > cap or out > cap:
                        break
                paths = out
        elif op is _sre.BRANCH or op is _sre.GROUPREF_EXISTS:
            branches = av[1] if op is _sre.BRANCH else [b for b in av[1:] if b is not None] + [[]] * (av[2] is None)
            ends = [_steps(branch, paths, after, exact, budget) for branch in branches]
            paths, steps = sum(e[0] for e in ends), steps + sum(e[1] for e in ends)
        elif op is _sre.SUBPATTERN:  # (?i:...) and the like: classes not compared with what follows
            paths, more = _steps(av[-1], paths, after, exact and not (av[1] or av[2]), budget)
            steps += more
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT) or op is getattr(_sre, "ATOMIC_GROUP", None):
            steps += _steps(av if op not in (_sre.ASSERT, _sre.ASSERT_NOT) else av[1], paths, _END, exact, budget)[1]
        else:
            steps += paths
        paths, steps = min(paths, cap), min(steps, cap)
    return paths, steps


def _first(items: list, start: int, follow: str | None) -> str | None:
    """What must match at ``items[start]``: one character, :data:`_END` (`$` or nothing), or None."""
    if start >= len(items):
        return follow
    op, av = items[start]
    if op is _sre.LITERAL:
        return chr(av)
    if op is _sre.IN and len(av) == 1 and av[0][0] is _sre.LITERAL:  # [.]
        return chr(av[0][1])
    if op is _sre.AT and av in (_sre.AT_END, _sre.AT_END_STRING):
        return _END
    if op is _sre.SUBPATTERN and not (av[1] or av[2]):
        return _first(list(av[-1]), 0, _first(items, start + 1, follow))
    return None


def _stops(sub: Any, after: str | None) -> bool:
    """Whether the one-character item ``sub`` cannot match ``after``, the character that follows it."""
    if after is None or after == _END:
        return after == _END  # `$` or nothing: no attempt after it to repeat
    try:
        return _compile(sub).fullmatch(after) is None
    except Exception:  # noqa: BLE001 - an item the compiler does not take alone: counted in full
        return False


def _compile(sub: Any) -> Any:
    try:
        from re import _compiler  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python 3.10
        import sre_compile as _compiler  # type: ignore[no-redef]
    return _compiler.compile(sub)


def _nested_repeat(parsed: Any, inside: bool = False) -> bool:
    """Whether a repetition of more than one item holds another such repetition or alternatives."""
    for op, av in parsed:
        if inside and op is _sre.BRANCH:
            return True
        if op in _REPEATS:
            low, high, sub = av
            many = high is _sre.MAXREPEAT or high > 1
            if many and inside:
                return True
            if _nested_repeat(sub, inside or many):
                return True
        elif op is _sre.SUBPATTERN:
            if _nested_repeat(av[-1], inside):
                return True
        elif op is _sre.BRANCH:
            if any(_nested_repeat(branch, inside) for branch in av[1]):
                return True
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            if _nested_repeat(av[1], inside):
                return True
        elif getattr(_sre, "ATOMIC_GROUP", None) is not None and op is _sre.ATOMIC_GROUP:
            if _nested_repeat(av, inside):
                return True
    return False
