"""Spec-language features templates rely on: conditional inputs/outputs, whole-shape templates,
parameter inheritance, metadata, `is None`."""

from __future__ import annotations

import pytest

import vibench
from tests.conftest import spec_text

COND = spec_text("""
    vibench: 1
    name: Cond
    params:
      num_classes: {type: "int | None", default: null}
      output_dim: 1
      input_dim: 1
      layout: {type: str, default: BLC, choices: [BLC, BCL]}
      use_fs: false
    inputs:
      x: {shape: "${['B', 'L', input_dim] if layout == 'BLC' else ['B', input_dim, 'L']}"}
      fs: {shape: [B], when: "${use_fs}"}
    blocks:
      Head:
        params: {num_classes: 4, hidden: 8}
        inputs: {x: {shape: [B, C]}}
        nodes:
          fc1: {block: linear, in: x, out_features: "${hidden}"}
          fc2: {block: linear, in: fc1, out_features: "${num_classes}"}
        outputs: {y: fc2}
    nodes:
      bcl: {block: transpose, in: x, dim0: 1, dim1: 2, when: "${layout == 'BLC'}"}
      conv: {block: conv1d, in: bcl, out_channels: 8, kernel_size: 3, padding: 1}
      pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
      flat: {block: flatten, in: pool}
      cls: {block: Head, in: flat, inherit: true}
      reg: {block: conv1d, in: conv, out_channels: "${output_dim}", kernel_size: 1}
    outputs:
      logits: {from: cls, when: "${num_classes is not None}"}
      signal: {from: reg, when: "${num_classes is None}", doc: Reconstructed signal.}
    metadata:
      task: "${'classification' if num_classes is not None else 'regression'}"
      weights: {classification: 1.0}
""")


def _shapes(program) -> dict[str, str]:
    return {name: str(t) for name, _, t in program.root.outputs}


def test_outputs_switch_with_parameters_and_unused_branches_are_not_built() -> None:
    regression = vibench.check(text=COND)
    assert _shapes(regression) == {"signal": "[B, 1, L]"}
    assert {n.name for n in regression.root.nodes} == {"bcl", "conv", "reg"}  # pool, flat, cls: not built
    classifier = vibench.check(text=COND, params={"num_classes": 5})
    assert _shapes(classifier) == {"logits": "[B, 5]"}  # `inherit` passed num_classes to Head
    assert "reg" not in {n.name for n in classifier.root.nodes}


def test_whole_shape_template_chooses_the_layout() -> None:
    blc = vibench.check(text=COND)
    bcl = vibench.check(text=COND, params={"layout": "BCL", "input_dim": 3})
    assert str(blc.root.inputs[0][1]) == "[B, L, 1]"
    assert str(bcl.root.inputs[0][1]) == "[B, 3, L]"
    assert "bcl" not in {n.name for n in bcl.root.nodes}


def test_optional_input_joins_the_forward_signature() -> None:
    import torch

    assert [n for n, _ in vibench.check(text=COND).root.inputs] == ["x"]
    assert [n for n, _ in vibench.check(text=COND, params={"use_fs": True}).root.inputs] == ["x", "fs"]
    model = vibench.build(text=COND, use_fs=True, num_classes=3).eval()
    assert model(torch.randn(2, 64, 1), torch.full((2,), 12000.0)).shape == (2, 3)


def test_metadata_is_evaluated_and_emitted() -> None:
    result = vibench.compile_spec(text=COND, params={"num_classes": 2})
    assert result.program.root.metadata == {"task": "classification", "weights": {"classification": 1.0}}
    assert 'METADATA = {"task": "classification", "weights": {"classification": 1.0}}' in result.source
    model = vibench.build(text=COND)
    assert model.METADATA["task"] == "regression"


def test_every_output_switched_off_is_an_error() -> None:
    text = COND.replace('when: "${num_classes is None}"', "when: false")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    assert err.value.codes == ["E103"]


def test_reading_a_switched_off_input_is_an_error() -> None:
    text = COND.replace("reg: {block: conv1d, in: conv,", "reg: {block: conv1d, in: fs,")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    assert err.value.codes == ["E405"]
    assert "switched off" in err.value.diagnostics[0].message


def test_is_none_compares_values_not_identity() -> None:
    text = COND.replace("num_classes is not None", "num_classes is not None and input_dim is 1")
    assert _shapes(vibench.check(text=text, params={"num_classes": 3})) == {"logits": "[B, 3]"}
