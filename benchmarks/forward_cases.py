"""The case table of benchmarks/forward.py: every library template with a ``reference:`` section, in one
configuration each, and the sizes they share (the ISFM demo config, signal and token shapes).

A :class:`Case` names the template, the reference model and its ``model:`` arguments, the input shape and
how the reference is called; ``parity`` cases run as their value-parity case of
``scripts/reference_cases_isfm.py`` does (:func:`parity_case`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BATCH = 8

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

    ``call`` says how the reference runs (see :func:`benchmarks.forward_sides.reference_forward`): ``x`` is
    ``model(x)``; ``isfm`` a composite's components; ``hse``/``hse_v2``/``tokens`` an embedding or backbone;
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
