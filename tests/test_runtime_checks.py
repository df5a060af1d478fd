"""A built or emitted model checks its inputs at the entry of forward: a wrong rank, size or dtype,
or a violated shape constraint, is a ValueError naming the model, the input and the rule — not a
torch error deep inside. The checks can be switched off and stay inside compiled/exported graphs."""

from __future__ import annotations

import pytest
import torch

import vibench

SPEC = """
vibench: 1
name: Probe
inputs:
  x: {shape: [B, 2, L]}
  fs: {shape: [B]}
nodes:
  conv: {block: conv1d, in: x, out_channels: 4, kernel_size: 9}
  pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
  flat: {block: flatten, in: pool}
  scale: {block: unsqueeze, in: fs, dim: 1}
  out: {block: mul, in: [flat, scale]}
outputs: {y: out}
"""


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return vibench.build(text=SPEC).eval()


@pytest.mark.parametrize(("x", "fs", "words"), [
    (torch.randn(2, 2), torch.ones(2), ["input `x` must be [B, 2, L] float32", "(2, 2)"]),
    (torch.randn(2, 3, 64), torch.ones(2), ["input `x`", "(2, 3, 64)"]),
    (torch.randn(2, 2, 64, dtype=torch.float64), torch.ones(2), ["input `x`", "torch.float64"]),
    (torch.randn(2, 2, 64), torch.ones(3), ["inputs `x` and `fs` share the size `B`; found 2 and 3"]),
    (torch.randn(2, 2, 0), torch.ones(2), ["input `x` must be [B, 2, L] with every size at least 1; "
                                           "found (2, 2, 0) (axis 2 is empty)"]),
    (torch.randn(0, 2, 64), torch.ones(0), ["input `x` must be [B, 2, L] with every size at least 1; "
                                            "found (0, 2, 64) (axis 0 is empty)"]),
    (torch.randn(2, 2, 64), torch.ones(2, 1), ["input `fs` must be [B] float32"]),
    (torch.randn(2, 2, 8), torch.ones(2), ["L >= 9", "the input is at least as long as the kernel span"]),
    (torch.randint(0, 2, (2, 2, 64)), torch.ones(2), ["input `x`", "torch.int64"]),
])
def test_a_bad_input_is_named_with_its_rule(model: torch.nn.Module, x: torch.Tensor, fs: torch.Tensor,
                                            words: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        model(x, fs)
    assert str(err.value).startswith("Probe: ")
    for word in words:
        assert word in str(err.value)


def test_a_numpy_array_is_named_with_its_conversion(model: torch.nn.Module) -> None:
    # It has a dtype, so the fast test sent it on, and `_check_input` failed on `x.dim()`:
    # AttributeError: 'numpy.dtypes.Float32DType' object has no attribute 'is_floating_point'.
    import numpy as np  # requirements-dev.txt pins it
    with pytest.raises(TypeError) as err:
        model(np.zeros((2, 2, 64), dtype=np.float32), torch.ones(2))
    assert str(err.value) == "Probe: input `x` must be a tensor [B, 2, L]; found ndarray " \
                             "(`torch.from_numpy(x)` converts it)"
    with pytest.raises(TypeError) as err:
        model(torch.zeros(2, 2, 64), np.ones(2, dtype=np.float32))
    assert "input `fs` must be a tensor [B]; found ndarray" in str(err.value)


@pytest.mark.parametrize(("x", "hint"), [
    (torch.randn(2, 64, 2), "(its last two axes look swapped: `x.transpose(-1, -2)` fits)"),
    (torch.randn(2, 64), "(one sample without its batch axis? `x.unsqueeze(0)` fits)"),
    (torch.randn(2, 2, 64, dtype=torch.float64), "(`x.to(torch.float32)` converts it, or `model.double()` casts the "
                                                 "model)"),
    (torch.randint(0, 2, (2, 2, 64)), "(`x.to(torch.float32)` converts it)"),
    (torch.randn(2, 64, 2, dtype=torch.float64), "`x.transpose(-1, -2).to(torch.float32)` fits)"),
    (torch.randn(2, 3, 64), None),  # another channel count: nothing to suggest
])
def test_a_refused_input_says_what_it_looks_like(model: torch.nn.Module, x: torch.Tensor, hint: str | None) -> None:
    with pytest.raises(ValueError) as err:
        model(x, torch.ones(x.shape[0]))
    message = str(err.value)
    assert message.endswith(hint) if hint is not None else message.endswith("torch.float32")


@pytest.mark.parametrize(("template", "shape", "hint"), [
    ("cnn/TCN", (2, 64), "(an axis of size 1 left out? `x.unsqueeze(-1)` fits)"),  # reads [B, L, 1]
    ("cnn/TCN", (64, 1), "(one sample without its batch axis? `x.unsqueeze(0)` fits; or an axis of size 1 left out? "
                         "`x.unsqueeze(-1)` fits)"),  # both fit: 64 samples of length 1, or one of length 64
    ("cnn/TCN", (2, 1, 64, 1), "(an extra axis of size 1? `x.squeeze(1)` fits)"),
    ("cnn/TCN", (2, 64, 3, 1), None),  # four axes, none of size 1 to drop but the last, which leaves 3 channels
])
def test_a_signal_without_its_single_channel_axis_says_where_it_goes(template: str, shape: tuple[int, ...],
                                                                     hint: str | None) -> None:
    """A single-channel batch [B, L] for a model that reads [B, L, 1] got no hint, nor one with an axis too many."""
    model = vibench.build(template, num_classes=3).eval()
    with pytest.raises(ValueError) as err:
        model(torch.randn(*shape))
    message = str(err.value)
    assert message.endswith(hint) if hint is not None else message.endswith("torch.float32")


def test_every_axis_of_size_1_that_could_be_the_extra_one_is_named() -> None:
    """[B, 1, L, 1] for a model of [B, L, C] with C open: dropping axis 1 or axis 3 both fit, and the sizes
    cannot tell which is meant (the hint named only `squeeze(3)`, which reads L = 1, C = 1024)."""
    text = "vibench: 1\nname: Open\ninputs: {x: {shape: [B, L, C]}}\nnodes: {act: {block: relu, in: x}}\n" \
           "outputs: {y: act}\n"
    model = vibench.build(text=text).eval()
    with pytest.raises(ValueError, match=r"\(an extra axis of size 1\? `x.squeeze\(1\)` or `x.squeeze\(3\)` "
                                         r"fits\)$"):
        model(torch.randn(2, 1, 64, 1))


def test_a_missing_channel_axis_in_the_middle_is_found() -> None:
    one = vibench.build(text=SPEC.replace("[B, 2, L]", "[B, 1, L]")).eval()
    with pytest.raises(ValueError, match=r"\(an axis of size 1 left out\? `x.unsqueeze\(1\)` fits\)$"):
        one(torch.randn(2, 64), torch.ones(2))


def test_swapped_axes_of_a_template_with_a_layout_name_the_setting() -> None:
    model = vibench.build("cnn/TCN", num_classes=3).eval()  # reads [B, L, C] (layout BLC)
    with pytest.raises(ValueError, match=r"`x.transpose\(-1, -2\)` fits, or compile the model with the other "
                                         r"`layout`\)$"):
        model(torch.randn(2, 1, 64))


def test_good_inputs_pass_and_the_checks_can_be_switched_off(model: torch.nn.Module) -> None:
    assert model(torch.randn(3, 2, 64), torch.ones(3)).shape == (3, 4)
    model.check_inputs = False
    try:
        with pytest.raises(RuntimeError):  # torch's own error, from inside the convolution
            model(torch.randn(2, 3, 64), torch.ones(2))
    finally:
        model.check_inputs = True


def test_the_checks_stay_in_compiled_and_exported_graphs(model: torch.nn.Module) -> None:
    x, fs = torch.randn(2, 2, 64), torch.ones(2)
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x, fs), model(x, fs))
    exported = torch.export.export(model, (x, fs))
    torch.testing.assert_close(exported.module()(x, fs), model(x, fs))
    scripted = torch.jit.script(model)
    torch.testing.assert_close(scripted(x, fs), model(x, fs))


