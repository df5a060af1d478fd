"""Pass 3, resolve: the definition (:class:`UnitDef`) of one unit of a spec file, the model or a composite block.

:func:`_unit` reads a unit's inputs (shapes, ``when:``, ``layout:``), nodes, outputs (with their promised
shapes) and metadata, parsing every ``${...}``; its parameters, ``let:`` and ``checks:`` are read by
:mod:`vibench.compiler.resolve_decls`. Errors: E103, E106, E2xx.
"""

from __future__ import annotations

import keyword
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler.adapters import layout_value, with_adapters
from vibench.compiler.diagnostics import Collector, Diagnostic, clip
from vibench.compiler.expr import ExprError, bare_name, parse_template, parse_value, written_name
from vibench.compiler.expr_parse import parse_located
from vibench.compiler.ir import InputDecl, NodeDef, OutputDef, Pos, Ref, UnitDef
from vibench.compiler.limits import MAX_RANK, too_many_input_dims
from vibench.compiler.load import LoadedDoc
from vibench.compiler.load_compose import Loc

# (re-exported: emit.py, pipeline.py and tests read the bounds here)
from vibench.compiler.metadata_bounds import MAX_METADATA_CHARS as MAX_METADATA_CHARS
from vibench.compiler.metadata_bounds import MAX_METADATA_DEPTH as MAX_METADATA_DEPTH
from vibench.compiler.metadata_bounds import MAX_METADATA_KEY as MAX_METADATA_KEY
from vibench.compiler.metadata_bounds import check_metadata_value as check_metadata_value
from vibench.compiler.metadata_bounds import metadata_problem as metadata_problem
from vibench.compiler.metadata_bounds import metadata_size_problem as metadata_size_problem
from vibench.compiler.resolve_decls import (
    _check_defs,
    _check_name,
    _expr_diag,
    _let_defs,
    _param_decls,
    _parsed_flag,
    name_problem,
)

if TYPE_CHECKING:
    from vibench.schemas.document import ReferenceSpec


