"""Runtime defects of the emitted model.py and of the checkpoint loaders (QA, 1206f).

* A fixed dict parameter given with its keys in another order was accepted by the class, though
  ``vibench.build`` builds another model from it (the heads', and so the state_dict's, order).
* `leaky_relu` with a negative slope and `elu` with a negative alpha ran in place, and torch refuses the
  backward pass of that ("In-place leakyReLu backward ... negative slope").
* `system_prompt` with `tokens` returns an expanded view, declared fresh: an in-place op after it (`relu_`,
  `out += x`, dropout) raised "more than one element of the written-to tensor refers to a single memory location".
* The runtime loader let a meta or sparse tensor reach ``load_state_dict`` (torch's multi-line error); the
  emitted loader passed a bytes path to ``torch.load`` raw ("damaged file").
* docs/language.md said every copy of `repeat` is recomputed alone; a `repeat` of modules is one region.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

ROOT = Path(__file__).resolve().parent.parent


def build(text: str, **params: object) -> torch.nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vibench.build(text=text, **params)


# -- a fixed mapping compares its keys in order ------------------------------------------------------------


def test_a_fixed_mapping_in_another_key_order_is_another_model() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = vibench.build("isfm/task_head/H_01_Linear_cla", num_classes={"1": 3, "2": 4}, output_dim=8)
        other = vibench.build("isfm/task_head/H_01_Linear_cla", num_classes={"2": 4, "1": 3}, output_dim=8)
    assert list(model.state_dict()) != list(other.state_dict())  # why the order matters
    assert list(type(model)(num_classes={"1": 3, "2": 4}).state_dict()) == list(model.state_dict())
    with pytest.raises(
        ValueError,
        match=r"num_classes=\{'2': 4, '1': 3\} differs from the value this file was "
        r"compiled and shape-checked with \(\{'1': 3, '2': 4\}\)",
    ):
        type(model)(num_classes={"2": 4, "1": 3})


# -- in-place activations only where torch can differentiate them -----------------------------------------

ACTIVATIONS = """\
vibench: 1
name: Acts
params:
  slope: {{type: float, default: {slope}}}
  alpha: {{type: float, default: {alpha}}}
inputs:
  x: {{shape: [B, 4, L]}}
nodes:
  c1: {{block: conv1d, in: x, out_channels: 4, kernel_size: 1}}
  a1: {{block: leaky_relu, in: c1, negative_slope: slope}}
  c2: {{block: conv1d, in: a1, out_channels: 4, kernel_size: 1}}
  a2: {{block: elu, in: c2, alpha: alpha}}
  c3: {{block: conv1d, in: a2, out_channels: 4, kernel_size: 1}}
outputs:
  y: c3
"""


@pytest.mark.parametrize(("slope", "alpha"), [(-0.2, 0.5), (0.2, -0.5), (-0.2, -0.5)])
def test_a_negative_slope_or_alpha_trains(slope: float, alpha: float) -> None:
    model = build(ACTIVATIONS.format(slope=slope, alpha=alpha)).train()
    x = torch.randn(2, 4, 8)
    y = model(x)
    y.sum().backward()  # torch: "In-place ... backward calculation is triggered with a negative slope"
    assert all(p.grad is not None for p in model.parameters())
    F = torch.nn.functional
    assert torch.equal(y, model.c3(F.elu(model.c2(F.leaky_relu(model.c1(x), slope)), alpha)))


def test_a_non_negative_slope_and_alpha_stay_in_place() -> None:
    source = vibench.compile_spec(text=ACTIVATIONS.format(slope=0.0, alpha=1.0)).source
    assert re.search(r"F\.leaky_relu\(\w+, 0\.0, inplace=True\)", source)
    assert re.search(r"F\.elu\(\w+, 1\.0, inplace=True\)", source)
    source = vibench.compile_spec(text=ACTIVATIONS.format(slope=-0.2, alpha=-0.5)).source
    assert re.search(r"F\.leaky_relu\(\w+, -0\.2\)", source) and re.search(r"F\.elu\(\w+, -0\.5\)", source)
    assert "inplace=True" not in source


# -- system_prompt's tokens are a view ----------------------------------------------------------------------


def _prompt(after: str) -> str:
    return f"""\
vibench: 1
name: Prompt
inputs:
  system_id: {{shape: [B], dtype: int64}}
  x: {{shape: [B, 4, 8]}}
