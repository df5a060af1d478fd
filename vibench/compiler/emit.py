"""Pass 6, emit: a Program -> the source of a standalone model.py.

Pre: a Program from ``infer_shapes``. Post: Python source that imports only torch (and ``math``
where needed), holds the native classes and helpers it uses, one class per composite *structure*
(children first; :mod:`vibench.compiler.codegen.structure`) and the model class last, and that
``ruff format --check`` and ``ruff check`` accept. Code is built as :mod:`ast` nodes by the blocks
and laid out by :mod:`vibench.compiler.codegen.layout`; no text from a spec, a file name or the
command line reaches the file except as a literal or a cleaned comment. The same Program (and the
same free parameters) always gives the same bytes.

The model class takes the template's *free* parameters (those the compiler showed do not change
the code, e.g. ``num_classes`` of a classifier head) as keyword arguments with the compiled values
as defaults, checked against their declared types and bounds; every other template parameter may
be passed only with the value the file was compiled and shape-checked with.
"""

from __future__ import annotations

import ast
import functools
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from vibench.compiler.blocks.base import model_float_dtype, native_source
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen import reference_loader, support
from vibench.compiler.codegen.checks import input_checks, shares_sizes
from vibench.compiler.codegen.comments import comment_file_names
from vibench.compiler.codegen.docstrings import composite_doc, root_doc
from vibench.compiler.codegen.explain import explain_structure
from vibench.compiler.codegen.forward import forward
from vibench.compiler.codegen.header import command as regenerate
from vibench.compiler.codegen.header import header, shell
from vibench.compiler.codegen.layout import WIDTH, docstring, flat, split
from vibench.compiler.codegen.model_lines import check_written_lines
from vibench.compiler.codegen.plan import Slot
from vibench.compiler.codegen.render import INDENT, body, signature
from vibench.compiler.codegen.structure import Classes, Structure, group, thread
from vibench.compiler.codegen.text import width
from vibench.compiler.codegen.types import annotation_of
from vibench.compiler.emit_names import check_top_level_names, in_definition_order, name_classes
from vibench.compiler.free_bounds import FINITE, Bounds, tighten
from vibench.compiler.ir import ParamDecl, Program, Unit
from vibench.compiler.resolve_units import check_metadata_value


@dataclass
class _Class:
    name: str
    doc: list[str]
    attributes: list[str] = field(default_factory=list)
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    methods: list[list[str]] = field(default_factory=list)


def emit(program: Program, *, out_path: str | None = None, free: frozenset[str] = frozenset(),
         sizes: dict[tuple[str, str, int], str] | None = None, inplace: bool = True,
         reads: dict[str, str] | None = None, fields: dict[str, tuple[Any, ...]] | None = None,
         grouped: Classes | None = None) -> str:
    """Render the program as model.py source (``out_path`` only feeds the regenerate comment).

    ``free``: template parameters the model class accepts other values of (see the module docstring);
    ``sizes``: the model's sizes that are one of them, (node, port, axis) -> its name, which the shape
    comments and the docstring write (``[B, num_classes]``, not the default's ``[B, 4]``).
    ``inplace=False``: no operation writes into a layer's output (:func:`~vibench.compiler.codegen.forward.forward`).
    ``reads``: each free parameter -> the parameter the code reads for it (``free_candidates.code_names``: ``classes``
    -> ``num_classes``; itself when missing); ``fields``: the bounds of the block fields each sets that the class
    checks too (``free_candidates.reached_bounds``). The caller computes both (pipeline.compile_source), so that this
    module does not import free_params, which imports :func:`fingerprint`. ``grouped``: the program's classes grouped
    already (:func:`~vibench.compiler.codegen.model_lines.check_model_lines` counted their lines).
    """
    classes = _structures(program, free, reads=reads, grouped=grouped)
    imports: set[str] = set()
    natives: list[Any] = []
    helpers: list[Any] = []
    files = comment_file_names(classes.structures)
    rendered = []
    for s in classes.structures:
        if s.inline:  # written at each use, in the classes that use it: only what its layers bring is kept
            _bring(s, imports, natives)
        else:
            rendered.append(_class(s, program, imports, natives, helpers, free, inplace, sizes or {}, reads, fields,
                                   files))
    if any(s.inline for s in classes.structures):
        imports.add("collections")
    if reference_loader.load_reference_state_dict in helpers:
        imports.add("re")
    lines = _import_lines(imports, rendered)
    natives = in_definition_order(natives)
    check_top_level_names([*_imported_names(lines), *(n if isinstance(n, str) else n.__name__ for n in natives),
                           *(h.__name__ for h in helpers), *(r.name for r in rendered)])
    source = _template().render(
        header=header(program, out_path, inplace),
        imports=lines,
        natives=[native_source(n) for n in natives] + [native_source(h) for h in helpers],
        classes=rendered,
    )
    # E213 before any file is written: the lines counted from the classes (check_model_lines) are a least count.
    check_written_lines(program, classes, source)
    return source


