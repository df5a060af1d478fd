"""Behaviour of the first-tier blocks beyond shapes: values, diagnostics, emitted code, TorchScript.

The registry-driven tests (test_blocks.py) prove that shapes, dtypes and parameter counts agree
with torch for every block; these tests pin what shapes cannot show: that rearrange moves each
element where its pattern says, that the recurrent and attention blocks emit the calls torch
expects, that the positional tables hold the right numbers, and that bad specs fail with the right
diagnostic.
"""

from __future__ import annotations

import doctest
import importlib
import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vibench
from vibench import testing
from vibench.compiler.blocks.rearrange import Pattern, parse_pattern
from vibench.compiler.diagnostics import SpecError

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def one_node(node: str, shape: str = "[B, C, L]", dtype: str = "float32", outputs: str = "{y: n}") -> str:
    return (f"vibench: 1\nname: M\ninputs: {{x: {{shape: {shape}, dtype: {dtype}}}}}\n"
            f"nodes:\n  n: {node}\noutputs: {outputs}\n")


def spec_error(text: str, inputs: dict[str, tuple[int, ...]] | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        vibench.check(text=text, inputs=inputs)
    return info.value


# --------------------------------------------------------------------------------------------
# rearrange
# --------------------------------------------------------------------------------------------


def reference_rearrange(x: torch.Tensor, pattern: Pattern, sizes: dict[str, int]) -> torch.Tensor:
    """Element by element from the pattern's meaning (row-major groups), independent of the emitted calls."""
    size = dict(sizes)
    for group, dim in zip(pattern.left, x.shape, strict=True):
        unknown = [a for a in group if a not in size]
        if unknown:
            size[unknown[0]] = dim // math.prod(size[a] for a in group if a in size)
    out = torch.empty([math.prod(size[a] for a in g) for g in pattern.right], dtype=x.dtype)
    names = pattern.left_axes

    def position(groups: tuple[tuple[str, ...], ...], at: dict[str, int]) -> tuple[int, ...]:
        index = []
        for group in groups:
            flat = 0
            for a in group:
                flat = flat * size[a] + at[a]
            index.append(flat)
        return tuple(index)

    for values in itertools.product(*(range(size[a]) for a in names)):
        at = dict(zip(names, values, strict=True))
        out[position(pattern.right, at)] = x[position(pattern.left, at)]
    return out


@settings(max_examples=15)
@given(data=st.data())
def test_rearrange_moves_every_element_like_its_pattern(data: st.DataObject) -> None:
    case, _ = testing.compile_case(data.draw(testing.block_cases("rearrange"), label="case"))
    (t,) = case.inputs
    x = torch.arange(math.prod(t.dims), dtype=torch.float32).reshape(t.dims)
    expected = reference_rearrange(x, parse_pattern(case.params["pattern"]), case.params.get("sizes", {}))
    model = vibench.build(text=case.text, inputs=case.bindings).eval()
    assert torch.equal(model(x), expected)
    assert torch.equal(torch.jit.script(model)(x), expected)


def test_rearrange_emits_straight_line_torch() -> None:
    text = one_node('{block: rearrange, in: x, pattern: "b c (n p) -> b n (p c)", sizes: {p: 16}}')
    source = vibench.compile_spec(text=text).source
    assert "x = x.unflatten(2, (-1, 16)).permute(0, 2, 3, 1).flatten(2, 3)  # [B, L // 16, 16 * C]" in source
    assert "einops" not in source and "class Rearrange" not in source
    units = vibench.compile_spec(text=one_node('{block: rearrange, in: x, pattern: "b 1 l -> b l 1"}',
                                               "[B, 1, L]")).source
    assert "x = x.squeeze(1).unsqueeze(2)" in units


def test_rearrange_split_of_a_free_dimension_is_a_constraint() -> None:
    text = one_node('{block: rearrange, in: x, pattern: "b c (n p) -> b n (p c)", sizes: {p: 16}}')
    program = vibench.check(text=text)
    assert [c.text for c in program.root.constraints] == ["L % 16 == 0"]
    assert str(program.root.outputs[0][2]) == "[B, L // 16, 16 * C]"
    assert spec_error(text, {"x": (2, 3, 40)}).diagnostics[0].code == "E305"
    fixed = one_node('{block: rearrange, in: x, pattern: "b c (n p) -> b n (p c)", sizes: {p: 16}}', "[B, 3, 40]")
    assert spec_error(fixed).diagnostics[0].code == "E302"


@pytest.mark.parametrize(("pattern", "sizes", "code", "says"), [
    ("b c l => b l c", "{}", "E112", "exactly one `->`"),
    ("b c (l -> b c l", "{}", "E112", "`(` without `)`"),
    ("b c l) -> b c l", "{}", "E112", "`)` without `(`"),
    ("b ((c l)) -> b c l", "{}", "E112", "nested parentheses"),
    ("b c c -> b c", "{}", "E112", "axis `c` appears twice on the left"),
    ("b c l -> b c", "{}", "E112", "`l` only on the left"),
    ("b c l -> b c l k", "{}", "E112", "`k` only on the right"),
    ("b c l-1 -> b c", "{}", "E112", "`l-1` is not an axis name"),
    ("b c (n p) -> b n p c", "{}", "E112", "more than one unknown size"),
    ("b c (n p) -> b n p c", "{q: 2}", "E112", "`sizes` names axis `q`"),
    ("b c l -> b l c", "{c: 0}", "E112", "the size 0"),
    ("b l -> l b", "{}", "E301", "expects a rank 2 input [b, l]"),
    ("b c (n p) -> b n p c", "{p: 3, n: 5}", "E301", "does not match"),
    ("b 1 l -> b l", "{}", "E301", "does not match"),
])
def test_rearrange_rejects_bad_patterns(pattern: str, sizes: str, code: str, says: str) -> None:
    err = spec_error(one_node(f'{{block: rearrange, in: x, pattern: "{pattern}", sizes: {sizes}}}', "[B, 3, 16]"))
    (diag,) = err.diagnostics
    assert diag.code == code and says in diag.message
    if code == "E112":
        assert f"'{pattern}'" in diag.message  # the message names the pattern


# --------------------------------------------------------------------------------------------
# linear along another dimension
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim", "bias", "call"), [
    ((4, 6), 0, True, "torch.addmm("),
    ((4, 6), 0, False, "torch.matmul("),
    ((3, 6, 5), 1, True, "torch.baddbmm("),
    ((3, 6, 5), -2, False, "torch.matmul("),
    ((6, 3, 5), 0, True, ".movedim(-3, -1)"),
    ((2, 3, 6, 5), 2, True, ".movedim(-2, -1)"),
    ((2, 6, 3, 5), -3, True, ".movedim(-3, -1)"),
    ((3, 5, 6), -1, True, "x = self.n(x)"),
])
def test_linear_along_a_dimension_is_the_transposed_linear(shape: tuple[int, ...], dim: int, bias: bool,
                                                           call: str) -> None:
    """``dim:`` maps that dimension: the result is torch's Linear applied to the input with `dim` moved
    last and moved back, in value and in gradient; the module is an nn.Linear (same state_dict). Over
    dimension 0 of [in, M] or 1 of [B, in, M] it is one product (``_linear_over``) in eager mode, and the
    transposed call under TorchScript (which cannot pass the layer to a function)."""
    shape_text = "[" + ", ".join(map(str, shape)) + "]"
    text = one_node(f"{{block: linear, in: x, out_features: 7, dim: {dim}, bias: {str(bias).lower()}}}", shape_text)
    source = vibench.compile_spec(text=text).source
    model_class = source[source.index("\nclass "):]  # (the input-check helper names transpose in a hint)
    product = dim % len(shape) == len(shape) - 2 and len(shape) <= 3
    if product:
        helper = source[source.index("def _linear_over("):source.index("\ndef _bare(")]
        assert call in helper and f"_linear_over(self.n, x, {dim % len(shape)})" in model_class
    else:
        assert call in model_class and "transpose" not in model_class and "_linear_over" not in source
    model = vibench.build(text=text)
    assert isinstance(model.n, torch.nn.Linear) and model.n.weight.shape == (7, shape[dim])
    assert set(model.state_dict()) == ({"n.weight", "n.bias"} if bias else {"n.weight"})
    x = torch.randn(shape, requires_grad=True)
    y = model(x)
    expected = torch.nn.functional.linear(x.movedim(dim, -1), model.n.weight, model.n.bias).movedim(-1, dim)
    assert y.shape == expected.shape == tuple(7 if k == dim % len(shape) else n for k, n in enumerate(shape))
    torch.testing.assert_close(y, expected)
    grad = torch.randn(y.shape)
    got = torch.autograd.grad(y, [x, model.n.weight], grad)
    want = torch.autograd.grad(expected, [x, model.n.weight], grad)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    scripted = torch.jit.script(model)
    torch.testing.assert_close(scripted(x), expected)


