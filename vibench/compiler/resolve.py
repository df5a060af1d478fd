"""Pass 3, resolve: typed spec -> definitions (:class:`UnitDef`) with the root's parameters bound.

Pre: a validated :class:`SpecDocument` and its :class:`LoadedDoc`. Post: the root UnitDef whose
``param_values`` hold every parameter's checked value; every ``${...}`` parsed (syntax errors are
reported here); every name a valid identifier; ``extends`` chains followed through the spec search
path without cycles. Composite bodies stay generic: their templates are evaluated per use, by the
shapes pass. Errors: E106, E107, E2xx.

The :class:`Library` finds spec files (``cnn/ResNet1D``, ``./blocks.yaml``, ``file#Block``) on the
search path — the spec's own folder, folders the user adds, then the shipped library — and never
outside it. Files are loaded once per compilation.
"""

from __future__ import annotations

import keyword
import os
import re
import unicodedata
from dataclasses import replace
from typing import Any

from vibench.compiler.adapters import with_adapters
from vibench.compiler.diagnostics import Collector, Diagnostic, SpecError, suggest
from vibench.compiler.expr import (
    ExprError,
    bare_name,
    name_template,
    parse_template,
    parse_value,
    template_names,
    written_name,
)
from vibench.compiler.ir import CheckDef, InputDecl, LetDef, NodeDef, OutputDef, ParamDecl, Pos, Ref, Template, UnitDef
from vibench.compiler.load import LoadedDoc, load_text, oversized, read_spec_file
from vibench.compiler.names import name_units
from vibench.compiler.params import TypeSyntaxError, bind_params, check_value, infer_type, parse_type, type_admits_text
from vibench.compiler.scoped import with_scoped_params
from vibench.schemas.document import SpecDocument

LIBRARY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
LAYOUTS = ("BLC", "BCL")  # the axis orders an input's `layout:` names

