"""Forward, training-step and build speed of every library template against PHM-Vibench's own model.

    python benchmarks/forward.py --reference .reference/PHM-Vibench     # the side-by-side (issue 8)
    python benchmarks/forward.py                                        # vibench alone; comparison skipped
    python benchmarks/forward.py --reference DIR --quick --only ResNet  # a short run of some templates
    python benchmarks/forward.py --reference DIR --only MobileNet --profile 5   # + torch.profiler op diff

For every template of ``vibench/specs`` with a ``reference:`` section (:data:`CASES`, one
configuration each: the canonical row of ``tests/reference/models.json``, the ISFM demo config) the
reference model is built from its ``model:`` section (``scripts/reference.py``), vibench builds the
same hyperparameters (``vibench.build``: the PHM-Vibench config route, ``extends:`` for an ISFM
component) and loads the reference's ``state_dict`` through the template's renames (strict). The
library III components and M_02_ISFM_Prompt, whose references need set-up (timm, a sequence patcher,
metadata, prompts), run as their value-parity cases do (``scripts/reference_cases_isfm.py``), at the
demo's sizes (``Case.parity``; non-strict loading where that case leaves reference weights aside). Before
anything is timed both run in eval mode on the same input after the same ``torch.manual_seed`` and
must agree (outputs to 1e-4 and the input gradient to 1e-3, relative to their scale); a case that
does not is reported, not timed. Inputs are [8, 1024, C] signals and [8, 32, 128] ISFM tokens; where
the canonical configuration costs seconds a call on one thread (AttentionGRU, Autoformer,
Informer, Linformer, MLPMixer, gMLP, DenseNetMLP, TransformerRNN, ConvTransformer; TimesNet, GraphNO)
a smaller size of the same model is
used, named in the case's ``doc``. Then, on one thread (``torch.set_num_threads(1)``), after warm-up:

* **forward** (eval, ``torch.no_grad()``) and **train** (train mode: forward, the mean square of every
  output, backward; gradients reset each step) are timed in alternation, reference and vibench in
  ABBA order, each sample long enough to time (several calls when one is short), until the time
  budget is spent (at least ``--min-pairs`` pairs). The ratio is vibench ÷ reference, the median
  of the per-pair ratios (quartiles beside it), in CPU time (:data:`CLOCKS`; wall-clock figures are
  printed and recorded too). glibc's allocator thresholds are fixed for the run
  (:func:`fixed_allocator`), and each case runs in a fresh process (:func:`run_case_isolated`);
* **build warm** is ``vibench.build`` of the same spec again (the cache hit: a key and the
  constructor) against the reference's constructor (``Model(args, metadata)``; for ISFM, the
  composite's or component's class), alternated the same way; **build cold** is the first
  ``vibench.build`` of the spec in a fresh cache folder (``VIBENCH_CACHE_DIR``, a temporary folder;
  the compiler's own start-up is paid before, by a tiny spec, and printed), in CPU seconds.

The ISFM composites are run by their components on the reference side (``embedding(x, fs)``,
``backbone``, ``task_head(tokens, system_id)``): the computation vibench's forward does from ``fs``
and ``system_id``, without the reference's per-batch metadata look-up by ``file_id``.

Targets (issue 8): forward every ratio <= 1.00 and median <= 0.85; training step <= 1.00; warm build
median <= 1.2. A table and summary lines are printed, and every figure goes to ``--out`` (JSON).
A case that fails is reported and the others still run. Exit status 0 when every case ran and met the
targets, 1 otherwise (2: bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import io
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python benchmarks/forward.py` puts only benchmarks/ on the path
    sys.path.insert(0, ROOT)

TARGETS = {"forward_max": 1.00, "forward_median": 0.85, "train_max": 1.00, "build_warm_median": 1.2}
BATCH = 8
SEED = 20240607
FS = 12000.0
"""Sampling rate of every sample (Hz): the ``fs`` input, the reference's metadata ``Sample_rate``."""

# The ISFM demo config (PHM-Vibench configs/demo, tests/reference/models.json's canonical rows).
DEMO = dict(embedding="E_01_HSE", backbone="B_04_Dlinear", task_head="H_01_Linear_cla", input_dim=2, d_model=256,
            output_dim=128, num_heads=4, num_layers=2, e_layers=2, d_ff=256, dropout=0.1, activation="relu",
            patch_size_L=128, patch_size_C=1, num_patches=32)
TOKENS = (BATCH, 32, 128)
SIGNAL = (BATCH, 1024, 1)
CLASSIC = dict(input_dim=1, num_classes=10)


# PHM-Vibench's configs/v0.0.9/demo/X_Single_DG/TSPN/HUST.yaml model section (device cpu): 4 layers of
# [LNO, WF, HT, I], every feature (scripts/reference_cases_registry.py's canonical row).
TSPN_HUST = dict(device="cpu", skip_connection=True, num_classes=9, in_dim=4096, out_dim=4096, in_channels=3,
                 out_channels=4, scale=4, f_c_mu=0, f_c_sigma=0.1, f_b_mu=0, f_b_sigma=0.1,
                 signal_processing_configs={f"layer{k}": ["LNO", "WF", "HT", "I"] for k in range(1, 5)},
                 feature_extractor_configs=["Mean", "Std", "Var", "Entropy", "Max", "Min", "AbsMean", "Kurtosis",
                                            "RMS", "CrestFactor", "Skewness", "ClearanceFactor", "ShapeFactor"])


@dataclass(frozen=True)
class Case:
    """One template against its reference model.

    ``call`` says how the reference runs (see :func:`reference_forward`): ``x`` is ``model(x)``;
    ``isfm`` a composite's components; ``hse``/``hse_v2``/``tokens`` an embedding or backbone;
    ``classify``/``predict``/``two_heads``/``multi_task`` a task head (system id 1, target shape of
    ``target``). ``target`` is the signal shape a prediction head reproduces.
    """

    template: str  # library template, e.g. cnn/ResNet1D
    reference: str  # reference name: CNN/ResNet1D, ISFM/M_01_ISFM, ISFM/backbone/B_04_Dlinear
    args: dict[str, Any]  # the reference's flat model: section
    x: tuple[int, ...]
    call: str = "x"
    target: tuple[int, ...] = SIGNAL
    doc: str = ""
    # A component whose reference needs more than Model(args)(x): the value-parity case of that name in
    # scripts/reference_cases_isfm.py (its set-up builds and calls the reference) at this case's sizes,
    # ``args`` over the case's reference arguments and ``params`` over its vibench parameters.
    parity: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.template.rsplit("/", 1)[-1]

    @property
    def composite(self) -> bool:
        return self.reference.count("/") == 1 and self.reference.startswith("ISFM/") and not self.parity

    @property
    def component(self) -> bool:
        return self.reference.count("/") == 2


