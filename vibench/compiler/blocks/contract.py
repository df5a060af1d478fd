"""The contract a block class keeps, checked: a plug-in block that breaks it is refused (W121) with the
reason and how to fix it; vibench's own blocks meet it (tests/test_plugins_contract.py). What a block
defines is in :mod:`vibench.compiler.blocks.base`; :func:`contract_problems` checks the class and its
parameters (their defaults and bounds included), ports, test attributes and category, :func:`native_problems`
the natives it copies into model.py (top-level, with readable source, reading only what model.py defines, and
able to be written in an order where each is defined before it is read: :mod:`~vibench.compiler.blocks.native_order`).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import keyword
import re
import sys
import types
from typing import Any

from vibench.compiler.blocks.base import (
    ALL_DTYPES,
    BLOCK_NAME,
    IMPORTS,
    MODEL_NAMES,
    Block,
    module_definitions,
    native_source,
)
from vibench.compiler.blocks.contract_params import Problem, _shown, param_problems
from vibench.compiler.blocks.native_order import (
    MAX_NATIVES,
    definition_order,
    definition_reads,
    native_name,
    needs_of,
    run_reading,
)
from vibench.compiler.codegen import code as c

FIX = "fix the block (docs/extending.md says what a block defines), or uninstall its distribution"


IMPORTS_HINT = ("model.py needs only torch: compute it with torch (or math, listed in the block's `imports`) "
                "and drop the import")
"""The hint for a native that would make model.py import another module (an unknown `imports` entry, a module
read at module level, an import inside the native's methods)."""

def is_block_name(name: object) -> bool:
    """Whether ``name`` may name a catalogue block (:data:`BLOCK_NAME`, not a Python keyword).

    >>> is_block_name("haar_dwt"), is_block_name("cnn/ResNet1D"), is_block_name("class")
    (True, False, False)
    """
    return isinstance(name, str) and BLOCK_NAME.fullmatch(name) is not None and not keyword.iskeyword(name)


def shown_name(name: str) -> str:
    """A block name for a message: ```relu``` when it is a name, its ``repr`` when it is not."""
    return f"`{name}`" if BLOCK_NAME.fullmatch(name) else repr(name)


def contract_problems(cls: Any) -> list[Problem]:
    """What ``cls`` lacks to be a block (empty: nothing). Imports nothing and builds nothing: a Block
    subclass with a :data:`BLOCK_NAME`, a ``Params`` subclass of BlockParams whose parameters a node can
    hold (ASCII identifiers, not ``self``, not a node key such as ``repeat`` or ``doc``, of types a spec
    can give: not an Enum), a shape rule, ports that are identifiers, a one-line printable ``category``,
    test attributes of the kinds :mod:`vibench.testing` reads, ``imports`` model.py knows and natives
    whose source can be copied: classes and functions themselves (not their names), named with ASCII
    identifiers, each the object the top-level definition of its name in its module file makes."""
    from vibench.schemas.blocks import BlockParams

    if not (isinstance(cls, type) and issubclass(cls, Block)):
        return [Problem(f"{cls!r} is not a Block subclass", FIX)]
    problems: list[Problem] = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str):
        problems.append(Problem("it defines no `name` (a string)", FIX))
    elif keyword.iskeyword(name):
        problems.append(Problem(f"`{name}` is a Python keyword", "rename the block"))
    elif not is_block_name(name):
        problems.append(Problem(f"{shown_name(name)} is not a block name: lowercase ASCII letters, digits and `_`, "
                                "starting with a letter, at most 64 characters (as `conv1d`, `layer_norm`)",
                                "rename the block"))
    params = getattr(cls, "Params", None)
    fields: dict[str, Any] | None = None
    if not (isinstance(params, type) and issubclass(params, BlockParams)):
        problems.append(Problem("it defines no `Params` (a subclass of vibench.schemas.blocks.BlockParams)", FIX))
    else:
        problems += param_problems(params)
        fields = dict(params.model_fields)
    if getattr(cls, "infer", None) is Block.infer:
        problems.append(Problem("it defines no shape rule (`infer`)", FIX))
    problems += _port_problems(cls)
    category = cls.category
    if not (isinstance(category, str) and 0 < len(category) <= 40 and category.isprintable()
            and category.strip() == category):
        problems.append(Problem(f"its `category` {_shown(category)} is not a name of 1 to 40 printable characters on "
                                "one line (as \"spectral\")", "name the category in plain words"))
    problems += _test_problems(cls, fields)
    unknown = [i for i in cls.imports if i not in IMPORTS] if isinstance(cls.imports, tuple) else [cls.imports]
    if unknown:
        problems.append(Problem(f"its `imports` {unknown!r} are not among {sorted(IMPORTS)}", IMPORTS_HINT))
    if cls.init_kind not in ("module", "parameter"):
        problems.append(Problem(f"its `init_kind` {cls.init_kind!r} is not \"module\" or \"parameter\"", FIX))
    if not isinstance(cls.natives, tuple):
        problems.append(Problem("its `natives` is not a tuple", FIX))
    elif len(cls.natives) > MAX_NATIVES:  # (before anything reads their source: see MAX_NATIVES)
        problems.append(Problem(f"it brings {len(cls.natives):,} natives, more than the {MAX_NATIVES:,} a block may "
                                "bring", "bring fewer natives (one class can take what tells the others apart as "
                                "its arguments)"))
    else:
        own = str(getattr(cls, "__module__", "")).split(".")[0] == "vibench"
        problems += [problem for n in cls.natives if (problem := _native_problem(n, own)) is not None]
    return problems


