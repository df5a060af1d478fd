"""Output promises: ``outputs: {logits: {from: fc, shape: [B, num_classes]}}``.

A promise states the shape an output has. Each dimension is an integer, a parameter (or `let:`)
name, a `${...}`, or a symbol: a symbol of the unit's inputs stands for that dimension
(``B``), any other symbol is bound by its first use (``[B, n, n]`` promises a square). The shapes
pass checks every promise against what the graph computes: a different rank, or a dimension the
compiler proves different (``L // 32`` is never ``L``, ``10`` is not ``4``), is E308 at the
promise. A dimension that depends on the input sizes and may or may not match is not an error.
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.expr import ExprError, Unknown, evaluate_value
from vibench.compiler.ir import OutputDef, Template, TensorType
from vibench.compiler.space import SymbolSpace
from vibench.compiler.symbolic import Dim, Expr, NeedConcrete, fmt_shape


def check_promise(out: OutputDef, name: str, t: TensorType, env: dict[str, Any], space: SymbolSpace,
                  unit: str) -> Diagnostic | None:
    """E308 when output ``name`` (of ``out``) provably breaks its promised shape, else None."""
    assert out.shape is not None
    pos = out.shape_pos or out.pos
    wanted: list[Dim] = []
    bound: dict[str, Dim] = {}
    if len(out.shape) != len(t.shape):
        promised = "[" + ", ".join(str(_shown(d, env)) for d in out.shape) + "]"
        return _broken(name, unit, out, pos, promised, t, f"rank {len(t.shape)}, not {len(out.shape)}")
    for k, (dim, got) in enumerate(zip(out.shape, t.shape, strict=True)):
        want = _value(dim, env)
        if isinstance(want, Diagnostic):
            return want
        if isinstance(want, str):  # a symbol: the input's dimension, or bound by its first use here
            if want in bound:
                want = bound[want]
            elif isinstance(env.get(want), Unknown):
                want = Expr.symbol(want)
            else:
                bound[want] = got
                wanted.append(got)
                continue
        wanted.append(want)
        if isinstance(want, bool) or not isinstance(want, int | Expr):
            return Diagnostic("E308", f"the promised shape of output `{name}` has dimension {k} = {want!r}", pos,
                              expected="a positive integer or a symbol", found=clip(repr(want), 60))
        if space.decide_eq(got - want) is False:
            return _broken(name, unit, out, pos, fmt_shape(tuple(wanted) + tuple(
                _shown(d, env) for d in out.shape[k + 1:])), t, f"dimension {k} is {got}, never {want}")
    return None


def _value(dim: Any, env: dict[str, Any]) -> Any:
    if isinstance(dim, Template):
        try:
            return evaluate_value(dim, env)
        except (ExprError, NeedConcrete) as err:
            text = err.message if isinstance(err, ExprError) else "it depends on an input size"
            return Diagnostic("E204", f"{text} in the promised shape", dim.pos, found=dim.text)
    if isinstance(dim, str) and dim in env and not isinstance(env[dim], Unknown):
        return env[dim]
    return dim


def _shown(dim: Any, env: dict[str, Any]) -> Any:
    value = _value(dim, env)
    return value if isinstance(value, int | str) else getattr(dim, "text", str(dim))


def _broken(name: str, unit: str, out: OutputDef, pos: Any, expected: str, t: TensorType, why: str) -> Diagnostic:
    return Diagnostic("E308", f"output `{name}` of `{unit}` breaks its promised shape: {why}", pos,
                      expected=expected, found=f"`{out.ref}` gives {fmt_shape(t.shape)}",
                      hint="fix the graph (a missing flatten or pooling?) or the promise")
