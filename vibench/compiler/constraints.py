"""Constraints on symbolic dimensions, and the context a shape rule talks to.

A :class:`SymbolSpace` (:mod:`vibench.compiler.space`) belongs to one unit specialisation. Shape
rules state what they need (``ctx.require(L, ">=", 7)``, ``ctx.equal(C, 64)``); each statement is
decided right away when it can be: true for every value (dropped), false for every value (E302, or
E301 for mismatched dimensions), or else recorded as a :class:`Constraint` on the free symbols,
reported by ``--check`` and in model.py's docstring and checked against ``--input``.

Deciding is exact for a constraint in one symbol over 1 <= S <= 2**31 (:mod:`vibench.compiler.space`):
no size fits -> an error; every size fits -> dropped. With several symbols a statement is refused
only when bounds or divisibility prove it impossible (never on samples).

A constraint that only one size of a free symbol meets is E306 ("holds only when L = 1"): a concat
of [B, 4, L] and [B, 4, (L + 1) // 2], a residual add whose one side is 1 long at a single L. The
exception is a *size requirement*, a dimension compared with a fixed number (`D == 128`,
`L // 2 + L == 127`: every term on one side): fixing the size is then its very purpose.

Broadcasting (:meth:`NodeContext.broadcast`) is exact where the result is one expression: a
dimension `d` against a fixed size `c` needs `d == 1 or d == c` and gives `c`, recorded as the one
equality `(d - 1) * (d - c) == 0` (read back as `d == 1 or d == c`). Two symbolic dimensions that
may both be 1 (`L` vs `M`) give one of them, say `L`, and need `M == 1 or L == M`: the case
`L == 1 < M`, which torch would also accept, is the one case refused (the result would be `M`). The
"is 1" kept is the one more sizes meet (`(L + 2) // 4 - 1 == 1` for L in 6..9 over `L2 == 1`); on
a tie, the second input's, so the result is the first input's size. E306 looks at all three ways.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from vibench.compiler.blocks.base import ShapeError
from vibench.compiler.ir import Constraint, Pos, TensorType
from vibench.compiler.solve import MAX_DIM, quadratic_roots, single_symbol, strip_common_factor
from vibench.compiler.space import SymbolSpace, compares_with_number, solve_ge
from vibench.compiler.symbolic import Dim, Expr, fmt_dim, fmt_shape, free_symbols
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.symbolic_intervals import INF

__all__ = ["NodeContext", "SymbolSpace", "eq_text", "found_text", "ge_text"]


def ge_text(e: Dim) -> str:
    """A readable ``lhs >= bound`` for ``e >= 0``: ``(L + 3) // 4 - 7`` reads ``L >= 25``."""
    solved = solve_ge(e)
    if solved is not None:
        s, op, k = solved
        return f"{s} {op} {fmt_dim(k)}"
    if isinstance(e, int):
        return f"{fmt_dim(e)} >= 0"
    k = e.const
    t = e - k
    return f"{t} >= {fmt_dim(-k)}" if not isinstance(t, int) else f"{e} >= 0"


def eq_text(lhs: Dim, rhs: Dim) -> str:
    """A readable ``lhs == rhs``: ``L // 128 - 32 == 0`` reads ``L // 128 == 32``, and a recorded
    alternative ``(L - 1) * (L - 4) == 0`` reads ``L == 1 or L == 4``."""
    if not (isinstance(rhs, int) and rhs == 0):  # `4 == L` (a block's check) reads `L == 4`: as a difference
        diff = lhs - rhs
        # (never as roots: `L * L == 16`)
        return _sides(diff) if not isinstance(diff, int) else f"{fmt_dim(lhs)} == {fmt_dim(rhs)}"
    if isinstance(rhs, int) and rhs == 0 and not isinstance(lhs, int):
        quadratic = quadratic_roots(lhs)
        if quadratic is not None and quadratic[1]:
            x, roots = quadratic
            return " or ".join(f"{x} == {r}" for r in roots)
        return _sides(lhs)
    return f"{fmt_dim(lhs)} == {fmt_dim(rhs)}"


def _sides(lhs: Expr) -> str:
    """``lhs == 0`` with the positive terms on one side and the negative on the other (`L == C + 3`)."""
    plus = Expr._make({m: c for m, c in lhs.terms if c > 0}, max(lhs.const, 0))
    minus = Expr._make({m: -c for m, c in lhs.terms if c < 0}, max(-lhs.const, 0))
    if isinstance(plus, int):  # `5 - L == 0` reads `L == 5`, not `-L == -5`
        plus, minus = minus, plus
    return f"{plus} == {minus}"  # `L - C - 3 == 0` reads `L == C + 3`


