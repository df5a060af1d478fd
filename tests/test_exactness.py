"""The shape checker is exact against torch: ceil-mode pooling, broadcasting at bound sizes, constraints
that only one size meets (E306), readable E305 texts, and element types (float64, float16, bfloat16).

Every verdict is compared with what torch 2.x really does on the same sizes.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import vibench
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.symbolic import evaluate


def spec(inputs: dict[str, str], nodes: dict[str, str], out: str, blocks: str = "") -> str:
    lines = ["vibench: 1", "name: Exact", "inputs:"]
    lines += [f"  {name}: {decl}" for name, decl in inputs.items()]
    lines += [blocks.rstrip()] if blocks else []
    lines += ["nodes:"] + [f"  {name}: {body}" for name, body in nodes.items()] + [f"outputs: {{y: {out}}}"]
    return "\n".join(lines) + "\n"


def verdict(text: str, inputs: dict[str, tuple[int, ...]] | None = None) -> tuple[int, ...] | SpecError:
    """The static output shape at the bound sizes, or the SpecError."""
    try:
        program = vibench.check(text=text, inputs=inputs)
    except SpecError as err:
        return err
    (_, _, t), = program.root.outputs
    return tuple(evaluate(d, dict(program.bindings)) for d in t.shape)


def holds(c, env: dict[str, int]) -> bool:
    value = evaluate(c.lhs, env)
    return value >= 0 if c.op == ">=" else value == 0 if c.op == "==" else value % c.mod == 0


def torch_shape(fn) -> tuple[int, ...] | None:
    try:
        out = fn()
    except RuntimeError:
        return None
    return tuple(out.shape) if out.numel() else None


# --------------------------------------------------------------------------------------------
# pooling: torch's rule, ceil_mode included
# --------------------------------------------------------------------------------------------

POOLS = [(block, k, s, p, d, ceil)
         for block in ("max_pool1d", "avg_pool1d")
         for k, s in itertools.product(range(1, 8), range(1, 5))
         for p in range(k // 2 + 1)
         for d in ((1, 2) if block == "max_pool1d" else (1,))
         for ceil in (False, True)]


def _torch_pool(block: str, n: int, k: int, s: int, p: int, d: int, ceil: bool) -> tuple[int, ...] | None:
    x = torch.zeros(1, 1, n)
    if block == "max_pool1d":
        return torch_shape(lambda: F.max_pool1d(x, k, s, p, d, ceil_mode=ceil))
    return torch_shape(lambda: F.avg_pool1d(x, k, s, p, ceil_mode=ceil))


def test_pooling_rule_is_torchs_for_every_small_configuration():
    """The symbolic rule and its constraints give torch's length (or its refusal) for L = 1..20."""
    disagreements = []
    for block, k, s, p, d, ceil in POOLS:
        extra = f", dilation: {d}" if d != 1 else ""
        params = f"kernel_size: {k}, stride: {s}, padding: {p}, ceil_mode: {ceil}{extra}"
        text = spec({"x": "{shape: [B, 1, L]}"}, {"pool": f"{{block: {block}, in: x, {params}}}"}, "pool")
        try:
            program = vibench.check(text=text)
        except SpecError:
            program = None
        for n in range(1, 21):
            want = _torch_pool(block, n, k, s, p, d, ceil)
            got = None
            if program is not None:  # the constraints are what --input checks
                (_, _, t), = program.root.outputs
                env = {"B": 1, "L": n}
                if all(holds(c, env) for c in program.root.constraints):
                    got = tuple(evaluate(dim, env) for dim in t.shape)
            if got != want:
                disagreements.append((block, k, s, p, d, ceil, n, got, want))
    assert not disagreements, disagreements[:10]


@pytest.mark.parametrize("block, k, s, p, n", [
    ("max_pool1d", 5, 4, 0, 3),  # the window (5) is longer than the input (3): ceil_mode still gives 1
    ("avg_pool1d", 7, 3, 2, 2),
    ("max_pool1d", 4, 3, 1, 1),
])
def test_ceil_mode_window_longer_than_the_input(block, k, s, p, n):
    text = spec({"x": "{shape: [B, 1, L]}"}, {
        "pool": f"{{block: {block}, in: x, kernel_size: {k}, stride: {s}, padding: {p}, ceil_mode: true}}"}, "pool")
    want = _torch_pool(block, n, k, s, p, 1, True)
    assert want is not None
    assert verdict(text, {"x": (2, 1, n)}) == (2,) + want[1:]
    fixed = text.replace("[B, 1, L]", f"[2, 1, {n}]")
    assert verdict(fixed) == (2,) + want[1:]


# --------------------------------------------------------------------------------------------
# broadcasting
# --------------------------------------------------------------------------------------------


