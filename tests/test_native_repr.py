"""``print(model)`` shows the configuration of the native modules, as it does for torch's layers.

Every built-in native ``nn.Module`` class whose constructor takes parameters defines ``extra_repr``
(found through the registry, so a new native is covered), and a representative instance of each,
built from a library template (or a one-node spec where no template uses it), prints its settings:
``WeightNormCausalConv1d(25, 25, kernel_size=2, dilation=2)`` where it printed
``WeightNormCausalConv1d()``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any

import pytest
import torch

import vibench
from vibench.compiler import registry
from vibench.compiler.blocks import torchless


def _one_node(node: str, shape: str) -> str:
    return (f"vibench: 1\nname: M\ninputs: {{x: {{shape: {shape}, dtype: float32}}}}\n"
            f"nodes:\n  n: {node}\noutputs: {{y: n}}\n")


_ENSEMBLE = ["B_04_Dlinear", "B_04_Dlinear"]

# Models to build: a library template with its parameters, or the text of a one-node spec.
BUILDS: dict[str, tuple[str, dict[str, Any]]] = {
    "TCN": ("cnn/TCN", {}),
    "AttentionCNN": ("cnn/AttentionCNN", {}),
    "AttentionLSTM": ("rnn/AttentionLSTM", {"num_classes": 4}),
    "Autoformer": ("transformer/Autoformer", {}),
    "Informer": ("transformer/Informer", {}),
    "Linformer": ("transformer/Linformer", {}),
    "PatchTST": ("transformer/PatchTST", {}),
    "gMLP": ("mlp/gMLP", {}),
    "FNO": ("no/FNO", {}),
    "GraphNO": ("no/GraphNO", {}),
    "NeuralODE": ("no/NeuralODE", {}),
    "WaveletNO": ("no/WaveletNO", {}),
    "MWA_CNN": ("x_model/MWA_CNN", {}),
    "TSPN": ("x_model/TSPN", {"signal_processing_configs": {"layer1": ["LNO", "WF", "Squ", "Mul"]}}),
    "ISFM_concat": ("isfm/M_01_ISFM", {"ensemble_backbones": _ENSEMBLE, "fusion_strategy": "concat"}),
    "ISFM_gated": ("isfm/M_01_ISFM", {"ensemble_backbones": _ENSEMBLE, "fusion_strategy": "gated"}),
    "ISFM_attention": ("isfm/M_01_ISFM", {"ensemble_backbones": _ENSEMBLE, "fusion_strategy": "attention"}),
    "E_01_HSE": ("isfm/embedding/E_01_HSE", {"eval_sampling": "seeded", "sampling_seed": 3}),
    "E_01_HTFE": ("isfm/embedding/E_01_HTFE", {}),
    "E_02_HSE_v2": ("isfm/embedding/E_02_HSE_v2", {}),
    "E_com_00_PE": ("isfm/embedding/E_com_00_PE", {}),
    "HSE_prompt": ("isfm/embedding/HSE_prompt", {}),
    "B_03_FITS": ("isfm/backbone/B_03_FITS", {"seq_len": 1024, "pred_len": 256}),
    "B_04_Dlinear": ("isfm/backbone/B_04_Dlinear", {"individual": True, "output_dim": 8}),
    "B_05_Mamba": ("isfm/backbone/B_05_Mamba", {}),
    "B_06_TimesNet": ("isfm/backbone/B_06_TimesNet", {}),
    "B_10_VIBT": ("isfm/backbone/B_10_VIBT", {}),
    "H_02_distance_cla": ("isfm/task_head/H_02_distance_cla", {}),
    "H_03_Linear_pred": ("isfm/task_head/H_03_Linear_pred", {}),
    "causal_conv1d": (_one_node("{block: causal_conv1d, in: x, out_channels: 8, kernel_size: 3, dilation: 4, "
                                "bias: false}", "[B, 2, L]"), {}),
    "sinusoidal_positional_encoding": (_one_node("{block: sinusoidal_positional_encoding, in: x, max_len: 64}",
                                                 "[B, L, 6]"), {}),
}

# Native class -> (the build holding it, what one of its instances prints between the parentheses).
EXPECTED: dict[str, tuple[str, str]] = {
    "AttentionFusion": ("ISFM_attention", "d_model=128"),
    "AttentionPooling": ("AttentionLSTM", "d_model=256, attention_dim=64"),
    "AutoCorrelation": ("Autoformer", "d_model=256, num_heads=8, factor=1"),
    "CausalConv1d": ("causal_conv1d", "2, 8, kernel_size=3, dilation=4, bias=False"),
    "ChannelAttention1d": ("AttentionCNN", "64, reduction=16, pooling='avg_max'"),
    "ComplexLinear": ("B_03_FITS", "in_features=65, out_features=81"),
    "ConcatFusion": ("ISFM_concat", "num_members=2, d_model=128"),
    "ElementwiseOperator": ("TSPN", "kind='Squ'"),
    "EulerODE": ("NeuralODE", "t_end=0.1, steps=2"),
    "FeatureBatchNorm": ("TSPN", "208, eps=0.1"),
    "FrequencyInterpolation": ("B_03_FITS", "cut_freq=65, channels=1, seq_len=1024, pred_len=256"),
    "GatedFusion": ("ISFM_gated", "num_members=2, d_model=128"),
    "GaussianWaveFilter": ("TSPN", "channels=4"),
    "GraphConv": ("GraphNO", "64, dropout=0.1"),
    "GraphOperator": ("GraphNO", "num_nodes=10, num_layers=4, use_spectral=True"),
    "HsePatchSampler": ("E_01_HSE", "patch_size_L=128, patch_size_C=1, num_patches=32, eval_sampling='seeded', seed=3"),
    "HsePositionTable": ("E_02_HSE_v2", "num_patches=128, dim=64"),
    "HseSequencePatches": ("E_02_HSE_v2", "num_patches=128, patch_size_L=256"),
    "HtfePatchSampler": ("E_01_HTFE", "patch_size_L=128, patch_size_C=1, num_patches=32, f_s=1000.0"),
    "InceptionBlock2d": ("B_06_TimesNet", "128, 256, num_kernels=6"),
    "InterpolatedPositionalEncoding": ("Informer", "d_model=256, max_len=5000"),
    "IsfmCrossAttention": ("H_02_distance_cla", "dim=128, num_heads=8"),
    "LaplaceNeuralOperator": ("TSPN", "channels=4"),
    "LinformerAttention": ("Linformer", "d_model=256, num_heads=8, seq_len=512, k=256"),
    "MambaMixer": ("B_05_Mamba", "d_model=128, d_state=16, expand=2, d_conv=4, dt_rank=8"),
    "MatchLength": ("PatchTST", "dim=1, like_dim=1, mode='replicate'"),
    "MovingAverage": ("Autoformer", "kernel_size=25, dim=1"),
    "PairwiseOperator": ("TSPN", "kind='Mul'"),
    "PositionTable": ("E_com_00_PE", "d_model=128, max_len=5000"),
    "ProbSparseAttention": ("Informer", "d_model=256, num_heads=8, mode='top_k', factor=5, seed=None"),
    "PrototypeLogits": ("H_02_distance_cla", "num_classes=10, dim=128"),
    "ScaledRMSNorm": ("B_10_VIBT", "64"),
    "SeriesDecomposition": ("Autoformer", "kernel_size=25, dim=1"),
    "SignalFeatures": ("TSPN", "features=['Mean', 'Std', 'Var', 'Entropy', 'Max', 'Min', 'AbsMean', 'Kurtosis', "
                               "'RMS', 'CrestFactor', 'Skewness', 'ClearanceFactor', 'ShapeFactor']"),
    "SignalOperators": ("TSPN", "groups=4, channels=4"),
    "SinusoidalPositionBuffer": ("PatchTST", "d_model=256, max_len=5000, batch_first=True"),
    "SinusoidalPositionalEncoding": ("sinusoidal_positional_encoding", "d_model=6, max_len=64"),
    "SoftmaxLinear": ("TSPN", "in_features=1, out_features=16, temperature=0.1"),
    "SpatialAttention1d": ("AttentionCNN", "kernel_size=7"),
    "SpatialGatingUnit": ("gMLP", "d_model=512, seq_len=512"),
    "SpectralConv1d": ("FNO", "64, 64, modes=16"),
    "SpectralGraphConv": ("GraphNO", "64, num_modes=8"),
    "SystemPromptTable": ("HSE_prompt", "50, 64, max_norm=10.0, tokens=1"),
    "TemporalLinear": ("B_04_Dlinear", "in_features=32, out_features=32, channels=8"),
    "TimesBlock": ("B_06_TimesNet", "top_k=5"),
    "UniversalProjection": ("H_03_Linear_pred", "in_features=4096, max_len=4096, max_out=3"),
    "WaveletConv1d": ("WaveletNO", "64, 64, kernel_size=3"),
    "WaveletDWT": ("MWA_CNN", "wavelet='db16'"),
    "WeightNormCausalConv1d": ("TCN", "25, 25, kernel_size=2, dilation=4"),
}


def _native_modules() -> dict[str, type]:
    """The built-in blocks' native ``nn.Module`` classes (torch-free stand-ins), by name."""
    natives = {}
    for name, module in registry.builtin_natives().items():
        native = getattr(importlib.import_module(module), name)
        if isinstance(native, type) and issubclass(native, torchless.Module):
            natives[name] = native
    return natives


