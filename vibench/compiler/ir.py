"""The intermediate representation every pass reads and returns.

Two layers, both frozen dataclasses:

*Definitions* (what ``resolve`` produces and ``graph`` checks): a :class:`UnitDef` is the body of a
model or of a composite block as written — nodes, edges by name, parameter values that may still
hold ``${...}`` templates (:class:`Template`). Composite bodies are generic in their parameters.

*Specialisations* (what ``shapes`` produces and ``emit`` consumes): a :class:`Unit` is a UnitDef with
every parameter concrete, every ``${...}`` evaluated, every tensor typed with a symbolic shape, and
every node annotated with its parameter count and FLOP estimate. Each distinct (composite,
parameters, compile-time dimensions) specialisation is one Unit and becomes one class in model.py.
A :class:`Program` is the root Unit plus all Units it uses, children first, and where it came from
(:mod:`vibench.compiler.program_source`'s records, re-exported here).

Invariants (checked by :func:`~vibench.compiler.ir_verify.verify` in the tests after each pass): node
names are unique within a unit and never shadow an input; every :class:`ValueRef` names an input or an
earlier node; the nodes of a Unit are in topological order with ties broken by spec order.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeAlias

from vibench.compiler.fast_init import fast_init
from vibench.compiler.program_source import CompileRequest as CompileRequest  # re-exported: callers import them here
from vibench.compiler.program_source import SourceInfo as SourceInfo
from vibench.compiler.symbolic import Dim, fmt_shape

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vibench.compiler.diagnostics import Diagnostic
    from vibench.compiler.setting_places import Places
    from vibench.schemas.document import ReferenceSpec

Scalar: TypeAlias = "None | bool | int | float | str"
SpecValue: TypeAlias = "Scalar | Template | list[SpecValue] | tuple[SpecValue, ...] | dict[str, SpecValue]"
"""A value as a spec writes it: plain YAML data, where any string may be a ``${...}`` :class:`Template`
(also inside lists and mappings)."""
Flag: TypeAlias = "bool | Template | None"  # `when:`: a constant, or a template giving one
DimSpec: TypeAlias = "int | str | Template"  # a declared dimension: a size, a symbol name or a template


@fast_init
@dataclass(frozen=True, slots=True)
class Pos:
    """A source position: file as the user named it, 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# --------------------------------------------------------------------------------------------
# Definitions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Template:
    """A string value that contains ``${...}``. ``parts`` alternates literal text and parsed
    expressions (``ast.expr`` nodes, evaluated only by :mod:`vibench.compiler.expr`). A template
    that is exactly one ``${...}`` evaluates to the expression's value, any other to a string."""

    text: str
    parts: tuple[str | ast.expr, ...]  # literal text and parsed expressions, alternating
    pos: Pos | None

    @property
    def whole(self) -> bool:
        return len(self.parts) == 1 and not isinstance(self.parts[0], str)

    @property
    def expr(self) -> ast.expr:
        """The expression of a template that is exactly one ``${...}`` (``whole``)."""
        part = self.parts[0]
        assert not isinstance(part, str), "not a whole template"
        return part

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


@dataclass(frozen=True)
class ParamDecl:
    """A declared template or composite parameter."""

    name: str
    type: str
    default: SpecValue = None
    required: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[SpecValue, ...] | None = None
    doc: str | None = None
    pos: Pos | None = None
    slot: str | None = None  # a spec folder whose specs the value names (a typed slot)
    scope: tuple[str, ...] = ()  # slot-scoped: the components that declare it (see compiler/scoped.py)
    given: bool = False  # set by `with:` of a spec that extends the template (null included: see elaborate.py)
    places: Places | None = field(default=None, compare=False)  # where `with:` wrote each entry (setting_places.py)


@dataclass(frozen=True)
class InputDecl:
    """A declared tensor input: dims are ints, symbol names or templates."""

    name: str
    shape: tuple[DimSpec, ...] | Template  # the dims, or one Template giving the list
    dtype: str = "float32"
    doc: str | None = None
    pos: Pos | None = None
    when: Flag = None
    optional: bool = False  # taken only when some node reads it
    layout: str | Template | None = None  # "BLC"/"BCL" or a Template giving one: `shape` is written channels-last
    # Where each of `shape`'s dims is written, in order (empty for one Template giving the list): an error about a
    # dimension, a name whose value is no size, stands there rather than at the input's key.
    dim_pos: tuple[Pos | None, ...] = ()

    def dim_at(self, dim: str) -> Pos | None:
        """Where the dimension ``dim`` (a name written in `shape`) is first written; None when it is not."""
        if isinstance(self.shape, Template) or dim not in self.shape or len(self.dim_pos) != len(self.shape):
            return None
        return self.dim_pos[self.shape.index(dim)]


