"""ISFM library III: B_10_VIBT, H_02_Linear_cla_heterogeneous_batch, H_04_VIB_pred, H_05_RUL_pred,
H_06_Anomaly_det, H_10_ProjectionHead, E_01_HTFE, HSE_prompt and the prompt-guided composite M_02_ISFM_Prompt.

Components compile as `extends: isfm/<slot>/<Name>` with the parameters the template declares (taken from
the row's config); M_02_ISFM_Prompt as the PHM-Vibench experiment (`type: ISFM_Prompt`). Runtime arguments
of the reference become inputs: ``fs`` [B], ``system_id`` / ``dataset_ids`` [B] (the harness feeds ones),
H_04's patcher length L -> ``target`` [B, L, C]; B_10_VIBT's condition ``c = None`` is its only mode.
"""

from __future__ import annotations

from typing import Any

MODELS = (
    "B_10_VIBT",
    "H_02_Linear_cla_heterogeneous_batch",
    "H_04_VIB_pred",
    "H_05_RUL_pred",
    "H_06_Anomaly_det",
    "H_10_ProjectionHead",
    "E_01_HTFE",
    "HSE_prompt",
    "M_02_ISFM_Prompt",
)

_SLOTS = {"B_10_VIBT": "backbone", "E_01_HTFE": "embedding", "HSE_prompt": "embedding"}

OVERRIDES = {
    "E_01_HTFE: canonical (patch 128x1, 32 patches, out 128, f_s 12000)": {
        "params": 2_130_816 - (2 * 128 + 1) * 128 - 128,
        "n_keys": 4,
        "prefixes": {"proj_in", "mixer"},
        "why": "the reference's FFT branch `fft_proj` is computed and discarded; vibench does not build it "
        "(DEVIATIONS.md)",
    },
    "H_10_ProjectionHead: canonical (input 256, hidden 256, out 128, LayerNorm)": {
        "prefixes": {"projection", "norm"},
        "why": "the LayerNorm is the node `norm` (the reference's `projection.3`, a declared rename)",
    },
}


def template(row: dict[str, Any]) -> str:
    model = row["model"]
    if model == "M_02_ISFM_Prompt":
        return "isfm/M_02_ISFM_Prompt"
    return f"isfm/{_SLOTS.get(model, 'task_head')}/{model}"


def config(row: dict[str, Any]) -> dict[str, Any]:
    params = dict(row["config_args"])
    if row["model"] == "H_10_ProjectionHead":
        params["input_features"] = params.pop("input_dim")
    return params


def inputs(row: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
    x = tuple(row["inputs"]["x"])
    batch = x[0]
    feed = {"x": (x, "float32")}
    model = row["model"]
    if model in ("HSE_prompt", "M_02_ISFM_Prompt"):
        feed["fs"] = ((batch,), "float32")
        if model == "M_02_ISFM_Prompt" or row["config_args"].get("use_prompt", True):
            feed["system_id"] = ((batch,), "int64")
    if model in ("H_02_Linear_cla_heterogeneous_batch", "H_04_VIB_pred"):
        feed["system_id"] = ((batch,), "int64")
    if model == "H_04_VIB_pred":
        feed["target"] = ((batch, row["inputs"]["L"], 1), "float32")
    return feed