def found_text(c: Constraint, bindings: dict[str, int]) -> str:
    """What ``--input`` gave for a violated constraint, in the constraint's own terms: the sizes it
    reads, then each side of its text that is not a bare size (``L = 1024, so L // 128 = 8`` for
    ``L // 128 == 32``; ``L = 40, so L % 16 = 8`` for ``L % 16 == 0``)."""
    shown = ", ".join(f"{k} = {bindings[k]}" for k in sorted(free_symbols(c.lhs)) if k in bindings)
    said: dict[str, int] = {}
    try:
        tree = ast.parse(c.text, mode="eval").body  # our own rendering of the dims, never evaluated as code
    except (SyntaxError, ValueError, RecursionError):
        return shown
    alternatives = tree.values if isinstance(tree, ast.BoolOp) else [tree]
    for alt in alternatives:
        sides = [alt.left, *alt.comparators] if isinstance(alt, ast.Compare) else []
        for side in sides:
            text = ast.get_source_segment(c.text, side)
            value = _value(side, bindings)
            if text and value is not None and not isinstance(side, (ast.Name, ast.Constant)):
                said.setdefault(text, value)
    return shown + (", so " + " and ".join(f"{k} = {v}" for k, v in said.items()) if said else "")


_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}


def _value(node: ast.expr, bindings: dict[str, int]) -> int | None:
    """The integer value of a rendered dimension (symbols, integers, + - * // %), or None."""
    if isinstance(node, ast.Name):
        return bindings.get(node.id)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _value(node.operand, bindings)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _value(node.left, bindings), _value(node.right, bindings)
        if a is None or b is None or (b == 0 and isinstance(node.op, (ast.FloorDiv, ast.Mod))):
            return None
        return _OPS[type(node.op)](a, b)
    return None