def _classic(template: str, reference: str, doc: str, x: tuple[int, ...] = SIGNAL, **args: Any) -> Case:
    return Case(template, reference, {**CLASSIC, **args}, x, doc=doc)


def _component(slot: str, name: str, call: str, x: tuple[int, ...] = TOKENS, doc: str = "", **args: Any) -> Case:
    return Case(f"isfm/{slot}/{name}", f"ISFM/{slot}/{name}", {**DEMO, **args}, x, call, doc=doc)


def _parity(template: str, parity: str, x: tuple[int, ...], doc: str, sizes: dict[str, Any],
            params: dict[str, Any] | None = None) -> Case:
    """A component run as its value-parity case ``parity`` is, at ``sizes`` (reference arguments and vibench
    parameters both, where the case has them; ``params`` for vibench's alone)."""
    return Case(template, "", dict(sizes), x, "parity", doc=doc, parity=parity, params={**sizes, **(params or {})})


def parity_case(case: Case) -> Any:
    """The value-parity case of ``case`` at the benchmark's sizes (a ``ComponentCase``)."""
    import dataclasses

    import scripts.record_reference_values  # noqa: F401 - first: it imports the cases module at its end
    from scripts.reference_cases_isfm import CASES as ISFM_CASES

    base = next(c for c in ISFM_CASES if c.name == case.parity)
    args = {**base.args, **{k: v for k, v in case.args.items() if k in base.args}}
    if not hasattr(base, "params"):  # a composite (IsfmCase): one PHM-Vibench model section for both sides
        return dataclasses.replace(base, args=args, x=case.x)
    params = {**base.params, **{k: v for k, v in case.params.items() if k in base.params}}
    kwargs = {**base.kwargs, **{k: v for k, v in case.args.items() if k in base.kwargs}}
    return dataclasses.replace(base, args=args, params=params, kwargs=kwargs, x=case.x)


