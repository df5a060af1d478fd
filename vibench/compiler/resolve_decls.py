"""Pass 3, resolve: the declarations of a unit and the names it is written with.

Parameter declarations (``params:``), ``let:`` values and ``checks:`` entries, parsed; ``when:`` flags;
the checks every name meets (identifiers Python reads as written, not reserved: E106). Used by
:mod:`vibench.compiler.resolve` and :mod:`vibench.compiler.resolve_units`. :func:`expression_names`, the names a
unit's own ``${...}`` read, is :mod:`vibench.compiler.names_read`'s, re-exported here.
"""

from __future__ import annotations

import builtins
import keyword
import os
import unicodedata
from collections.abc import Callable
from typing import Any

from vibench.compiler.codegen.namer import RESERVED as _NAMER_RESERVED
from vibench.compiler.diagnostics import MAX_DIAGNOSTICS, Collector, Diagnostic, Suggestions, clip
from vibench.compiler.expr import (
    ExprError,
    bare_name,
    name_template,
    parse_template,
    parse_value,
    template_names,
    written_name,
)
from vibench.compiler.expr_functions import FUNCTIONS
from vibench.compiler.ir import CheckDef, LetDef, ParamDecl, Pos, UnitDef
from vibench.compiler.load import LoadedDoc
from vibench.compiler.names import _holds_name, _name_in

# The names a unit's values read live in names_read.py; callers import them from here, with the declarations.
from vibench.compiler.names_read import _names_written as _names_written  # re-exported: callers import them here
from vibench.compiler.names_read import expression_names as expression_names
from vibench.compiler.param_types import (
    TYPES_EXPECTED,
    TypeSyntaxError,
    check_value,
    infer_type,
    parse_type,
    type_admits_text,
    type_suggestion,
)
from vibench.compiler.params import count_rest, expected_names
from vibench.compiler.spec_paths import unnamable

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
# Names an argument of an emitted method may not take (parameters: __init__'s; inputs: forward's): Python's
# keywords and builtins, the modules model.py imports (the namer's reserved names), `self`, `cls` and
# __init__'s `**fixed`.
ARGUMENT_NAMES = frozenset({"self", "cls", "fixed"})
# vibench.build's own arguments (tests/test_names.py keeps the two in step): its other keywords set the spec's
# parameters, so a parameter of one of these names could not be set through it (`build(spec, max_nodes=8)`
# was the node limit, silently, and the parameter kept its default).
BUILD_OPTIONS = frozenset({"spec", "text", "inputs", "search_path", "max_nodes", "max_params", "max_activation",
                           "metadata", "inplace"})
# What vibench's emitted classes hold besides their nodes (emit.py: the input-check switch and the class
# constants): a node of that name collided with it (`check_inputs` failed in the constructor).
EMITTED_ATTRIBUTES = frozenset({"check_inputs", "COMPILED_PARAMETERS", "REFERENCE_STATE_DICT_RENAMES", "METADATA"})
# The longest name a spec may declare (E106): model.py writes two names on one line (`"output": node_port,` in
# forward's return, `and a.shape[0] == b.shape[0]` in the input checks), and every such line fits ruff's 120
# columns at 32 characters a name (tests/test_emitted_bounds.py; at 40 the input checks overflow). The
# library's longest name has 28. A class name (the model's, a composite block's) stands after a node's on
# `self.node = Block(`: 48 characters, and the library's longest (H_02_Linear_cla_heterogeneous_batch) has 35.
MAX_NAME = 32
MAX_CLASS_NAME = 48
# Names that read like digits in many fonts: model.py names an argument, a variable or a class after a
# parameter, input, node, composite block or the model, and ruff refuses these there (E741, E742 for a class),
# so model.py would fail the `ruff check` it is written to pass. Output names stay strings in model.py.
AMBIGUOUS_NAMES = {"l": "the digit 1 or a capital I", "O": "the digit 0", "I": "the digit 1 or a lowercase l"}
# The literals of `${...}` that Python spells otherwise (`True`, `False`, `None` are keywords: E106 already).
LITERAL_NAMES = {"true": "true", "false": "false", "null": "null (None)"}
# The names of a `repeat`/`for_each` copy's loop variables (`key`: a for_each over a mapping's): a parameter, `let`
# or shape symbol of one of these names is hidden by the copy's inside a copy, and model.py has no such name outside
# one (a symbol `i` wrote `nn.Linear(i, i + 1)` into the constructor: a NameError).
LOOP_NAMES = ("i", "item", "key")
RESERVED_NAMES = MODULE_ATTRIBUTES | FX_ATTRIBUTES | EMITTED_ATTRIBUTES | frozenset(AMBIGUOUS_NAMES) | {
    "self", "torch", "nn", "F", "math", "super", "i"}