def test_a_compiled_model_takes_new_sizes_and_exports_with_dynamic_ones(model: torch.nn.Module) -> None:
    """A second size recompiles with dynamic shapes; the check's message then held a symbolic size, and
    `torch.compile(fullgraph=True)` failed ("Can't convert torch._check*() message closure") at the
    first call with another batch size or length (an epoch's last, smaller batch)."""
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    for shape in ((2, 2, 16), (2, 2, 64), (5, 2, 33), (1, 2, 9)):
        x, fs = torch.randn(shape), torch.ones(shape[0])
        torch.testing.assert_close(compiled(x, fs), model(x, fs))
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length", min=10)
    exported = torch.export.export(model, (torch.randn(2, 2, 64), torch.ones(2)),
                                   dynamic_shapes=({0: batch, 2: length}, {0: batch}))
    x, fs = torch.randn(4, 2, 100), torch.ones(4)
    torch.testing.assert_close(exported.module()(x, fs), model(x, fs))


def test_an_emitted_file_checks_its_inputs_too(tmp_path) -> None:
    import importlib.util

    path = tmp_path / "probe_model.py"
    path.write_text(vibench.compile_spec(text=SPEC).source)
    spec = importlib.util.spec_from_file_location("probe_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(ValueError, match="input `x` must be"):
        module.Probe()(torch.randn(2, 5, 64), torch.ones(2))


def test_a_float64_spec_builds_float64_parameters() -> None:
    model = vibench.build(text=SPEC.replace("x: {shape: [B, 2, L]}", "x: {shape: [B, 2, L], dtype: float64}")
                          .replace("fs: {shape: [B]}", "fs: {shape: [B], dtype: float64}")).eval()
    assert all(p.dtype == torch.float64 for p in model.parameters())
    out = model(torch.randn(2, 2, 64, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    assert out.dtype == torch.float64


BOUNDS = """
vibench: 1
name: Windows
inputs:
  x: {shape: [B, L]}
nodes:
  windows: {block: sliding_windows, in: x, size: 16, step: 8, dim: 1}
  table: {block: sinusoidal_positional_buffer, in: windows, max_len: 5}
outputs: {y: table}
"""


def test_a_bound_through_a_floor_division_is_tested_as_the_message_states_it() -> None:
    """16-sample windows every 8 samples, at most 5 of them: (L - 16) // 8 + 1 <= 5, which model.py
    tests as `x.shape[1] <= 55` (and L >= 16 for one window), exact at both edges."""
    source = vibench.compile_spec(text=BOUNDS).source
    assert "x.shape[1] >= 16" in source and "x.shape[1] <= 55" in source
    model = vibench.build(text=BOUNDS).eval()
    for length in (16, 23, 24, 55):
        assert model(torch.randn(2, length)).shape == (2, (length - 16) // 8 + 1, 16)
    for length, rule in ((15, "L >= 16"), (56, "L <= 55")):
        with pytest.raises(ValueError, match=f"the inputs must satisfy {rule}"):
            model(torch.randn(2, length))
    model.check_inputs = False
    with pytest.raises(RuntimeError):  # without the check, torch's own error from the position table
        model(torch.randn(2, 56))


# -- the model class's keyword arguments ----------------------------------------------------------


def test_the_regenerate_hint_sets_the_changed_parameter_once() -> None:
    """The hint for a fixed parameter keeps the command's other `--set` words and drops the changed
    one's old value (it read `--set initial_channels=32 --set initial_channels=...`)."""
    model_cls = type(vibench.build("cnn/ResNet1D", initial_channels=32, num_classes=4))
    with pytest.raises(ValueError, match="initial_channels=64 differs") as refused:
        model_cls(initial_channels=64)
    assert str(refused.value).endswith(
        "regenerate it: vibench-compile cnn/ResNet1D --set num_classes=4 --set initial_channels=..."
    )


@pytest.mark.parametrize("kind", ["numpy", "0-d tensor"])
def test_the_model_class_takes_numpy_scalars_and_0d_tensors_as_build_does(kind: str) -> None:
    """`labels.max() + 1` is an np.int64 or a tensor(4): vibench.build takes it, and so does the class it
    returns, free parameters (built with the Python value) and fixed ones alike; model.py still imports
    nothing but torch."""
    import numpy as np  # requirements-dev.txt pins it

    scalar = np.int64 if kind == "numpy" else torch.tensor
    model_cls = type(vibench.build("cnn/ResNet1D", num_classes=scalar(5), initial_channels=scalar(32)))
    model = model_cls(num_classes=scalar(7), initial_channels=scalar(32))
    assert type(model.classifier.out_features) is int and model.classifier.out_features == 7
    with pytest.raises(ValueError, match="initial_channels=64 differs"):
        model_cls(initial_channels=scalar(64))
    with pytest.raises(ValueError, match="num_classes=0 must be an int >= 1"):
        model_cls(num_classes=scalar(0))
    with pytest.raises(ValueError, match=r"num_classes=tensor\(\[5\]\) must be an int"):  # not a scalar
        model_cls(num_classes=torch.tensor([5]))
    source = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 5}).source
    assert not [line for line in source.splitlines() if line.startswith(("import ", "from ")) and "numpy" in line]


@pytest.mark.parametrize(("template", "inputs"), [
    ("x_model/MWA_CNN", {"x": (2, 0, 1)}),  # finite logits from an empty window
    ("transformer/Transformer_Dummy", {"x": (2, 0, 1)}),  # NaN logits
    ("mlp/ResNetMLP", {"x": (0, 64, 1)}),  # an empty output
    ("isfm/task_head/H_10_ProjectionHead", {"x": (2, 0, 128)}),  # NaN
    ("isfm/M_01_ISFM", {"x": (2, 256, 0), "fs": (2,), "system_id": (2,)}),  # ZeroDivisionError
])
def test_an_empty_axis_is_refused_as_the_shapes_were_checked_for_sizes_of_at_least_1(
        template: str, inputs: dict[str, tuple[int, ...]]) -> None:
    """A symbol stands for a positive integer; an input with a size of 0 went through the checks and gave
    a template-dependent result (in the comments), or torch's error deep in forward."""
    model = vibench.build(template).eval()
    args = {k: torch.ones(v, dtype=torch.long) if k == "system_id" else torch.full(v, 1000.0)
            for k, v in inputs.items()}
    with pytest.raises(ValueError, match=r"input `x` must be \[.*\] with every size at least 1; found"):
        model(**args)


def test_an_empty_axis_is_refused_under_torch_compile_too(model: torch.nn.Module) -> None:
    """The test ran in eager mode only: a compiled ISFM model met its ZeroDivisionError again."""
    compiled = torch.compile(model, backend="eager", dynamic=True)
    compiled(torch.randn(2, 2, 64), torch.ones(2))
    with pytest.raises(ValueError, match=r"input `x` must be \[B, 2, L\] with every size at least 1"):
        compiled(torch.randn(2, 2, 0), torch.ones(2))
