"""The canonical integer expressions agree with integer arithmetic, stay small, and render as Python."""

from __future__ import annotations

from hypothesis import given, settings
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


# --------------------------------------------------------------------------------------------
# exact decisions in one symbol (vibench.compiler.solve)
# --------------------------------------------------------------------------------------------


@st.composite
def one_symbol_expressions(draw, depth: int = 0):
    """Quasi-linear expressions in L: sums of L and nested floor divisions, as conv/pool chains,
    concats and broadcasts produce them."""
    L = Expr.symbol("L")
    e = draw(st.sampled_from([1, 1, 2, 3])) * L + draw(st.integers(-20, 20))
    for _ in range(draw(st.integers(0, 2))):
        if depth < 2 and draw(st.booleans()):
            inner = draw(one_symbol_expressions(depth + 1))
            e = e + draw(st.sampled_from([1, -1, 2, -3])) * floordiv(inner, draw(st.sampled_from([2, 3, 4, 5, 8, 128])))
        else:
            e = e + draw(st.sampled_from([1, -1, 2, -2])) * L
    return e


@settings(max_examples=300)
@given(one_symbol_expressions(), st.integers(-60, 250), st.sampled_from(["==", ">=", "%"]),
       st.sampled_from([2, 3, 16]), st.sampled_from([1, 2, 9]), st.sampled_from([40, 300, 5000]))
def test_one_symbol_solutions_match_brute_force(e, shift, op, mod, lo, hi):
    from vibench.compiler.solve import Solutions, solutions

    e = e - shift
    found = solutions(e, op, lo, hi, mod if op == "%" else 0)
    if found is None or isinstance(e, int):
        return  # over the search budget: the caller keeps the constraint (never refuses on it)
    values = [evaluate(e, {"L": v}) for v in range(lo, hi + 1)]
    ok = [v for v, x in zip(range(lo, hi + 1), values, strict=True)
          if (x == 0 if op == "==" else x >= 0 if op == ">=" else x % mod == 0)]
    assert found == Solutions(min(2, len(ok)), ok[0] if ok else None, len(ok) == hi - lo + 1)


def test_one_symbol_solutions_known_cases():
    from vibench.compiler.solve import MAX_DIM, Solutions, quadratic_roots, solutions, strip_common_factor

    L, B = Expr.symbol("L"), Expr.symbol("B")
    assert solutions((L + 1) // 2 - L, "==", 1, MAX_DIM) == Solutions(1, 1, False)  # only L = 1
    assert solutions(L // 128 - 32, "==", 1, MAX_DIM).first == 4096  # 4096..4223
    assert solutions(L // 128 - 32, "==", 4224, MAX_DIM).count == 0
    assert solutions(L - 2**32, ">=", 1, MAX_DIM).count == 0  # no realistic size
    assert solutions(L // 2 - L // 2, "==", 1, MAX_DIM) is None  # constant: not an expression in L
    assert solutions(L // 2 + (L + 1) // 2 - L, "==", 1, MAX_DIM).every  # floor + ceil of halves is L
    assert strip_common_factor(B * ((L + 1) // 2) - B * L) == (L + 1) // 2 - L
    assert quadratic_roots((L - 1) * (L - 4)) == (L, (1, 4))
    assert quadratic_roots((2 * L - 1) * (L - 4)) == (L, (4,))  # 2L - 1 == 0 has no integer root
    assert quadratic_roots(L * B - 1) is None


def test_solve_docstring_examples():
    import doctest

    from vibench.compiler import solve

    result = doctest.testmod(solve)
    assert result.attempted > 0 and result.failed == 0


@settings(max_examples=300)
@given(one_symbol_expressions(), st.integers(-60, 5000), st.booleans())
def test_one_symbol_bounds_match_brute_force(e, shift, negate):
    """``solve_ge`` turns ``e >= 0`` into ``L >= k`` or ``L <= k``: the symbol space narrows its
    intervals with it, the messages print it, and model.py tests the input's size with it."""
    from vibench.compiler.space import solve_ge

    e = (-e if negate and not isinstance(e, int) else e) - shift
    solved = solve_ge(e)
    if solved is None:
        return  # not a bound on L alone: kept as written
    symbol, op, k = solved
    assert symbol == "L"
    for value in range(-40, 6000):
        holds = evaluate(e, {"L": value}) >= 0
        assert holds == (value >= k if op == ">=" else value <= k), (str(e), solved, value)


def test_one_symbol_bounds_known_cases():
    from vibench.compiler.space import solve_ge

    L = Expr.symbol("L")
    assert solve_ge(L - 16) == ("L", ">=", 16)
    assert solve_ge(-(L // 8) + 5001) == ("L", "<=", 40015)  # L // 8 <= 5001: up to 8 * 5001 + 7
    assert solve_ge((L + 3) // 4 - 7) == ("L", ">=", 25)
    assert solve_ge(L - Expr.symbol("B")) is None
    assert solve_ge(L // 2 - L // 3) is None
