"""Block parameter defects found by QA (round 1206h).

* ``signal_operators`` with a ``WF`` operator and ``f_b_mu: 0, f_b_sigma: 0`` compiled, and every WF channel of
  the output was NaN (zero bandwidth). Now E112 at the node; the TSPN template's own check still comes first.
* The E111 "did you mean" for a misspelt node key suggested a key the node already wrote (``inn: x`` beside
  ``in: [a, b]`` hinted `in`), and never suggested `for_each`, `inherit`, `with` or `checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vibench


def _spec(node: str, output: str = "op", shape: str = "[B, 256, 4]") -> str:
    return (f"vibench: 1\nname: T\ninputs: {{a: {{shape: {shape}}}, b: {{shape: {shape}}}, x: {{shape: {shape}}}}}\n"
            f"nodes:\n  op: {node}\noutputs: {{y: {output}}}\n")


def _error(text: str) -> Any:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    (diag,) = [d for d in info.value.diagnostics if d.code != "E403"]  # an unused node (dead) is E403 besides
    return diag


# -- signal_operators: zero WF bandwidth ---------------------------------------------------------------------

WF = "{block: signal_operators, in: x, operators: [%s], channels: 2, f_c_mu: 0.0, f_c_sigma: 0.0, %s}"


def test_a_zero_wf_bandwidth_is_refused_at_the_node() -> None:
    diag = _error(_spec(WF % ("WF, I", "f_b_mu: 0.0, f_b_sigma: 0.0")))
    assert diag.code == "E112" and diag.node == "op" and (diag.pos.line, diag.pos.col) == (5, 3)
    assert "`f_b_mu` and `f_b_sigma` are both 0" in diag.message
    assert "give `f_b_sigma` > 0" in diag.message


@pytest.mark.parametrize(("operators", "bandwidth"), [
    ("WF, I", "f_b_mu: 0.0, f_b_sigma: 0.1"),  # random widths
    ("WF, I", "f_b_mu: 0.2, f_b_sigma: 0.0"),  # every width 0.2
    ("HT, I", "f_b_mu: 0.0, f_b_sigma: 0.0"),  # no WF: the widths are never read
], ids=["sigma", "mu", "no WF"])
def test_a_nonzero_bandwidth_or_no_wf_compiles_and_runs_finite(operators: str, bandwidth: str) -> None:
    import torch

    torch.manual_seed(0)
    model = vibench.build(text=_spec(WF % (operators, bandwidth)))
    assert torch.isfinite(model(torch.randn(2, 256, 4), torch.randn(2, 256, 4), torch.randn(2, 256, 4))).all()


def test_the_tspn_templates_check_still_reports_at_the_users_setting(tmp_path: Path) -> None:
    """The template's E215 (at the user's `f_b_sigma`) comes before the block's E112 (at the template's node)."""
    path = tmp_path / "mine.yaml"
    path.write_text("vibench: 1\nextends: x_model/TSPN\nwith:\n  f_b_sigma: 0\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path))
    (diag,) = info.value.diagnostics
    assert diag.code == "E215" and (diag.pos.file, diag.pos.line) == (str(path), 4)


# -- E111: "did you mean" among the keys the node has not written ------------------------------------------------


@pytest.mark.parametrize("output", ["op", "x"], ids=["built", "not built"])
@pytest.mark.parametrize(("node", "hint"), [
    ("{block: concat, in: [a, b], dim: 1, inn: x}", None),  # `in` is written: fixing to it is a duplicate key
    ("{block: concat, in: [a, b], dim: 1, dmi: 2}", None),  # `dim` too
    ("{block: linear, in: x, out_features: 3, checkpoint: true, checkpiont: true}", None),
    ("{block: linear, in: x, out_features: 3, repeat: 2, repaet: 2}", None),
    ("{block: linear, in: x, out_features: 3, with: {bias: false}, wiht: {}}", None),
    ("{block: concat, in: [a, b], inn: x}", None),
    ("{block: linear, in: x, out_features: 3, for_eahc: [1, 2]}", "for_each"),
    ("{block: linear, in: x, out_features: 3, checkpiont: true}", "checkpoint"),
    ("{block: linear, in: x, out_features: 3, inhert: true}", "inherit"),
    ("{block: linear, in: x, out_features: 3, wiht: {bias: false}}", "with"),
    ("{block: linear, in: x, out_features: 3, repaet: 2}", "repeat"),
    ("{block: linear, in: x, out_features: 3, bais: false}", "bias"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("{") else None)
def test_a_misspelt_key_suggests_only_a_key_the_node_has_not_written(node: str, hint: str | None, output: str) -> None:
    diag = _error(_spec(node, output, shape="[B, 4]"))
    assert diag.code == "E111" and diag.node == "op"
    if hint is None:
        assert "did you mean" not in (diag.hint or "")
    else:
        assert diag.hint == f"did you mean `{hint}`?"
