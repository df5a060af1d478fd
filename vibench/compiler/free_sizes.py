"""Which parameters of a built-in block only set the size of its output: what a free parameter may be.

A model.py class takes another value of a free parameter without the compiler seeing it (see
:mod:`vibench.compiler.free_params`), so the value may feed only what cannot refuse it or change
anything else: the size of a head's output (``out_features`` of a classifier's last ``linear``). Blocks
declare no such thing; it is derived from each block's own shape rule (:func:`output_axes`), run once
more with the parameter's value replaced by an opaque size, :class:`_Opaque`. The rule must place that
size whole at some axes of its outputs and do nothing else with it: any comparison, any arithmetic that
reaches a test, an output axis or a constraint, any question to the shape context about it (``equal``,
``require``, ``concrete``, ...) makes the parameter no output size. So a threshold of the block's own
rules (``L >= kernel_size``, ``channels % num_groups == 0``, a ``stride`` that sets a length) is never
taken for one, as one probe value could not show.

The pydantic field must also take every value the model's class admits for an output size (an int of
at least 1): no upper bound, no multiple-of, no validator of the parameter or of the whole model
(:func:`~vibench.compiler.free_bounds.takes_any_size`).

The same run tells a parameter the rule never touches (no axis, no comparison, no read: the rule's outputs
are the compiled ones): a setting such as a dropout ``p`` or a norm's ``eps``, free too where the class can
check everything its field checks (:func:`read_bounds`).

Derived output sizes of built-ins, for example (``tests/test_free_params_1206d.py``): ``linear``'s
``out_features``, ``conv1d``'s and ``conv_transpose1d``'s ``out_channels`` (with ``groups: 1``: another
number must divide into them), ``embedding``'s ``embedding_dim``, ``adaptive_avg_pool1d``'s
``output_size``; never ``kernel_size``, ``stride``, ``dilation``, ``num_groups`` or ``in_features``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from vibench.compiler.blocks.base import ShapeError
from vibench.compiler.free_bounds import Bounds, field_bounds, takes_any_size
from vibench.compiler.ir import Node, TensorType, Unit
from vibench.compiler.symbolic import Dim, Expr

_NAME = "__output_size__"  # (no spec symbol: names are identifiers that start with a letter)


class _Read(Exception):
    """The shape rule did something with the opaque size other than place it whole in an output."""


class _Opaque(Expr):
    """The parameter's value as the shape rule sees it: a size it may place in an output, never test."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__({(_NAME,): 1}, 0)

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        raise _Read("compared")

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = Expr.__hash__

    def __bool__(self) -> bool:
        raise _Read("tested")

    def __lt__(self, other: object) -> bool:
        raise _Read("compared")

    __le__ = __gt__ = __ge__ = __lt__

    def __index__(self) -> int:
        raise _Read("used as an integer")

    __int__ = __index__

    def __float__(self) -> float:
        raise _Read("used as a number")


def _has(d: Any) -> bool:
    """Does ``d`` (a size, a value) depend on the opaque size?"""
    if isinstance(d, Expr):
        return _NAME in d.symbols()
    if isinstance(d, list | tuple):
        return any(_has(x) for x in d)
    return False


class _Context:
    """A :class:`~vibench.compiler.blocks.base.ShapeContext` for a rule already checked at its compiled
    values: a question about other sizes passes (its answer was recorded then), one about the opaque
    size is :class:`_Read`. ``float_dtype``: the model's (a rule gives its float outputs that dtype)."""

    def __init__(self, float_dtype: str) -> None:
        self.float_dtype = float_dtype

    def fail(self, message: str, **_: Any) -> ShapeError:
        return ShapeError("E301", message)

    def rank(self, port: str, t: TensorType, ranks: int | Sequence[int], layout: str = "") -> None:
        pass

    def dtype(self, port: str, t: TensorType, allowed: frozenset[str], what: str = "") -> None:
        pass

    def equal(self, found: Dim, expected: Dim, **_: Any) -> None:
        if _has(found) or _has(expected):
            raise _Read("equal")

    def require(self, lhs: Dim, op: str, rhs: Dim, reason: str, **_: Any) -> None:
        if _has(lhs) or _has(rhs):
            raise _Read("require")

    def broadcast(self, dims: Sequence[Dim], **_: Any) -> Dim:
        if _has(list(dims)):
            raise _Read("broadcast")
        return next((d for d in dims if not (type(d) is int and d == 1)), dims[0])

    def concrete(self, d: Dim, what: str, **_: Any) -> int:
        if type(d) is not int:  # the opaque size, or one the compiled rule made concrete some other way
            raise _Read("concrete")
        return d

    def set(self, name: str, value: Any) -> None:
        if _has(value):
            raise _Read("set")

    def __getattr__(self, name: str) -> Any:  # anything else a rule asks of the compiler's context
        raise _Read(name)


