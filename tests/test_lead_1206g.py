"""Small fixes of the lead's: an extending spec whose `with:` is no mapping is E102, never an internal error."""

from __future__ import annotations

import pytest

from vibench.compiler.cli import main


@pytest.mark.parametrize("value", ["3", "[1, 2]", '"x"'])
def test_with_that_is_no_mapping_is_e102_only(tmp_path, capsys, value: str) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_text(f"vibench: 1\nextends: cnn/ResNet1D\nwith: {value}\n")
    assert main([str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert "error[E102]: wrong type for `with`" in err and "w.yaml:3:7" in err
    assert "internal error" not in err and "Traceback" not in err


def test_yaml_value_writes_long_mapping_keys_that_load_back() -> None:
    import yaml

    from vibench.compiler.load import load_text
    from vibench.testing.specs import yaml_value

    value = {"k" * 1_030: 1, "é" * 300: [2], "short": {"n" * 2_000: None}}
    text = yaml_value(value)
    assert yaml.safe_load(text) == value
    assert load_text(f"vibench: 1\nname: M\nmetadata: {text}\n", "m.yaml").data["metadata"] == value


def test_a_port_of_a_for_each_copy_is_e405_naming_the_copy(tmp_path, capsys) -> None:
    spec = tmp_path / "two_port.yaml"
    spec.write_text(
        "vibench: 1\nname: TwoPort\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
        "  heads: {block: linear, in: x, out_features: 3, for_each: {p: 1, q: 2}}\n"
        "outputs:\n  aux: heads.p.aux\n  q: heads.q\n"
    )
    assert main([str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert "error[E405]: `heads.p` is one value (a `for_each` copy gives one); it has no port `aux`" in err
    assert "two_port.yaml:7:8" in err


BASE = """vibench: 1
name: Base
params:
  width: 16
  unused: 3
inputs: {x: {shape: [B, 4, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: width, kernel_size: 3, padding: 1}
outputs: {y: conv}
"""


def test_a_templates_warning_shows_its_line_from_vibench_build_too(tmp_path, monkeypatch) -> None:
    import warnings

    import vibench

    monkeypatch.setenv("VIBENCH_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./base\nwith: {width: 5}\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vibench.build(str(tmp_path / "user.yaml"))
    texts = [str(w.message) for w in caught if "W105" in str(w.message)]
    assert texts and "5 |   unused: 3" in texts[0], texts


def test_colliding_keys_the_model_lacks_are_never_compared(monkeypatch) -> None:
    """Pairs of views of one storage at different offsets, under keys the model lacks, were compared element by
    element (K pairs over S elements: K x S). They are unexpected keys, refused without comparing."""
    import torch

    import vibench
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    module = vibench.build("cnn/TCN", input_dim=2, num_classes=3)
    storage = torch.zeros(1_000)
    checkpoint = {f"network.{1000 + n}.{name}": storage[k : 999 + k]
                  for n in range(5) for k, name in ((0, "conv1.w"), (1, "net.0.w"))}
    compared = []
    real_equal = torch.equal
    monkeypatch.setattr(torch, "equal", lambda a, b: compared.append(a.numel()) or real_equal(a, b))
    with pytest.raises(ReferenceCheckpointError) as err:
        load_reference_state_dict(module, checkpoint)
    assert "unexpected" in str(err.value) and "collide" not in str(err.value)
    assert compared == []


def test_both_loaders_give_torch_load_the_file_they_checked(tmp_path, monkeypatch) -> None:
    """torch.load reads the open file the zip and FIFO checks read, never the path again (a link swapped between
    the check and the load let a compressed zip through: 66 KB expanded to 64 MiB)."""
    import io
    import types

    import torch

    import vibench
    from tests.helpers import TINY_REFERENCE_SPEC
    from vibench.runtime.checkpoint import load_reference_state_dict

    module = types.ModuleType("emitted_tiny_lead_1206g")
    exec(compile(vibench.compile_spec(text=TINY_REFERENCE_SPEC).source, module.__name__, "exec"), module.__dict__)
    path = tmp_path / "last.ckpt"
    torch.save({"network.classifier.weight": torch.randn(2, 3), "network.classifier.bias": torch.randn(2)}, path)
    given = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: given.append(f) or real_load(f, *a, **k))
    for load in (module.load_reference_state_dict, load_reference_state_dict):
        assert tuple(load(module.Tiny(), str(path))) == ([], [])
    assert len(given) == 2 and all(isinstance(f, io.BufferedReader) for f in given), given


def test_a_single_channel_signal_without_its_channel_axis_is_told_both_fits() -> None:
    """[4, 1024] for M_01_ISFM's [B, L, C]: the hint said only `x.unsqueeze(0)`, which the shared batch size
    then refused; `x.unsqueeze(-1)` is offered beside it."""
    import torch

    import vibench

    model = vibench.build("isfm/M_01_ISFM").eval()
    with pytest.raises(ValueError) as err:
        model(torch.randn(4, 1024), torch.full((4,), 1000.0), torch.ones(4, dtype=torch.long))
    assert str(err.value).endswith("(one sample without its batch axis? `x.unsqueeze(0)` fits; or an axis of size 1 "
                                   "left out? `x.unsqueeze(-1)` fits)")


def test_one_copy_of_a_list_returned_whole_is_a_dict_as_two_are(tmp_path) -> None:
    import torch

    import vibench

    spec = ("vibench: 1\nname: FE\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
            "  lin: {block: linear, in: x, out_features: 2, for_each: [1]}\noutputs:\n  y: {from: lin.*}\n")
    out = vibench.build(text=spec).eval()(torch.randn(3, 4))
    assert isinstance(out, dict) and list(out) == ["0"] and tuple(out["0"].shape) == (3, 2)
    named = vibench.build(text=spec.replace("y: {from: lin.*}", "y: lin.0")).eval()(torch.randn(3, 4))
    assert isinstance(named, torch.Tensor)


def test_the_input_hint_offers_one_spelling_of_one_tensor() -> None:
    """[4, 1, 1024] for [B, 1, 1, L]: `x.unsqueeze(1)` and `x.unsqueeze(2)` give the same tensor; one is offered
    (the later, so that a last axis reads `unsqueeze(-1)`)."""
    import torch

    import vibench

    model = vibench.build(text="vibench: 1\nname: R\ninputs: {x: {shape: [B, 1, 1, L]}}\n"
                               "nodes: {r: {block: relu, in: x}}\noutputs: {y: r}\n").eval()
    with pytest.raises(ValueError) as err:
        model(torch.zeros(4, 1, 1024))
    assert str(err.value).endswith("(an axis of size 1 left out? `x.unsqueeze(2)` fits)"), str(err.value)


def test_the_complex_weight_error_says_a_model_of_complex_weights_only_keeps_float32() -> None:
    """B_03_FITS's weights are all complex: `.double()`, which the message advises, leaves it float32; the
    message says so rather than name a cast that changes nothing there."""
    import torch

    import vibench

    model = vibench.build("isfm/backbone/B_03_FITS").eval().to(torch.float64)
    with torch.no_grad(), pytest.raises(RuntimeError) as err:
        model(torch.randn(2, 256, 1, dtype=torch.float64))
    assert "a model whose weights are all complex, as B_03_FITS, keeps float32 whatever the cast" in str(err.value)
