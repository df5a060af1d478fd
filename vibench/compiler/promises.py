"""Output promises: ``outputs: {logits: {from: fc, shape: [B, num_classes]}}``.

A promise states the shape an output has. Each dimension is an integer, a parameter (or `let:`)
name, a `${...}`, or a symbol: a symbol of the unit's inputs stands for that dimension
(``B``), any other symbol is bound by its first use (``[B, n, n]`` promises a square). A ``${...}`` or a
parameter's name is a value, as in an input's shape: one that is no positive integer is E212 at the promise
(``"${k} + 5"`` gives the text ``2 + 5``, never a symbol). The shapes
pass checks every promise against what the graph computes: a different rank, or a dimension the
compiler proves different (``L // 32`` is never ``L``, ``10`` is not ``4``), or equal at a single
size only (``(L + 1) // 2`` promised as ``L``), is E308 at the promise. A dimension that depends on
the input sizes and may or may not match is a constraint (``[B, L, L]`` of a ``[B, L, 3]`` output:
``L == 3``), listed by ``--check`` and checked when ``--input`` binds the sizes (E308 again), once
(``[B, 4, L]`` of a ``[B, L, 4]`` output needs ``L == 4``, from either dimension).

The promise of an output with ``layout:`` (and ``as:``) is written channels-last, as an input's shape with a
``layout:`` is, whichever order the caller gets: one promise holds for both layouts.
"""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Any

from vibench.compiler.constraints import eq_text
from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.expr import ExprError, Unknown, evaluate_value
from vibench.compiler.ir import Constraint, OutputDef, Template, TensorType
from vibench.compiler.space import SymbolSpace
from vibench.compiler.symbolic import Dim, Expr, fmt_shape
from vibench.compiler.symbolic_errors import NeedConcrete


def check_promise(out: OutputDef, name: str, t: TensorType, env: dict[str, Any], space: SymbolSpace,
                  unit: str) -> Diagnostic | None:
    """E308 when output ``name`` (of ``out``) provably breaks its promised shape, else None."""
    assert out.shape is not None
    pos = out.shape_pos or out.pos
    t, given = _channels_last(out, t, env)
    wanted: list[Dim] = []
    bound: dict[str, Dim] = {}
    pending: list[tuple[Dim, str, str]] = []
    if len(out.shape) != len(t.shape):
        promised = "[" + ", ".join(str(_shown(d, env)) for d in out.shape) + "]"
        return _broken(name, unit, pos, promised, given, f"rank {len(t.shape)}, not {len(out.shape)}")
    for k, (dim, got) in enumerate(zip(out.shape, t.shape, strict=True)):
        want = _value(dim, env)
        if isinstance(want, Diagnostic):
            return want
        # A symbol is a name written plainly that no parameter or `let` gives a value: the input's dimension, or
        # bound by its first use here. A `${...}` or a parameter's name is a value, whatever it gives (`"${k}x"`
        # gives the text '2x'), and must be a size, as in an input's shape.
        if isinstance(dim, str) and (dim not in env or isinstance(env[dim], Unknown)):
            if dim in bound:
                want = bound[dim]
            elif isinstance(env.get(dim), Unknown):
                want = Expr.symbol(dim)
            else:
                bound[dim] = got
                wanted.append(got)
                continue
        elif isinstance(want, bool) or not isinstance(want, int) or want < 1:
            return _not_a_size(name, dim, want, pos)
        wanted.append(want)
        verdict = space.decide_eq(got - want)
        if verdict is True:
            continue
        promised = fmt_shape(tuple(wanted) + tuple(_shown(d, env) for d in out.shape[k + 1:]))
        if verdict is False:
            return _broken(name, unit, pos, promised, given, f"dimension {k} is {got}, never {want}")
        pin = space.pinned(want - got, "==")
        if pin is not None:  # equal at one size only (`(L + 1) // 2` promised as `L`): not a size requirement
            return _broken(name, unit, pos, promised, given,
                           f"dimension {k} is {got}, equal to {want} only when {pin[0]} = {pin[1]}")
        pending.append((want - got, eq_text(want - got, 0), promised))
    for lhs, text, promised in pending:  # holds for some input sizes: checked when --input binds them
        verdict = space.decide_eq(lhs)  # with the ones recorded just before
        if verdict is False:  # `[B, L, L, L]` of [B, L, 3, 4]
            return _broken(name, unit, pos, promised, given, f"no size meets `{text}` with the promise's other "
                           "dimensions")
        if verdict is True:  # implied by one just recorded: `[B, 4, L]` of [B, L, 4] needs `L == 4` once, not twice
            continue
        space.record(Constraint(lhs, "==", text, f"output `{name}` promises {promised} and {given}", pos=pos,
                                code="E308"))
    return None


