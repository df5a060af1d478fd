"""Reference cases of the ISFM library III components (B_10_VIBT, B_11_MomentumEncoder, H_04_VIB_pred, H_05,
H_06, H_10, H_02_Linear_cla_heterogeneous_batch, E_01_HTFE, E_com_00_PE, HSE_prompt, E_01_HSE_v2 (ISFM_Prompt),
M_02_ISFM_Prompt): value parity cases for ``scripts/record_reference_values.py`` (:data:`CASES`) and, for
E_com_00_PE, E_01_HSE_v2 and B_11_MomentumEncoder, the measurements behind their rows of
``tests/reference/models.json`` (:data:`ROWS`, ``python scripts/reference_cases_isfm.py --measure``).

B_10_VIBT imports timm (``Attention``, ``Mlp``), which imports torchvision and PIL at module level. The
rows and values were taken with timm 1.0.20 (timm 1.0.22 and later pass ``device``/``dtype`` to the
``norm_layer`` B_10_VIBT gives, which its RMSNorm refuses: the reference cannot build there) put on
``sys.path`` with ``--timm DIR`` (e.g. ``pip install --no-deps --target .reference/pydeps timm==1.0.20``);
torchvision and PIL, which B_10_VIBT never uses, get inert stand-ins while it loads
(:func:`torchvision_stand_in`).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import os
import platform
import sys
import types
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python scripts/...` puts only scripts/ on the path
    sys.path.insert(0, ROOT)

from scripts.record_reference_values import ComponentCase, IsfmCase  # noqa: E402

VIBT = dict(hidden_dim=16, num_heads=2, num_layers=2, factor=2.0)
PROMPT = dict(embedding="HSE_prompt", backbone="B_04_Dlinear", task_head="H_01_Linear_cla", patch_size_L=16,
              patch_size_C=1, num_patches=8, output_dim=16, use_prompt=True, prompt_dim=8, max_dataset_ids=4)


def _cls(case: ComponentCase, ref_dir: str) -> Any:
    from scripts import reference

    return reference.load_reference_class(ref_dir, case.model)


def _vibt(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    torchvision_stand_in(os.environ.get("VIBENCH_TIMM", os.path.join(ref_dir, os.pardir, "pydeps")))
    sys.modules.pop("src.model_factory.ISFM.backbone.B_10_VIBT", None)  # loaded with the timm stand-in
    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    return model, "B_10_VIBT(Namespace(**args))(x, None)", lambda: {"tokens": model(x, None)}


def _vib_pred(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    from scripts import reference

    cls = _cls(case, ref_dir)
    patcher_cls = reference.reference_module(ref_dir,
                                             "src.model_factory.ISFM.embedding.E_02_HSE_rec").SequencePatcher
    length, channels = case.kwargs["length"], case.kwargs["channels"]
    patcher = patcher_cls(case.args["num_patches"], case.args["patch_size_L"])
    target = torch.zeros(inputs["x"].shape[0], length, channels)
    patcher.update_start_indices(target, length)
    model = cls(Namespace(**case.args), patcher)
    inputs["target"] = target
    inputs["system_id"] = torch.ones(inputs["x"].shape[0], dtype=torch.int64)
    x = inputs["x"]
    return model, "H_04_VIB_pred(Namespace(**args), SequencePatcher)(x, system_id=1)", \
        lambda: {"signal": model(x, 1)}


def _htfe(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    model = _cls(case, ref_dir)(Namespace(**case.args), Namespace(f_s=case.args["f_s"]))
    x = inputs["x"]
    return model, "E_01_HTFE(Namespace(**args), Namespace(f_s=f_s))(x)", lambda: {"tokens": model(x)}


def _hse_prompt(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    inputs["fs"] = torch.tensor([1000.0, 2500.0])
    inputs["system_id"] = torch.tensor([1, 6], dtype=torch.int64)  # 6 wraps around a 4-row table
    return model, "HSE_prompt(Namespace(**args))(x, fs, dataset_ids)", \
        lambda: {"tokens": model(x, inputs["fs"], inputs["system_id"])}


def _pe_time_feature(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    assert x.shape[-1] == case.kwargs["marks"], "x doubles as x_mark"
    inputs["x_mark"] = x
    return model, "E_com_00_PE(Namespace(**args))(x, x_mark)", lambda: {"tokens": model(x, inputs["x_mark"])}


def _prompt_inputs(inputs: dict[str, Any]) -> tuple[Any, Any, Any]:
    import torch

    inputs["fs"] = torch.tensor([1000.0, 2500.0])
    inputs["system_id"] = torch.tensor([1, 3], dtype=torch.int64)
    inputs["domain_id"] = torch.tensor([0, 4], dtype=torch.int64)
    return inputs["fs"], inputs["system_id"], inputs["domain_id"]


def _hse_v2_prompt(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    """E_01_HSE_v2 with its prompt: the reference's forward calls ``prompt_encoder(metadata)``, which takes
    three tensors, and falls back to the signal path on the TypeError; recorded with the prompt encoder and
    the fusion called as they are written (DEVIATIONS.md)."""
    from argparse import Namespace

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    fs, dataset_id, domain_id = _prompt_inputs(inputs)

    def forward() -> dict[str, Any]:
        tokens = model._process_signal_patches(x, fs)
        prompt = model.prompt_encoder(dataset_id, domain_id, fs)
        return {"tokens": model.dropout(model.final_norm(model.prompt_fusion(tokens, prompt)))}

    call = ("dropout(final_norm(prompt_fusion(_process_signal_patches(x, fs), prompt_encoder(system_id, domain_id, "
            "fs)))) [the forward's prompt path, as written]")
    return model, call, forward


def _hse_v2_signal(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    inputs["fs"] = torch.tensor([1000.0, 2500.0])
    return model, "E_01_HSE_v2(Namespace(**args))(x, fs, metadata=None)", \
        lambda: {"tokens": model(x, inputs["fs"], None)}


def _momentum(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    from scripts import reference

    base = case.kwargs["base_encoder"]
    encoder = reference.load_reference_class(ref_dir, f"ISFM/backbone/{base}")(Namespace(**case.args))
    model = _cls(case, ref_dir)({"base_encoder": encoder, "momentum": case.params["momentum"]})
    x = inputs["x"]
    return model, f"B_11_MomentumEncoder({{'base_encoder': {base}(Namespace(**args)), 'momentum': m}})(x)", \
        lambda: {"tokens": model(x)}


def _heads(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    if case.output == "logits":
        inputs["system_id"] = torch.tensor([2, 1], dtype=torch.int64)
        return model, "head(Namespace(**args))(x, system_id=[2, 1])", \
            lambda: {"logits": model(x, system_id=[2, 1])}
    return model, f"{case.model.split('/')[-1]}(Namespace(**args))(x)", lambda: {case.output: model(x)}


def _m02_heterogeneous(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    from scripts import reference

    module = reference.reference_module(ref_dir, "src.model_factory.ISFM.M_02_ISFM_heterogeneous_batch")
    head = module.H_02_Linear_cla_heterogeneous_batch
    if isinstance(head, types.ModuleType):  # the reference imports the module where it means the class
        module.H_02_Linear_cla_heterogeneous_batch = head.H_02_Linear_cla_heterogeneous_batch
    files = case.kwargs["files"]
    metadata = reference.reference_metadata(ref_dir, files, case.args["num_classes"])
    model = module.Model(Namespace(**case.args), metadata)
    inputs["fs"] = torch.tensor([fs for _, fs in files], dtype=torch.float32)
    inputs["system_id"] = torch.tensor([ds for ds, _ in files], dtype=torch.int64)
    x = inputs["x"]
    ids = list(range(len(files)))
    call = "Model(Namespace(**args), metadata)(x, file_id=[0, 1], task_id='classification') [head class bound]"
    return model, call, lambda: {"logits": model(x, file_id=ids, task_id="classification")}


PE = dict(output_dim=8, dropout=0.1, patch_size_C=1)  # small: the 5000-row position table is stored
HSE_V2 = dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=12, max_dataset_ids=4,
              max_domain_ids=5)
PATCHTST = dict(output_dim=16, num_heads=2, d_ff=24, e_layers=2, dropout=0.1, factor=5, activation="gelu")


def _without(args: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k not in keys}


def _leftover(prefixes: tuple[str, ...], keys: list[str]) -> list[str]:
    return sorted(f"{p}.{k}" for p in prefixes for k in keys)


_PATCHTST_KEYS = [f"encoder.attn_layers.{i}.{k}" for i in range(2) for k in (
    "attention.key_projection.bias", "attention.key_projection.weight", "attention.out_projection.bias",
    "attention.out_projection.weight", "attention.query_projection.bias", "attention.query_projection.weight",
    "attention.value_projection.bias", "attention.value_projection.weight", "conv1.bias", "conv1.weight", "conv2.bias",
    "conv2.weight", "norm1.bias", "norm1.weight", "norm2.bias", "norm2.weight")] + [
    f"encoder.norm.1.{k}" for k in ("bias", "num_batches_tracked", "running_mean", "running_var", "weight")]
_PROMPT_KEYS = ["prompt_encoder." + k for k in (
    "dataset_embedding.weight", "domain_embedding.weight", "final_norm.bias", "final_norm.weight",
    "final_projection.bias", "final_projection.weight", "prompt_attention.in_proj_bias",
    "prompt_attention.in_proj_weight", "prompt_attention.out_proj.bias", "prompt_attention.out_proj.weight",
    "sample_fusion.bias", "sample_fusion.weight", "sample_norm.bias", "sample_norm.weight", "sample_rate_proj.bias",
    "sample_rate_proj.weight", "system_fusion.bias", "system_fusion.weight", "system_norm.bias", "system_norm.weight")
] + ["prompt_fusion." + k for k in (
    "cross_attention.in_proj_bias", "cross_attention.in_proj_weight", "cross_attention.out_proj.bias",
    "cross_attention.out_proj.weight", "norm.bias", "norm.weight", "prompt_proj.bias", "prompt_proj.weight")]

CASES: list[ComponentCase | IsfmCase] = [
    ComponentCase("isfm_b10_vibt", "ISFM/backbone/B_10_VIBT", "isfm/backbone/B_10_VIBT", dict(VIBT), dict(VIBT),
                  (2, 6, 16), "tokens", "Two adaLN blocks with scaled-RMS q/k norms (timm 1.0.20 Attention/Mlp); "
                  "the condition is the tokens' mean (c = None, as M_02_ISFM passes it).", setup=_vibt),
    ComponentCase("isfm_h04_vib_pred", "ISFM/task_head/H_04_VIB_pred", "isfm/task_head/H_04_VIB_pred",
                  dict(hidden_dim=16, patch_size_L=8, c_dim=3, num_patches=6, num_channels={"1": 2}),
                  dict(hidden_dim=16, patch_size_L=8, c_dim=3, num_channels={"1": 2}), (2, 6, 16), "signal",
                  "Six overlapping windows of 8 over L = 40 (the patcher's starts), two channels; the reference "
                  "takes one scalar system id.", kwargs=dict(length=40, channels=2), setup=_vib_pred),
    ComponentCase("isfm_h05_rul_pred", "ISFM/task_head/H_05_RUL_pred", "isfm/task_head/H_05_RUL_pred",
                  dict(output_dim=16, hidden_dim=12, rul_max_value=2000.0, dropout=0.1, activation="gelu"),
                  dict(output_dim=16, hidden_dim=12, rul_max_value=2000.0, dropout=0.1, activation="gelu"),
                  (2, 5, 16), "rul_prediction", "GELU, scaled by 2000.", setup=_heads),
    ComponentCase("isfm_h06_anomaly_det", "ISFM/task_head/H_06_Anomaly_det", "isfm/task_head/H_06_Anomaly_det",
                  dict(output_dim=16, hidden_dim=8, use_batch_norm=True, activation="leaky_relu"),
                  dict(output_dim=16, hidden_dim=8, use_batch_norm=True, activation="leaky_relu"), (2, 5, 16),
                  "anomaly_detection", "BatchNorm1d after the hidden Linears, leaky ReLU.", setup=_heads),
    ComponentCase("isfm_h10_projection", "ISFM/task_head/H_10_ProjectionHead", "isfm/task_head/H_10_ProjectionHead",
                  dict(input_dim=16, hidden_dim=12, output_dim=8, activation="gelu", dropout=0.1),
                  dict(input_features=16, hidden_dim=12, output_dim=8, activation="gelu", dropout=0.1), (2, 5, 16),
                  "projection", "Dropout layer present (index shift), LayerNorm.", setup=_heads),
    ComponentCase("isfm_h02_heterogeneous", "ISFM/task_head/H_02_Linear_cla_heterogeneous_batch",
                  "isfm/task_head/H_02_Linear_cla_heterogeneous_batch",
                  dict(output_dim=16, num_classes={"1": 3, "2": 3}),
                  dict(output_dim=16, num_classes={"1": 3, "2": 3}), (2, 5, 16), "logits",
                  "A mixed batch (systems 2 and 1), each sample through its own system's Linear.", setup=_heads),
    ComponentCase("isfm_e01_htfe", "ISFM/embedding/E_01_HTFE", "isfm/embedding/E_01_HTFE",
                  dict(patch_size_L=8, patch_size_C=2, num_patches=5, output_dim=8, f_s=1000.0),
                  dict(patch_size_L=8, patch_size_C=2, num_patches=5, output_dim=8, f_s=1000.0), (2, 32, 3), "tokens",
                  "Two channels drawn per patch from three; the reference's discarded FFT branch (fft_proj) is "
                  "left over (DEVIATIONS.md).", setup=_htfe, strict=False, leftover=[
                      "fft_proj.0.bias", "fft_proj.0.weight"]),
    ComponentCase("isfm_hse_prompt_add", "ISFM_Prompt/embedding/HSE_prompt", "isfm/embedding/HSE_prompt",
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4),
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4),
                  (2, 64, 1), "tokens", "Prompts added through prompt_proj; system 6 wraps to row 2 of 4.",
                  setup=_hse_prompt),
    ComponentCase("isfm_hse_prompt_concat", "ISFM_Prompt/embedding/HSE_prompt", "isfm/embedding/HSE_prompt",
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4,
                       prompt_combination="concat"),
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4,
                       prompt_combination="concat"), (2, 64, 1), "tokens", "Prompts appended to every token.",
                  setup=_hse_prompt),
    ComponentCase("isfm_m02_heterogeneous", "ISFM/M_02_ISFM_heterogeneous_batch", "isfm/M_02_ISFM_heterogeneous_batch",
                  dict(PROMPT, embedding="E_01_HSE", task_head="H_02_Linear_cla_heterogeneous_batch",
                       num_classes={"1": 3, "2": 3}, use_prompt=False),
                  dict(embedding="E_01_HSE", backbone="B_04_Dlinear", patch_size_L=16, patch_size_C=1, num_patches=8,
                       output_dim=16, num_classes={"1": 3, "2": 3}), (2, 64, 1), "logits",
                  "The reference cannot build (it imports the head's module, not its class): recorded with the class "
                  "bound in its place; a mixed batch (systems 2 and 1).",
                  kwargs=dict(files=[(2, 1000.0), (1, 2500.0)]), setup=_m02_heterogeneous),
    ComponentCase("isfm_e_com_pe_data", "ISFM/embedding/E_com_00_PE", "isfm/embedding/E_com_00_PE",
                  dict(PE, embed_type="data"), dict(PE, embed_type="data"), (2, 32, 2), "tokens",
                  "Informer DataEmbedding: circular 3-tap convolution of the first channel plus the position table "
                  "(persistent buffer `pe`), final_proj."),
    ComponentCase("isfm_e_com_pe_data_inverted", "ISFM/embedding/E_com_00_PE", "isfm/embedding/E_com_00_PE",
                  dict(PE, embed_type="data_inverted"), dict(PE, embed_type="data_inverted"), (2, 32, 3), "tokens",
                  "A Linear on each step's first-channel value."),
    ComponentCase("isfm_e_com_pe_patch", "ISFM/embedding/E_com_00_PE", "isfm/embedding/E_com_00_PE",
                  dict(PE, embed_type="patch", patch_len=1, patch_size_L=8, stride=4, padding=3),
                  dict(PE, embed_type="patch", patch_len=1, patch_size_L=8, stride=4, padding=3), (2, 32, 1), "tokens",
                  "Patches of patch_size_L = 8 (read because patch_len is set) every 4 samples after 3 replicated "
                  "samples: 7 tokens."),
    ComponentCase("isfm_e_com_pe_spatio_temporal", "ISFM/embedding/E_com_00_PE", "isfm/embedding/E_com_00_PE",
                  dict(PE, embed_type="spatio_temporal", input_embedding_dim=4, spatial_embedding_dim=2,
                       adaptive_embedding_dim=2),
                  dict(PE, embed_type="spatio_temporal", input_embedding_dim=4, spatial_embedding_dim=2,
                       adaptive_embedding_dim=2), (1, 4096, 1), "tokens",
                  "Value projection, node vector and per-step vectors (the reference's fixed 4096 steps), 4 + 2 + 2; "
                  "one sample (the output is 4096 steps long)."),
    ComponentCase("isfm_e_com_pe_time_feature", "ISFM/embedding/E_com_00_PE", "isfm/embedding/E_com_00_PE",
                  dict(PE, embed_type="time_feature", freq="t"), dict(PE, embed_type="time_feature", freq="t"),
                  (2, 32, 5), "tokens", "A Linear of the five minute-level time features x_mark (here x itself, so "
                  "that the recorder's liveness check, which moves x, moves x_mark).",
                  kwargs=dict(marks=5), setup=_pe_time_feature),
    ComponentCase("isfm_e01_hse_v2_attention", "ISFM_Prompt/embedding/E_01_HSE_v2", "isfm/embedding/E_01_HSE_v2",
                  dict(HSE_V2, fusion_type="attention"), dict(HSE_V2, fusion_type="attention"), (2, 64, 1), "tokens",
                  "Prompt from system ids 1, 3, domain ids 0, 4 and the sampling rates; the tokens attend to it. The "
                  "reference's forward cannot reach this path (DEVIATIONS.md): its parts, called as written.",
                  setup=_hse_v2_prompt),
    ComponentCase("isfm_e01_hse_v2_concat", "ISFM_Prompt/embedding/E_01_HSE_v2", "isfm/embedding/E_01_HSE_v2",
                  dict(HSE_V2, fusion_type="concat"), dict(HSE_V2, fusion_type="concat"), (2, 64, 1), "tokens",
                  "Concatenation fusion (as the attention case).", setup=_hse_v2_prompt),
    ComponentCase("isfm_e01_hse_v2_gating", "ISFM_Prompt/embedding/E_01_HSE_v2", "isfm/embedding/E_01_HSE_v2",
                  dict(HSE_V2, fusion_type="gating"), dict(HSE_V2, fusion_type="gating"), (2, 64, 1), "tokens",
                  "Gating fusion (as the attention case).", setup=_hse_v2_prompt),
    ComponentCase("isfm_e01_hse_v2_signal", "ISFM_Prompt/embedding/E_01_HSE_v2", "isfm/embedding/E_01_HSE_v2",
                  dict(HSE_V2), dict(HSE_V2, use_prompt=False), (2, 64, 1), "tokens",
                  "The reference's own forward without metadata (its only working path): use_prompt false; the "
                  "unused prompt encoder and fusion are left over.", setup=_hse_v2_signal, strict=False,
                  leftover=_PROMPT_KEYS),
    ComponentCase("isfm_b11_momentum_patchtst", "ISFM/backbone/B_11_MomentumEncoder",
                  "isfm/backbone/B_11_MomentumEncoder", dict(PATCHTST),
                  dict(_without(PATCHTST, "factor"), base_encoder="B_08_PatchTST", momentum=0.99), (2, 6, 16), "tokens",
                  "The query encoder, a PatchTST (its declared renames under `encoder`); the frozen momentum copy "
                  "and the base_encoder alias are left over (DEVIATIONS.md).",
                  kwargs=dict(base_encoder="B_08_PatchTST"), setup=_momentum, strict=False,
                  leftover=_leftover(("base_encoder", "momentum_encoder"), _PATCHTST_KEYS)),
    IsfmCase("isfm_m02_prompt", dict(PROMPT, num_classes={"1": 4}), (2, 64, 1), [(1, 1000.0), (1, 2500.0)],
             {"1": 4}, "classification", "M_02_ISFM_Prompt's own forward (HSE_prompt + B_04 + H_01), file ids 0, 1.",
             model="ISFM_Prompt/M_02_ISFM_Prompt"),
]


# ---------------------------------------------------------------------------------------------
# Rows of tests/reference/models.json for E_com_00_PE, E_01_HSE_v2 and B_11_MomentumEncoder.

DEMO_PATCHTST = dict(output_dim=128, num_heads=4, d_ff=256, e_layers=2, dropout=0.1, factor=5, activation="gelu")
ROWS: list[tuple[str, str, dict[str, Any], tuple[int, ...]]] = [
    ("ISFM/embedding/E_com_00_PE", "canonical: data (d 128, dropout 0.1)",
     dict(embed_type="data", output_dim=128, dropout=0.1, patch_size_C=1), (4, 1024, 1)),
    ("ISFM/embedding/E_com_00_PE", "alt: positional (d 128)",
     dict(embed_type="positional", output_dim=128, dropout=0.1, patch_size_C=1), (4, 1024, 1)),
    ("ISFM/embedding/E_com_00_PE", "alt: patch (patch_len set: patch_size_L 128, stride 64, padding 64)",
     dict(embed_type="patch", output_dim=128, dropout=0.1, patch_size_C=1, patch_len=128, patch_size_L=128, stride=64,
          padding=64), (4, 1024, 1)),
    ("ISFM/embedding/E_com_00_PE", "alt: spatio_temporal (its __main__: 32 + 0 + 32 = d 64), L=4096",
     dict(embed_type="spatio_temporal", output_dim=64, dropout=0.1, patch_size_C=1, input_embedding_dim=32,
          spatial_embedding_dim=0, adaptive_embedding_dim=32), (4, 4096, 1)),
    ("ISFM/embedding/E_com_00_PE", "alt: time_feature (freq h: x_mark [B, L, 4])",
     dict(embed_type="time_feature", output_dim=128, dropout=0.1, patch_size_C=1, freq="h"), (4, 1024, 1)),
    ("ISFM_Prompt/embedding/E_01_HSE_v2",
     "canonical (its __main__: patch 16, 64 patches, out 128, prompt 64, attention, 30/20 ids)",
     dict(patch_size_L=16, patch_size_C=1, num_patches=64, output_dim=128, prompt_dim=64, fusion_type="attention",
          max_dataset_ids=30, max_domain_ids=20), (4, 1024, 1)),
    ("ISFM_Prompt/embedding/E_01_HSE_v2", "alt: pipeline_03 multitask config (patch 64, out 256, prompt 128)",
     dict(patch_size_L=64, patch_size_C=1, num_patches=64, output_dim=256, prompt_dim=128, max_dataset_ids=50,
          max_domain_ids=50), (4, 1024, 1)),
    ("ISFM_Prompt/embedding/E_01_HSE_v2", "alt: concat (patch 16, 64 patches, out 128, prompt 64)",
     dict(patch_size_L=16, patch_size_C=1, num_patches=64, output_dim=128, prompt_dim=64, fusion_type="concat"),
     (4, 1024, 1)),
    ("ISFM_Prompt/embedding/E_01_HSE_v2", "alt: gating (patch 16, 64 patches, out 128, prompt 64)",
     dict(patch_size_L=16, patch_size_C=1, num_patches=64, output_dim=128, prompt_dim=64, fusion_type="gating"),
     (4, 1024, 1)),
    ("ISFM/backbone/B_11_MomentumEncoder", "canonical (base_encoder B_04_Dlinear: demo 32 patches, d 128)",
     dict(base_encoder="B_04_Dlinear", momentum=0.999, num_patches=32, output_dim=128), (4, 32, 128)),
    ("ISFM/backbone/B_11_MomentumEncoder", "alt: base_encoder B_08_PatchTST (demo: d 128, 4 heads, d_ff 256, 2 layers)",
     dict(DEMO_PATCHTST, base_encoder="B_08_PatchTST", momentum=0.999), (4, 32, 128)),
]
"""(reference class, variant, config, input shape). E_01_HSE_v2 runs with metadata (the reference falls back to
the signal path); B_11_MomentumEncoder wraps the named backbone built from the same config."""


def measure(ref_dir: str) -> list[dict[str, Any]]:
    """Build and run each row's reference component (eval mode, no_grad): count, output shape, state_dict."""
    from argparse import Namespace

    import torch

    from scripts import reference

    out = []
    for name, variant, args, shape in ROWS:
        torch.manual_seed(0)
        cls = reference.load_reference_class(ref_dir, name)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        batch = shape[0]
        inputs: dict[str, Any] = {"x": list(shape)}
        config = {k: v for k, v in args.items() if k != "base_encoder"}
        if name.endswith("B_11_MomentumEncoder"):
            base = reference.load_reference_class(ref_dir, f"ISFM/backbone/{args['base_encoder']}")(Namespace(**config))
            model = cls({"base_encoder": base, "momentum": args["momentum"]}).eval()
            build = "B_11_MomentumEncoder({'base_encoder': <base_encoder>(Namespace(cfg)), 'momentum': momentum})"

            def forward(model: Any = model, x: Any = x) -> Any:
                return model(x)
        else:
            model = cls(Namespace(**config)).eval()
            build = "component class(Namespace(cfg))"
            if name.endswith("E_01_HSE_v2"):
                fs = torch.full((batch,), 1000.0)
                meta = {"Dataset_id": torch.ones(batch, dtype=torch.int64),
                        "Domain_id": torch.zeros(batch, dtype=torch.int64), "Sample_rate": fs}
                inputs.update(fs="tensor[B]", system_id=[1] * batch, domain_id=[0] * batch)

                def forward(model: Any = model, x: Any = x, fs: Any = fs, meta: Any = meta) -> Any:
                    return model(x, fs, meta)
            elif args.get("embed_type") == "time_feature":
                marks = torch.randn(batch, shape[1], 4)
                inputs["x_mark"] = [batch, shape[1], 4]

                def forward(model: Any = model, x: Any = x, marks: Any = marks) -> Any:
                    return model(x, marks)
            else:
                def forward(model: Any = model, x: Any = x) -> Any:
                    return model(x)
        with torch.no_grad(), reference.workarounds(ref_dir):
            y = forward()
        params = list({id(p): p for p in model.parameters()}.values())
        keys = list(model.state_dict())
        out.append({
            "model": name.split("/")[-1], "family": "ISFM-component", "variant": variant, "status": "ok",
            "config_args": dict(args), "build_path": build, "inputs": inputs, "output_shape": list(y.shape),
            "param_count": sum(p.numel() for p in params),
            "trainable_param_count": sum(p.numel() for p in params if p.requires_grad), "mode": "eval",
            "state_dict_top_prefixes": list(dict.fromkeys(k.split(".")[0] for k in keys)),
            "state_dict_n_keys": len(keys),
            "measurement": {"torch": torch.__version__, "python": platform.python_version(),
                            "reference_commit": reference.reference_commit(ref_dir) or reference.REFERENCE_COMMIT,
                            "batch": batch, "script": "scripts/reference_cases_isfm.py --measure",
                            "note": "parameter count, output shape and state_dict layout only (no timing)"},
        })
        print(f"{name:40} {variant[:56]:56} {out[-1]['param_count']:>10,} {tuple(y.shape)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=os.path.join(ROOT, ".reference", "PHM-Vibench"))
    parser.add_argument("--measure", action="store_true",
                        help="measure ROWS and replace these components' rows of tests/reference/models.json")
    args = parser.parse_args(argv)
    if not args.measure:
        parser.error("nothing to do (record values with scripts/record_reference_values.py)")
    from scripts import reference

    try:  # before anything is built (a FileNotFoundError traceback)
        print(reference.check_checkout(args.reference))
    except FileNotFoundError as err:
        parser.error(f"--reference: {err}")
    rows = measure(args.reference)
    path = os.path.join(ROOT, "tests", "reference", "models.json")
    with open(path, encoding="utf-8") as fh:
        existing = json.load(fh)
    mine = {name.split("/")[-1] for name, *_ in ROWS}
    kept = [r for r in existing if r["model"] not in mine]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(kept + rows, fh, indent=1, ensure_ascii=False)
    print(f"{len(rows)} rows written to {path}")
    return 0




class _Inert(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert(name, (), {})


class _InertModule(types.ModuleType):
    __version__ = "10.0.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Inert(name, (), {})
        setattr(self, name, value)
        return value


class _InertLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _InertModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []


class _InertFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in ("torchvision", "PIL"):
            return importlib.machinery.ModuleSpec(fullname, _InertLoader(), is_package=True)
        return None


def torchvision_stand_in(timm_dir: str | None) -> None:
    """Put ``timm_dir`` on sys.path and give torchvision / PIL inert stand-ins (what timm imports, B_10 never uses)."""
    if timm_dir and timm_dir not in sys.path:
        sys.path.insert(0, timm_dir)
    if not any(isinstance(f, _InertFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _InertFinder())


if __name__ == "__main__":
    sys.exit(main())
