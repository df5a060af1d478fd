"""What PHM-Vibench itself can build: its model registry and the keys its models cannot do without.

Facts about the reference snapshot (github.com/PHMbench/PHM-Vibench at ``6fa64c7``,
``src/model_factory``) that :mod:`vibench.compiler.phm` needs to tell a user *why* a config
fails — in vibench and in PHM-Vibench alike — measured by building each reference class with
one key removed at a time (``scripts/reference.py``):

* :data:`MODELS` — the model files the factory can import, by type (the sub-package);
* :data:`UNBUILDABLE` — models whose file exists but that the factory cannot build at all;
* :data:`NOT_MODELS` — modules of a type's package that are no model (no ``Model`` class);
* :data:`REQUIRED_KEYS` — the keys a model or ISFM component reads as attributes when it is
  built (``args.e_layers``), so that a config without them stops PHM-Vibench with an
  ``AttributeError``. ``num_classes`` is never listed: the factory always sets it from the
  dataset metadata; :data:`REQUIRED_WHEN` adds the keys read only for some values of another key
  (TSPN's operators), :data:`SET_BY_COMPOSITE` the keys a composite sets itself before building its
  components, and :func:`required` puts the three together;
* :data:`EMPTY_SLOTS` — slots a composite leaves empty (an ``nn.Identity``) when their key is missing
  or false, instead of needing it;
* :data:`COMPONENTS` — the components each ISFM model looks up by name in its own tables
  (``Embedding_dict``, ``Backbone_dict``, ``TaskHead_dict``): any other name is a ``KeyError``
  there, although vibench's slots take every component of the folder;
* :data:`EXTENSIONS` — the parameters of vibench's templates that the reference model never reads
  (vibench extensions such as Informer's ``distil``): a config that sets one gets a model PHM-Vibench
  does not build from it, which note I106 says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

REFERENCE_SNAPSHOT = "6fa64c7"

MODELS: dict[str, tuple[str, ...]] = {
    "CNN": ("AttentionCNN", "MobileNet1D", "MultiScaleCNN", "ResNet1D", "TCN"),
    "RNN": ("AttentionGRU", "AttentionLSTM", "ConvLSTM", "ResidualRNN", "TransformerRNN"),
    "Transformer": ("Autoformer", "ConvTransformer", "Informer", "Linformer", "PatchTST", "Transformer_Dummy"),
    "MLP": ("DenseNetMLP", "Dlinear", "MLPMixer", "ResNetMLP", "gMLP"),
    "NO": ("DeepONet", "FNO", "GraphNO", "NeuralODE", "WaveletNO"),
    "X_model": ("MWA_CNN", "TSPN"),
    "ISFM": ("M_01_ISFM", "M_02_ISFM", "M_02_ISFM_heterogeneous_batch", "M_03_ISFM"),
    "ISFM_Prompt": ("M_02_ISFM_Prompt",),
}
"""``type`` -> the ``name`` values whose module ``src/model_factory/<type>/<name>.py`` defines ``Model``."""

UNBUILDABLE: dict[str, str] = {
    "Transformer/Transformer_Dummy": "its module imports `register_model` from the factory package, which defines "
    "no such name, so the factory's import fails",
}
"""Reference models that exist as files but that PHM-Vibench cannot build, with why."""

NOT_MODELS: dict[str, str] = {
    "X_model/Feature_extract": "TSPN's feature-extraction operators",
    "X_model/Signal_processing": "TSPN's signal-processing operators",
    "ISFM/system_utils": "helpers of the ISFM models (system ids, sampling rates)",
    "ISFM_Prompt/test_prompt_components": "tests of the prompt components",
    "ISFM_Prompt/test_simplified": "tests of the simplified prompt model",
}
"""Modules of a model type's package that define no ``Model`` class, with what they hold: the factory imports
them and stops at ``module.Model`` (an AttributeError). So does it at each package's ``__init__``."""

_COMPOSITE = ("embedding", "backbone", "task_head")

REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    # ISFM composites and components (built from the one `model:` namespace).
    "ISFM/M_01_ISFM": _COMPOSITE,
    "ISFM/M_02_ISFM": _COMPOSITE,
    "ISFM/M_03_ISFM": _COMPOSITE,
    "ISFM/M_02_ISFM_heterogeneous_batch": ("embedding", "backbone"),  # its only head: `task_head` is never read
    "ISFM_Prompt/M_02_ISFM_Prompt": ("embedding",),  # no backbone or task head: an nn.Identity (EMPTY_SLOTS)
    "ISFM/E_01_HSE": ("output_dim", "num_patches", "patch_size_L", "patch_size_C"),
    "ISFM/E_02_HSE_v2": ("num_patches", "patch_size_L", "hidden_dim", "c_dim", "num_channels"),
    "ISFM/B_01_basic_transformer": ("output_dim", "num_heads", "num_layers"),
    "ISFM/B_03_FITS": ("patch_size_C",),
    "ISFM/B_04_Dlinear": ("output_dim", "num_patches"),
    "ISFM/B_05_Mamba": ("output_dim",),
    "ISFM/B_06_TimesNet": ("output_dim", "e_layers", "d_ff"),
    "ISFM/B_07_TSMixer": ("d_model", "e_layers", "dropout", "seq_len", "enc_in"),
    "ISFM/B_08_PatchTST": ("output_dim", "num_heads", "e_layers", "d_ff", "dropout", "activation", "factor"),
    "ISFM/B_09_FNO": ("output_dim",),
    "ISFM/B_10_VIBT": ("hidden_dim", "num_heads", "num_layers", "factor"),
    "ISFM/H_01_Linear_cla": ("output_dim",),
    "ISFM/H_02_Linear_cla_heterogeneous_batch": ("output_dim",),
    "ISFM/H_02_distance_cla": ("output_dim",),
    "ISFM/H_03_Linear_pred": ("output_dim", "num_patches"),
    "ISFM/H_04_VIB_pred": ("hidden_dim", "patch_size_L", "c_dim", "num_channels"),
    "ISFM/H_09_multiple_task": ("output_dim", "num_patches"),
    "ISFM/MultiTaskHead": ("output_dim", "num_patches"),
    # The classic families read `args.input_dim` (every other key through getattr with a default), except
    # Transformer_Dummy and MLP/Dlinear (all through getattr).
    **{f"{family}/{name}": ("input_dim",) for family, names in MODELS.items() if family in ("CNN", "RNN", "Transformer")
       for name in names},
    "Transformer/Transformer_Dummy": ("input_dim", "hidden_dim", "num_heads", "num_layers", "dropout"),
    **{f"MLP/{name}": ("input_dim",) for name in ("DenseNetMLP", "MLPMixer", "ResNetMLP", "gMLP")},
    **{f"NO/{name}": ("input_dim",) for name in MODELS["NO"]},
    "X_model/MWA_CNN": ("in_channels",),
    # `device`: TSPN moves each layer there while it is built.
    "X_model/TSPN": ("signal_processing_configs", "feature_extractor_configs", "in_channels", "out_channels", "scale",
                     "skip_connection", "device"),
}
"""Reference model (``reference.model`` of a template) -> keys it cannot be built without, whatever the config."""


def _tspn_operators(config: Mapping[str, Any]) -> set[str]:
    """The signal-processing operators of a TSPN config (its `signal_processing_configs` layers' lists)."""
    layers = config.get("signal_processing_configs")
    if not isinstance(layers, dict):
        return set()
    return {name for names in layers.values() if isinstance(names, list) for name in names if isinstance(name, str)}


REQUIRED_WHEN: dict[str, tuple[tuple[Callable[[Mapping[str, Any]], bool], tuple[str, ...]], ...]] = {
    "X_model/TSPN": (
        # Every operator's base class (SignalProcessingBase and its two-input twin) reads them.
        (lambda config: bool(_tspn_operators(config)), ("in_dim", "out_dim")),
        # WaveFilters initialises its frequencies from them.
        (lambda config: "WF" in _tspn_operators(config), ("f_c_mu", "f_c_sigma", "f_b_mu", "f_b_sigma")),
    ),
}
"""Reference model -> (when the config's keys say so, the keys it then cannot be built without)."""

SET_BY_COMPOSITE: dict[str, tuple[str, ...]] = {
    "ISFM/M_02_ISFM": ("num_channels",),
    "ISFM/M_02_ISFM_heterogeneous_batch": ("num_channels",),
}
"""Composite -> keys it sets itself (from the dataset metadata) before building its components, which
therefore need no value in the config; under M_01_ISFM, E_02_HSE_v2 stops on a missing `num_channels`."""

EMPTY_SLOTS: dict[str, tuple[str, ...]] = {
    "ISFM_Prompt/M_02_ISFM_Prompt": ("backbone", "task_head"),
}
"""Composite -> slots it fills with an ``nn.Identity`` when their key is missing or false
(``if hasattr(args_m, 'backbone') and args_m.backbone``)."""


