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

:mod:`vibench.compiler.blocks.contract` says, in words, where a class breaks this contract; the
registry refuses such a plug-in block (the built-ins meet it, tests/test_plugins_contract.py).
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Iterable, Sequence
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


def model_float_dtype(input_dtypes: Iterable[str]) -> str:
    """The dtype of a model's float weights and buffers at run time, from the dtypes of its inputs: the one
    floating dtype they share, which model.py casts the module to (``self.to(torch.float64)``), else float32
    (no float input, or several: the module is not cast).

    >>> model_float_dtype(["float64", "int64"]), model_float_dtype(["int64"]), model_float_dtype(["float16", "float32"])
    ('float64', 'float32', 'float32')
    """
    floats = {d for d in input_dtypes if d in FLOAT_DTYPES}
    return floats.pop() if len(floats) == 1 else "float32"

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

    # The dtype of the model's float weights and buffers at run time (:func:`model_float_dtype`): the dtype of
    # an output made from them rather than from a float input (an embedding's rows, a position table).
    float_dtype: str


class Block:
    """Base class of every block type (see the module docstring)."""

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    inputs: ClassVar[tuple[str, ...]] = ("x",)
    variadic: ClassVar[bool] = False  # one port taking any number (>= min_inputs) of tensors
    # Float parameters that may be infinite (a pad value of -inf before a max, a clamp bound); every other
    # float must be finite (E104), and NaN never passes.
    infinite_ok: ClassVar[frozenset[str]] = frozenset()
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

    def internal_tensors(self, p: Any, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        """Tensors its forward builds besides its outputs whose size its parameters set, as (what, type) pairs:
        ``("the input padded on the left by 8 steps", TensorType((B, C, L + 8), dtype))``. The activation
        limit (E309) counts them as it counts outputs, so a padding the block adds inside cannot exhaust
        memory where the same padding as a node of its own is refused. Default: none. Read for vibench's own
        blocks only (a plug-in's return value would go unchecked)."""
        return ()

    def flops(self, p: Any, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def unread_params(self, p: Any) -> dict[str, str]:
        """The parameters that have no effect given the others in ``p`` -> when they have one (`"at `mode:
        prob_sparse`"`): a value a spec sets that reaches only them is W104 (dead_keys.py). Default: none. Read for
        vibench's own blocks only (a plug-in's answer would reach the warning's text unchecked)."""
        return {}

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


class Definition(NamedTuple):
    """A top-level class or function of a module file: its source as model.py receives it, and its lines."""

    source: str
    first: int  # the line of its first decorator, else of its `class` or `def`
    last: int


@functools.cache
def module_definitions(filename: str) -> dict[str, Definition]:
    """Each top-level class and function of a module file by name (the last of a name defined twice, as
    Python binds it), read as Python reads it: in the encoding its coding cookie or byte-order mark
    declares, else UTF-8 (:func:`tokenize.open`). OSError for a module without a source file (bytecode
    only), SyntaxError or ValueError (a UnicodeDecodeError) for a file that is not the source Python
    imported."""
    import importlib.machinery
    import tokenize

    if not filename.endswith(tuple(importlib.machinery.SOURCE_SUFFIXES)):
        raise OSError(f"{filename} is not a Python source file (a module shipped as bytecode only has none)")
    with tokenize.open(filename) as fh:
        text = fh.read()
    out: dict[str, Definition] = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            segment = ast.get_source_segment(text, node)
            assert segment is not None
            decorators = "".join(f"@{ast.get_source_segment(text, d)}\n" for d in node.decorator_list)
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            out[node.name] = Definition(decorators + segment, first, node.end_lineno or node.lineno)
    return out


@functools.cache
def _module_sources(filename: str) -> dict[str, str]:
    """The source of each top-level class and function of a module file (:func:`module_definitions`)."""
    return {name: definition.source for name, definition in module_definitions(filename).items()}


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


def norm_axis(ctx: ShapeContext, axis: int, rank: int, param: str = "dim") -> int:
    """Normalise a possibly negative axis against a rank (error when out of range)."""
    if not -rank <= axis < rank:
        raise ctx.fail(f"`{param}` {axis} is out of range for a rank-{rank} input", code="E301", param=param,
                       expected=f"{param} in [{-rank}, {rank - 1}]" if rank else "an input with an axis (a rank-0 "
                       "input has none)", found=str(axis))
    return axis % rank
