"""Language fixes of 12-06's fourth pass: `repeat:` beside a `for_each:` written as a name (it was dropped
silently: one copy per item, not repeated), the `for_each` hint of an unknown name, and W105's typo hint,
which took a size symbol (`B`) for a misspelt use of a parameter (`dB`)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

HEAD = "vibench: 1\nname: M\n"


def _diagnostics(tmp_path: Path, text: str) -> list[Diagnostic]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    try:
        vibench.check(str(spec))
    except vibench.SpecError as err:
        return list(err.diagnostics)
    raise AssertionError("compiled")


@pytest.mark.parametrize("for_each", ["ks", "'${ks}'", "[1, 3]", "kk"])
def test_repeat_beside_any_for_each_is_refused(tmp_path: Path, for_each: str) -> None:
    text = (HEAD + "params: {n: 3, ks: [1, 3]}\nlet: {kk: '${ks}'}\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
            f"  br: {{block: conv1d, in: x, for_each: {for_each}, repeat: n, out_channels: 4, kernel_size: 1}}\n"
            "  cat: {block: concat, in: br, dim: 1}\noutputs: {y: cat}\n")
    errors = [d for d in _diagnostics(tmp_path, text) if d.severity == "error"]
    assert [(d.code, d.message, d.pos.line if d.pos else 0) for d in errors] == [
        ("E211", "node `br` has both `repeat` and `for_each`", 7)]


def test_an_unknown_for_each_name_gets_a_for_each_hint(tmp_path: Path) -> None:
    text = (HEAD + "inputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
            "  br: {block: conv1d, in: x, for_each: widths, out_channels: 4, kernel_size: 1}\noutputs: {y: br.*}\n")
    (d,) = [d for d in _diagnostics(tmp_path, text) if d.code == "E211"]
    assert d.hint is not None and "for_each: [3, 5]" in d.hint and "when:" not in d.hint


@pytest.mark.parametrize(("param", "shape"), [("dB", "[B, C, L]"), ("b", "[B, 4]"), ("n", "[B, 4, N]")])
def test_w105_takes_no_size_symbol_for_a_typo(tmp_path: Path, param: str, shape: str) -> None:
    text = (HEAD + f"params: {{{param}: 4}}\ninputs: {{x: {{shape: {shape}}}}}\nnodes: {{r: {{block: relu, in: x}}}}\n"
            "outputs: {y: {from: r, shape: " + shape + "}}\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    warnings = [d for d in vibench.check(str(spec)).warnings if d.code == "W105"]
    assert [d.hint for d in warnings] == [f"use it as `${{{param}}}`, or remove it"]


def test_w105_still_names_a_misspelt_use(tmp_path: Path) -> None:
    text = (HEAD + "params: {width: 4}\ninputs: {x: {shape: [B, 2, L]}}\n"
            "nodes: {c: {block: conv1d, in: x, out_channels: '${widht}', kernel_size: 1}}\noutputs: {y: c}\n")
    w105 = [d for d in _diagnostics(tmp_path, text) if d.code == "W105"]
    assert [d.hint for d in w105] == ["`widht` is used but not declared; did you mean `width` there?"]


def test_w105_names_a_misspelt_parameter_in_an_output_promise(tmp_path: Path) -> None:
    """`shape: [B, num_clases]` binds any width (a new symbol): the hint is the only sign of the typo."""
    text = (HEAD + "params: {num_classes: 4}\ninputs: {x: {shape: [B, 8]}}\n"
            "nodes: {fc: {block: linear, in: x, out_features: 4}}\noutputs: {y: {from: fc, shape: [B, num_clases]}}\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    (d,) = [d for d in vibench.check(str(spec)).warnings if d.code == "W105"]
    assert d.hint == "`num_clases` is used but not declared; did you mean `num_classes` there?"
