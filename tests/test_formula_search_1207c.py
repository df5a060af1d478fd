"""The formula search of a literal that differs between the uses of a class is bounded (a QA pass on 12-07): it
built the code of five formulas per ordered pair of the class's integer names before testing any, so a composite
with 1,000 `let:` values spent 18 s of CPU on one literal (2,000: over a minute). Formulas are now tested on the
numbers first, only those of names that differ between uses (a formula of names that do not gives one value),
integer formulas only for integer values, and pairs of at most MAX_FORMULA_NAMES names; the code is built for
the formula that fits. What it finds is what it found before: the first fitting formula in the same order."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

import pytest

import vibench
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen import formula
from vibench.compiler.codegen.layout import flat


def _count(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the candidate formulas tested and the formula code built."""
    counts = {"tested": 0, "built": 0}
    candidates, binop = formula._candidates, c.binop

    def tested(*args: Any) -> Any:
        for candidate in candidates(*args):
            counts["tested"] += 1
            yield candidate

    def built(*args: Any) -> ast.BinOp:
        counts["built"] += 1
        return binop(*args)

    monkeypatch.setattr(formula, "_candidates", tested)
    monkeypatch.setattr(c, "binop", built)
    return counts


def test_no_formula_among_hundreds_of_names_is_bounded_and_builds_no_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 integer names that all differ between the uses, and values no formula gives: 450,000 formulas were built
    and tested before."""
    names = [f"a{k}" for k in range(300)]
    uses = [{n: j + k for k, n in enumerate(names)} for j in (1, 2, 3)]
    counts = _count(monkeypatch)
    assert formula.explain([5, 7, 11], uses, names) is None
    pairs = formula.MAX_FORMULA_NAMES * (formula.MAX_FORMULA_NAMES - 1)
    assert counts["built"] == 0
    assert counts["tested"] <= len(names) + 12 * len(names) + 5 * pairs


def test_names_the_same_in_every_use_and_float_values_test_no_integer_formula(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A float that differs (a norm's eps from a dict parameter) beside 1,000 integer `let:` values that are the
    same in every use: only the names that differ are tried, as themselves."""
    names = ["t"] + [f"a{k}" for k in range(1000)]
    uses = [{"t": {"e": e}, **{n: k + 1 for k, n in enumerate(names[1:])}} for e in (0.001, 0.002)]
    counts = _count(monkeypatch)
    assert formula.explain([0.001, 0.002], uses, names) is None
    assert counts["tested"] == 1  # `t` (before: 1,001 names and 5,000,000 integer formulas)


@pytest.mark.parametrize(("values", "uses", "names", "written"), [
    ([256, 256, 512], [{"channels": 64, "i": 0}, {"channels": 64, "i": 1}, {"channels": 128, "i": 0}],
     ["channels", "i"], "4 * channels"),
    ([16, 24, 32], [{"C": 16, "g": 8, "i": k} for k in range(3)], ["C", "g", "i"], "C + i * g"),
    ([2, 1, 1], [{"i": k, "s": 2} for k in range(3)], ["s", "i"], "2 if i == 0 else 1"),
    ([3, 5], [{"a": 1, "b": 2}, {"a": 2, "b": 3}], ["a", "b"], "a + b"),
    ([6, 12], [{"a": 2, "b": 3}, {"a": 3, "b": 4}], ["a", "b"], "a * b"),
    ([1.5, 2.5], [{"x": 1.5, "n": 1}, {"x": 2.5, "n": 2}], ["n", "x"], "x"),
])
def test_the_formula_found_is_the_same(values: list, uses: list, names: list, written: str) -> None:
    """The first fitting formula in the order of before (singles, then pairs in the names' order)."""
    found = formula.explain(values, uses, names)
    assert found is not None and flat(found) == written


def test_past_the_bound_the_names_that_differ_are_combined_first() -> None:
    """Beyond MAX_FORMULA_NAMES integer names, pairs are formed of those that differ between uses (and `i`) first:
    a sum of two of them after 100 names that are the same in every use is still found."""
    constant = {f"k{n}": n + 1 for n in range(100)}
    uses = [{**constant, "a": a, "b": b} for a, b in ((3, 10), (5, 20))]
    found = formula.explain([13, 25], uses, [*constant, "a", "b"])
    assert found is not None and flat(found) == "a + b"


def _spec(lets: int) -> str:
    head = textwrap.dedent("""\
        vibench: 1
        name: W
        inputs: {x: {shape: [B, 4, L]}}
        blocks:
          Body:
            params: {j: {type: int}, t: {type: 'dict[str, int]'}}
            let:
        """)
    tail = textwrap.dedent("""\
            inputs: {x: {shape: [B, C, L]}}
            nodes:
              fc: {block: conv1d, in: x, out_channels: 4, kernel_size: "${get(t, 'k', 3)}", padding: same}
              s: {block: add, in: [x, fc]}
            outputs: {y: s}
        nodes:
          u1: {block: Body, in: x, j: 1, t: {k: 5}}
          u2: {block: Body, in: u1, j: 2, t: {k: 7}}
          u3: {block: Body, in: u2, j: 3, t: {k: 11}}
        outputs: {y: u3}
        """)
    return head + "".join(f'      a{k}: "${{j + {k}}}"\n' for k in range(lets)) + tail