def read_by_reference(model: str) -> frozenset[str]:
    """The keys reference ``model`` reads and cannot be built without, with some config or any
    (:data:`REQUIRED_KEYS` and :data:`REQUIRED_WHEN`): a key vibench ignores among them is read there all the same.

    >>> sorted(read_by_reference("X_model/TSPN") & {"device", "in_dim", "hidden_dim"})
    ['device', 'in_dim']
    """
    return frozenset(REQUIRED_KEYS.get(model, ())).union(*(keys for _, keys in REQUIRED_WHEN.get(model, ())))


def needed_hint(owner: str) -> str:
    """The hint of a warning about a key vibench does not read that PHM-Vibench's ``owner`` needs (W112 asks a
    config for it): not "remove it"."""
    return (f"vibench does not need it, but PHM-Vibench's {owner} cannot be built without it: keep it where the "
            "config must also run in PHM-Vibench, remove it otherwise")


def required(model: str, config: Mapping[str, Any], composite: str | None = None) -> tuple[str, ...]:
    """The keys reference ``model`` (a component of ``composite``, if given) cannot be built without,
    for the keys ``config`` holds:

    >>> required("X_model/TSPN", {"signal_processing_configs": {"layer1": ["I"]}})[-2:]
    ('in_dim', 'out_dim')
    >>> "num_channels" in required("ISFM/E_02_HSE_v2", {}, composite="ISFM/M_02_ISFM")
    False
    """
    keys = REQUIRED_KEYS.get(model, ()) + tuple(
        key for applies, keys in REQUIRED_WHEN.get(model, ()) if applies(config) for key in keys)
    skipped = SET_BY_COMPOSITE.get(composite or "", ())
    return tuple(key for key in keys if key not in skipped)


_ISFM_BACKBONES = ("B_01_basic_transformer", "B_03_FITS", "B_04_Dlinear", "B_05_Mamba", "B_06_TimesNet",
                   "B_07_TSMixer", "B_08_PatchTST", "B_09_FNO")

COMPONENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "ISFM/M_01_ISFM": {
        "embedding": ("E_01_HSE", "E_02_HSE_v2", "E_03_Patch"),
        "backbone": _ISFM_BACKBONES,
        "task_head": ("H_01_Linear_cla", "H_02_distance_cla", "H_03_Linear_pred", "H_09_multiple_task",
                      "MultiTaskHead"),
    },
    "ISFM/M_02_ISFM": {
        "embedding": ("E_01_HSE", "E_02_HSE_v2"),
        "backbone": (*_ISFM_BACKBONES, "B_10_VIBT"),
        "task_head": ("H_01_Linear_cla", "H_02_distance_cla", "H_03_Linear_pred", "H_09_multiple_task",
                      "H_04_VIB_pred"),
    },
    "ISFM/M_02_ISFM_heterogeneous_batch": {
        "embedding": ("E_01_HSE", "E_02_HSE_v2", "E_03_Patch"),
        "backbone": _ISFM_BACKBONES,
        "task_head": ("H_02_Linear_cla_heterogeneous_batch",),  # its only head: `task_head` is never read
    },
    "ISFM/M_03_ISFM": {
        "embedding": ("E_01_HSE", "E_02_HSE_v2"),
        "backbone": _ISFM_BACKBONES,
        "task_head": ("H_01_Linear_cla", "H_02_distance_cla", "H_03_Linear_pred", "H_09_multiple_task"),
    },
    "ISFM_Prompt/M_02_ISFM_Prompt": {
        "embedding": ("HSE_prompt", "E_01_HSE", "E_01_HSE_v2"),
        "backbone": ("B_01_basic_transformer", "B_04_Dlinear", "B_05_Mamba", "B_06_TimesNet", "B_08_PatchTST",
                     "B_09_FNO", "B_11_MomentumEncoder"),
        "task_head": ("H_01_Linear_cla", "H_02_distance_cla", "H_03_Linear_pred", "H_09_multiple_task",
                      "H_10_ProjectionHead"),
    },
}
"""Reference ISFM model -> slot -> the component names its tables hold (``src/model_factory/ISFM*/M_*.py``
at the snapshot): the names PHM-Vibench can build in that slot."""