def test_a_length_of_one_broadcasts_when_bound():
    text = spec({"x": "{shape: [B, 1, L]}"}, {
        "four": "{block: adaptive_avg_pool1d, in: x, output_size: 4}", "sum": "{block: add, in: [x, four]}"}, "sum")
    program = vibench.check(text=text)
    assert [c.text for c in program.root.constraints] == ["L == 1 or L == 4"]
    assert str(program.root.outputs[0][2].shape[-1]) == "4"
    for n in (1, 4):  # both broadcast in torch
        x = torch.zeros(2, 1, n)
        assert verdict(text, {"x": (2, 1, n)}) == tuple((x + F.adaptive_avg_pool1d(x, 4)).shape)
    err = verdict(text, {"x": (2, 1, 3)})
    assert isinstance(err, SpecError)
    (diag,) = err.diagnostics
    assert (diag.code, diag.expected, diag.found) == ("E305", "L == 1 or L == 4", "L = 3")


def test_a_batch_of_one_broadcasts():
    """[B, 4] + [B, 4, 4] needs B == 1 or B == 4 (not `4 == B`): B = 1 broadcasts in torch."""
    text = spec({"x": "{shape: [B, 4]}", "z": "{shape: [B, 4, 4]}"}, {"sum": "{block: add, in: [x, z]}"}, "sum")
    assert [c.text for c in vibench.check(text=text).root.constraints] == ["B == 1 or B == 4"]
    for b in (1, 2, 4):
        want = torch_shape(lambda b=b: torch.zeros(b, 4) + torch.zeros(b, 4, 4))
        got = verdict(text, {"x": (b, 4), "z": (b, 4, 4)})
        assert (None if isinstance(got, SpecError) else got) == want, b
    err = verdict(text, {"x": (2, 4), "z": (2, 4, 4)})
    assert isinstance(err, SpecError) and err.diagnostics[0].found == "B = 2"


@pytest.mark.parametrize("l_size, m_size", [(5, 5), (5, 1), (1, 1), (3, 4)])
def test_two_free_lengths_broadcast(l_size, m_size):
    text = spec({"x": "{shape: [B, 2, L]}", "y": "{shape: [B, 2, M]}"}, {"sum": "{block: mul, in: [x, y]}"}, "sum")
    got = verdict(text, {"x": (2, 2, l_size), "y": (2, 2, m_size)})
    want = torch_shape(lambda: torch.zeros(2, 2, l_size) * torch.zeros(2, 2, m_size))
    assert (None if isinstance(got, SpecError) else got) == want


def test_the_one_broadcast_given_up_is_reported():
    """Both lengths free and both may be 1: the result is taken to be the first one, so L = 1 < M
    (which torch accepts) is the documented refusal, with the alternative spelled out."""
    text = spec({"x": "{shape: [B, 2, L]}", "y": "{shape: [B, 2, M]}"}, {"sum": "{block: mul, in: [x, y]}"}, "sum")
    err = verdict(text, {"x": (2, 2, 1), "y": (2, 2, 5)})
    assert isinstance(err, SpecError) and err.diagnostics[0].expected == "M == 1 or L == M"


def test_symbolic_mismatch_that_no_size_meets_is_e301():
    text = spec({"x": "{shape: [B, 3, L]}", "z": "{shape: [B, 4, L]}"}, {"sum": "{block: add, in: [x, z]}"}, "sum")
    err = verdict(text)
    assert isinstance(err, SpecError) and err.diagnostics[0].code == "E301"


def test_a_floor_against_another_free_size_is_not_refused_on_samples():
    """`L // 2 == M` has solutions (M = L // 2); the old sampling refused it."""
    text = spec({"x": "{shape: [B, 2, L]}", "y": "{shape: [B, 2, M]}"}, {
        "halved": "{block: avg_pool1d, in: x, kernel_size: 2}", "sum": "{block: add, in: [halved, y]}"}, "sum")
    assert verdict(text, {"x": (2, 2, 10), "y": (2, 2, 5)}) == (2, 2, 5)


# --------------------------------------------------------------------------------------------
# constraints that only one size meets (E306), and the realistic range
# --------------------------------------------------------------------------------------------


def test_concat_that_holds_only_at_one_length_is_e306():
    text = spec({"x": "{shape: [B, 4, L]}"}, {"pool": "{block: max_pool1d, in: x, kernel_size: 1, stride: 2}",
                                              "both": "{block: concat, in: [x, pool], dim: 1}"}, "both")
    err = verdict(text)
    assert isinstance(err, SpecError)
    (diag,) = err.diagnostics
    assert diag.code == "E306" and "holds only when L = 1" in diag.message
    # torch agrees that L = 1 is the only length that works
    ok = [n for n in range(1, 50) if torch_shape(lambda n=n: torch.cat(
        [torch.zeros(1, 4, n), F.max_pool1d(torch.zeros(1, 4, n), 1, 2)], dim=1)) is not None]
    assert ok == [1]