@fast_init
@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to a value by name: ``node`` or ``node.port`` (``port`` None for the default)."""

    node: str
    port: str | None
    pos: Pos | None = None

    def __str__(self) -> str:
        return self.node if self.port is None else f"{self.node}.{self.port}"


@fast_init
@dataclass(frozen=True, slots=True)
class NodeDef:
    """One node as written. ``inputs`` pairs a target port (None: positional) with a reference."""

    name: str
    index: int
    block: str | Template
    inputs: tuple[tuple[str | None, Ref], ...]
    params: tuple[tuple[str, SpecValue, Pos | None], ...]
    repeat: int | Template | None = None
    when: Flag = None
    doc: str | None = None
    pos: Pos | None = None
    block_pos: Pos | None = None
    inherit: bool = False
    for_each: SpecValue = None  # a list or mapping, a Template giving one, or None
    with_: SpecValue = None  # a mapping or a Template giving one: more parameters for the block
    with_pos: Pos | None = None
    with_keys: tuple[tuple[str, Pos | None], ...] = ()  # where a `with:` written as a mapping sets each key
    checkpoint: Flag = False  # activation checkpointing in the emitted forward (a bool once elaborated)
    adapter: str | None = None  # "as: BCL" for the transpose an input's or output's `as:` adds (adapters.py)


@dataclass(frozen=True)
class OutputDef:
    name: str
    ref: Ref
    pos: Pos | None = None
    when: Flag = None
    doc: str | None = None
    shape: tuple[DimSpec, ...] | None = None  # the promised shape: ints, symbol or parameter names, Templates
    shape_pos: Pos | None = None
    layout: str | Template | None = None  # "BLC"/"BCL" or a Template giving one: `shape` is written channels-last


@dataclass(frozen=True)
class LetDef:
    """A `let:` entry: a value derived from the parameters (may hold templates), read like one."""

    name: str
    value: SpecValue
    pos: Pos | None = None


@dataclass(frozen=True)
class CheckDef:
    """A `checks:` entry: ``that`` must hold; else E215 with ``message`` at the user's setting of ``at``."""

    that: bool | Template
    message: str | Template  # interpolated
    at: str | None = None
    pos: Pos | None = None
    severity: str = "error"  # error (E215), warning (W106) or note (I104)
    owner: str | None = None  # the template that wrote it, for a spec that `extends:` it (None: the unit's own)


@dataclass(frozen=True, eq=False)
class UnitDef:
    """The body of a model or composite block. ``blocks`` are the composites it can use by name
    (its file's ``blocks:`` section); ``file`` is the spec file it came from (as displayed)."""

    name: str
    qualname: str
    doc: str | None
    params: tuple[ParamDecl, ...]
    inputs: tuple[InputDecl, ...]
    nodes: tuple[NodeDef, ...]
    outputs: tuple[OutputDef, ...]
    file: str
    path: str | None  # absolute path of the file, None for in-memory text
    blocks: dict[str, UnitDef] = field(default_factory=dict)
    pos: Pos | None = None
    param_values: dict[str, SpecValue] | None = None  # bound values (root unit only)
    metadata: SpecValue = None  # the spec's `metadata:` (may hold templates)
    reference: ReferenceSpec | None = None  # the spec's `reference:`, root units only
    renames_pos: Pos | None = None  # where its `state_dict_renames` is written (a template's: the template's)
    lets: tuple[LetDef, ...] = ()
    checks: tuple[CheckDef, ...] = ()
    overridden: dict[str, Pos | None] = field(default_factory=dict)  # --set / keyword values: where shown
    own: frozenset[str] = frozenset()  # parameters of specs that extend it: read by their `with:`, never passed on

    def param(self, name: str) -> ParamDecl | None:
        return self.param_index.get(name)

    @cached_property
    def param_index(self) -> dict[str, ParamDecl]:
        """The parameters by name, made once (a lookup per key of a node with 2,000 keys, each a walk of the
        parameters, was quadratic). Not a field: the dataclass's replace() makes a unit that makes its own."""
        return {p.name: p for p in self.params}


# --------------------------------------------------------------------------------------------
# Specialisations
# --------------------------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[Dim, ...]
    dtype: str = "float32"

    def __str__(self) -> str:
        return fmt_shape(self.shape) + ("" if self.dtype == "float32" else f" {self.dtype}")


@fast_init
@dataclass(frozen=True, slots=True)
class ValueRef:
    """A produced value: a unit input (``port`` is None) or a node's output port."""

    node: str
    port: str | None

    def __str__(self) -> str:
        return self.node if self.port is None else f"{self.node}.{self.port}"