def _let_defs(doc: LoadedDoc, path: tuple, lets: dict, params: set[str], diags: Collector) -> list[LetDef]:
    """`let:` entries, parsed; a name must be an identifier that is not a parameter's (E210)."""
    out = []
    for lname, value in lets.items():
        lpath = path + ("let", lname)
        _check_name(diags, doc, lpath, lname, "let")
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


def let_given(unit: UnitDef, key: str, given: str, pos: Pos | None, expected: str | None = None) -> Diagnostic | None:
    """E201 for a value given for ``key`` (``given``: where from, `(from --set)`) when ``key`` names a `let` of
    ``unit``, which follows from its parameters and cannot be set (None when it names none), at ``pos``; the
    caller asking for many keys gives ``expected`` (:func:`~vibench.compiler.params.expected_names`), made once."""
    let = next((x for x in unit.lets if x.name == key), None)
    if let is None:
        return None
    return Diagnostic("E201", f"`{key}`{given} is a `let` value of `{unit.name}`, not a parameter", pos,
                      expected=expected or expected_names((d.name for d in unit.params), f"`{unit.name}`"),
                      notes=(f"it is computed from the parameters at {let.pos}",) if let.pos is not None else (),
                      hint="set the parameters it is computed from instead, or remove it")


def _check_defs(doc: LoadedDoc, path: tuple, checks: list, params: set[str], diags: Collector) -> list[CheckDef]:
    """`checks:` entries, parsed; `at` must name a parameter (E210: the first MAX_DIAGNOSTICS built, the rest
    counted, with one "did you mean" budget and one `expected` text for them all)."""
    out: list[CheckDef] = []
    unknown: list[Diagnostic] = []
    rest, names, expected = 0, Suggestions(params), "one of " + ", ".join(sorted(params))[:300]
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
            rest += len(unknown) >= MAX_DIAGNOSTICS
            if len(unknown) < MAX_DIAGNOSTICS:
                unknown.append(Diagnostic("E210", f"check names unknown parameter `{check.at}` in `at`",
                                          doc.pos(cpath + ("at",)), expected=expected, hint=names.hint(check.at)))
            continue
        out.append(CheckDef(that, message, check.at, doc.pos(cpath, key=False), check.severity))
    diags.extend(count_rest(unknown, rest, "check{s} naming an unknown parameter in `at`"))
    return out


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
        # a local composite block's parameters are not build()'s keywords: only the root spec's (path ())
        _check_name(diags, doc, ppath, pname, "parameter", root=not path)
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
            diags.add(Diagnostic("E210", f"invalid type `{clip(type_text, 80)}` for parameter `{pname}`: {err}",
                                 doc.pos(ppath + ("type",)), expected=TYPES_EXPECTED, hint=type_suggestion(type_text)))
            continue
        default = pspec.default
        if bare_name(default) in params and not type_admits_text(type_text):  # `default: input_dim`
            default = name_template(default, doc.pos(ppath + ("default",)))
        elif isinstance(default, (list, dict)) and _holds_name(default):  # `default: [n, n]`: the item type decides
            default = _name_in(parse_type(type_text), default, params, doc.pos(ppath + ("default",)))
        try:
            default = parse_value(default, doc.pos(ppath + ("default",)))
        except ExprError as err:
            diags.add(_expr_diag(err, doc.pos(ppath + ("default",)), f"the default of `{pname}`"))
            continue
        decl = ParamDecl(pname, type_text, default, required, pspec.ge, pspec.gt, pspec.le, pspec.lt,
                         tuple(pspec.choices) if pspec.choices is not None else None, pspec.doc, pos, pspec.slot)
        # (not `names - params.keys()`: a set minus a mapping's keys copies the keys, per parameter: quadratic)
        unknown = {n for n in template_names(default) if n not in params and n not in FUNCTIONS}
        lets_read = _lets_named(doc, path, unknown)
        if lets_read:  # `default: "${b + 1}"` was "unknown name `b`", with no word of the `let` of that name
            diags.add(Diagnostic("E204", f"cannot evaluate `{pname}`: its default reads `{lets_read[0]}`, a `let` "
                                 "value", doc.pos(ppath + ("default",)), found=clip(getattr(default, "text", ""), 80),
                                 hint=_let_read_hint(doc, path, lets_read[0])))
            continue
        if pspec.slot is not None and (os.path.isabs(pspec.slot) or pspec.slot.startswith("~") or "\\" in pspec.slot
                                       or ".." in pspec.slot.split("/") or not pspec.slot.strip("/")
                                       or unnamable(pspec.slot)):
            diags.add(Diagnostic("E210", f"slot folder `{pspec.slot[:80]}` of parameter `{pname}` must be a "
                                 "folder inside the spec search path", doc.pos(ppath + ("slot",)),
                                 expected="a relative folder such as `isfm/backbone` (no `..`, not absolute)",
                                 found=f"a name that {why}" if (why := unnamable(pspec.slot)) else None))
        if pspec.slot is not None and type_text not in ("str", "list[str]", "str | None", "list[str] | None"):
            diags.add(Diagnostic("E210", f"slot parameter `{pname}` must be a str (or list[str]) naming specs",
                                 doc.pos(ppath + ("type",)), found=type_text))
        if not required and not template_names(default) and "${" not in str(default):
            _, code, message = check_value(decl, default)
            if code is not None:
                diags.add(Diagnostic("E210", f"the default of `{pname}` does not fit its declaration: {message}",
                                     doc.pos(ppath + ("default",)), found=clip(repr(default), 80),
                                     hint=_let_read_hint(doc, path, default)
                                     or "change the default, or the `type`/bounds it must meet"))
        out.append(decl)
    return out


