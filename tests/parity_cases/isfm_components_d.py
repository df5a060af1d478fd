"""ISFM embeddings and task heads (`vibench/specs/isfm/embedding/`, `vibench/specs/isfm/task_head/`).

Every ok row compiles as `extends: isfm/<embedding|task_head>/<Name>` with the parameters the
template declares, taken from the row's flat config. Runtime arguments of the reference become
inputs or compile-time parameters:

* ``fs`` / ``sample_f`` (sampling frequency) -> input ``fs`` [B] float32;
* ``system_id`` / ``system_ids`` -> input ``system_id`` [B] int64 (the harness feeds ones: system 1);
* ``shape=(L, C)`` of the prediction heads -> input ``target`` [B, L, C] (only its shape is read);
* ``task_id`` -> the compile-time parameter ``task_id``, left at "all" here so the module holds every
  sub-head, as the reference's does (same parameter count); the first output is then compared.
* E_03_Patch's (B, C, L) row -> ``layout: BCL`` (the reference guessed the layout from the sizes).
"""

from __future__ import annotations

from typing import Any

MODELS = (
    "E_01_HSE",
    "E_02_HSE_v2",
    "E_03_Patch",
    "H_01_Linear_cla",
    "H_02_distance_cla",
    "H_03_Linear_pred",
    "H_09_multiple_task",
    "MultiTaskHead",
)

_EMBEDDINGS = ("E_01_HSE", "E_02_HSE_v2", "E_03_Patch")

OVERRIDES = {
    "E_02_HSE_v2: alt: c_dim=2 (=C+1, sidesteps empty_like bug), float fs": {
        "output_shape": (4, 128, 64),
        "why": "the reference returns (tokens, None); the template returns the tokens (its flow condition is "
        "always None)",
    },
    'H_01_Linear_cla: alt: two systems {"1":10,"2":4}, mixed batch ids [2,1,1,1]': {
        "output_shape": (4, 10),
        "why": "each sample uses its own system's head, so the logits are as wide as the widest system (10; "
        "system 2's missing classes are -inf); the reference sent the batch through the first sample's "
        "4-class head",
    },
    "H_09_multiple_task: canonical config, prediction": {
        "output_shape": (4, 10),
        "why": "task_id 'all' holds both sub-heads (the reference's parameter count) and returns logits first; "
        "the prediction output `signal` is [4, 1024, 1] (tests/test_family_isfm_components_d.py)",
    },
    "MultiTaskHead: same, task=all with original_x tokens, shape=(1024,1)": {
        "output_shape": (4, 10),
        "why": "the reference returns a dict; the harness compares the first output (classification); all four "
        "shapes are checked in tests/test_family_isfm_components_d.py",
    },
}


def template(row: dict[str, Any]) -> str:
    folder = "embedding" if row["model"] in _EMBEDDINGS else "task_head"
    return f"isfm/{folder}/{row['model']}"


def config(row: dict[str, Any]) -> dict[str, Any]:
    params = dict(row["config_args"])
    x = row["inputs"]["x"]
    if row["model"] == "E_03_Patch" and x[1] <= params.get("input_dim", 1) < x[2]:
        params["layout"] = "BCL"
    return params


def inputs(row: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
    x = tuple(row["inputs"]["x"])
    batch = x[0]
    feed = {"x": (x, "float32")}
    model = row["model"]
    if model in ("E_01_HSE", "E_02_HSE_v2"):
        feed["fs"] = ((batch,), "float32")
    if model == "E_02_HSE_v2" or model.startswith(("H_01", "H_02", "H_09", "MultiTask")):
        feed["system_id"] = ((batch,), "int64")
    if model.startswith(("H_03", "H_09", "MultiTask")):
        length, channels = row["inputs"].get("shape", (1024, 1))
        feed["target"] = ((batch, length, channels), "float32")
    return feed
