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
  alternatives outside repetitions (``(weight|bias)``).

Left as it is: adjacent repetitions that overlap (``.*.*x``) still cost time polynomial in a key's
length; reference checkpoints' keys are short (under 100 characters).
"""

from __future__ import annotations

import re
from typing import Any

MAX_PATTERN = 500
"""Characters of one pattern (the library's longest has 60)."""

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
    if _nested_repeat(_sre.parse(pattern)):
        return ("a repetition that holds another repetition or alternatives (such as `(a+)+` or `(a|ab)*`) "
                "can take time exponential in a key's length; write one level (`a+`, `(a|ab)` once)")
    return None


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
