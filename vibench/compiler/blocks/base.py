"""What a block type is: parameters, ports, a shape rule, code generation and (for native blocks)
its torch implementation, in one file.

A block subclasses :class:`Block`, sets ``name`` and ``Params`` (a pydantic model), and implements:

* ``infer(p, ins, ctx)`` — the torch-free shape rule: input :class:`TensorType` s to output ones.
  It states what it needs through ``ctx`` (ranks, equal dims, constraints, compile-time values) and
  fills in inferred parameters with ``ctx.set`` (``in_channels`` from the input, say);
* ``param_count`` and ``flops`` — static estimates (FLOPs count a multiply-add as 2);
* ``init_code(p)`` — the expression that builds its submodule (None: no submodule), and
  ``call_code(p, args, mod)`` — the expression that computes its output(s) in ``forward``; both
  return code nodes built with :mod:`vibench.compiler.codegen.code` (never source text), so
  parameter values reach model.py only as literals.

A *native* block (logic that is not a graph of torch layers) defines its ``nn.Module`` classes in
its own file on the stand-ins of :mod:`vibench.compiler.blocks.torchless` and lists the class
objects in ``natives``; the emitter copies their source into model.py (:func:`native_source`).
Only that source is copied: a native may read the builtins, ``torch`` and ``nn``, the names of the
block's ``imports`` (``F``, ``math``) and the block's other natives, nothing else of its module.

:func:`contract_problems` and :func:`native_problems` say, in words, where a class breaks this
contract; the registry refuses such a plug-in block (the built-ins meet it, tests/test_plugins_contract.py).
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import keyword
import re
import sys
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple, Protocol

from pydantic import BaseModel

from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import SKIP, Code, non_default  # noqa: F401  (re-exported for blocks)
from vibench.compiler.ir import TensorType
from vibench.compiler.symbolic import Dim, product

FLOAT_DTYPES = frozenset({"float32", "float64", "float16", "bfloat16"})
COMPLEX_DTYPES = frozenset({"complex64", "complex128"})
INT_DTYPES = frozenset({"int64", "int32"})
ALL_DTYPES = FLOAT_DTYPES | COMPLEX_DTYPES | INT_DTYPES | {"bool"}
NUMERIC_DTYPES = FLOAT_DTYPES | COMPLEX_DTYPES | INT_DTYPES

BLOCK_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""A catalogue block's name, as the built-ins' (``conv1d``, ``layer_norm``): what ``block:`` reads as a
catalogue block, apart from a composite (``Encoder``), a library spec (``cnn/ResNet1D``,
``file.yaml#Block``) and a ``${...}`` template."""
IMPORTS = {"F": "F", "math": "math"}  # a block's `imports` -> the name model.py then defines
MODEL_NAMES = frozenset({"torch", "nn"})  # what every model.py imports


