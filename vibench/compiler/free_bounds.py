"""What model.py's class checks of a free parameter's value, and which block fields admit every such value.

A free parameter (:mod:`vibench.compiler.free_params`) reaches a built-in block's pydantic field without the
compiler seeing the new value, so the field may refuse nothing that the class lets through. Two kinds of
field qualify (which one a read is, :mod:`vibench.compiler.free_sizes` finds from the block's shape rule):

* an output size (:func:`takes_any_size`): an int field that takes every int >= 1, the bound the class
  adds for a size (emit's ``_bounds``);
* a setting the shape rule never reads (:func:`field_bounds`: a dropout ``p``, an ``eps``): a field whose
  every constraint the class can check as well, its type (an int field for an int, a float field for a
  float: the class takes an int for a float as that float) and its ``ge``/``gt``/``le``/``lt``, which the
  class then checks with the parameter's declared bounds (:func:`tighten`), and for a float that it is
  finite (:data:`FINITE`). A ``multiple_of``, a literal
  choice, a validator of the field, or a model validator that reads it (:func:`_read_by_validator`) is a
  check the class cannot make: such a field takes fixed values only.

>>> from vibench.compiler.blocks.norm import DropoutParams
>>> field_bounds(DropoutParams, "p", 0.1)
Bounds(ge=0.0, gt=None, le=1.0, lt=None)
>>> from vibench.compiler.blocks.norm import LayerNormParams
>>> field_bounds(LayerNormParams, "eps", 1e-5) == Bounds(gt=0.0, le=FINITE)
True
>>> tighten([None, None, None, None], Bounds(ge=0.0, gt=None, le=1.0, lt=None), whole=False)
[0.0, None, 1.0, None]
"""

from __future__ import annotations

import ast
import inspect
import math
import sys
import textwrap
import types
import typing
from dataclasses import replace
from typing import Any, NamedTuple

FINITE = sys.float_info.max
"""The largest float: a float field's bounds include ``>= -FINITE`` and ``<= FINITE`` (nan is within no
bound), as the compiler refuses nan and infinity for every float of a block (E104, ``typecheck._not_finite``)."""


class Bounds(NamedTuple):
    """A number's bounds (None: none), as a pydantic field or a parameter declaration writes them."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None


def takes_any_size(model: Any, key: str) -> bool:
    """Does pydantic model ``model`` take every int >= 1 as field ``key``, with no validator that could
    refuse one (of the field or of the whole model)?"""
    field = model.model_fields.get(key)
    if field is None or not _admits_type(field.annotation, 1):
        return False
    bounds = _metadata_bounds(field.metadata, 1)
    if bounds is None or bounds.le is not None or bounds.lt is not None:
        return False
    ok = (bounds.ge is None or bounds.ge <= 1) and (bounds.gt is None or bounds.gt < 1)
    # Any model validator but BlockParams' own (a list for a tuple field) may refuse any size.
    return ok and not _validated(model, key, any_model_validator=True)


def field_bounds(model: Any, key: str, value: Any) -> Bounds | None:
    """The bounds of pydantic model ``model``'s field ``key`` when they, with its type, are every check
    the field makes of a value like ``value`` (an int, or a float: an int then counts as that float);
    else None (a constraint, a choice or a validator the class cannot check). A float's bounds are floats,
    as the class's message writes them (``a number >= 0.0 and <= 1.0``), within :data:`FINITE`."""
    field = model.model_fields.get(key)
    if field is None or isinstance(value, bool) or not isinstance(value, int | float) \
            or not _admits_type(field.annotation, value):
        return None
    bounds = _metadata_bounds(field.metadata, value)
    if bounds is None or _validated(model, key, any_model_validator=False):
        return None
    if isinstance(value, float):  # (an int within 2**62, as the class admits, is a finite float)
        return Bounds(*tighten(list(bounds), Bounds(ge=-FINITE, le=FINITE), whole=False))
    return bounds


def tighten(bounds: list[Any], extra: Bounds, *, whole: bool) -> list[Any]:
    """``bounds`` ([ge, gt, le, lt], what the class checks) with ``extra``'s too: a lower (upper) bound of
    ``extra`` that ``bounds`` does not imply replaces those of ``bounds``. ``whole``: the values are ints
    (``gt: 0`` implies ``ge: 1``)."""
    out = list(bounds)
    for side, (ge, gt) in ((0, (extra.ge, extra.gt)), (2, (extra.le, extra.lt))):
        sign = 1 if side == 0 else -1  # an upper bound is a lower bound of -value
        for b, strict in ((ge, False), (gt, True)):
            if b is None:
                continue
            have = [(x, s) for x, s in ((out[side], False), (out[side + 1], True)) if x is not None]
            if not any(_least(sign * x, s, whole) >= _least(sign * b, strict, whole) for x, s in have):
                out[side:side + 2] = [None, b] if strict else [b, None]
    return out


def _least(bound: float, strict: bool, whole: bool) -> tuple[float, bool]:
    """A lower bound ordered by strength: (the least value it admits, whether that value is excluded)."""
    if whole:
        return (math.floor(bound) + 1 if strict else math.ceil(bound)), False
    return bound, strict


