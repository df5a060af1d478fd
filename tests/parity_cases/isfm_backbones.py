"""ISFM backbones (`vibench/specs/isfm/backbone/`): the reference's component rows, built alone.

Every ok row compiles as `extends: isfm/backbone/<Name>` with the parameters the template declares,
taken from the row's flat config, on the row's token input. The one row that needs more than its
config: B_04_Dlinear's ``individual=True`` was a constructor argument of the reference (no config key
reaches it), so it is passed as the template parameter ``individual``. B_05_Mamba has no ok row (the
reference's scan crashes); its rows are checked in tests/test_family_isfm_backbones.py.
"""

from __future__ import annotations

from typing import Any

MODELS = (
    "B_01_basic_transformer",
    "B_03_FITS",
    "B_04_Dlinear",
    "B_05_Mamba",
    "B_06_TimesNet",
    "B_07_TSMixer",
    "B_08_PatchTST",
    "B_09_FNO",
)

_CONSTRUCTOR_ONLY = {"B_04_Dlinear: alt: individual=True (constructor kwarg only)": {"individual": True}}


def template(row: dict[str, Any]) -> str:
    return f"isfm/backbone/{row['model']}"


def config(row: dict[str, Any]) -> dict[str, Any]:
    return {**row["config_args"], **_CONSTRUCTOR_ONLY.get(f"{row['model']}: {row['variant']}", {})}


def inputs(row: dict[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
    return {"x": (tuple(row["inputs"]["x"]), "float32")}