def test_linear_dimension_errors_name_the_dimension() -> None:
    out_of_range = spec_error(one_node("{block: linear, in: x, out_features: 4, dim: 3}", "[B, 6, 5]"))
    (diag,) = out_of_range.diagnostics
    assert diag.code == "E301" and diag.expected == "dim in [-3, 2]" and diag.found == "3"
    mismatch = spec_error(one_node("{block: linear, in: x, out_features: 4, dim: 1, in_features: 5}", "[B, 6, 5]"))
    (diag,) = mismatch.diagnostics
    assert "dimension 1 (in_features)" in diag.message and "flatten" not in (diag.hint or "")
    free = spec_error(one_node("{block: linear, in: x, out_features: 4, dim: 1}", "[B, L, 5]"))
    assert free.diagnostics[0].code == "E303" and "dimension 1 (in_features)" in free.diagnostics[0].message


# --------------------------------------------------------------------------------------------
# attention and positional encodings
# --------------------------------------------------------------------------------------------


def test_self_attention_passes_the_query_three_times_and_scripts() -> None:
    text = one_node("{block: multi_head_attention, in: x, num_heads: 2, dropout: 0.25}", "[B, L, 8]")
    source = vibench.compile_spec(text=text).source
    assert "self.n = nn.MultiheadAttention(8, 2, dropout=0.25, batch_first=True)" in source
    # the weights (torch's explicit attention) only in a CPU training step with dropout, the faster path there
    assert "x = self.n(x, x, x, need_weights=self.training and x.is_cpu)[0]" in source
    model = vibench.build(text=text)
    x = torch.randn(2, 5, 8)
    scripted = torch.jit.script(model)
    for module in (model, scripted):
        torch.manual_seed(3)
        found = module(x)
        torch.manual_seed(3)
        assert torch.equal(found, model.n(x, x, x, need_weights=True)[0])  # training, CPU: the explicit path
    model.eval()
    scripted = torch.jit.script(model)
    assert torch.equal(scripted(x), model.n(x, x, x, need_weights=False)[0])  # the fused kernel
    # Without dropout the fused kernel in training too (flash attention: twice the explicit path's speed).
    plain = one_node("{block: multi_head_attention, in: x, num_heads: 2}", "[B, L, 8]")
    assert "x = self.n(x, x, x, need_weights=False)[0]" in vibench.compile_spec(text=plain).source


