"""An output promise beside `layout:`/`as:`, and None for a free `int | None` parameter (QA 12-07g).

Was: an output's shape promise was read in the caller's order while an input's shape with a `layout:` is
written channels-last, so no promise fitted both layouts: `[B, 4, L]` of a BCL `[B, 4, L]` value held for
`layout=BCL` but made `--check --set layout=BLC` list `L == 4` (twice: once from each swapped dimension) and
model.py refuse every L but 4. And the class of a template whose free `num_classes: int | None` turns a head
off with None said `num_classes=None must be an int >= 1`, contradicting the declared type.
Now: the promise is written channels-last, as the input's shape is (docs/language.md#output-promises), the
same for both layouts; a constraint two dimensions give is listed once; and None asks for a new file
(`... differs from the values this file was compiled and shape-checked with (an int >= 1); regenerate it`).
"""

from __future__ import annotations

import pytest
import torch

import vibench
from tests.conftest import spec_text

PROMISED = spec_text("""
    vibench: 1
    name: P
    params: {layout: {type: str, default: BCL, choices: [BLC, BCL]}}
    inputs: {x: {shape: [B, L, 3], layout: layout, as: BLC}}
    nodes:
      fc: {block: linear, in: x, out_features: 4}
      tr: {block: transpose, in: fc, dim0: 1, dim1: 2}
    outputs:
      sig: {from: tr, layout: layout, as: BCL, shape: %s}
""")


def _constraints(text: str, layout: str) -> list[str]:
    program = vibench.check(text=text, params={"layout": layout})
    return [f"{c.text}: {c.reason}" for c in program.root.constraints]


@pytest.mark.parametrize("layout", ["BLC", "BCL"])
def test_a_channels_last_promise_holds_in_both_layouts(layout: str) -> None:
    text = PROMISED % "[B, L, 4]"
    assert _constraints(text, layout) == []
    model = vibench.build(text=text, layout=layout).eval()
    x = torch.randn(2, 7, 3) if layout == "BLC" else torch.randn(2, 3, 7)
    expected = (2, 7, 4) if layout == "BLC" else (2, 4, 7)
    assert model(x).shape == expected  # L = 7: the emitted class checks no `L == 4`


@pytest.mark.parametrize("layout", ["BLC", "BCL"])
def test_a_constraint_is_the_same_for_both_layouts_and_listed_once(layout: str) -> None:
    assert _constraints(PROMISED % "[B, 4, L]", layout) == [
        "L == 4: output `sig` promises [B, 4, L] and `sig` gives [B, L, 4] channels-last"]
    model = vibench.build(text=PROMISED % "[B, 4, L]", layout=layout).eval()
    x = torch.randn(2, 7, 3) if layout == "BLC" else torch.randn(2, 3, 7)
    with pytest.raises(ValueError, match=r"must satisfy L == 4"):  # model.py checks what --check listed
        model(x)
    assert model(x[:, :4] if layout == "BLC" else x[..., :4]).shape == (2, 4, 4)


@pytest.mark.parametrize("layout", ["BLC", "BCL"])
def test_a_broken_promise_says_channels_last(layout: str) -> None:
    with pytest.raises(vibench.SpecError, match="E308") as err:
        vibench.check(text=PROMISED % "[B, L, 5]", params={"layout": layout})
    assert "dimension 2 is 4, never 5" in str(err.value) and "gives [B, L, 4] channels-last" in str(err.value)


FREE_HEAD = spec_text("""
    vibench: 1
    name: FreeHead
    params:
      num_classes: {type: "int | None", default: 4, ge: 1}
    inputs:
      x: {shape: [B, 8]}
    nodes:
      enc: {block: linear, in: x, out_features: 16}
      head: {block: linear, in: enc, out_features: num_classes, when: "${num_classes is not None}"}
    outputs:
      logits: {from: head, when: "${num_classes is not None}"}
      feats: {from: enc, when: "${num_classes is None}"}
""")


def test_none_for_a_free_optional_parameter_asks_for_a_new_file() -> None:
    cls = type(vibench.build(text=FREE_HEAD))
    assert cls(num_classes=3).eval()(torch.ones(2, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"^FreeHead: num_classes=None differs from the values this file was "
                       r"compiled and shape-checked with \(an int >= 1\); regenerate it: vibench-compile .* "
                       r"--set num_classes=\.\.\.$"):
        cls(num_classes=None)
    with pytest.raises(ValueError, match=r"^FreeHead: num_classes=0 must be an int >= 1$"):  # no declared value
        cls(num_classes=0)
    assert vibench.build(text=FREE_HEAD, num_classes=None).eval()(torch.ones(2, 8)).shape == (2, 16)