nodes:
  p: {{block: system_prompt, in: system_id, num_prompts: 5, prompt_dim: 8, tokens: 4, max_norm: null}}
{after}
"""


@pytest.mark.parametrize(
    "after",
    [
        "  r: {block: relu, in: p}\n  s: {block: add, in: [r, x]}\noutputs: {y: s}",
        "  s: {block: add, in: [p, x]}\noutputs: {y: s}",
        "  d: {block: dropout, in: p, p: 0.2}\n  lin: {block: linear, in: d, out_features: 3}\noutputs: {y: lin}",
    ],
    ids=["relu", "add", "dropout"],
)
def test_an_in_place_op_after_the_expanded_prompts_runs(after: str) -> None:
    model = build(_prompt(after)).train()
    ids, x = torch.tensor([0, 3]), torch.randn(2, 4, 8)
    model(ids, x).sum().backward()  # torch: "more than one element of the written-to tensor refers to ..."
    assert model.p.prompt_embedding.weight.grad is not None


def test_the_prompt_vector_without_tokens_is_still_written_in_place() -> None:
    source = vibench.compile_spec(
        text="""\
vibench: 1
name: Prompt
inputs: {system_id: {shape: [B], dtype: int64}}
nodes:
  p: {block: system_prompt, in: system_id, num_prompts: 5, prompt_dim: 8}
  r: {block: relu, in: p}
outputs: {y: r}
"""
    ).source
    assert "torch.relu_(out)" in source


# -- the loaders -----------------------------------------------------------------------------------------------

TINY = TINY_REFERENCE_SPEC


def _flawed(kind: str) -> torch.Tensor:
    if kind == "meta":
        return torch.empty(2, 3, device="meta")
    if kind == "sparse":
        return torch.zeros(2, 3).to_sparse()
    with warnings.catch_warnings():  # torch deprecates creating quantized tensors; checkpoints may still hold them
        warnings.simplefilter("ignore")
        return torch.quantize_per_tensor(torch.zeros(2, 3), 0.1, 0, torch.qint8)


@pytest.mark.parametrize(
    ("kind", "said"), [("meta", "meta tensor"), ("sparse", "sparse_coo tensor"), ("quantized", "quantized tensor")]
)
def test_both_loaders_refuse_a_tensor_without_values_in_one_line(kind: str, said: str) -> None:
    model = build(TINY)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    checkpoint = {"classifier.weight": _flawed(kind), "classifier.bias": torch.ones(2)}
    with pytest.raises(ReferenceCheckpointError) as err:
        load_reference_state_dict(model, checkpoint)
    text = str(err.value)
    assert text == f"a reference checkpoint maps names (str) to tensors; 1 entry does not: 'classifier.weight' ({said})"
    emitted = sys.modules[type(model).__module__].load_reference_state_dict
    with pytest.raises(KeyError, match=re.escape(f"'classifier.weight' ({said})")):
        emitted(model, checkpoint)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_the_emitted_loader_reads_a_bytes_path(tmp_path: Path) -> None:
    model = build(TINY)
    path = tmp_path / "weights.pt"
    torch.save({"classifier.weight": torch.ones(2, 3), "classifier.bias": torch.zeros(2)}, path)
    emitted = sys.modules[type(model).__module__].load_reference_state_dict
    assert emitted(model, os.fsencode(path)) == ([], [])
    assert model.head.weight.sum().item() == 6.0
    with pytest.raises(KeyError, match=re.escape(f"cannot read the checkpoint {tmp_path / 'nope.pt'}: No such file")):
        emitted(model, os.fsencode(tmp_path / "nope.pt"))


# -- docs/language.md: what `checkpoint` recomputes together ----------------------------------------------------


def test_a_repeat_of_modules_is_one_region_and_for_each_copies_are_recomputed_alone() -> None:
    source = vibench.compile_spec(
        text="""\
vibench: 1
name: Regions
inputs: {x: {shape: [B, 4, 16]}}
nodes:
  chain: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, padding: 1, repeat: 3, checkpoint: true}
  side: {block: conv1d, in: chain, out_channels: 4, kernel_size: 1, for_each: [1, 2], checkpoint: true}
  cat: {block: concat, in: [side.0, side.1], dim: 1}
outputs: {y: cat}
"""
    ).source
    assert "nn.Sequential(*[nn.Conv1d(4, 4, kernel_size=3, padding=1) for _ in range(3)])" in source
    assert source.count("_checkpoint(self.chain,") == 1
    assert "_checkpoint(self.side[0]," in source and "_checkpoint(self.side[1]," in source
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert "each copy of `repeat` and `for_each` is recomputed alone" not in doc
    assert "`nn.Sequential`) is one region" in doc