CASES: list[Case] = [
    _classic("cnn/ResNet1D", "CNN/ResNet1D", "defaults: basic blocks [2, 2, 2, 2], 64 channels"),
    _classic("cnn/AttentionCNN", "CNN/AttentionCNN", "defaults: channels [64, 128, 256, 512], CBAM"),
    _classic("cnn/MultiScaleCNN", "CNN/MultiScaleCNN", "defaults: multiscale [64, 128, 256], scales [3, 5, 7]"),
    _classic("cnn/MobileNet1D", "CNN/MobileNet1D", "defaults: width 1.0, MobileNetV2 setting"),
    _classic("cnn/TCN", "CNN/TCN", "defaults: [25, 25, 25, 25], kernel 2"),
    _classic("rnn/AttentionLSTM", "RNN/AttentionLSTM", "defaults: hidden 128, 2 bidirectional layers"),
    _classic("rnn/AttentionGRU", "RNN/AttentionGRU", "hidden 64, 2 layers, 4 heads; x [4, 512, 1]", (4, 512, 1),
             hidden_dim=64, num_layers=2, num_heads=4),
    _classic("rnn/ConvLSTM", "RNN/ConvLSTM", "defaults: hidden_dims [64, 64], kernels [3, 3]"),
    _classic("rnn/ResidualRNN", "RNN/ResidualRNN", "defaults: LSTM, 6 layers, hidden 128"),
    _classic("transformer/PatchTST", "Transformer/PatchTST", "defaults: patch 16 stride 8, d 256, 6 layers"),
    _classic("transformer/Autoformer", "Transformer/Autoformer", "d 128, 4 heads, 2 layers, ff 256, factor 3; "
             "x [4, 1024, 1]", (4, 1024, 1), d_model=128, n_heads=4, e_layers=2, d_ff=256, factor=3),
    _classic("transformer/Informer", "Transformer/Informer", "d 128, 4 heads, 2 layers, ff 256; x [4, 512, 1]",
             (4, 512, 1), d_model=128, n_heads=4, e_layers=2, d_ff=256),
    _classic("transformer/Linformer", "Transformer/Linformer", "seq_len 1024, k 128, d 128, 4 heads, 2 layers",
             seq_len=1024, k=128, d_model=128, n_heads=4, num_layers=2, d_ff=256),
    _classic("mlp/ResNetMLP", "MLP/ResNetMLP", "defaults: hidden 256, 6 blocks"),
    _classic("mlp/MLPMixer", "MLP/MLPMixer", "seq_len 1024, hidden 128, 4 blocks, 256/256",
             seq_len=1024, hidden_dim=128, num_layers=4, tokens_mlp_dim=256, channels_mlp_dim=256),
    _classic("mlp/gMLP", "MLP/gMLP", "seq_len 1024, hidden 128, 4 blocks, ffn 256",
             seq_len=1024, hidden_dim=128, num_layers=4, ffn_dim=256),
    _classic("mlp/DenseNetMLP", "MLP/DenseNetMLP", "growth 32, blocks [6, 12], compression 0.5",
             block_config=[6, 12]),
    _classic("mlp/Dlinear", "MLP/Dlinear", "seq_len 1024, shared, kernel 25", seq_len=1024),
    _classic("no/FNO", "NO/FNO", "defaults: modes 16, width 64, 4 layers"),
    _classic("no/DeepONet", "NO/DeepONet", "defaults: branch [128] * 3, trunk [128] * 3"),
    # Library III: the registry's other models (scripts/reference_cases_registry.py's canonical rows).
    _classic("rnn/TransformerRNN", "RNN/TransformerRNN", "GRU, d 64, 4 heads, 2 layers, ff 128 (the defaults' "
             "forward takes 1.5 s)", d_model=64, n_heads=4, num_layers=2, d_ff=128, rnn_type="gru"),
    _classic("transformer/ConvTransformer", "Transformer/ConvTransformer",
             "conv [32, 64], d 128, 4 heads, 2 layers, ff 256 (the defaults' forward takes 2 s)",
             conv_channels=[32, 64], d_model=128, n_heads=4, num_layers=2, d_ff=256),
    _classic("transformer/Transformer_Dummy", "Transformer/Transformer_Dummy",
             "configs/default.yaml: hidden 64, 4 heads, 2 layers; x [8, 1024, 2]; batch_first false, the "
             "reference's computation (DEVIATIONS.md)", (BATCH, 1024, 2), input_dim=2, hidden_dim=64, num_heads=4,
             num_layers=2, dropout=0.1, batch_first=False),
    _classic("no/NeuralODE", "NO/NeuralODE", "defaults: hidden 64, 3 ODE layers, 10 steps"),
    _classic("no/GraphNO", "NO/GraphNO", "hidden 16, 2 layers, 10 nodes, 8 modes; x [8, 8, 1] (the reference loops "
             "over time steps and channel pairs in Python)", (BATCH, 8, 1), hidden_dim=16, num_layers=2),
    _classic("no/WaveletNO", "NO/WaveletNO", "defaults: hidden 64, 4 layers"),
    Case("x_model/MWA_CNN", "X_model/MWA_CNN", dict(in_channels=1, num_classes=10), SIGNAL,
         doc="canonical: in_channels 1, 10 classes"),
    Case("x_model/TSPN", "X_model/TSPN", dict(TSPN_HUST), (BATCH, 1024, 3),
         doc="HUST demo config: 4 x [LNO, WF, HT, I], 13 features, scale 4; x [8, 1024, 3]"),
    # ISFM composites (demo config, one system of 10 classes, per-sample sampling rates).
    Case("isfm/M_01_ISFM", "ISFM/M_01_ISFM", dict(DEMO), SIGNAL, "isfm", doc="demo: E_01_HSE + B_04_Dlinear + H_01"),
    Case("isfm/M_02_ISFM", "ISFM/M_02_ISFM", dict(DEMO), SIGNAL, "isfm", doc="demo config (components: M_02's "
         "forward is broken in the reference)"),
    Case("isfm/M_03_ISFM", "ISFM/M_03_ISFM", dict(DEMO), SIGNAL, "isfm", doc="demo config"),
    # ISFM components (demo config; tokens [8, 32, 128]).
    _component("embedding", "E_01_HSE", "hse", SIGNAL, "demo: 32 patches of 128, out 128"),
    _component("embedding", "E_02_HSE_v2", "hse_v2", SIGNAL, "paper size: 128 patches of 256, hidden 64, c_dim 2",
               c_dim=2, hidden_dim=64, num_patches=128, patch_size_L=256, num_channels={"1": 1}),
    _component("embedding", "E_03_Patch", "tokens", SIGNAL, "experiment 0: patch 128, hidden 256, out 128",
               input_dim=1),
    Case("isfm/embedding/E_02_HSE_rec", "ISFM/embedding/E_02_HSE_v2", {**DEMO, "c_dim": 2, "hidden_dim": 64,
         "num_patches": 128, "patch_size_L": 256, "num_channels": {"1": 1}}, SIGNAL, "hse_v2",
         doc="E_02_HSE_v2's class under its own name (the same template): paper size, as E_02_HSE_v2"),
    _component("backbone", "B_01_basic_transformer", "tokens", doc="demo: d 128, 4 heads, 2 layers"),
    _component("backbone", "B_03_FITS", "tokens", (BATCH, 4096, 1), "raw-length input [8, 4096, 1]"),
    _component("backbone", "B_04_Dlinear", "tokens", doc="demo: 32 patches, d 128"),
    _component("backbone", "B_05_Mamba", "tokens", doc="demo: d 128"),
    _component("backbone", "B_06_TimesNet", "tokens", (2, 32, 128), "demo: d 128, d_ff 256, 2 layers; x [2, 32, 128]"),
    _component("backbone", "B_07_TSMixer", "tokens", doc="seq_len 32, enc_in 128, d_model 256", seq_len=32,
               enc_in=128),
    _component("backbone", "B_08_PatchTST", "tokens", doc="demo + factor 5", factor=5),
    _component("backbone", "B_09_FNO", "tokens", doc="demo: width <- d_model 256, modes 16"),
    _component("task_head", "H_01_Linear_cla", "classify", doc="d 128, one system of 10 classes"),
    _component("task_head", "H_02_distance_cla", "classify", doc="d 128, one system of 10 classes"),
    _component("task_head", "H_03_Linear_pred", "predict", doc="hidden 64, max_len 4096, max_out 3",
               hidden_dim=64),
    _component("task_head", "H_09_multiple_task", "two_heads", doc="H_01 + H_03 (both tasks)", hidden_dim=64,
               classification_head="H_01_Linear_cla", prediction_head="H_03_Linear_pred"),
    _component("task_head", "MultiTaskHead", "multi_task", (BATCH, 64, 256),
               "the multi-task config: d 256, 64 tokens, hidden 64, BatchNorm, GELU", output_dim=256,
               num_patches=64, d_ff=512, hidden_dim=64, activation="gelu", use_batch_norm=True, max_len=4096,
               max_out=2, act="gelu"),
    # Library III components, run as their value-parity cases are (scripts/reference_cases_isfm.py) at the demo's
    # sizes: d 128, tokens [8, 32, 128] (batch 2 where the parity set-up gives two samples their own metadata).
    _parity("isfm/backbone/B_10_VIBT", "isfm_b10_vibt", TOKENS, "d 128, 4 heads, 2 adaLN blocks",
            dict(hidden_dim=128, num_heads=4, num_layers=2)),
    _parity("isfm/task_head/H_04_VIB_pred", "isfm_h04_vib_pred", TOKENS, "hidden 128, 32 windows of 128 over "
            "L = 2048, 2 channels", dict(hidden_dim=128, patch_size_L=128, num_patches=32, length=2048)),
    _parity("isfm/task_head/H_05_RUL_pred", "isfm_h05_rul_pred", TOKENS, "d 128, hidden 64, GELU",
            dict(output_dim=128, hidden_dim=64)),
    _parity("isfm/task_head/H_06_Anomaly_det", "isfm_h06_anomaly_det", TOKENS, "d 128, hidden 64, BatchNorm",
            dict(output_dim=128, hidden_dim=64)),
    _parity("isfm/task_head/H_10_ProjectionHead", "isfm_h10_projection", TOKENS, "128 -> 64 -> 32, GELU",
            dict(input_dim=128, input_features=128, hidden_dim=64, output_dim=32)),
    _parity("isfm/task_head/H_02_Linear_cla_heterogeneous_batch", "isfm_h02_heterogeneous", (2, 32, 128),
            "d 128, systems 2 and 1 (3 classes each); batch 2", dict(output_dim=128)),
    _parity("isfm/embedding/E_01_HTFE", "isfm_e01_htfe", (BATCH, 1024, 3), "32 patches of 128 x 2 channels, out 128",
            dict(patch_size_L=128, num_patches=32, output_dim=128)),
    _parity("isfm/embedding/HSE_prompt", "isfm_hse_prompt_add", (2, 1024, 1), "32 patches of 128, out 128, prompt "
            "64; batch 2", dict(patch_size_L=128, num_patches=32, output_dim=128, prompt_dim=64)),
    _parity("isfm/embedding/E_01_HSE_v2", "isfm_e01_hse_v2_attention", (2, 1024, 1), "32 patches of 128, out 128, "
            "attention fusion; batch 2", dict(patch_size_L=128, num_patches=32, output_dim=128, prompt_dim=64)),
    _parity("isfm/embedding/E_com_00_PE", "isfm_e_com_pe_data", (BATCH, 1024, 1), "Informer data embedding, d 128",
            dict(output_dim=128, d_model=128)),
    _parity("isfm/backbone/B_11_MomentumEncoder", "isfm_b11_momentum_patchtst", TOKENS, "a PatchTST query encoder, "
            "d 128, 4 heads, 2 layers, ff 256", dict(output_dim=128, num_heads=4, d_ff=256)),
    _parity("isfm/M_02_ISFM_Prompt", "isfm_m02_prompt", (2, 1024, 1), "HSE_prompt + B_04_Dlinear + H_01, d 128, "
            "32 patches of 128, prompt 64, 4 classes; batch 2 (file ids 0, 1)",
            dict(patch_size_L=128, num_patches=32, output_dim=128, prompt_dim=64)),
    _parity("isfm/M_02_ISFM_heterogeneous_batch", "isfm_m02_heterogeneous", (2, 1024, 1), "E_01_HSE + B_04_Dlinear + "
            "H_02 heterogeneous, d 128, 32 patches of 128; batch 2", dict(patch_size_L=128, num_patches=32,
                                                                          output_dim=128)),
]