class NodeContext:
    """The :class:`ShapeContext` given to a block's shape rule for one node."""

    def __init__(self, space: SymbolSpace, node: str, block: str, pos: Pos | None,
                 param_pos: dict[str, Pos | None], port_pos: dict[str, Pos | None],
                 float_dtype: str = "float32") -> None:
        self.space = space
        self.float_dtype = float_dtype  # the model's (see ShapeContext)
        self.node = node
        self.block = block
        self.pos = pos
        self.param_pos = param_pos
        self.port_pos = port_pos
        self.resolved: dict[str, Any] = {}

    def fail(self, message: str, *, code: str = "E301", port: str | None = None, expected: str | None = None,
             found: str | None = None, hint: str | None = None, param: str | None = None) -> ShapeError:
        return ShapeError(code, message, port=port, expected=expected, found=found, hint=hint, param=param)

    def rank(self, port: str, t: TensorType, ranks: int | Sequence[int], layout: str = "") -> None:
        allowed = [ranks] if isinstance(ranks, int) else list(ranks)
        if len(t.shape) not in allowed:
            if len(allowed) == 1:
                want = f"rank {allowed[0]}"
            elif allowed == list(range(allowed[0], allowed[-1] + 1)) and len(allowed) > 3:
                want = f"rank >= {allowed[0]}"
            else:
                want = "rank " + " or ".join(map(str, allowed))
            raise ShapeError("E301", f"`{self.block}` expects a {want} input" + (f" {layout}" if layout else ""),
                             port=port, expected=(layout or want), found=f"{fmt_shape(t.shape)} (rank {len(t.shape)})",
                             hint=_rank_hint(len(t.shape), allowed))

    def equal(self, found: Dim, expected: Dim, *, port: str | None, what: str, t: TensorType | None = None,
              param: str | None = None, hint: str | None = None) -> None:
        _text("ctx.equal", "what", what)
        if hint is not None:
            _text("ctx.equal", "hint", hint)
        e = found - expected
        verdict = self.space.decide_eq(e)
        if verdict is True:
            return
        shape = f" (input shape {fmt_shape(t.shape)})" if t is not None else ""
        if verdict is False:
            raise ShapeError("E301", f"{what} does not match", port=port, param=param,
                             expected=fmt_dim(expected), found=f"{fmt_dim(found)}{shape}", hint=hint,
                             notes=self._never(e))
        text = eq_text(found, expected)  # `4 == L` reads `L == 4`
        self._refuse_pin(e, "==", text, what, port=port, param=param)
        self.space.record(Constraint(e, "==", text, what, node=self.node, pos=self.pos))

    def broadcast(self, dims: Sequence[Dim], *, port: str | None, what: str) -> Dim:
        """The broadcast of one dimension of several inputs (torch's rule: sizes of 1 stretch, the
        others agree), recording what it needs; exact but for one case (see the module docstring)."""
        out = dims[0]
        for d in dims[1:]:
            out = self._broadcast2(out, d, port, what)
        return out

    def _broadcast2(self, a: Dim, b: Dim, port: str | None, what: str) -> Dim:
        if a == b or b == 1:
            return a
        if a == 1:
            return b
        space = self.space
        same = space.decide_eq(a - b)
        a_one, b_one = space.decide_eq(a - 1), space.decide_eq(b - 1)
        if same is True or b_one is True:
            return a
        if a_one is True:
            return b
        same_text = f"{fmt_dim(b)} == {fmt_dim(a)}" if isinstance(a, int) else f"{a} == {fmt_dim(b)}"
        # Every way torch accepts it: equal sizes, or either one 1.
        ways = [(e, text, fixed) for e, text, fixed, verdict in (
            (a - b, same_text, True, same), (a - 1, f"{fmt_dim(a)} == 1", False, a_one),
            (b - 1, f"{fmt_dim(b)} == 1", False, b_one))
            if verdict is not False]
        if not ways:
            raise ShapeError("E301", f"{what} does not match", port=port, expected=fmt_dim(a), found=fmt_dim(b),
                             hint="sizes broadcast only when they are equal or one of them is 1")
        self._refuse_single_size(ways, what, port)
        # The result is `a` when b is 1 or equal to a, `b` when a is 1: record the ways that give one
        # result. When both may be 1, keep the "is 1" that more sizes meet; the other is given up.
        if a_one is None and b_one is None:
            a_ones, b_ones = space.solve(a - 1, "=="), space.solve(b - 1, "==")
            flip = a_ones is not None and a_ones.count == 2 and b_ones is not None and b_ones.count <= 1
        else:
            flip = b_one is False
        out, one = (b, a) if flip else (a, b)
        kept = [(e, text) for e, text, _ in ways if text != f"{out} == 1"]
        if len(kept) == 1:
            e, text = kept[0]
        else:
            (e_same, _), (e_one, one_text) = kept
            e, text = e_same * e_one, f"{one_text} or {same_text}"
        self.space.record(Constraint(e, "==", text, what, node=self.node, pos=self.pos))
        return out

    def _refuse_single_size(self, ways: list[tuple[Dim, str, bool]], what: str, port: str | None) -> None:
        """E306 when all the ways a broadcast works together leave one size of one free symbol (unless
        that is a size requirement: one dimension equal to a fixed number)."""
        symbols = {single_symbol(strip_common_factor(e)) for e, _, _ in ways}
        found = [self.space.solve(e, "==") for e, _, _ in ways]
        if len(symbols) != 1 or None in symbols or any(f is None or f.count == 2 for f in found):
            return
        values = {f.first for f in found if f is not None and f.count == 1}
        if len(values) != 1 or any(fixed and f is not None and f.count and compares_with_number(
                strip_common_factor(e)) for (e, _, fixed), f in zip(ways, found, strict=True)):
            return
        (s,), (v,) = symbols, values
        assert s is not None and v is not None
        raise self._single_size(" or ".join(text for _, text, _ in ways), what, s, v, port=port)

    def _refuse_pin(self, e: Dim, op: str, text: str, what: str, *, port: str | None = None,
                    param: str | None = None, mod: int = 0, size_requirement: bool = True) -> None:
        """E306 when ``e op 0`` holds for a single size of a free symbol (see ``SymbolSpace.pinned``)."""
        pin = self.space.pinned(e, op, mod, size_requirement=size_requirement)
        if pin is not None:
            raise self._single_size(text, what, *pin, port=port, param=param)

    def _single_size(self, text: str, what: str, s: str, v: int, *, port: str | None = None,
                     param: str | None = None) -> ShapeError:
        lo, hi = self.space.bounds.get(s, (1, INF))
        top = "2**31" if hi >= MAX_DIM else str(int(hi))
        return ShapeError("E306", f"{what}: `{text}` holds only when {s} = {v}", port=port, param=param,
                          expected=f"`{text}` to hold for more than one size of {s}",
                          found=f"of {int(lo)} <= {s} <= {top}, only {s} = {v} meets it",
                          hint=f"check the sizes of the layers that lead here; if {s} is always {v}, "
                               f"write {v} in the input's shape instead of {s}")

    def _never(self, e: Dim) -> tuple[str, ...]:
        """A note for an equality no size meets, when it reads one free symbol."""
        s = single_symbol(strip_common_factor(e))
        if s is None:
            return ()
        lo, hi = self.space.bounds.get(s, (1, INF))
        top = "2**31" if hi >= MAX_DIM else str(int(hi))
        sources = ", ".join(f"`{c.text}` from node `{c.node}`" for c in self.space.bound_sources(s) if c.node)
        return (f"no size of {s} in {int(lo)} <= {s} <= {top} meets it" + (f" ({sources})" if sources else ""),)

    def require(self, lhs: Dim, op: str, rhs: Dim, reason: str, *, param: str | None = None,
                code: str = "E305", stated: Callable[[], tuple[str, str] | None] | None = None) -> None:
        """Record ``lhs op rhs`` (``%``: divisible), or raise E302/E306 when no size, or one only, meets it.
        ``code``: what breaking it with --input is (E308 for a composite's promise, re-stated at its call).
        ``stated``: made only for an E302, (the statement, the sizes it was given) in the words of a composite
        block whose statement this is, re-stated at its call: E302's expected and found when no recorded
        constraint is what breaks it (`P >= 10` and `P = 8 at this call`, where the statement with its sizes put
        in reads `-2 >= 0`)."""
        _text("ctx.require", "reason", reason)
        if op == "%":
            assert isinstance(rhs, int)
            verdict = self.space.decide_mod(lhs, rhs)
            if verdict is False:
                text = f"{fmt_dim(lhs)} % {rhs} == 0"
                expected, found = _words(text, self._conflict(lhs, "%", rhs), stated, fmt_dim(lhs))
                raise ShapeError("E302", f"{reason}: {fmt_dim(lhs)} is never divisible by {rhs}", param=param,
                                 expected=expected, found=found)
            if verdict is None:
                self._refuse_pin(lhs, "%", f"{lhs} % {rhs} == 0", reason, param=param, mod=rhs)
                self.space.record(Constraint(lhs, "%", f"{lhs} % {rhs} == 0", reason, mod=rhs, node=self.node,
                                             pos=self.pos))
            return
        if op == "==":
            e = lhs - rhs
            verdict = self.space.decide_eq(e)
            if verdict is False:
                expected, found = _words(eq_text(lhs, rhs), self._conflict(e, "=="), stated,
                                         f"{fmt_dim(lhs)} vs {fmt_dim(rhs)}")
                raise ShapeError("E302", f"impossible constraint: {reason}", param=param,
                                 expected=expected, found=found, notes=self._never(e))
            if verdict is None:
                self._refuse_pin(e, "==", eq_text(lhs, rhs), reason, param=param)
                self.space.record(Constraint(e, "==", eq_text(lhs, rhs), reason, node=self.node, pos=self.pos,
                                             code=code))
            return
        e = {">=": lambda: lhs - rhs, ">": lambda: lhs - rhs - 1,
             "<=": lambda: rhs - lhs, "<": lambda: rhs - lhs - 1}[op]()
        verdict = self.space.decide_ge(e)
        if verdict is False:
            expected, found = _words(ge_text(e) if rhs == 0 else f"{fmt_dim(lhs)} {op} {fmt_dim(rhs)}",
                                     self._conflict(e, ">="), stated, f"{fmt_dim(lhs)} vs {fmt_dim(rhs)}")
            raise ShapeError("E302", f"impossible constraint: {reason}", param=param,
                             expected=expected, found=found, notes=self._never(e))
        if verdict is None:
            self._refuse_pin(e, ">=", ge_text(e), reason, param=param)
            self.space.record(Constraint(e, ">=", ge_text(e), reason, node=self.node, pos=self.pos, code=code))

    def _conflict(self, e: Dim, op: str, mod: int = 0) -> str | None:
        """The recorded constraints that make ``e op 0`` (``>=``, ``==``, or ``e % mod == 0``) impossible,
        when some do (not ``e`` alone): those that set a bound of a symbol without which it could hold (`L == 8`,
        needed by node `backbone`, against `L >= 16`), else for ``>=`` the latest ``>=`` on a symbol of ``e``."""
        if isinstance(e, int) or not _possible(e, op, {}, mod):
            return None
        symbols = free_symbols(e)
        blocking: list[Constraint] = []
        for s in sorted(symbols):
            lo, hi = self.space.bounds.get(s, (1, INF))
            for c in self.space.bound_sources(s):
                sides = _bound_sides(c)
                relaxed = (1 if ">=" in sides else lo, INF if "<=" in sides else hi)
                if _possible(e, op, {**self.space.bounds, s: relaxed}, mod) and all(c is not b for b in blocking):
                    blocking.append(c)
        if not blocking and op == ">=":
            blocking = [c for c in reversed(self.space.outer + self.space.constraints)
                        if c.op == ">=" and free_symbols(c.lhs) & symbols][:1]
        return "; ".join(_needed(c) for c in blocking) or None

    def concrete(self, d: Dim, what: str, *, port: str | None = None) -> int:
        if isinstance(d, int):
            return d
        err = NeedConcrete(frozenset(free_symbols(d)), f"{what} `{d}`")
        err.node = self.node
        err.pos = self.port_pos.get(port) if port else self.pos
        raise err

    def set(self, name: str, value: Any) -> None:
        self.resolved[name] = value

    def dtype(self, port: str, t: TensorType, allowed: frozenset[str], what: str = "") -> None:
        if t.dtype not in allowed:
            raise ShapeError("E304", f"`{self.block}` cannot take {_article(t.dtype)} {t.dtype} input", port=port,
                             expected=what or " or ".join(sorted(allowed)), found=t.dtype,
                             hint=_dtype_hint(t.dtype, allowed))


