"""Symbolic sizes whose formula has no small form are refused at a bound (E303), never built for hours.

Re-pooling a value concatenated along its length with its own pooled copy nests floor divisions whose
written formula doubles at each step (depth 22 took 48 s and 320 MB, depth 30 hours); squaring a length
(matmul of a value with its transpose, then flatten) doubles a monomial's degree. Past
``MAX_EXPR_SIZE`` terms under one floor division, or ``MAX_DEGREE`` factors, the size must be known at
compile time: with the input bound (``inputs=``, ``--input``) every size is an integer.
"""

from __future__ import annotations

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
        vibench.check(text="\n".join([*lines, f"outputs: {{y: {prev}}}", ""]))
    assert caught.value.codes == ["E303"]
    assert f"(at most {MAX_DEGREE})" in caught.value.diagnostics[0].message