# ---------------------------------------------------------------------------------------------
# The two sides of a case.


@dataclass
class Side:
    """A model, how to construct another one, and how to run it on the case's inputs."""

    model: Any
    construct: Callable[[], Any]
    forward: Callable[[], dict[str, Any]]
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext


def case_inputs(case: Case) -> dict[str, Any]:
    """The tensors of a case: ``x``, ``fs`` [B], ``system_id`` [B] (system 1), ``target``."""
    import torch

    batch = case.x[0]
    return {"x": torch.randn(case.x, generator=torch.Generator().manual_seed(1)),
            "fs": torch.full((batch,), FS), "system_id": torch.ones(batch, dtype=torch.int64),
            "target": torch.zeros((batch, *case.target[1:]))}


def vibench_text(case: Case, num_classes: dict[str, int] | None) -> str:
    """The spec vibench builds: a PHM-Vibench ``model:`` section, or ``extends:`` an ISFM component."""
    import yaml

    if case.parity:
        from scripts.record_reference_values import vibench_config

        config = vibench_config(parity_case(case))
        if "phm" in config:
            return yaml.safe_dump({"model": config["phm"]}, sort_keys=False)
        return yaml.safe_dump({"vibench": 1, **config}, sort_keys=False)
    if case.component:
        from vibench.compiler.resolve import Library

        library = Library()
        root, _ = library.load(library.find(case.template, None, None), None)
        declared = {p.name for p in root.params}
        params = {k: v for k, v in case.args.items() if k in declared}
        if "num_classes" in declared:
            params["num_classes"] = num_classes
        return yaml.safe_dump({"vibench": 1, "extends": case.template, "with": params}, sort_keys=False)
    kind, name = case.reference.split("/")
    section = {"type": kind, "name": name, **case.args}
    if case.composite:
        section["num_classes"] = num_classes
    return yaml.safe_dump({"model": section}, sort_keys=False)


def vibench_side(case: Case, inputs: dict[str, Any], num_classes: dict[str, int]) -> tuple[Side, dict[str, float]]:
    """vibench's model of the case and the seconds its first (cold) build took (CPU and wall clock)."""
    import vibench

    text = vibench_text(case, num_classes)
    shapes = {"x": tuple(inputs["x"].shape)}

    def construct() -> Any:
        return vibench.build(text=text, inputs=shapes)

    started, wall = time.process_time(), time.perf_counter()
    model = construct()
    cold = {"cpu": time.process_time() - started, "wall": time.perf_counter() - wall}
    # Called as the reference is: the leading inputs by position (a keyword call costs a small model
    # about 2% more, a dict packed and unpacked per call), any input after a gap by name.
    names = list(inspect.signature(model.forward).parameters)
    lead = 0
    while lead < len(names) and names[lead] in inputs:
        lead += 1
    args = [inputs[k] for k in names[:lead]]
    feed = {k: inputs[k] for k in names[lead:] if k in inputs}

    def forward() -> dict[str, Any]:
        out = model(*args, **feed)
        return out if isinstance(out, dict) else {"": out}

    return Side(model, construct, forward), cold


def reference_side(case: Case, ref_dir: str, inputs: dict[str, Any], num_classes: dict[str, int]) -> Side:
    """The reference model of the case (``scripts/reference.py``), its constructor and its call."""
    from argparse import Namespace

    from scripts import reference

    reference.pydeps(ref_dir)  # X_model/MWA_CNN's pytorch_wavelets, and timm
    import scripts.record_reference_values  # noqa: F401 - first: it imports the case tables at its end
    from scripts.reference_cases_isfm import torchvision_stand_in

    # With pydeps on sys.path the real timm is found (B_10_VIBT, which the ISFM composites' package imports):
    # it imports torchvision and PIL, which get inert stand-ins (B_10_VIBT never uses them).
    torchvision_stand_in(os.environ.get("VIBENCH_TIMM", os.path.join(ref_dir, os.pardir, "pydeps")))
    if case.parity:
        return parity_side(case, ref_dir, inputs)
    args = dict(case.args)
    if case.composite:
        files = [(1, FS)] * case.x[0]
        metadata = reference.reference_metadata(ref_dir, files, num_classes)
        model = reference.build_reference_model(ref_dir, case.reference, args, metadata)
        namespace = dict(type="ISFM", name=case.reference.split("/")[1], **args, num_classes=dict(num_classes))
        extra: tuple[Any, ...] = (metadata,)
    else:
        if case.component:
            args["num_classes"] = dict(num_classes)
        model = reference.build_reference_model(ref_dir, case.reference, args)
        namespace, extra = args, (() if case.component else (None,))
    cls = type(model)

    def construct() -> Any:
        # A fresh namespace with fresh lists and dicts (constructors write into them: DeepONet's
        # trunk_layers, M_01's num_classes); one level is all they touch. Under the workarounds:
        # X_model/MWA_CNN's constructor calls .cuda().
        fresh = {k: v.copy() if isinstance(v, (list, dict)) else v for k, v in namespace.items()}
        with reference.workarounds(ref_dir):
            return cls(Namespace(**fresh), *extra)

    with contextlib.redirect_stdout(io.StringIO()) as said:
        construct()
    if said.getvalue():  # a constructor that prints is timed with its output swallowed

        def quiet() -> Any:
            with contextlib.redirect_stdout(io.StringIO()):
                return construct()

        return Side(model, quiet, reference_forward(case, model, inputs), lambda: reference.workarounds(ref_dir))
    return Side(model, construct, reference_forward(case, model, inputs), lambda: reference.workarounds(ref_dir))


