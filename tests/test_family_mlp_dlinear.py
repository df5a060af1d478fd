"""The DLinear template (vibench/specs/mlp/Dlinear.yaml): it compiles, builds and runs on long batches,
emit and build agree, PHM-Vibench configs and checkpoints map onto it, and the reference's broken
configurations are compile-time errors (vibench/specs/DEVIATIONS.md).
"""

from __future__ import annotations

import os

import pytest
import torch

import vibench
from tests.family_checks import (
    check_template,
    compiled_matches,
    experiment,
    loads_reference,
    reference_state_dict,
    scripted_matches,
    spec_line,
    template_text,
)
from tests.helpers import ROOT
from vibench.runtime.build import build_program

SPEC = os.path.join(ROOT, "vibench", "specs", "mlp", "Dlinear.yaml")


@pytest.mark.parametrize("individual", [False, True])
def test_template_runs_on_a_long_batch(individual: bool, tmp_path) -> None:
    params = {"input_dim": 2, "seq_len": 1024, "individual": individual}
    _, model, out = check_template("mlp/Dlinear", params, (2, 1024, 2), tmp_path)
    assert tuple(out.shape) == (2, 1024, 2)
    keys = {"Linear_Seasonal.weight", "Linear_Seasonal.bias", "Linear_Trend.weight", "Linear_Trend.bias"}
    if individual:
        keys = {k.replace(".", ".0.", 1) for k in keys} | {k.replace(".", ".1.", 1) for k in keys}
    assert set(model.state_dict()) == keys


def test_shared_layers_take_any_number_of_channels() -> None:
    program = vibench.check(text=template_text("mlp/Dlinear"), params={"seq_len": 64}, inputs={"x": (2, 64, 5)})
    model = build_program(program).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 64, 5)).shape == (2, 64, 5)


def test_weights_start_at_the_mean_over_time() -> None:
    """DLinear initialises both projections to 1 / seq_len: with zero biases, a constant series maps to
    SiLU(the constant) at every step."""
    model = vibench.build(text=template_text("mlp/Dlinear"), seq_len=32, individual=True, input_dim=2).eval()
    for name, tensor in model.state_dict().items():
        if name.endswith("weight"):
            torch.testing.assert_close(tensor, torch.full((32, 32), 1 / 32))
        else:
            tensor.zero_()
    with torch.no_grad():
        out = model(torch.full((1, 32, 2), 3.0))
    torch.testing.assert_close(out, torch.nn.functional.silu(torch.full((1, 32, 2), 3.0)))


def test_channels_first_layout_computes_the_same() -> None:
    x = torch.randn(2, 48, 3)
    blc = vibench.build(text=template_text("mlp/Dlinear"), seq_len=48, individual=True, input_dim=3).eval()
    bcl = vibench.build(text=template_text("mlp/Dlinear"), seq_len=48, individual=True, input_dim=3,
                        layout="BCL").eval()
    bcl.load_state_dict(blc.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(bcl(x.transpose(1, 2)).transpose(1, 2), blc(x), atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_emitted_code_scripts_and_compiles() -> None:
    """Shared layers script and compile; individual layers (one child module per channel, keyed 0, 1, ...
    like the reference's nn.ModuleList) compile but do not script (TorchScript cannot iterate children)."""
    x = torch.randn(2, 64, 2)
    shared = vibench.build(text=template_text("mlp/Dlinear"), seq_len=64, input_dim=2)
    assert scripted_matches(shared, x)
    assert compiled_matches(shared, x)
    individual = vibench.build(text=template_text("mlp/Dlinear"), seq_len=64, input_dim=2, individual=True)
    assert compiled_matches(individual, x)


def test_reference_checkpoint_loads() -> None:
    """The reference's state_dict (measured on the PHM-Vibench class, individual layers, C = 2, seq_len 16)."""
    layout = """
        Linear_Seasonal.0.weight 16x16  Linear_Seasonal.0.bias 16  Linear_Seasonal.1.weight 16x16
        Linear_Seasonal.1.bias 16  Linear_Trend.0.weight 16x16  Linear_Trend.0.bias 16
        Linear_Trend.1.weight 16x16  Linear_Trend.1.bias 16"""
    config = {"input_dim": 2, "seq_len": 16, "individual": True}
    built = build_program(vibench.check(text=experiment("MLP", "Dlinear", config)))
    assert loads_reference(built, reference_state_dict(layout))


def test_a_phm_vibench_model_section_compiles() -> None:
    config = {"input_dim": 2, "seq_len": 1024, "individual": False, "kernel_size": 25, "num_classes": 4}
    text = experiment("MLP", "Dlinear", config)
    program = vibench.check(text=text, inputs={"x": (8, 1024, 2)})
    assert program.root.param_count == 2 * (1024 * 1024 + 1024)
    warning, unread = program.warnings
    assert warning.code == "W101" and "num_classes" in warning.message
    assert warning.pos.line == text.splitlines().index("  num_classes: 4") + 1
    # input_dim fixes the channels only with individual layers: shared ones take any C
    assert unread.code == "W104" and unread.message.startswith("`input_dim` has no effect here")
    assert unread.hint == ("it is read only by `let` `channels` (`${input_dim if individual else 'C'}`), which does "
                           "not use it here; remove it")
    assert unread.pos.line == text.splitlines().index("  input_dim: 2") + 1


def test_default_length_on_a_longer_input_is_a_compile_time_error() -> None:
    """The reference's defaults (seq_len 512) on L = 1024 fail deep in forward; here binding the input
    names the fixed dimension of the declared shape."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=experiment("MLP", "Dlinear", {"input_dim": 1}), inputs={"x": (4, 1024, 1)})
    (diag,) = err.value.diagnostics
    assert diag.code == "E305" and "fixed to 512" in diag.message
    assert diag.pos.line == spec_line(SPEC, "  x:")


def test_seq_len_null_takes_the_bound_length() -> None:
    program = vibench.check(text=template_text("mlp/Dlinear"), params={"seq_len": None}, inputs={"x": (2, 300, 1)})
    assert program.root.param_count == 2 * (300 * 300 + 300)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=template_text("mlp/Dlinear"), params={"seq_len": None})
    assert [d.code for d in err.value.diagnostics] == ["E303"]


def test_individual_layers_need_input_dim_channels() -> None:
    """The reference loops over input_dim channels: extra channels stay zero, fewer crash."""
    text = experiment("MLP", "Dlinear", {"input_dim": 2, "seq_len": 64, "individual": True})
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text, inputs={"x": (4, 64, 3)})
    (diag,) = err.value.diagnostics
    assert diag.code == "E305" and "fixed to 2" in diag.message


def test_even_moving_average_window_is_a_compile_time_error() -> None:
    """An even window shortens the trend by one step; the reference then fails subtracting it."""
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=experiment("MLP", "Dlinear", {"input_dim": 1, "kernel_size": 24}))
    (diag,) = err.value.diagnostics
    assert diag.code == "E301" and diag.node == "decomposition"
    assert diag.pos.line == 7  # the config's `kernel_size: 24`, with a note naming the template's node
    (note,) = [n for n in diag.notes if n.startswith("the value set here")]
    assert f"Dlinear.yaml:{spec_line(SPEC, '  decomposition:')}:" in note