# Names a node may not take: they would shadow nn.Module attributes or names model.py uses.
# (tests/test_names.py checks this list against dir(torch.nn.Module).)
MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half
ipu load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory smart_apply
state_dict to to_empty train training type xpu zero_grad
""".split())
# torch.fx.GraphModule's own attributes: torch.export's program.module() rebuilds the model as one, and a
# submodule under one of these names cannot be found there.
FX_ATTRIBUTES = frozenset("""
add_submodule code delete_all_unused_submodules delete_submodule graph meta print_readable recompile to_folder
""".split())
# `l`, `O` and `I` read like digits (ruff E741 refuses them as variable names in model.py).
RESERVED_NAMES = MODULE_ATTRIBUTES | FX_ATTRIBUTES | {"self", "torch", "nn", "F", "math", "super", "i", "l", "O", "I"}


class Library:
    """Spec files on the search path, loaded once each."""

    def __init__(self, search_path: list[str] | None = None, cwd: str | None = None) -> None:
        self.user_dirs = [os.path.abspath(p) for p in (search_path or [])]
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self.files: dict[str, tuple[UnitDef, dict[str, UnitDef]]] = {}
        self.sources: dict[str, str] = {}
        self.loading: list[str] = []
        self.read: set[str] = set()  # real paths of every file read (an output must not overwrite one)
        self.quiet: set[Pos | None] = set()  # positions whose values come from a file whose values are not shown
        self.warnings: list[Diagnostic] = []  # W101 for keys the reference ignores, set through `with:` or --set

    # -- finding files ---------------------------------------------------------------------------

    def roots(self, from_dir: str | None) -> list[str]:
        roots = []
        if from_dir:
            roots.append(from_dir)
        roots += self.user_dirs
        roots.append(LIBRARY_DIR)
        return roots

    def display(self, path: str) -> str:
        """How a file is named in messages and model.py headers (stable across machines)."""
        real = os.path.realpath(path)
        lib = os.path.realpath(LIBRARY_DIR)
        if real == lib:
            return "vibench/specs"
        if real.startswith(lib + os.sep):
            return "vibench/specs/" + os.path.relpath(real, lib).replace(os.sep, "/")
        rel = os.path.relpath(real, self.cwd)
        return real if rel.startswith("..") else rel.replace(os.sep, "/")

    def find(self, ref: str, from_dir: str | None, pos: Pos | None) -> str:
        """The absolute path a reference names (E205 when there is none on the search path)."""
        roots = self.roots(from_dir)
        if os.path.isabs(ref) or ref.startswith("~"):
            raise _error("E205", f"spec reference `{ref}` is an absolute path", pos,
                         hint="name library specs as `family/Name` and your own files relative to the spec")
        candidates: list[str] = []
        relative = ref.startswith((".", "/")) or ref.endswith(SPEC_SUFFIXES)
        bases = [from_dir] if (relative and from_dir) else roots
        for base in bases:
            if base is None:
                continue
            stem = os.path.normpath(os.path.join(base, ref))
            options = [stem] if stem.endswith(SPEC_SUFFIXES) else [stem + s for s in SPEC_SUFFIXES]
            candidates += options
        real_roots = [os.path.realpath(r) for r in roots]
        for cand in candidates:
            if os.path.isfile(cand):
                real = os.path.realpath(cand)
                if not any(real == r or real.startswith(r + os.sep) for r in real_roots):
                    raise _error("E205", f"spec reference `{ref}` points outside the spec search path", pos,
                                 found=self.display(cand),
                                 hint="add its folder with --spec-path (or VIBENCH_SPEC_PATH)")
                return real
        searched = [b for b in bases if b is not None]
        where = "relative to the spec's folder" if relative else "on the search path"
        raise _error("E205", f"unknown spec `{ref}`", pos, hint=self._hint(ref, searched, relative),
                     notes=(f"searched {where}: " + ", ".join(self.display(r) for r in searched),))

    def _hint(self, ref: str, roots: list[str], relative: bool) -> str | None:
        # Suggestions are spelt like the reference: `./blocks.yaml` for a relative one, `cnn/ResNet1D`
        # for a library one.
        names = set()
        for root in roots:
            visited = 0
            for dirpath, dirs, files in os.walk(root):
                visited += 1
                if visited > 500:  # a spec in a huge folder (`/`, a home) must not walk all of it
                    break
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in files:
                    if f.endswith(SPEC_SUFFIXES):
                        rel = os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/")
                        if not relative:
                            names.add(os.path.splitext(rel)[0])
                        elif ref.endswith(SPEC_SUFFIXES):
                            names.add(("./" if ref.startswith("./") else "") + rel)
                        else:
                            names.add(("./" if ref.startswith("./") else "") + os.path.splitext(rel)[0])
                if len(names) > 2000:
                    break
        return suggest(ref, names) or (None if relative else "run `vibench-compile --list` to see the library")

    # -- loading ---------------------------------------------------------------------------------

    def load(self, path: str, pos: Pos | None) -> tuple[UnitDef, dict[str, UnitDef]]:
        """The root UnitDef (parameters unbound) and composite blocks of a spec file."""
        if path in self.files:
            return self.files[path]
        if path in self.loading:
            chain = " -> ".join(self.display(p) for p in self.loading[self.loading.index(path):] + [path])
            raise _error("E206", "include cycle", pos, found=chain, hint="a spec cannot extend or use itself")
        self.loading.append(path)
        self.read.add(os.path.realpath(path))
        try:
            doc = read_spec_file(path, self.display(path))
            self.sources[doc.file] = doc.text
            spec = _validate(doc)
            result = resolve_file(doc, spec, self)
        finally:
            self.loading.pop()
        self.files[path] = result
        return result

    def components(self, slot: str, from_dir: str | None = None) -> list[str]:
        """The spec names a slot folder offers, on the search path and in the library (sorted)."""
        names: set[str] = set()
        for root in self.roots(from_dir):
            folder = os.path.join(root, slot)
            if os.path.isdir(folder):
                names |= {os.path.splitext(f)[0] for f in os.listdir(folder) if f.endswith(SPEC_SUFFIXES)}
        return sorted(names)

    def block(self, ref: str, from_dir: str | None, pos: Pos | None) -> UnitDef:
        """A composite named by a spec reference: ``path`` (its model) or ``path#Block``."""
        path_part, _, block_name = ref.partition("#")
        root, blocks = self.load(self.find(path_part, from_dir, pos), pos)
        if not block_name:
            return root
        if block_name not in blocks:
            raise _error("E110", f"spec `{path_part}` defines no block `{block_name}`", pos,
                         hint=suggest(block_name, blocks) or f"its blocks: {', '.join(sorted(blocks)) or '(none)'}")
        return blocks[block_name]


def slot_components(slot: str, library: Library, from_dir: str | None = None) -> list[str]:
    """The spec names a slot folder offers, on the search path and in the library (sorted)."""
    return library.components(slot, from_dir)


def check_slot(decl: ParamDecl, value: Any, library: Library, root: UnitDef,
               from_dir: str | None = None) -> list[Diagnostic]:
    """E214 for every component a slot value names that its folder does not hold."""
    names = value if isinstance(value, list) else [value]
    offered = slot_components(decl.slot or "", library, from_dir)
    out = []
    for name in names:
        if name is not None and name not in offered:
            out.append(Diagnostic(
                "E214", f"`{name}` is not a component for slot `{decl.name}` ({decl.slot}/...)", decl.pos or root.pos,
                expected="one of " + (", ".join(f"`{n}`" for n in offered) or "(none found)"),
                hint=suggest(str(name), offered) or f"add `{decl.slot}/{name}.yaml` to a --spec-path folder"))
    return out


def _validate(doc: LoadedDoc) -> SpecDocument:
    from vibench.compiler.validate import validate

    return validate(doc)


def _error(code: str, message: str, pos: Pos | None, **kw: Any) -> SpecError:
    return SpecError([Diagnostic(code, message, pos, **kw)])


# --------------------------------------------------------------------------------------------
# The pass
# --------------------------------------------------------------------------------------------


