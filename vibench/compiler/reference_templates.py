"""The template reference: ``vibench-compile --list NAME`` (see :mod:`vibench.compiler.reference_docs`).

A template's parameters are its declared ``params:``; its interface is the one checked at its
defaults; its slots list the components their folders offer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vibench.compiler.reference_text import (
    ParamRow,
    UnknownName,
    _clip,
    _flow,
    _indent,
    _interface,
    _json,
    _table,
)

if TYPE_CHECKING:
    from vibench.compiler.ir import ParamDecl, Program

# --------------------------------------------------------------------------------------------
# templates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateDoc:
    name: str
    doc: str
    params: tuple[ParamRow, ...]
    interface: str  # checked at the defaults: "x [B, L, 1] -> logits [B, 10]", or the declared ports
    inputs: tuple[tuple[str, str], ...]  # name -> declared doc
    outputs: tuple[tuple[str, str], ...]
    slots: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # (param, folder, default, components)
    blocks: tuple[tuple[str, str], ...]  # composites the template defines: name -> first doc line
    problem: str = ""  # why it does not compile at its defaults
    idle: frozenset[str] = frozenset()  # parameters that have no effect at the defaults (W104 if set): no example


def template_doc(name: str, search_path: list[str] | None = None) -> TemplateDoc:
    """What the reference says about library template ``name`` (``cnn/ResNet1D``)."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.resolve import Library, slot_components
    from vibench.compiler.spec_files import not_a_file

    library = Library(list(search_path or []))
    try:
        path = str(library.find(name, None, None))
    except SpecError:
        path = ""
    if not path or name.startswith((".", "/")) or not os.path.isfile(path):
        unusable = None if name.startswith((".", "/")) else not_a_file(name, search_path)
        if unusable is not None:  # a FIFO or a folder `fam/F.yaml` on the spec path: said so, as `extends:` does
            raise UnknownName(f"--list {_clip(name)} is {unusable[1]}, not a regular file: {_clip(unusable[0], 200)}")
        hint = template_hint(name, search_path)
        raise UnknownName(f"--list {_clip(name)}: no such template" + (f"; {hint}" if hint else "")
                          + " (`vibench-compile --list` lists them all)")
    unit, blocks = library.load(path, None)
    rows = tuple(_declared_row(d) for d in unit.params)
    problem = ""
    idle: frozenset[str] = frozenset()
    try:
        interface = _interface(_compile(path, search_path))
        idle = _idle_at_defaults(path, search_path, unit.params)
    except SpecError as err:
        interface = ""
        problem = f"{err.diagnostics[0].code}: {err.diagnostics[0].message}"
    slots = []
    for d in unit.params:
        if d.slot is not None:
            components = tuple(slot_components(d.slot, library, os.path.dirname(path)))
            slots.append((d.name, d.slot, _flow(d.default), components))
    composites = tuple((b, _first_line(u.doc)) for b, u in blocks.items() if "#" not in b and b != unit.name)
    return TemplateDoc(name, (unit.doc or "").strip(), rows, interface,
                       tuple((i.name, i.doc or "") for i in unit.inputs),
                       tuple((o.name, o.doc or "") for o in unit.outputs), tuple(slots), composites, problem, idle)


_EXAMPLE_CANDIDATES = 6  # the plain-default parameters tried for an example (one more compile of the template)


