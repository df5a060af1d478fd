"""Parameters scoped by slot.

A composite with typed slots (``embedding: {type: str, slot: isfm/embedding}``) and ``inherit: true``
nodes accepts every parameter that a component of one of its slot folders declares, without
restating it: ``M_01_ISFM`` declares only its own parameters, and ``num_patches: 64`` set on it (in
``with:``, ``--set`` or a PHM-Vibench config) reaches whichever chosen component declares
``num_patches``. Such a parameter is added to the composite's declarations with

- the union of the declaring components' types (``| None``) and default null ("not set here": each
  component keeps its own default); the component that takes the value checks it against its own
  declaration, bounds included, and reports a bad value at the user's line;
- ``scope``: the components that declare it (shown by the editor, ``--list`` and docs).

A value that no chosen component reads is W104 at its line (the unit builder's check, as before), W101 with the
template's reason when its reference ignores the key (``reference: ignored_keys``): such a key is scoped too, as a
component beside the reference's own may read it (HSE_prompt's `prompt_dim` under ``M_01_ISFM``), with type
``any``: only a chosen component that reads it checks its value.

The parameters of a component file are read from its ``params:`` (following ``extends:``) without compiling
it — 28 ISFM components cost 60 ms through :func:`read_spec_file`, so each file's entry is cached by its
path and its ``stat`` as ``vibench.build``'s cache knows a file (size, modification and change times, inode;
a file changed too recently for its times to tell is read again at every compilation,
:mod:`vibench.runtime.cache_deps`) for the life of the process (the language server and test runs compile
M_01 many times; the last :data:`FILES_KEPT` files read are kept). Its size and modification time alone kept
the old parameters of a component rewritten at the same size with its time kept (``cp -p``, ``rsync -a``,
``tar``), and ``vibench.build`` cached that model for the next processes too. Each file read for them, the
entry cached or not, is one the compilation read (``library.read``): ``vibench.build``'s cache checks it, as
a component deleted or edited since can make a parameter unknown (E201) or change its type; and so is the
listing of each slot folder (:func:`vibench.compiler.slots.slot_components`), as a component added can
declare a parameter (W104's hint) or make the folder too large (E214). A component that cannot be loaded is
skipped (its own compile reports why, when it is chosen), but the files a slot reads count against the
compilation's budget of spec files (:func:`vibench.compiler.load.source_budget`): past it the compile stops
with E002 at the slot's declaration, so a folder of 1,000 large specs is not read whole.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.ir import ParamDecl, Pos, UnitDef
from vibench.compiler.param_types import TypeSyntaxError, infer_type, parse_type
from vibench.runtime.cache_deps import _settled, _signature

if TYPE_CHECKING:
    from vibench.compiler.resolve import Library

MAX_SLOT_COMPONENTS = 1_000
"""Specs one slot folder may hold (all are read for the slot's scoped parameters)."""

_MAX_EXTENDS = 16  # an `extends:` chain longer than this is left to the component's own compile

# One entry per component file: its stat signature (size, mtime, ctime, inode) -> (its `extends:` reference or None,
# its own (name, type, doc), ...); the FILES_KEPT files read last (a process compiling ever new component folders
# does not grow without bound)
_Declared = tuple[str | None, tuple[tuple[str, str, str | None], ...]]
_FILE_PARAMS: dict[str, tuple[tuple[int, int, int, int], _Declared]] = {}
FILES_KEPT = 1024


def with_scoped_params(unit: UnitDef, library: Library, from_dir: str | None) -> UnitDef:
    """``unit`` with a declaration for every parameter its slots' components declare and it does not."""
    slots = [d for d in unit.params if d.slot is not None]
    if not slots or not any(nd.inherit for nd in unit.nodes):
        return unit
    # A key the reference model ignores (`reference: ignored_keys`) is scoped too: the reference ignores it because
    # none of its own components reads it, and a component vibench offers beside them may (M_01_ISFM with HSE_prompt,
    # whose reference reads `prompt_dim`). Chosen, that component takes it and checks its type; otherwise it is W101
    # with the template's reason (build_warnings.py), as before, whatever its value: declared `any` here, so that
    # `prompt_dim: "128"` beside E_01_HSE is not refused (E202) for a type no component chosen asks for.
    ignored = set(dict(unit.reference.ignored_keys)) if unit.reference is not None else set()
    own = {d.name for d in unit.params} | {let.name for let in unit.lets}
    found: dict[str, list[tuple[str, str, str | None]]] = {}  # name -> [(component, type, doc)]
    for folder in dict.fromkeys(d.slot for d in slots):
        assert folder is not None
        names = library.components(folder, from_dir)
        decl = next(d for d in slots if d.slot == folder)
        if len(names) > MAX_SLOT_COMPONENTS:
            raise SpecError([Diagnostic(
                "E214", f"slot folder `{folder}` holds {len(names)} specs", decl.pos or unit.pos,
                expected=f"at most {MAX_SLOT_COMPONENTS:,} (every one is read for the slot's parameters)",
                hint="split the folder into several slots")])
        for name in names:
            try:
                path = library.find(f"{folder}/{name}", from_dir, None)
            except SpecError:
                continue
            for pname, ptype, pdoc in component_params(path, library, decl.pos or unit.pos):
                if pname not in own:
                    found.setdefault(pname, []).append((f"{folder}/{name}", ptype, pdoc))
    if not found:
        return unit
    added = tuple(_scoped_decl(name, takers, name in ignored) for name, takers in found.items())
    return replace(unit, params=unit.params + added)


def _scoped_decl(name: str, takers: list[tuple[str, str, str | None]], ignored: bool = False) -> ParamDecl:
    """The composite's declaration of ``name``, which ``takers`` (component, type, doc) declare; ``ignored``: a key
    its reference ignores, of any type here (the component that reads it checks it)."""
    types: list[str] = []
    for _, ptype, _ in takers:
        for part in ptype.split("|"):
            part = part.strip()
            if part not in types and part != "None":
                types.append(part)
    type_text = " | ".join(types + ["None"]) if "any" not in types and not ignored else "any"
    doc = next((d for _, _, d in takers if d), None)
    short = ", ".join(t.rsplit("/", 1)[-1] for t, _, _ in takers)
    text = (" ".join(doc.split()) + " " if doc else "") + f"Read by {short}."
    return ParamDecl(name, type_text, None, False, doc=text, scope=tuple(t for t, _, _ in takers))


def component_params(path: str, library: Library, at: Pos | None = None) -> tuple[tuple[str, str, str | None], ...]:
    """(name, type, doc) of every parameter a component file declares (its own and its `extends:` base's);
    E002 at ``at`` (the slot's declaration) when reading it takes the compilation past its budget of files."""
    return _params_of(path, library, 0, at)


def _params_of(path: str, library: Library, depth: int, at: Pos | None) -> tuple[tuple[str, str, str | None], ...]:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    library.read.add(os.path.realpath(path))
    stamp = _signature(st)
    hit = _FILE_PARAMS.get(path)
    if hit is None or hit[0] != stamp or not _settled(st):  # changed too recently for its times to tell: read
        from vibench.compiler.load import SourceBudgetExceeded, read_spec_file

        try:
            data = read_spec_file(path, library.display(path), at=at).data
        except SourceBudgetExceeded:
            raise
        except SpecError:
            return ()  # the component's own compile reports its problems, when it is chosen
        hit = (stamp, _own_params(data))
        _FILE_PARAMS.pop(path, None)  # last read, last dropped
        _FILE_PARAMS[path] = hit
        for oldest in list(_FILE_PARAMS)[: max(0, len(_FILE_PARAMS) - FILES_KEPT)]:  # a copy: another thread may add
            _FILE_PARAMS.pop(oldest, None)
    base, own = hit[1]
    out: list[tuple[str, str, str | None]] = []
    if base is not None and depth < _MAX_EXTENDS:  # looked up again each time: it depends on the search path
        from vibench.compiler.load import SourceBudgetExceeded

        try:
            out += _params_of(library.find(base, os.path.dirname(path), None), library, depth + 1, at)
        except SourceBudgetExceeded:
            raise
        except SpecError:
            pass
    # A name its base declares keeps the base's entry, looked up in a set (20,000 names compared pair by pair: 47 s)
    inherited = {name for name, _, _ in out}
    out += [entry for entry in own if entry[0] not in inherited]
    return tuple(out)


def _own_params(data: Any) -> tuple[str | None, tuple[tuple[str, str, str | None], ...]]:
    """A component file's `extends:` reference (None when it has none a slot follows) and the parameters
    its own ``params:`` declares."""
    if not isinstance(data, dict):
        return None, ()
    base = data.get("extends")
    params = data.get("params")
    # A mapping's keys are distinct, and so are the entries' names (each is its key): no pair to compare
    own = tuple(entry for pname, pspec in (params.items() if isinstance(params, dict) else ())
                if (entry := _entry(pname, pspec)) is not None)
    return (base if isinstance(base, str) and "#" not in base else None), own


def _entry(name: Any, spec: Any) -> tuple[str, str, str | None] | None:
    if not isinstance(name, str) or not name.isidentifier():
        return None
    if not isinstance(spec, dict):  # the shorthand `hidden: 64` declares an int with that default
        spec = {"default": spec}
    type_text = spec.get("type")
    if type_text is None and "default" in spec:
        default = spec["default"]
        type_text = "any" if "${" in str(default) else infer_type(default)
    if not isinstance(type_text, str):
        return None
    try:
        parse_type(type_text)
    except TypeSyntaxError:
        return None
    doc = spec.get("doc")
    return name, type_text, (doc if isinstance(doc, str) else None)
