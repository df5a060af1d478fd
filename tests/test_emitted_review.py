"""What a reviewer of model.py found (12-05): names that hide what a value is, a constructor argument
that the input checks ignored, and a Lightning checkpoint that TCN could not load."""

from __future__ import annotations

import os
import types

import pytest
import torch

import vibench
from tests.parity import ROOT
from tests.test_codegen import _forward_of
from tests.test_reference_values import load_artifact, reference_state_dict, vibench_text


def test_a_value_is_named_after_what_it_holds() -> None:
    """Attention's query was `out` and its values `x` (the chain through the attention node, the last
    reader of x); the shared features of four heads were `anomaly_detection_head`; an int64 system id
    was overwritten by float prompts. Each is now named after its node; a plain chain still reads
    `out = self.layer(out)` and a sum keeps its first input's name."""
    attention = _forward_of(vibench.compile_spec("rnn/AttentionGRU").source, "SelfAttention")
    assert "query_projection = self.query_projection(x)" in attention
    assert "value_projection = self.value_projection(x)" in attention
    called = "F.scaled_dot_product_attention(\n                query_projection, key_projection, value_projection,"
    assert called in attention
    assert "out = self.out_projection(out)" in attention
    heads = _forward_of(vibench.compile_spec("isfm/task_head/MultiTaskHead").source, "MultiTaskHead")
    assert "pooled = x.mean(dim=1)" in heads and "pooled = self.shared_layers(pooled)" in heads
    assert "anomaly_detection_head = self.anomaly_detection_head(pooled)" in heads
    prompt = _forward_of(vibench.compile_spec("isfm/embedding/HSE_prompt").source, "HSE_prompt")
    assert "prompt_encoder = self.prompt_encoder(system_id)" in prompt and "system_id = " not in prompt
    assert "x = x + prompt_encoder" in prompt
    block = _forward_of(vibench.compile_spec("cnn/ResNet1D").source, "BasicBlock")
    assert "downsample = self.downsample(x)" in block and "out += downsample" in block


def _emitted(name: str, **params: object) -> types.ModuleType:
    module = types.ModuleType(f"emitted_{name.replace('/', '_')}")
    exec(compile(vibench.compile_spec(name, params=params or None).source, module.__name__, "exec"), module.__dict__)
    return module


def test_a_parameter_that_bounds_an_input_is_not_a_free_argument() -> None:
    """H_03_Linear_pred took max_len/max_out as free arguments, but its input check kept the compiled
    `L <= 4096`: max_len=5000 refused L = 4500 with a false message. A parameter that an input
    constraint reads is now fixed: another value is refused, naming the command that compiles it."""
    module = _emitted("isfm/task_head/H_03_Linear_pred")
    with pytest.raises(ValueError, match=r"max_len=5000 differs from the value this file was compiled"):
        module.H_03_Linear_pred(max_len=5000)
    assert "--set max_len=" in str(pytest.raises(ValueError, module.H_03_Linear_pred, max_len=5000).value)
    other = vibench.compile_spec("isfm/task_head/H_03_Linear_pred", params={"max_len": 5000}).source
    assert "target.shape[1] <= 5000" in other
    classifier = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 4}).source
    assert "def __init__(self, num_classes: int = 4, **fixed: object)" in classifier  # a head's width stays free


def _tcn() -> tuple[torch.nn.Module, dict[str, torch.Tensor], torch.Tensor]:
    artifact = load_artifact("cnn_tcn")
    program = vibench.check(text=vibench_text(artifact), inputs={"x": tuple(artifact["inputs"]["x"].shape)})
    from vibench.runtime.build import build_program

    return build_program(program).eval(), reference_state_dict(artifact), artifact["inputs"]["x"]