@pytest.mark.parametrize("causal", [False, True])
def test_attention_core_with_dropout_is_written_out_in_a_cpu_training_step(causal: bool) -> None:
    """``scaled_dot_product_attention`` with dropout: the fused kernel in eval mode (and on a GPU), the attention
    written out (``_explicit_attention``) in a CPU training step, where the fused kernel's fallback is slower;
    the same values without dropout, and the dropout mask an explicit attention draws."""
    node = f"{{block: scaled_dot_product_attention, in: [x, x, x], dropout: 0.5, is_causal: {str(causal).lower()}}}"
    text = one_node(node, "[B, H, L, 4]")
    source = vibench.compile_spec(text=text).source
    assert "_explicit_attention(x, x, x, 0.5" in source and "if self.training and x.is_cpu" in source
    model = vibench.build(text=text)
    q = torch.randn(2, 3, 6, 4, requires_grad=True)
    fused = torch.nn.functional.scaled_dot_product_attention
    model.eval()
    torch.testing.assert_close(model(q), fused(q, q, q, is_causal=causal))
    model.train()
    torch.manual_seed(5)
    found = model(q)
    torch.manual_seed(5)
    scores = (q / 2) @ q.transpose(-2, -1)  # scale 1 / sqrt(4)
    if causal:
        scores = scores.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf"))
    expected = torch.nn.functional.dropout(torch.softmax(scores, dim=-1), 0.5) @ q
    torch.testing.assert_close(found, expected)
    found.sum().backward()  # a training step through it
    assert q.grad is not None and torch.isfinite(q.grad).all()
    assert torch.equal(torch.jit.script(model.eval())(q), model(q))
    plain = one_node("{block: scaled_dot_product_attention, in: [x, x, x]}", "[B, H, L, 4]")
    assert "_explicit_attention" not in vibench.compile_spec(text=plain).source