def _yaml_text(value: Any) -> str:
    """A loaded scalar as the spec writes it: ``true``, ``4.0``, ``'L+1'``."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _raw(doc: LoadedDoc, path: tuple) -> Any:
    """The loaded value at ``path`` before validation (None when absent)."""
    value = doc.data
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:
            return None
    return value


def _unit(doc: LoadedDoc, path: tuple, name: str, qualname: str, text: str | None, params: dict, inputs: dict,
          nodes: dict, outputs: dict, blocks: dict[str, UnitDef], diags: Collector, metadata: Any = None,
          lets: dict | None = None, checks: list | None = None) -> UnitDef:
    decls = _param_decls(doc, path, params, diags)
    let_defs = _let_defs(doc, path, lets or {}, {d.name for d in decls}, diags)
    check_defs = _check_defs(doc, path, checks or [], {d.name for d in decls}, diags)
    input_decls = []
    names = {d.name for d in decls} | {let.name for let in let_defs}
    for iname, ispec in inputs.items():
        ipath = path + ("inputs", iname)
        _check_name(diags, doc, ipath, iname, "input")
        dims: list[Any] = []
        dim_pos: list[Pos | None] = []  # where each of `dims` is written
        whole: Any = None
        if isinstance(ispec.shape, str):
            spos = doc.pos(ipath + ("shape",))
            try:
                whole = parse_template(ispec.shape, spos)
            except ExprError as err:
                diags.add(_expr_diag(err, spos, f"the shape of input `{iname}`"))
            if isinstance(whole, str):
                diags.add(Diagnostic("E212", f"the shape of input `{iname}` must be a list or one `${{...}}`", spos,
                                     expected="[B, C, L] or `${...}` giving such a list", found=repr(ispec.shape)))
                whole = None
        listed = ispec.shape if isinstance(ispec.shape, list) else []
        if len(listed) > MAX_RANK:  # (refused before its sizes are read, let alone multiplied out)
            diags.add(too_many_input_dims(iname, len(listed), doc.pos(ipath + ("shape",))))
            listed = []
        for k, dim in enumerate(listed):
            dpos = doc.pos(ipath + ("shape", k))
            if isinstance(_raw(doc, ipath + ("shape", k)), bool | float):  # validation reads `true` as 1, 4.0 as 4
                diags.add(Diagnostic("E212", "a dimension must be an integer, a symbol or `${...}`", dpos,
                                     found=_yaml_text(_raw(doc, ipath + ("shape", k)))))
                continue
            if isinstance(dim, bool):
                diags.add(Diagnostic("E212", "a dimension must be an integer, a symbol or `${...}`", dpos,
                                     found=repr(dim)))
            elif isinstance(dim, int):
                if dim < 1:
                    diags.add(Diagnostic("E212", "a dimension must be positive", dpos, found=str(dim)))
                dims.append(dim)
                dim_pos.append(dpos)
            elif "${" in dim:
                try:
                    dims.append(parse_template(dim, dpos))
                    dim_pos.append(dpos)
                except ExprError as err:
                    diags.add(_expr_diag(err, dpos, f"the shape of input `{iname}`"))
            elif dim.isidentifier() and not keyword.iskeyword(dim):
                _symbol(dim, dpos, diags)
                dims.append(dim)
                dim_pos.append(dpos)
            else:
                diags.add(Diagnostic("E212", f"invalid dimension `{dim}` in the shape of input `{iname}`", dpos,
                                     expected="an integer, a symbol name such as L, or `${...}`", found=repr(dim)))
        when = _parsed_flag(doc, ipath + ("when",), ispec.when, f"`when` of input `{iname}`", diags)
        shape = whole if whole is not None else tuple(dims)
        layout = _layout(doc, ipath, iname, ispec, diags, names)
        input_decls.append(InputDecl(iname, shape, ispec.dtype, ispec.doc, doc.pos(ipath, key=True), when,
                                     ispec.optional, layout, () if whole is not None else tuple(dim_pos)))
    node_defs = []
    located = doc.locate(path + ("nodes",))  # each node's positions are read from here, not from the root
    entries = located.children if located is not None and isinstance(located.children, dict) else {}
    for index, (nname, nspec) in enumerate(nodes.items()):
        npath = path + ("nodes", nname)
        _check_name(diags, doc, npath, nname, "node")
        node_defs.append(_node(doc, npath, nname, index, nspec, diags, entries.get(nname), inputs))
    output_defs = []
    for oname, target in outputs.items():
        opath = path + ("outputs", oname)
        _check_name(diags, doc, opath, oname, "output")
        if isinstance(target, str):
            output_defs.append(OutputDef(oname, _ref(target, doc.pos(opath), diags, None, oname, inputs),
                                         doc.pos(opath, key=True)))
        else:
            when = _parsed_flag(doc, opath + ("when",), target.when, f"`when` of output `{oname}`", diags)
            promise = _promise(doc, opath, oname, target.shape, diags)
            source = _ref(target.from_, doc.pos(opath + ("from",)), diags, None, oname, inputs)
            output_defs.append(OutputDef(oname, source, doc.pos(opath, key=True), when, target.doc, promise,
                                         doc.pos(opath + ("shape",))))
    if any(not isinstance(o, str) and (o.as_ or o.layout) for o in outputs.values()) or any(
            i.as_ for i in inputs.values()):
        node_defs, output_defs = with_adapters(inputs, outputs, input_decls, node_defs, output_defs, names,
                                               lambda kind, n: doc.pos(path + (kind, n, "as"), key=True), diags)
    if not outputs:
        diags.add(Diagnostic("E103", f"{'block' if path else 'model'} `{name}` has no outputs",
                             doc.pos(path + ("outputs",), key=True), expected="at least one output",
                             hint="add `name: node` entries under `outputs:`"))
    if metadata is not None:
        metadata = parsed_metadata(doc, path, metadata, diags)
    unit = UnitDef(name=name, qualname=qualname, doc=text, params=tuple(decls), inputs=tuple(input_decls),
                   nodes=tuple(node_defs), outputs=tuple(output_defs), file=doc.file, path=doc.path, blocks=blocks,
                   pos=doc.pos(path, key=bool(path)) if path else doc.pos(()), metadata=metadata,
                   lets=tuple(let_defs), checks=tuple(check_defs))
    return unit


def parsed_metadata(doc: LoadedDoc, path: tuple, metadata: Any, diags: Collector) -> Any:
    """A unit's `metadata:`, each `${...}` parsed at its own entry (None and E203 when one does not parse;
    E104 at an entry nested or keyed beyond what model.py's METADATA lines hold, or past its size)."""
    problem = metadata_size_problem(metadata, evaluated=False) or metadata_problem(metadata)
    if problem is not None:
        at, key, diag = problem
        diags.add(replace(diag, pos=doc.pos(path + ("metadata",) + at, key=key)))
        return None
    try:
        return parse_located(metadata, path + ("metadata",), doc.pos)
    except ExprError as err:
        diags.add(_expr_diag(err, err.pos or doc.pos(path + ("metadata",)), "`metadata`"))
        return None