def test_residual_that_broadcasts_at_one_length_is_e306():
    text = spec({"x": "{shape: [B, 8, L]}"}, {
        "conv": "{block: conv1d, in: x, out_channels: 8, kernel_size: 3}", "skip": "{block: add, in: [x, conv]}"},
        "skip")
    err = verdict(text)
    assert isinstance(err, SpecError) and err.diagnostics[0].code == "E306"
    assert "holds only when L = 3" in err.diagnostics[0].message


BLOCK_OF_32 = """blocks:
  Head:
    inputs: {x: {shape: [B, C, 32]}}
    nodes:
      flat: {block: flatten, in: x}
    outputs: {y: flat}"""


def test_a_size_range_keeps_working_and_reads_well_when_violated():
    """`L // 128 == 32` holds for L in 4096..4223: kept, and a violation says what L // 128 is."""
    text = spec({"x": "{shape: [B, 2, L]}"}, {
        "pool": "{block: avg_pool1d, in: x, kernel_size: 128}", "head": "{block: Head, in: pool}"}, "head",
        blocks=BLOCK_OF_32)
    assert "L // 128 == 32" in [c.text for c in vibench.check(text=text).root.constraints]
    assert verdict(text, {"x": (2, 2, 4223)}) == (2, 64)
    err = verdict(text, {"x": (2, 2, 1024)})
    assert isinstance(err, SpecError)
    (diag,) = err.diagnostics
    assert (diag.code, diag.expected, diag.found) == ("E305", "L // 128 == 32", "L = 1024, so L // 128 = 8")


def test_a_size_requirement_may_fix_one_size():
    """A dimension compared with a fixed number (`L - 2 == 32` for a block declared [B, C, 32]) is kept."""
    text = spec({"x": "{shape: [B, 2, L]}"}, {
        "conv": "{block: conv1d, in: x, out_channels: 2, kernel_size: 3}", "head": "{block: Head, in: conv}"}, "head",
        blocks=BLOCK_OF_32)
    assert "L == 34" in [c.text for c in vibench.check(text=text).root.constraints]
    assert verdict(text, {"x": (3, 2, 34)}) == (3, 64)


def test_no_size_in_the_realistic_range_is_an_error():
    """35 stride-2 poolings need L >= 2**35: no realistic length fits (1 <= L <= 2**31)."""
    nodes = {"p0": "{block: max_pool1d, in: x, kernel_size: 2}"}
    nodes.update({f"p{k}": f"{{block: max_pool1d, in: p{k - 1}, kernel_size: 2}}" for k in range(1, 35)})
    err = verdict(spec({"x": "{shape: [B, 1, L]}"}, nodes, "p34"))
    assert isinstance(err, SpecError) and err.diagnostics[0].code == "E302"
    assert any("2**31" in note for note in err.diagnostics[0].notes)


# --------------------------------------------------------------------------------------------
# E305 texts
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nodes, inputs, found", [
    ({"conv": "{block: conv1d, in: x, out_channels: 2, kernel_size: 9}"}, (2, 2, 4), "L = 4"),
    ({"pieces": "{block: chunk, in: x, chunks: 16, dim: 2}"}, (2, 2, 40), "L = 40, so L % 16 = 8"),
    ({"pool": "{block: avg_pool1d, in: x, kernel_size: 4}", "pieces": "{block: chunk, in: pool, chunks: 3, dim: 2}"},
     (2, 2, 40), "L = 40, so L // 4 % 3 = 1"),
])
def test_e305_found_reads_in_the_constraints_terms(nodes, inputs, found):
    last = list(nodes)[-1]
    text = spec({"x": "{shape: [B, 2, L]}"}, {**nodes, "out": f"{{block: identity, in: {last}.0}}"
                                              if "chunk" in nodes[last] else f"{{block: identity, in: {last}}}"}, "out")
    err = verdict(text, {"x": inputs})
    assert isinstance(err, SpecError)
    assert [(d.code, d.found) for d in err.diagnostics] == [("E305", found)]


# --------------------------------------------------------------------------------------------
# element types
# --------------------------------------------------------------------------------------------

