"""Symbolic sizes whose formula has no small form are refused at a bound (E303), never built for hours.

Re-pooling a value concatenated along its length with its own pooled copy nests floor divisions whose
written formula doubles at each step (depth 22 took 48 s and 320 MB, depth 30 hours); squaring a length
(matmul of a value with its transpose, then flatten) doubles a monomial's degree. Past
``MAX_EXPR_SIZE`` terms under one floor division, or ``MAX_DEGREE`` factors, the size must be known at
compile time: with the input bound (``inputs=``, ``--input``) every size is an integer.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import vibench
from vibench.compiler.symbolic import MAX_DEGREE, MAX_EXPR_SIZE, Expr, ExpressionTooLarge, NeedConcrete, evaluate


def _pool_concat(depth: int) -> str:
    lines = ["vibench: 1", "name: S", "inputs: {x: {shape: [B, 2, L]}}", "nodes:"]
    prev = "x"
    for i in range(depth):
        lines.append(f"  p{i}: {{block: max_pool1d, in: {prev}, kernel_size: 3, stride: 2}}")
        lines.append(f"  c{i}: {{block: concat, in: [{prev}, p{i}], dim: 2}}")
        prev = f"c{i}"
    return "\n".join([*lines, f"outputs: {{y: {prev}}}", ""])


def _length(length: int, depth: int) -> int:
    for _ in range(depth):
        length += (length - 3) // 2 + 1
    return length


def _pool_steps(limit: int) -> tuple[int, Expr]:
    """How many pool + concat steps stay under the bound, and the length they give."""
    length = Expr.symbol("L")
    steps = 0
    while True:
        try:
            pooled = (length - 3) // 2 + 1
        except ExpressionTooLarge:
            return steps, length
        length = length + pooled
        steps += 1
        assert steps < limit, "the formula never reached the bound"


def test_a_nest_of_floor_divisions_stops_at_the_bound() -> None:
    steps, length = _pool_steps(64)
    assert length.size <= 2 * MAX_EXPR_SIZE + 2
    with pytest.raises(ExpressionTooLarge) as caught:
        (length - 3) // 2
    assert isinstance(caught.value, NeedConcrete)  # the shapes pass's E303, or specialised with L known
    assert caught.value.symbols == {"L"}
    assert f"(at most {MAX_EXPR_SIZE:,})" in caught.value.what
    for value in (3, 4, 17, 1000):  # what stays under the bound is exact
        assert evaluate(length, {"L": value}) == _length(value, steps)


def test_a_product_stops_at_the_degree_bound() -> None:
    d = Expr.symbol("L")
    for _ in range(6):
        d = d * d  # L ** 64
    assert len(d.terms[0][0]) == MAX_DEGREE
    with pytest.raises(ExpressionTooLarge) as caught:
        d * Expr.symbol("B")
    assert caught.value.symbols == {"B", "L"}


def test_a_deep_pool_concat_chain_is_e303_at_the_pool_that_passes_the_bound() -> None:
    steps, _ = _pool_steps(64)
    text = _pool_concat(steps + 3)
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text=text)
    (d,) = caught.value.diagnostics
    assert d.code == "E303"
    assert d.node == f"p{steps}"
    assert d.pos is not None and d.pos.line == 5 + 2 * steps  # the node's line
    assert "terms under a floor division" in d.message and "must be known at compile time" in d.message
    assert "bind it with `inputs=`" in (d.hint or "")


def test_thirty_steps_are_refused_too() -> None:
    steps, _ = _pool_steps(64)
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text=_pool_concat(30))
    assert [(d.code, d.node) for d in caught.value.diagnostics] == [("E303", f"p{steps}")]


def test_with_the_length_bound_every_size_is_an_integer() -> None:
    program = vibench.check(text=_pool_concat(30), inputs={"x": (2, 2, 16)})
    ((_, _, t),) = program.root.outputs
    assert evaluate(t.shape[2], dict(program.bindings)) == _length(16, 30)


def test_a_composite_block_repeated_stops_at_the_bound(tmp_path) -> None:
    (tmp_path / "pc.yaml").write_text(
        "vibench: 1\nname: PoolCat\ninputs: {x: {shape: [B, C, L]}}\nnodes:\n"
        "  p: {block: max_pool1d, in: x, kernel_size: 3, stride: 2}\n"
        "  c: {block: concat, in: [x, p], dim: 2}\noutputs: {y: c}\n", encoding="utf-8")
    spec = tmp_path / "model.yaml"
    spec.write_text("vibench: 1\nname: M\ninputs: {x: {shape: [B, 2, L]}}\nnodes:\n"
                    "  s: {block: pc.yaml, in: x, repeat: 16}\noutputs: {y: s}\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(str(spec))
    assert caught.value.codes == ["E303"]


def test_squaring_a_length_again_and_again_is_refused() -> None:
    lines = ["vibench: 1", "name: D", "inputs: {x: {shape: [B, 1, L]}}", "nodes:"]
    prev = "x"
    for i in range(8):
        lines += [f"  t{i}: {{block: transpose, in: {prev}, dim0: 1, dim1: 2}}",
                  f"  m{i}: {{block: matmul, in: {{x: t{i}, y: {prev}}}}}",
                  f"  f{i}: {{block: flatten, in: m{i}}}",
                  f"  u{i}: {{block: unsqueeze, in: f{i}, dim: 1}}"]
        prev = f"u{i}"
    with pytest.raises(vibench.SpecError) as caught:
        # (E309 would stop it first: one step of L adds more than 2**31 elements; the degree bound is tested here)
        vibench.check(text="\n".join([*lines, f"outputs: {{y: {prev}}}", ""]), max_activation=2**200)
    assert caught.value.codes == ["E303"]
    assert f"(at most {MAX_DEGREE})" in caught.value.diagnostics[0].message


# A product of sums over many symbols: the length of 14 inputs joined along it, squared by a matmul of the
# value with its transpose and flattened, again and again, multiplies out to (L0 + ... + L13) ** 8 (203,490
# terms, 50 s and a 33 MB model.py at three squares). Past ``symbolic.MAX_TERMS`` terms a formula is refused,
# a product before any of its terms is built (its operands' term counts multiplied).


def _joined_squares(inputs: int, squares: int) -> str:
    lines = ["vibench: 1", "name: D", "inputs:"]
    lines += [f"  x{i}: {{shape: [B, 1, L{i}]}}" for i in range(inputs)]
    lines += ["nodes:", f"  c: {{block: concat, in: [{', '.join(f'x{i}' for i in range(inputs))}], dim: 2}}"]
    prev = "c"
    for i in range(squares):
        lines += [f"  t{i}: {{block: transpose, in: {prev}, dim0: 1, dim1: 2}}",
                  f"  m{i}: {{block: matmul, in: {{x: t{i}, y: {prev}}}}}",
                  f"  f{i}: {{block: flatten, in: m{i}}}",
                  f"  u{i}: {{block: unsqueeze, in: f{i}, dim: 1}}"]
        prev = f"u{i}"
    return "\n".join([*lines, f"outputs: {{y: {prev}}}", ""])


def _sum_of_symbols(count: int) -> Expr:
    total = Expr.symbol("L0")
    for i in range(1, count):
        total = total + Expr.symbol(f"L{i}")
    return total


def test_a_product_whose_term_counts_multiply_past_the_bound_is_refused_before_it_is_built() -> None:
    from vibench.compiler import symbolic

    fits = _sum_of_symbols(math.isqrt(symbolic.MAX_TERMS))  # n * n <= MAX_TERMS: built, exact
    square = fits * fits
    assert symbolic.term_count(square) == math.comb(len(fits.terms) + 1, 2)
    assert evaluate(square, {f"L{i}": i + 1 for i in range(len(fits.terms))}) == sum(range(len(fits.terms) + 1)) ** 2
    wide = fits + Expr.symbol("X")
    with pytest.raises(ExpressionTooLarge) as caught:
        wide * wide
    assert isinstance(caught.value, NeedConcrete)
    n = len(wide.terms)
    assert caught.value.what.endswith(f"multiplies formulas of {n} and {n} terms "
                                      f"(up to {n * n:,}, at most {symbolic.MAX_TERMS:,})")
    assert caught.value.symbols == wide.symbols()
    assert "`L0`, `L1`, `L10`" in caught.value.what and f" and {n - 8} more " in caught.value.what  # names, clipped
    with pytest.raises(ExpressionTooLarge):
        (wide + 1) * (fits + 2)  # the constants count as terms: (n + 1) * n products


def test_a_sum_past_the_bound_is_built(tmp_path: Path) -> None:
    """Only products are bounded: a sum grows by its operands alone, and a model's FLOP total (a sum over its
    nodes, each within the bounds) must still be written by --summary (510 pooled inputs: 1,530 terms)."""
    from vibench.compiler import symbolic
    from vibench.compiler.cli import main

    most = _sum_of_symbols(symbolic.MAX_TERMS) + 1
    assert symbolic.term_count(most) == symbolic.MAX_TERMS + 1
    n = 510
    spec = tmp_path / "many.yaml"
    inputs = "".join(f"  x{i}: {{shape: [B, 1, L{i}]}}\n" for i in range(n))
    nodes = "".join(f"  p{i}: {{block: max_pool1d, in: x{i}, kernel_size: 2}}\n" for i in range(n))
    outputs = "".join(f"  y{i}: p{i}\n" for i in range(n))
    spec.write_text(f"vibench: 1\nname: Many\ninputs:\n{inputs}nodes:\n{nodes}outputs:\n{outputs}", encoding="utf-8")
    assert main([str(spec), "--check", "--summary"]) == 0


def test_squaring_a_length_joined_from_many_inputs_is_e303_at_the_matmul() -> None:
    text = _joined_squares(14, 3)
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text=text)
    (d,) = caught.value.diagnostics
    assert (d.code, d.node) == ("E303", "m1")  # (L0 + ... + L13) ** 2 has 105 terms, its square would have 11,025
    assert d.pos is not None and d.pos.line == text.splitlines().index("  m1: {block: matmul, in: {x: t1, y: u0}}") + 1
    assert "multiplies formulas of 105 and 105 terms" in d.message and "must be known at compile time" in d.message
    assert "bind it with `inputs=`" in (d.hint or "")


def test_with_the_lengths_bound_the_joined_squares_compile() -> None:
    inputs = {f"x{i}": (1, 1, 1 + i % 2) for i in range(14)}
    program = vibench.check(text=_joined_squares(14, 2), inputs=inputs)
    ((_, _, t),) = program.root.outputs
    assert [evaluate(d, dict(program.bindings)) for d in t.shape] == [1, 1, 21**4]  # 21 = 7 * 1 + 7 * 2
