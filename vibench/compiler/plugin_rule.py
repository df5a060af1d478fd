"""A plug-in block's shape rule run on one node (:func:`rule`), and what it gives the compiler checked before
the compiler uses it (:mod:`vibench.compiler.plugin_calls` calls its methods and checks the code they return):

* what ``infer`` returns (:func:`outputs`): one TensorType per output port, each dim a whole number in
  [0, 2**62] or a symbolic expression of the symbols of the node's input sizes, each dtype one of vibench's;
  a size the node's sizes may make negative is a constraint of the node (:func:`_require_sizes`);
* the values it sets with ``ctx.set`` (:func:`with_set`), validated by the block's parameter model as a spec's
  values are, and bounded as theirs are (integers within 2**62; floats finite unless ``infinite_ok``): they
  reached model.py unchecked (``nn.Linear("abc", 3)``, ``nn.Linear(2**63, 3)``);
* ``param_count``, ``buffer_count``, ``submodule_count`` (:func:`count`) and ``flops`` (:func:`flops`): whole
  numbers in [0, 2**62], ``flops`` a symbolic expression too, held to the input sizes' symbols and never negative.

What it returns wrongly is E114 at the node, the plug-in's failure. A number beyond 2**62 is the spec's instead
when the spec's sizes make it (:func:`spec_sized`: ``out_features: 10**18`` into a plug-in's linear), or when
vibench's own default computed it (``flops``: the output's size): the limits then report it as for a built-in
block (E307, E213, E309), where the plug-in was blamed for the spec's size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from vibench.compiler.blocks.base import ALL_DTYPES, Block, ShapeError
from vibench.compiler.constraints import NodeContext, ge_text
from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.ir import Constraint, Instance, TensorType
from vibench.compiler.limits import MAX_RANK
from vibench.compiler.plugin_calls import CODE, _code_of_node, call, failure, validated
from vibench.compiler.plugin_checks import (
    SHAPE_CODES,
    checked_dim,
    count_problem,
    exception_text,
    need_problem,
    shape_error_problem,
    shown,
    whole,
)
from vibench.compiler.plugin_checks import clip_text as _clip
from vibench.compiler.plugin_guard import guarded
from vibench.compiler.space import SymbolSpace
from vibench.compiler.symbolic import Dim, Expr
from vibench.compiler.symbolic_errors import NeedConcrete

T = TypeVar("T")


def rule(block: Block, p: Any, ins: list[TensorType], ctx: NodeContext) -> Instance:
    """A plug-in block's copy on one node: its shape rule, counts and code run and checked (see the module
    docstring). A ShapeError or NeedConcrete passes through, as for any block, when it is well formed."""
    try:
        made = call(block, "infer", p, list(ins), ctx, passing=(ShapeError, NeedConcrete))
    except (ShapeError, NeedConcrete) as err:
        _check_raised(block, err, ins)
        raise
    outs = outputs(block, made, p, ins)
    _require_sizes(block, outs, ctx)
    final = with_set(block, p, ctx.resolved)
    names = block.outputs or tuple(str(k) for k in range(len(outs)))
    instance = Instance(params=final, unit=None, outputs=tuple(zip(names, outs, strict=True)),
                        param_count=count(block, "param_count", final, list(ins)),
                        flops=flops(block, final, list(ins), list(outs), ctx.space),
                        buffer_count=count(block, "buffer_count", final, list(ins)),
                        submodules=count(block, "submodule_count", final, list(ins)))
    _code_of_node(block, final, len(ins), outs)
    return instance


def _check_raised(block: Block, err: ShapeError | NeedConcrete, ins: list[TensorType]) -> None:
    """E114 for a ShapeError or NeedConcrete of ``infer`` whose fields are not what ``ctx.fail`` or
    ``ctx.concrete`` make (``code=None``, ``expected=5``, ``NeedConcrete("LB", None)``): as the spec's error it
    would print garbage, or crash the compiler that reads it."""
    if isinstance(err, ShapeError):
        fields = block.Params.model_fields
        names = set(fields) | {info.alias for info in fields.values() if isinstance(info.alias, str)}
        problem = shape_error_problem(err, block.inputs, names)
        expected = (f"a ShapeError as `ctx.fail(message, code=..., port=..., param=...)` makes it: a code among "
                    f"{', '.join(SHAPE_CODES)}, texts, and a port and parameter of the block")
    else:
        problem = need_problem(err, input_symbols(ins))
        expected = "a NeedConcrete as `ctx.concrete(dim, what)` raises it: the symbols of input sizes, and a text"
    if problem is not None:
        raise failure(block, f"its `infer` raised a malformed {_clip(type(err).__name__)}: {problem}",
                      expected=expected, found=exception_text(err)) from None


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


def input_symbols(ins: list[TensorType]) -> set[str]:
    """The symbols of the sizes of a node's inputs ``ins``: all a plug-in's sizes may name."""
    return {s for t in ins for d in t.shape if isinstance(d, Expr) for s in d.symbols()}


def outputs(block: Block, outs: Any, p: Any, ins: list[TensorType]) -> list[TensorType]:
    """What ``infer`` returned on parameters ``p`` and inputs ``ins``, checked: one TensorType per output port
    (see the module docstring). A size may name only symbols of the input sizes: model.py's forward computes
    the output from its inputs and checks no other size, so an output ``[B, C, Z]`` with a ``Z`` of no input
    compiled "ok" (with a constraint ``Z >= 5`` from a conv after it) and failed in torch, or sent the spec's
    E303 after a size it could never give. (A parameter's value is a number by then, never a symbol.)"""
    ports = tuple(block.outputs)
    want = (f"{len(ports)} TensorType{'s' if len(ports) != 1 else ''} in a list or tuple, one per output port "
            f"({', '.join(f'`{p}`' for p in ports)})" if ports else "a list or tuple of one or more TensorTypes")
    # Read as plain lists first: a list, tuple or TensorType of the plug-in's own class runs its code as it is read.
    items = _read(block, lambda v: list(v) if isinstance(v, list | tuple) else None, outs, want)
    if items is None:
        raise failure(block, "`infer` returned a wrong value", expected=want, found=shown(outs))
    if (ports and len(items) != len(ports)) or not items:
        raise failure(block, f"`infer` returned {len(items)} output{'s' if len(items) != 1 else ''} for "
                      f"{len(ports) or 'any number of'} output port{'s' if len(ports) != 1 else ''}",
                      expected=want, found=shown(outs),
                      notes=("a block of several outputs names them in `outputs`; one that gives any number "
                             "declares `outputs = ()`",))
    checked = []
    symbols = input_symbols(ins)
    for k, t in enumerate(items):
        if not isinstance(t, TensorType):
            raise failure(block, "`infer` returned a wrong value", expected="a TensorType for each output",
                          found=f"output {k} is {shown(t)}")
        shape, dtype = _read(block, lambda v: (v.shape, v.dtype), t, "a TensorType for each output")
        given = _read(block, lambda v: list(v) if isinstance(v, tuple | list) else None, shape, "a tuple of dims")
        if given is None:
            raise failure(block, f"`infer` returned a wrong shape for output {k}", expected="a tuple of dims",
                          found=shown(shape))
        if len(given) > MAX_RANK:  # (before its sizes are read: 200,000 symbolic ones took 55 s)
            raise failure(block, f"`infer` returned a wrong shape for output {k}: it has {len(given):,} dimensions",
                          expected=f"at most {MAX_RANK} dimensions", found=f"{len(given):,} dimensions")
        dims = []
        for j, d in enumerate(given):
            dim, why = checked_dim(d)
            if dim is None and spec_sized(whole(d), p, ins):  # (`times: 10**18`: E309 says so, as for a built-in)
                dim = whole(d)
            if dim is None:
                raise failure(block, f"`infer` returned a wrong shape for output {k}: dimension {j} is {why}",
                              expected="dims that are whole numbers from 0 to 2**62 or symbolic expressions "
                              "(vibench.compiler.symbolic, as the input types hold)",
                              found=f"dimension {j} is {shown(d)} (in {shown(shape)})")
            unknown = sorted(dim.symbols() - symbols) if isinstance(dim, Expr) else []
            if unknown:
                raise failure(block, f"`infer` returned a wrong shape for output {k}: dimension {j} names the "
                              f"symbol {shown(unknown[0])}, which no input shape of the node holds",
                              expected="sizes of numbers and the symbols of the node's input sizes ("
                              + (_clip(", ".join(f"`{s}`" for s in sorted(symbols))) or "none: they are fixed")
                              + "): model.py computes the output from its inputs",
                              found=f"dimension {j} is `{_clip(str(dim))}` (in {shown(shape)})")
            dims.append(dim)
        name = str.__str__(dtype) if isinstance(dtype, str) else None  # (a plain str: no code of the plug-in's)
        if name is None or name not in ALL_DTYPES:
            raise failure(block, f"`infer` returned an unknown dtype for output {k}",
                          expected="one of " + ", ".join(sorted(ALL_DTYPES)), found=shown(dtype))
        checked.append(TensorType(tuple(dims), name))
    return checked


def _read(block: Block, read: Callable[[Any], T], value: Any, expected: str) -> T:
    """``read(value)`` of what ``infer`` returned (its list of outputs, a TensorType's fields, a shape), guarded:
    a value of the plug-in's own class (a list whose ``__iter__``, a TensorType whose property is its code) that
    raises as it is read is E114, named by its type."""
    def unread(err: BaseException) -> T:
        raise failure(block, f"`infer` returned a value that does not read: reading it raised "
                      f"{_clip(type(err).__name__)}", expected=expected,
                      found=f"{shown(value)} ({exception_text(err)})") from None

    return guarded(lambda: read(value), unread)


def _require_sizes(block: Block, outs: list[TensorType], ctx: NodeContext) -> None:
    """Each output size that the node's sizes may make negative (``L - 100``: a plug-in that states no
    ``ctx.require(L, ">=", 100, ...)``) is recorded as a constraint of the node, E114 when ``--input`` breaks it
    (model.py checks it too): it was taken, and ``--input x=2,2,8`` printed ``output y: [2, 2, -92]``, where a spec
    of ``[B, 2, 8]`` is E114. A size negative for every size the spec allows is E114 at once."""
    for k, t in enumerate(outs):
        for j, d in enumerate(t.shape):
            if not isinstance(d, Expr):
                continue
            verdict = ctx.space.decide_ge(d)
            if verdict is False:
                raise failure(block, f"`infer` returned a wrong shape for output {k}: dimension {j} is negative for "
                              "every size the spec allows", expected="sizes that are not negative",
                              found=f"dimension {j} is `{_clip(str(d))}` (in {shown(t.shape)})", notes=_bounded(d, ctx))
            if verdict is None:
                reason = (f"plug-in block `{block.name}` gives dimension {j} of its output {k} the size "
                          f"`{_clip(str(d))}`, which may not be negative (the block requires nothing that ensures it)")
                ctx.space.record(Constraint(d, ">=", ge_text(d), reason, node=ctx.node, pos=ctx.pos, code=CODE))


def _bounded(d: Expr, ctx: NodeContext) -> tuple[str, ...]:
    """A note of the constraints that bound the symbols of ``d`` where it is negative for every size."""
    found = [c for s in sorted(d.symbols()) for c in ctx.space.bound_sources(s) if c.node]
    return (", ".join(f"`{c.text}` from node `{c.node}`" for c in found),) if found else ()


def count(block: Block, method: str, p: Any, ins: list[TensorType]) -> int:
    """``param_count``, ``buffer_count`` or ``submodule_count``: a whole number in [0, 2**62]."""
    value = call(block, method, p, ins, passes=_sizes_unknown(ins))
    number = whole(value)
    problem = count_problem(number)
    if number is not None and spec_sized(number, p, ins):  # the spec's sizes made it: E307 or E213, as built-ins
        return number
    if number is None or problem is not None:
        raise failure(block, f"`{method}` returned {problem}", expected="a whole number from 0 to 2**62",
                      found=shown(value))
    return number


def flops(block: Block, p: Any, ins: list[TensorType], outs: list[TensorType], space: SymbolSpace) -> Dim:
    """``flops``: a whole number in [0, 2**62] or a symbolic expression of the symbols of the input sizes, as an
    output size is (``3 * Z`` printed `total FLOPs: 3 * Z`), not negative for any size of its one symbol that
    ``space`` (the node's: its requirements, its outputs' sizes) allows (``L - 100`` printed `FLOPs -92` once
    ``--input`` gave L = 8). vibench's own default (the first output's size) is computed as for a built-in block,
    unchecked: an output of more than 2**62 elements is the spec's E309 (`times: 10**17` into a plug-in's tile),
    not a wrong value of the plug-in's."""
    if getattr(type(block), "flops", None) is Block.flops:
        return Block.flops(block, p, ins, outs)
    value = call(block, "flops", p, ins, outs, passes=_sizes_unknown(ins))
    dim, why = checked_dim(value)
    if dim is None and spec_sized(whole(value), p, ins):
        dim = whole(value)
    if dim is None:
        raise failure(block, f"`flops` returned a wrong value: {why}",
                      expected="a whole number from 0 to 2**62 or a symbolic expression", found=shown(value))
    if isinstance(dim, Expr):
        symbols = input_symbols(ins)
        unknown = sorted(dim.symbols() - symbols)
        if unknown:
            raise failure(block, f"`flops` returned a count that names the symbol {shown(unknown[0])}, which no "
                          "input shape of the node holds", expected="a count of numbers and the symbols of the "
                          "node's input sizes (" + (_clip(", ".join(f"`{s}`" for s in sorted(symbols))) or "none: "
                          "they are fixed") + ")", found=f"`{_clip(str(dim))}`")
        # Several symbols are not searched (`2 * B * C * L - B * C + B` is not negative, and bounds cannot tell).
        verdict = space.decide_ge(dim)
        if verdict is False or (verdict is None and space.solve(dim, ">=") is not None):
            when = ("every size the spec allows" if verdict is False else f"some sizes the node takes (it is not "
                    f"negative only where {ge_text(dim)}, which the block does not require)")
            raise failure(block, f"`flops` returned a count that is negative for {when}",
                          expected="a count that is not negative for any size the node takes (its block's "
                          "`ctx.require` and its outputs' sizes bound them)", found=f"`{_clip(str(dim))}`")
    return dim


_LARGEST_SIZED = 2**256
"""The largest number a plug-in's size, count or FLOP count may be taken as the spec's (:func:`spec_sized`): a
product of a few sizes within 2**62, and short enough to print in the limit's message."""


def spec_sized(number: int | None, p: Any, ins: list[TensorType]) -> bool:
    """Whether ``number``, beyond 2**62, is one the node's own sizes make: at most the square of their product (a
    count is at most quadratic in its sizes: a linear's ``in * out``, an attention's ``L * L``). The sizes are
    the integers among the parameters ``p`` (in lists and mappings too; booleans are none) and the inputs' fixed
    sizes. Such a number is the spec's (its limits E307, E213 and E309 report it); any other beyond 2**62 (10**400
    on a node of small sizes) is the plug-in's wrong value."""
    if number is None or not MAX_INT < number <= _LARGEST_SIZED:
        return False
    product: float = 1
    stack: list[Any] = [getattr(p, name, None) for name in type(p).model_fields]
    stack += [d for t in ins for d in t.shape]
    while stack and product * product < number:
        value = stack.pop()
        if isinstance(value, list | tuple):
            stack += value
        elif isinstance(value, dict):
            stack += value.values()
        elif type(value) is int and abs(value) > 1:  # (a float is no size: a clip bound of 1e30 explains nothing)
            product *= abs(value)
    return product * product >= number


def with_set(block: Block, p: Any, resolved: dict[Any, Any]) -> Any:
    """The node's parameters ``p`` with the values the shape rule set (``ctx.set(name, value)``), validated by the
    block's parameter model together with the values the node gave, and bounded as a spec's values are: an
    integer within 2**62, a float finite (not NaN; infinite only where ``infinite_ok`` names it). A name that is
    no parameter, or a value refused, is E114 naming ``ctx.set``: the shape rule computed it, not the spec."""
    from pydantic import ValidationError

    if not resolved:
        return p
    fields = type(p).model_fields
    named = {name: name for name in fields} | {info.alias: name for name, info in fields.items() if info.alias}
    # (a name that is no str is no parameter; hashed or compared, one of the plug-in's own class runs its code)
    unknown = next(((k, v) for k, v in resolved.items() if type(k) is not str or k not in named), None)
    if unknown is not None:
        raise _set_failure(block, *unknown, "which is not a parameter of the block",
                           "one of its parameters: " + (", ".join(f"`{n}`" for n in fields) or "none"))
    values = {fields[name].alias or name: getattr(p, name) for name in p.model_fields_set}
    values |= {fields[named[key]].alias or named[key]: value for key, value in resolved.items()}
    try:
        final = validated(block, values)
    except ValidationError as err:
        set_keys = {fields[named[key]].alias or named[key]: key for key in resolved}  # validated as -> set as
        errors = err.errors(include_url=False)
        first = next((e for e in errors if e["loc"] and e["loc"][0] in set_keys), errors[0])
        key = set_keys.get(first["loc"][0], next(iter(resolved))) if first["loc"] else next(iter(resolved))
        raise _set_failure(block, key, resolved[key], f"which its parameter model refuses: {_clip(first['msg'])}",
                           "a value of the parameter's type and bounds") from None
    for key, value in resolved.items():
        name = named[key]
        why = _unbounded(getattr(final, name), name in block.infinite_ok)
        if why is not None:
            raise _set_failure(block, key, value, why, "a value a spec could give: an integer within 2**62, a "
                               "finite float" + (" or an infinity" if name in block.infinite_ok else ""))
    return final


def _set_failure(block: Block, key: Any, value: Any, why: str, expected: str) -> Exception:
    name = f"`{_clip(key)}`" if type(key) is str else shown(key)
    return failure(block, f"its `infer` set {name} with `ctx.set` to {shown(value)}, {why}",
                   expected=expected, found=f"ctx.set({shown(key)}, {shown(value)})")


def _unbounded(value: Any, infinite: bool) -> str | None:
    """Why a value a shape rule set is beyond what a spec's value may be (None: it is not), also in a list,
    tuple or mapping: a spec's integers are within 2**62, its floats finite (or infinite where ``infinite``)."""
    if type(value) is int and abs(value) > MAX_INT:
        return "an integer beyond 2**62, the compiler's bound on integers"
    if isinstance(value, float) and (math.isnan(value) or (math.isinf(value) and not infinite)):
        return "which is not a finite number (model.py would compute with NaN or infinity)"
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else ()
    return next((why for item in items if (why := _unbounded(item, infinite)) is not None), None)


def _sizes_unknown(ins: list[TensorType]) -> Callable[[BaseException], bool]:
    """Which exceptions of a plug-in's ``flops`` or counts pass, as a built-in block's do: a NeedConcrete that
    vibench's own code raised (its size arithmetic: ExpressionTooLarge, ``(L0 + ... + L39) ** 2`` past
    :data:`~vibench.compiler.symbolic.MAX_TERMS`) naming symbols of the node's input sizes. The shapes pass makes
    it E303, giving those sizes with ``--input`` the remedy; the plug-in is not at fault. Any other (one the
    plug-in raises itself, a malformed one) stays its failure, E114."""
    symbols = input_symbols(ins)
    return lambda err: isinstance(err, NeedConcrete) and _raised_by_vibench(err) and need_problem(err, symbols) is None


def _raised_by_vibench(err: BaseException) -> bool:
    """Whether the innermost frame of ``err``'s traceback is vibench's own code (a plug-in's module never is:
    :func:`is_plugin`)."""
    import traceback

    frames = list(traceback.walk_tb(err.__traceback__))
    return bool(frames) and str(frames[-1][0].f_globals.get("__name__", "")).split(".")[0] == "vibench"


