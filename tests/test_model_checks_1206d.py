"""model.py's own checks (a QA pass on 86254b4): the class takes back the settings it was compiled with as the
compiler compares them (an int for a float setting is that float, a bool is no number), and a broken shape
constraint or output promise says what the input gave - each size it reads, the input axis it comes from,
and each side of it that is not a bare size - without costing a passing forward or a traced graph."""

from __future__ import annotations

import pytest
import torch

import vibench

RATES = """
vibench: 1
name: Rates
params: {rates: {type: "list[float]", default: [0.5, 2.0]}}
inputs: {x: {shape: [B, 4]}}
nodes:
  d: {block: dropout, in: x, p: "${rates[0]}"}
outputs: {y: d}
"""

PROMISE = """
vibench: 1
name: P1
inputs: {x: {shape: [B, L, 3]}}
nodes:
  r: {block: relu, in: x}
outputs: {y: {from: r, shape: [B, L, L]}}
"""

PINNED = """
vibench: 1
name: P6
params: {num_classes: {type: int, default: 4, ge: 1}}
inputs: {x: {shape: [B, 16]}, t: {shape: [B, K]}}
nodes:
  fc: {block: linear, in: x, out_features: num_classes}
  s: {block: relu, in: t}
outputs:
  y: {from: fc, shape: [B, num_classes]}
  z: {from: s, shape: [B, num_classes]}
"""

SPLIT = """
vibench: 1
name: Split
inputs: {x: {shape: [B, L]}}
nodes:
  r: {block: rearrange, in: x, pattern: "b (l p) -> b l p", sizes: {p: 4}}
outputs: {y: r}
"""


@pytest.mark.parametrize("given", [0, 0.0])
def test_an_int_repeats_the_float_setting_it_was_compiled_with(given: float) -> None:
    """`dropout=0` compiles (the compiler takes an int for a float) to COMPILED_PARAMETERS 0.0; the class refused
    the same 0 with "differs from the value this file was compiled with (0.0); regenerate it", which gave the
    same file."""
    model = vibench.build("cnn/TCN", num_channels=[4], dropout=0)
    assert type(model).COMPILED_PARAMETERS["dropout"] == 0.0
    type(model)(dropout=given)


@pytest.mark.parametrize("given", [False, 0.5, "0"])
def test_a_bool_or_another_value_for_a_float_setting_still_differs(given: object) -> None:
    model = vibench.build("cnn/TCN", num_channels=[4], dropout=0)
    with pytest.raises(ValueError, match=f"dropout={given!r} differs from the value this file was compiled"):
        type(model)(dropout=given)


@pytest.mark.parametrize(("given", "same"), [
    ([0.5, 2], True),
    ((0.5, 2.0), True),
    ([0.5, True], False),
    ([0.5, 2.5], False),
    ([0.5], False),
])
def test_a_list_of_floats_is_compared_item_by_item(given: list, same: bool) -> None:
    cls = type(vibench.build(text=RATES))
    assert cls.COMPILED_PARAMETERS == {"rates": [0.5, 2.0]}
    if same:
        cls(rates=given)
    else:
        with pytest.raises(ValueError, match=r"rates=.* differs from the value this file was compiled"):
            cls(rates=given)


def test_a_bool_inside_a_list_is_no_number() -> None:
    text = RATES.replace("[0.5, 2.0]", "[0.5, 1.0]")
    cls = type(vibench.build(text=text))
    with pytest.raises(ValueError, match=r"rates=\[0.5, True\] differs"):
        cls(rates=[0.5, True])  # the old comparison ([0.5, True] == [0.5, 1.0]) took it


def test_a_numpy_scalar_inside_a_list_counts_as_its_value() -> None:
    import numpy as np  # requirements-dev.txt pins it

    cls = type(vibench.build(text=RATES))
    cls(rates=[np.float32(0.5), np.int64(2)])  # the compiler reads them so (pipeline.python_values)
    with pytest.raises(ValueError, match=r"differs"):
        cls(rates=[0.5, np.bool_(True)])


def _message(model: torch.nn.Module, *inputs: torch.Tensor) -> str:
    with pytest.raises(ValueError) as err:
        model(*inputs)
    return str(err.value)


def test_a_broken_promise_names_the_size_and_where_it_comes_from() -> None:
    message = _message(vibench.build(text=PROMISE), torch.randn(2, 4, 3))
    assert message == ("P1: the inputs must satisfy L == 3 (output `y` promises [B, L, L] and `r` gives [B, L, 3]); "
                       "found L = 4 (x.shape[1])")


def test_a_bound_names_the_size_found() -> None:
    fno = vibench.build("no/FNO", modes=4, width=8, n_layers=1).eval()
    message = _message(fno, torch.randn(2, 4, 1))
    assert message.startswith("FNO: the inputs must satisfy L >= 6 (")
    assert message.endswith("; found L = 4 (x.shape[1])")


def test_a_constraint_on_two_sizes_names_both_and_its_value() -> None:
    model = vibench.build("x_model/MWA_CNN", num_filters=6, wavelet="db2", num_classes=4).eval()
    message = _message(model, torch.randn(1, 8, 1))
    assert "the inputs must satisfy 4 * B * ((L + 1) // 8) - 4 * B >= 2 (" in message
    assert message.endswith("; found B = 1 (x.shape[0]), L = 8 (x.shape[1]), so 4 * B * ((L + 1) // 8) - 4 * B = 0")


def test_a_divisibility_names_the_remainder() -> None:
    message = _message(vibench.build(text=SPLIT), torch.randn(2, 10))
    assert message.endswith("splits into parts of 4); found L = 10 (x.shape[1]), so L % 4 = 2")


def test_a_pinned_size_of_a_second_input_reads_from_that_input() -> None:
    source = vibench.compile_spec(text=PINNED).source
    assert "t.shape[1] == 4" in source and "-t.shape[1]" not in source  # was `-t.shape[1] == -4`
    message = _message(vibench.build(text=PINNED), torch.randn(2, 16), torch.randn(2, 3))
    assert message.endswith("; found K = 3 (t.shape[1])")


def test_an_emitted_file_says_the_same(tmp_path) -> None:
    import importlib.util

    path = tmp_path / "split_model.py"
    path.write_text(vibench.compile_spec(text=SPLIT).source)
    spec = importlib.util.spec_from_file_location("split_model", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert _message(module.Split(), torch.randn(2, 10)).endswith("; found L = 10 (x.shape[1]), so L % 4 = 2")


def test_the_checks_with_found_sizes_still_compile_export_and_script() -> None:
    model = vibench.build("x_model/MWA_CNN", num_filters=6, wavelet="db2", num_classes=4).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    for shape in ((2, 64, 1), (3, 40, 1)):  # the second recompiles with dynamic sizes
        x = torch.randn(shape)
        torch.testing.assert_close(compiled(x), model(x))
    torch.testing.assert_close(torch.jit.script(model)(x), model(x))
    split = vibench.build(text=SPLIT)
    batch, parts = torch.export.Dim("batch"), torch.export.Dim("parts", min=2)
    exported = torch.export.export(split, (torch.randn(2, 12),), dynamic_shapes=({0: batch, 1: 4 * parts},))
    x = torch.randn(3, 20)
    torch.testing.assert_close(exported.module()(x), split(x))
    with pytest.raises(Exception, match="L % 4 == 0"):  # dynamo reports the ValueError it traced
        torch.compile(split, fullgraph=True, backend="eager", dynamic=True)(torch.randn(3, 22))