def _idle_at_defaults(path: str, search_path: list[str] | None, params: tuple[ParamDecl, ...]) -> frozenset[str]:
    """Of the first parameters an example may set (a plain default), those that, set to their defaults, have no
    effect (W104): the example of MultiScaleCNN set `dropout`, whose node is built only with a classifier, and so
    warned."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.ir import Template
    from vibench.compiler.pipeline import compile_program

    given = {d.name: d.default for d in params if d.default is not None and not isinstance(d.default, Template)
             and not isinstance(d.default, (list, dict)) and d.slot is None}
    tried = dict(list(given.items())[:_EXAMPLE_CANDIDATES])
    if not tried:
        return frozenset()
    try:
        program = compile_program(path, params=tried, search_path=list(search_path or []))
    except SpecError:  # (a default a check refuses once it is given: no example is the worse for it)
        return frozenset()
    return frozenset(d.message.split("`")[1] for d in program.warnings if d.code in ("W104", "W101"))


def _compile(path: str, search_path: list[str] | None) -> Program:
    from vibench.compiler.pipeline import compile_program

    return compile_program(path, search_path=list(search_path or []))


def _declared_row(d: ParamDecl) -> ParamRow:
    from vibench.compiler.ir import Template

    bounds = [f"{sign} {_number(v)}" for sign, v in ((">=", d.ge), (">", d.gt), ("<=", d.le), ("<", d.lt))
              if v is not None]
    if d.choices is not None:
        bounds.append("one of: " + ", ".join(_json(c) if not isinstance(c, str) else c for c in d.choices))
    if d.slot is not None:
        bounds.append(f"a spec in {d.slot}/")
    if d.required:
        default = "required"
    elif isinstance(d.default, Template):
        default = d.default.text
    else:
        default = _flow(d.default)
    return ParamRow(d.name, d.type, default, ", ".join(bounds), " ".join((d.doc or "").split()))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _first_line(text: str | None) -> str:
    return _doc_parts(text)[0]


MAX_HINT_FOLDERS = 500
"""Folders walked in each spec-path folder for a "did you mean", as for `extends:`'s E205: `-I ~` must not walk
a whole home to answer a misspelt name."""
MAX_HINT_NAMES = 2_000
"""Templates taken from each spec-path folder for a "did you mean" (:data:`suggestions.MAX_SUGGEST_POOL`)."""


def template_hint(name: str, search_path: list[str] | None = None) -> str | None:
    """"did you mean `cnn/ResNet1D`?" for a template name mistyped (`cnn/ResNt`, `resnet1d`), or None: one of the
    spec-path folders' templates (the first :data:`MAX_HINT_NAMES` of each) or of the library. The name suggested
    is escaped (:func:`~vibench.compiler.display.escaped`), as every caller's message names files: a template file
    named `ResNet1<line break>ok: 0.yaml` (or U+2028, where a log reader's splitlines breaks) printed a forged line
    of its own."""
    from vibench.compiler.diagnostics import closest
    from vibench.compiler.library_index import template_names

    names = [*_spec_path_names(search_path or []), *template_names()]  # searched in this order
    match = closest(name, names)
    if match is None:  # `resnet1d` for cnn/ResNet1D: the name without its folder
        by_leaf: dict[str, str] = {}
        for n in names:
            by_leaf.setdefault(n.rsplit("/", 1)[-1], n)
        leaf = closest(name.rsplit("/", 1)[-1], by_leaf)
        match = by_leaf[leaf] if leaf else None
    hints = [_unreadable_on_route(name, search_path or []), match and _did_you_mean(name, match)]
    return "; ".join(filter(None, hints)) or None


def _did_you_mean(name: str, match: str) -> str:
    """"did you mean `cnn/ResNet1D`?", and what the suggestion holds where it is shown as ``name`` reads: a template
    `fam/C\\xe9` whose name holds the byte 0xe9 (not UTF-8, shown as those four characters) was suggested, as
    `fam/C\\xe9`, to the user who had typed them."""
    from vibench.compiler.display import escaped

    shown = escaped(match)
    if shown != escaped(name):
        return f"did you mean `{shown}`?"
    if match.isprintable():  # `a\\tb` itself, for a name typed with a tab
        return f"did you mean `{shown}`, as written there (a backslash, not an escape)?"
    odd = next(ch for ch in match if not ch.isprintable())
    what = (f"the byte 0x{ord(odd) - 0xDC00:02x}, which is not UTF-8," if 0xDC80 <= ord(odd) <= 0xDCFF
            else f"the character U+{ord(odd):04X}")
    try:  # the bytes of the name, as a shell writes them
        typed = "".join(chr(b) if 32 <= b < 127 and b not in b"'\\" else f"\\x{b:02x}" for b in os.fsencode(match))
    except UnicodeEncodeError:  # a lone surrogate no file name holds
        return f"did you mean `{shown}`? Its name holds {what} shown as `{escaped(odd)}`"
    return (f"did you mean `{shown}`? Its name holds {what} shown as `{escaped(odd)}`: type the name as its bytes, "
            f"$'{typed}' in bash or zsh")


def _unreadable_on_route(name: str, folders: list[str]) -> str | None:
    """"the spec-path folder lib/fam cannot be read (Permission denied)" where a folder on the way to template
    ``name`` in one of ``folders`` cannot be searched, so that the template may lie there unseen (an `-I` folder of
    mode 000 was said to hold no such spec), or None."""
    from vibench.compiler.display import clip_path
    from vibench.compiler.spec_files import SPEC_SUFFIXES

    *route, leaf = name.split("/")
    for root in folders:
        path = root
        try:
            for step in [*route, leaf + SPEC_SUFFIXES[0]]:  # each looked up in the folder before it
                path = os.path.join(path, step)
                os.stat(path)
        except (FileNotFoundError, NotADirectoryError, ValueError):  # not there (ValueError: a NUL in the name)
            continue
        except OSError as err:
            return f"the spec-path folder {clip_path(os.path.dirname(path))} cannot be read ({err.strerror or err})"
    return None


def _spec_path_names(folders: list[str]) -> list[str]:
    """The templates of ``folders`` as ``family/Name``, each folder walked in sorted order (hidden ones skipped)
    within :data:`MAX_HINT_FOLDERS` folders and :data:`MAX_HINT_NAMES` names."""
    from vibench.compiler.spec_files import SPEC_SUFFIXES

    names: list[str] = []
    for root in folders:
        found: set[str] = set()
        for visited, (dirpath, dirs, files) in enumerate(os.walk(root)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if f.endswith(SPEC_SUFFIXES) and not f.startswith(".") and os.path.isfile(os.path.join(dirpath, f)):
                    found.add(os.path.splitext(os.path.relpath(os.path.join(dirpath, f), root))[0].replace(os.sep, "/"))
                if len(found) >= MAX_HINT_NAMES:
                    break
            if len(found) >= MAX_HINT_NAMES or visited + 1 >= MAX_HINT_FOLDERS:
                break
        names += sorted(found)
    return names


def _doc_parts(text: str | None) -> tuple[str, str]:
    """(first line, the rest) of a doc, split at the same line breaks (``str.splitlines``: \\r, U+2028 too), so that
    no text between a first line ended by one of those and the next ``\\n`` is lost.

    >>> _doc_parts("Summary.\\u2028More.\\nLast.")
    ('Summary.', 'More.\\nLast.')
    """
    lines = (text or "").strip().splitlines()
    return (lines[0], "\n".join(lines[1:]).strip()) if lines else ("", "")


def _example_rows(doc: TemplateDoc) -> list[ParamRow]:
    """The parameters an example sets: the first two with a plain default (at that default) that have an effect
    there (``doc.idle``)."""
    return [r for r in doc.params if r.default not in ("required", "null") and not r.default.startswith("${")
            and not r.type.startswith(("list", "dict")) and r.name not in doc.idle][:2]


def template_example(doc: TemplateDoc) -> str:
    """A user spec that extends the template (its first parameters at their defaults).

    >>> print(template_example(TemplateDoc("my/a: b", "", (), "", (), (), (), ())), end="")
    vibench: 1
    extends: "my/a: b"
    with: {}
    """
    values = [f"{r.name}: {r.default}" for r in _example_rows(doc)]
    return f"vibench: 1\nextends: {_yaml_string(doc.name)}\nwith: {{{', '.join(values)}}}\n"


def _yaml_string(text: str) -> str:
    """``text`` as a YAML value that reads back as that string: plain when it is a plain word or path, else
    double-quoted with JSON's escapes, which YAML reads the same (a line break, a tab or an ESC in a file name
    as ``\\n``, ``\\t``, ``\\u001b``; `extends: a<line break>b` was no YAML)."""
    import json
    import re

    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", text) is not None
    if plain and text.lower() not in ("true", "false", "null", "yes", "no", "on", "off", "y", "n", "nan", "inf"):
        return text
    return json.dumps(text, ensure_ascii=not text.isprintable())


def template_reference(name: str, search_path: list[str] | None = None) -> str:
    """The text of ``vibench-compile --list NAME``."""
    from vibench.compiler.diagnostics import one_cell

    doc = template_doc(name, search_path)
    first, rest = _doc_parts(doc.doc)
    # the name on one line, as the listing writes it (`fam/a\nb`): a line break in a file name started a line
    lines = [f"{one_cell(doc.name)}: {first}", ""]
    if rest:
        lines += [*_indent(rest), ""]
    lines += [f"interface at the defaults: {doc.interface or '(does not compile: ' + doc.problem + ')'}", ""]
    for label, ports in (("inputs", doc.inputs), ("outputs", doc.outputs)):
        if ports:
            lines += [f"{label}:", *_table([(n, d or "") for n, d in ports])]
    lines.append("")
    if doc.params:
        lines += ["parameters:", *_table([(r.name, r.type, r.default, r.bounds, r.doc) for r in doc.params]), ""]
    for param, folder, default, components in doc.slots:
        lines += [f"slot {param} (a spec in {folder}/, default {default}):", *_wrap(", ".join(components)), ""]
    if doc.blocks:
        lines += ["composite blocks:", *_table([(b, d) for b, d in doc.blocks]), ""]
    lines += ["example (a spec of your own):", *_indent(template_example(doc).rstrip("\n")), "",
              "  or: " + template_command(doc, search_path)]
    return "\n".join(lines)


def template_command(doc: TemplateDoc, search_path: list[str] | None = None) -> str:
    """The command that checks the template with its example's settings, each word quoted as model.py's
    Regenerate line quotes it (:func:`vibench.compiler.codegen.header.shell`), with an ``-I`` for each
    folder of ``search_path`` but those ``VIBENCH_SPEC_PATH`` gives (the command finds them too).

    >>> row = ParamRow("classes", "any", '{"1": 10}', "", "")
    >>> print(template_command(TemplateDoc("my/Net", "", (row,), "", (), (), (), ()), ["lib"]))
    vibench-compile my/Net -I lib --check --set 'classes={"1": 10}'
    """
    from vibench.compiler.codegen.header import path_word, shell

    folders = list(search_path or [])
    from_env = [folder for folder in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if folder]
    if from_env and folders[len(folders) - len(from_env):] == from_env:
        del folders[len(folders) - len(from_env):]
    words = ["vibench-compile", path_word(doc.name), *(f"-I {path_word(f)}" for f in folders), "--check"]
    words += [f"--set {shell(f'{r.name}={r.default}')}" for r in _example_rows(doc)]
    return " ".join(words)


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="  ") or ["  (none)"]
