"""ISFM library III: B_10_VIBT, B_11_MomentumEncoder, H_02_Linear_cla_heterogeneous_batch, H_04_VIB_pred,
H_05_RUL_pred, H_06_Anomaly_det, H_10_ProjectionHead, E_01_HTFE, E_com_00_PE, HSE_prompt, E_01_HSE_v2 (ISFM_Prompt)
and the prompt-guided composite M_02_ISFM_Prompt.

Components compile as `extends: isfm/<slot>/<Name>` with the parameters the template declares (taken from
the row's config); M_02_ISFM_Prompt as the PHM-Vibench experiment (`type: ISFM_Prompt`). Runtime arguments
of the reference become inputs: ``fs`` [B], ``system_id`` / ``dataset_ids`` [B] (the harness feeds ones),
H_04's patcher length L -> ``target`` [B, L, C]; B_10_VIBT's condition ``c = None`` is its only mode;
E_com_00_PE's ``x_mark`` [B, L, k]; E_01_HSE_v2's metadata -> ``fs``, ``system_id``, ``domain_id``.
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
    "E_com_00_PE",
    "E_01_HSE_v2",
    "B_11_MomentumEncoder",
)

_SLOTS = {"B_10_VIBT": "backbone", "B_11_MomentumEncoder": "backbone", "E_01_HTFE": "embedding",
          "E_com_00_PE": "embedding", "E_01_HSE_v2": "embedding", "HSE_prompt": "embedding"}
_MOMENTUM = ("the reference also holds a frozen momentum copy (momentum_encoder, run only by forward(x, "
             "use_momentum=True)) and the encoder twice (base_encoder, encoder); vibench builds the encoder once "
             "(DEVIATIONS.md)")

OVERRIDES = {
    "E_01_HTFE: canonical (patch 128x1, 32 patches, out 128, f_s 12000)": {
        "params": 2_130_816 - (2 * 128 + 1) * 128 - 128,
        "n_keys": 4,
        "prefixes": {"proj_in", "mixer"},
        "why": "the reference's FFT branch `fft_proj` is computed and discarded; vibench does not build it "
        "(DEVIATIONS.md)",
    },
}


for _variant, _params, _keys, _prefixes in (
    ("canonical (base_encoder B_04_Dlinear: demo 32 patches, d 128)", 2_112, 4, {"encoder"}),
    ("alt: base_encoder B_08_PatchTST (demo: d 128, 4 heads, d_ff 256, 2 layers)", 265_216, 37, {"encoder"}),
):
    OVERRIDES[f"B_11_MomentumEncoder: {_variant}"] = {"params": _params, "n_keys": _keys, "prefixes": _prefixes,
                                                      "why": _MOMENTUM}


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
    if model == "E_01_HSE_v2":
        feed["fs"] = ((batch,), "float32")
        feed["system_id"] = ((batch,), "int64")
        feed["domain_id"] = ((batch,), "int64")
    if "x_mark" in row["inputs"]:
        feed["x_mark"] = (tuple(row["inputs"]["x_mark"]), "float32")
    if model in ("HSE_prompt", "M_02_ISFM_Prompt"):
        feed["fs"] = ((batch,), "float32")
        if model == "M_02_ISFM_Prompt" or row["config_args"].get("use_prompt", True):
            feed["system_id"] = ((batch,), "int64")
    if model in ("H_02_Linear_cla_heterogeneous_batch", "H_04_VIB_pred"):
        feed["system_id"] = ((batch,), "int64")
    if model == "H_04_VIB_pred":
        feed["target"] = ((batch, row["inputs"]["L"], 1), "float32")
    return feed