def unregistered(model: str, slot: str, component: str) -> tuple[str, ...] | None:
    """The components the reference ``model`` builds in ``slot`` when ``component`` is not one of them, else None."""
    names = COMPONENTS.get(model, {}).get(slot)
    return names if names is not None and component not in names else None


def why_not_buildable(kind: str, name: str) -> str | None:
    """Why PHM-Vibench's factory cannot build ``kind/name`` (None when it can, as far as is known)."""
    if kind not in MODELS:
        return (f"PHM-Vibench has no model type `{kind}` either: its factory imports "
                f"`src.model_factory.{kind}.{name}`, and there is no package `{kind}`")
    if name not in MODELS[kind]:
        module = f"src/model_factory/{kind}/{name}.py"
        held = NOT_MODELS.get(f"{kind}/{name}") or ("the package's own code" if name == "__init__" else None)
        if held is not None:
            return (f"PHM-Vibench has no model `{kind}/{name}` either: `{module}` holds {held} and defines no "
                    "`Model` class, which its factory takes from the module (an AttributeError there)")
        return f"PHM-Vibench has no model `{kind}/{name}` either: there is no `{module}` for its factory to import"
    reason = UNBUILDABLE.get(f"{kind}/{name}")
    return f"PHM-Vibench cannot build `{kind}/{name}` either: {reason}" if reason else None


def type_for_name(name: str) -> str | None:
    """The reference type that holds a model called ``name`` (``M_01_ISFM`` -> ``ISFM``), if any."""
    for kind, names in MODELS.items():
        if name in names:
            return kind
    return None


_LAYOUT = "PHM-Vibench's model takes x as [B, L, C] only (`layout: BLC`)"
_MATCH_LENGTH = "PHM-Vibench's decoder keeps its own output length (`match_input_length: false`)"
_TASK_ID = "PHM-Vibench takes the task as an argument of forward, never from the config (`task_id: null`)"
_RETURN_FEATURE = "PHM-Vibench returns the features only when forward is asked to (`return_feature: false`)"
_EVAL_SAMPLING = "PHM-Vibench draws new patch positions on every call, in eval mode too (`eval_sampling: random`)"
_SAMPLING_SEED = "PHM-Vibench's patch positions are drawn afresh, without a seed of their own"
_POOLED_INPUT = "PHM-Vibench's head takes tokens [B, P, D] or pooled [B, D] at every call (`pooled_input: false`)"
_MULTI_TASK = "PHM-Vibench's composite has one backbone and one head, whatever this key says (null)"

