"""A PHM-Vibench base config's strings kept out of every message, whatever pass made it (:class:`Unshown`).

A base config may hold credentials, paths and names its project keeps to itself, and its values reach every pass
after the translation: a message located in the experiment may quote what a pass computed from them. Each string
a base config gave (a value or a key, at any depth) is looked for in the final text of every field of every
diagnostic — message, node, port, expected, found, hint, notes; ``--format json`` and the language server print
those — as a message writes it (as is, on one line, as Python's ``repr`` or JSON escapes it, or cut short by
:func:`~vibench.compiler.diagnostics.clip`), and replaced, as a whole word, by ``<from the base config>``.

A string is kept where it is no secret: one shorter than :data:`MIN_SHOWN` characters or written as a number (a
message's `x` or `773` is seldom the base config's), a name vibench knows (a template parameter, a model-guide key
such as `in_channels`), or one the template, a component it loaded or the experiment itself writes (`ResNet1D`,
`bottleneck`, `relu`: a message may name those for its own reasons). Numbers a base config gave, and sizes computed
from them, are not hidden: a shape check of the merged model says the sizes it finds (docs/phm.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from vibench.compiler.diagnostics import Diagnostic, one_line

MIN_SHOWN = 4
"""Strings shorter than this are not hidden: a message's own short words (`x`, `B`, `in`) would be."""
MAX_STRINGS = 100_000
"""Strings of the base configs looked for (a base config of a million strings is counted, not walked further)."""
PLACEHOLDER = "<from the base config>"
_NUMERIC = re.compile(r"[-+]?[0-9][0-9_,.]*(?:[eE][-+]?[0-9]+)?")
_CLIPPED = re.compile(r"\.\.\. \([0-9,]+ more characters\)")  # what clip() writes where it cut a text


def strings_in(value: Any, into: set[str]) -> None:
    """Add to ``into`` every string of ``value``: its keys and values at any depth, and the text of its other
    scalars that are no number (`True`, a date), at most :data:`MAX_STRINGS` of them."""
    stack = [value]
    while stack and len(into) < MAX_STRINGS:
        item = stack.pop()
        if isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            stack += item
        elif isinstance(item, str):
            into.add(item)
        elif item is not None and not isinstance(item, bool | int | float):
            into.add(str(item))


def forms(text: str) -> set[str]:
    """``text`` as messages write it: as is, on one line, escaped by ``repr`` (inside a quoted list or mapping)
    and by JSON."""
    return {text, one_line(text), repr(text)[1:-1], json.dumps(text)[1:-1]} - {""}


def _token(form: str) -> str:
    """``form`` as a whole token, never inside a longer word: a base config's `conv` is not hidden in `conv1d`, nor
    its `MobileNet` in the `MobileNet1D` a hint suggests."""
    before = r"(?<!\w)" if re.match(r"\w", form) else ""
    after = r"(?!\w)" if re.search(r"\w\Z", form) else ""
    return before + re.escape(form) + after


def occurs(text: str, within: str) -> bool:
    """Whether a form of ``text`` stands in ``within`` as a whole token."""
    return any(form in within and re.search(_token(form), within) is not None for form in forms(text))


class Unshown:
    """The strings of the base configs that messages must not show (``strings``), but for the names vibench knows
    (in one of ``known``: the template's parameters, the model guide's keys) and those the texts in ``public`` write too
    (the template's and its components' files, the experiment). Both are read when a message is first said."""

    def __init__(self, strings: Iterable[str], public: Collection[str], known: Iterable[Collection[str]]) -> None:
        self.forms = [(form, text) for text in sorted(strings) if len(text) >= MIN_SHOWN
                      and not _NUMERIC.fullmatch(text) for form in sorted(forms(text))]
        self.public = public
        self.known = tuple(known)
        self._secret: dict[str, bool] = {}

    def said(self, diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
        """``diagnostics``, each with the strings of the base configs in its text replaced."""
        return [self.hidden(d) for d in diagnostics] if self.forms else list(diagnostics)

    def hidden(self, d: Diagnostic) -> Diagnostic:
        """``d`` with each string of the base configs that its fields show replaced (``d`` itself if none)."""
        fields = [d.message, d.node, d.port, d.expected, d.found, d.hint, *d.notes]
        joined = "\0".join(text for text in fields if text)
        found = [(form, text) for form, text in self.forms if form in joined and self._is_secret(text)]
        clipped = _CLIPPED.search(joined) is not None
        if not found and not clipped:
            return d
        if clipped:  # a field cut short may end in the first characters of a string
            found = [(form, text) for form, text in self.forms if form[:MIN_SHOWN] in joined and self._is_secret(text)]
        if not found:
            return d

        def said(field: str | None) -> str | None:
            return None if field is None else _replaced(field, [form for form, _ in found])

        return replace(d, message=said(d.message) or d.message, node=said(d.node), port=said(d.port),
                       expected=said(d.expected), found=said(d.found), hint=said(d.hint),
                       notes=tuple(said(note) or "" for note in d.notes))

    def _is_secret(self, text: str) -> bool:
        secret = self._secret.get(text)
        if secret is None:
            secret = self._secret[text] = not any(text in names for names in self.known) and \
                not any(occurs(text, public) for public in self.public)
        return secret


def _replaced(field: str, found: list[str]) -> str:
    """``field`` with each of the ``found`` forms replaced where it stands whole, and where a clipped text ends in
    its first characters (at least :data:`MIN_SHOWN` of them)."""
    present = sorted((form for form in found if form in field), key=len, reverse=True)  # a longer one first
    if present:  # one pass: a placeholder written is not read again (`base` is a word of it)
        field = re.sub("|".join(_token(form) for form in present), PLACEHOLDER, field)
    for marker in reversed(list(_CLIPPED.finditer(field))):
        head = field[:marker.start()]
        cut = min((at for form in found if (at := _cut_at(head, form)) is not None), default=None)
        if cut is not None:
            field = field[:cut] + PLACEHOLDER + field[marker.start():]
    return field


def _cut_at(head: str, form: str) -> int | None:
    """Where ``head`` ends in the start of ``form`` (clipped there), at least :data:`MIN_SHOWN` characters of it."""
    start = max(0, len(head) - len(form) + 1)
    at = head.find(form[:MIN_SHOWN], start)
    while at != -1:
        if form.startswith(head[at:]) and not re.match(r"\w\w", head[at - 1:at + 1]):
            return at
        at = head.find(form[:MIN_SHOWN], at + 1)
    return None