def test_cross_attention_infers_key_and_value_widths() -> None:
    text = ("vibench: 1\nname: M\ninputs: {q: {shape: [B, L, 8]}, k: {shape: [B, S, 3]}, v: {shape: [B, S, 5]}}\n"
            "nodes:\n  n: {block: multi_head_attention, in: {query: q, key: k, value: v}, num_heads: 4}\n"
            "outputs: {y: n}\n")
    program = vibench.check(text=text)
    node = program.root.node("n")
    assert (node.copies[0].params.kdim, node.copies[0].params.vdim) == (3, 5)
    reference = torch.nn.MultiheadAttention(8, 4, kdim=3, vdim=5, batch_first=True)
    assert node.param_count == sum(p.numel() for p in reference.parameters())
    lengths = text.replace("[B, S, 3]", "[B, 6, 3]").replace("[B, S, 5]", "[B, 7, 5]")
    (diag,) = spec_error(lengths).diagnostics
    assert diag.code == "E301" and "sequence length S of value and key" in diag.message


def test_attention_heads_must_divide_the_width() -> None:
    (diag,) = spec_error(one_node("{block: transformer_encoder_layer, in: x, nhead: 3}", "[B, L, 8]")).diagnostics
    assert diag.code == "E301" and "does not divide into 3 heads" in diag.message
    assert "{1, 2, 4, 8}" in (diag.hint or "")
    (diag,) = spec_error(one_node("{block: multi_head_attention, in: {query: x, key: x}, num_heads: 2}",
                                  "[B, L, 8]")).diagnostics
    assert diag.code == "E405"


def test_sequence_first_layer_and_table_are_the_batch_first_ones_on_the_swapped_axes() -> None:
    """``batch_first: false`` takes [L, B, D] as torch's default layout does (no transposes around the layer):
    the same values as the batch-first layer and table on [B, L, D], with the same weights and buffer."""
    chain = ("vibench: 1\nname: M\ninputs: {{x: {{shape: {shape}}}}}\nnodes:\n"
             "  pos: {{block: sinusoidal_positional_buffer, in: x, max_len: 12, batch_first: {bf}}}\n"
             "  enc: {{block: transformer_encoder_layer, in: pos, nhead: 2, dim_feedforward: 16, dropout: 0.0, "
             "batch_first: {bf}}}\noutputs: {{y: enc}}\n")
    sequence_first = chain.format(shape="[L, B, 8]", bf="false")
    source = vibench.compile_spec(text=sequence_first).source
    assert "SinusoidalPositionBuffer(8, max_len=12, batch_first=False)" in source
    assert "batch_first=False" in source and ".transpose(" not in source[source.index("\nclass M"):]
    ours = vibench.build(text=sequence_first).eval()
    batch_first = vibench.build(text=chain.format(shape="[B, L, 8]", bf="true")).eval()
    batch_first.load_state_dict(ours.state_dict())
    x = torch.randn(5, 3, 8)  # L = 5, B = 3
    with torch.no_grad():
        torch.testing.assert_close(ours(x), batch_first(x.transpose(0, 1)).transpose(0, 1))
    assert torch.equal(torch.jit.script(ours)(x), ours(x))
    # The table bounds the sequence: dimension 0 here.
    assert [c.text for c in vibench.check(text=sequence_first).root.constraints] == ["L <= 12"]
    assert spec_error(chain.format(shape="[13, B, 8]", bf="false")).diagnostics[0].code == "E302"


