"""`inherit: true` passes on a null the user set (found by a parity QA pass against PHM-Vibench).

A flat ISFM config's `act: null` means "no activation" to the reference's H_03_Linear_pred (its table maps None to
nn.Identity). M_01_ISFM hands `act` to its task head through `inherit: true`, which dropped every null as "not set
here", so the head kept its default relu: same state_dict, outputs off by 17 on a scale of 25, no warning. A null
nobody set (a composite's default, a slot-scoped parameter) still leaves the component's own default.
"""

from __future__ import annotations

import textwrap

import pytest
import yaml

import vibench

torch = pytest.importorskip("torch")

H03 = dict(embedding="E_01_HSE", backbone="B_04_Dlinear", task_head="H_03_Linear_pred", input_dim=2, output_dim=32,
           patch_size_L=16, patch_size_C=1, num_patches=16, hidden_dim=8, max_len=256, max_out=3)
INPUTS = {"x": (2, 256, 2)}


def head_layers(model: torch.nn.Module) -> list[str]:
    return [type(m).__name__ for m in model.task_head.children()]


def test_a_flat_config_null_activation_reaches_the_head():
    config = {"model": {"type": "ISFM", "name": "M_01_ISFM", **H03, "act": None, "num_classes": {"1": 5}}}
    model = vibench.build(text=yaml.safe_dump(config), inputs=INPUTS)
    assert head_layers(model) == ["Linear", "Linear", "LayerNorm", "UniversalProjection"]


def test_a_keyword_null_and_a_with_null_reach_the_head(tmp_path):
    assert "ReLU" not in head_layers(vibench.build("isfm/M_01_ISFM", inputs=INPUTS, **H03, act=None))
    spec = tmp_path / "u.yaml"
    spec.write_text(textwrap.dedent(f"""\
        vibench: 1
        name: U
        extends: isfm/M_01_ISFM
        with: {{{", ".join(f"{k}: {v}" for k, v in H03.items())}, act: null}}
        """))
    assert "ReLU" not in head_layers(vibench.build(str(spec), inputs=INPUTS))
    # a spec extending that one keeps the null its base set
    child = tmp_path / "child.yaml"
    child.write_text("vibench: 1\nname: Child\nextends: ./u.yaml\nwith: {max_out: 3}\n")
    assert "ReLU" not in head_layers(vibench.build(str(child), inputs=INPUTS))


def test_an_unset_activation_keeps_the_heads_default():
    assert head_layers(vibench.build("isfm/M_01_ISFM", inputs=INPUTS, **H03)).count("ReLU") == 2
    assert head_layers(vibench.build("isfm/M_01_ISFM", inputs=INPUTS, **H03, act="gelu")).count("GELU") == 2


def test_a_composites_own_null_parameter_is_passed_on_only_when_set(tmp_path):
    spec = tmp_path / "c.yaml"
    spec.write_text(textwrap.dedent("""\
        vibench: 1
        name: C
        params:
          act: {type: "str | None", default: null}
        blocks:
          Inner:
            params:
              act: {type: "str | None", default: relu}
            inputs: {x: {shape: [B, 4]}}
            nodes:
              a: {block: isfm_activation, in: x, name: "${act if act is not None else 'none'}"}
            outputs: {y: a}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          inner: {block: Inner, in: x, inherit: true}
        outputs: {y: inner}
        """))
    x = -torch.ones(2, 4)
    assert torch.equal(vibench.build(str(spec))(x), torch.zeros(2, 4))  # default null: Inner's relu
    assert torch.equal(vibench.build(str(spec), act=None)(x), x)  # a null the caller set: no activation


def test_a_null_for_a_parameter_that_takes_none_is_not_set():
    # B_04_Dlinear's moving_avg is an int (its reference hard-codes 65 and never reads the key): a config's
    # `moving_avg: null` keeps the default, as before, rather than an E202 (a QA pass over config nulls: ~50 keys
    # flipped from ok to E202 with the first version of the null rule).
    config = {"model": {"type": "ISFM", "name": "M_01_ISFM", **H03, "backbone": "B_04_Dlinear", "moving_avg": None,
                        "num_classes": {"1": 5}}}
    null = vibench.build(text=yaml.safe_dump(config), inputs=INPUTS)
    del config["model"]["moving_avg"]
    unset = vibench.build(text=yaml.safe_dump(config), inputs=INPUTS)
    assert repr(null) == repr(unset)
