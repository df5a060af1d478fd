"""Sizes torch cannot run, refused where the spec writes them (QA 1206g).

* conv_transpose1d: a kernel narrower than its stride runs, on CPU, through oneDNN's strided convolution,
  which counts ``out_channels * stride**2 * L`` in 32 bits: at 2**31 the process died (SIGSEGV; a stride of
  46341 at L = 1, 64 channels of stride 16 at L = 131,072), and a stride of 10**12 was accepted;
* pooling sizes of 2**31 and more, which torch reads as 32-bit ints ("value cannot be converted to type
  int without overflow");
* `sum` of int32 is int64 in torch (the compiler said int32); `mean` of integers raises in torch (it compiled);
* the padded copy a block builds inside its forward (`causal_conv1d`, `moving_average`, a `conv1d` with
  `padding_mode: replicate`, `mamba_mixer`'s convolution) was not counted by the activation limit (E309);
* an output that only the smallest input keeps within the limit (each step of L adds more than it) is refused.
"""

from __future__ import annotations

import pytest
import torch

import vibench
from vibench.compiler import registry
from vibench.compiler.activation_bounds import Least, Step, over_limit
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.symbolic import Expr

LIMIT = 2**31
INT_MAX = 2**31 - 1


def _spec(node: str, shape: str = "[B, 1, L]", dtype: str = "float32") -> str:
    return (f"vibench: 1\nname: M\ninputs: {{x: {{shape: {shape}, dtype: {dtype}}}}}\n"
            f"nodes:\n  n: {{{node}, in: x}}\noutputs: {{y: n}}\n")


def _refused(text: str, at: str | None = None, **options: int) -> Diagnostic:
    """The one diagnostic of ``text``, on its node's line, where ``at`` starts (default: the node's name)."""
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **options)
    (d,) = info.value.diagnostics
    assert d.pos is not None and d.pos.line == 5 and d.node == "n"
    line = text.splitlines()[4]
    assert d.pos.col == line.index(at or "n:") + 1
    return d


# -- conv_transpose1d ----------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [46341, INT_MAX])
def test_a_transposed_kernel_narrower_than_a_large_stride_is_refused(stride: int) -> None:
    d = _refused(_spec(f"block: conv_transpose1d, out_channels: 1, kernel_size: 1, stride: {stride}"), "stride:")
    assert d.code == "E302" and "kernel that is no multiple of the stride" in d.message


def test_a_stride_of_a_trillion_is_refused_at_the_parameter() -> None:
    """It compiled: E309 measured 1 output element at L = 1 (10**12 at L = 2)."""
    d = _refused(_spec("block: conv_transpose1d, out_channels: 1, kernel_size: 1, stride: 1000000000000"), "stride:")
    assert d.code == "E302" and d.found == "1000000000000000000000000 * L vs 2147483648"


def test_a_narrow_kernel_bounds_the_length_at_run_time() -> None:
    """64 channels upsampled 16-fold by an 8-tap kernel: torch died at L = 131,072 (2**31 = 64 * 16**2 * L);
    model.py refuses that length with a ValueError before the convolution runs."""
    text = _spec("block: conv_transpose1d, out_channels: 64, kernel_size: 8, stride: 16", "[B, 8, L]")
    unit = vibench.check(text=text).root
    assert [c.text for c in unit.constraints] == ["L <= 131071"]
    model = vibench.build(text=text).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 8, 5)).shape == (2, 64, 72)
        with pytest.raises(ValueError, match=r"L <= 131071 \(torch's CPU kernel .*found L = 131072"):
            model(torch.zeros(2, 8, 131072))


@pytest.mark.parametrize(("kernel", "stride", "bound"), [(17, 16, 65535), (9, 8, 262143), (24, 16, 65535)])
def test_a_kernel_no_multiple_of_the_stride_bounds_the_length(kernel: int, stride: int, bound: int) -> None:
    """k17/s16, k9/s8 and k24/s16 with 64 channels killed the process (k17/s16 at L = 131,071): the bound counts
    ceil(kernel / stride) stride-wide taps."""
    text = _spec(f"block: conv_transpose1d, out_channels: 64, kernel_size: {kernel}, stride: {stride}", "[B, 8, L]")
    assert [c.text for c in vibench.check(text=text).root.constraints] == [f"L <= {bound}"]


def test_a_kernel_as_wide_as_the_stride_has_no_length_bound() -> None:
    """oneDNN's deconvolution kernel (the library's k4/s2 upsampling) took 64 x 1000**2 x 40 and more."""
    unit = vibench.check(text=_spec("block: conv_transpose1d, out_channels: 64, kernel_size: 4, stride: 2")).root
    assert unit.constraints == ()


# -- 32-bit sizes of convolutions and poolings -----------------------------------------------------


