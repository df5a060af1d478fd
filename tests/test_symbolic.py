"""The canonical integer expressions agree with integer arithmetic, stay small, and render as Python."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vibench.compiler.symbolic import Expr, NonConstantDivisor, ceildiv, evaluate, floordiv

SYMBOLS = ("B", "L", "C")


def _apply(op: str, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b


@st.composite
def programs(draw, max_ops: int = 12):
    """A random straight-line program over symbols and small integers (no division by symbols)."""
    ops = []
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from("+-*/"))
        if op == "/":
            ops.append((op, draw(st.integers(1, 9))))
        elif op == "*":
            ops.append((op, draw(st.one_of(st.integers(-4, 6), st.sampled_from(SYMBOLS)))))
        else:
            ops.append((op, draw(st.one_of(st.integers(-50, 50), st.sampled_from(SYMBOLS)))))
    return draw(st.sampled_from(SYMBOLS)), ops


def _run(start, ops, env, symbolic: bool):
    value = Expr.symbol(start) if symbolic else env[start]
    for op, arg in ops:
        if isinstance(arg, str):
            arg = Expr.symbol(arg) if symbolic else env[arg]
        value = _apply(op, value, arg)
    return value


@given(programs(), st.fixed_dictionaries({s: st.integers(-300, 5000) for s in SYMBOLS}))
def test_canonical_form_evaluates_like_integers(program, env):
    start, ops = program
    symbolic = _run(start, ops, env, symbolic=True)
    assert evaluate(symbolic, env) == _run(start, ops, env, symbolic=False)


@given(programs(), st.fixed_dictionaries({s: st.integers(1, 4096) for s in SYMBOLS}))
def test_rendering_is_python_with_the_same_value(program, env):
    start, ops = program
    symbolic = _run(start, ops, env, symbolic=True)
    assert eval(str(symbolic), {}, dict(env)) == evaluate(symbolic, env)  # noqa: S307 - our own rendering


@given(programs(), st.fixed_dictionaries({s: st.integers(1, 4096) for s in SYMBOLS}))
def test_bounds_contain_the_value(program, env):
    start, ops = program
    symbolic = _run(start, ops, env, symbolic=True)
    lo, hi = (symbolic, symbolic) if isinstance(symbolic, int) else symbolic.bounds({})
    assert lo <= evaluate(symbolic, env) <= hi


@given(st.lists(st.tuples(st.integers(1, 11), st.integers(1, 4), st.integers(0, 5)), min_size=1, max_size=40),
       st.integers(1, 100_000))
def test_conv_chains_stay_one_floor_division(layers, length):
    """Any chain of conv/pool layers is `(L + a) // b + c`: constant size, like the design's rule."""
    L = Expr.symbol("L")
    d = L
    n = length
    for kernel, stride, pad in layers:
        d = (d + 2 * pad - kernel) // stride + 1
        n = (n + 2 * pad - kernel) // stride + 1
    if isinstance(d, int):
        return
    assert evaluate(d, {"L": length}) == n
    floors = [a for mono, _ in d.terms for a in mono if not isinstance(a, str)]
    assert len(floors) <= 1
    assert len(str(d)) < 60


def test_known_canonical_forms():
    L = Expr.symbol("L")
    assert str((L + 2 * 3 - 7) // 2 + 1) == "(L + 1) // 2"
    assert str((((L + 1) // 2) + 2 - 3) // 2 + 1) == "(L + 3) // 4"
    assert (L - 2) + 2 == L
    assert floordiv(4 * L + 8, 4) == L + 2
    assert floordiv(2 * L + 3, 4) == floordiv(L + 1, 2)
    assert str(ceildiv(L, 16)) == "(L + 15) // 16"
    assert (L * 0) == 0 and isinstance(L - L, int)


def test_division_by_a_symbol_is_refused():
    L = Expr.symbol("L")
    try:
        _ = 8 // L
    except NonConstantDivisor:
        pass
    else:  # pragma: no cover
        raise AssertionError("dividing by a symbol must raise")


def test_long_strided_chains_do_not_nest():
    """200 stride-2 layers give one floor division, not 200 nested ones (sympy's blow-up)."""
    L = Expr.symbol("L")
    d = L
    for _ in range(200):
        d = (d + 2 * 1 - 4) // 2 + 1
    assert str(d) == f"L // {2**200}"
    assert evaluate(d, {"L": 2**201 + 5}) == (2**201 + 5) // 2**200
