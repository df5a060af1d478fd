"""Every library template goes through ``torch.compile(fullgraph=True)`` and ``torch.export`` and gives
its eager outputs, except the few listed in :data:`EXCEPTIONS`, which must still fail (so the list
cannot go stale).

Each template (``vibench/specs/**.yaml``) is built from :data:`CASES` at a small size (the family
tests' settings, shrunk: tracing dominates the cost), in eval mode, and run on the inputs its
``forward`` takes (``x``, ``fs`` [B], ``system_id`` [B], ``domain_id`` [B] (the system ids again),
``target`` [B, L, C]). ``torch.compile`` uses the ``eager`` backend (dynamo captures one graph, no
kernels are generated) and ``torch.export.export(model, args)`` runs through ``program.module()``; each
is called three times (a graph may hold state that changes between calls).
The global generator is seeded before every call: E_01_HSE draws its patches at random in eval mode
too (the reference's behaviour, kept as the default), and both backends draw the same numbers in the
same order. The three ISFM composites cover the three ``eval_sampling`` modes and per-system routing
(two systems, a mixed batch).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo
from vibench.compiler.resolve import LIBRARY_DIR

BACKENDS = ("compile", "export")
SIGNAL = (2, 64, 2)
MONO = (2, 64, 1)
TOKENS = (2, 8, 16)
TWO_SYSTEMS = {"1": 3, "2": 4}
ISFM = dict(patch_size_L=16, num_patches=8, output_dim=16, d_model=16, d_ff=16, num_heads=2, num_layers=1,
            e_layers=1, hidden_dim=8, num_classes=TWO_SYSTEMS)
HEAD = dict(output_dim=16, num_patches=8, hidden_dim=8, max_len=64, max_out=2)


@dataclass(frozen=True)
class Case:
    template: str
    params: dict[str, Any]
    x: tuple[int, ...]
    systems: tuple[int, ...] = (2, 1)  # the batch's system ids, when forward takes `system_id`
    target: tuple[int, ...] = SIGNAL  # the prediction heads' `target` [B, L, C]
    name: str = ""  # a variant's name (default: the template's)

    @property
    def id(self) -> str:
        return self.name or self.template


def _classic(template: str, x: tuple[int, ...] = SIGNAL, **params: Any) -> Case:
    return Case(template, {"input_dim": x[-1], **params}, x)


CASES = [
    _classic("cnn/ResNet1D", initial_channels=8, layers=[1, 1, 1, 1], num_classes=3),
    _classic("cnn/AttentionCNN", channels=[16, 32], num_classes=3),
    _classic("cnn/MultiScaleCNN", multiscale_channels=[8, 8], scales=[3, 5], num_classes=3),
    _classic("cnn/MobileNet1D", inverted_residual_setting=[[1, 8, 1, 1], [2, 8, 2, 2]], width_multiplier=0.5,
             num_classes=3),
    _classic("cnn/TCN", num_channels=[8, 8], kernel_size=3, num_classes=3),
    _classic("rnn/AttentionLSTM", (2, 16, 2), hidden_dim=8, num_layers=1, attention_dim=4, num_classes=3),
    _classic("rnn/AttentionGRU", (2, 16, 2), hidden_dim=8, num_heads=2, num_layers=1, num_classes=3),
    _classic("rnn/ConvLSTM", (2, 16, 2), hidden_dims=[8], kernel_sizes=[3], num_layers=1, num_classes=3),
    _classic("rnn/ResidualRNN", (2, 16, 2), hidden_dim=8, num_layers=2, rnn_type="gru", num_classes=3),
    _classic("transformer/PatchTST", d_model=8, n_heads=2, num_layers=1, d_ff=16, patch_size=8, stride=4,
             num_classes=3),
    _classic("transformer/Autoformer", d_model=8, n_heads=2, e_layers=1, d_ff=16, num_classes=3),
    _classic("transformer/Informer", d_model=8, n_heads=2, e_layers=1, d_ff=16, num_classes=3),
    _classic("transformer/Linformer", d_model=8, n_heads=2, num_layers=1, d_ff=16, seq_len=64, k=8, num_classes=3),
    _classic("mlp/ResNetMLP", hidden_dim=8, num_layers=1, num_classes=3),
    _classic("mlp/MLPMixer", seq_len=64, hidden_dim=8, num_layers=1, tokens_mlp_dim=8, channels_mlp_dim=8,
             num_classes=3),
    _classic("mlp/gMLP", seq_len=64, hidden_dim=8, num_layers=1, ffn_dim=8, num_classes=3),
    _classic("mlp/DenseNetMLP", growth_rate=4, block_config=[2, 2], num_classes=3),
    _classic("mlp/Dlinear", seq_len=64, kernel_size=5),
    _classic("no/FNO", width=8, modes=4, n_layers=2),
    _classic("no/DeepONet", branch_layers=[8, 8], trunk_layers=[8, 8]),
    # The composites: random eval patches (the default), seeded and evenly spaced; two systems.
    Case("isfm/M_01_ISFM", dict(ISFM), MONO),
    Case("isfm/M_02_ISFM", dict(ISFM, eval_sampling="seeded"), MONO),
    Case("isfm/M_03_ISFM", dict(ISFM, eval_sampling="evenly_spaced"), MONO),
    Case("isfm/embedding/E_01_HSE", dict(patch_size_L=16, num_patches=8, output_dim=16), MONO),
    Case("isfm/embedding/E_02_HSE_v2", dict(patch_size_L=16, num_patches=8, hidden_dim=16, c_dim=2,
                                            num_channels={"1": 1, "2": 1}), MONO),
    Case("isfm/embedding/E_03_Patch", dict(patch_size_L=16, d_model=16, output_dim=16), MONO),
    Case("isfm/backbone/B_01_basic_transformer", dict(output_dim=16, num_heads=2, num_layers=1, dim_feedforward=16),
         TOKENS),
    Case("isfm/backbone/B_03_FITS", {}, (2, 256, 1)),
    Case("isfm/backbone/B_04_Dlinear", dict(num_patches=8, output_dim=16), TOKENS),
    Case("isfm/backbone/B_05_Mamba", dict(output_dim=16), TOKENS),
    Case("isfm/backbone/B_06_TimesNet", dict(output_dim=16, d_ff=8, e_layers=1), (2, 16, 16)),
    Case("isfm/backbone/B_07_TSMixer", dict(num_patches=8, output_dim=16, d_model=16), TOKENS),
    Case("isfm/backbone/B_08_PatchTST", dict(output_dim=16, d_ff=16, num_heads=2, e_layers=1), TOKENS),
    Case("isfm/backbone/B_09_FNO", dict(output_dim=16, width=8, num_layers=1, modes=4), TOKENS),
    Case("isfm/task_head/H_01_Linear_cla", dict(output_dim=16, num_classes=TWO_SYSTEMS), TOKENS),
    Case("isfm/task_head/H_02_distance_cla", dict(output_dim=16, num_classes=TWO_SYSTEMS), TOKENS),
    Case("isfm/task_head/H_03_Linear_pred", dict(HEAD), TOKENS),
    Case("isfm/task_head/H_09_multiple_task", dict(HEAD, num_classes=TWO_SYSTEMS), TOKENS),
    Case("isfm/task_head/MultiTaskHead", dict(HEAD, num_classes=TWO_SYSTEMS), TOKENS),
    # Library III (12-03).
    Case("isfm/M_02_ISFM_Prompt", dict(ISFM, prompt_dim=8), MONO),
    Case("isfm/M_02_ISFM_heterogeneous_batch", dict(ISFM, num_classes={"1": 3, "2": 3}), MONO),
    Case("isfm/embedding/E_01_HSE_v2", dict(patch_size_L=16, num_patches=8, output_dim=16, prompt_dim=8), MONO),
    Case("isfm/embedding/E_01_HTFE", dict(patch_size_L=16, num_patches=8, output_dim=16), MONO),
    Case("isfm/embedding/E_02_HSE_rec", dict(patch_size_L=16, num_patches=8, hidden_dim=16, c_dim=2,
                                             num_channels={"1": 1, "2": 1}), MONO),
    Case("isfm/embedding/E_com_00_PE", dict(output_dim=16), MONO),
    Case("isfm/embedding/HSE_prompt", dict(patch_size_L=16, num_patches=8, output_dim=16, prompt_dim=8), MONO),
    Case("isfm/backbone/B_10_VIBT", dict(hidden_dim=16, num_heads=2, num_layers=1), TOKENS),
    Case("isfm/backbone/B_11_MomentumEncoder", dict(num_patches=8, output_dim=16), TOKENS),
    Case("isfm/task_head/H_02_Linear_cla_heterogeneous_batch", dict(output_dim=16, num_classes={"1": 3, "2": 3}),
         TOKENS),
    Case("isfm/task_head/H_04_VIB_pred", dict(hidden_dim=16, patch_size_L=8, c_dim=2, num_channels={"1": 2, "2": 1}),
         TOKENS),
    Case("isfm/task_head/H_05_RUL_pred", dict(output_dim=16), TOKENS),
    Case("isfm/task_head/H_06_Anomaly_det", dict(output_dim=16), TOKENS),
    Case("isfm/task_head/H_10_ProjectionHead", dict(output_dim=16), TOKENS),
    _classic("no/GraphNO", hidden_dim=8, num_nodes=4, num_layers=2, num_modes=2),
    _classic("no/NeuralODE", hidden_dim=8, ode_layers=2),
    _classic("no/WaveletNO", hidden_dim=8, num_layers=1),
    _classic("rnn/TransformerRNN", (2, 16, 2), d_model=8, n_heads=2, num_layers=1, d_ff=16, num_classes=3),
    _classic("transformer/ConvTransformer", conv_channels=[8, 8], d_model=8, n_heads=2, num_layers=1, d_ff=16,
             num_classes=3),
    _classic("transformer/Transformer_Dummy", hidden_dim=8, num_heads=2, num_layers=1, num_classes=3),
    Case("x_model/MWA_CNN", dict(in_channels=2, num_filters=6, num_classes=3), SIGNAL),
    Case("x_model/TSPN", dict(in_channels=2, signal_processing_configs={"layer1": ["LNO", "WF", "HT", "I"]},
                              out_channels=4, scale=2, num_classes=3), SIGNAL),
    # Variants whose code differs from the defaults' in what a backend sees.
    Case("transformer/Informer", dict(input_dim=2, d_model=8, n_heads=2, e_layers=2, d_ff=16, num_classes=3,
                                      attention="prob_sparse", distil=True), SIGNAL,
         name="transformer/Informer+prob_sparse+distil"),
    Case("transformer/Informer", dict(input_dim=2, d_model=8, n_heads=2, e_layers=1, d_ff=16, num_classes=3,
                                      attention="prob_sparse", sampling_seed=7), SIGNAL,
         name="transformer/Informer+prob_sparse+sampling_seed"),
]
BY_ID = {case.id: case for case in CASES}

_RNN = ("dynamo refuses to trace nn.LSTM / nn.GRU modules (torch: 'Attempted to wrap RNN, GRU, or LSTM'); "
        "torch.export, which traces without dynamo, takes them")
_TIMESNET = ("TimesNet's periods are the top-k FFT bins read with `.tolist()`, so the folded grid's shape depends "
             "on the data: a graph cannot hold it (unbacked symbols)")
EXCEPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("compile", "rnn/AttentionLSTM"): (_RNN, "Attempted to wrap RNN, GRU, or LSTM"),
    ("compile", "rnn/AttentionGRU"): (_RNN, "Attempted to wrap RNN, GRU, or LSTM"),
    ("compile", "rnn/ResidualRNN"): (_RNN, "Attempted to wrap RNN, GRU, or LSTM"),
    ("compile", "rnn/TransformerRNN"): (_RNN, "Attempted to wrap RNN, GRU, or LSTM"),
    ("compile", "isfm/backbone/B_06_TimesNet"): (_TIMESNET, "(?i)unbacked"),
    ("export", "isfm/backbone/B_06_TimesNet"): (_TIMESNET, "(?i)unbacked"),
}
"""(backend, case) -> (why it cannot work, a pattern of the error the backend raises). Verified by
:func:`test_listed_exception_still_fails`."""

RUNS = [(backend, case.id) for backend in BACKENDS for case in CASES]


def library_templates() -> list[str]:
    found = []
    for folder, _, files in os.walk(LIBRARY_DIR):
        for name in files:
            if name.endswith(".yaml"):
                found.append(os.path.relpath(os.path.join(folder, name), LIBRARY_DIR)[:-5].replace(os.sep, "/"))
    return sorted(found)


def model_and_args(case: Case) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    """The built model (eval mode) and the positional arguments of its forward."""
    model = vibench.build(text=f"vibench: 1\nextends: {case.template}\n", inputs={"x": case.x}, **case.params)
    generator = torch.Generator().manual_seed(0)
    batch = case.x[0]
    values = {
        "x": lambda: torch.randn(case.x, generator=generator),
        "fs": lambda: torch.full((batch,), 1000.0),
        "system_id": lambda: torch.tensor(case.systems[:batch], dtype=torch.int64),
        "domain_id": lambda: torch.tensor(case.systems[:batch], dtype=torch.int64),
        "target": lambda: torch.randn(case.target, generator=generator),
    }
    names = list(inspect.signature(model.forward).parameters)
    assert set(names) <= set(values), f"{case.id}: forward takes {names}"
    return model.eval(), tuple(values[name]() for name in names)


def run(backend: str, model: torch.nn.Module, args: tuple[torch.Tensor, ...], calls: int = 1) -> list[Any]:
    """The outputs of ``calls`` calls of ``model(*args)`` through ``backend`` (the global generator seeded
    before each)."""
    if backend == "compile":
        runner: Any = torch.compile(model, fullgraph=True, backend="eager")
    else:
        runner = torch.export.export(model, args).module()
    outputs = []
    for _ in range(calls):
        torch.manual_seed(0)
        with torch.no_grad():
            outputs.append(runner(*args))
    return outputs


def eager(model: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> Any:
    torch.manual_seed(0)
    with torch.no_grad():
        return model(*args)


_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)


@pytest.mark.parametrize("backend,case_id", [r for r in RUNS if r not in EXCEPTIONS])
def test_backend_gives_the_eager_outputs(backend: str, case_id: str) -> None:
    model, args = model_and_args(BY_ID[case_id])
    expected = eager(model, args)
    # Three calls: a graph holding state (a seeded generator was one object in Informer's exported
    # program) matched eager on its first call only.
    for call, found in enumerate(run(backend, model, args, calls=3)):
        torch.testing.assert_close(found, expected, atol=1e-5, rtol=1e-5, msg=lambda m, k=call: f"call {k}: {m}")


@pytest.mark.parametrize("backend,case_id", list(EXCEPTIONS))
def test_listed_exception_still_fails(backend: str, case_id: str) -> None:
    """An excepted template whose backend starts working must leave the list (and the README)."""
    _, pattern = EXCEPTIONS[(backend, case_id)]
    model, args = model_and_args(BY_ID[case_id])
    with pytest.raises(Exception, match=pattern):  # noqa: B017 - torch raises its own error types here
        run(backend, model, args)


# Templates without a case (none: every library template has one). Listed exactly, so that a template
# added later without a case fails here.
NOT_YET_COVERED: set[str] = set()


def test_every_library_template_has_a_case() -> None:
    covered = {case.template for case in CASES}
    assert not covered & NOT_YET_COVERED, "a case was added: take it off NOT_YET_COVERED"
    assert sorted(covered | NOT_YET_COVERED) == library_templates()
    assert set(EXCEPTIONS) <= set(RUNS)
