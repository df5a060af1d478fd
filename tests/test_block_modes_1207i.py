"""W104 for a value that reaches only a catalogue block parameter ignored in the mode chosen (1207i).

`transformer/Informer` at its default `attention: top_k` built the same model whatever `factor` or `sampling_seed`
said (its prob_sparse_attention reads them only at `mode: prob_sparse`), and `no/GraphNO` at
`use_spectral: false` whatever `num_modes` said, silently. A block now says which parameters it ignores
(`Block.unread_params`); W104 names them through the composites that pass them on, and at the key of a node of
the user's own.
"""

from __future__ import annotations

import contextlib
import warnings
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


_IGNORED = [
    ("conv1d", "in: x, out_channels: 4, kernel_size: 3, padding_mode: reflect", "padding_mode", "with padding"),
    ("avg_pool1d", "in: x, kernel_size: 2, count_include_pad: false", "count_include_pad", "with padding"),
    ("layer_norm", "in: x, elementwise_affine: false, bias: false", "bias", "with `elementwise_affine: true`"),
    ("lstm", "in: x, hidden_size: 4, dropout: 0.5", "dropout", "between layers (`num_layers` of 2 or more)"),
    ("gru", "in: x, hidden_size: 4, dropout: 0.5", "dropout", "between layers (`num_layers` of 2 or more)"),
    ("neural_ode", "in: x, num_layers: 1, activation: gelu", "activation", "with `num_layers` of 2 or more"),
    ("neural_ode", "in: x, num_layers: 1, dropout: 0.5", "dropout", "with `num_layers` of 2 or more"),
    ("graph_operator", "in: x, use_spectral: false, num_modes: 2", "num_modes", "with `use_spectral: true`"),
    ("graph_operator", "in: x, num_layers: 1, dropout: 0.5", "dropout",
     "with a spatial layer (`num_layers` of 2 or more, or `use_spectral: false`)"),
]


@pytest.mark.parametrize(("block", "keys", "key", "when"), _IGNORED, ids=[f"{row[0]}-{row[2]}" for row in _IGNORED])
def test_a_block_parameter_ignored_as_set(tmp_path: Path, block: str, keys: str, key: str, when: str) -> None:
    """Said at the key; and true: the block built with and without the key has the same weights, and the same output
    in training mode (where a dropout acts) from the same seed."""
    torch = pytest.importorskip("torch")
    node = f"  n: {{block: {block}, {keys}}}\n"
    spec = tmp_path / "mine.yaml"
    head = "vibench: 1\nname: Mine\ninputs:\n  x: {shape: [B, 3, 8]}\nnodes:\n"  # (an lstm's [B, L, C] too)
    spec.write_text(head + node + "outputs:\n  y: n\n", encoding="utf-8")
    [found] = _w104(str(spec))
    assert (found.node, found.message) == ("n", f"`{key}` has no effect here: {block} reads it only {when}")
    assert (found.pos.line, found.pos.col) == (6, node.index(key + ":") + 1)
    without = ", ".join(part for part in keys.split(", ") if not part.startswith(key + ":"))
    (tmp_path / "plain.yaml").write_text(head + f"  n: {{block: {block}, {without}}}\noutputs:\n  y: n\n",
                                         encoding="utf-8")
    x = torch.randn(2, 3, 8)
    outputs = []
    for path in (spec, tmp_path / "plain.yaml"):
        torch.manual_seed(0)
        with warnings.catch_warnings():  # (W104 above; torch's own for an lstm's dropout)
            warnings.simplefilter("ignore")
            model = vibench.build(str(path)).train()
        torch.manual_seed(1)
        outputs.append((model(x), {k: v.shape for k, v in model.state_dict().items()}))
    assert torch.equal(outputs[0][0], outputs[1][0]) and outputs[0][1] == outputs[1][1]


def test_a_block_parameter_read_in_the_mode_set_is_not_said(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("vibench: 1\nname: Mine\ninputs:\n  x: {shape: [B, 3, 8]}\nnodes:\n"
                    "  n: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, padding: 1, padding_mode: reflect}\n"
                    "outputs:\n  y: n\n", encoding="utf-8")
    assert _w104(str(spec)) == []


_PLUGIN = '''
from typing import Literal

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class OnOff(BlockParams):
    mode: Literal["on", "off"] = "off"
    gain: float = 1.0


@register
class Switch(Block):
    """A plug-in block that says, wrongly, what it does not read."""
    name, Params = "switch", OnOff

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])

    def unread_params(self, p):
        raise RuntimeError("not asked")
'''


def test_a_plug_ins_unread_params_is_not_asked(tmp_path: Path) -> None:
    """Its answer would reach W104's text unchecked (a plug-in's internal_tensors is not read either)."""
    from tests.test_plugins_loading import install, run_python

    install(tmp_path / "site", "p_switch", {"p_switch/__init__.py": _PLUGIN}, ["switch = p_switch"])
    text = ("vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  d: {block: switch, in: x, gain: 2.0}\n"
            "outputs: {y: d}\n")
    run = run_python(f"""
        import vibench

        print([d.code for d in vibench.check(text={text!r}).warnings])
    """, [tmp_path / "site"], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "[]"