@pytest.mark.parametrize("node", [
    "block: avg_pool1d, kernel_size: 1, stride: 2147483648",
    "block: max_pool1d, kernel_size: 1, stride: 1000000000000, ceil_mode: true",
    "block: max_pool1d, kernel_size: 1, dilation: 2147483648",
    "block: avg_pool1d, kernel_size: 2147483648",
])
def test_pooling_sizes_past_32_bits_are_refused_at_the_parameter(node: str) -> None:
    param = next(item.split(":")[0].strip() for item in node.split(",") if "2147483648" in item or "10000" in item)
    d = _refused(_spec(node), f"{param}:")
    assert d.code == "E104" and d.expected == f"less than or equal to {INT_MAX}"


@pytest.mark.parametrize("node", [
    f"block: avg_pool1d, kernel_size: 3, padding: 1, stride: {INT_MAX}, ceil_mode: true",
    f"block: max_pool1d, kernel_size: 1, stride: {INT_MAX}, ceil_mode: true",
    f"block: conv1d, out_channels: 1, kernel_size: 1, stride: {2**40}, dilation: {2**40}, padding: {2**32}",
])
def test_the_largest_sizes_torch_takes_build_and_run(node: str) -> None:
    """Poolings take 32-bit sizes; conv1d reads its sizes in 64 bits (measured), so none of them is bounded."""
    model = vibench.build(text=_spec(node))
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 3)).shape == (2, 1, 1)


def test_ceil_mode_is_not_said_to_need_a_known_length() -> None:
    """ceil_mode compiles with a symbolic length (exact formulas, checked against torch)."""
    for name in ("max_pool1d", "avg_pool1d"):
        block = registry.get(name)
        assert block is not None
        description = block.Params.model_fields["ceil_mode"].description or ""
        assert "known length" not in description and "left padding" in description
    assert vibench.check(text=_spec("block: max_pool1d, kernel_size: 3, stride: 2, ceil_mode: true")).root


# -- reductions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "result"), [("int32", "int64"), ("int64", "int64"), ("float64", "float64"),
                                               ("complex64", "complex64")])
def test_sum_reports_the_dtype_torch_returns(dtype: str, result: str) -> None:
    text = _spec("block: sum, dim: 1", "[B, 3, L]", dtype)
    (_, _, t) = vibench.check(text=text).root.outputs[0]
    assert t.dtype == result
    x = torch.ones(2, 3, 4, dtype=getattr(torch, dtype))
    assert str(vibench.build(text=text)(x).dtype) == f"torch.{result}"


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_mean_of_integers_is_refused_at_the_node(dtype: str) -> None:
    d = _refused(_spec("block: mean, dim: 1", "[B, 3, L]", dtype), "x}")  # at the input it cannot take
    assert d.code == "E304" and d.found == dtype and d.port == "x" and "int" not in (d.expected or "")


# -- tensors a block builds inside ----------------------------------------------------------------


@pytest.mark.parametrize(("node", "what"), [
    ("block: causal_conv1d, out_channels: 8, kernel_size: 2, dilation: 1000000000",
     "the input padded on the left by 1,000,000,000 steps"),
    ("block: moving_average, kernel_size: 1000000001, dim: -1", "the series padded by 500,000,000 edge steps"),
    ("block: series_decomposition, kernel_size: 1000000001, dim: -1", "the series padded by 500,000,000 edge"),
    ("block: conv1d, out_channels: 8, kernel_size: 2, dilation: 1000000000, padding: same, padding_mode: replicate",
     "the input padded (replicate) by 1,000,000,000 steps"),
])
def test_a_padded_copy_built_inside_counts_towards_the_activation_limit(node: str, what: str) -> None:
    """8 channels padded by 10**9 steps: 8e9 elements at B = L = 1, where the output holds 8."""
    d = _refused(_spec(node, "[B, 8, L]"))
    assert d.code == "E309" and d.message.startswith(what) and "built inside node `n`" in d.message
    assert d.found is not None and d.found.endswith("= at least 8,000,000,008 elements")
    assert vibench.check(text=_spec(node, "[B, 8, L]"), max_activation=10**10).root.name == "M"


def test_a_zero_padded_convolution_builds_no_copy() -> None:
    """torch pads with zeros inside the kernel (measured: 3 MB at a dilation of 2e7): nothing to count."""
    node = "block: conv1d, out_channels: 8, kernel_size: 2, dilation: 1000000000, padding: same"
    assert vibench.check(text=_spec(node, "[B, 8, L]")).root.name == "M"


def test_mamba_counts_its_convolution_before_the_cut() -> None:
    node = "block: mamba_mixer, d_conv: 100000000"
    d = _refused(_spec(node, "[B, L, 16]"), max_params=10**10)
    assert d.code == "E309" and "causal convolution's output" in d.message
    assert d.found == "[B, 32, L + 99999999] = at least 3,200,000,000 elements"