def parity_side(case: Case, ref_dir: str, inputs: dict[str, Any]) -> Side:
    """The reference side of a component benchmarked as its value-parity case (see :class:`Case`)."""
    from argparse import Namespace

    from scripts import reference

    cc = parity_case(case)

    def build() -> tuple[Any, Callable[[], dict[str, Any]]]:
        if not hasattr(cc, "setup"):  # a composite: built from its metadata, called as its parity case is
            from scripts.record_reference_values import _isfm

            model, _, forward, _ = _isfm(cc, ref_dir, inputs)
            return model, forward
        if cc.setup is not None:  # it also puts the component's other inputs (fs, system ids, ...) in `inputs`
            model, _, forward = cc.setup(cc, ref_dir, inputs)
            return model, forward
        model = reference.load_reference_class(ref_dir, cc.model)(Namespace(**cc.args), **cc.kwargs)
        x = inputs["x"]
        return model, lambda: {cc.output: model(x)}

    model, forward = build()
    return Side(model, lambda: build()[0], forward, lambda: reference.workarounds(ref_dir))


def reference_forward(case: Case, model: Any, inputs: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """How the reference runs the case, its outputs named as vibench's (see :class:`Case`)."""
    x, fs, target = inputs["x"], inputs["fs"], inputs["target"]
    batch = x.shape[0]
    shape = tuple(target.shape[1:])
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        "x": lambda: {"": model(x)},
        "isfm": lambda: {"": model.task_head(model.backbone(model.embedding(x, fs)), system_id=[1] * batch)},
        "hse": lambda: {"": model(x, fs)},
        "hse_v2": lambda: {"": model(x, [1] * batch, FS)[0]},
        "tokens": lambda: {"": model(x)},
        "classify": lambda: {"": model(x, system_id=1)},
        "predict": lambda: {"": model(x, shape=shape)},
        "two_heads": lambda: {"logits": model(x, system_id=1, task_id="classification"),
                              "signal": model(x, task_id="prediction", shape=shape)},
        "multi_task": lambda: dict(model(x, system_id=1, task_id="all", original_x=x, shape=shape)),
    }
    return calls[case.call]


# ---------------------------------------------------------------------------------------------
# Checks and timing.


def pairs_of(reference: dict[str, Any], ours: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, reference output, vibench output) for every output of the reference."""
    if len(reference) == 1 and len(ours) == 1:  # one output each, whatever it is called
        (name, value), = reference.items()
        return [(name, value, next(iter(ours.values())))]
    missing = sorted(set(reference) - set(ours))
    if missing:
        raise AssertionError(f"vibench has no output {missing} (it has {sorted(ours)})")
    return [(k, reference[k], ours[k]) for k in reference]


def agreement(ref: Side, ours: Side, inputs: dict[str, Any]) -> dict[str, float]:
    """Largest output and input-gradient differences, eval mode, same seed (raises when they differ)."""
    import torch

    x = inputs["x"]
    found: dict[str, float] = {}
    outputs, grads = [], []
    for side in (ref, ours):
        side.model.eval()
        x.requires_grad_(True)
        x.grad = None
        torch.manual_seed(SEED)
        with side.context():
            out = side.forward()
        loss(out).backward()
        grads.append(x.grad.detach().clone())
        outputs.append({k: v.detach() for k, v in out.items()})
        x.requires_grad_(False)
        x.grad = None
    for name, expected, got in pairs_of(outputs[0], outputs[1]):
        if tuple(got.shape) != tuple(expected.shape):
            raise AssertionError(f"output {name or 0}: shape {tuple(got.shape)} != reference {tuple(expected.shape)}")
        found[f"output {name}".strip()] = _check_close(f"output {name or 0}", got, expected, 1e-4)
    found["input gradient"] = _check_close("input gradient", grads[1], grads[0], 1e-3)
    return found


def _check_close(what: str, got: Any, expected: Any, tolerance: float) -> float:
    scale = max(1.0, float(expected.abs().max()))
    difference = float((got - expected).abs().max()) if got.numel() else 0.0
    if not difference <= tolerance * scale:
        raise AssertionError(f"{what} differs from the reference by {difference:.3g} (allowed {tolerance * scale:.3g})")
    return difference


def loss(outputs: dict[str, Any]) -> Any:
    """The training loss: the mean square of every floating-point output, summed."""
    return sum(v.float().square().mean() for v in outputs.values() if v.is_floating_point())


@dataclass
class Timing:
    """One clock's figures for an alternated comparison: seconds per call of each side (medians) and
    the median vibench ÷ reference ratio of the pairs, with its quartiles."""

    reference: float
    vibench: float
    ratio: float
    quartiles: tuple[float, float]  # of the pair ratios: their spread shows the noise
    fastest: float  # vibench's fastest sample ÷ the reference's

    def to_json(self) -> dict[str, Any]:
        return {"reference_ms": self.reference * 1e3, "vibench_ms": self.vibench * 1e3, "ratio": self.ratio,
                "ratio_quartiles": list(self.quartiles), "ratio_of_fastest": self.fastest}

    @staticmethod
    def of(reference: list[float], ours: list[float]) -> Timing:
        ratios = [b / a for a, b in zip(reference, ours, strict=True)]
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        return Timing(statistics.median(reference), statistics.median(ours), statistics.median(ratios),
                      (quartiles[0], quartiles[2]), min(ours) / min(reference))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
"""``cpu``, the process's CPU time, is the headline: with one torch thread every kernel (and autograd's
backward) runs on the calling thread, and on a shared machine the wall clock also counts the time
other processes hold the cores. ``wall`` is recorded beside it."""


def alternate(reference: Callable[[], Any], ours: Callable[[], Any], *, budget: float, min_pairs: int,
              max_pairs: int, warmup: int = 2, sample: float = 0.02) -> dict[str, Any]:
    """Time ``reference`` and ``ours`` in alternation (ABBA...), after ``warmup`` calls of each; the
    figures of each clock of :data:`CLOCKS`.

    A sample is ``calls`` calls in a row, enough for the shorter side to take ``sample`` seconds of
    CPU time. Pairs are taken until ``budget`` seconds (wall) are spent and there are ``min_pairs``
    of them (never more than ``max_pairs``): a slow machine gives fewer pairs, never a failure.
    """
    once = math.inf
    for _ in range(warmup):
        for fn in (reference, ours):
            started = time.process_time()
            fn()
            once = min(once, time.process_time() - started)
    calls = max(1, min(1000, math.ceil(sample / max(1e-6, once))))

    def timed(fn: Callable[[], Any]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls

    samples: dict[str, list[tuple[float, float]]] = {"reference": [], "vibench": []}
    deadline = time.perf_counter() + budget
    pairs = 0
    with _no_gc():
        while pairs < max_pairs and (pairs < min_pairs or time.perf_counter() < deadline):
            order = (("reference", reference), ("vibench", ours))
            for name, fn in order if pairs % 2 == 0 else order[::-1]:
                samples[name].append(timed(fn))
            pairs += 1
    out: dict[str, Any] = {"pairs": pairs, "calls_per_sample": calls}
    for k, clock in enumerate(CLOCKS):
        figures = Timing.of([t[k] for t in samples["reference"]], [t[k] for t in samples["vibench"]]).to_json()
        if clock == "cpu":
            out.update(figures)
        else:
            out[clock] = figures
    return out


def train_step(side: Side) -> Callable[[], None]:
    model = side.model

    def step() -> None:
        model.zero_grad(set_to_none=True)
        loss(side.forward()).backward()

    return step


def no_grad(side: Side) -> Callable[[], Any]:
    import torch

    def forward() -> Any:
        with torch.no_grad():
            return side.forward()

    return forward


def profile(reference: Callable[[], Any], ours: Callable[[], Any], calls: int, top: int = 14) -> list[str]:
    """The operators whose self CPU time differs most between the two sides (torch.profiler), per call."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    totals: list[dict[str, tuple[float, float]]] = []
    for fn in (reference, ours):
        fn()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                fn()
        totals.append({e.key: (e.self_cpu_time_total / calls / 1e3, e.count / calls) for e in prof.key_averages()})
    names = sorted(set(totals[0]) | set(totals[1]),
                   key=lambda n: -abs(totals[1].get(n, (0, 0))[0] - totals[0].get(n, (0, 0))[0]))
    lines = [f"    {'operator':<44} {'reference ms':>12} {'calls':>6} {'vibench ms':>11} {'calls':>6}"]
    for name in names[:top]:
        (a_ms, a_n), (b_ms, b_n) = totals[0].get(name, (0.0, 0.0)), totals[1].get(name, (0.0, 0.0))
        lines.append(f"    {name[:44]:<44} {a_ms:12.2f} {a_n:6.0f} {b_ms:11.2f} {b_n:6.0f}")
    for k, side in enumerate(("reference", "vibench")):
        lines.append(f"    total self CPU, {side}: {sum(ms for ms, _ in totals[k].values()):.2f} ms a call")
    return lines