def _configured(cls: type) -> bool:
    """Whether ``cls``'s own constructor takes parameters (its configuration)."""
    init = cls.__dict__.get("__init__")
    return init is not None and len(inspect.signature(init).parameters) > 1


# Natives whose children print their whole configuration: SystemRouter is its per-system heads (a
# ModuleDict of nn.Linear), and a line of its own would put H_01_Linear_cla past its line bound.
SHOWN_BY_CHILDREN = {"SystemRouter"}
NATIVES = _native_modules()
CONFIGURED = sorted(name for name, cls in NATIVES.items() if _configured(cls) and name not in SHOWN_BY_CHILDREN)


def test_the_registry_lists_the_natives() -> None:
    assert {"WeightNormCausalConv1d", "TemporalLinear", "MeanFusion"} <= set(NATIVES)


@pytest.mark.parametrize("name", CONFIGURED)
def test_a_configured_native_defines_extra_repr(name: str) -> None:
    assert "extra_repr" in vars(NATIVES[name]), f"{name} takes constructor parameters: give it an extra_repr"


def test_every_configured_native_has_a_representative() -> None:
    assert set(EXPECTED) == set(CONFIGURED), "add the native to EXPECTED (and its model to BUILDS)"


@functools.cache
def _model(build: str) -> torch.nn.Module:
    spec, params = BUILDS[build]
    return vibench.build(text=spec) if "\n" in spec else vibench.build(spec, **params)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_native_prints_its_configuration(name: str) -> None:
    build, shown = EXPECTED[name]
    model = _model(build)
    found = [m for m in model.modules() if type(m).__name__ == name and type(m).__module__ == type(model).__module__]
    assert found, f"{BUILDS[build][0]!r} holds no {name}"
    printed = [repr(m) for m in found]
    assert any(text.startswith(f"{name}({shown})") or text.startswith(f"{name}(\n  {shown}\n") for text in printed), (
        f"no {name} of {build} prints {shown!r}: {sorted({m.extra_repr() for m in found})}"
    )