def reference_renames_pos(doc: LoadedDoc, reference: ReferenceSpec | None, diags: Collector) -> Pos | None:
    """Where `reference.state_dict_renames` is written (None without one); E210 for a [pattern,
    replacement] pair of the list that is no rule (one `${...}` is checked by the shapes pass)."""
    if reference is None or not reference.state_dict_renames:
        return None
    from vibench.compiler.rename_rules import rename_problem

    renames = reference.state_dict_renames
    for k, (pattern, replacement) in enumerate(renames if isinstance(renames, list) else []):
        problem = rename_problem(pattern, replacement)
        if problem is not None:
            diags.add(Diagnostic("E210", f"`reference.state_dict_renames`: {problem}",
                                 doc.pos(("reference", "state_dict_renames", k, 0)),
                                 found=clip(f"[{pattern!r}, {replacement!r}]", 200)))
    return doc.pos(("reference", "state_dict_renames"))


def _promise(doc: LoadedDoc, path: tuple, name: str, shape: list | None, diags: Collector) -> tuple | None:
    """An output's promised `shape:`: ints, names (symbols or parameters) and parsed `${...}` (E212 otherwise)."""
    if shape is None:
        return None
    dims: list[Any] = []
    for k, dim in enumerate(shape):
        dpos = doc.pos(path + ("shape", k))
        if isinstance(_raw(doc, path + ("shape", k)), bool | float) or isinstance(dim, bool) or (
                isinstance(dim, int) and dim < 1):
            diags.add(Diagnostic("E212", f"a promised dimension of output `{name}` must be a positive integer, a name "
                                 "or `${...}`", dpos, found=clip(_yaml_text(_raw(doc, path + ("shape", k))), 40)))
        elif isinstance(dim, int) or (dim.isidentifier() and not keyword.iskeyword(dim)):
            if isinstance(dim, str):
                _symbol(dim, dpos, diags)
            dims.append(dim)
        elif "${" in dim:
            try:
                dims.append(parse_template(dim, dpos))
            except ExprError as err:
                diags.add(_expr_diag(err, dpos, f"the shape of output `{name}`"))
        else:
            diags.add(Diagnostic("E212", f"invalid dimension `{dim}` in the shape of output `{name}`", dpos,
                                 expected="an integer, a symbol or parameter name, or `${...}`", found=repr(dim)))
    return tuple(dims)


