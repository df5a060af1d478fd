"""Per-system routing (SystemRouter): each sample gets its own system's head, with no Python branch on
the ids' values, so M_01_ISFM with a per-system ``num_classes`` runs eagerly, under
``torch.compile(fullgraph=True)``, through ``torch.export`` and under ``torch.jit.script`` with the
same outputs; those equal a plain per-sample loop over the heads. An id without a head raises a
ValueError naming it in eager mode (torch.jit.Error under TorchScript), and a RuntimeError from the
graph's own assertion in a compiled or exported graph (it once gave NaN logits there, silently).
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import torch
from torch import nn

import vibench
from tests.helpers import ROOT

M_01 = os.path.join(ROOT, "vibench", "specs", "isfm", "M_01_ISFM.yaml")
TWO_SYSTEMS = {"1": 10, "2": 4}
IDS = torch.tensor([2, 1, 1, 2])


def _build(**params: Any) -> nn.Module:
    # seeded patch positions in eval mode: every run of the model sees the same tokens
    return vibench.build(M_01, num_classes=TWO_SYSTEMS, eval_sampling="seeded", **params).eval()


def _inputs(ids: torch.Tensor = IDS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(len(ids), 1024, 2, generator=gen)
    fs = 1000.0 + 24000.0 * torch.rand(len(ids), generator=gen)
    return x, fs, ids


def _routers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if type(m).__name__ == "SystemRouter"]


def _per_sample(router: nn.Module, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The routing written as a loop: sample b through heads[str(ids[b])], padded with -inf."""
    rows = []
    for b, system in enumerate(ids.tolist()):
        y = router.heads[str(system)](x[b : b + 1])
        missing = router.out_features - y.shape[-1]
        rows.append(torch.cat([y, y.new_full((*y.shape[:-1], missing), float("-inf"))], dim=-1))
    return torch.cat(rows)


@pytest.fixture(scope="module")
def model() -> nn.Module:
    return _build()


@pytest.fixture(scope="module")
def eager(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(*_inputs())


@pytest.mark.parametrize("params", [
    {},
    {"task_head": "H_02_distance_cla"},
    {"embedding": "E_02_HSE_v2", "num_channels": {"1": 2, "2": 2}, "num_patches": 32, "output_dim": 64},
], ids=["H_01 classifiers", "H_02 prototypes", "E_02 channel mixers"])
def test_each_sample_gets_what_a_per_sample_loop_gives(params: dict[str, Any]) -> None:
    model = _build(**params)
    routers = _routers(model)
    assert len(routers) == (2 if "num_channels" in params else 1)  # E_02 routes its channel mixers too
    seen: list[tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    hooks = [r.register_forward_hook(lambda m, args, out: seen.append((m, args[0], args[1], out))) for r in routers]
    with torch.no_grad():
        model(*_inputs())
        for hook in hooks:
            hook.remove()
        assert len(seen) == len(routers)
        for router, x, ids, out in seen:
            assert torch.equal(ids, IDS)
            torch.testing.assert_close(out, _per_sample(router, x, ids))


def test_narrower_systems_are_padded_with_minus_infinity(eager: torch.Tensor) -> None:
    assert eager.shape == (4, 10)
    for b, system in enumerate(IDS.tolist()):
        width = TWO_SYSTEMS[str(system)]
        assert torch.isfinite(eager[b, :width]).all()
        assert torch.isneginf(eager[b, width:]).all()


def test_compiles_as_one_graph(model: nn.Module, eager: torch.Tensor) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(*_inputs()), eager)
        with pytest.raises(RuntimeError, match=re.escape("an id in system_id has no head (heads: 1, 2)")):
            compiled(*_inputs(torch.tensor([2, 1, 3, 2])))


def test_exports(model: nn.Module, eager: torch.Tensor) -> None:
    exported = torch.export.export(model, _inputs())
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(*_inputs()), eager)
        with pytest.raises(RuntimeError, match=re.escape("an id in system_id has no head (heads: 1, 2)")):
            exported.module()(*_inputs(torch.tensor([2, 1, 3, 2])))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_scripts_and_still_refuses_an_unknown_id(model: nn.Module, eager: torch.Tensor) -> None:
    scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(*_inputs()), eager)
        with pytest.raises(torch.jit.Error, match=re.escape("holds 3, which has no head (heads: 1, 2)")):
            scripted(*_inputs(torch.tensor([2, 1, 3, 2])))


def test_an_unknown_id_is_a_clear_error_in_eager_mode(model: nn.Module) -> None:
    """The message names the ids without a head (a few of them) and those with one."""
    with torch.no_grad(), pytest.raises(ValueError, match=re.escape(
            "SystemRouter: system_id holds 3, which has no head (heads: 1, 2)")):
        model(*_inputs(torch.tensor([2, 1, 3, 2])))
    router_class = type(_routers(model)[0])
    one = router_class({"1": nn.Linear(2, 3)}, in_features={"1": 2}, out_features=3)  # eager mode's fast path
    many = router_class({"10": nn.Linear(2, 3), "2": nn.Linear(2, 1)}, in_features={"10": 2, "2": 2}, out_features=3)
    with torch.no_grad():
        with pytest.raises(ValueError, match=re.escape("system_id holds 0, which has no head (heads: 1)") + "$"):
            one(torch.randn(2, 2), torch.tensor([0, 1]))
        with pytest.raises(ValueError, match=re.escape("holds 0, 3, which have no head (heads: 2, 10)")):
            many(torch.randn(4, 2), torch.tensor([3, 2, 0, 3]))
        with pytest.raises(ValueError, match=re.escape("holds 0, 1, 3, 4, ... (6 ids), which have no head")):
            many(torch.randn(7, 2), torch.tensor([9, 4, 0, 10, 3, 1, 5]))


def _mixed_widths(model: nn.Module) -> nn.Module:
    """A router of the emitted class whose systems read 2 and 3 features."""
    router_class = type(_routers(model)[0])
    torch.manual_seed(0)
    return router_class({"1": nn.Linear(2, 3), "2": nn.Linear(3, 1)}, in_features={"1": 2, "2": 3},
                        out_features=3).eval()


def test_a_system_of_another_width_is_refused_eagerly_and_when_compiled(model: nn.Module) -> None:
    router = _mixed_widths(model)
    x, ids = torch.randn(3, 5, 2), torch.tensor([1, 2, 1])
    with torch.no_grad():
        with pytest.raises(ValueError, match="another input width"):
            router(x, ids)
        fits = router(x, torch.tensor([1, 1, 1]))
        torch._dynamo.reset()
        compiled = torch.compile(router, fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(x, torch.tensor([1, 1, 1])), fits)
        with pytest.raises(RuntimeError, match="a sample's head reads another input width"):
            compiled(x, ids)


def test_gradients_reach_only_the_heads_that_samples_use(model: nn.Module) -> None:
    router = _mixed_widths(model).train()
    x = torch.randn(4, 2, requires_grad=True)
    out = router(x, torch.tensor([1, 1, 1, 1]))
    out.sum().backward()
    assert router.heads["1"].weight.grad is not None and router.heads["1"].weight.grad.abs().sum() > 0
    assert router.heads["2"].weight.grad is None  # a head of another width does not run
    assert x.grad is not None and torch.isfinite(x.grad).all()
