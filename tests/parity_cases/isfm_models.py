"""ISFM composites (`vibench/specs/isfm/M_0*_ISFM.yaml`): the reference's model rows.

Every ok row compiles as the PHM-Vibench experiment a user would write (`model: {type: ISFM, name:
M_01_ISFM, ...}` with the row's flat config), so keys the template does not take are reported as
warnings, never dropped silently. The reference's forward arguments become inputs or compile-time
parameters:

* ``file_id`` (a metadata lookup of the sampling rate and system id) -> inputs ``fs`` [B] float32,
  taken when the embedding reads time stamps, and ``system_id`` [B] int64, taken when a head routes
  by system (the harness feeds ones: the demo metadata's system 1, with 10 classes);
* ``task_id`` -> the compile-time parameter ``task_id``, left unset for H_09_multiple_task so the
  head holds both sub-heads, as the reference's does (same parameter count).
"""

from __future__ import annotations

from typing import Any

MODELS = ("M_01_ISFM", "M_02_ISFM", "M_03_ISFM")

OVERRIDES = {
    f"M_01_ISFM: paper CDDG config ({backbone}, H_09 multi-task) task=prediction": {
        "output_shape": (4, 10),
        "why": "H_09 holds both sub-heads (the reference's parameter count) and returns `logits` first; the "
        "`signal` output [4, 1024, 1] is checked in tests/test_isfm_models.py",
    }
    for backbone in ("B_04_Dlinear", "B_06_TimesNet", "B_08_PatchTST", "B_09_FNO")
}


def template(row: dict[str, Any]) -> str:
    return f"isfm/{row['model']}"


def config(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row["config_args"].items() if k not in ("name", "type")}


def inputs(row: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
    x = tuple(row["inputs"]["x"])
    batch = x[0]
    cfg = row["config_args"]
    feed = {"x": (x, "float32")}
    if cfg.get("embedding") in ("E_01_HSE", "E_02_HSE_v2"):
        feed["fs"] = ((batch,), "float32")
    if cfg.get("task_head") != "H_03_Linear_pred":
        feed["system_id"] = ((batch,), "int64")
    return feed