def _lets_named(doc: LoadedDoc, path: tuple, names: Any) -> list[str]:
    """Those of ``names`` that are `let` values of the unit written at ``path``, sorted."""
    if not names:
        return []
    lets = doc.data
    for part in path + ("let",):  # the unit's `let:` as loaded (read only here, for an error)
        lets = lets.get(part) if isinstance(lets, dict) else None
    return sorted(set(names) & set(lets)) if isinstance(lets, dict) else []


def _let_read_hint(doc: LoadedDoc, path: tuple, default: Any) -> str | None:
    """The hint of an E210 for a default, written at ``path``'s unit, that names one of the unit's `let` values
    plainly (`n: {type: int, default: b}`: the text 'b'); None when it names none."""
    named = _lets_named(doc, path, _names_written(default))
    if not named:
        return None
    return (f"`{named[0]}` is a `let` value, and a parameter's default cannot read one (`let` values are computed "
            f"from the parameters): write the value itself, or make `{named[0]}` a parameter")


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
    elif (problem := name_problem(name, "model")) is not None:
        diags.add(problem(pos))
    elif name in AMBIGUOUS_NAMES:
        diags.add(_ambiguous(name, "model", pos))
    elif name in MODULE_LEVEL_NAMES or name in dir(builtins) or name.startswith("_"):
        diags.add(Diagnostic("E106", f"model name `{name}` is taken in model.py", pos,
                             found=f"`{name}` is a module, function or builtin that model.py uses",
                             hint=f"rename the model, e.g. `{name}Model`"))


