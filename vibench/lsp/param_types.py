"""Which declared parameters a block parameter takes by name, judged by type (for completion's names as values).

A block parameter that takes no text reads a plain name as the value of the unit's parameter or ``let`` of that
name (``out_channels: width``; docs/language.md, "Names as values"), and the block then validates that value:
only parameters declared of a type the block parameter takes are offered (``bias: width`` is E112). A declared
type is the one the compiler gives the declaration: its ``type:``, else the type of its default
(:func:`vibench.compiler.param_types.infer_type`) read as the compiler's loader reads the default as written, quotes,
YAML 1.1's words and numbers included: ``w: "8"`` is a string, ``f: yes`` a bool, ``n: 1_000`` an int.

>>> from vibench.lsp.outline import outline
>>> o = outline('params: {w: "8", f: yes, n: 1_000, k: {default: 3}}')
>>> [declared_as(o, ("params", name), kinds_taken("int")) for name in ("w", "f", "n", "k")]
[False, False, True, True]
"""

from __future__ import annotations

import functools

from vibench.lsp.outline_model import Entry, Outline, Path

# The declared types (as a spec writes them) whose values a block parameter's type takes: an int is a float too.
_TAKEN = {"bool": ("bool",), "int": ("int",), "float": ("float", "int"), "list": ("list",), "tuple": ("list",),
          "dict": ("dict",), "None": ()}


def kinds_taken(type_: str) -> tuple[str, ...]:
    """The declared types of the names a parameter of type ``type_`` (``int | None``, ``list[int]``) takes; none,
    meaning any, for a type the editor cannot tell (``any``, ``${...}``, a composite's inferred one)."""
    kinds: list[str] = []
    for member in members(type_):
        taken = _TAKEN.get(member.split("[")[0])
        if taken is None:
            return ()
        kinds += [k for k in taken if k not in kinds]
    return tuple(kinds)


def members(type_: str) -> list[str]:
    """The members of a union as the editor shows it, split at the ``|`` outside brackets (``list[int | None]``
    is one member)."""
    found, depth, start = [], 0, 0
    for i, char in enumerate(type_):
        depth += char == "["
        depth -= char == "]"
        if char == "|" and depth == 0:
            found.append(type_[start:i].strip())
            start = i + 1
    return [*found, type_[start:].strip()]


def takes_text(type_: str) -> bool:
    """Whether a parameter type as the editor shows it (``int``, ``'same' | 'valid' | int``) takes text."""
    return any(m in ("str", "any", "") or m.startswith(("'", '"', "str")) for m in members(type_))


def declared_as(o: Outline, path: Path, kinds: tuple[str, ...]) -> bool:
    """Whether the parameter at ``path`` is declared as one of ``kinds`` (``type: int``, ``int | None``,
    ``list[int]``; else by its default, the shorthand's ``width: 8`` or ``default:``); a type the editor cannot
    tell (``any``, a default not written yet) counts as any."""
    written = o.value((*path, "type")) if o.kind(path) == "map" else None
    if written is None:
        written = _default_type(o, (*path, "default") if o.kind(path) == "map" else path)
    return any(m.split("[")[0] in kinds or m in ("any", "") for m in members(written))


def _default_type(o: Outline, path: Path) -> str:
    """The type the compiler infers from the default at ``path`` (vibench/compiler/resolve_decls.py)."""
    kind = o.kind(path)
    if kind in ("seq", "map"):
        return "list" if kind == "seq" else "dict"
    entry = o.entry(path)
    if entry is None or entry.value_span is None:  # nothing written yet (`w:` is null: any)
        return "any"
    return _scalar_type(" ".join([*_properties(o.text, entry), o.text[entry.value_span[0]:entry.value_span[1]]]))


def _properties(text: str, entry: Entry) -> list[str]:
    """The tags and anchors written before a scalar value (``!!str`` and ``&x`` in ``a: !!str &x 8``): the
    outline's value span starts after them, and a tag decides the type the loader gives (``!!str 8`` is text,
    ``!!int "8"`` an int). Read between the key's `:` and the value, comments left out."""
    if entry.key_span is None or entry.value_span is None:
        return []
    between = text[entry.key_span[1]:entry.value_span[0]]
    between = between[between.find(":") + 1:]  # the first `:` is the key's (a verbatim tag may hold more)
    found = []
    for line in between.splitlines():
        for token in line.split():
            if token.startswith("#"):  # a comment runs to the line's end
                break
            if token.startswith(("!", "&")):
                found.append(token)
    return found


@functools.lru_cache(maxsize=1024)
def _scalar_type(written: str) -> str:
    """The inferred type of a scalar as written (``"8"``, ``yes``, ``1_000``), read by the compiler's loader;
    ``any`` where the loader refuses it (the check reports that text)."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import load_text
    from vibench.compiler.param_types import infer_type

    try:
        value = load_text(written, lenient_keys=True).data
    except SpecError:
        return "any"
    return infer_type(value)