def resolve(doc: LoadedDoc, spec: SpecDocument, library: Library, overrides: dict[str, Any] | None = None) -> UnitDef:
    """Resolve a validated spec into its root UnitDef with bound parameter values.

    ``overrides`` are ``--set`` values (or keyword arguments of :func:`vibench.build`).
    """
    library.sources[doc.file] = doc.text
    if doc.path:
        library.loading.append(doc.path)
    try:
        root, _ = resolve_file(doc, spec, library)
    finally:
        if doc.path:
            library.loading.pop()
    # Problems with --set values point at the parameter's declaration (or, for an unknown name, at
    # the section that declares parameters): the flag itself has no place in the file.
    anchor = _params_anchor(doc)
    given: dict[str, tuple[Any, Pos | None]] = {}
    too_big = []
    ignored = dict(root.reference.ignored_keys) if root.reference is not None else {}
    for key, value in (overrides or {}).items():
        decl = root.param(key)
        if decl is None and key in ignored:  # --set of a key the reference ignores: said, then dropped
            library.warnings.append(ignored_key_warning(key, root, ignored[key], anchor))
            continue
        given[key] = (value, (decl.pos if decl is not None else None) or anchor)
        problem = oversized(value)
        if problem is not None:
            too_big.append(Diagnostic("E202", f"the value given for `{str(key)[:80]}` is too large: {problem}",
                                      given[key][1] or root.pos, hint="give a plain, small value"))
    if too_big:
        raise SpecError(too_big, library.sources)

    def missing(decl: ParamDecl) -> tuple[Pos | None, str]:
        if spec.extends is not None:
            return anchor, f"add `{decl.name}: ...` under `with:`, or pass `--set {decl.name}=...`"
        return decl.pos or anchor, f"pass `--set {decl.name}=...` (or `{decl.name}=...` to vibench.build), " \
                                   "or give it a `default:`"

    values, diags = bind_params(root.params, given, env={}, where=f"model `{root.name}`", unknown_code="E201",
                                call_pos=root.pos, describe_given=lambda k: f"`{k}` (from --set)", missing=missing)
    diags = [replace(d, pos=d.pos or root.pos) for d in diags]
    for decl in root.params:
        if decl.slot is not None and decl.name in values:
            from_dir = os.path.dirname(doc.path) if doc.path else library.cwd
            diags += check_slot(decl, values[decl.name], library, root, from_dir)
    if diags:
        raise SpecError(diags, library.sources)
    return replace(root, param_values=values, overridden={k: pos for k, (_, pos) in given.items()})


def ignored_key_warning(key: str, root: UnitDef, reason: str, pos: Pos | None) -> Diagnostic:
    """W101: ``key`` is accepted but never read by the reference model that ``root`` reproduces."""
    model = root.reference.model if root.reference is not None else root.name
    return Diagnostic("W101", f"`{key}` is ignored by the reference {model}; vibench ignores it too", pos,
                      severity="warning", found=reason)


def _params_anchor(doc: LoadedDoc) -> Pos | None:
    """Where a spec sets its parameters: `params:`, else `with:`, else `extends:`, else its start."""
    for key in ("params", "with", "extends"):
        if isinstance(doc.data, dict) and key in doc.data:
            return doc.pos((key,), key=True)
    return doc.pos(())


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


def resolve_file(doc: LoadedDoc, spec: SpecDocument, library: Library) -> tuple[UnitDef, dict[str, UnitDef]]:
    """The root UnitDef (unbound) and the composite blocks of one spec file."""
    diags = Collector(sources=library.sources)
    from_dir = os.path.dirname(doc.path) if doc.path else library.cwd
    if spec.extends is not None:
        return _resolve_extends(doc, spec, library, diags, from_dir)
    blocks: dict[str, UnitDef] = {}
    for bname, bspec in spec.blocks.items():
        path = ("blocks", bname)
        _check_name(diags, doc, path, bname, "block", allow_upper=True)
        blocks[bname] = _unit(doc, path, bname, f"{doc.file}#{bname}", bspec.doc, bspec.params, bspec.inputs,
                              bspec.nodes, bspec.outputs, blocks, diags, lets=bspec.let, checks=bspec.checks)
    for section in ("name", "inputs", "nodes", "outputs"):
        if getattr(spec, section) is None:
            diags.add(Diagnostic("E103", f"missing required key `{section}` in the spec", doc.pos(()),
                                 expected=f"`{section}`", hint="a spec without `extends:` defines the whole model"))
    if spec.with_ is not None:
        diags.add(Diagnostic("E107", "`with:` needs `extends:`", doc.pos(("with",), key=True),
                             hint="`with:` sets the parameters of the template named by `extends:`"))
    if spec.name is None or spec.inputs is None or spec.nodes is None or spec.outputs is None:
        diags.raise_if_any()
    assert spec.name is not None and spec.inputs is not None and spec.nodes is not None and spec.outputs is not None
    _check_model_name(diags, doc, spec.name)
    root = _unit(doc, (), spec.name, f"{doc.file}", spec.doc, spec.params, spec.inputs, spec.nodes, spec.outputs,
                 blocks, diags, metadata=spec.metadata, lets=spec.let, checks=spec.checks)
    if spec.reference is not None:
        renames = spec.reference.state_dict_renames  # one `${...}` is evaluated and checked by the shapes pass
        for k, (pattern, _) in enumerate(renames if isinstance(renames, list) else []):
            try:
                re.compile(pattern)
            except re.error as err:
                diags.add(Diagnostic("E210", f"invalid regular expression in `reference.state_dict_renames`: {err}",
                                     doc.pos(("reference", "state_dict_renames", k, 0)), found=pattern))
        root = replace(root, reference=spec.reference)
    root = name_units(root, blocks, library, from_dir, diags)
    diags.raise_if_any()
    return with_scoped_params(root, library, from_dir), blocks