def _symbol(name: str, pos: Pos | None, diags: Collector) -> None:
    """E106 for a shape symbol (or a parameter's name in a shape) that breaks the rules of names."""
    problem = name_problem(name, "shape symbol")
    if problem is not None:
        diags.add(problem(pos))


def _layout(doc: LoadedDoc, path: tuple, name: str, spec: Any, diags: Collector, names: set[str]) -> Any:
    """An input's `layout:`: BLC, BCL, a parameter's name or a `${...}` (E212 otherwise, or for a shape that is
    not [B, L, C])."""
    if spec.layout is None:
        return None
    pos = doc.pos(path + ("layout",))
    value = layout_value(spec.layout, pos, f"input `{name}`", names, diags)
    if value is None:
        return None
    if isinstance(spec.shape, list) and len(spec.shape) != 3:
        diags.add(Diagnostic("E212", f"input `{name}` has a `layout`, so its shape is written [B, L, C]", pos,
                             expected="three dimensions, channels last", found=clip(repr(spec.shape), 80)))
        return None
    return value


def _node(doc: LoadedDoc, path: tuple, name: str, index: int, spec: Any, diags: Collector,
          entry: tuple[tuple[int, int], Loc] | None, unit_inputs: dict) -> NodeDef:
    # Positions come from the node's own location map (``entry``: its key's position and its value's map),
    # one lookup per key instead of a walk from the document root (a 10,000-node spec asks for ~80,000
    # positions). A value's position is made only where it is kept (the block, a reference, a template)
    # or reported. The common keys are read inline, without closures (a 10,000-node spec: 92 -> 86 ms), a
    # position's line and column passed one by one (a `*` call builds a tuple first: 75 -> 72 ms).
    here = entry[1] if entry is not None else doc.locate(path)
    children = here.children if here is not None and isinstance(here.children, dict) else {}
    file = doc.file
    node_pos = Pos(file, entry[0][0], entry[0][1]) if entry is not None else doc.pos(path, key=True)
    at = _NodePlaces(doc, path, here, children, node_pos)

    found = children.get("block")
    block_pos = Pos(file, found[1].pos[0], found[1].pos[1]) if found is not None else at.value("block")
    block = spec.block
    if block.__class__ is not str or "${" in block:
        block = _parsed(diags, name, "block", block, block_pos)
    raw_in = spec.in_
    inputs: tuple[tuple[str | None, Ref], ...]
    if isinstance(raw_in, str):  # one input (the common case)
        found = children.get("in")
        in_pos = Pos(file, found[1].pos[0], found[1].pos[1]) if found is not None else at.value("in")
        inputs = ((None, _ref(raw_in, in_pos, diags, name, None, unit_inputs)),)
    elif isinstance(raw_in, list):
        inputs = tuple([(None, _ref(item, at.value("in", k), diags, name, None, unit_inputs))
                        for k, item in enumerate(raw_in)])
    elif isinstance(raw_in, dict):
        inputs = tuple([(str(port), _ref(item, at.value("in", port), diags, name, None, unit_inputs))
                        for port, item in raw_in.items()])
    else:
        inputs = ()
    if spec.repeat is None and spec.when is None and spec.checkpoint is False and spec.for_each is None \
            and spec.with_ is None:  # a node that writes none of them (the common case)
        repeat = when = for_each = with_ = None
        checkpoint: Any = False
    else:
        repeat, when, checkpoint, for_each, with_ = _controls(doc, path, name, spec, at, diags)
    params = []
    for key, value in (spec.model_extra or {}).items():
        found = children.get(key)
        key_pos = Pos(file, found[0][0], found[0][1]) if found is not None else doc.pos(path + (key,), key=True)
        if value.__class__ is str and "${" not in value or not isinstance(value, (str, list, dict)):
            params.append((str(key), value, key_pos))  # nothing to parse (a number, a flag, plain text)
        else:
            params.append((str(key), _parsed(diags, name, str(key), value, at.value(key)), key_pos))
    with_pos: Pos | None = node_pos
    with_keys: tuple[tuple[str, Pos], ...] = ()
    if with_ is not None:
        with_pos, with_keys = at.value("with"), _keys_at(doc, children.get("with"), with_)
    # The fields in order, not by keyword: a frozen dataclass's keywords are gathered into a dict on
    # each call (a 10,000-node spec: 1.1 us a node).
    return NodeDef(name, index, block, inputs, tuple(params), repeat, when, spec.doc, node_pos, block_pos,
                   spec.inherit, for_each, with_, with_pos, with_keys, checkpoint)