EXTENSIONS: dict[str, dict[str, str]] = {
    **{f"CNN/{name}": {"layout": _LAYOUT, "match_input_length": _MATCH_LENGTH}
       for name in ("ResNet1D", "MobileNet1D", "MultiScaleCNN")},
    "CNN/AttentionCNN": {"layout": _LAYOUT, "match_input_length": _MATCH_LENGTH,
                         "attention_reduction": "PHM-Vibench's channel attention always reduces by 16 "
                         "(`attention_reduction: 16`)"},
    "CNN/TCN": {"layout": _LAYOUT},
    **{f"{family}/{name}": {"layout": _LAYOUT} for family in ("RNN", "MLP", "NO", "Transformer")
       for name in MODELS[family]},
    "Transformer/Informer": {
        "layout": _LAYOUT,
        "attention": "PHM-Vibench's attention keeps each query's best keys of the full scores (`attention: top_k`)",
        "sampling_seed": "PHM-Vibench never samples keys (`attention: top_k`)",
        "distil": "PHM-Vibench's Informer has no distilling layers (`distil: false`)",
    },
    "Transformer/Transformer_Dummy": {"layout": _LAYOUT, "batch_first": "PHM-Vibench's encoder attends over the "
                                      "batch's samples at each time step (`batch_first: false`)"},
    "X_model/MWA_CNN": {
        "layout": _LAYOUT,
        "num_filters": "PHM-Vibench's MWA_CNN always has 12 filters (`num_filters: 12`)",
        "wavelet": "PHM-Vibench's MWA_CNN always uses db16 (`wavelet: db16`)",
        "dropout": "PHM-Vibench's MWA_CNN always drops 0.1 (`dropout: 0.1`)",
    },
    "X_model/TSPN": {"layout": _LAYOUT},
    # M_02_ISFM_heterogeneous_batch never reads `task_head` either: another head than its own is W115.
    **{f"ISFM/{name}": {"ensemble_backbones": _MULTI_TASK, "fusion_strategy": _MULTI_TASK, "task_configs": _MULTI_TASK,
                        "tasks": _MULTI_TASK, "return_feature": _RETURN_FEATURE, "task_id": _TASK_ID}
       for name in ("M_01_ISFM", "M_02_ISFM", "M_03_ISFM", "M_02_ISFM_heterogeneous_batch")},
    "ISFM_Prompt/M_02_ISFM_Prompt": {"return_feature": _RETURN_FEATURE, "task_id": _TASK_ID},
    "ISFM/B_01_basic_transformer": {
        "dim_feedforward": "PHM-Vibench keeps PyTorch's feed-forward width (`dim_feedforward: 2048`)",
        "layer_dropout": "PHM-Vibench keeps PyTorch's dropout in each layer (`layer_dropout: 0.1`)",
    },
    "ISFM/B_03_FITS": {
        "seq_len": "PHM-Vibench's FITS always reads its input's bins as those of 4096 samples and returns 4096 "
        "(`seq_len: 4096`)",
        "pred_len": "PHM-Vibench's FITS never forecasts (`pred_len: 0`)",
        "cut_freq": "PHM-Vibench's FITS always keeps 65 bins (`cut_freq: 65`)",
    },
    "ISFM/B_04_Dlinear": {
        "moving_avg": "PHM-Vibench's trend window is always 65 (`moving_avg: 65`)",
        "individual": "PHM-Vibench shares the maps between channels: no config sets its `individual` "
        "(`individual: false`)",
    },
    "ISFM/B_05_Mamba": {
        "d_state": "PHM-Vibench's state size is always 16 (`d_state: 16`)",
        "expand": "PHM-Vibench's inner width is always 2 D (`expand: 2`)",
        "d_conv": "PHM-Vibench's convolution is always 4 wide (`d_conv: 4`)",
        "mamba_layers": "PHM-Vibench always has 2 blocks (`mamba_layers: 2`)",
        "mamba_dropout": "PHM-Vibench always drops 0.1 after each block (`mamba_dropout: 0.1`)",
    },
    "ISFM/B_06_TimesNet": {
        "top_k": "PHM-Vibench always keeps 5 periods (`top_k: 5`)",
        "num_kernels": "PHM-Vibench always has 6 inception kernels (`num_kernels: 6`)",
    },
    "ISFM/E_01_HSE": {"eval_sampling": _EVAL_SAMPLING, "sampling_seed": _SAMPLING_SEED, "layout": _LAYOUT},
    "ISFM_Prompt/E_01_HSE_v2": {
        "eval_sampling": _EVAL_SAMPLING, "sampling_seed": _SAMPLING_SEED,
        "use_prompt": "PHM-Vibench's E_01_HSE_v2 always takes its signal path: its prompt call fails and is caught "
        "(`use_prompt: false`)",
    },
    "ISFM_Prompt/HSE_prompt": {"eval_sampling": _EVAL_SAMPLING, "sampling_seed": _SAMPLING_SEED},
    "ISFM/E_02_HSE_v2": {
        "layout": _LAYOUT,
        "input_dim": "PHM-Vibench takes the channel counts from `num_channels` (under M_02_ISFM: the metadata)",
    },
    "ISFM/E_03_Patch": {"layout": "PHM-Vibench's E_03_Patch guesses the axis order from the sizes"},
    "ISFM/E_com_00_PE": {"in_steps": "PHM-Vibench's per-step table always has 4096 rows (`in_steps: 4096`)"},
    "ISFM/H_01_Linear_cla": {"pooled_input": _POOLED_INPUT},
    "ISFM/H_04_VIB_pred": {"input_dim": "PHM-Vibench takes the channel counts from `num_channels` (under "
                           "M_02_ISFM: the metadata)"},
    "ISFM/H_09_multiple_task": {"task_id": _TASK_ID},
    "ISFM/H_10_ProjectionHead": {"input_features": "PHM-Vibench reads the token width from `input_dim` "
                                 "(else `d_model`, else `output_dim`)"},
    "ISFM/MultiTaskHead": {"task_id": _TASK_ID, "pooled_input": _POOLED_INPUT},
}
"""Reference model (``reference.model`` of a template) -> the parameters of vibench's template that the reference
never reads, each with what the reference does instead (and the value that gives it, where one does): the
extensions a template documents (vibench/specs/DEVIATIONS.md), measured against ``src/model_factory`` at the
snapshot. A key a reference model reads but ignores is the template's ``ignored_keys`` (W101), not one of these."""