def output_axes(unit: Unit, node: Node, key: str, float_dtype: str) -> frozenset[tuple[str, int]] | None:
    """The output axes (port, axis) that primitive ``node`` of ``unit`` sets to its parameter ``key``, when
    ``key`` only sets those (see the module docstring); else None. A node of several copies (``repeat:``,
    ``for_each:``) is none: a copy's input is another's output. ``float_dtype``: the model's, as the shape
    rules were told (a wrong one gives another output dtype than the compiled: None, conservative)."""
    params = _params(node)
    if params is None or type(getattr(params, key, None)) is not int or not takes_any_size(type(params), key):
        return None
    return _placed(unit, node, key, float_dtype) or None


def read_bounds(unit: Unit, node: Node, key: str, float_dtype: str) -> Bounds | None:
    """What model.py's class must check of another value of primitive ``node``'s parameter ``key`` (an int or
    a float) beyond its declared bounds, when that value may be free there; else None. An output size
    (:func:`output_axes`) needs nothing more (the class's own ``at least 1``); a setting the shape rule
    never touches (no axis, no comparison, no read: a dropout ``p``, a norm's ``eps``) needs the bounds of
    its pydantic field (:func:`~vibench.compiler.free_bounds.field_bounds`: none where the field checks
    what the class cannot)."""
    if output_axes(unit, node, key, float_dtype) is not None:
        return Bounds()
    params = _params(node)
    value = getattr(params, key, None)
    if params is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    bounds = field_bounds(type(params), key, value)
    return bounds if bounds is not None and _placed(unit, node, key, float_dtype) == frozenset() else None


def _params(node: Node) -> BaseModel | None:
    """The parameters of a built-in block's one copy (None for a composite, ``repeat:``, ``for_each:``)."""
    from vibench.compiler import registry

    if node.kind != "primitive" or node.repeated or node.parallel or len(node.copies) != 1:
        return None
    (copy,) = node.copies
    params = copy.params
    if registry.get(copy.block or node.block) is None or not isinstance(params, BaseModel):
        return None
    return params


def _placed(unit: Unit, node: Node, key: str, float_dtype: str) -> frozenset[tuple[str, int]] | None:
    """The output axes the shape rule of ``node`` (a :func:`_params` one) places the opaque size at, in
    place of its parameter ``key`` (empty: it does nothing with it); None when it does anything else."""
    from vibench.compiler import registry

    (copy,) = node.copies
    block = registry.get(copy.block or node.block)
    params = copy.params
    if block is None or not isinstance(params, BaseModel):  # (not a _params node)
        return None
    value = getattr(params, key)
    typed: dict[tuple[str, str | None], TensorType] = {(name, None): t for name, t in unit.inputs}
    typed |= {(n.name, port): t for n in unit.nodes for port, t in n.outputs}
    ins = [typed[(ref.node, ref.port)] for _, ref in node.inputs]
    opaque = _Opaque()
    try:
        outs = block.infer(params.model_copy(update={key: opaque}), ins, _Context(float_dtype))
    except Exception:  # _Read, a ShapeError, or the rule's arithmetic refusing the opaque size: not an output size
        return None
    compiled = copy.outputs
    if len(outs) != len(compiled):
        return None
    axes = set()
    for out, (port, t) in zip(outs, compiled, strict=True):
        if not isinstance(out, TensorType) or out.dtype != t.dtype or len(out.shape) != len(t.shape):
            return None
        for k, (d, e) in enumerate(zip(out.shape, t.shape, strict=True)):
            if d is opaque and type(value) is int and e == value:
                axes.add((port, k))
            elif _has(d) or type(d) is not type(e) or d != e:
                return None
    return frozenset(axes)


def model_float_dtype(unit: Unit) -> str:
    """The float dtype of the model's inputs when they have one (float32 otherwise)."""
    floats = {t.dtype for _, t in unit.inputs if t.dtype.startswith(("float", "bfloat"))}
    return floats.pop() if len(floats) == 1 else "float32"
