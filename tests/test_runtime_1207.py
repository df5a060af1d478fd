"""model.py at run time, as QA found it (vibench/compiler/blocks/isfm_routing.py, vibench/compiler/codegen/support.py).

* A system id without a head is refused also by a traced graph: ``torch.export`` and
  ``torch.compile(fullgraph=True)`` of M_01_ISFM with a per-system ``num_classes`` gave that sample NaN logits,
  silently, where eager mode raises ValueError. The graph now holds an assert (``RuntimeError`` with a constant
  text naming the heads); eager mode and TorchScript keep the message naming the ids. A head of another input
  width is refused alike.
* A meta 0-d tensor given to the class as a keyword is the ValueError naming the parameter that another wrong
  type gets (its ``.item()`` raised torch's "cannot be called on meta tensors").
"""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import vibench
from tests.helpers import fresh_dynamo

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)

NO_HEAD = "SystemRouter: an id in system_id has no head (heads: 0, 1)"
GOOD, UNKNOWN = torch.tensor([0, 1]), torch.tensor([0, 7])


@pytest.fixture(scope="module")
def isfm() -> nn.Module:
    # seeded patch positions in eval mode: every run of the model sees the same tokens
    return vibench.build("isfm/M_01_ISFM", num_classes={0: 3, 1: 5}, eval_sampling="seeded").eval()


def _inputs(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.randn(len(ids), 256, 1, generator=torch.Generator().manual_seed(0))
    return x, torch.full((len(ids),), 1000.0), ids


def _router(model: nn.Module, widths: dict[str, int]) -> nn.Module:
    """A router of the emitted class, with a Linear head per system of the given input widths."""
    router_class = next(type(m) for m in model.modules() if type(m).__name__ == "SystemRouter")
    torch.manual_seed(0)
    heads = {key: nn.Linear(width, 3) for key, width in widths.items()}
    return router_class(heads, in_features=widths, out_features=3)


def test_an_exported_model_refuses_an_id_without_a_head(isfm: nn.Module) -> None:
    with torch.no_grad():
        eager = isfm(*_inputs(GOOD))
        with pytest.raises(ValueError, match=re.escape("system_id holds 7, which has no head (heads: 0, 1)")):
            isfm(*_inputs(UNKNOWN))
        exported = torch.export.export(isfm, _inputs(GOOD)).module()
        torch.testing.assert_close(exported(*_inputs(GOOD)), eager)
        with pytest.raises(RuntimeError, match="^" + re.escape(NO_HEAD)):  # was a row of NaN
            exported(*_inputs(UNKNOWN))


def test_a_compiled_model_refuses_an_id_without_a_head(isfm: nn.Module) -> None:
    compiled = torch.compile(isfm, fullgraph=True, backend="aot_eager")  # functionalised, as inductor sees it
    with torch.no_grad():
        torch.testing.assert_close(compiled(*_inputs(GOOD)), isfm(*_inputs(GOOD)))
        with pytest.raises(RuntimeError, match="^" + re.escape(NO_HEAD)):
            compiled(*_inputs(UNKNOWN))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_a_scripted_model_keeps_the_message_naming_the_ids(isfm: nn.Module) -> None:
    scripted = torch.jit.script(isfm)
    with torch.no_grad(), pytest.raises(torch.jit.Error, match=re.escape("holds 7, which has no head (heads: 0, 1)")):
        scripted(*_inputs(UNKNOWN))


def test_inductor_keeps_the_check_also_while_training(isfm: nn.Module) -> None:
    router = _router(isfm, {"0": 4, "1": 4}).train()
    compiled = torch.compile(router, fullgraph=True)
    x = torch.randn(2, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(router(x, GOOD).sum(), x)
    torch.testing.assert_close(torch.autograd.grad(compiled(x, GOOD).sum(), x)[0], grad)
    with pytest.raises(RuntimeError, match="^" + re.escape(NO_HEAD)):
        compiled(x, UNKNOWN)


def test_a_traced_graph_refuses_a_head_of_another_width(isfm: nn.Module) -> None:
    router = _router(isfm, {"0": 4, "1": 5}).eval()
    x = torch.randn(2, 4)
    with torch.no_grad():
        with pytest.raises(ValueError, match=re.escape("sample 1 is of system 1, which expects another input width")):
            router(x, GOOD)
        compiled = torch.compile(router, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x, torch.tensor([0, 0])), router(x, torch.tensor([0, 0])))
        with pytest.raises(RuntimeError, match="^" + re.escape(
                "SystemRouter: a sample's head reads another input width (last axis)")):
            compiled(x, GOOD)
        with pytest.raises(RuntimeError, match="^" + re.escape(NO_HEAD)):  # the id first, as in eager mode
            compiled(x, UNKNOWN)


# -- a meta tensor as a keyword argument ------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet_class() -> type[nn.Module]:
    return type(vibench.build("cnn/ResNet1D", initial_channels=8, layers=[1, 1, 1, 1], num_classes=3))


def test_a_meta_tensor_for_a_free_parameter_is_a_wrong_type(resnet_class: type[nn.Module]) -> None:
    meta = "tensor(..., device='meta', size=(), dtype=torch.int64)"
    with pytest.raises(ValueError, match="^" + re.escape(f"ResNet1D: num_classes={meta} must be an int >= 1") + "$"):
        resnet_class(num_classes=torch.tensor(4, device="meta"))
    assert resnet_class(num_classes=torch.tensor(4)).classifier.out_features == 4  # a tensor with a value: that value


def test_a_meta_tensor_for_a_compiled_parameter_differs_from_it(resnet_class: type[nn.Module]) -> None:
    for value in (torch.tensor(8, device="meta"), [torch.tensor(1, device="meta")] * 4):
        with pytest.raises(ValueError, match=r"^ResNet1D: (initial_channels|layers)=.*meta.* differs from the value"):
            resnet_class(**{"initial_channels" if isinstance(value, torch.Tensor) else "layers": value})
    resnet_class(initial_channels=torch.tensor(8), layers=[torch.tensor(1)] * 4)  # the compiled values: built