def as_size(decl: Any, value: Any) -> Any:
    """``decl`` with the bound the class adds for an int output size (at least 1: emit's ``_bounds``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return decl
    if (decl.ge is not None and decl.ge >= 1) or (decl.gt is not None and decl.gt >= 0):
        return decl
    return replace(decl, ge=1 if decl.ge is None else max(decl.ge, 1), gt=None)


def admits(outer: Any, value: Any, inner: Any) -> bool:
    """Does composite parameter declaration ``inner`` admit every value that model.py's class admits for
    the model's parameter ``outer`` compiled as ``value`` (one of ``value``'s type, an int too for a float,
    within ``outer``'s bounds)? The same type, ``any``, or for an int a type that takes every int (``int``,
    ``int | None``); no choices; and each bound of ``inner`` implied by one of ``outer`` (``ge: 1`` by
    ``ge: 1``, ``ge: 2`` or ``gt: 1``, not by an int's ``gt: 0``: conservative). The alternative, the
    class checking the composites' bounds too, would need them in model.py; a fixed parameter is
    always correct."""
    from vibench.compiler.param_types import TypeSyntaxError, parse_type

    if inner.choices is not None:
        return False
    if inner.type != outer.type and inner.type != "any":
        try:
            kind = parse_type(inner.type)
        except TypeSyntaxError:
            return False
        if type(value) is not int or not (kind is int or (typing.get_origin(kind) is typing.Union
                                                          and int in typing.get_args(kind))):
            return False

    def above(bound: Any, strict: bool) -> bool:  # every admitted value is >= bound (> bound: strict)
        return ((outer.ge is not None and (outer.ge > bound if strict else outer.ge >= bound))
                or (outer.gt is not None and outer.gt >= bound))

    def below(bound: Any, strict: bool) -> bool:  # every admitted value is <= bound (< bound: strict)
        return ((outer.le is not None and (outer.le < bound if strict else outer.le <= bound))
                or (outer.lt is not None and outer.lt <= bound))

    lower = (inner.ge is None or above(inner.ge, False)) and (inner.gt is None or above(inner.gt, True))
    upper = (inner.le is None or below(inner.le, False)) and (inner.lt is None or below(inner.lt, True))
    return lower and upper


def _admits_type(annotation: Any, value: Any) -> bool:
    """Does a field of this annotation take every value of ``value``'s type that the class takes: a bare
    ``int`` (or ``int | ...``) for an int, a bare ``float`` for a float (the compiler passes an int for a
    float parameter as that float)? A constrained member (``Annotated[int, ...]``) or a literal is not."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    return (int if isinstance(value, int) else float) in members


def _metadata_bounds(metadata: list[Any], value: Any) -> Bounds | None:
    """A field's constraints as bounds, or None when one is no bound (``multiple_of``, a validator, ...).
    Several of one kind keep the tightest (:func:`tighten`)."""
    import annotated_types

    kinds = {annotated_types.Ge: 0, annotated_types.Gt: 1, annotated_types.Le: 2, annotated_types.Lt: 3}
    found: list[Any] = [None] * 4
    for item in metadata:
        k = kinds.get(type(item))
        bound = getattr(item, ("ge", "gt", "le", "lt")[k], None) if k is not None else None
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            return None
        bound = float(bound) if isinstance(value, float) else bound
        found = tighten(found, Bounds(*(bound if i == k else None for i in range(4))), whole=isinstance(value, int))
    return Bounds(*found)


def _validated(model: Any, key: str, *, any_model_validator: bool) -> bool:
    """Does a validator of pydantic model ``model`` check field ``key``: one of the field (or of every
    field), or a model validator other than BlockParams' own (with ``any_model_validator``: any; else one
    that reads ``key``, :func:`_read_by_validator`)?"""
    decorators = model.__pydantic_decorators__
    for validator in [*decorators.field_validators.values(), *decorators.validators.values()]:
        fields = getattr(validator.info, "fields", ())
        if key in fields or "*" in fields:
            return True
    for validator in decorators.model_validators.values():
        if _qualname(validator.func) == "BlockParams._lists_as_tuples":  # a list for a tuple field: no check
            continue
        if any_model_validator or _read_by_validator(validator, model, key):
            return True
    return False


def _read_by_validator(validator: Any, model: Any, key: str) -> bool:
    """Might model validator ``validator`` read field ``key``? No only for an ``after`` validator whose
    source shows its model argument used only as ``self.<another field>`` or returned (clamp's
    ``self.min > self.max`` reads ``min`` and ``max``); a ``before`` or ``wrap`` one gets the raw input,
    which it may read any way."""
    if getattr(validator.info, "mode", None) != "after":
        return True
    func = getattr(validator.func, "__func__", validator.func)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return True
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef) or not definition.args.args:
        return True
    me = definition.args.args[0].arg
    others = set(model.model_fields) - {key}
    allowed: set[int] = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == me \
                and node.attr in others:
            allowed.add(id(node.value))
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Name) and node.value.id == me:
            allowed.add(id(node.value))
    return any(isinstance(node, ast.Name) and node.id == me and id(node) not in allowed
               for node in ast.walk(definition))


def _qualname(func: Any) -> str:
    return getattr(getattr(func, "__func__", func), "__qualname__", "")
