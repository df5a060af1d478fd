"""torch's tools that replace or hook a model's layers act on an emitted model as on the reference's.

A few blocks read a layer's weights instead of calling it, because the product is faster that way:
``linear`` over another dimension than the last (MLPMixer's token mixing), gMLP's spatial gating
unit, Linformer's key and value projections, TimesNet's inception kernels. They do so only while the
layer is bare (``_bare`` in model.py: the plain class, no hooks). A layer that
``torch.ao.quantization.quantize_dynamic`` replaced, one that pruning or a forward hook (a feature
tap, Grad-CAM) watches, is called as a module, so that:

* every library template (``test_export``'s small cases) runs after ``quantize_dynamic``; the ones
  built on ``nn.TransformerEncoderLayer`` are listed in :data:`TORCH_FAILS` (torch's layer fails after
  quantize_dynamic in eval mode, for the reference's models too) and must keep failing there;
* a forward hook on such a layer fires, and the output is the one without hooks (the called form
  computes what the product computes);
* a pruned token-mixing layer trains: its pruned weight is recomputed from the trained one at every
  call (read directly, it was computed once at pruning time and its graph freed by the first step).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import vibench
from tests.test_export import BY_ID, CASES, eager, model_and_args

_MHA_FAST_PATH = ("torch's nn.TransformerEncoderLayer reads `linear1.weight.device` in eval mode, which a dynamically "
                  "quantized Linear does not have (the reference's models built on the layer fail the same way)")
TORCH_FAILS = {
    case: _MHA_FAST_PATH
    for case in ("transformer/PatchTST", "transformer/ConvTransformer", "transformer/Transformer_Dummy",
                 "isfm/backbone/B_01_basic_transformer")
}
"""Cases whose quantized model fails inside torch, not in emitted code: checked to still fail."""

# Templates with a block that reads a layer's weights, and the layers it reads.
READERS = {
    "mlp/MLPMixer": nn.Linear,
    "mlp/gMLP": nn.Linear,
    "transformer/Linformer": nn.Linear,
    "isfm/backbone/B_06_TimesNet": nn.Conv2d,
}


def _quantized(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():  # eager-mode quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8)


def _tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    values = out.values() if isinstance(out, dict) else out
    return [t for v in values for t in _tensors(v)]


@pytest.mark.parametrize("case_id", [c.id for c in CASES if c.id not in TORCH_FAILS])
def test_quantize_dynamic_runs(case_id: str) -> None:
    model, args = model_and_args(BY_ID[case_id])
    expected = _tensors(eager(model, args))
    found = _tensors(eager(_quantized(model), args))
    assert [t.shape for t in found] == [t.shape for t in expected]
    for f, e in zip(found, expected, strict=True):  # int8 weights: the outputs move, a little
        finite = torch.isfinite(e)
        assert torch.equal(torch.isfinite(f), finite), case_id
        if e.is_floating_point() and finite.any():
            assert (f - e)[finite].abs().max() <= 0.25 * e[finite].abs().max() + 1e-3, case_id


@pytest.mark.parametrize("case_id", sorted(TORCH_FAILS))
def test_torch_layer_still_fails_quantized(case_id: str) -> None:
    """If torch's layer starts working after quantize_dynamic, the case leaves TORCH_FAILS."""
    model, args = model_and_args(BY_ID[case_id])
    with pytest.raises(AttributeError, match="has no attribute 'device'"):
        eager(_quantized(model), args)


@pytest.mark.parametrize("case_id", sorted(READERS))
def test_weight_readers_quantized_layers_are_quantized_and_called(case_id: str) -> None:
    model, args = model_and_args(BY_ID[case_id])
    kind = READERS[case_id]
    read = [name for name, m in model.named_modules() if type(m) is kind]
    quantized = _quantized(model)
    calls: list[str] = []
    for name, m in quantized.named_modules():
        if name in read and kind is nn.Linear:
            assert type(m) is not nn.Linear, f"{name} was not quantized"
            m.register_forward_hook(lambda mod, i, o, name=name: calls.append(name))
    eager(quantized, args)
    if kind is nn.Linear:
        assert set(calls) == set(read)


@pytest.mark.parametrize("case_id", sorted(READERS))
def test_hooked_layers_fire_and_give_the_same_output(case_id: str) -> None:
    model, args = model_and_args(BY_ID[case_id])
    kind = READERS[case_id]
    expected = _tensors(eager(model, args))
    fired: set[str] = set()
    watched = {name: m for name, m in model.named_modules() if type(m) is kind}
    for name, m in watched.items():
        m.register_forward_hook(lambda mod, i, o, name=name: fired.add(name))
    found = _tensors(eager(model, args))
    assert fired == set(watched)
    for f, e in zip(found, expected, strict=True):
        torch.testing.assert_close(f, e, atol=1e-5, rtol=1e-4)


def test_linear_over_the_first_dimension_with_a_hook() -> None:
    """``linear`` with ``dim: 0`` of [in, M] (torch.addmm) and without a bias (torch.matmul)."""
    text = """vibench: 1
name: FirstDim
inputs:
  x: {shape: [6, M]}
nodes:
  a: {block: linear, in: x, out_features: 4, dim: 0}
  b: {block: linear, in: a, out_features: 3, dim: 0, bias: false}
outputs:
  y: b
"""
    model = vibench.build(text=text, inputs={"x": (6, 5)}).eval()
    x = torch.randn(6, 5)
    with torch.no_grad():
        expected = model(x)
        fired = []
        for layer in (model.a, model.b):
            layer.register_forward_hook(lambda mod, i, o: fired.append(o.shape))
        found = model(x)
    assert fired == [torch.Size([5, 4]), torch.Size([5, 3])]  # called on the transposed input
    torch.testing.assert_close(found, expected)
    torch.testing.assert_close(expected, (model.b.weight @ (model.a.weight @ x + model.a.bias[:, None])))


def test_pruned_token_mixing_trains() -> None:
    model, args = model_and_args(BY_ID["mlp/MLPMixer"])
    model.train()
    mixing = [m for name, m in model.named_modules() if ".token_mlp.fc" in name]
    assert len(mixing) == 2 and all(type(m) is nn.Linear for m in mixing)
    for layer in mixing:
        prune.l1_unstructured(layer, "weight", amount=0.5)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = mixing[0].weight.detach().clone()
    for _ in range(2):  # the second step backpropagates through a weight the first one did not compute
        optimizer.zero_grad()
        model(*args).square().mean().backward()
        optimizer.step()
    model(*args)
    after = mixing[0].weight.detach()
    mask = mixing[0].weight_mask.bool()
    assert not torch.equal(after, before)  # recomputed from the trained weight_orig
    assert torch.equal(after[~mask], torch.zeros_like(after[~mask]))