def _imported_names(lines: list[str]) -> list[str]:
    """The names the import lines bind, once each (``import torch.utils.checkpoint`` binds ``torch`` again)."""
    names = []
    for words in (line.split() for line in lines):
        if words[:1] == ["import"] and "as" not in words:
            names.append(words[1].split(".")[0])
        elif words[:1] in (["import"], ["from"]):
            names.append(words[-1])
    return list(dict.fromkeys(names))


def _structures(program: Program, free: frozenset[str], plans: dict | None = None,
                reads: dict[str, str] | None = None, grouped: Classes | None = None) -> Classes:
    classes = grouped if grouped is not None else group(program, plans)
    name_classes(classes, program)
    # The names the code reads: `num_classes` for the class's `classes` (with: {num_classes: classes}).
    thread(classes, {(reads or {}).get(n, n) for n in free})
    for s in classes.structures:
        explain_structure(s, classes)
    return classes


def fingerprint(program: Program, free: frozenset[str], plans: dict | None = None,
                reads: dict[str, str] | None = None) -> tuple:
    """The code of every class, without comments, docstrings and the free parameters' defaults: equal
    fingerprints mean the same model.py up to those (see ``pipeline.free_parameters``). ``plans``
    caches the units' plans between calls on one program; ``reads`` as :func:`emit` takes it."""
    classes = _structures(program, free, plans, reads)
    parts: list[Any] = []
    for s in classes.structures:
        fwd = forward(s)
        parts.append((s.name, [(a.name, a.annotation, a.has_default and a.default) for a in s.args],
                      [(m.slot, ast.dump(m.ctor)) for m in s.members], [_dump(line) for line in fwd.lines]))
    root = program.root
    fixed = {k: v for k, v in root.params if k not in free}
    # The input checks: a parameter that bounds an input (H_03_Linear_pred's max_len: L <= max_len) is not free.
    checks = [(str(k.lhs), k.op, k.mod) for k in root.constraints]
    parts.append((repr(root.metadata), root.state_dict_renames, repr(fixed), checks))
    return tuple(repr(p) for p in parts)


def _dump(line: Any) -> str:
    return ast.dump(line.stmt) + "".join(_dump(b) for b in line.body)


# --------------------------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------------------------


def _bring(s: Structure, imports: set[str], natives: list[Any]) -> None:
    """Add the imports and native classes the layers of ``s`` need to ``imports`` and ``natives``."""
    for plan in s.plans:
        for slot in plan.slots.values():
            if slot.block is not None:
                brought = [n for copy in slot.node.copies for n in slot.block.native_classes(copy.params)]
                imports.update(slot.block.imports if brought else _imports_named(slot))
                if brought:  # (most blocks bring none: no generator per node)
                    natives.extend(n for n in brought if n not in natives)


def _class(s: Structure, program: Program, imports: set[str], natives: list[Any], helpers: list[Any],
           free: frozenset[str], inplace: bool = True, sizes: dict[tuple[str, str, int], str] | None = None,
           reads: dict[str, str] | None = None, fields: dict[str, tuple[Any, ...]] | None = None,
           files: dict[str, str] | None = None) -> _Class:
    is_root = s is _root_of(program, s)
    unit = s.units[0]
    _bring(s, imports, natives)
    cls = _Class(s.name, [])
    init = ["super().__init__()"]
    texts: dict[int, tuple[Any, Any, str]] = {}  # constructor -> (it, as written, its text); alike nodes share one
    for member in s.members:
        if id(member.ctor) not in texts:
            tree = member.ctor
            text = flat(tree)
            if not inplace and "inplace=True" in text:
                tree = _out_of_place(tree)
                text = flat(tree)
            texts[id(member.ctor)] = (member.ctor, tree, text)  # holding the tree keeps its id unique
        _, tree, text = texts[id(member.ctor)]
        if "math." in text:
            imports.add("math")
        prefix = f"self.{member.slot} = "
        fits = 2 * INDENT + len(prefix) + width(text) <= WIDTH  # then split() writes the line as it is (in ruff's
        # columns: a plug-in's string setting may hold wide text)
        init += [prefix + text] if fits else split(prefix, tree, "", 2 * INDENT)
    prologue = None
    if is_root:
        def prologue(var: dict[str, str]) -> list:
            lines = input_checks(unit, var)
            used: tuple[Any, ...] = (support._require, support._check_input, support._cast_dtype, support._input_hint)
            used += (support._same_size,) if shares_sizes(unit) else ()
            for helper in used if lines else ():
                if helper not in helpers:
                    helpers.append(helper)
            return lines
    fwd = forward(s, prologue, inplace, sizes if is_root else None, files)
    if "_checkpoint" in fwd.helpers:
        imports.add("torch.utils.checkpoint")
        if support._checkpoint not in helpers:
            helpers.append(support._checkpoint)
    if is_root:
        _root(cls, s, unit, program, init, helpers, free, inplace, sizes or {}, reads, fields)
    else:
        cls.doc = composite_doc(s, unit)
        params = ["self"] + [_param(a.name, a.annotation, a.default, a.has_default) for a in s.args]
        cls.init = signature("__init__", params, "None") + [" " * INDENT + line for line in init]
    args = ["self"] + [f"{name}: {annotation}" for name, annotation in fwd.args]
    cls.forward = signature("forward", args, fwd.returns) + [" " * INDENT + x for x in body(fwd.lines, 2 * INDENT)]
    for m in fwd.methods:  # the calls of checkpointed nodes that are not `module(x)`
        params = ["self", "module: nn.Module"] + [f"{p}: torch.Tensor" for p in m.params]
        returned = split("return ", m.body, "", 2 * INDENT)
        cls.methods.append(signature(m.name, params, "tuple" if m.returns_tuple else "torch.Tensor")
                           + [" " * INDENT + line for line in returned])
    return cls