# ---------------------------------------------------------------------------------------------
# One case.


@dataclass
class Settings:
    reference: str | None
    budget: float  # seconds per timed comparison
    min_pairs: int
    max_pairs: int
    profile: int = 0  # calls profiled per side (0: no profile)
    noise: bool = False  # also time the reference against itself


@dataclass
class Row:
    case: Case
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def ratio(self, what: str) -> float | None:
        value = self.figures.get(what, {})
        return value.get("ratio") if isinstance(value, dict) else None


def run_case(case: Case, settings: Settings) -> Row:
    import torch

    row = Row(case)
    num_classes = {"1": 10}
    inputs = case_inputs(case)
    ref: Side | None = None
    if case.parity and settings.reference is not None:  # its set-up gives the inputs vibench reads too
        torch.manual_seed(0)
        ref = reference_side(case, settings.reference, inputs, num_classes)
    torch.manual_seed(0)
    ours, cold = vibench_side(case, inputs, num_classes)
    row.figures["build_cold_s"] = cold["cpu"]
    row.figures["build_cold_wall_s"] = cold["wall"]
    row.figures["parameters"] = sum(p.numel() for p in ours.model.parameters())
    timing = dict(budget=settings.budget, min_pairs=settings.min_pairs, max_pairs=settings.max_pairs)
    if settings.reference is None:
        ours.model.eval()
        row.figures["forward"] = _alone(no_grad(ours), timing)
        ours.model.train()
        row.figures["train"] = _alone(train_step(ours), timing)
        row.figures["build_warm"] = _alone(ours.construct, {**timing, "budget": settings.budget / 2})
        return row
    from vibench.runtime.checkpoint import load_reference_state_dict

    if ref is None:
        torch.manual_seed(0)
        ref = reference_side(case, settings.reference, inputs, num_classes)
    # Parity cases whose reference holds weights vibench does not (DEVIATIONS.md) load as they are recorded.
    strict = getattr(parity_case(case), "strict", True) if case.parity else True
    load_reference_state_dict(ours.model, ref.model.state_dict(), strict=strict)
    row.figures["agreement"] = agreement(ref, ours, inputs)
    with ref.context():
        for model in (ref.model, ours.model):
            model.eval()
        row.figures["forward"] = alternate(no_grad(ref), no_grad(ours), **timing)
        for model in (ref.model, ours.model):
            model.train()
        row.figures["train"] = alternate(train_step(ref), train_step(ours), **timing)
        if settings.noise:  # the reference against itself: how far from 1.00 noise alone moves a ratio
            row.figures["noise_train"] = alternate(train_step(ref), train_step(ref), **timing)
            for model in (ref.model, ours.model):
                model.eval()
            row.figures["noise_forward"] = alternate(no_grad(ref), no_grad(ref), **timing)
        if settings.profile:
            for model in (ref.model, ours.model):
                model.eval()
            row.figures["profile_forward"] = profile(no_grad(ref), no_grad(ours), settings.profile)
            for model in (ref.model, ours.model):
                model.train()
            row.figures["profile_train"] = profile(train_step(ref), train_step(ours), settings.profile)
    del ref.model, ours.model
    row.figures["build_warm"] = alternate(ref.construct, ours.construct, **{**timing, "budget": settings.budget / 2})
    return row


def _alone(fn: Callable[[], Any], timing: dict[str, Any]) -> dict[str, Any]:
    result = alternate(fn, fn, **timing)  # the same function on both sides: the ratio shows the noise
    return {"vibench_ms": result["vibench_ms"], "noise_ratio": result["ratio"], "pairs": result["pairs"],
            "wall_ms": result["wall"]["vibench_ms"]}


