"""`as:` on inputs and outputs (docs/language.md#inputs-when-layout-and-as): the nodes read one axis
order whatever `layout` the caller passes; the compiler adds the transpose."""

from __future__ import annotations

import re

import pytest

import vibench
from tests.conftest import spec_text

ADAPTED = spec_text("""
    vibench: 1
    name: Conv
    params:
      input_dim: 3
      layout: {type: str, default: BLC, choices: [BLC, BCL]}
    inputs:
      x: {shape: [B, L, input_dim], layout: layout, as: BCL}
    nodes:
      conv: {block: conv1d, in: x, out_channels: 5, kernel_size: 3, padding: 1}
    outputs:
      y: {from: conv, layout: layout, as: BCL}
""")

BY_HAND = spec_text("""
    vibench: 1
    name: Conv
    params:
      input_dim: 3
      layout: {type: str, default: BLC, choices: [BLC, BCL]}
    inputs:
      x: {shape: [B, L, input_dim], layout: layout}
    nodes:
      x_bcl: {block: transpose, in: x, dim0: 1, dim1: 2, when: "${layout != 'BCL'}"}
      conv: {block: conv1d, in: x_bcl, out_channels: 5, kernel_size: 3, padding: 1}
      y_bcl: {block: transpose, in: conv, dim0: 1, dim1: 2, when: "${layout != 'BCL'}"}
    outputs:
      y: y_bcl
""")


def _code(source: str) -> str:
    body = source.split("\n", 2)[2]  # without the header naming the spec's hash
    return re.sub(r"<string>:\d+", "<string>:N", body)


@pytest.mark.parametrize("layout", ["BLC", "BCL"])
def test_as_gives_the_code_of_the_hand_written_switch(layout: str) -> None:
    adapted = vibench.compile_spec(text=ADAPTED, params={"layout": layout})
    by_hand = vibench.compile_spec(text=BY_HAND, params={"layout": layout})
    assert _code(adapted.source) == _code(by_hand.source)
    root = adapted.program.root
    expected = ["x_bcl", "conv", "y"] if layout == "BLC" else ["conv"]
    assert [n.name for n in root.nodes] == expected
    shape = "[B, L, 3]" if layout == "BLC" else "[B, 3, L]"
    assert str(root.inputs[0][1]) == shape and str(root.outputs[0][2]) == shape.replace("3", "5")


def test_the_caller_gets_its_own_layout_back() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    blc = vibench.build(text=ADAPTED, layout="BLC").eval()
    bcl = vibench.build(text=ADAPTED, layout="BCL").eval()
    bcl.load_state_dict(blc.state_dict())
    x = torch.randn(2, 7, 3)
    with torch.no_grad():
        assert torch.equal(blc(x), bcl(x.transpose(1, 2)).transpose(1, 2))


def _error(text: str) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    return err.value


def _line(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def test_as_without_layout_is_a_located_e212() -> None:
    text = ADAPTED.replace("layout: layout, as: BCL}\n", "as: BCL}\n", 1)
    (d,) = _error(text).diagnostics
    assert d.code == "E212" and "no `layout`" in d.message and d.pos.line == _line(text, "as: BCL}")


def test_an_output_layout_needs_as_and_a_layout() -> None:
    text = ADAPTED.replace("y: {from: conv, layout: layout, as: BCL}", "y: {from: conv, layout: layout}")
    (d,) = _error(text).diagnostics
    assert d.code == "E212" and "no `as`" in d.message and d.pos.line == _line(text, "y: {from")
    text = ADAPTED.replace("y: {from: conv, layout: layout, as: BCL}", "y: {from: conv, layout: CBL, as: BCL}")
    (d,) = _error(text).diagnostics
    assert d.code == "E212" and d.found == "'CBL'"


def test_as_takes_only_blc_or_bcl() -> None:
    text = ADAPTED.replace("as: BCL}\n", "as: CLB}\n", 1)
    diags = _error(text).diagnostics
    assert [d.code for d in diags] == ["E102"] and diags[0].pos.line == _line(text, "as: CLB")


def test_an_adapter_never_takes_a_node_name() -> None:
    text = ADAPTED.replace("  conv: {block: conv1d, in: x,",
                           "  x_bcl: {block: identity, in: x}\n  conv: {block: conv1d, in: x_bcl,")
    program = vibench.check(text=text)
    assert [n.name for n in program.root.nodes] == ["x_bcl2", "x_bcl", "conv", "y"]


def test_as_on_a_value_without_three_dimensions_says_so_at_the_as_key() -> None:
    text = ADAPTED.replace("  conv: {block: conv1d, in: x, out_channels: 5, kernel_size: 3, padding: 1}",
                           "  conv: {block: conv1d, in: x, out_channels: 5, kernel_size: 3, padding: 1}\n"
                           "  flat: {block: flatten, in: conv}").replace("y: {from: conv,", "y: {from: flat,")
    (d,) = _error(text).diagnostics
    assert d.code == "E212" and "`as: BCL` needs a value with three dimensions" in d.message
    assert d.pos.line == _line(text, "y: {from: flat") and d.found == "rank 2"


def test_e02_hse_v2_reads_a_channels_first_signal_as_its_channels_last_one() -> None:
    """E_02_HSE_v2 offered `layout: BCL` without `as: BLC`: its nodes read [B, C, L] as [B, L, C], so BCL
    was refused for any length (or, with 1-sample patches, built a mixer over L + 1 features). Now
    both layouts give the same tokens (the embedding is deterministic) on the same signal."""
    import torch

    sizes = {"num_patches": 8, "patch_size_L": 16, "input_dim": 2}
    blc = vibench.build("isfm/embedding/E_02_HSE_v2", **sizes).eval()
    bcl = vibench.build("isfm/embedding/E_02_HSE_v2", **sizes, layout="BCL").eval()
    bcl.load_state_dict(blc.state_dict())
    x, fs = torch.randn(2, 64, 2), torch.full((2,), 12000.0)
    torch.testing.assert_close(bcl(x.transpose(1, 2), fs), blc(x, fs))
