"""Slots of a component inside a slot (12-07f QA): B_11_MomentumEncoder's `base_encoder` (a backbone of
isfm/backbone) and H_09_multiple_task's sub-heads, set on M_01_ISFM, which passes them on (`inherit: true`).

1. E214 was said only of the model's own slots and of a component compiled itself: through M_01_ISFM,
   `base_encoder` took any spec as a path (`../task_head/H_10_ProjectionHead` built a head as the backbone, then
   E301; a spec outside isfm/backbone compiled), and `NoSuch` was E205 "unknown spec isfm/backbone/NoSuch",
   which a PHM-Vibench config showed at its `backbone:` line. Now each is E214 where the value was set, listing
   the folder's components, as when B_11_MomentumEncoder is compiled itself.
2. W104 was silent for a value that such a component takes (it declares every parameter of its slot folder)
   and passes on to a chosen component that does not read it: `e_layers` beside B_11_MomentumEncoder, whose
   B_04_Dlinear reads none, or `rul_max_value` beside H_09_multiple_task. Now it is W104 at the key, naming the
   components built inside (`B_11_MomentumEncoder (its B_04_Dlinear)`); a value one of them reads is silent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.spec_files import LIBRARY_DIR

SIZES = {"patch_size_L": 16, "num_patches": 8, "output_dim": 16}


def _spec(tmp_path: Path, extends: str, values: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(f"vibench: 1\nextends: {extends}\nwith: {json.dumps(values)}\n", encoding="utf-8")
    return path


def _error(path: Path, **params: object) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path), params=params or None)
    return err.value


def _column(path: Path, line: int, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines()[line - 1].index(text) + 1


@pytest.mark.parametrize("value", ["../task_head/H_10_ProjectionHead", "../../cnn/ResNet1D", "NoSuch"])
def test_a_nested_slot_value_its_folder_lacks_is_e214_as_when_compiled_itself(tmp_path: Path, value: str) -> None:
    path = _spec(tmp_path, "isfm/M_01_ISFM", {"backbone": "B_11_MomentumEncoder", "base_encoder": value, **SIZES})
    (d,) = _error(path).diagnostics
    assert d.code == "E214" and d.pos is not None
    assert (d.pos.file, d.pos.line, d.pos.col) == (str(path), 3, _column(path, 3, json.dumps(value)))
    alone = tmp_path / "alone"
    alone.mkdir()
    (direct,) = _error(_spec(alone, "isfm/backbone/B_11_MomentumEncoder", {"base_encoder": value})).diagnostics
    assert (d.message, d.expected, d.hint) == (direct.message, direct.expected, direct.hint)
    assert "`B_04_Dlinear`" in d.expected


def test_a_spec_outside_the_slot_folder_fills_no_nested_slot(tmp_path: Path) -> None:
    (tmp_path / "mybb.yaml").write_text(
        "vibench: 1\nname: mybb\ninputs: {x: {shape: [B, P, D]}}\nnodes:\n  act: {block: gelu, in: x}\n"
        "outputs: {tokens: act}\n", encoding="utf-8")
    value = os.path.relpath(tmp_path / "mybb", os.path.join(LIBRARY_DIR, "isfm", "backbone"))
    path = _spec(tmp_path, "isfm/M_01_ISFM", {"backbone": "B_11_MomentumEncoder", "base_encoder": value, **SIZES})
    (d,) = _error(path).diagnostics  # it compiled, the spec beside the user's as the backbone
    assert d.code == "E214" and "slot `base_encoder`" in d.message and (d.pos.file, d.pos.line) == (str(path), 3)


def test_a_phm_config_gets_e214_at_its_base_encoder_line(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n  type: ISFM\n  name: M_01_ISFM\n  embedding: E_01_HSE\n"
                      "  backbone: B_11_MomentumEncoder\n  base_encoder: ../../x\n  task_head: H_01_Linear_cla\n"
                      "  patch_size_L: 16\n  num_patches: 8\n  output_dim: 16\n", encoding="utf-8")
    (d,) = _error(config).diagnostics
    assert d.code == "E214" and (d.pos.file, d.pos.line) == (str(config), 6)  # not E205 at `backbone:` (line 5)


def test_a_nested_slot_value_given_in_python_is_said_so() -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check("isfm/M_01_ISFM", params={"backbone": "B_11_MomentumEncoder", "base_encoder": "NoSuch"})
    (d,) = err.value.diagnostics
    assert d.code == "E214" and any("given in Python" in note for note in d.notes)


def _unread(path: Path) -> dict[str, Diagnostic]:
    return {w.message.split("`")[1]: w for w in vibench.check(str(path)).warnings if w.code == "W104"}


def test_values_a_wrapped_backbone_does_not_read_are_w104(tmp_path: Path) -> None:
    path = _spec(tmp_path, "isfm/M_01_ISFM", {"backbone": "B_11_MomentumEncoder", "e_layers": 5, "top_k": 3,
                                              **SIZES})
    unread = _unread(path)
    assert set(unread) == {"e_layers", "top_k"}
    for key, w in unread.items():
        assert w.message == f"`{key}` has no effect here: no component of this M_01_ISFM reads it"
        assert (w.pos.line, w.pos.col) == (3, _column(path, 3, f'"{key}": ') + len(f'"{key}": '))
        assert w.found == "the components here: E_01_HSE, B_11_MomentumEncoder (its B_04_Dlinear), H_01_Linear_cla"
    assert unread["top_k"].hint == "it is read by B_06_TimesNet (a vibench extension); remove it, or pick one of them"


@pytest.mark.parametrize("values", [{"backbone": "B_11_MomentumEncoder", "base_encoder": "B_06_TimesNet"},
                                    {"ensemble_backbones": ["B_11_MomentumEncoder", "B_06_TimesNet"]}])
def test_values_a_backbone_inside_reads_are_silent(tmp_path: Path, values: dict) -> None:
    assert _unread(_spec(tmp_path, "isfm/M_01_ISFM", {**values, "e_layers": 2, "top_k": 2, **SIZES})) == {}


def test_a_value_the_sub_heads_of_h09_do_not_read_is_w104(tmp_path: Path) -> None:
    path = _spec(tmp_path, "isfm/M_01_ISFM", {"task_head": "H_09_multiple_task", "rul_max_value": 3.0, **SIZES})
    (w,) = _unread(path).values()
    assert w.message == "`rul_max_value` has no effect here: no component of this M_01_ISFM reads it"
    assert "H_09_multiple_task (its H_01_Linear_cla, H_03_Linear_pred)" in w.found
    assert _unread(_spec(tmp_path, "isfm/M_01_ISFM", {"task_head": "H_05_RUL_pred", "rul_max_value": 3.0,
                                                      **SIZES})) == {}


def test_a_value_no_chosen_component_declares_says_what_it_said(tmp_path: Path) -> None:
    (w,) = _unread(_spec(tmp_path, "isfm/M_01_ISFM", {"backbone": "B_04_Dlinear", "top_k": 3, **SIZES})).values()
    assert w.message == "`top_k` has no effect here: no component of this M_01_ISFM reads it"
    assert w.found == "the components here: E_01_HSE, B_04_Dlinear, H_01_Linear_cla"
    assert w.hint == "it is read by B_06_TimesNet (a vibench extension); remove it, or pick one of them"