# ---------------------------------------------------------------------------------------------
# Report.


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row], compared: bool) -> str:
    """One line per case. Compared: vibench ÷ reference in CPU time, the median of the alternated pairs
    with the quartiles of the pair ratios, then the same median in wall-clock time."""
    if compared:
        head = (f"{'model':<24} {'forward (quartiles)':>19} {'wall':>5} {'train (quartiles)':>19} {'wall':>5} "
                f"{'build warm':>10} {'cold s':>6} {'ref fwd ms':>10}")
        lines = [head, "-" * len(head)]
        for row in rows:
            if row.error:
                lines.append(f"{row.case.name:<24} error: {row.error}")
                continue
            f = row.figures
            forward, train = f["forward"], f["train"]
            lines.append(f"{row.case.name:<24} {_spread(forward):>19} {forward['wall']['ratio']:5.2f} "
                         f"{_spread(train):>19} {train['wall']['ratio']:5.2f} {f['build_warm']['ratio']:10.2f} "
                         f"{f['build_cold_s']:6.2f} {forward['reference_ms']:10.1f}")
        return "\n".join(lines)
    head = f"{'model':<24} {'forward ms':>11} {'train ms':>9} {'build warm ms':>14} {'build cold s':>13}"
    lines = [head, "-" * len(head)]
    for row in rows:
        if row.error:
            lines.append(f"{row.case.name:<24} error: {row.error}")
            continue
        f = row.figures
        lines.append(f"{row.case.name:<24} {f['forward']['vibench_ms']:11.1f} {f['train']['vibench_ms']:9.1f} "
                     f"{f['build_warm']['vibench_ms']:14.1f} {f['build_cold_s']:13.2f}")
    return "\n".join(lines)


def _spread(figure: dict[str, Any]) -> str:
    low, high = figure["ratio_quartiles"]
    return f"{figure['ratio']:.2f} ({low:.2f}-{high:.2f})"


def summary(rows: list[Row]) -> tuple[list[str], bool]:
    """Summary lines against the targets, and whether every target was met."""
    ok_rows = [r for r in rows if not r.error]
    lines: list[str] = []
    met = len(ok_rows) == len(rows)

    def figures(what: str) -> list[tuple[float, str]]:
        return sorted(((r.ratio(what) or math.nan, r.case.name) for r in ok_rows), reverse=True)

    for what, label in (("forward", "forward (CPU time)"), ("train", "training step (CPU time)"),
                        ("build_warm", "build (warm cache)")):
        values = figures(what)
        if not values:
            continue
        ratios = [v for v, _ in values]
        median = statistics.median(ratios)
        over = [f"{n} {v:.2f}" for v, n in values if v > 1.0]
        line = f"{label}: median {median:.2f}, max {values[0][0]:.2f} ({values[0][1]}), min {values[-1][0]:.2f}"
        if what == "forward":
            good = values[0][0] <= TARGETS["forward_max"] and median <= TARGETS["forward_median"]
            line += f"; targets max <= 1.00, median <= 0.85: {'met' if good else 'MISSED'}"
        elif what == "train":
            good = values[0][0] <= TARGETS["train_max"]
            line += f"; target every model <= 1.00: {'met' if good else 'MISSED'}"
        else:
            good = median <= TARGETS["build_warm_median"]
            line += f"; target median <= 1.2: {'met' if good else 'MISSED'}"
        met = met and good
        lines.append(line)
        if over:
            lines.append(f"  over 1.00 ({len(over)}): " + ", ".join(over))
    walls = {what: [r.figures[what]["wall"]["ratio"] for r in ok_rows] for what in ("forward", "train")}
    if walls["forward"]:
        lines.append(f"wall clock, for comparison: forward median {statistics.median(walls['forward']):.2f}, "
                     f"max {max(walls['forward']):.2f}; training step median {statistics.median(walls['train']):.2f}, "
                     f"max {max(walls['train']):.2f}")
    colds = sorted((r.figures["build_cold_s"], r.case.name) for r in ok_rows)
    if colds:
        lines.append(f"build (cold, fresh cache folder): median {statistics.median(c for c, _ in colds):.2f} s, "
                     f"max {colds[-1][0]:.2f} s ({colds[-1][1]})")
    errors = [r for r in rows if r.error]
    if errors:
        lines.append(f"{len(errors)} case(s) failed: " + ", ".join(r.case.name for r in errors))
    return lines, met


def machine() -> dict[str, Any]:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "loadavg": load, "platform": platform.platform()}


MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 34),
          "MALLOC_TOP_PAD_": str(256 << 20)}
"""glibc's allocator settings for the run (see :func:`fixed_allocator`)."""