class ShapeError(Exception):
    """Raised by a shape rule (through ``ctx.fail``); the shapes pass turns it into a diagnostic."""

    def __init__(self, code: str, message: str, *, port: str | None = None, expected: str | None = None,
                 found: str | None = None, hint: str | None = None, param: str | None = None,
                 notes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.port = port
        self.expected = expected
        self.found = found
        self.hint = hint
        self.param = param
        self.notes = notes


class ShapeContext(Protocol):
    """What a shape rule may ask of the compiler (implemented by the shapes pass)."""

    def fail(self, message: str, *, code: str = "E301", port: str | None = None, expected: str | None = None,
             found: str | None = None, hint: str | None = None, param: str | None = None) -> ShapeError: ...

    def rank(self, port: str, t: TensorType, ranks: int | Sequence[int], layout: str = "") -> None: ...

    def equal(self, found: Dim, expected: Dim, *, port: str | None, what: str, t: TensorType | None = None,
              param: str | None = None, hint: str | None = None) -> None: ...

    def require(self, lhs: Dim, op: str, rhs: Dim, reason: str, *, param: str | None = None) -> None: ...

    def broadcast(self, dims: Sequence[Dim], *, port: str | None, what: str) -> Dim: ...

    def concrete(self, d: Dim, what: str, *, port: str | None = None) -> int: ...

    def set(self, name: str, value: Any) -> None: ...

    def dtype(self, port: str, t: TensorType, allowed: frozenset[str], what: str = "") -> None: ...


class Block:
    """Base class of every block type (see the module docstring)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    variadic: ClassVar[bool] = False  # one port taking any number (>= min_inputs) of tensors
    min_inputs: ClassVar[int] = 1
    optional_inputs: ClassVar[tuple[str, ...]] = ()
    # Ports whose tensor the native reads in any floating dtype (a sampling rate: it computes with it in float32 or
    # wider): a model input that only such ports read may keep its declared dtype in a model cast with .half().
    any_float_inputs: ClassVar[tuple[str, ...]] = ()
    # Ports whose values must be positive and finite (a sampling rate; the native refuses others at run time):
    # vibench.testing draws positive values for a model input that such a port reads.
    positive_inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ("out",)
    category: ClassVar[str] = "misc"
    imports: ClassVar[tuple[str, ...]] = ()  # extra imports the emitted code needs: "F", "math"
    natives: ClassVar[tuple[Any, ...]] = ()  # native classes (defined on torchless stand-ins) copied into model.py
    # What init_code builds: "module", or "parameter" (an nn.Parameter attribute; `repeat` then keeps
    # the copies in an nn.ParameterList instead of an nn.ModuleList).
    init_kind: ClassVar[str] = "module"
    test_ranks: ClassVar[tuple[int, ...]] = (3,)  # input ranks the property tests draw
    # What vibench.testing draws besides test_ranks (plain data: the compiler never imports hypothesis).
    # test_hints: parameter -> value choices; a tuple of parameters -> choices of value tuples, for
    # parameters that must agree (a rearrange pattern and its sizes). Unlisted parameters are drawn
    # from the pydantic field's type and bounds.
    test_hints: ClassVar[dict[str | tuple[str, ...], tuple[Any, ...]]] = {}
    test_dtypes: ClassVar[tuple[str, ...]] = ("float32",)  # input element types the property tests draw
    # Input layouts per port, symbols shared across ports, e.g. (("B N K", "B K M"),) for matmul;
    # empty: every input gets the same shape of a rank from test_ranks.
    test_layouts: ClassVar[tuple[tuple[str, ...], ...]] = ()
    stochastic: ClassVar[bool] = False  # output differs between calls in train mode (dropout)

    @property
    def description(self) -> str:
        doc = self.long_description
        return doc.split("\n", 1)[0] if doc else self.name

    @property
    def long_description(self) -> str:
        """The class docstring, stripped; a character that would act rather than show where it is printed
        (a control, a bidirectional override, a line separator: anything but ``\\n`` and ``\\t`` that is
        not printable) is written as its escape, ``\\u202e``."""
        doc = type(self).__doc__
        return visible_text(doc.strip()) if isinstance(doc, str) else ""

    # -- shape rule ----------------------------------------------------------------------------

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        raise NotImplementedError(f"block {self.name} has no shape rule")  # every subclass overrides

    def param_count(self, p: Any, ins: list[TensorType]) -> int:
        return 0

    def submodule_count(self, p: Any, ins: list[TensorType]) -> int:
        """Submodules the constructor builds one per channel, layer or system (``individual`` layers,
        a stack of ``num_layers``): each counts as a node against the model's node budget (E213), so a
        spec cannot make the constructor build millions of modules however few weights each holds."""
        return 0

    def buffer_count(self, p: Any, ins: list[TensorType]) -> int:
        """Elements of the fixed tables (buffers) the constructor builds from the parameters, such as a
        position table of ``max_len`` rows: counted with the parameters against the model's budget
        (E307), so a spec cannot make the constructor allocate without bound."""
        return 0

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    # -- code generation -----------------------------------------------------------------------

    # The output is a fresh tensor that autograd does not keep (conv, linear, norms, sums...): a
    # later node may overwrite it in place when nothing else reads it.
    fresh_output: ClassVar[bool] = False

    def output_is_fresh(self, out: TensorType) -> bool:
        """``fresh_output`` for this use (a block whose output is a view for some ranks says so here)."""
        return self.fresh_output
    # ``a = a <op> b`` may be written ``a <op>= b`` when ``a`` dies here and is fresh ("+" for add).
    augmented: ClassVar[str | None] = None
    # The in-place form (``inplace_code``) still allocates a tensor of the input's size (dropout's mask
    # in training): a ``del`` just before it frees memory it can use.
    inplace_allocates: ClassVar[bool] = False

    def init_code(self, p: Any) -> Code | None:
        """The expression building this node's submodule (``None``: the node has none)."""
        return None

    def call_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        """The expression computing the output(s); ``mod`` is ``self.<node>``."""
        return c.call(mod, *args)

    def inplace_code(self, p: Any, args: list[Code], mod: Code) -> Code | None:
        """The same computation overwriting ``args[0]`` (which nothing reads afterwards), or None."""
        return None

    def unpack(self, outs: list[Code]) -> Code:
        """The assignment target that receives the outputs of ``call_code``."""
        return outs[0] if len(outs) == 1 else c.tuple_of(*outs)

    def native_classes(self, p: Any) -> tuple[Any, ...]:
        """The native classes these parameters need (default: all of ``natives``), in source order."""
        return self.natives

    def has_module(self, p: Any) -> bool:
        return self.init_code(p) is not None


# --------------------------------------------------------------------------------------------
# helpers shared by block definitions
# --------------------------------------------------------------------------------------------


def visible_text(text: str) -> str:
    """``text`` with every character that is not printable, but line breaks and tabs, escaped as ``repr``
    writes it, so that a terminal or an editor shows it instead of acting on it.

    >>> visible_text("Evil\\u202e doc.\\nSecond\\tline\\x1b[2J")
    'Evil\\\\u202e doc.\\nSecond\\tline\\\\x1b[2J'
    """
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else repr(ch)[1:-1] for ch in text)


