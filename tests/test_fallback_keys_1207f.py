"""W104 for a key fallback's unread key, and its hint's vibench extensions (QA of 1207f).

What was wrong: a value read only as the declared default of another parameter that was also given had no effect
and no warning: B_09_FNO's `width: {default: d_model}` (PHM-Vibench: `getattr(args, "width", getattr(args,
"d_model", 256))`) took `width`, and `d_model: 999` beside it changed nothing, silently, both for the template
compiled with `--set` and through M_01_ISFM's `inherit: true` in a PHM-Vibench config. And W104's hint for
`input_dim` under M_01_ISFM named E_02_HSE_v2 and H_04_VIB_pred as readers, though PHM-Vibench's do not read it.

What is right now: W104 says the key is read only as the default of the key that is set; the fallback read when
the other key is not set stays silent; the hint marks the components whose PHM-Vibench reference does not read
the key (I106's knowledge).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import yaml

import vibench
from vibench.compiler.diagnostics import Diagnostic

FNO = {"name": "M_01_ISFM", "type": "ISFM", "embedding": "E_01_HSE", "backbone": "B_09_FNO",
       "task_head": "H_01_Linear_cla", "num_patches": 8, "patch_size_L": 8, "patch_size_C": 1, "output_dim": 8,
       "num_classes": 4, "num_layers": 1}


def _w104(spec: str, **kwargs: object) -> list[Diagnostic]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = vibench.check(spec, **kwargs).warnings  # type: ignore[arg-type]
    return [w for w in found if w.code == "W104"]


def _config(tmp_path: Path, **model: object) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({"model": {**FNO, **model}}, sort_keys=False), encoding="utf-8")
    return str(path)


def test_fallback_key_beside_its_key_in_a_config_is_w104(tmp_path: Path) -> None:
    found = _w104(_config(tmp_path, modes=4, num_modes=3, width=8, d_model=999))
    messages = {w.message.split("`")[1]: w for w in found}
    assert set(messages) == {"num_modes", "d_model"}
    d_model = messages["d_model"]
    assert "B_09_FNO reads it only as the default of `width`, which is set" in d_model.message
    assert d_model.pos is not None and d_model.pos.file.endswith("experiment.yaml")
    assert "remove `d_model`, or remove `width`" in (d_model.hint or "")


def test_fallback_key_alone_is_read(tmp_path: Path) -> None:
    assert _w104(_config(tmp_path, num_modes=3, d_model=16)) == []


def test_fallback_key_beside_its_key_with_set_is_w104() -> None:
    [w104] = _w104("isfm/backbone/B_09_FNO", params={"width": 8, "d_model": 999, "num_layers": 1})
    assert w104.message == ("`d_model` (given in Python) has no effect here: it is read only as the default of "
                            "`width`, which is set")
    assert w104.found is None
    assert _w104("isfm/backbone/B_09_FNO", params={"modes": 2, "d_model": 16, "num_layers": 1}) == []


def test_input_dim_hint_marks_vibench_extensions(tmp_path: Path) -> None:
    found = _w104(_config(tmp_path, input_dim=2, modes=4))
    [hint] = [w.hint for w in found if w.message.startswith("`input_dim`")]
    assert hint is not None
    assert "E_02_HSE_v2 (a vibench extension)" in hint and "H_04_VIB_pred (a vibench extension)" in hint
    assert "E_03_Patch," in hint and "E_03_Patch (" not in hint