CHAIN = {
    "conv": "{block: conv1d, in: x, out_channels: 4, kernel_size: 3, padding: 1}",
    "norm": "{block: batch_norm1d, in: conv}",
    "act": "{block: gelu, in: norm}",
    "pool": "{block: max_pool1d, in: act, kernel_size: 2, ceil_mode: true}",
    "twin": "{block: avg_pool1d, in: act, kernel_size: 2, ceil_mode: true}",
    "sum": "{block: add, in: [pool, twin]}",
    "cat": "{block: concat, in: [sum, pool], dim: 1}",
    "tokens": "{block: transpose, in: cat, dim0: 1, dim1: 2}",
    "attn": "{block: multi_head_attention, in: tokens, num_heads: 2}",
    "ln": "{block: layer_norm, in: attn}",
    "mean": "{block: mean, in: ln, dim: 1}",
    "fc": "{block: linear, in: mean, out_features: 3}",
}


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_every_node_keeps_the_input_dtype(dtype):
    program = vibench.check(text=spec({"x": f"{{shape: [B, 2, L], dtype: {dtype}}}"}, CHAIN, "fc"))
    types = {name: t.dtype for node in program.root.nodes for name, t in [(node.name, node.output(None))]}
    assert set(types.values()) == {dtype}, types


@pytest.mark.parametrize("dtype, spectrum", [("float32", "complex64"), ("float64", "complex128")])
def test_spectra_follow_the_input_precision(dtype, spectrum):
    program = vibench.check(text=spec({"x": f"{{shape: [B, 2, L], dtype: {dtype}}}"}, {
        "spec": "{block: rfft, in: x}", "back": "{block: irfft, in: spec, n: 16}"}, "back"))
    assert program.root.node("spec").output(None).dtype == spectrum
    assert program.root.node("back").output(None).dtype == dtype


MIXED = [
    ("add", "{block: add, in: [x, y]}", "[B, 4, 8]", "[B, 4, 8]"),
    ("mul", "{block: mul, in: [x, y]}", "[B, 4, 8]", "[B, 4, 8]"),
    ("sub", "{block: sub, in: [x, y]}", "[B, 4, 8]", "[B, 4, 8]"),
    ("concat", "{block: concat, in: [x, y], dim: 1}", "[B, 4, 8]", "[B, 4, 8]"),
    ("matmul", "{block: matmul, in: [x, y]}", "[B, 4, 8]", "[B, 8, 4]"),
    ("multi_head_attention", "{block: multi_head_attention, in: {query: x, key: y, value: y}, num_heads: 2}",
     "[B, 4, 8]", "[B, 6, 8]"),
    ("ensemble_fusion", "{block: ensemble_fusion, in: [x, y]}", "[B, 4, 8]", "[B, 4, 8]"),
    ("isfm_cross_attention", "{block: isfm_cross_attention, in: {query: x, x: y}, num_heads: 2}",
     "[B, 4, 8]", "[B, 6, 8]"),
]


@pytest.mark.parametrize("block, node, x_shape, y_shape", MIXED, ids=[m[0] for m in MIXED])
def test_mixed_float_dtypes_are_located_e304(block, node, x_shape, y_shape):
    text = spec({"x": f"{{shape: {x_shape}}}", "y": f"{{shape: {y_shape}, dtype: float64}}"}, {"op": node}, "op")
    vibench.check(text=text.replace(", dtype: float64", ""))  # the same with one dtype is fine
    err = verdict(text)
    assert isinstance(err, SpecError)
    (diag,) = err.diagnostics
    assert diag.code == "E304" and diag.pos is not None and diag.pos.line == 7, diag
    assert diag.found == "float32, float64" or diag.found == "float64", diag


def test_a_sampling_rate_of_another_dtype_is_e304():
    text = spec({"x": "{shape: [B, 64, 2]}", "fs": "{shape: [B], dtype: float64}"}, {
        "patches": "{block: hse_patch_sampling, in: {x: x, fs: fs}, num_patches: 4, patch_size_L: 8, patch_size_C: 2}"},
        "patches")
    err = verdict(text)
    assert isinstance(err, SpecError) and err.diagnostics[0].code == "E304" and err.diagnostics[0].port == "fs"


@pytest.mark.parametrize("dtype", ["float64"])
def test_a_float64_model_runs_on_its_declared_input(dtype):
    """The built module takes the declared float64 input (its parameters are float64 too)."""
    text = spec({"x": f"{{shape: [B, 2, L], dtype: {dtype}}}"}, CHAIN, "fc")
    program = vibench.check(text=text, inputs={"x": (2, 2, 16)})
    model = vibench.build(text=text, inputs={"x": (2, 2, 16)}).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 2, 16, dtype=getattr(torch, dtype)))
    (_, _, t), = program.root.outputs
    assert str(out.dtype) == f"torch.{t.dtype}" == f"torch.{dtype}"
    assert tuple(out.shape) == (2, 3)
    assert {p.dtype for p in model.parameters()} == {getattr(torch, dtype)}