def _channels_last(out: OutputDef, t: TensorType, env: dict[str, Any]) -> tuple[TensorType, str]:
    """The output's type in the order its promise is written, and what to call it: the caller's order, but
    channels-last for an output with a `layout:` (its dimensions 1 and 2 swapped when the caller gets BCL)."""
    layout = evaluate_value(out.layout, env) if isinstance(out.layout, Template) else out.layout
    if layout is None:
        return t, f"`{out.ref}` gives {fmt_shape(t.shape)}"
    if layout == "BCL" and len(t.shape) >= 3:
        t = replace(t, shape=(t.shape[0], t.shape[2], t.shape[1], *t.shape[3:]))
    return t, f"`{out.ref}` gives {fmt_shape(t.shape)} channels-last"


def _value(dim: Any, env: dict[str, Any]) -> Any:
    if isinstance(dim, Template):
        try:
            return evaluate_value(dim, env)
        except (ExprError, NeedConcrete) as err:
            if isinstance(err, ExprError):
                return Diagnostic("E204", f"{err.message} in the promised shape", dim.pos, found=dim.text)
            names = sorted(err.symbols)
            plain = len(dim.parts) == 1 and isinstance(dim.parts[0], ast.Name)  # `"${B}"`: the symbol itself
            hint = (f"write the symbol plainly, `{names[0]}` (not `{dim.text}`): a symbol in a promise stands for "
                    "that dimension of the input" if plain and len(names) == 1 else
                    "a `${...}` in a promise computes a number: write a symbol plainly (`[B, L]`) to promise an "
                    "input's size")
            return Diagnostic("E204", "it depends on an input size in the promised shape", dim.pos, found=dim.text,
                              hint=hint)
    if isinstance(dim, str) and dim in env and not isinstance(env[dim], Unknown):
        return env[dim]
    return dim


def _not_a_size(name: str, dim: Any, value: Any, pos: Any) -> Diagnostic:
    """E212 for a promised dimension whose value (of a `${...}` or a parameter) is not a positive integer."""
    if isinstance(dim, Template):
        found, at = f"`{dim.text}` gives {value!r}", dim.pos or pos
    else:
        found, at = f"{dim} = {value!r}", pos
    hint = ("the text around `${...}` makes this dimension a string: write it as one `${...}` that computes a "
            "positive integer from parameters (`\"${k + 5}\"`), or as a plain symbol (`L`)"
            if isinstance(dim, Template) and not dim.whole and isinstance(value, str) else None)
    return Diagnostic("E212", f"a promised dimension of output `{name}` must be a positive integer", at,
                      expected="a positive integer, a symbol, or a parameter or `${...}` giving a positive integer",
                      found=clip(found, 80), hint=hint)


def _shown(dim: Any, env: dict[str, Any]) -> Any:
    value = _value(dim, env)
    return value if isinstance(value, int | str) else getattr(dim, "text", str(dim))


def _broken(name: str, unit: str, pos: Any, expected: str, given: str, why: str) -> Diagnostic:
    return Diagnostic("E308", f"output `{name}` of `{unit}` breaks its promised shape: {why}", pos,
                      expected=expected, found=given,
                      hint="fix the graph (a missing flatten or pooling?) or the promise")