def _resolve_extends(doc: LoadedDoc, spec: SpecDocument, library: Library, diags: Collector,
                     from_dir: str) -> tuple[UnitDef, dict[str, UnitDef]]:
    for section in ("inputs", "nodes", "outputs"):
        if getattr(spec, section) is not None:
            diags.add(Diagnostic("E107", f"`{section}:` cannot be combined with `extends:`",
                                 doc.pos((section,), key=True),
                                 hint="a spec with `extends:` only sets the template's parameters under `with:`"))
    for section, given_ in (("blocks", spec.blocks), ("let", spec.let), ("checks", spec.checks)):
        if given_:
            diags.add(Diagnostic("E107", f"`{section}:` cannot be combined with `extends:`",
                                 doc.pos((section,), key=True),
                                 hint="a spec with `extends:` only sets the template's parameters under `with:`"))
    assert spec.extends is not None
    if "#" in spec.extends:
        diags.add(Diagnostic("E205", f"`extends:` names a whole spec, not a block (`{spec.extends}`)",
                             doc.pos(("extends",)), expected="a spec such as `cnn/ResNet1D` or `./base.yaml`",
                             hint="use a composite block in a node instead: "
                             f"`{{block: \"{spec.extends}\", in: ...}}`"))
    diags.raise_if_any()
    base, base_blocks = library.load(library.find(spec.extends, from_dir, doc.pos(("extends",))),
                                     doc.pos(("extends",)))
    own = _param_decls(doc, (), spec.params, diags)
    clash = [p.name for p in own if base.param(p.name) is not None]
    for name in clash:
        diags.add(Diagnostic("E210", f"parameter `{name}` is already a parameter of `{spec.extends}`",
                             doc.pos(("params", name), key=True), hint="set it under `with:` instead"))
    # `with:` values become the template parameters' defaults; they may use this file's params.
    given = {}
    for key, value in (spec.with_ or {}).items():
        pos = doc.pos(("with", key))
        try:
            given[key] = (parse_value(value, pos), pos)
        except ExprError as err:
            diags.add(_expr_diag(err, pos, f"`with.{key}`"))
    ignored = dict(base.reference.ignored_keys) if base.reference is not None else {}
    for key, _ in given.items():
        if base.param(key) is None and key in ignored:  # the reference accepts it and never reads it
            library.warnings.append(ignored_key_warning(key, base, ignored[key], doc.pos(("with", key), key=True)))
        elif base.param(key) is None:
            diags.add(Diagnostic("E201", f"unknown parameter `{key}` for template `{spec.extends}`",
                                 doc.pos(("with", key), key=True),
                                 expected="one of " + ", ".join(f"`{p.name}`" for p in base.params),
                                 hint=suggest(key, [p.name for p in base.params]) or "see `vibench-compile --list`"))
    diags.raise_if_any()  # a parameter of this file that `with:` does not read is W105, after the shapes pass
    params: list[ParamDecl] = []
    for decl in base.params:
        if decl.name in given:
            # Errors in the value point at `with:` in this file, not at the template's declaration.
            params.append(replace(decl, default=given[decl.name][0], required=False, pos=given[decl.name][1]))
        else:
            params.append(decl)
    # The file's own parameters come first so that `with:` values (now defaults) can read them.
    merged = tuple(own) + tuple(params)
    name = spec.name or base.name
    if spec.name is not None:
        _check_model_name(diags, doc, spec.name)
        diags.raise_if_any()
    metadata = base.metadata
    if spec.metadata:
        try:
            own_meta = parse_value(spec.metadata, doc.pos(("metadata",)))
        except ExprError as err:
            diags.add(_expr_diag(err, doc.pos(("metadata",)), "`metadata`"))
            diags.raise_if_any()
        metadata = {**(base.metadata if isinstance(base.metadata, dict) else {}), **own_meta}
    root = replace(base, name=name, doc=spec.doc or base.doc, params=merged, qualname=base.qualname,
                   pos=doc.pos(()), metadata=metadata, reference=spec.reference or base.reference)
    return root, base_blocks


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
        for k, dim in enumerate(ispec.shape if isinstance(ispec.shape, list) else []):
            dpos = doc.pos(ipath + ("shape", k))
            if isinstance(_raw(doc, ipath + ("shape", k)), bool):  # validation reads `true` as 1
                diags.add(Diagnostic("E212", "a dimension must be an integer, a symbol or `${...}`", dpos,
                                     found=repr(_raw(doc, ipath + ("shape", k))).lower()))
                continue
            if isinstance(dim, bool):
                diags.add(Diagnostic("E212", "a dimension must be an integer, a symbol or `${...}`", dpos,
                                     found=repr(dim)))
            elif isinstance(dim, int):
                if dim < 1:
                    diags.add(Diagnostic("E212", "a dimension must be positive", dpos, found=str(dim)))
                dims.append(dim)
            elif "${" in dim:
                try:
                    dims.append(parse_template(dim, dpos))
                except ExprError as err:
                    diags.add(_expr_diag(err, dpos, f"the shape of input `{iname}`"))
            elif dim.isidentifier() and not keyword.iskeyword(dim):
                dims.append(dim)
            else:
                diags.add(Diagnostic("E212", f"invalid dimension `{dim}` in the shape of input `{iname}`", dpos,
                                     expected="an integer, a symbol name such as L, or `${...}`", found=repr(dim)))
        when = _parsed_flag(doc, ipath + ("when",), ispec.when, f"`when` of input `{iname}`", diags)
        shape = whole if whole is not None else tuple(dims)
        layout = _layout(doc, ipath, iname, ispec, diags, names)
        input_decls.append(InputDecl(iname, shape, ispec.dtype, ispec.doc, doc.pos(ipath, key=True), when,
                                     ispec.optional, layout))
    node_defs = []
    for index, (nname, nspec) in enumerate(nodes.items()):
        npath = path + ("nodes", nname)
        _check_name(diags, doc, npath, nname, "node")
        node_defs.append(_node(doc, npath, nname, index, nspec, diags))
    output_defs = []
    for oname, target in outputs.items():
        opath = path + ("outputs", oname)
        _check_name(diags, doc, opath, oname, "output")
        if isinstance(target, str):
            output_defs.append(OutputDef(oname, _ref(target, doc.pos(opath)), doc.pos(opath, key=True)))
        else:
            when = _parsed_flag(doc, opath + ("when",), target.when, f"`when` of output `{oname}`", diags)
            promise = _promise(doc, opath, oname, target.shape, diags)
            output_defs.append(OutputDef(oname, _ref(target.from_, doc.pos(opath + ("from",))),
                                         doc.pos(opath, key=True), when, target.doc, promise,
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
        mpos = doc.pos(path + ("metadata",))
        try:
            metadata = parse_value(metadata, mpos)
        except ExprError as err:
            diags.add(_expr_diag(err, mpos, "`metadata`"))
            metadata = None
    unit = UnitDef(name=name, qualname=qualname, doc=text, params=tuple(decls), inputs=tuple(input_decls),
                   nodes=tuple(node_defs), outputs=tuple(output_defs), file=doc.file, path=doc.path, blocks=blocks,
                   pos=doc.pos(path, key=bool(path)) if path else doc.pos(()), metadata=metadata,
                   lets=tuple(let_defs), checks=tuple(check_defs))
    return unit


def _let_defs(doc: LoadedDoc, path: tuple, lets: dict, params: set[str], diags: Collector) -> list[LetDef]:
    """`let:` entries, parsed; a name must be an identifier that is not a parameter's (E210)."""
    out = []
    for lname, value in lets.items():
        lpath = path + ("let", lname)
        _check_name(diags, doc, lpath, lname, "parameter")
        if lname in params:
            diags.add(Diagnostic("E210", f"`let` value `{lname}` has the name of a parameter",
                                 doc.pos(lpath, key=True), hint=f"rename it, e.g. `{lname}_value`"))
            continue
        pos = doc.pos(lpath)
        try:
            out.append(LetDef(str(lname), parse_value(value, pos), pos))
        except ExprError as err:
            diags.add(_expr_diag(err, pos, f"`let.{lname}`"))
    return out


def _check_defs(doc: LoadedDoc, path: tuple, checks: list, params: set[str], diags: Collector) -> list[CheckDef]:
    """`checks:` entries, parsed; `at` must name a parameter (E210)."""
    out = []
    for k, check in enumerate(checks):
        cpath = path + ("checks", k)
        that = _parsed_flag(doc, cpath + ("that",), check.that, "`that` of a check", diags)
        mpos = doc.pos(cpath + ("message",))
        try:
            message = parse_template(check.message, mpos)
        except ExprError as err:
            diags.add(_expr_diag(err, mpos, "the message of a check"))
            continue
        if check.at is not None and check.at not in params:
            diags.add(Diagnostic("E210", f"check names unknown parameter `{check.at}` in `at`",
                                 doc.pos(cpath + ("at",)), expected="one of " + ", ".join(sorted(params))[:300],
                                 hint=suggest(check.at, params)))
            continue
        out.append(CheckDef(that, message, check.at, doc.pos(cpath, key=False), check.severity))
    return out


def _promise(doc: LoadedDoc, path: tuple, name: str, shape: list | None, diags: Collector) -> tuple | None:
    """An output's promised `shape:`: ints, names (symbols or parameters) and parsed `${...}` (E212 otherwise)."""
    if shape is None:
        return None
    dims: list[Any] = []
    for k, dim in enumerate(shape):
        dpos = doc.pos(path + ("shape", k))
        if isinstance(_raw(doc, path + ("shape", k)), bool) or isinstance(dim, bool) or (
                isinstance(dim, int) and dim < 1):
            diags.add(Diagnostic("E212", f"a promised dimension of output `{name}` must be a positive integer, a name "
                                 "or `${...}`", dpos, found=repr(_raw(doc, path + ("shape", k)))[:40]))
        elif isinstance(dim, int) or (dim.isidentifier() and not keyword.iskeyword(dim)):
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


def _layout(doc: LoadedDoc, path: tuple, name: str, spec: Any, diags: Collector, names: set[str]) -> Any:
    """An input's `layout:`: BLC, BCL, a parameter's name or a `${...}` (E212 otherwise, or for a shape that is
    not [B, L, C])."""
    if spec.layout is None:
        return None
    pos = doc.pos(path + ("layout",))
    if bare_name(spec.layout) in names:  # `layout: layout` reads the parameter
        value: Any = name_template(spec.layout, pos)
    else:
        try:
            value = parse_template(spec.layout, pos)
        except ExprError as err:
            diags.add(_expr_diag(err, pos, f"the layout of input `{name}`"))
            return None
    if isinstance(value, str) and value not in LAYOUTS:
        diags.add(Diagnostic("E212", f"the layout of input `{name}` must be BLC, BCL, a parameter's name or "
                             "`${...}`", pos, found=repr(value)[:60]))
        return None
    if isinstance(spec.shape, list) and len(spec.shape) != 3:
        diags.add(Diagnostic("E212", f"input `{name}` has a `layout`, so its shape is written [B, L, C]", pos,
                             expected="three dimensions, channels last", found=repr(spec.shape)[:80]))
        return None
    return value


def _parsed_flag(doc: LoadedDoc, path: tuple, value: Any, where: str, diags: Collector) -> Any:
    """A `when:` value: a bool, a parsed `${...}`, or None; anything else is E211."""
    if not isinstance(value, str):
        return value
    pos = doc.pos(path)
    if bare_name(value):  # `when: classify`: read by the names pass (compiler/names.py)
        return written_name(value, pos)
    try:
        parsed = parse_template(value, pos)
    except ExprError as err:
        diags.add(_expr_diag(err, pos, where))
        return None
    if isinstance(parsed, str):
        diags.add(Diagnostic("E211", f"{where} must be true, false or `${{...}}`", pos, found=repr(value),
                             hint="write a comparison, e.g. `${num_classes is not None}`"))
        return None
    return parsed


def _param_decls(doc: LoadedDoc, path: tuple, params: dict, diags: Collector) -> list[ParamDecl]:
    out = []
    for pname, pspec in params.items():
        ppath = path + ("params", pname)
        _check_name(diags, doc, ppath, pname, "parameter")
        pos = doc.pos(ppath, key=True)
        required = "default" not in pspec.model_fields_set
        type_text = pspec.type or (infer_type(pspec.default) if not required else None)
        if type_text is None:
            diags.add(Diagnostic("E210", f"parameter `{pname}` needs a `type` or a `default`", pos,
                                 hint="e.g. `{type: int}` for a required integer"))
            continue
        try:
            parse_type(type_text)
        except TypeSyntaxError as err:
            diags.add(Diagnostic("E210", f"invalid type `{type_text}` for parameter `{pname}`: {err}",
                                 doc.pos(ppath + ("type",)),
                                 expected="int, float, bool, str, list[T], dict[str, T], A | B",
                                 hint=suggest(type_text, ["int", "float", "bool", "str", "any"])))
            continue
        default = pspec.default
        if bare_name(default) in params and not type_admits_text(type_text):  # `default: input_dim`
            default = name_template(default, doc.pos(ppath + ("default",)))
        try:
            default = parse_value(default, doc.pos(ppath + ("default",)))
        except ExprError as err:
            diags.add(_expr_diag(err, doc.pos(ppath + ("default",)), f"the default of `{pname}`"))
            continue
        decl = ParamDecl(pname, type_text, default, required, pspec.ge, pspec.gt, pspec.le, pspec.lt,
                         tuple(pspec.choices) if pspec.choices is not None else None, pspec.doc, pos, pspec.slot)
        if pspec.slot is not None and (os.path.isabs(pspec.slot) or pspec.slot.startswith("~") or "\\" in pspec.slot
                                       or ".." in pspec.slot.split("/") or not pspec.slot.strip("/")):
            diags.add(Diagnostic("E210", f"slot folder `{pspec.slot[:80]}` of parameter `{pname}` must be a folder "
                                 "inside the spec search path", doc.pos(ppath + ("slot",)),
                                 expected="a relative folder such as `isfm/backbone` (no `..`, not absolute)"))
        if pspec.slot is not None and type_text not in ("str", "list[str]", "str | None", "list[str] | None"):
            diags.add(Diagnostic("E210", f"slot parameter `{pname}` must be a str (or list[str]) naming specs",
                                 doc.pos(ppath + ("type",)), found=type_text))
        if not required and not template_names(default) and "${" not in str(default):
            _, code, message = check_value(decl, default)
            if code is not None:
                diags.add(Diagnostic("E210", f"the default of `{pname}` does not fit its declaration: {message}",
                                     doc.pos(ppath + ("default",)), found=repr(default)[:80],
                                     hint="change the default, or the `type`/bounds it must meet"))
        out.append(decl)
    return out


def _node(doc: LoadedDoc, path: tuple, name: str, index: int, spec: Any, diags: Collector) -> NodeDef:
    # Positions come from the node's own location map: one lookup per key instead of a walk
    # from the document root (a 10,000-node spec asks for ~80,000 positions).
    here = doc.locate(path)
    children = here.children if here is not None and isinstance(here.children, dict) else {}

    def vpos(key: Any, item: int | None = None) -> Pos | None:
        entry = children.get(key)
        if entry is None:
            return doc.pos(path + (key,))
        loc = entry[1]
        if item is not None:
            if isinstance(loc.children, (list, dict)):
                sub = loc.children[item] if isinstance(loc.children, list) else loc.children.get(item)
                if sub is not None:
                    loc = sub if isinstance(loc.children, list) else sub[1]
        return Pos(doc.file, *loc.pos)

    def kpos(key: Any) -> Pos | None:
        entry = children.get(key)
        return Pos(doc.file, *entry[0]) if entry is not None else doc.pos(path + (key,), key=True)

    def parsed(key: str, value: Any) -> Any:
        pos = vpos(key)
        try:
            return parse_value(value, pos)
        except ExprError as err:
            diags.add(_expr_diag(err, pos, f"`{key}` of node `{name}`", node=name))
            return None

    block = parsed("block", spec.block)
    inputs: list[tuple[str | None, Ref]] = []
    raw_in = spec.in_
    if isinstance(raw_in, str):
        inputs.append((None, _ref(raw_in, vpos("in"))))
    elif isinstance(raw_in, list):
        for k, item in enumerate(raw_in):
            inputs.append((None, _ref(item, vpos("in", k))))
    elif isinstance(raw_in, dict):
        for port, item in raw_in.items():
            inputs.append((str(port), _ref(item, vpos("in", port))))
    repeat = spec.repeat
    if bare_name(repeat):  # `repeat: num_layers`: the names pass reads the parameter (compiler/names.py)
        repeat = written_name(repeat, vpos("repeat"))
    elif isinstance(repeat, str):
        repeat = parsed("repeat", repeat)
        if isinstance(repeat, str):
            diags.add(Diagnostic("E211", f"`repeat` of node `{name}` must be an integer or `${{...}}`",
                                 doc.pos(path + ("repeat",)), found=repr(spec.repeat), node=name,
                                 hint="write a count such as `repeat: 2`, or an expression such as "
                                 "`repeat: \"${layers[0]}\"`"))
    elif isinstance(repeat, int) and repeat < 0:
        diags.add(Diagnostic("E211", "`repeat` cannot be negative", doc.pos(path + ("repeat",)), found=str(repeat),
                             node=name))
    when = spec.when
    if bare_name(when):  # `when: classify`: read by the names pass
        when = written_name(when, vpos("when"))
    elif isinstance(when, str):
        when = parsed("when", when)
        if isinstance(when, str):
            diags.add(Diagnostic("E211", f"`when` of node `{name}` must be true, false or `${{...}}`",
                                 doc.pos(path + ("when",)), found=repr(spec.when), node=name,
                                 hint="write `true`/`false`, or a condition such as `when: \"${stride != 1}\"`"))
    for_each = spec.for_each
    if bare_name(for_each):  # `for_each: task_configs`: read by the names pass
        for_each = written_name(for_each, vpos("for_each"))
    elif for_each is not None:
        for_each = parsed("for_each", for_each)
        if isinstance(for_each, str):
            diags.add(Diagnostic("E211", f"`for_each` of node `{name}` must be a list or `${{...}}`",
                                 vpos("for_each"), found=repr(spec.for_each), node=name))
        if repeat is not None:
            diags.add(Diagnostic("E211", f"node `{name}` has both `repeat` and `for_each`", vpos("for_each"),
                                 node=name, hint="`repeat` chains copies, `for_each` runs them side by side: pick one"))
    with_ = spec.with_
    if with_ is not None:
        with_ = parsed("with", with_)
        if isinstance(with_, str):
            diags.add(Diagnostic("E211", f"`with` of node `{name}` must be a mapping or `${{...}}`", vpos("with"),
                                 found=repr(spec.with_), node=name,
                                 hint="write parameters as a mapping, or one expression that gives one"))
    params = []
    for key, value in (spec.model_extra or {}).items():
        params.append((str(key), parsed(str(key), value), kpos(key)))
    return NodeDef(name=name, index=index, block=block, inputs=tuple(inputs), params=tuple(params), repeat=repeat,
                   when=when, doc=spec.doc, pos=doc.pos(path, key=True), block_pos=vpos("block"),
                   inherit=spec.inherit, for_each=for_each, with_=with_, with_pos=vpos("with"),
                   checkpoint=spec.checkpoint)


def _ref(text: str, pos: Pos | None) -> Ref:
    node, _, port = text.partition(".")
    return Ref(node.strip(), port.strip() or None, pos)


# Names model.py defines at module level besides the classes: a model class may not take one.
MODULE_LEVEL_NAMES = frozenset({"torch", "nn", "F", "math", "re", "OrderedDict", "super", "load_reference_state_dict"})


def _check_model_name(diags: Collector, doc: LoadedDoc, name: str) -> None:
    """The model's name is its class name in model.py: an identifier Python reads as written, and
    not a name the file (or Python) already uses at module level."""
    import builtins

    pos = doc.pos(("name",))
    if not name.isidentifier() or keyword.iskeyword(name):
        diags.add(Diagnostic("E106", f"model name `{_shown(name)}` is not a valid Python class name", pos,
                             hint="use letters, digits and underscores, starting with a letter"))
    elif unicodedata.normalize("NFKC", name) != name:
        diags.add(Diagnostic("E106", f"model name `{name}` reads as `{unicodedata.normalize('NFKC', name)}` in Python",
                             pos, hint="write it in its normal form (Unicode NFKC): Python normalises identifiers"))
    elif name in MODULE_LEVEL_NAMES or name in dir(builtins) or name.startswith("_"):
        diags.add(Diagnostic("E106", f"model name `{name}` is taken in model.py", pos,
                             found=f"`{name}` is a module, function or builtin that model.py uses",
                             hint=f"rename the model, e.g. `{name}Model`"))


def _shown(name: Any) -> str:
    text = repr(name)[1:-1] if isinstance(name, str) else repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_name(diags: Collector, doc: LoadedDoc, path: tuple, name: Any, what: str, allow_upper: bool = False) -> None:
    pos = doc.pos(path, key=True)
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        diags.add(Diagnostic("E106", f"{what} name `{_shown(name)}` is not a valid identifier", pos,
                             hint="use letters, digits and underscores, not starting with a digit or a keyword"))
    elif unicodedata.normalize("NFKC", name) != name:
        diags.add(Diagnostic("E106", f"{what} name `{name}` reads as `{unicodedata.normalize('NFKC', name)}` in Python",
                             pos, hint="write it in its normal form (Unicode NFKC): Python normalises identifiers, "
                             "so two names that differ only there would be one attribute in model.py"))
    elif name.startswith("_"):
        diags.add(Diagnostic("E106", f"{what} name `{name}` may not start with `_`", pos,
                             hint=f"e.g. `{name.lstrip('_') or what}`: names starting with `_` are kept for the "
                             "emitted code's own helpers"))
    elif what in ("node", "input") and name in RESERVED_NAMES:
        diags.add(Diagnostic("E106", f"{what} name `{name}` is reserved", pos,
                             found=f"`{name}` is an nn.Module (or torch.fx GraphModule) attribute or a name the "
                             "emitted code uses",
                             hint=f"rename it, e.g. `{name}_`" if not name.endswith("_") else None))
    elif allow_upper and not name[:1].isupper():
        diags.add(Diagnostic("E106", f"composite block name `{name}` must start with an uppercase letter", pos,
                             found=name, hint=f"e.g. `{name[:1].upper() + name[1:]}`: composite blocks become "
                             "classes, and lowercase names belong to the block catalogue"))
    elif what == "parameter" and name in ("i", "item"):
        diags.add(Diagnostic("E106", f"parameter name `{name}` is reserved for the copies of `repeat`/`for_each`", pos))


def expression_names(unit: UnitDef) -> tuple[set[str], bool]:
    """The names the unit's own `${...}` read, and whether some node has `inherit: true`."""
    used: set[str] = set()
    for decl in unit.params:
        used |= template_names(decl.default) | _names_written(decl.default)
    for inp in unit.inputs:
        used |= template_names(inp.when) | template_names(inp.layout)
        for d in (inp.shape,) if isinstance(inp.shape, Template) else inp.shape:
            used |= template_names(d) | ({d} if isinstance(d, str) else set())  # a name in a shape reads it
    for out in unit.outputs:
        used |= template_names(out.when)
        for dim in out.shape or ():
            used |= template_names(dim) | ({dim} if isinstance(dim, str) else set())
    used |= template_names(unit.metadata)
    for let in unit.lets:
        used |= template_names(let.value)
    for check in unit.checks:
        used |= template_names(check.that) | template_names(check.message)
        if check.at is not None:
            used.add(check.at)
    inherits = False
    for node in unit.nodes:
        inherits = inherits or node.inherit
        used |= template_names(node.block) | template_names(node.repeat) | template_names(node.when)
        used |= template_names(node.for_each) | template_names(node.with_)
        for _, value, _ in node.params:
            used |= template_names(value) | _names_written(value)
        if isinstance(node.with_, dict):
            used |= set().union(*(_names_written(v) for v in node.with_.values()))
    return used, inherits


def _names_written(value: Any) -> set[str]:
    """A plain name that may read a parameter (``out_channels: channels``): counted as a use."""
    if isinstance(value, (list, dict)):
        return set().union(*(_names_written(v) for v in (value if isinstance(value, list) else value.values())))
    name = bare_name(value)
    return {name} if name is not None else set()


def _expr_diag(err: ExprError, pos: Pos | None, where: str, node: str | None = None) -> Diagnostic:
    return Diagnostic("E203" if err.syntax else "E204", f"{err.message} in {where}", pos, found=err.text or None,
                      hint=err.hint, node=node)


def load_source(text: str | None, path: str | None) -> LoadedDoc:
    """Load a spec from text or a path (helper for the public API)."""
    if text is not None:
        return load_text(text, path or "<string>", os.path.abspath(path) if path else None)
    assert path is not None
    return read_spec_file(path, path)