TEST_FIX = ("fix the block's `test_*` attributes (what vibench.testing draws the block's cases from: see the "
            "Block class of vibench/compiler/blocks/base.py)")
_LAYOUT = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*)(?: +(?:[A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*))*")


def _test_problems(cls: type[Block], fields: dict[str, Any] | None) -> list[Problem]:
    """Where the test attributes (``test_ranks``, ``test_dtypes``, ``test_layouts``, ``test_hints``) are not
    of the kind :mod:`vibench.testing` reads; ``fields``: the parameters (None: no valid ``Params``)."""
    problems = []
    ranks, dtypes = cls.test_ranks, cls.test_dtypes
    if not (isinstance(ranks, tuple) and ranks and all(type(r) is int and 1 <= r <= 8 for r in ranks)):
        problems.append(Problem(f"its `test_ranks` {_shown(ranks)} is not a non-empty tuple of ranks from 1 to 8, "
                                "as (2, 3)", TEST_FIX))
    if not (isinstance(dtypes, tuple) and dtypes and all(isinstance(d, str) and d in ALL_DTYPES for d in dtypes)):
        problems.append(Problem(f"its `test_dtypes` {_shown(dtypes)} is not a non-empty tuple of dtype names, as "
                                f"(\"float32\",) ({', '.join(sorted(ALL_DTYPES))})", TEST_FIX))
    problems += _layout_problems(cls)
    hints = cls.test_hints
    if not isinstance(hints, dict):
        return problems + [Problem(f"its `test_hints` {_shown(hints)} is not a dict of parameter -> choices", TEST_FIX)]
    names = set(fields or ())  # (by their names: a parameter with an alias is refused, contract_params)
    for key, choices in hints.items():
        keys = key if isinstance(key, tuple) else (key,)
        if not keys or not all(isinstance(k, str) for k in keys):
            problems.append(Problem(f"its `test_hints` key {_shown(key)} is not a parameter name or a tuple of them",
                                    TEST_FIX))
        elif fields is not None and any(k not in names for k in keys):
            unknown = next(k for k in keys if k not in names)
            problems.append(Problem(f"its `test_hints` name {unknown!r}, which is not a parameter of its `Params`",
                                    TEST_FIX))
        elif not isinstance(choices, (tuple, list)) or not choices:
            problems.append(Problem(f"its `test_hints` for {key!r} is {_shown(choices)}, not a non-empty tuple of "
                                    "choices", TEST_FIX))
        elif isinstance(key, tuple) and not all(isinstance(v, (tuple, list)) and len(v) == len(key) for v in choices):
            problems.append(Problem(f"its `test_hints` for {key!r} has a choice that is not a tuple of {len(key)} "
                                    "values, one per parameter", TEST_FIX))
    return problems


def _layout_problems(cls: type[Block]) -> list[Problem]:
    layouts = cls.test_layouts
    if not (isinstance(layouts, tuple) and all(isinstance(alt, tuple) and alt and all(
            isinstance(text, str) and _LAYOUT.fullmatch(text) for text in alt) for alt in layouts)):
        return [Problem(f"its `test_layouts` {_shown(layouts)} is not a tuple of alternatives, each a tuple of one "
                        "layout per input port (symbols and sizes, as (\"B N K\", \"B K M\"))", TEST_FIX)]
    inputs, optional = cls.inputs, cls.optional_inputs
    if cls.variadic or not (isinstance(inputs, tuple) and isinstance(optional, tuple)):
        return []
    low, high = len(inputs) - len(optional), len(inputs)
    wrong = next((alt for alt in layouts if not low <= len(alt) <= high), None)
    if wrong is None:
        return []
    ports = f"{low}" if low == high else f"{low} to {high}"
    return [Problem(f"its `test_layouts` alternative {_shown(wrong)} has {len(wrong)} layouts for {ports} input "
                    "ports", TEST_FIX)]


def _port_problems(cls: type[Block]) -> list[Problem]:
    problems = []
    for attr in ("inputs", "outputs", "optional_inputs", "any_float_inputs", "positive_inputs"):
        ports = getattr(cls, attr)
        if not isinstance(ports, tuple) or not all(isinstance(p, str) and p.isidentifier() for p in ports) \
                or len(set(ports)) != len(ports):
            problems.append(Problem(f"its `{attr}` {ports!r} is not a tuple of distinct identifiers", FIX))
    return problems


TOP_LEVEL = "define the native at the top level of the block's module"


def _native_problem(native: Any, builtin: bool) -> Problem | None:
    """Why ``native``'s source cannot be copied into model.py (None: it can); ``builtin``: the block is
    vibench's own, which may still name a native of vibench/runtime/natives by a string."""
    if isinstance(native, str):
        if builtin:
            return None
        shown = native if c.is_identifier(native) else "Name"
        return Problem(f"its native {_shown(native)} is a string: `natives` holds the native classes and functions "
                       "themselves, whose source vibench copies", f"list the class or function itself, as "
                       f"`natives = ({shown},)`")
    if not (isinstance(native, type) or inspect.isfunction(native)):
        return Problem(f"its native {native!r} is not a class or a function", TOP_LEVEL)
    if native.__qualname__ != native.__name__:
        return Problem(f"its native {native!r} is not defined at the top level of its module", TOP_LEVEL)
    if not c.is_identifier(native.__name__):  # (model.py's code names it, as `Größe(...)`: an ASCII identifier)
        return Problem(f"its native {_shown(native.__name__)} has a name model.py cannot write: not an identifier of "
                       "ASCII letters, digits and `_`", "rename the native with ASCII letters, digits and `_`")
    why = _not_copyable(native)
    if why is not None:
        return Problem(f"its native {native!r} {why}", TOP_LEVEL)
    why = _not_the_definition(native)
    return None if why is None else Problem(f"its native {native!r} {why}", "define each native once, at the top "
                                            "level of the block's module (not again under an `if` or a `try`, nor "
                                            "its name bound again to another object)")


def _not_copyable(native: Any) -> str | None:
    """Why the source of ``native`` (a top-level class or function) cannot be copied into model.py (None: it can)."""
    import importlib.machinery

    filename = getattr(sys.modules.get(native.__module__), "__file__", None)
    if not isinstance(filename, str):
        return f"has no source file vibench can read: its module {native.__module__} has no file"
    if not filename.endswith(tuple(importlib.machinery.SOURCE_SUFFIXES)):
        return f"has no source file vibench can read: its module is bytecode only ({filename})"
    try:
        definitions = module_definitions(filename)
    except (OSError, SyntaxError, ValueError) as err:  # ValueError: a UnicodeDecodeError, a null byte
        return f"has no source file vibench can read ({type(err).__name__}: {_one_line(str(err))})"
    if native.__name__ not in definitions:
        return f"is not a top-level class or function of {filename}, where vibench reads its source"
    return None


def _not_the_definition(native: Any) -> str | None:
    """Why ``native`` (one :func:`_not_copyable` accepts) is not the object that the top-level definition of its
    name in its module file makes (None: it is). model.py copies that definition's source, found by name: a class
    or function defined again under an `if` (or the name bound again to another one) would put other code in
    model.py than the block registered. A function's code, or a class's own methods', lies within the definition's
    lines; one whose code is not in that file (methods a decorator made) is told apart only by its name being bound
    once at the module's top level."""
    import os

    filename = str(sys.modules[native.__module__].__file__)
    name = native.__name__
    definition = module_definitions(filename)[name]
    first, last = definition.first, definition.last
    where = f"{filename}:{first}"
    here = [line for file, line in _code_places(native) if os.path.realpath(file) == os.path.realpath(filename)]
    if here:
        if any(first <= line <= last for line in here):
            return None
        what = "its methods are" if isinstance(native, type) else "it is"
        return (f"is not the top-level definition of `{name}` at {where}, whose source model.py would copy: {what} "
                f"defined at line {min(here)} (`{name}` is defined twice: model.py would hold other code than the "
                f"block registered)")
    again = [line for line in _top_level_bindings(filename, name) if not first <= line <= last]
    if not again:
        return None
    lines = ", ".join(map(str, again[:3]))
    return (f"may not be the top-level definition of `{name}` at {where}, whose source model.py would copy: the "
            f"module binds `{name}` again (line {lines}), and it has no code of its own there to tell them apart")


def _code_places(native: Any) -> list[tuple[str, int]]:
    """(file, first line) of a native function's code, or of the methods a native class defines in its own body
    (decorators undone: a staticmethod's, a property's, a ``functools.wraps`` wrapper's)."""
    if not isinstance(native, type):
        functions = [native]
    else:
        functions = []
        for value in vars(native).values():
            if isinstance(value, staticmethod | classmethod):
                value = value.__func__
            parts = (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,)
            functions += [p for p in parts if inspect.isfunction(p)]
    places = []
    for function in functions:
        function = inspect.unwrap(function)
        code = getattr(function, "__code__", None)
        if isinstance(native, type) and not str(function.__qualname__).startswith(native.__qualname__ + "."):
            continue  # (`forward = _shared`: a function defined elsewhere, which native_problems names)
        if code is not None:
            places.append((str(code.co_filename), int(code.co_firstlineno)))
    return places


def _top_level_bindings(filename: str, name: str) -> list[int]:
    """The lines where the top level of the module file binds ``name``: a class or function definition, an
    assignment, an import, a ``for``, ``with`` or ``except`` target, inside an ``if`` or ``try`` too (not inside
    a function, a class body, a lambda or a comprehension, which have scopes of their own)."""
    import tokenize

    with tokenize.open(filename) as fh:
        tree = ast.parse(fh.read(), filename)
    lines: list[int] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            lines += [node.lineno] if node.name == name else []
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        bound = None
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound = node.id
        elif isinstance(node, ast.alias):
            bound = node.asname or node.name.split(".")[0]
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            bound = node.name
        if bound == name:
            lines.append(getattr(node, "lineno", 0))
        stack += ast.iter_child_nodes(node)
    return sorted(lines)


def _one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line, cut at ``limit`` characters (for a reason inside a warning)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def native_problems(cls: type[Block]) -> list[Problem]:
    """The module-level names ``cls``'s natives read that model.py does not define (see the module
    docstring). Parses the natives' source; call it on a block that meets :func:`contract_problems`."""
    defined = frozenset(dir(builtins)) | MODEL_NAMES | {IMPORTS[i] for i in cls.imports}
    defined |= {n if isinstance(n, str) else n.__name__ for n in cls.natives}
    problems = []
    for native in cls.natives:
        if isinstance(native, str):
            continue
        source = native_source(native)
        shared = {g for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Global) for g in node.names}
        for name in sorted(free_names(source) - defined):
            hint, what = "define it inside the class, or as a class attribute", ""
            held = getattr(sys.modules.get(str(getattr(cls, "__module__", ""))), name, None)
            reads = f"reads the module-level name `{name}`"
            if name in shared:  # model.py's copy would share no state with the plug-in's module, or fail to read it
                hint = "keep the state on the instance (`self.count`) or in a class attribute, not in a `global`"
                reads = f"keeps state in the module-level name `{name}` (`global {name}`)"
            elif name in IMPORTS:
                hint = f'list "{name}" in the block\'s `imports`'
            elif isinstance(held, types.ModuleType):  # `import numpy as np` beside it: model.py would need numpy
                hint, what = IMPORTS_HINT, f" (the module `{held.__name__}`)"
            problems.append(Problem(f"its native `{native.__name__}` {reads}, which model.py does not define{what}",
                                    hint))
    return problems + _order_problems(cls)