def _controls(doc: LoadedDoc, path: tuple, name: str, spec: Any, at: _NodePlaces, diags: Collector) -> tuple:
    """A node's `repeat`, `when`, `checkpoint`, `for_each` and `with` as the IR holds them: a plain name as
    written (the names pass reads it), a `${...}` parsed; E211 for a value of none of the kinds each takes."""
    repeat = spec.repeat
    if repeat is not None and bare_name(repeat):  # `repeat: num_layers`: the names pass reads it (compiler/names.py)
        repeat = written_name(repeat, at.value("repeat"))
    elif isinstance(repeat, str):
        repeat = _parsed(diags, name, "repeat", repeat, at.value("repeat"))
        if isinstance(repeat, str):
            diags.add(Diagnostic("E211", f"`repeat` of node `{name}` must be an integer or `${{...}}`",
                                 doc.pos(path + ("repeat",)), found=repr(spec.repeat), node=name,
                                 hint="write a count such as `repeat: 2`, or an expression such as "
                                 "`repeat: \"${layers[0]}\"`"))
    elif isinstance(repeat, int) and repeat < 0:
        diags.add(Diagnostic("E211", "`repeat` cannot be negative", doc.pos(path + ("repeat",)), found=str(repeat),
                             node=name))
    when = spec.when
    if when is not None and bare_name(when):  # `when: classify`: read by the names pass
        when = written_name(when, at.value("when"))
    elif isinstance(when, str):
        when = _parsed(diags, name, "when", when, at.value("when"))
        if isinstance(when, str):
            diags.add(Diagnostic("E211", f"`when` of node `{name}` must be true, false or `${{...}}`",
                                 doc.pos(path + ("when",)), found=repr(spec.when), node=name,
                                 hint="write `true`/`false`, or a condition such as `when: \"${stride != 1}\"`"))
    checkpoint: Any = spec.checkpoint
    if isinstance(checkpoint, str) and bare_name(checkpoint):  # `checkpoint: recompute`: read by the names pass
        checkpoint = written_name(checkpoint, at.value("checkpoint"))
    elif isinstance(checkpoint, str):
        checkpoint = _parsed(diags, name, "checkpoint", checkpoint, at.value("checkpoint"))
        if isinstance(checkpoint, str):
            diags.add(Diagnostic("E211", f"`checkpoint` of node `{name}` must be true, false or `${{...}}`",
                                 at.value("checkpoint"), found=repr(spec.checkpoint), node=name,
                                 hint="write `true`/`false`, a parameter's name, or an expression such as "
                                 "`checkpoint: \"${recompute}\"`"))
    for_each = spec.for_each
    if for_each is not None and bare_name(for_each):  # `for_each: task_configs`: read by the names pass
        for_each = written_name(for_each, at.value("for_each"))
    elif for_each is not None:
        for_each = _parsed(diags, name, "for_each", for_each, at.value("for_each"))
        if isinstance(for_each, str):
            diags.add(Diagnostic("E211", f"`for_each` of node `{name}` must be a list or `${{...}}`",
                                 at.value("for_each"), found=repr(spec.for_each), node=name))
    if for_each is not None and repeat is not None:  # (`for_each: ks`, a name, too: its repeat was dropped)
        diags.add(Diagnostic("E211", f"node `{name}` has both `repeat` and `for_each`", at.value("for_each"),
                             node=name, hint="`repeat` chains copies, `for_each` runs them side by side: pick one"))
    with_ = spec.with_
    if isinstance(with_, str) and bare_name(with_):  # `with: task_settings`: read by the names pass
        with_ = written_name(with_, at.value("with"))
    elif with_ is not None:
        with_ = _parsed(diags, name, "with", with_, at.value("with"))
        if isinstance(with_, str):
            diags.add(Diagnostic("E211", f"`with` of node `{name}` must be a mapping, a parameter's name or "
                                 "`${...}`", at.value("with"), found=repr(spec.with_), node=name,
                                 hint="write parameters as a mapping, or one expression that gives one"))
    return repeat, when, checkpoint, for_each, with_