def name_problem(name: str, what: str) -> Callable[[Pos | None], Diagnostic] | None:
    """The E106 (given where it is written) of an identifier that Python reads as another name (NFKC),
    that is not ASCII, or that is longer than :data:`MAX_NAME`; None when it is none of these. Every name
    a spec declares meets it, shape symbols included (`L` and `Ｌ` look alike in the docstring). A parameter, `let`
    or shape symbol also may not take a loop name (:data:`LOOP_NAMES`)."""
    if name in LOOP_NAMES and what in ("parameter", "let", "shape symbol"):
        return lambda pos: Diagnostic("E106", f"{what} name `{name}` is reserved for the copies of `repeat`/`for_each`",
                                      pos, hint=f"rename it, e.g. `{name}_`")
    if not name.isascii() and unicodedata.normalize("NFKC", name) != name:  # ASCII is its own normal form
        normal = unicodedata.normalize("NFKC", name)
        hint = "write it in its normal form (Unicode NFKC): Python normalises identifiers" + _NFKC_WHY.get(what, (
            ", so two names that differ only there would be one attribute in model.py"))
        return lambda pos: Diagnostic(
            "E106", f"{what} name `{_shown(name)[:80]}` reads as `{_shown(normal)[:80]}` in Python", pos, hint=hint)
    if not name.isascii():
        return lambda pos: Diagnostic("E106", f"{what} name `{_shown(name)[:80]}` is not ASCII", pos, hint=_ASCII_HINT)
    limit = MAX_CLASS_NAME if what in ("model", "block") else MAX_NAME
    if len(name) > limit:
        return lambda pos: Diagnostic(
            "E106", f"{what} name `{name[:40]}...` is too long", pos, expected=f"at most {limit} characters",
            found=f"{len(name):,} characters",
            hint="model.py writes names in its code lines, which fit 120 columns (docs/language.md, \"Names\"); "
            "say the rest in `doc:`")
    return None


_NFKC_WHY = {"model": "", "shape symbol": (
    "; two symbols that differ only there (`L`, `Ｌ`) are different sizes that read alike in model.py's docstring")}
_ASCII_HINT = ("model.py names its classes, attributes, arguments and state_dict keys after the spec's names, "
               "in ASCII letters, digits and underscores: write the name so, and say the rest in `doc:`")