def test_a_class_with_a_thousand_lets_takes_the_value_as_an_argument() -> None:
    """The bounded search finds nothing for the kernel sizes 5, 7, 11 (a `get` of a dict is not Python the class
    can compute): the class takes them as a new argument, and the model builds them."""
    import torch

    source = vibench.compile_spec(text=_spec(1000)).source
    assert "def __init__(self, fc_kernel_size: int) -> None:" in source
    assert "kernel_size=fc_kernel_size" in source
    model = vibench.build(text=_spec(1000))
    assert [model.get_submodule(f"u{k}.fc").kernel_size for k in (1, 2, 3)] == [(5,), (7,), (11,)]
    assert model(torch.zeros(2, 4, 16)).shape == (2, 4, 16)


def _record_names(monkeypatch: pytest.MonkeyPatch, module: Any, function: str) -> list[int]:
    """How many names each call of ``module.function`` was given to search."""
    sizes: list[int] = []
    real = getattr(module, function)

    def recorded(column: Any, uses: Any, names: Any = None) -> Any:
        sizes.append(len(names if names is not None else uses[0]))
        return real(column, uses, names) if names is not None else real(column, uses)

    monkeypatch.setattr(module, function, recorded)
    return sizes


def test_each_literal_searches_a_bounded_number_of_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 literals that differ (each batch norm's eps) in a class of 1,000 `let:` values: each search reads the
    names whose value differs (`t`) and the first integer names that do not, found once for the class (every
    name for every literal before: a class of 1,000 nodes and 1,000 `let:` values took 11 s)."""
    from vibench.compiler.codegen import explain_literals

    lets = "".join(f"      a{k}: {k + 1}\n" for k in range(1000))
    nodes = "".join(f"      bn{m}: {{block: batch_norm1d, in: {'x' if m == 0 else f'bn{m - 1}'}, "
                    f"eps: \"${{get(t, 'e', 0.1) + {m}}}\"}}\n" for m in range(300))
    spec = ("vibench: 1\nname: S\ninputs: {x: {shape: [B, 4, L]}}\nblocks:\n  Body:\n"
            "    params: {t: {type: 'dict[str, float]'}}\n    let:\n" + lets
            + "    inputs: {x: {shape: [B, C, L]}}\n    nodes:\n" + nodes
            + "      s: {block: add, in: [x, bn299]}\n    outputs: {y: s}\n"
            "nodes:\n  u1: {block: Body, in: x, t: {e: 0.001}}\n  u2: {block: Body, in: u1, t: {e: 0.002}}\n"
            "outputs: {y: u2}\n")
    sizes = _record_names(monkeypatch, explain_literals, "explain")
    source = vibench.compile_spec(text=spec).source
    assert len(sizes) == 300 and max(sizes) <= 1 + formula.MAX_FORMULA_NAMES
    assert "        bn0_eps: float,\n        bn1_eps: float,\n" in source and "eps=bn299_eps" in source


def test_a_shape_comment_searches_a_bounded_number_of_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """A class of 200 convolutions, each kernel size a new argument that differs between its two uses: each line's
    length is searched among MAX_FORMULA_NAMES arguments, those its own layer reads first (all 200 before, for
    each of the 200 lines)."""
    from vibench.compiler.codegen import comments

    nodes = "".join(f"      c{m}: {{block: conv1d, in: {'x' if m == 0 else f'c{m - 1}'}, out_channels: 4, "
                    f"kernel_size: \"${{get(t, 'k', 1) + {m % 2}}}\"}}\n" for m in range(200))
    spec = ("vibench: 1\nname: K\ninputs: {x: {shape: [B, 4, L]}}\nblocks:\n  Body:\n"
            "    params: {t: {type: 'dict[str, int]'}}\n    inputs: {x: {shape: [B, C, L]}}\n    nodes:\n" + nodes
            + "      s: {block: mul, in: [c199, c199]}\n    outputs: {y: s}\n"
            "nodes:\n  u1: {block: Body, in: x, t: {k: 1}}\n  u2: {block: Body, in: u1, t: {k: 3}}\n"
            "outputs: {y: u2}\n")
    sizes = _record_names(monkeypatch, comments, "explain_symbolic")
    source = vibench.compile_spec(text=spec).source
    assert len(sizes) >= 200 and max(sizes) <= formula.MAX_FORMULA_NAMES
    assert "x = self.c0(x)  # [B, 4, ?]" in source  # (no form fits: as before)


def test_beyond_the_bound_the_names_a_value_reads_are_searched_first() -> None:
    """40 parameters that differ between the uses: the formula for a value whose expression reads the last of
    them (and a `get`, which the class cannot compute) is still found."""
    params = ", ".join(f"p{k}: 0" for k in range(40)) + ", t: {type: 'dict[str, int]', default: {}}"
    uses = "".join(f"  u{j}: {{block: Body, in: {'x' if j == 1 else 'u1'}, "
                   + ", ".join(f"p{k}: {j * 100 + k}" for k in range(40)) + "}\n" for j in (1, 2))
    spec = ("vibench: 1\nname: P\ninputs: {x: {shape: [B, 4, L]}}\nblocks:\n  Body:\n"
            f"    params: {{{params}}}\n    inputs: {{x: {{shape: [B, C, L]}}}}\n    nodes:\n"
            "      c: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, "
            "dilation: \"${p39 * 2 + get(t, 'd', 0)}\"}\n"
            "      s: {block: add, in: [x, c]}\n    outputs: {y: s}\n"
            "nodes:\n" + uses + "outputs: {y: u2}\n")
    source = vibench.compile_spec(text=spec).source
    assert "dilation=2 * p39" in source
