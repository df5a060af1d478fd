"""Block parameters are checked exactly like template parameters: no bool for an int, no string for a
number or a bool, no float for an int (E112 with the value and the type); a list is a tuple."""

from __future__ import annotations

import pytest

import vibench

NODE = ("vibench: 1\nname: M\ninputs: {{x: {{shape: [B, 4, L]}}}}\nnodes:\n"
        "  n: {{block: conv1d, in: x, {params}}}\noutputs: {{y: n}}\n")


@pytest.mark.parametrize(("params", "field", "found"), [
    ("out_channels: 8, kernel_size: true", "kernel_size", "True"),
    ("out_channels: true, kernel_size: 3", "out_channels", "True"),
    ("out_channels: 8, kernel_size: 3, stride: '2'", "stride", "'2'"),
    ("out_channels: 8, kernel_size: 3.0", "kernel_size", "3.0"),
    ("out_channels: 8, kernel_size: 3, bias: 'no'", "bias", "'no'"),
    ("out_channels: 8, kernel_size: 3, bias: 1", "bias", "1"),
])
def test_a_block_parameter_of_the_wrong_type_is_e112(params: str, field: str, found: str) -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=NODE.format(params=params))
    (d,) = err.value.diagnostics
    assert d.code == "E112" and f"`{field}`" in d.message
    assert d.found == found and d.pos is not None and d.pos.line == 5


def test_an_expression_giving_the_wrong_type_is_e112_too() -> None:
    text = "vibench: 1\nname: M\nparams: {k: true}\ninputs: {x: {shape: [B, 4, L]}}\n" \
           "nodes:\n  n: {block: conv1d, in: x, out_channels: 8, kernel_size: '${k}'}\noutputs: {y: n}\n"
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    assert [d.code for d in err.value.diagnostics] == ["E112"]


def test_an_int_is_a_float_and_a_list_is_a_tuple() -> None:
    program = vibench.check(text="vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
                                 "  d: {block: dropout, in: x, p: 0}\n"
                                 "  r: {block: reshape, in: d, shape: [0, 2, -1]}\noutputs: {y: r}\n")
    assert program.root.node("d").copies[0].params.p == 0.0
    assert program.root.node("r").copies[0].params.shape == (0, 2, -1)


@pytest.mark.parametrize(("layers", "code", "found"), [
    ("[3, 0, 1]", "E104", "0 (item 1 of [3, 0, 1])"),  # a zero-wide Linear (and BatchNorm1d(0) fails in forward)
    ("[3, true, 1]", "E112", "True (item 1 of [3, True, 1])"),
])
def test_an_item_of_a_list_parameter_is_named(layers: str, code: str, found: str) -> None:
    text = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
            f"  m: {{block: isfm_mlp, in: x, layers: {layers}, batch_norm: true}}\noutputs: {{y: m}}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (d,) = err.value.diagnostics
    assert (d.code, d.found) == (code, found) and "`layers`" in d.message