def _shown(name: Any) -> str:
    text = repr(name)[1:-1] if isinstance(name, str) else repr(name)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_name(diags: Collector, doc: LoadedDoc, path: tuple, name: Any, what: str, allow_upper: bool = False,
                root: bool = True) -> None:
    if what == "node" and name.__class__ is str and name.isascii() and name.isidentifier() and len(name) <= MAX_NAME \
            and name[0] != "_" and name not in RESERVED_NAMES and not keyword.iskeyword(name) and not allow_upper:
        return  # a node name none of the rules below refuses (once per node: 10,000 nodes, 9.5 -> 5.8 ms)

    def pos() -> Pos | None:  # looked up only for a diagnostic: a valid name (the common case) costs string tests
        return doc.pos(path, key=True)

    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        diags.add(Diagnostic("E106", f"{what} name `{_shown(name)}` is not a valid identifier", pos(),
                             hint="use letters, digits and underscores, not starting with a digit or a keyword"))
    elif (problem := name_problem(name, what)) is not None:
        diags.add(problem(pos()))
    elif name.startswith("_"):
        diags.add(Diagnostic("E106", f"{what} name `{name}` may not start with `_`", pos(),
                             hint=f"e.g. `{name.lstrip('_') or what}`: names starting with `_` are kept for the "
                             "emitted code's own helpers"))
    elif what in ("node", "input") and name in RESERVED_NAMES and name not in AMBIGUOUS_NAMES:
        diags.add(Diagnostic("E106", f"{what} name `{name}` is reserved", pos(),
                             found=f"`{name}` is an nn.Module (or torch.fx GraphModule) attribute or a name the "
                             "emitted code uses",
                             hint=f"rename it, e.g. `{name}_`" if not name.endswith("_") else None))
    elif what in ("parameter", "input", "let") and (name in _NAMER_RESERVED or name in ARGUMENT_NAMES):
        # A parameter is a keyword argument of the emitted class's __init__, an input one of forward: the
        # caller's name, which the emitter cannot rename (`def __init__(self, self: int = 4)` did not parse,
        # `super: int` broke super().__init__(), `range` would shadow the builtin the body calls). A `let`
        # is read like a parameter, and one named `min` or `len` would hide the expression function.
        why = {"parameter": "parameters become arguments of the emitted constructor",
               "input": "inputs become arguments of the emitted forward",
               "let": "`let` names follow the rules of parameter names"}[what]
        diags.add(Diagnostic("E106", f"{what} name `{name}` is reserved", pos(),
                             found=f"`{name}` is {_python_meaning(name)}; {why}",
                             hint=f"rename it, e.g. `{name}_`" if not name.endswith("_") else None))
    elif what == "parameter" and root and name in BUILD_OPTIONS:
        diags.add(Diagnostic("E106", f"parameter name `{name}` is reserved", pos(),
                             found=f"`vibench.build(..., {name}=...)` is build's own option, so the parameter could "
                             "not be set there",
                             hint=f"rename it, e.g. `{name}_`" if not name.endswith("_") else None))
    elif allow_upper and not name[:1].isupper():
        diags.add(Diagnostic("E106", f"composite block name `{name}` must start with an uppercase letter", pos(),
                             found=name, hint=f"e.g. `{name[:1].upper() + name[1:]}`: composite blocks become "
                             "classes, and lowercase names belong to the block catalogue"))
    elif name in AMBIGUOUS_NAMES and what in _PYTHON_NAME_OF:  # an output's name stays a string in model.py
        diags.add(_ambiguous(name, what, pos()))
    elif what in ("parameter", "let") and name in LITERAL_NAMES:
        # `${null}` read the parameter (names come before literals in the evaluator) while model.py's formulas
        # wrote the literal: `out_features: "${null}"` checked as 3 and emitted nn.Linear(4, None).
        diags.add(Diagnostic("E106", f"{what} name `{name}` is reserved", pos(),
                             found=f"`{name}` is the literal {LITERAL_NAMES[name]} in `${{...}}`",
                             hint=f"rename it, e.g. `{name}_value`"))


# Where model.py writes each kind of name as a Python name, for the E106 of `l`, `O` and `I`.
_PYTHON_NAME_OF = {"parameter": "model.py's constructor takes it as an argument",
                   "input": "model.py's forward takes it as an argument",
                   "node": "model.py's forward names a variable after it",
                   "block": "model.py names a class after it", "model": "model.py names its class after it",
                   "let": "`let` names follow the rules of parameter names (model.py's constructor takes those)"}


def _ambiguous(name: str, what: str, pos: Pos | None) -> Diagnostic:
    """E106 for `l`, `O` or `I` (see :data:`AMBIGUOUS_NAMES`), a ``what`` name at ``pos``."""
    example = {"l": "length", "O": "out", "I": "inner"}[name]
    if what in ("block", "model"):  # a class name: capitalised
        example = example.capitalize()
    return Diagnostic("E106", f"{what} name `{name}` is reserved", pos,
                      found=f"`{name}` reads like {AMBIGUOUS_NAMES[name]}, and ruff refuses it as a Python name "
                      f"({'E742' if what in ('block', 'model') else 'E741'}); {_PYTHON_NAME_OF[what]}",
                      hint=f"rename it with a word it stands for, e.g. `{example}`")


def _python_meaning(name: str) -> str:
    """What a reserved argument name already is in the emitted file."""
    if keyword.issoftkeyword(name):
        return "a Python keyword"
    if name in ARGUMENT_NAMES or name == "super":
        return "a name the emitted method itself uses"
    return "a Python builtin" if hasattr(builtins, name) else "a module model.py imports"


def _expr_diag(err: ExprError, pos: Pos | None, where: str, node: str | None = None) -> Diagnostic:
    return Diagnostic("E203" if err.syntax else "E204", f"{err.message} in {where}", pos, found=err.text or None,
                      hint=err.hint, node=node)