def fixed_allocator(argv: list[str]) -> None:
    """Re-run this script with :data:`MALLOC` in the environment, once, on glibc.

    By default glibc hands freed blocks of more than its (adaptive) mmap threshold back to the system
    and the next allocation faults them in again, zero-filled: the same training step of Dlinear
    then takes 6 or 30 ms of CPU time at random, for either model. With fixed thresholds freed memory
    is reused, and both sides are timed on warm memory (``--default-malloc`` keeps glibc's defaults).
    """
    glibc = hasattr(os, "confstr") and "glibc" in (os.confstr("CS_GNU_LIBC_VERSION") or "")
    if glibc and not all(os.environ.get(k) == v for k, v in MALLOC.items()):
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], {**os.environ, **MALLOC})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="a PHM-Vibench checkout (without it: vibench's own figures only)")
    parser.add_argument("--quick", action="store_true", help="a short run: less time per figure, fewer pairs")
    parser.add_argument("--only", action="append", default=[], help="run the templates whose name contains this")
    parser.add_argument("--budget", type=float, help="seconds per timed comparison (default 4, --quick 1)")
    parser.add_argument("--min-pairs", type=int, help="fewest alternated pairs per figure (default 7, --quick 3)")
    parser.add_argument("--profile", type=int, default=0, metavar="CALLS",
                        help="also profile CALLS forwards and training steps of each side (torch.profiler) and print "
                             "the operators whose time differs most")
    parser.add_argument("--noise", action="store_true",
                        help="also time the reference against itself (A/A): the ratio noise alone gives")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's adaptive allocator (noisier: see fixed_allocator)")
    parser.add_argument("--in-process", action="store_true",
                        help="run every case in this process (by default each runs in a fresh one: see "
                             "run_case_isolated)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out", "forward.json"))
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # a case's own process (run_case_isolated)
    parser.add_argument("--row-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.budget = args.budget or (1.0 if args.quick else 4.0)
    args.min_pairs = args.min_pairs or (3 if args.quick else 7)
    settings = Settings(reference=args.reference, budget=args.budget, min_pairs=args.min_pairs, max_pairs=200,
                        profile=args.profile, noise=args.noise)
    if args.case is not None:
        return one_case(args.case, settings, args.row_out)
    if args.reference:
        from scripts import reference

        try:
            print(reference.check_checkout(args.reference))
        except FileNotFoundError as err:
            parser.error(str(err))
    cases = [c for c in CASES if not args.only or any(o.lower() in c.template.lower() for o in args.only)]
    if not cases:
        parser.error(f"no template matches {args.only}")

    warnings.simplefilter("ignore")  # the reference's deprecation and "complex modules" warnings
    cache = tempfile.mkdtemp(prefix="vibench-bench-cache-")
    os.environ["VIBENCH_CACHE_DIR"] = cache  # before vibench.models is imported: cold builds start empty
    import torch

    import vibench
    from vibench.api import _TINY

    torch.set_num_threads(1)
    load_at_start = _load()
    started = time.perf_counter()
    vibench.build(text=_TINY)  # the compiler's own imports, paid once
    startup = time.perf_counter() - started
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()}, 1 thread; vibench cache {cache}; "
          f"compiler start-up (first build of a tiny spec) {startup:.2f} s")
    if not args.reference:
        print("reference: none given (--reference DIR): the comparison with PHM-Vibench is SKIPPED; "
              "vibench's own figures follow")

    rows: list[Row] = []
    for case in cases:
        began = time.perf_counter()
        row = run_case_guarded(case, settings) if args.in_process else run_case_isolated(case, argv_of(args), cache)
        row.figures["seconds"] = time.perf_counter() - began
        rows.append(row)
        print(f"  {case.name:<24} {row.figures['seconds']:6.1f} s  "
              + (f"error: {row.error}" if row.error else _progress(row, bool(args.reference))), flush=True)
        if "noise_forward" in row.figures:
            print(f"    reference against itself (A/A): forward {_spread(row.figures['noise_forward'])}, "
                  f"train {_spread(row.figures['noise_train'])}")
        for what in ("forward", "train"):
            if f"profile_{what}" in row.figures:
                print(f"    profile, {what} ({settings.profile} calls each, self CPU time per call):")
                print("\n".join(row.figures[f"profile_{what}"]), flush=True)

    print()
    print(table(rows, bool(args.reference)))
    print()
    met = all(not r.error for r in rows)
    if args.reference:
        lines, met = summary(rows)
        print("\n".join(lines))
    else:
        print("comparison with the reference SKIPPED (no --reference); ratios need a PHM-Vibench checkout")
    print(f"load average at the start: {load_at_start}; at the end: {_load()} ({os.cpu_count()} CPUs)")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    report = {"machine": {**machine(), "load_at_start": load_at_start, "load_at_end": _load(),
                          "allocator": {k: os.environ.get(k) for k in MALLOC}, "clock": "process CPU time"},
              "reference": args.reference, "process": os.getpid(),
              "settings": vars(settings), "targets": TARGETS, "compiler_startup_s": startup,
              "cases": [{"template": r.case.template, "reference": r.case.reference, "config": r.case.doc,
                         "args": r.case.args, "x": list(r.case.x), "error": r.error, **r.figures} for r in rows]}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1, default=str)
    print(f"wrote {os.path.relpath(args.out)}")
    return 0 if met else 1


def run_case_guarded(case: Case, settings: Settings) -> Row:
    """:func:`run_case`; a failure is the row's error (the other cases still run)."""
    try:
        return run_case(case, settings)
    except Exception as err:  # noqa: BLE001 - one case's failure is reported; the others still run
        row = Row(case, error=f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")
        row.figures["traceback"] = traceback.format_exc()
        return row


def argv_of(args: argparse.Namespace) -> list[str]:
    """The options a case's own process takes from this run (see :func:`run_case_isolated`)."""
    words = ["--budget", str(args.budget), "--min-pairs", str(args.min_pairs), "--profile", str(args.profile)]
    words += ["--reference", args.reference] if args.reference else []
    return words + (["--noise"] if args.noise else [])


def run_case_isolated(case: Case, options: list[str], cache: str) -> Row:
    """:func:`run_case` in a process of its own (the default; ``--in-process`` runs every case in this one).

    Each case starts from the same state: in one long process the allocator's and the kernel's memory
    state after earlier cases moved whole figures (MultiTaskHead's training step 1.64 with quartiles
    1.63-1.66 late in a full run, 1.01 alone; ResNetMLP's forward 1.10 against 1.01). What the models
    print (PHM-Vibench's prompt embedding prints a line per call) is not shown; a failed process's last
    lines are the row's error.
    """
    import subprocess

    with tempfile.TemporaryDirectory(prefix="vibench-bench-case-") as tmp:
        out = os.path.join(tmp, "row.json")
        command = [sys.executable, os.path.abspath(__file__), *options, "--case", str(CASES.index(case)),
                   "--row-out", out]
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              env={**os.environ, "VIBENCH_CACHE_DIR": cache}, check=False)
        if done.returncode == 0 and os.path.exists(out):
            with open(out, encoding="utf-8") as fh:
                saved = json.load(fh)
            return Row(case, saved["figures"], saved["error"])
    tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
    row = Row(case, error=f"its process ended with status {done.returncode}: {(tail or [''])[-1][:160]}")
    row.figures["traceback"] = "\n".join(tail)
    return row


def one_case(index: int, settings: Settings, out: str) -> int:
    """The child's side of :func:`run_case_isolated`: the compiler's start-up paid first, as in one run."""
    import torch

    import vibench
    from vibench.api import _TINY

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    vibench.build(text=_TINY)
    row = run_case_guarded(CASES[index], settings)
    row.figures["process"] = os.getpid()
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"figures": row.figures, "error": row.error}, fh, default=str)
    return 0


def _progress(row: Row, compared: bool) -> str:
    f = row.figures
    if compared:
        return (f"forward {_fmt(row.ratio('forward'))}  train {_fmt(row.ratio('train'))}  "
                f"build {_fmt(row.ratio('build_warm'))}  (reference forward {f['forward']['reference_ms']:.1f} ms)")
    return f"forward {f['forward']['vibench_ms']:.1f} ms  train {f['train']['vibench_ms']:.1f} ms"


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


if __name__ == "__main__":
    if "--default-malloc" not in sys.argv[1:]:
        fixed_allocator(sys.argv[1:])
    sys.exit(main())