@dataclass(frozen=True)
class Constraint:
    """A condition on free symbols that the shapes need: ``lhs >= 0``, ``lhs == 0`` or
    ``lhs % mod == 0``. ``text`` is its rendering in the user's symbols."""

    lhs: Dim
    op: str  # ">=", "==", "%"
    text: str
    reason: str
    mod: int = 0
    node: str | None = None
    pos: Pos | None = None
    code: str = "E305"  # the code of its violation by --input: E308 for an output's promised shape


@fast_init
@dataclass(frozen=True, slots=True)
class Instance:
    """One copy of a node (a node with ``repeat: n`` has n)."""

    params: BaseModel | tuple[tuple[str, SpecValue], ...]  # a primitive's validated model, a composite's values
    unit: Unit | None
    outputs: tuple[tuple[str, TensorType], ...]
    param_count: int
    flops: Dim
    block: str = ""  # the copy's block when it differs from the node's (for_each over block names)
    buffer_count: int = 0  # elements of the fixed tables its constructor builds (Block.buffer_count)
    submodules: int = 0  # modules its constructor builds per channel, layer or system (Block.submodule_count)


@fast_init
@dataclass(frozen=True, slots=True)
class Node:
    name: str
    block: str  # registry name, or the composite's qualname
    kind: str  # "primitive" | "composite"
    inputs: tuple[tuple[str, ValueRef], ...]  # port -> value
    copies: tuple[Instance, ...]
    repeated: bool
    pos: Pos | None
    doc: str | None = None
    parallel: bool = False  # for_each: copies side by side; output port k is copy k's value
    checkpoint: bool = False  # recompute in the backward pass (torch.utils.checkpoint)

    @property
    def outputs(self) -> tuple[tuple[str, TensorType], ...]:
        if self.parallel:
            return tuple((str(k), c.outputs[0][1]) for k, c in enumerate(self.copies))
        return self.copies[-1].outputs

    @property
    def param_count(self) -> int:
        return sum(c.param_count for c in self.copies)

    @property
    def buffer_count(self) -> int:
        return sum(c.buffer_count for c in self.copies)

    @property
    def flops(self) -> Dim:
        total: Dim = 0
        for c in self.copies:
            total = total + c.flops
        return total

    def output(self, port: str | None) -> TensorType:
        found = self.find_output(port)
        if found is None:
            raise KeyError(port)
        return found

    def find_output(self, port: str | None) -> TensorType | None:
        """The type of output ``port`` (None: the first), None when the node has no such port. A parallel node's
        port ``k`` is copy k's value, found by its index: :attr:`outputs` lists every copy's, and a lookup of each
        port through it was quadratic in the copies (cubic with the uses of a class holding such a node)."""
        if self.parallel:
            k = 0 if port is None else _copy_index(port)
            return self.copies[k].outputs[0][1] if k is not None and k < len(self.copies) else None
        outs = self.copies[-1].outputs
        if port is None:
            return outs[0][1] if outs else None
        for name, t in outs:
            if name == port:
                return t
        return None


def _copy_index(port: str) -> int | None:
    """The copy a parallel node's output port names (``"3"``: copy 3), None for another name."""
    return int(port) if port.isascii() and port.isdigit() and str(int(port)) == port else None


@dataclass(frozen=True)
class Unit:
    key: tuple[object, ...]
    name: str
    qualname: str
    doc: str | None
    params: tuple[tuple[str, SpecValue], ...]
    inputs: tuple[tuple[str, TensorType], ...]
    nodes: tuple[Node, ...]
    outputs: tuple[tuple[str, ValueRef, TensorType], ...]
    constraints: tuple[Constraint, ...]
    const_symbols: tuple[tuple[str, int], ...]
    file: str
    pos: Pos | None
    metadata: SpecValue = None  # evaluated `metadata:` (plain JSON-like values)
    state_dict_renames: tuple[tuple[str, str], ...] = ()  # from `reference:`, root unit only
    definition: UnitDef | None = field(default=None, compare=False, repr=False)  # the body as written
    # of a unit built inside another, its parameters that nothing built reads, nor any component they reach (by a
    # key or `inherit: true`): what a caller passed to it that has no effect (W104: dead_keys.py, passed_unread)
    unread: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # of those read only to be passed on unread, how (its node `attention` passes it as `factor` to ...)
    unread_why: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def param_count(self) -> int:
        return sum(n.param_count for n in self.nodes)

    @property
    def buffer_count(self) -> int:
        return sum(n.buffer_count for n in self.nodes)

    @property
    def flops(self) -> Dim:
        total: Dim = 0
        for n in self.nodes:
            total = total + n.flops
        return total

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


@dataclass(frozen=True)
class Program:
    root: Unit
    units: tuple[Unit, ...]  # composite specialisations, children before parents
    source: SourceInfo
    bindings: tuple[tuple[str, int], ...]  # symbol values from --input
    warnings: tuple[Diagnostic, ...] = ()
    request: CompileRequest | None = field(default=None, compare=False)
