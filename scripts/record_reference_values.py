"""Record PHM-Vibench's own outputs for every library model that has a reference (value parity).

    python scripts/record_reference_values.py --reference .reference/PHM-Vibench          # every case
    python scripts/record_reference_values.py --reference .reference/PHM-Vibench -k isfm  # names with "isfm"
    python scripts/record_reference_values.py --list                    # the cases (no reference needed)

For each case of :data:`CASES` the reference model is built from its ``model:`` section the way
PHM-Vibench builds it (``scripts/reference.py``), its weights are moved away from their
initialisation (seeded noise on every trainable tensor, BatchNorm statistics of the recorded
batch, so that a swapped or ignored weight shows), and it runs on a seeded random input in eval mode (train mode
where stated) under ``torch.no_grad()``. ``tests/reference/values/<case>.pt`` then holds, as plain
tensors and builtins (``torch.load(..., weights_only=True)``):

* ``vibench``: how to compile the same model with vibench: ``{"phm": <model: section>}`` (the
  PHM-Vibench config route) or ``{"extends": <template>, "with": <params>}``;
* ``inputs``: vibench's input names (``x``, ``fs``, ``system_id``) -> the tensors the reference got;
* ``state_dict``: the reference's, except its large tensors, stored in ``seeded`` as recipes for
  :func:`seeded_uniform` (key -> seed, shape, scale; the recorder gave the reference those values);
* ``outputs``: vibench output name -> the reference's output;
* ``seed``: the global torch seed set right before the forward (E_01_HSE draws its random patches
  from the global generator, in eval mode too; vibench's native draws the same numbers in the same
  order, so seeding both sides alike makes the comparison exact);
* ``mode``, ``strict``, ``leftover``, ``pad``, ``atol``, ``reference`` (model, commit, call),
  ``covers`` (the reference models exercised) and ``doc`` (why this configuration and route).

``tests/test_reference_values.py`` compiles each case with vibench, loads the state_dict through
``load_reference_state_dict`` and compares outputs; it needs no reference checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python scripts/...` puts only scripts/ on the path
    sys.path.insert(0, ROOT)
OUT = os.path.join(ROOT, "tests", "reference", "values")
FORMAT = 1
CALL_SEED = 20240607
ATOL = 1e-5


@dataclass
class Case:
    """A classic-family model (CNN, RNN, Transformer, MLP, NO): ``Model(Namespace(**args))(x)``."""

    name: str
    model: str  # TYPE/NAME
    args: dict[str, Any]
    x: tuple[int, ...]
    doc: str = ""
    mode: str = "eval"
    atol: float = ATOL
    strict: bool = True
    leftover: list[str] = field(default_factory=list)  # reference keys vibench does not hold (strict=False)
    # Run both sides in float64: for a model whose float32 output differs between CPUs by more than
    # ATOL (accumulation order of another instruction set; a top-k of nearly equal scores that flips).
    double: bool = False
    # Run both sides with `torch.topk` breaking ties the same way on every CPU (:func:`canonical_topk`):
    # for a model whose top-k meets scores that are equal but for rounding (Autoformer's delays).
    ties: bool = False

    @property
    def output(self) -> str:
        return "logits" if self.args.get("num_classes") is not None else "signal"


@dataclass
class IsfmCase:
    """An ISFM composite built by the reference's factory from a flat ``model:`` section.

    ``files[b] = (Dataset_id, Sample_rate)`` of sample b (its file id is b). ``route``: "forward"
    calls the composite's own forward with the per-sample file ids (``scalar_file_id``: file 0 for
    the whole batch, how M_03 and PHM-Vibench's default task call it); "components" runs its
    embedding, backbone and head in turn where the composite's forward cannot run the
    configuration (see each case's doc).
    """

    name: str
    args: dict[str, Any]
    x: tuple[int, ...]
    files: list[tuple[int, float]]
    num_classes: dict[str, int]
    task: str  # classification | prediction | all (H_09: both sub-heads; MultiTaskHead: all four)
    doc: str
    model: str = "ISFM/M_01_ISFM"
    route: str = "forward"
    scalar_file_id: bool = False
    return_feature: bool = False
    pad: dict[str, str] = field(default_factory=dict)
    atol: float = ATOL


@dataclass
class ComponentCase:
    """An ISFM component on its own: ``cls(Namespace(**args), **kwargs)(x)`` vs ``extends: template``."""

    name: str
    model: str  # ISFM/<slot>/<class>
    template: str
    args: dict[str, Any]
    params: dict[str, Any]
    x: tuple[int, ...]
    output: str
    doc: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    atol: float = ATOL
    # Components whose reference needs more than cls(Namespace(**args))(x): setup(case, ref_dir, inputs)
    # builds the model, adds vibench's other inputs to `inputs` and returns (model, call text, forward).
    setup: Any = None
    strict: bool = True
    leftover: list[str] = field(default_factory=list)


ISFM = dict(embedding="E_01_HSE", backbone="B_04_Dlinear", task_head="H_01_Linear_cla",
            patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, dropout=0.1)
H03 = dict(hidden_dim=8, max_len=64, max_out=2, act="gelu")
ONE = [(1, 1000.0), (1, 2500.0)]

CASES: list[Case | IsfmCase | ComponentCase] = [
    # CNN
    Case("cnn_resnet1d_basic", "CNN/ResNet1D", dict(input_dim=2, block_type="basic", layers=[1, 1, 1, 1],
         initial_channels=8, num_classes=5), (2, 64, 2), "Basic blocks, a downsample shortcut per stage."),
    Case("cnn_resnet1d_bottleneck", "CNN/ResNet1D", dict(input_dim=1, block_type="bottleneck", layers=[1, 2, 1, 1],
         initial_channels=4, num_classes=3), (2, 64, 1), "Bottleneck blocks (x4 expansion), a repeated block."),
    Case("cnn_resnet1d_regression", "CNN/ResNet1D", dict(input_dim=1, layers=[1, 1, 1, 1], initial_channels=4,
         output_dim=2), (2, 64, 1), "Regression decoder (transposed convolutions; output length L/2)."),
    Case("cnn_attentioncnn", "CNN/AttentionCNN", dict(input_dim=2, channels=[16, 32, 32], num_classes=4),
         (2, 64, 2), "CBAM channel and spatial attention in every block."),
    Case("cnn_attentioncnn_plain_regression", "CNN/AttentionCNN", dict(input_dim=1, channels=[8, 8, 16],
         use_attention=False, output_dim=1), (2, 64, 1), "No attention; the reference's three-block decoder."),
    Case("cnn_mobilenet1d", "CNN/MobileNet1D", dict(input_dim=1, width_multiplier=0.25, num_classes=3,
         inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2]]), (2, 64, 1),
         "Expansion 1 and 6, a residual block; 1280-wide last convolution."),
    Case("cnn_mobilenet1d_regression", "CNN/MobileNet1D", dict(input_dim=1, width_multiplier=0.25, output_dim=1,
         inverted_residual_setting=[[1, 8, 1, 1], [2, 8, 2, 2]]), (2, 64, 1), "Regression decoder."),
    Case("cnn_multiscalecnn", "CNN/MultiScaleCNN", dict(input_dim=2, multiscale_channels=[8, 16], scales=[3, 5],
         num_classes=4), (2, 64, 2), "Two multi-scale blocks, two kernel widths."),
    Case("cnn_multiscalecnn_regression", "CNN/MultiScaleCNN", dict(input_dim=1, multiscale_channels=[8],
         scales=[3, 5, 7], output_dim=1), (2, 32, 1), "Regression decoder (output length 2L); in float64 (in float32 "
         "two CPUs differ by 1.2e-5 of the output's scale).", double=True),
    Case("cnn_tcn", "CNN/TCN", dict(input_dim=2, num_channels=[4, 8], kernel_size=3, num_classes=3), (2, 32, 2),
         "Weight-normalised causal convolutions, 1x1 downsample shortcuts, dilations 1 and 2."),
    Case("cnn_tcn_regression", "CNN/TCN", dict(input_dim=1, num_channels=[4, 4, 4], kernel_size=2),
         (2, 32, 1), "Regression head; identity shortcuts."),
    # RNN
    Case("rnn_attentionlstm", "RNN/AttentionLSTM", dict(input_dim=2, hidden_dim=8, num_layers=2, attention_dim=4,
         num_classes=3), (2, 16, 2), "Two bidirectional layers, attention pooling."),
    Case("rnn_attentionlstm_regression", "RNN/AttentionLSTM", dict(input_dim=1, hidden_dim=8, num_layers=1,
         bidirectional=False, output_dim=1), (2, 16, 1),
         "Regression: the reference's unused `attention` module is not built by vibench (DEVIATIONS.md); its "
         "keys are left over, loaded with strict=False.", strict=False,
         leftover=["attention.attention_linear.bias", "attention.attention_linear.weight",
                   "attention.context_vector.weight"]),
    Case("rnn_attentiongru", "RNN/AttentionGRU", dict(input_dim=1, hidden_dim=6, num_layers=2, num_heads=4,
         num_classes=3), (2, 16, 1), "hidden_dim 6 rounded up to 8 for 4 heads; two GRU-attention layers."),
    Case("rnn_attentiongru_regression", "RNN/AttentionGRU", dict(input_dim=2, hidden_dim=8, num_layers=1,
         num_heads=2, output_dim=2), (2, 16, 2), "Regression head."),
    Case("rnn_convlstm", "RNN/ConvLSTM", dict(input_dim=2, hidden_dims=[4, 8], kernel_sizes=[3, 5], num_classes=3),
         (2, 32, 2), "Two gated convolution cells (odd kernels: the reference's padding)."),
    Case("rnn_convlstm_regression", "RNN/ConvLSTM", dict(input_dim=1, hidden_dims=[4], kernel_sizes=[3],
         num_layers=2, output_dim=1), (2, 32, 1), "Lists padded to num_layers; regression head."),
    Case("rnn_residualrnn_lstm", "RNN/ResidualRNN", dict(input_dim=2, hidden_dim=16, num_layers=2, num_classes=3),
         (2, 16, 2), "LSTM layers with residuals and LayerNorm."),
    Case("rnn_residualrnn_gru_regression", "RNN/ResidualRNN", dict(input_dim=1, hidden_dim=8, num_layers=2,
         rnn_type="gru", output_dim=1), (2, 16, 1), "GRU layers; regression head."),
    # Transformer
    Case("transformer_patchtst", "Transformer/PatchTST", dict(input_dim=2, patch_size=8, stride=4, d_model=8,
         n_heads=2, num_layers=2, d_ff=16, num_classes=3), (2, 64, 2), "Channel-independent patches, 2 channels."),
    Case("transformer_patchtst_regression", "Transformer/PatchTST", dict(input_dim=1, patch_size=8, stride=4,
         d_model=8, n_heads=2, num_layers=1, d_ff=16), (2, 64, 1),
         "Regression (output_dim = input_dim: the reference's random channel mix is not reached)."),
    Case("transformer_autoformer", "Transformer/Autoformer", dict(input_dim=1, d_model=16, n_heads=2, e_layers=2,
         d_ff=16, factor=1, num_classes=3), (2, 32, 1),
         "Eval mode: per-sample delays. The reference's `.cuda()` index is kept on the CPU (workarounds()). In "
         "float64, top-k ties broken alike (canonical_topk): two CPUs picked different delays from scores "
         "equal but for rounding.", double=True, ties=True),
    Case("transformer_autoformer_train", "Transformer/Autoformer", dict(input_dim=1, d_model=16, n_heads=2,
         e_layers=1, d_ff=16, factor=2, dropout=0.0, num_classes=3), (2, 32, 1),
         "Train mode (batch-shared delays), dropout 0 so that the forward is deterministic; in float64, top-k "
         "ties broken alike (canonical_topk).", mode="train", double=True, ties=True),
    Case("transformer_informer", "Transformer/Informer", dict(input_dim=1, d_model=8, n_heads=2, e_layers=2,
         d_ff=16, num_classes=3), (2, 64, 1), "L > 32: each query keeps its max(16, L // 4) best scores."),
    Case("transformer_informer_short", "Transformer/Informer", dict(input_dim=2, d_model=8, n_heads=2, e_layers=1,
         d_ff=8), (2, 24, 2), "L <= 32: full attention; regression head."),
    Case("transformer_linformer", "Transformer/Linformer", dict(input_dim=1, seq_len=32, k=8, d_model=16,
         n_heads=2, num_layers=1, d_ff=16, num_classes=3), (2, 32, 1), "L = seq_len."),
    Case("transformer_linformer_stretch", "Transformer/Linformer", dict(input_dim=1, seq_len=16, k=4, d_model=8,
         n_heads=2, num_layers=2, d_ff=8, num_classes=3), (2, 40, 1),
         "L > seq_len: position table and E/F interpolated."),
    Case("transformer_linformer_crop", "Transformer/Linformer", dict(input_dim=2, seq_len=32, k=8, d_model=8,
         n_heads=2, num_layers=1, d_ff=8, output_dim=2), (2, 20, 2), "L < seq_len: cropped; regression head."),
    # MLP
    Case("mlp_resnetmlp", "MLP/ResNetMLP", dict(input_dim=2, hidden_dim=16, num_layers=2, activation="gelu",
         num_classes=3), (2, 16, 2), "GELU residual blocks."),
    Case("mlp_resnetmlp_regression", "MLP/ResNetMLP", dict(input_dim=1, hidden_dim=8, num_layers=1,
         activation="silu", output_dim=2), (2, 16, 1), "SiLU; regression head."),
    Case("mlp_mlpmixer", "MLP/MLPMixer", dict(input_dim=2, seq_len=32, hidden_dim=16, num_layers=2,
         tokens_mlp_dim=16, channels_mlp_dim=24, num_classes=3), (2, 32, 2), "Token and channel mixing."),
    Case("mlp_mlpmixer_regression", "MLP/MLPMixer", dict(input_dim=1, seq_len=16, hidden_dim=8, num_layers=1,
         tokens_mlp_dim=8, channels_mlp_dim=8), (2, 16, 1), "Regression head."),
    Case("mlp_gmlp", "MLP/gMLP", dict(input_dim=2, seq_len=32, hidden_dim=15, num_layers=2, ffn_dim=17,
         num_classes=3), (2, 32, 2), "Odd widths rounded up to even; spatial gating."),
    Case("mlp_gmlp_regression", "MLP/gMLP", dict(input_dim=1, seq_len=16, hidden_dim=8, num_layers=1, ffn_dim=8),
         (2, 16, 1), "Regression head."),
    Case("mlp_densenetmlp", "MLP/DenseNetMLP", dict(input_dim=2, growth_rate=4, block_config=[2, 2],
         compression=0.5, activation="gelu", num_classes=3), (2, 16, 2), "Two dense blocks, one transition, GELU."),
    Case("mlp_densenetmlp_regression", "MLP/DenseNetMLP", dict(input_dim=1, growth_rate=4, block_config=[3],
         output_dim=1), (2, 16, 1), "ReLU; regression head."),
    Case("mlp_dlinear", "MLP/Dlinear", dict(input_dim=2, seq_len=32, kernel_size=5), (2, 32, 2),
         "Shared trend/seasonal maps over two channels."),
    Case("mlp_dlinear_individual", "MLP/Dlinear", dict(input_dim=2, seq_len=16, kernel_size=3, individual=True),
         (2, 16, 2), "One pair of maps per channel."),
    # Neural operators
    Case("no_fno", "NO/FNO", dict(input_dim=1, modes=4, width=8, n_layers=2, output_dim=2), (2, 32, 1),
         "Complex spectral weights, two Fourier layers."),
    Case("no_deeponet", "NO/DeepONet", dict(input_dim=2, branch_layers=[16, 16], trunk_layers=[8, 8], output_dim=2,
         activation="gelu"), (2, 32, 2), "Trunk's last width forced to the branch's; GELU."),
    Case("no_deeponet_relu", "NO/DeepONet", dict(input_dim=1, branch_layers=[8, 8, 8], trunk_layers=[8, 8, 8],
         coord_dim=2), (2, 16, 1), "ReLU; two coordinate channels."),
    # ISFM composites
    IsfmCase("isfm_e01_b04_h01", dict(ISFM), (2, 64, 1), ONE, {"1": 5}, "classification",
             "The v0.1.0 demo composition, per-sample sampling rates; return_feature also returns the backbone's "
             "tokens (vibench: output `features`).", return_feature=True),
    IsfmCase("isfm_e01_channels_b01_h01", dict(ISFM, patch_size_C=2, output_dim=8, backbone="B_01_basic_transformer",
             num_heads=2, num_layers=1), (2, 64, 3), ONE, {"1": 4}, "classification",
             "Patches of 2 of 3 channels (channel indices wrap around); B_01 keeps PyTorch's 2048-wide FFN."),
    IsfmCase("isfm_e01_short_b05_h01", dict(ISFM, output_dim=8, backbone="B_05_Mamba"), (2, 12, 1), ONE, {"1": 3},
             "classification",
             "A signal shorter than a patch (time steps repeated). B_05's forward cannot run as written (torch.einsum "
             "with einops' argument order): recorded with einops.einsum, as the file evidently intends "
             "(scripts/reference.py: workarounds())."),
    IsfmCase("isfm_e01_b06_h01", dict(ISFM, num_patches=12, output_dim=8, backbone="B_06_TimesNet", d_ff=4,
             e_layers=1), (2, 64, 1), ONE, {"1": 3}, "classification", "TimesNet: data-dependent periods, 6 kernels."),
    IsfmCase("isfm_e01_b07_h01", dict(ISFM, backbone="B_07_TSMixer", seq_len=8, enc_in=16, d_model=8, e_layers=2),
             (2, 64, 1), ONE, {"1": 3}, "classification", "TSMixer with the seq_len / enc_in the reference requires."),
    IsfmCase("isfm_e01_b08_h02", dict(ISFM, backbone="B_08_PatchTST", task_head="H_02_distance_cla", num_heads=2,
             d_ff=16, e_layers=2, factor=5, activation="gelu"), (2, 64, 1), ONE, {"1": 4}, "classification",
             "H_02 crashes on the per-sample id list M_01 passes (DEVIATIONS.md): recorded through the components "
             "with one scalar system id, the configuration in which the reference runs.", route="components"),
    IsfmCase("isfm_e01_b09_h03", dict(ISFM, backbone="B_09_FNO", task_head="H_03_Linear_pred", modes=4, width=8,
             num_layers=2, **H03), (2, 64, 2), ONE, {"1": 3}, "prediction", "Signal prediction shaped like x."),
    IsfmCase("isfm_e03_b01_h01", dict(ISFM, embedding="E_03_Patch", backbone="B_01_basic_transformer", input_dim=2,
             d_model=16, output_dim=8, activation="gelu", num_heads=2, num_layers=1), (2, 64, 2), ONE, {"1": 3},
             "classification", "Experiment 0's composition: convolutional patches, no sampling rate."),
    IsfmCase("isfm_e02_b04_h01", dict(ISFM, embedding="E_02_HSE_v2", c_dim=2, hidden_dim=16,
             num_channels={"1": 1}), (2, 64, 1), [(1, 1000.0), (1, 1000.0)], {"1": 3}, "classification",
             "E_02 runs only with c_dim = C + 1 and a Python-number sampling rate, and M_01 cannot call it "
             "(DEVIATIONS.md): recorded through the components with fs a float.", route="components"),
    IsfmCase("isfm_e02_mixed_b04_h03", dict(ISFM, embedding="E_02_HSE_v2", task_head="H_03_Linear_pred", c_dim=3,
             num_channels={"1": 2, "2": 2}, **dict(H03, hidden_dim=16)), (2, 64, 2), [(2, 1000.0), (1, 1000.0)],
             {"1": 3}, "prediction",
             "Per-system channel mixers on a mixed batch (systems 2 and 1), prediction head (hidden_dim is E_02's "
             "token width and H_03's hidden width alike); components with fs a float, as isfm_e02_b04_h01.",
             route="components"),
    IsfmCase("isfm_e01_b04_h09", dict(ISFM, task_head="H_09_multiple_task", classification_head="H_01_Linear_cla",
             prediction_head="H_03_Linear_pred", **H03), (2, 64, 1), ONE, {"1": 3}, "all",
             "H_09 with both sub-heads: the reference is called twice (classification, prediction) with the same "
             "seed, so E_01 draws the same patches; vibench returns both at once."),
    IsfmCase("isfm_e01_b08_h09_h02", dict(ISFM, backbone="B_08_PatchTST", task_head="H_09_multiple_task",
             classification_head="H_02_distance_cla", prediction_head="H_03_Linear_pred", num_heads=2, d_ff=16,
             e_layers=1, factor=5, activation="relu", **H03), (2, 64, 1), ONE, {"1": 4}, "all",
             "The paper configs' head (H_09 with H_02): components with one scalar system id, as isfm_e01_b08_h02.",
             route="components"),
    IsfmCase("isfm_e01_b04_multitaskhead", dict(ISFM, task_head="MultiTaskHead", hidden_dim=8, use_batch_norm=True,
             activation="gelu", rul_max_value=2.0, max_len=64, max_out=2, act="relu"), (2, 64, 1), ONE, {"1": 3},
             "all",
             "MultiTaskHead is unreachable through M_01's forward (DEVIATIONS.md): components with task_id 'all', "
             "one scalar system id and original_x = the tokens.", route="components"),
    IsfmCase("isfm_two_systems_h01", dict(ISFM), (2, 64, 1), [(2, 1000.0), (2, 500.0)], {"1": 5, "2": 3},
             "classification",
             "Two systems, a batch of system 2 only (the reference routes the batch by its first id): vibench's "
             "logits are as wide as the widest system, the missing classes -inf.", pad={"logits": "-inf"}),
    IsfmCase("isfm_m03_scalar_file", dict(ISFM), (2, 64, 1), [(1, 2000.0), (1, 2000.0)], {"1": 4}, "classification",
             "M_03 takes one scalar file id per batch.", model="ISFM/M_03_ISFM", scalar_file_id=True),
    IsfmCase("isfm_m02_components", dict(ISFM), (2, 64, 1), ONE, {"1": 4}, "classification",
             "M_02's forward calls backbone(tokens, c), which B_04 rejects (DEVIATIONS.md): components.",
             model="ISFM/M_02_ISFM", route="components"),
    ComponentCase("isfm_b03_fits", "ISFM/backbone/B_03_FITS", "isfm/backbone/B_03_FITS", dict(patch_size_C=1),
                  dict(patch_size_C=1), (2, 4096, 1), "tokens",
                  "FITS is built for 4096 samples (65 bins) and runs on 128 tokens or more, returning 4096 "
                  "(DEVIATIONS.md): the component on an input of that length."),
    ComponentCase("isfm_b04_individual", "ISFM/backbone/B_04_Dlinear", "isfm/backbone/B_04_Dlinear",
                  dict(num_patches=8, output_dim=4), dict(num_patches=8, output_dim=4, individual=True), (2, 8, 4),
                  "tokens", "individual=True is a constructor argument no config can set: the component alone.",
                  kwargs=dict(individual=True)),
]
if __name__ != "__main__":  # more case tables, built from the classes above (as a script, main() imports this module)
    from scripts.reference_cases_isfm import CASES as ISFM_LIBRARY3_CASES

    CASES += ISFM_LIBRARY3_CASES
    from scripts.reference_cases_registry import CASES as REGISTRY_CASES  # library III registry models

    CASES += REGISTRY_CASES

COMPONENT_KEYS = ("embedding", "backbone", "task_head", "classification_head", "prediction_head")


def covers(case: Case | IsfmCase | ComponentCase) -> list[str]:
    """The reference models a case exercises (``reference: model:`` names of the library specs)."""
    if isinstance(case, Case):
        return [case.model]
    if isinstance(case, ComponentCase):
        return [case.model.split("/")[0] + "/" + case.model.split("/")[-1]]
    names = [case.model] + [f"ISFM/{case.args[k]}" for k in COMPONENT_KEYS if k in case.args]
    return sorted(set(names))


def vibench_config(case: Case | IsfmCase | ComponentCase) -> dict[str, Any]:
    """How vibench compiles the case: a PHM-Vibench ``model:`` section, or ``extends:`` a template."""
    if isinstance(case, ComponentCase):
        return {"extends": case.template, "with": dict(case.params)}
    kind, name = case.model.split("/")
    section: dict[str, Any] = {"type": kind, "name": name, **case.args}
    if isinstance(case, IsfmCase):  # the factory's num_classes, from the dataset metadata
        section["num_classes"] = dict(case.num_classes)
        if case.return_feature:
            section["return_feature"] = True
    return {"phm": section}


# ---------------------------------------------------------------------------------------------
# Recording (needs the reference checkout).


LARGE = 4096
"""Trainable tensors with more elements are stored as a recipe for :func:`seeded_uniform`."""


@contextlib.contextmanager
def canonical_topk(step: float = 2.0**-30) -> Iterator[None]:
    """``torch.topk`` (the function, as Autoformer calls it) with ties broken alike on every CPU.

    Autoformer picks its delays as the top-k of autocorrelation scores that come in pairs equal in
    exact arithmetic (lags tau and L - tau; measured: every configuration tried, float64 too, has such
    a pair at the k-th place), so which of the two a CPU picks depends on the last bit of its FFT: the
    eval-mode case recorded on one CPU gave 0.013 off on another, reference and vibench alike. Here
    scores are compared after rounding to ``step`` and equal ones taken lowest index first; the values
    returned are the scores themselves. Both the recording and the test run under it, so the
    comparison checks the scores and their use, not a CPU's tie-break.
    """
    import torch

    original = torch.topk

    def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        key = torch.round(input.double() / step)
        order = torch.sort(key if largest else -key, dim=dim, descending=True, stable=True).indices
        index = order.narrow(dim, 0, k)
        return torch.return_types.topk((input.gather(dim, index), index))

    torch.topk = topk
    try:
        yield
    finally:
        torch.topk = original


def seeded_uniform(seed: int, shape: Sequence[int], scale: float) -> Any:
    """Float32 values in [-scale, scale) from an integer hash (splitmix64) of ``seed`` and the index.

    Integer arithmetic and one float32 multiplication: the same bits on every machine and torch
    version. The recorder gives the reference's large weights these values (the artifact then
    stores ``{"seed", "shape", "scale"}`` instead of the tensor) and the test regenerates them.
    """
    import numpy as np
    import torch

    count = math.prod(shape)
    with np.errstate(over="ignore"):
        z = np.arange(count, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    unit = torch.from_numpy((z >> np.uint64(40)).astype(np.float32)) * 2.0**-24  # k / 2**24, exact
    return ((unit * 2 - 1) * torch.tensor(scale, dtype=torch.float32)).reshape(tuple(shape))


def perturb(model: Any, seed: int) -> dict[int, dict[str, Any]]:
    """Move every trainable tensor away from its initialisation.

    Noise of 20% of the tensor's mean magnitude (plus 0.02) keeps values in their usual range while
    making constant initialisations (zero biases, unit norms, DLinear's 1/T) distinct. Real tensors
    of more than :data:`LARGE` elements are instead replaced by :func:`seeded_uniform` values of the
    same mean magnitude; the returned map (tensor storage -> recipe) lets the artifact store the
    recipe. Frozen parameters (E_02's position table) and buffers stay as the reference made them
    (BatchNorm statistics: :func:`calibrate_batch_norm`).
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    recipes: dict[int, dict[str, Any]] = {}
    with torch.no_grad():
        for k, (_, param) in enumerate(sorted(model.named_parameters())):
            if not param.requires_grad:
                continue
            magnitude = float(param.abs().mean())
            if param.numel() > LARGE and param.dtype == torch.float32:
                recipe = {"seed": seed * 100_000 + k, "shape": list(param.shape),
                          "scale": float(torch.tensor(max(2 * magnitude, 0.02), dtype=torch.float32))}
                param.copy_(seeded_uniform(recipe["seed"], recipe["shape"], recipe["scale"]))
                recipes[param.data_ptr()] = recipe
                continue
            param.add_(torch.randn(param.shape, generator=gen, dtype=param.dtype) * (0.2 * magnitude + 0.02))
    return recipes


def calibrate_batch_norm(model: Any, forward: Any) -> None:
    """Give every BatchNorm the statistics of the recorded batch itself (one forward, only the norms
    in training mode, momentum None: the running values become that batch's mean and variance).

    Normalised activations then have the spread they have in a trained model; with arbitrary
    statistics whole ReLU layers can go dead and hide every weight before them.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
        norm.train()
    torch.manual_seed(CALL_SEED)
    forward()
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.eval()


def check_live(name: str, forward: Any, x: Any, outputs: dict[str, Any]) -> None:
    """Refuse a case whose output ignores its input (a dead ReLU layer hides every weight before it)."""
    import torch

    saved = x.clone()
    x.add_(torch.randn(x.shape, generator=torch.Generator().manual_seed(3)) * 0.5)
    try:
        torch.manual_seed(CALL_SEED)
        moved = forward()
    finally:
        x.copy_(saved)
    dead = [k for k, v in outputs.items() if float((moved[k] - v).abs().max()) < 10 * ATOL]
    if dead:
        raise SystemExit(f"{name}: output(s) {dead} do not depend on the input; change the case's sizes "
                         f"({[float((moved[k] - outputs[k]).abs().max()) for k in dead]})")


def record(case: Case | IsfmCase | ComponentCase, ref_dir: str) -> dict[str, Any]:
    import torch

    from scripts import reference

    torch.manual_seed(0)
    inputs: dict[str, torch.Tensor] = {"x": torch.randn(case.x, generator=torch.Generator().manual_seed(1))}
    mode = "eval"
    strict, leftover, pad = True, [], {}
    x = inputs["x"]
    if isinstance(case, Case):
        model = reference.build_reference_model(ref_dir, case.model, case.args)
        mode, strict, leftover = case.mode, case.strict, case.leftover
        call = "model(x)"

        def forward() -> dict[str, torch.Tensor]:
            return {case.output: model(x)}
    elif isinstance(case, ComponentCase) and case.setup is not None:
        model, call, forward = case.setup(case, ref_dir, inputs)
        strict, leftover = case.strict, case.leftover
    elif isinstance(case, ComponentCase):
        from argparse import Namespace

        cls = reference.load_reference_class(ref_dir, case.model)
        model = cls(Namespace(**case.args), **case.kwargs)
        kwargs = "".join(f", {k}={v!r}" for k, v in case.kwargs.items())
        call = f"{case.model.split('/')[-1]}(Namespace(**args){kwargs})(x)"

        def forward() -> dict[str, torch.Tensor]:
            return {case.output: model(x)}
    else:
        model, call, forward, pad = _isfm(case, ref_dir, inputs)
    recipes = perturb(model, 2)
    seeded = {k: recipes[v.data_ptr()] for k, v in model.state_dict().items() if v.data_ptr() in recipes}
    double = isinstance(case, Case) and case.double
    if double:  # float32 weights cast exactly; `forward` reads the new `x`
        model.double()
        x = inputs["x"] = x.double()
    ties = canonical_topk() if isinstance(case, Case) and case.ties else contextlib.nullcontext()
    with torch.no_grad(), reference.workarounds(ref_dir), ties:
        calibrate_batch_norm(model, forward)
        model.train(mode == "train")
        torch.manual_seed(CALL_SEED)
        outputs = forward()
        check_live(case.name, forward, x, outputs)
    commit = reference.reference_commit(ref_dir) or reference.REFERENCE_COMMIT
    return {
        "format": FORMAT,
        "case": case.name,
        "doc": case.doc,
        "reference": {"model": case.model, "commit": commit, "call": call},
        "covers": covers(case),
        "vibench": vibench_config(case),
        "inputs": inputs,
        "mode": mode,
        "seed": CALL_SEED,
        "state_dict": {k: _stored(v) for k, v in model.state_dict().items() if k not in seeded},
        "seeded": seeded,
        "outputs": {k: v.detach().clone() for k, v in outputs.items()},
        "strict": strict,
        "leftover": list(leftover),
        "pad": dict(pad),
        "atol": case.atol,
        "dtype": "float64" if double else "float32",
        "ties": "canonical" if isinstance(case, Case) and case.ties else "torch",
    }


def _stored(value: Any) -> Any:
    """A tensor to store: float64 values that a float32 holds exactly (weights cast for a float64 case)
    as float32, so that the artifact stays small."""
    import torch

    value = value.detach().clone()
    if value.dtype == torch.float64 and torch.equal(value.float().double(), value):
        return value.float()
    return value


def _isfm(case: IsfmCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any, dict[str, str]]:
    import torch

    from scripts import reference

    x = inputs["x"]
    batch, length, channels = x.shape
    files = case.files
    metadata = reference.reference_metadata(ref_dir, files, case.num_classes)
    model = reference.build_reference_model(ref_dir, case.model, case.args, metadata)
    inputs["fs"] = torch.tensor([fs for _, fs in files], dtype=torch.float32)
    inputs["system_id"] = torch.tensor([ds for ds, _ in files], dtype=torch.int64)
    file_id: Any = 0 if case.scalar_file_id else list(range(batch))
    if case.scalar_file_id:
        assert len(set(files)) == 1, "a scalar file id gives every sample file 0's metadata"
    shape = (length, channels)

    if case.route == "forward":
        def call_task(task: str) -> Any:
            torch.manual_seed(CALL_SEED)  # the same patches for every call
            return model(x, file_id=file_id, task_id=task, return_feature=case.return_feature)

        def forward() -> dict[str, torch.Tensor]:
            if case.task == "all":  # H_09: one call per sub-head
                return {"logits": call_task("classification"), "signal": call_task("prediction")}
            out = call_task(case.task)
            name = "logits" if case.task == "classification" else "signal"
            if case.return_feature:
                return {name: out[0], "features": out[1]}
            return {name: out}

        how = "scalar file id 0" if case.scalar_file_id else "file ids 0..B-1"
        call = f"model(x, file_id=<{how}>, task_id=<task>)" + (", return_feature=True" if case.return_feature else "")
        return model, call, forward, case.pad

    systems = sorted({ds for ds, _ in files})
    rates = sorted({fs for _, fs in files})
    head_name = case.args["task_head"]
    scalar_system = systems[0] if len(systems) == 1 else None

    def embed() -> Any:
        if case.args["embedding"] == "E_02_HSE_v2":
            assert len(rates) == 1, "E_02 takes one Python-number sampling rate"
            return model.embedding(x, [ds for ds, _ in files], rates[0])[0]
        if case.args["embedding"] == "E_01_HSE":
            return model.embedding(x, inputs["fs"])
        return model.embedding(x)

    def forward() -> dict[str, torch.Tensor]:
        tokens = model.backbone(embed())
        head = model.task_head
        if head_name == "H_03_Linear_pred":
            return {"signal": head(tokens, shape=shape)}
        assert scalar_system is not None, "the heads take one scalar system id"
        if head_name == "H_09_multiple_task":
            return {"logits": head(tokens, system_id=scalar_system, task_id="classification"),
                    "signal": head(tokens, task_id="prediction", shape=shape)}
        if head_name == "MultiTaskHead":
            out = head(tokens, system_id=scalar_system, task_id="all", original_x=tokens, shape=shape)
            return dict(out)
        if head_name == "H_01_Linear_cla" and case.model.endswith("M_02_ISFM"):
            return {"logits": head(tokens, system_id=[ds for ds, _ in files])}
        return {"logits": head(tokens, system_id=scalar_system)}

    parts = {"E_01_HSE": "embedding(x, fs)", "E_02_HSE_v2": "embedding(x, system_ids, float(fs))[0]",
             "E_03_Patch": "embedding(x)"}
    call = f"task_head(backbone({parts[case.args['embedding']]}), ...) [{head_name}, task {case.task}]"
    return model, call, forward, case.pad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="a PHM-Vibench checkout (e.g. .reference/PHM-Vibench)")
    parser.add_argument("-k", dest="match", default="", help="record only cases whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    selected = [c for c in CASES if args.match in c.name]
    if not selected:  # (recorded nothing and exited 0)
        parser.error(f"-k {args.match}: no case name contains it (`--list` lists them)")
    if args.list:
        for case in selected:
            print(f"{case.name:36} {', '.join(covers(case))}")
        return 0
    if not args.reference:
        parser.error("--reference DIR is required to record (see `make reference`)")
    from scripts import reference

    try:  # before anything is built (a FileNotFoundError traceback)
        print(reference.check_checkout(args.reference))
    except FileNotFoundError as err:
        parser.error(f"--reference: {err}")
    import torch

    os.makedirs(OUT, exist_ok=True)
    for case in selected:
        artifact = record(case, args.reference)
        path = os.path.join(OUT, f"{case.name}.pt")
        torch.save(artifact, path)
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in artifact["outputs"].items())
        print(f"{case.name:36} {os.path.getsize(path) / 1024:7.1f} kB  {shapes}")
    return 0


if __name__ == "__main__":
    from scripts.record_reference_values import main as module_main  # the module, with every case table

    sys.exit(module_main())