def _words(expected: str, conflict: str | None, stated: Callable[[], tuple[str, str] | None] | None,
           found: str) -> tuple[str, str]:
    """E302's expected and found: the statement against the recorded constraints that break it, else as the
    composite block ``stated`` it, else ``found``, its sides in the rule's own terms (`1 >= 3`: `1 vs 3`)."""
    if conflict is not None:
        return expected, conflict
    return (stated and stated()) or (expected, found)


def _possible(e: Dim, op: str, sizes: dict[str, tuple[float, float]], mod: int = 0) -> bool:
    """Whether ``e op 0`` (``>=``, ``==``, or ``e % mod == 0``) may hold with the symbols in the intervals
    ``sizes``."""
    probe = SymbolSpace()
    probe.bounds = sizes
    verdict = probe.decide_ge(e) if op == ">=" else probe.decide_eq(e) if op == "==" else probe.decide_mod(e, mod)
    return verdict is not False


def _bound_sides(c: Constraint) -> set[str]:
    """Which bounds of its one symbol a recorded constraint sets: `L == 8` both, `L >= 10` the lower."""
    solved = solve_ge(c.lhs) if c.op == ">=" else None
    return {">=", "<="} if solved is None else {solved[1]}


def _needed(c: Constraint) -> str:
    """A recorded constraint as E302's `found` names it: its text, the node that needs it and why."""
    return f"`{c.text}`, needed by node `{c.node}`: {c.reason}" if c.node else f"`{c.text}`: {c.reason}"


def _rank_hint(found: int, allowed: list[int]) -> str | None:
    if found == 3 and 2 in allowed:
        return "insert `{block: flatten, in: ...}` or a pooling block before this node"
    if found == 2 and 3 in allowed:
        return "insert `{block: unsqueeze, in: ..., dim: 1}` to add a channel dimension"
    return None


def _dtype_hint(found: str, allowed: frozenset[str]) -> str | None:
    if found.startswith("complex") and any(a.startswith("float") for a in allowed):
        return "take the magnitude first (`{block: abs, ...}`) or use irfft"
    if found.startswith("float") and "int64" in allowed:
        return "this block reads integer ids; declare the input with `dtype: int64`"
    return None


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _text(method: str, argument: str, value: object) -> None:
    """A plug-in's text for messages and model.py must be a plain str: anything else is its shape rule's error
    (E114), raised inside its call (an object's __str__ ran later, where a SystemExit ended vibench silently)."""
    if type(value) is not str:
        raise TypeError(f"{method}'s {argument} must be a str; found {type(value).__name__}")