def _out_of_place(ctor: ast.expr) -> ast.expr:
    """A copy of a constructor whose modules (``nn.ReLU(inplace=True)`` in an ``nn.Sequential``) work out
    of place: ``--no-inplace`` promises that no layer's output is written over, inside a module too."""

    class Drop(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.Call:
            self.generic_visit(node)
            node.keywords = [k for k in node.keywords if not (
                k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True)]
            return node

    return Drop().visit(deepcopy(ctor))  # type: ignore[no-any-return]


def _root_of(program: Program, s: Structure) -> Structure | None:
    return s if s.units[0] is program.root else None


def _param(name: str, annotation: str, default: Any, has_default: bool) -> str:
    text = f"{name}: {annotation}"
    if has_default:
        text += " = " + flat(c.const(default))
    return text


def _root(cls: _Class, s: Structure, unit: Unit, program: Program, init: list[str], helpers: list[Any],
          free: frozenset[str], inplace: bool = True, sizes: dict[tuple[str, str, int], str] | None = None,
          code_reads: dict[str, str] | None = None, field_bounds: dict[str, tuple[Any, ...]] | None = None) -> None:
    decls = {d.name: d for d in (unit.definition.params if unit.definition is not None else ())}
    values = dict(unit.params)
    order = list(values)
    free_names = sorted((n for n in free if n in values), key=order.index)
    reads = {n: (code_reads or {}).get(n, n) for n in free_names}  # keyword -> the parameter the code reads
    cls.doc = root_doc(unit, sizes or {}, free_names)
    if unit.metadata:
        check_metadata_value(unit.metadata, unit.definition.pos if unit.definition is not None else None)
        cls.attributes += split("METADATA = ", c.const(unit.metadata), "", INDENT)
    has_reference = bool(unit.state_dict_renames) or (
        unit.definition is not None and unit.definition.reference is not None)
    if has_reference:
        renames = c.const([list(r) for r in unit.state_dict_renames])
        cls.attributes += split("REFERENCE_STATE_DICT_RENAMES = ", renames, "", INDENT)
    params = ["self"] + [_param(n, annotation_of(decls[n].type).replace(" | None", ""), values[n], True)
                         for n in free_names]
    checks: list[str] = []
    if values:
        if support._check_settings not in helpers:
            helpers.append(support._check_settings)
        # A slot-scoped parameter nobody set is left out: it means "each component's own default".
        fixed = {k: v for k, v in values.items() if k not in free_names and k not in reads.values()
                 and not (v is None and k in decls and decls[k].scope)}
        cls.attributes += split("COMPILED_PARAMETERS = ", c.const(fixed), "", INDENT)
        params.append("**fixed: object")
        given: ast.expr = c.ref("fixed")
        if free_names:
            entries: list[ast.expr] = [c.ref("fixed"), *(c.ref(n) for n in free_names)]
            given = ast.Dict(keys=[None] + [c.const(n) for n in free_names], values=entries)
        sized = set((sizes or {}).values())  # the free parameters that are an output's size: at least 1
        fields = dict(field_bounds or {}) if free_names else {}  # those of the block fields they set
        bounds = c.const({n: _bounds(decls[n], values[n], n in sized, fields.get(n, ())) for n in free_names})
        # The `--set` words apart (parameter -> word): the hint for a changed parameter leaves out its old value.
        sets = {k: shell(f"{k}={v}") for k, v in program.source.overrides}
        command = regenerate(program, None, sets=False, inplace=inplace)
        call = c.call("_check_settings", c.ref("self"), given, bounds, command, *([sets] if sets else []))
        # The free parameters come back as Python values (from numpy scalars, 0-d tensors): the layers take those.
        back = flat(c.tuple_of(*(c.ref(reads[n]) for n in free_names))) + " = " if free_names else ""
        checks = split(back, call, "", 2 * INDENT)
    tail = ["self.check_inputs = True"]
    dtype = _dtype_cast(unit)
    if dtype:
        tail.append(dtype)
    cls.init = signature("__init__", params, "None") + [" " * INDENT + x for x in init[:1] + checks + init[1:] + tail]
    if has_reference and reference_loader.load_reference_state_dict not in helpers:
        helpers.append(reference_loader.load_reference_state_dict)


def _bounds(d: ParamDecl, value: Any, size: bool = False, fields: tuple[Bounds, ...] = ()) -> Any:
    """``((types...), ge, gt, le, lt, what)`` of a free parameter (an int is accepted for a float; None among the
    types where the declared type takes None, which the class refuses as another structure); ``size``:
    it is an output's size, so an int of it is at least 1 whatever its declared bounds (as the compiler's E104);
    ``fields``: the bounds of the block fields it sets (``free_candidates.reached_bounds``), which the compiler's
    E104 checks too (a free dropout's ``ge: 0, le: 1``, a norm's ``eps`` ``gt: 0``)."""
    kinds: tuple[ast.expr, ...] = (c.ref("float"), c.ref("int")) if isinstance(value, float) else (
        c.ref(type(value).__name__),)
    if "None" in annotation_of(d.type).split(" | "):  # declared, but no free value: it builds another structure
        kinds += (c.const(None),)
    bounds = [d.ge, d.gt, d.le, d.lt]
    whole = isinstance(value, int) and not isinstance(value, bool)
    if size and whole:  # an output's size: at least 1
        if not ((d.ge is not None and d.ge >= 1) or (d.gt is not None and d.gt >= 0)):
            bounds[0:2] = [1 if d.ge is None else max(d.ge, 1), None]
    for reached in fields:
        bounds = tighten(bounds, reached, whole=whole)
    if isinstance(value, int):  # `ge: 1` of an int parameter is written 1, not 1.0
        bounds = [int(b) if b is not None and float(b).is_integer() else b for b in bounds]
    what = "a number" if isinstance(value, float) else f"an {type(value).__name__}"
    if any(b is not None and abs(b) == FINITE for b in bounds):  # (a block's float: the compiler's E104)
        what = "a finite number"
    what += " and".join(f" {op} {b}" for op, b in zip((">=", ">", "<=", "<"), bounds, strict=True)
                        if b is not None and abs(b) != FINITE)
    return c.tuple_of(c.tuple_of(*kinds), *bounds, what)


def _dtype_cast(unit: Unit) -> str | None:
    """The module's cast to its inputs' float dtype: the rule the shapes pass typed the tables with."""
    dtype = model_float_dtype(t.dtype for _, t in unit.inputs)
    return f"self.to(torch.{dtype})" if dtype != "float32" else None


# --------------------------------------------------------------------------------------------
# file parts (the header and its command: codegen/header.py)
# --------------------------------------------------------------------------------------------


def _imports_named(slot: Slot) -> set[str]:
    """The imports of a slot's block that its code names (a pad of width 0 is its input: no ``F``).
    A block that brings native classes needs all of them: their source reads them."""
    wanted = set(slot.block.imports) if slot.block is not None else set()
    if not wanted:
        return wanted
    trees = [slot.call, *slot.ctors, *slot.chain] + ([slot.inplace] if slot.inplace is not None else [])
    return wanted & set().union(*(c.names_in(t) for t in trees))


def _import_lines(imports: set[str], classes: list[_Class]) -> list[str]:
    lines = [f"import {name}" for name in ("math", "re") if name in imports]
    if "collections" in imports:
        lines.append("from collections import OrderedDict")
    if lines:
        lines.append("")
    lines.append("import torch")
    if "F" in imports:
        lines.append("import torch.nn.functional as F")
    if "torch.utils.checkpoint" in imports:
        lines.append("import torch.utils.checkpoint")
    lines.append("from torch import nn")
    return lines


@functools.lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vibench.compiler", "templates"),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["docstring"] = lambda lines: docstring(lines, INDENT)
    return env.get_template("model.py.j2")