def test_a_padding_within_the_limit_still_compiles() -> None:
    """The limit is the one of a node output: 8 x 10**8 padded steps at the smallest input fit."""
    node = "block: causal_conv1d, out_channels: 8, kernel_size: 2, dilation: 100000000"
    assert vibench.check(text=_spec(node, "[B, 8, L]")).root.name == "M"


# -- one more step of an open size ------------------------------------------------------------------


def _squares(times: int) -> str:
    lines = ["vibench: 1", "name: D", "inputs: {x: {shape: [B, 1, L]}}", "nodes:"]
    prev = "x"
    for i in range(times):
        lines += [f"  t{i}: {{block: transpose, in: {prev}, dim0: 1, dim1: 2}}",
                  f"  m{i}: {{block: matmul, in: {{x: t{i}, y: {prev}}}}}",
                  f"  f{i}: {{block: flatten, in: m{i}}}",
                  f"  u{i}: {{block: unsqueeze, in: f{i}, dim: 1}}"]
        prev = f"u{i}"
    return "\n".join([*lines, f"outputs: {{y: {prev}}}", ""])


def test_an_output_only_the_smallest_input_keeps_within_the_limit_is_refused() -> None:
    """L squared five times: [B, L**32] is 1 element at L = 1, 4.3e9 at L = 2."""
    assert vibench.check(text=_squares(4)).root.name == "D"  # L**16: 65,536 elements at L = 2
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=_squares(5))
    (d,) = info.value.diagnostics
    assert d.code == "E309" and d.node == "m4" and "for any input but the smallest" in d.message
    assert d.found is not None and "1 element with every open size at 1, 4,294,967,296 with L = 2" in d.found
    assert vibench.check(text=_squares(5), max_activation=2**40).root.name == "D"


def test_over_limit_measures_the_least_and_one_step() -> None:
    length, batch = Expr.symbol("L"), Expr.symbol("B")
    assert over_limit((batch, 8, length + 10**9), LIMIT) == Least(8 * (10**9 + 1))
    assert over_limit((batch, 10**12 * length - 10**12 + 1), LIMIT) == Step("L", 1, 10**12 + 1)
    assert over_limit((batch, 2**30, length), LIMIT) is None  # each step of B or L adds 2**30
    assert over_limit((batch, length * length, 2**30), LIMIT) == Step("L", 2**30, 2**32)  # 3 * 2**30 more
    assert over_limit((batch, length - 5), LIMIT) is None  # empty at L = 1 and 2: nothing measured


def test_the_module_examples_run() -> None:
    import doctest

    from vibench.compiler import activation_bounds

    assert doctest.testmod(activation_bounds).failed == 0


@pytest.mark.parametrize("block", ["hse_patch_sampling", "htfe_patch_sampling"])
def test_a_patch_far_longer_than_the_signal_counts_the_repeated_signal(block: str) -> None:
    """A [1, 1, 4096] signal and a 1,048,576-step patch: forward repeats the signal to the patch's length first
    (17 GB); E309 names that tensor."""
    extra = "fs: fs, " if block == "hse_patch_sampling" else ""
    rate = "" if block == "hse_patch_sampling" else ", f_s: 1000"
    inputs = "{x: {shape: [B, L, 4096]}, fs: {shape: [B]}}" if extra else "{x: {shape: [B, L, 4096]}}"
    text = (f"vibench: 1\nname: P\ninputs: {inputs}\nnodes:\n"
            f"  n: {{block: {block}, in: {{x: x, {extra}}}, patch_size_L: 1048576, num_patches: 1{rate}}}\n"
            "outputs: {y: n}\n").replace(", }", "}")
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text=text)
    assert caught.value.codes == ["E309"]
    assert "the signal repeated to a patch's size" in caught.value.diagnostics[0].message


def test_the_activation_limit_measures_from_the_least_size_the_constraints_allow() -> None:
    """A pool of 3 makes L >= 3; its output, L - 2, is 0 at L = 1 and 2, where the limit measured, so an upsampling
    by 2**32 after it compiled (17 GB at L = 3, the smallest input). Measured from L = 3 it is E309."""
    text = ("vibench: 1\nname: Byp\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n"
            "  p: {block: avg_pool1d, in: x, kernel_size: 3, stride: 1}\n"
            "  u1: {block: conv_transpose1d, in: p, out_channels: 1, kernel_size: 32768, stride: 32768}\n"
            "  u2: {block: conv_transpose1d, in: u1, out_channels: 1, kernel_size: 131072, stride: 131072}\n"
            "outputs: {y: u2}\n")
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text=text)
    assert caught.value.codes == ["E309"] and caught.value.diagnostics[0].node == "u2"