def numel(t: TensorType) -> Dim:
    return product(t.shape)


def py(value: Any) -> str:
    """A deterministic Python literal for a parameter value (for messages and reports)."""
    from vibench.compiler.codegen.layout import flat

    return flat(c.const(value))


def call(fn: str, *args: Any, **kwargs: Any) -> str:
    """Legacy text form of a call, for blocks not yet moved to code nodes (see codegen.code.call)."""
    from vibench.compiler.codegen.code import _Default

    parts = [a if isinstance(a, str) else py(a) for a in args]
    parts += [f"{k}={py(v)}" for k, v in kwargs.items() if v is not SKIP and not isinstance(v, _Default)]
    return f"{fn}({', '.join(parts)})"


@functools.cache
def _module_sources(filename: str) -> dict[str, str]:
    """The source of each top-level class and function of a module file, read as Python reads it: in
    the encoding its coding cookie or byte-order mark declares, else UTF-8 (:func:`tokenize.open`).
    OSError for a module without a source file (bytecode only), SyntaxError or ValueError (a
    UnicodeDecodeError) for a file that is not the source Python imported."""
    import importlib.machinery
    import tokenize

    if not filename.endswith(tuple(importlib.machinery.SOURCE_SUFFIXES)):
        raise OSError(f"{filename} is not a Python source file (a module shipped as bytecode only has none)")
    with tokenize.open(filename) as fh:
        text = fh.read()
    out: dict[str, str] = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            segment = ast.get_source_segment(text, node)
            assert segment is not None
            decorators = "".join(f"@{ast.get_source_segment(text, d)}\n" for d in node.decorator_list)
            out[node.name] = decorators + segment
    return out


def native_source(cls: Any) -> str:
    """The source text of a native class (or function) of a block file, as model.py receives it."""
    if isinstance(cls, str):  # transition: a native still in vibench/runtime/natives
        import os

        folder = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "runtime", "natives")
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                found = _module_sources(os.path.join(folder, name)).get(cls)
                if found is not None:
                    return found
        raise RuntimeError(f"native `{cls}` not found (this is a bug)")
    module = sys.modules[cls.__module__]
    filename = getattr(module, "__file__", None)
    sources = _module_sources(filename) if filename else {}
    if cls.__name__ not in sources:
        raise RuntimeError(f"native `{cls.__name__}` not found in {filename} (this is a bug)")
    return sources[cls.__name__]


# --------------------------------------------------------------------------------------------
# the contract, checked (plug-in blocks are refused when they break it)
# --------------------------------------------------------------------------------------------


class Problem(NamedTuple):
    """Where a block breaks the contract, and how to fix it."""

    text: str
    hint: str


FIX = "fix the block (docs/extending.md says what a block defines), or uninstall its distribution"


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
    whose source can be copied."""
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
        problems += _param_problems(params)
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
        problems.append(Problem(f"its `imports` {unknown!r} are not among {sorted(IMPORTS)}",
                                "import what the native needs inside its methods, or use torch"))
    if cls.init_kind not in ("module", "parameter"):
        problems.append(Problem(f"its `init_kind` {cls.init_kind!r} is not \"module\" or \"parameter\"", FIX))
    if not isinstance(cls.natives, tuple):
        problems.append(Problem("its `natives` is not a tuple", FIX))
    else:
        problems += [Problem(f"its native {n!r} {why}", "define the native at the top level of the block's module")
                     for n in cls.natives if (why := _not_copyable(n))]
    return problems


def _param_problems(params: type) -> list[Problem]:
    from vibench.schemas.document import NODE_KEYS

    problems = []
    for field, info in params.model_fields.items():  # type: ignore[attr-defined]
        key = info.alias or field
        if not c.is_identifier(key):  # model.py passes it as a keyword argument: an ASCII identifier
            problems.append(Problem(f"parameter {key!r} is not a Python identifier of ASCII letters, digits and `_`",
                                    "rename the parameter"))
        elif key == "self":
            problems.append(Problem("parameter `self` cannot be a block parameter (it is the module in model.py)",
                                    "rename the parameter"))
        elif key in NODE_KEYS:
            problems.append(Problem(f"parameter `{key}` has the name of a node key (`{'`, `'.join(NODE_KEYS)}` are "
                                    "the node's own: the node's would shadow it)", "rename the parameter"))
        else:
            problems += _type_problems(key, info.annotation)
    return problems


SPEC_VALUES = "a spec gives None, bool, int, float, str, and lists and mappings of them"


def _type_problem(annotation: Any) -> Any:
    """The part of a parameter's type that no spec value can be (``None``: a spec can give each part).
    A spec holds plain data (:data:`SPEC_VALUES`) and the parameter models are strict: an Enum, a
    class of the plug-in's own or a set can never be set from a spec."""
    import collections.abc
    import types
    import typing

    if annotation is Any or annotation in (bool, int, float, str, type(None), list, tuple, dict):
        return None
    if getattr(annotation, "__supertype__", None) is not None:  # typing.NewType("Width", int)
        return _type_problem(annotation.__supertype__)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_problem(args[0])
    if origin is typing.Literal:
        return None if all(type(a) in (bool, int, float, str, type(None)) for a in args) else annotation
    if origin in (typing.Union, types.UnionType, list, tuple, dict, collections.abc.Sequence,
                  collections.abc.Mapping):
        return next((found for a in args if a is not Ellipsis and (found := _type_problem(a)) is not None), None)
    return annotation


