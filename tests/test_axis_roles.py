"""Axis roles (W107): an input's `layout:` names its time and channel axes; a block that reads its
channels from the time axis, or a recurrent block that steps over channels, is a located warning."""

from __future__ import annotations

import pytest

import vibench
from tests.conftest import spec_text

LSTM = spec_text("""
    vibench: 1
    name: Recurrent
    params: {layout: {type: str, default: BCL, choices: [BLC, BCL]}}
    inputs:
      x: {shape: [B, 128, 4], layout: layout}   # 128 steps of 4 channels
    nodes:
      lstm: {block: lstm, in: x, hidden_size: 16}
      head: {block: linear, in: lstm.out, out_features: 3}
    outputs: {y: head}
""")


def _w107(text: str, **params: object) -> list:
    return [d for d in vibench.check(text=text, params=params or None).warnings if d.code == "W107"]


def _line(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def test_an_lstm_fed_channels_first_is_warned_about_at_its_node() -> None:
    (d,) = _w107(LSTM)  # [B, 4, 128]: the shapes fit (128 "features", 4 "steps"), the axes do not
    assert d.severity == "warning" and d.node == "lstm" and d.pos.line == _line(LSTM, "lstm: {")
    assert "features" in d.message and "time axis" in d.message and "transpose" in (d.hint or "")


def test_the_same_model_fed_channels_last_or_adapted_is_not() -> None:
    assert _w107(LSTM, layout="BLC") == []
    assert _w107(LSTM.replace("layout: layout}", "layout: layout, as: BLC}")) == []


def test_a_conv_reading_channels_from_time_is_warned_about_inside_a_composite() -> None:
    text = spec_text("""
        vibench: 1
        name: Convs
        inputs:
          x: {shape: [B, 256, 8], layout: BLC}
        blocks:
          Stem:
            inputs: {x: {shape: [B, C, L]}}
            nodes:
              conv: {block: conv1d, in: x, out_channels: 8, kernel_size: 3}
              act: {block: relu, in: conv}
            outputs: {y: act}
        nodes:
          stem: {block: Stem, in: x}
          fixed: {block: transpose, in: x, dim0: 1, dim1: 2}
          good: {block: Stem, in: fixed}
        outputs: {y: stem, z: good}
    """)
    (d,) = _w107(text)
    assert d.node == "conv" and d.pos.line == _line(text, "conv: {") and "channels (dimension 1)" in d.message


def test_inputs_without_a_layout_have_no_roles() -> None:
    assert _w107(LSTM.replace(", layout: layout}", "}")) == []


def test_linear_maps_across_time_are_a_design_not_a_mistake() -> None:
    text = LSTM.replace("lstm: {block: lstm, in: x, hidden_size: 16}", "lstm: {block: linear, in: x, out_features: 16}")
    text = text.replace("in: lstm.out", "in: lstm")
    assert _w107(text) == []


@pytest.mark.parametrize("layout", ["BLC", "BCL"])
def test_no_library_template_is_warned_about(layout: str) -> None:
    from tests.golden_cases import _library_specs

    for spec in _library_specs():
        name = spec.rsplit(".", 1)[0]
        try:
            program = vibench.check(name, params={"layout": layout})
        except vibench.SpecError:
            continue  # the template has no `layout` parameter
        assert [d for d in program.warnings if d.code == "W107"] == [], name