def test_tcn_loads_a_lightning_checkpoint() -> None:
    """TCN keeps its blocks in `network`, the prefix PHM-Vibench's Lightning task gives the model's keys:
    `network.network.0...` was never stripped (the model's own keys start with `network.`), so the
    documented Lightning route failed for TCN alone. The reading that names more keys is taken."""
    from vibench.runtime.checkpoint import load_reference_state_dict

    model, state_dict, x = _tcn()
    load_reference_state_dict(model, state_dict)
    with torch.no_grad():
        expected = model(x)
    lightning = {"state_dict": {f"network.{k}": v for k, v in state_dict.items()}, "epoch": 3}
    for checkpoint in (lightning, lightning["state_dict"], state_dict):
        model, _, _ = _tcn()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        load_reference_state_dict(model, checkpoint)
        with torch.no_grad():
            assert torch.equal(model(x), expected)


def test_tcn_in_model_py_loads_a_lightning_checkpoint() -> None:
    """The same through the `load_reference_state_dict` that model.py carries (nothing but torch)."""
    artifact = load_artifact("cnn_tcn")
    module = types.ModuleType("emitted_tcn")
    source = vibench.compile_spec(text=vibench_text(artifact)).source
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    state_dict = reference_state_dict(artifact)
    x = artifact["inputs"]["x"]
    outputs = []
    for checkpoint in (state_dict, {"state_dict": {f"network.{k}": v for k, v in state_dict.items()}}):
        model = module.TCN().eval()
        missing, unexpected = module.load_reference_state_dict(model, checkpoint)
        assert missing == [] and unexpected == []
        with torch.no_grad():
            outputs.append(model(x))
    assert torch.equal(outputs[0], outputs[1])


def test_a_size_that_is_a_free_argument_is_written_by_its_name() -> None:
    """Shape comments and the docstring of a classifier showed the default width (`# [B, 4]`), which
    is wrong for `Model(num_classes=3)`; the sizes that move with a free parameter are named."""
    source = vibench.compile_spec(os.path.join(ROOT, "examples", "fault_autoencoder.yaml")).source
    assert "classifier = self.classifier(classifier)  # [B, num_classes]  fault_autoencoder.yaml:45" in source
    assert "        logits [B, num_classes] float32\n" in source
    assert "    Parameters: 21,189 (with num_classes=4)\n" in source
    gru = vibench.compile_spec("rnn/AttentionGRU", params={"num_classes": 3}).source
    assert "x = self.classifier(x)  # [B, num_classes]  AttentionGRU.yaml" in gru
    fixed = vibench.compile_spec("cnn/ResNet1D").source  # no free parameter: sizes stay numbers
    assert "(with " not in fixed and "# [B, 16 * ((L + 31) // 32), 1]" in fixed


PICK = """\
vibench: 1
name: Pick
params:
  kind: {type: str, default: relu, choices: [relu, sub]}
inputs:
  x: {shape: [B, 4, L]}
nodes:
  doubled: {block: scale, in: x, factor: 2.0WHEN}
  pick: {block: "${kind}", in: {"x?": x, "y?": doubled}}
outputs: {y: pick}
"""


def test_a_node_only_a_missing_optional_port_reads_is_w108() -> None:
    """E_com_00_PE with time_feature emitted `x = x[:, :, :1]` that nothing read: its only reader took it
    through `x?`, a port the chosen block lacks. Such a node is W108; `when:` switches it off."""
    relu = vibench.check(text=PICK.replace("WHEN", ""))
    (w,) = [d for d in relu.warnings if d.code == "W108"]
    assert "node `doubled` runs, but nothing reads it here" in w.message and (w.pos.line, w.pos.col) == (8, 3)
    assert not [d for d in vibench.check(text=PICK.replace("WHEN", ""), params={"kind": "sub"}).warnings
                if d.code == "W108"]
    switched = PICK.replace("WHEN", ", when: \"${kind == 'sub'}\"")
    assert not [d for d in vibench.check(text=switched).warnings if d.code == "W108"]
    assert "doubled" not in vibench.compile_spec(text=switched).source
    time_feature = vibench.compile_spec("isfm/embedding/E_com_00_PE", params={"embed_type": "time_feature"})
    assert "x[:, :, :1]" not in time_feature.source