def _type_problems(key: str, annotation: Any) -> list[Problem]:
    import enum

    found = _type_problem(annotation)
    if found is None:
        return []
    name = found.__name__ if isinstance(found, type) else repr(found)
    hint = "declare it as one of those types"
    if isinstance(found, type) and issubclass(found, enum.Enum):
        values = ", ".join(repr(m.value) for m in list(found)[:8])
        hint = f"declare a choice as a Literal of its values (Literal[{values}]), as the built-in blocks do"
    return [Problem(f"parameter `{key}` has the type {name}, which no spec value is ({SPEC_VALUES})", hint)]


TEST_FIX = ("fix the block's `test_*` attributes (what vibench.testing draws the block's cases from: see the "
            "Block class of vibench/compiler/blocks/base.py)")
_LAYOUT = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*)(?: +(?:[A-Za-z_][A-Za-z0-9_]*|[1-9][0-9]*))*")


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for a message, cut at ``limit`` characters (``repr`` escapes what does not print)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    names = set(fields or ()) | {info.alias for info in (fields or {}).values() if isinstance(info.alias, str)}
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


def _not_copyable(native: Any) -> str | None:
    """Why ``native``'s source cannot be copied into model.py (None: it can)."""
    if isinstance(native, str):
        return None  # a built-in native by name (vibench/runtime/natives)
    if not (isinstance(native, type) or inspect.isfunction(native)):
        return "is not a class or a function"
    if native.__qualname__ != native.__name__:
        return "is not defined at the top level of its module"
    import importlib.machinery

    filename = getattr(sys.modules.get(native.__module__), "__file__", None)
    if not isinstance(filename, str):
        return f"has no source file vibench can read: its module {native.__module__} has no file"
    if not filename.endswith(tuple(importlib.machinery.SOURCE_SUFFIXES)):
        return f"has no source file vibench can read: its module is bytecode only ({filename})"
    try:
        sources = _module_sources(filename)
    except (OSError, SyntaxError, ValueError) as err:  # ValueError: a UnicodeDecodeError, a null byte
        return f"has no source file vibench can read ({type(err).__name__}: {_one_line(str(err))})"
    if native.__name__ not in sources:
        return f"is not a top-level class or function of {filename}, where vibench reads its source"
    return None


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
        for name in sorted(free_names(native_source(native)) - defined):
            hint = "define it inside the class, or as a class attribute"
            if name in IMPORTS:
                hint = f'list "{name}" in the block\'s `imports`'
            problems.append(Problem(f"its native `{native.__name__}` reads the module-level name `{name}`, which "
                                    "model.py does not define", hint))
    return problems


def free_names(source: str) -> set[str]:
    """The global names that the top-level definitions in ``source`` read but do not define (builtins
    included), annotations counted: model.py evaluates them.

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
        read |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
        tables += table.get_children()
    return read - defined


def norm_axis(ctx: ShapeContext, axis: int, rank: int, param: str = "dim") -> int:
    """Normalise a possibly negative axis against a rank (error when out of range)."""
    if not -rank <= axis < rank:
        raise ctx.fail(f"`{param}` {axis} is out of range for a rank-{rank} input", code="E301", param=param,
                       expected=f"{param} in [{-rank}, {rank - 1}]" if rank else "an input with an axis (a rank-0 "
                       "input has none)", found=str(axis))
    return axis % rank
