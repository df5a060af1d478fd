"""Sizes whose numbers are too long to write (QA pass of 1207g).

An input of 240 sizes of 10**18 (or 15,000 of 2) crashed the compiler with an internal error: its element count,
a number of 4,321 digits, reached ``f"{n:,}"`` in E309's message, and Python refuses to write an int of more than
4,300 digits; a `reshape` to 15,000 sizes of 2 crashed so in E301's message, and a plug-in's ``infer`` returning
200,000 symbolic sizes spent 55 s multiplying them out before it crashed the same way. A tensor has at most
``limits.MAX_RANK`` (64) dimensions: more is E212 at an input's shape, E114 for what a plug-in returns and E309 at
a node's output; a number of more than 100 digits is written by its length (``symbolic.fmt_int``), so a message
that holds one (a rank-64 count of 1,152 digits, a reshape's mismatch) is a located error, and --summary's FLOPs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from tests.lsp.client import LanguageServer, file_uri
from vibench.compiler.blocks.base import Block
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import TensorType
from vibench.compiler.limits import MAX_RANK
from vibench.compiler.plugin_calls import PluginFailure
from vibench.compiler.plugin_rule import outputs
from vibench.compiler.report import check_report
from vibench.compiler.symbolic import Expr, fmt_int, fmt_shape
from vibench.schemas.blocks import NoParams

B = Expr.symbol("B")


def _spec(shape: str, node: str = "{block: relu, in: x}") -> str:
    return f"vibench: 1\nname: M\ninputs:\n  x: {{shape: {shape}}}\nnodes:\n  a: {node}\noutputs: {{y: a}}\n"


def _errors(text: str, **kw: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kw)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def test_huge_numbers_are_written_by_their_length() -> None:
    assert fmt_int(10**100 - 1) == "9" * 100
    assert fmt_int(10**100) == "(a number of 101 digits)"
    assert fmt_int(-(2**15000), grouped=True) == "-(a number of 4,516 digits)"
    assert fmt_shape((B, 10**5000)) == "[B, (a number of 5,001 digits)]"
    assert str(10**5000 * B + 2**20000) == "(a number of 5,001 digits) * B + (a number of 6,021 digits)"


@pytest.mark.parametrize("dims", [[str(10**18)] * 240, ["2"] * 15_000, ["B"] * 65, ["1"] * (MAX_RANK + 1)])
def test_an_input_of_more_than_64_dimensions_is_refused_at_its_shape(dims: list[str]) -> None:
    (d,) = _errors(_spec("[" + ", ".join(dims) + "]"))
    assert (d.code, d.message) == ("E212", "the shape of input `x` has too many dimensions"), d
    assert d.pos is not None and (d.pos.line, d.pos.col) == (4, 14), d.pos
    assert (d.expected, d.found) == ("at most 64 dimensions", f"{len(dims):,} dimensions")


def test_a_shape_of_a_template_with_too_many_dimensions_is_refused_at_it() -> None:
    (d,) = _errors(_spec('"${[1] * 100}"'))
    assert (d.code, d.message, d.found) == ("E212", "the shape of input `x` has too many dimensions",
                                            "100 dimensions")


def test_64_dimensions_are_taken_and_their_count_is_written() -> None:
    text = _spec("[" + ", ".join(["1000000000000000000"] * 64) + "]")
    (d,) = _errors(text)
    assert (d.code, d.message) == ("E309", "the output of node `a` is too large to compute"), d
    program = vibench.check(text=text, max_activation=10**1200)  # raised past it: --summary writes its FLOPs
    assert "total FLOPs: (a number of 1,153 digits)" in check_report(program, summary=True, written=None)


def test_a_reshape_to_many_sizes_is_a_located_error() -> None:
    (d,) = _errors(_spec("[B, 30000]", "{block: reshape, in: x, shape: [0, " + ", ".join(["2"] * 15_000) + "]}"))
    assert d.code == "E301" and d.found == "(a number of 4,516 digits) (input shape [B, 30000])", d
    (d,) = _errors(_spec("[B, 30]", "{block: reshape, in: x, shape: [0, 30, " + ", ".join(["1"] * 100) + "]}"))
    assert (d.code, d.message, d.found) == ("E309", "the output of node `a` has too many dimensions",
                                            "102 dimensions"), d


class _Plugin(Block):  # (defined outside the vibench package: a plug-in's block, as is_plugin tells)
    name, Params = "p_rank", NoParams


@pytest.mark.parametrize("shape", [(B,) * 200_000, (2,) * 20_000, (B,) * (MAX_RANK + 1)])
def test_a_plugin_output_of_more_than_64_dimensions_is_its_failure(shape: tuple) -> None:
    with pytest.raises(PluginFailure) as info:
        outputs(_Plugin(), [TensorType(shape, "float32")], NoParams(), [TensorType((B, 4), "float32")])
    assert info.value.problem == f"`infer` returned a wrong shape for output 0: it has {len(shape):,} dimensions"
    (out,) = outputs(_Plugin(), [TensorType((B,) + (1,) * 63, "float32")], NoParams(), [TensorType((B, 4), "float32")])
    assert len(out.shape) == MAX_RANK


def test_hover_on_a_spec_of_huge_sizes(lsp: LanguageServer, tmp_path: Path) -> None:
    text = _spec("[" + ", ".join(["1000000000000000000"] * 64) + "]")
    spec = tmp_path / "huge.yaml"
    spec.write_text(text, encoding="utf-8")
    uri = file_uri(spec)
    lsp.open(uri, text)
    assert [d["code"] for d in lsp.diagnostics(uri)] == ["E309"]
    assert "relu" in lsp.hover(uri, 5, 14)
    assert lsp.hover(uri, 5, 2).startswith("**a**: `relu`")
    assert lsp.hover(uri, 3, 2).startswith("**x**"), lsp.hover(uri, 3, 2)
    lsp.close(uri)
