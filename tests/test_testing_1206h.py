"""Arguments of the wrong kind or value to vibench.testing's check_runtime, compile_case and minimise
are a TypeError or ValueError naming the argument (docs/api.md), not an error from deep inside."""

from __future__ import annotations

import pytest

from vibench import testing
from vibench.testing.blocks import compile_case
from vibench.testing.reduce import minimise
from vibench.testing.specs import ChainCase

SPEC = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


@pytest.mark.parametrize("inputs", [{"x": (10**12, 4)}, [testing.TensorCase("x", ("B", 4), (10**12, 4))]])
def test_check_runtime_bounds_the_elements_of_an_input(inputs):
    with pytest.raises(ValueError, match=r"'x'.*2\*\*28"):
        testing.check_runtime(SPEC, inputs, backends=())


def test_check_runtime_takes_sizes_below_the_bound():
    assert testing.check_runtime(SPEC, {"x": (2, 4)}, backends=()) == []


@pytest.mark.parametrize("fill", ["abc", True, [1]])
def test_check_runtime_refuses_a_fill_that_is_no_number(fill):
    case = testing.TensorCase("x", ("B", 4), (2, 4), fill=fill)
    with pytest.raises(TypeError, match="fill of 'x'"):
        testing.check_runtime(SPEC, [case], backends=())


def test_check_runtime_refuses_an_input_given_twice():
    cases = [testing.TensorCase("x", ("B", 4), (2, 4)), testing.TensorCase("x", ("B", 4), (3, 4))]
    with pytest.raises(ValueError, match="'x' twice"):
        testing.check_runtime(SPEC, cases, backends=())


@pytest.mark.parametrize("case", ["relu", None, ChainCase(SPEC, (), (), ())])
def test_compile_case_refuses_what_is_no_block_case(case):
    with pytest.raises(TypeError, match="case is a vibench.testing.BlockCase"):
        compile_case(case)


@pytest.mark.parametrize(("args", "error", "names"), [
    ((SPEC, None), TypeError, "still_fails"),
    ((SPEC.encode(), bool), TypeError, "text"),
    ((SPEC, bool, -1), ValueError, "budget"),
    ((SPEC, bool, "a"), TypeError, "budget"),
    ((SPEC, bool, True), TypeError, "budget"),
])
def test_minimise_checks_its_arguments(args, error, names):
    with pytest.raises(error, match=names):
        minimise(*args)


def test_minimise_budget_zero_gives_the_text_back():
    assert minimise(SPEC, bool, 0) == SPEC