def _keys_at(doc: LoadedDoc, entry: tuple[tuple[int, int], Loc] | None, value: Any) -> tuple[tuple[str, Pos], ...]:
    """Where a mapping written out (a node's `with:`) has each of its keys, as a node's own keys are placed."""
    if entry is None or not isinstance(value, dict) or not isinstance(entry[1].children, dict):
        return ()
    keys = entry[1].children
    return tuple((str(k), Pos(doc.file, *keys[k][0])) for k in value if k in keys)


class _NodePlaces:
    """Where a node's values are written: a key's value (or an item of it), else the node itself."""

    __slots__ = ("doc", "path", "here", "children", "node_pos")

    def __init__(self, doc: LoadedDoc, path: tuple, here: Loc | None, children: dict, node_pos: Pos | None) -> None:
        self.doc, self.path, self.here, self.children, self.node_pos = doc, path, here, children, node_pos

    def value(self, key: Any, item: Any = None) -> Pos | None:
        entry = self.children.get(key)
        if entry is None:  # a key the node does not write: the node's own position
            return self.node_pos if self.here is not None else self.doc.pos(self.path + (key,))
        loc = entry[1]
        if item is not None:
            if isinstance(loc.children, (list, dict)):
                sub = loc.children[item] if isinstance(loc.children, list) else loc.children.get(item)
                if sub is not None:
                    loc = sub if isinstance(loc.children, list) else sub[1]
        return Pos(self.doc.file, *loc.pos)


def _parsed(diags: Collector, name: str, key: str, value: Any, pos: Pos | None) -> Any:
    """A value holding `${...}` (or a list or mapping that may) parsed; None and E2xx when it does not parse."""
    if value.__class__ is str and "${" not in value or not isinstance(value, (str, list, dict)):
        return value  # nothing to parse (a number, a flag, plain text)
    try:
        return parse_value(value, pos)
    except ExprError as err:
        diags.add(_expr_diag(err, pos, f"`{key}` of node `{name}`", node=name))
        return None


def _ref(text: str, pos: Pos | None, diags: Collector, reader: str | None, output: str | None = None,
         unit_inputs: dict | None = None) -> Ref:
    """``text`` (``node`` or ``node.port``) as a Ref, read by node ``reader`` or else by ``output``; E405 for
    ``node.``, which names no port (it was read as ``node``). An input of the unit (``unit_inputs``) has no
    ports, so the hint then offers the input alone."""
    node, dot, port = text.partition(".")
    node, port = node.strip(), port.strip()
    if dot and not port and node:  # (a bare `.` names no value: E401 says so)
        who = f"node `{reader}`" if reader is not None else f"output `{output}`"
        if unit_inputs is not None and node in unit_inputs:
            expected, hint = f"`{node}`", f"`{node}` is an input, which has no ports: write `{node}`"
        else:
            expected = f"`{node}` or `{node}.<port>`"
            hint = f"`{text}` names no port: write {expected}"
        diags.add(Diagnostic("E405", f"{who} reads `{text}`, which names no port", pos, node=reader,
                             expected=expected, found=f"`{text}`", hint=hint))
    return Ref(node, port or None, pos)