def test_sinusoidal_table_values_and_state() -> None:
    text = one_node("{block: sinusoidal_positional_encoding, in: x, max_len: 16}", "[B, L, 6]")
    model = vibench.build(text=text).eval()
    assert list(model.state_dict()) == []  # the table is recomputed, not saved
    table = model(torch.zeros(1, 4, 6))[0]
    assert torch.allclose(table[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    w = [10000 ** (-k / 6) for k in (0, 2, 4)]
    row3 = [f(3 * wk) for wk in w for f in (math.sin, math.cos)]
    assert torch.allclose(table[3], torch.tensor(row3), atol=1e-6)
    scripted = torch.jit.script(model)
    assert torch.equal(scripted(torch.zeros(2, 4, 6)), model(torch.zeros(2, 4, 6)))


def test_sinusoidal_table_of_odd_width() -> None:
    model = vibench.build(text=one_node("{block: sinusoidal_positional_encoding, in: x, max_len: 8}", "[B, L, 5]"))
    assert model(torch.zeros(1, 8, 5)).shape == (1, 8, 5)


def test_learned_table_is_a_parameter_named_after_the_node() -> None:
    text = one_node("{block: learned_positional_encoding, in: x, max_len: 10, init_std: 0.5}", "[B, L, 4]")
    model = vibench.build(text=text)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {"n": (1, 10, 4)}
    x = torch.randn(2, 7, 4)
    assert torch.equal(model(x), x + model.n[:, :7])


@pytest.mark.parametrize("block", ["sinusoidal_positional_encoding", "learned_positional_encoding"])
def test_sequence_longer_than_the_table(block: str) -> None:
    assert spec_error(one_node(f"{{block: {block}, in: x, max_len: 8}}", "[B, 9, 4]")).diagnostics[0].code == "E302"
    text = one_node(f"{{block: {block}, in: x, max_len: 8}}", "[B, L, 4]")
    assert [c.text for c in vibench.check(text=text).root.constraints] == ["L <= 8"]
    assert spec_error(text, {"x": (1, 9, 4)}).diagnostics[0].code == "E305"


# --------------------------------------------------------------------------------------------
# recurrent
# --------------------------------------------------------------------------------------------


def test_lstm_ports_are_torchs_outputs() -> None:
    text = one_node("{block: lstm, in: x, hidden_size: 5, num_layers: 2, bidirectional: true, dropout: 0.2}",
                    "[B, L, 3]", outputs="{y: n, h: n.h_n, c: n.c_n}")
    source = vibench.compile_spec(text=text).source
    assert "self.n = nn.LSTM(3, 5, num_layers=2, batch_first=True, dropout=0.2, bidirectional=True)" in source
    assert "n, (n_h_n, n_c_n) = self.n(x)" in source
    model = vibench.build(text=text).eval()
    x = torch.randn(2, 6, 3)
    out, (h, c) = model.n(x)
    got = torch.jit.script(model)(x)
    assert torch.equal(got["y"], out) and torch.equal(got["h"], h) and torch.equal(got["c"], c)


def test_gru_unpacks_two_values_and_single_layer_drops_dropout() -> None:
    text = one_node("{block: gru, in: x, hidden_size: 4, dropout: 0.3}", "[B, L, 3]", outputs="{h: n.h_n}")
    source = vibench.compile_spec(text=text).source
    assert "self.n = nn.GRU(3, 4, batch_first=True)" in source  # dropout acts between layers only
    assert "_, n_h_n = self.n(x)" in source  # the unused output is not kept
    assert vibench.build(text=text)(torch.randn(2, 6, 3)).shape == (1, 2, 4)


# --------------------------------------------------------------------------------------------
# spectral
# --------------------------------------------------------------------------------------------


def test_rfft_then_irfft_restores_the_signal() -> None:
    text = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, C, L], dtype: float64}}\nnodes:\n"
            "  spec: {block: rfft, in: x, norm: ortho}\n  mag: {block: abs, in: spec}\n"
            "  back: {block: irfft, in: spec, n: 10, norm: ortho}\noutputs: {spec: spec, mag: mag, back: back}\n")
    program = vibench.check(text=text)
    assert [str(t) for _, _, t in program.root.outputs] == [
        "[B, C, L // 2 + 1] complex128", "[B, C, L // 2 + 1] float64", "[B, C, 10] float64"]
    x = torch.randn(2, 3, 10, dtype=torch.float64)
    out = vibench.build(text=text)(x)
    assert torch.allclose(out["back"], x)
    assert torch.allclose(out["mag"], out["spec"].abs())


def test_spectral_dtype_errors() -> None:
    (diag,) = spec_error(one_node("{block: irfft, in: x}")).diagnostics
    assert diag.code == "E304" and "float32" in (diag.found or "")
    (diag,) = spec_error(one_node("{block: real, in: x}")).diagnostics
    assert diag.code == "E304" and "abs" in (diag.hint or "")
    (diag,) = spec_error(one_node("{block: rfft, in: x}", dtype="complex64")).diagnostics
    assert diag.code == "E304"
    (diag,) = spec_error(one_node("{block: irfft, in: x}", "[B, C, 1]", "complex64")).diagnostics
    assert diag.code == "E302" and "2 frequency bins" in diag.message


# --------------------------------------------------------------------------------------------
# docstring examples
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vibench.testing", "vibench.compiler.blocks.rearrange"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
