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


FOR_EACH = spec_text("""
    vibench: 1
    name: Ens
    params:
      members: {type: "list[str]", default: [Small, Big]}
      widths: [8, 16, 4]
    blocks:
      Small:
        inputs: {x: {shape: [B, D]}}
        nodes: {fc: {block: linear, in: x, out_features: 8}}
        outputs: {y: fc}
      Big:
        inputs: {x: {shape: [B, D]}}
        nodes:
          fc1: {block: linear, in: x, out_features: 32}
          act: {block: relu, in: fc1}
          fc2: {block: linear, in: act, out_features: 8}
        outputs: {y: fc2}
    inputs: {x: {shape: [B, 12]}}
    nodes:
      models: {block: "${item}", in: x, for_each: "${members}"}
      fused: {block: add, in: models}
      heads: {block: linear, in: x, out_features: "${item}", for_each: "${widths}"}
      cat: {block: concat, in: heads, dim: 1}
      second: {block: relu, in: heads.1}
    outputs: {y: fused, z: cat, w: second}
""")


def test_for_each_runs_copies_side_by_side() -> None:
    import torch

    program = vibench.check(text=FOR_EACH)
    assert _shapes(program) == {"y": "[B, 8]", "z": "[B, 28]", "w": "[B, 16]"}
    heads = program.root.node("heads")
    assert [str(t) for _, t in heads.outputs] == ["[B, 8]", "[B, 16]", "[B, 4]"]
    model = vibench.build(text=FOR_EACH).eval()
    assert [k for k in model.state_dict() if k.startswith("models.")][:3] == [
        "models.0.fc.weight", "models.0.fc.bias", "models.1.fc1.weight"]
    out = model(torch.randn(3, 12))
    assert out["z"].shape == (3, 28)
    torch.jit.script(model)


def test_for_each_with_one_member_and_errors() -> None:
    assert _shapes(vibench.check(text=FOR_EACH, params={"members": ["Big"], "widths": [5, 7]}))["z"] == "[B, 12]"
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=FOR_EACH, params={"widths": []})
    assert err.value.codes == ["E211"]
    both = FOR_EACH.replace('for_each: "${widths}"}', 'for_each: "${widths}", repeat: 2}')
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=both)
    assert "E211" in err.value.codes


def test_slot_parameters_name_components_of_their_folder(tmp_path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for name, width in (("Narrow", 4), ("Wide", 32)):
        (parts / f"{name}.yaml").write_text(spec_text(f"""
            vibench: 1
            name: {name}
            inputs: {{x: {{shape: [B, D]}}}}
            nodes: {{fc: {{block: linear, in: x, out_features: {width}}}}}
            outputs: {{y: fc}}
        """))
    host = tmp_path / "host.yaml"
    host.write_text(spec_text("""
        vibench: 1
        name: Host
        params:
          part: {type: str, default: Narrow, slot: parts, doc: The component.}
        inputs: {x: {shape: [B, 12]}}
        nodes:
          p: {block: "parts/${part}", in: x}
        outputs: {y: p}
    """))
    assert _shapes(vibench.check(str(host))) == {"y": "[B, 4]"}
    assert _shapes(vibench.check(str(host), params={"part": "Wide"})) == {"y": "[B, 32]"}
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(host), params={"part": "Medium"})
    assert err.value.codes == ["E214"]
    assert "`Narrow`, `Wide`" in err.value.diagnostics[0].expected


def test_inherit_skips_null_and_switched_off_inputs_stay_unconnected() -> None:
    text = spec_text("""
        vibench: 1
        name: Host
        params:
          hidden: {type: "int | None", default: null, doc: Width for the head (null = the head's default).}
          with_scale: false
        blocks:
          Head:
            params: {hidden: 6}
            inputs:
              x: {shape: [B, D]}
              scale: {shape: [B, 1], when: "${hidden > 100}"}
            nodes: {fc: {block: linear, in: x, out_features: "${hidden}"}}
            outputs: {y: fc}
        inputs:
          x: {shape: [B, 12]}
          scale: {shape: [B, 1], when: "${with_scale}"}
        nodes:
          head: {block: Head, in: {x: x, scale: scale}, inherit: true}
        outputs: {y: head}
    """)
    assert _shapes(vibench.check(text=text)) == {"y": "[B, 6]"}  # hidden: null keeps Head's default
    assert _shapes(vibench.check(text=text, params={"hidden": 9})) == {"y": "[B, 9]"}
    with pytest.raises(vibench.SpecError) as err:  # the host feeds `scale`, which Head switches off at 9
        vibench.check(text=text, params={"hidden": 9, "with_scale": True})
    assert err.value.codes == ["E405"]


SLOTTY = spec_text("""
    vibench: 1
    name: Host
    params:
      head: {type: str, default: Plain, choices: [Plain, Scaled]}
      settings: {type: "dict[str, any] | None", default: null}
    blocks:
      Plain:
        params: {width: 4}
        inputs: {x: {shape: [B, D]}}
        nodes: {fc: {block: linear, in: x, out_features: "${width}"}}
        outputs: {y: fc}
      Scaled:
        params: {width: 4}
        inputs: {x: {shape: [B, D]}, scale: {shape: [B, 1]}}
        nodes:
          fc: {block: linear, in: x, out_features: "${width}"}
          out: {block: mul, in: [fc, scale]}
        outputs: {y: out, raw: fc}
    inputs:
      x: {shape: [B, 12]}
      scale: {shape: [B, 1], optional: true}
    nodes:
      h:
        block: "${head}"
        in:
          x: x
          scale?: scale
        with: "${omit(settings, 'note') if settings is not None else dict([])}"
    outputs:
      all: {from: "h.*"}
""")


def test_optional_ports_inputs_with_and_every_output() -> None:
    plain = vibench.check(text=SLOTTY)
    assert [n for n, _ in plain.root.inputs] == ["x"]  # nobody reads `scale`: not taken
    assert _shapes(plain) == {"y": "[B, 4]"}
    scaled = vibench.check(text=SLOTTY, params={"head": "Scaled", "settings": {"width": 3, "note": "dropped"}})
    assert [n for n, _ in scaled.root.inputs] == ["x", "scale"]
    assert _shapes(scaled) == {"y": "[B, 3]", "raw": "[B, 3]"}  # `h.*`: every output, by its name
    with pytest.raises(vibench.SpecError) as err:  # `with` entries are checked like any parameter
        vibench.check(text=SLOTTY, params={"settings": {"widht": 3}})
    assert err.value.codes == ["E111"] and "width" in (err.value.diagnostics[0].hint or "")


def test_require_stops_the_compile_with_the_authors_message() -> None:
    text = spec_text("""
        vibench: 1
        name: Checked
        params: {n: 3}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          fc:
            block: linear
            in: x
            out_features: "${n}"
            when: "${require(n % 2 == 0, 'n must be even, got ' + str(n))}"
        outputs: {y: fc}
    """)
    assert _shapes(vibench.check(text=text, params={"n": 4})) == {"y": "[B, 4]"}
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    d = err.value.diagnostics[0]
    assert "n must be even, got 3" in d.message and d.pos.line == 10 and d.code == "E204"