def _order_problems(cls: type[Block]) -> list[Problem]:
    """Natives that need themselves or each other while model.py defines them (``class A(B)`` and ``kind = A``
    in ``B``; ``w = make()`` in ``B`` and ``B.size`` in ``make``): no order of model.py defines each before it
    is read (:mod:`~vibench.compiler.blocks.native_order`)."""
    needs = needs_of(tuple(cls.natives))
    problems = []
    for native in cls.natives:
        name = native_name(native)
        if isinstance(native, str) or name not in needs[name]:
            continue
        through = None if name in definition_reads(native_source(native)) else run_reading(tuple(cls.natives), name)
        if through is None:  # `-> Tag` in class Tag: a NameError
            problems.append(Problem(
                f"its native `{name}` reads its own name while model.py defines it (in an annotation, a default "
                "value, a decorator or a class attribute, which model.py evaluates then: it has no `from "
                f"__future__ import annotations`)", f'quote the annotation (`-> "{name}"`), or use `type(self)` '
                "inside the methods"))
        else:
            problems.append(Problem(
                f"its native `{name}` runs `{through}` while model.py defines it, and `{through}` reads `{name}`, "
                "which does not exist yet then", f"read `{name}` inside a method, or pass what `{through}` needs "
                "to it"))
    _, cycle = definition_order(list(needs), needs)
    if cycle and not problems:
        listed = ", ".join(f"`{n}`" for n in cycle[:-1]) + f" and `{cycle[-1]}`"
        problems.append(Problem(f"its natives {listed} read each other while model.py defines them (a base class, a "
                                "class attribute, a default value, an annotation, or a function one calls), so "
                                "model.py can define none of them first", "quote the annotation that reads the "
                                "other native, or read it inside a method"))
    return problems


def free_names(source: str) -> set[str]:
    """The global names that the top-level definitions in ``source`` read but do not define (builtins
    included), annotations counted: model.py evaluates them. A name a function declares ``global`` counts
    whether it reads it or only assigns it (``global T; T += 1``, which symtable does not mark as read): the
    native then depends on a module-level name all the same.

    >>> sorted(free_names("class A(nn.Module):\\n    def f(self):\\n        return SCALE * len(A.x)"))
    ['SCALE', 'len', 'nn']
    """
    import symtable

    top = symtable.symtable(source, "<native>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    read: set[str] = set()
    tables = [top]
    while tables:
        table = tables.pop()
        read |= {s.get_name() for s in table.get_symbols()
                 if (s.is_referenced() and s.is_global()) or s.is_declared_global()}
        tables += table.get_children()
    return read - defined
