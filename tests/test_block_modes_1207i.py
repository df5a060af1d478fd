"""W104 for a value that reaches only a catalogue block parameter ignored in the mode chosen (1207i).

`transformer/Informer` at its default `attention: top_k` built the same model whatever `factor` or `sampling_seed`
said (its prob_sparse_attention reads them only at `mode: prob_sparse`), and `no/GraphNO` at
`use_spectral: false` whatever `num_modes` said, silently. A block now says which parameters it ignores
(`Block.unread_params`); W104 names them through the composites that pass them on, and at the key of a node of
the user's own.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic


def _w104(spec: str, **params: object) -> list[Diagnostic]:
    return [d for d in vibench.check(spec, params=params).warnings if d.code == "W104"]


def test_informers_factor_and_seed_at_top_k() -> None:
    """`factor` is a key of the reference's, which stores it and never uses it: W101 with that reason."""
    found = [d for d in vibench.check("transformer/Informer", params={"factor": 6, "sampling_seed": 3}).warnings
             if d.code in ("W101", "W104")]
    assert [(d.code, d.message) for d in found] == [
        ("W101", "`factor` (given in Python) does not change the outputs of the reference Transformer/Informer; "
                 "vibench ignores it"),
        ("W104", "`sampling_seed` (given in Python) has no effect here: node `encoder_layers` passes it to "
                 "InformerLayer, which does not use it here")]
    assert found[0].found.startswith("the reference stores it, but its top-k attention never uses it")
    assert found[1].hint == ("InformerLayer passes it as `seed` to prob_sparse_attention (its node `attention`), "
                             "which reads it only at `mode: prob_sparse`; remove it")


def test_informers_factor_at_prob_sparse_is_read() -> None:
    program = vibench.check("transformer/Informer", params={"attention": "prob_sparse", "factor": 6,
                                                            "sampling_seed": 3})
    assert [d for d in program.warnings if d.code in ("W101", "W104")] == []


def test_graph_nos_modes_without_spectral_layers() -> None:
    [found] = _w104("no/GraphNO", use_spectral=False, num_modes=9)
    assert found.hint == "graph_operator reads it only with `use_spectral: true`; remove it"
    assert _w104("no/GraphNO", num_modes=9) == []


@pytest.mark.parametrize(("params", "other"), [({"factor": 6}, {"factor": 2}), ({"sampling_seed": 3}, {})])
def test_the_warning_is_true_the_value_changes_nothing(params: dict[str, int], other: dict[str, int]) -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 64, 1)
    outputs = []
    for given in (params, other):
        torch.manual_seed(0)
        said = pytest.warns(Warning, match="has no effect here|does not change the outputs")
        with said if given else contextlib.nullcontext():
            model = vibench.build("transformer/Informer", **given)
        model.train()  # (dropout and any sampling act in train mode)
        torch.manual_seed(1)
        outputs.append(model(x))
    assert torch.equal(outputs[0], outputs[1])


def test_a_key_of_the_users_own_node(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("vibench: 1\nname: Mine\nparams:\n  f: {type: int, default: 5}\n"
                    "inputs:\n  x: {shape: [B, 64, 32]}\nnodes:\n"
                    "  a: {block: prob_sparse_attention, in: x, num_heads: 4, factor: 3}\n"
                    "  b: {block: prob_sparse_attention, in: a, num_heads: 4, mode: prob_sparse, factor: f}\n"
                    "outputs:\n  y: b\n", encoding="utf-8")
    found = _w104(str(spec), f=4)
    assert [(d.node, d.pos.line, d.pos.col, d.message) for d in found] == [
        ("a", 8, 58, "`factor` has no effect here: prob_sparse_attention reads it only at `mode: prob_sparse`")]
