"""The text operators of :mod:`vibench.testing.mutations`: edits of a spec's text, after the tree ones.

Each takes the text and the mutant's :class:`random.Random` and returns the edited text: drop, duplicate
or swap lines, insert YAML syntax, truncate, re-indent, flip a character.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_TEXT_SNIPPETS = (
    ":", " :", "{", "}", "[", "]", '"', "'", "\t", "&a ", "*a", "!!python/object:os.system ", "!!binary ",
    "%YAML 1.1\n", "\x00", "\ufeff", "\u2028", "#", "- ", "? ", "|\n", ">-\n", "<<: *a\n", "---\n", "...\n",
    "\\", "${", "\r\n", "\x85", "a: &a [*a]\n",
)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def _t_drop_line(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "".join(lines)


def _t_dup_line(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    k = rng.randrange(len(lines))
    lines.insert(k, lines[k])
    return "".join(lines)


def _t_swap_lines(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "".join(lines)


def _t_insert(text: str, rng: random.Random) -> str:
    k = rng.randint(0, len(text))
    return text[:k] + rng.choice(_TEXT_SNIPPETS) + text[k:]


def _t_truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randint(0, len(text))]


def _t_indent(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    k = rng.randrange(len(lines))
    lines[k] = rng.choice([" ", "  ", "\t", ""]) + (lines[k].lstrip(" ") if rng.random() < 0.5 else lines[k])
    return "".join(lines)


def _t_flip(text: str, rng: random.Random) -> str:
    if not text:
        return text
    k = rng.randrange(len(text))
    return text[:k] + chr(rng.choice([ord(text[k]) ^ (1 << rng.randrange(7)), 0x301, 0xFF58, 0x2028, 0x7F])) \
        + text[k + 1:]


_TEXT_OPERATORS: tuple[tuple[str, Callable[[str, random.Random], str]], ...] = (
    ("text:drop_line", _t_drop_line), ("text:dup_line", _t_dup_line), ("text:swap_lines", _t_swap_lines),
    ("text:insert", _t_insert), ("text:insert", _t_insert), ("text:truncate", _t_truncate),
    ("text:indent", _t_indent), ("text:flip", _t_flip),
)
