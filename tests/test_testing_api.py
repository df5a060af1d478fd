"""The public `vibench.testing` API as a user calls it: its strategies under hypothesis's default
health checks, its oracles' arguments and input forms, and `yaml_value` (tests/test_fuzz_campaign.py
runs the campaign itself)."""

from __future__ import annotations

import random
import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vibench import testing
from vibench.compiler import limits, registry
from vibench.compiler.load import load_text
from vibench.testing.blocks import MAX_STEPS, SYSTEM_PORT

BLOCKS = sorted(registry.all_blocks())

# hypothesis's default health checks (the profiles of tests/conftest.py suppress filter_too_much),
# derandomized, 10 examples: the filter check fails a strategy with 50 invalid draws before its 10th valid one.
DEFAULT_CHECKS = settings(max_examples=10, deadline=None, derandomize=True, database=None, suppress_health_check=[])

LINEAR = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
          "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")
TWO_INPUTS = """vibench: 1
name: Two
inputs:
  a: {shape: [B, 4]}
  b: {shape: [B, 8]}
nodes:
  fa: {block: linear, in: a, out_features: 3}
  fb: {block: linear, in: b, out_features: 3}
  s: {block: add, in: [fa, fb]}
outputs: {y: s}
"""


# -- strategies over the whole catalogue ------------------------------------------------------


@pytest.mark.parametrize("name", BLOCKS)
def test_every_block_draws_cases_that_mostly_compile(name: str) -> None:
    """A block's test hints make most `block_cases` draws valid, so a user's `@given(block_cases(name))`
    passes the default health checks (hse_channel_mixer failed them on every run: 0 valid of 50)."""

    @DEFAULT_CHECKS
    @given(testing.block_cases(name))
    def draw(case: testing.BlockCase) -> None:
        testing.compile_case(case)

    draw()


@pytest.mark.parametrize("name", BLOCKS)
def test_every_block_starts_a_chain(name: str) -> None:
    """`chain_specs(blocks=[name])` draws its first node as `block_cases` does: it works for every block
    (a float [B, C] or [B, C, L] `x` suited few: embedding, imag, hse_channel_mixer...)."""

    @DEFAULT_CHECKS
    @given(testing.chain_specs(max_nodes=2, blocks=[name]))
    def draw(chain: testing.ChainCase) -> None:
        assert chain.nodes[0][1] == name

    draw()


def test_a_routed_block_with_several_systems_gets_its_system_ids() -> None:
    """A drawn case of a block whose parameter maps several systems feeds the optional `system_id` port
    ([B] ids of a configured system), so such cases compile (E405 without it) and run."""
    systems: list[int] = []

    @settings(max_examples=20, deadline=None, derandomize=True, database=None)
    @given(testing.block_cases("hse_channel_mixer"))
    def draw(case: testing.BlockCase) -> None:
        case, _ = testing.compile_case(case)
        ids = [t for t in case.inputs if t.name == SYSTEM_PORT]
        for t in ids:
            assert t.dtype == "int64" and str(t.fill) in case.params["num_channels"]
        assert testing.check_runtime(case.text, case.inputs, backends=()) == []
        systems.append(len(case.params["num_channels"]))

    draw()
    assert max(systems) > 1


# -- strategy arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [testing.chain_specs, testing.graph_specs])
@pytest.mark.parametrize(("kwargs", "error"), [
    ({"blocks": "relu"}, TypeError),
    ({"blocks": []}, ValueError),
    ({"blocks": ["nope"]}, KeyError),
    ({"tries": 0}, ValueError),
    ({"tries": -1}, ValueError),
    ({"max_nodes": 0}, ValueError),
    ({"max_nodes": MAX_STEPS + 1}, ValueError),
    ({"max_nodes": 10**6}, ValueError),
    ({"max_nodes": "4"}, TypeError),
])
def test_spec_strategies_refuse_bad_arguments_when_made(strategy: Any, kwargs: dict[str, Any],
                                                        error: type[Exception]) -> None:
    with pytest.raises(error):
        strategy(**kwargs)


def test_the_step_limit_is_within_the_compilers_node_limit() -> None:
    assert 1 <= MAX_STEPS <= limits.MAX_NODES


@pytest.mark.parametrize("max_operators", [0, -2, -100])
def test_mutations_take_at_least_one_operator(max_operators: int) -> None:
    with pytest.raises(ValueError, match="max_operators"):
        testing.mutate(LINEAR, random.Random(0), max_operators=max_operators)
    with pytest.raises(ValueError, match="max_operators"):
        testing.mutated_specs(max_operators=max_operators)


def test_every_mutant_has_an_operator() -> None:
    """Tree operators that find nothing to act on (no node to rewire) fall back to a text operator."""
    for seed in range(200):
        mutant = testing.mutate("vibench: 1\nname: M\n", random.Random(seed), max_operators=1)
        assert mutant.operators, seed


# -- oracles ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "kwargs", "error"), [
    ((None,), {}, TypeError),
    ((b"vibench: 1\n",), {}, TypeError),
    ((LINEAR, None, [1]), {}, TypeError),
    ((LINEAR, 3), {}, TypeError),
    ((LINEAR,), {"inputs": [2, 4]}, TypeError),
    ((LINEAR,), {"inputs": {"x": (-2, 4)}}, ValueError),
    ((LINEAR,), {"timeout": -1}, ValueError),
    ((LINEAR,), {"timeout": 0}, ValueError),
    ((LINEAR,), {"timeout": "10"}, TypeError),
])
def test_check_static_raises_for_the_callers_mistakes(args: tuple, kwargs: dict[str, Any],
                                                      error: type[Exception]) -> None:
    """A wrong argument is the caller's error, raised before the compiler runs, not a 'crash' verdict."""
    with pytest.raises(error):
        testing.check_static(*args, **kwargs)


def test_check_runtime_passes_inputs_by_the_specs_declaration() -> None:
    a = testing.TensorCase("a", ("B", 4), (2, 4))
    b = testing.TensorCase("b", ("B", 8), (2, 8))
    assert testing.check_runtime(TWO_INPUTS, (a, b), backends=()) == []
    assert testing.check_runtime(TWO_INPUTS, (b, a), backends=()) == []
    assert testing.check_runtime(TWO_INPUTS, [b, a], backends=("script",)) == []


def test_check_runtime_takes_a_dict_of_sizes() -> None:
    """The form `vibench.check(inputs=)` takes; each input random in its declared dtype."""
    assert testing.check_runtime(TWO_INPUTS, {"b": (3, 8), "a": (3, 4)}, backends=()) == []
    embed = ("vibench: 1\nname: E\ninputs: {ids: {shape: [B, L], dtype: int64}}\n"
             "nodes: {e: {block: embedding, in: ids, num_embeddings: 2, embedding_dim: 3}}\noutputs: {y: e}\n")
    assert testing.check_runtime(embed, {"ids": (2, 5)}, backends=()) == []


@pytest.mark.parametrize(("inputs", "kwargs", "error"), [
    ("x", {}, TypeError),
    (["x"], {}, TypeError),
    (None, {}, TypeError),
    ({"x": 3}, {}, TypeError),
    ({"a": (2, 4)}, {}, ValueError),  # b left out
    ({"a": (2, 4), "b": (2, 8)}, {"timeout": -1}, ValueError),
])
def test_check_runtime_raises_for_the_callers_mistakes(inputs: Any, kwargs: dict[str, Any],
                                                       error: type[Exception]) -> None:
    with pytest.raises(error):
        testing.check_runtime(TWO_INPUTS, inputs, backends=(), **kwargs)


# -- yaml_value ---------------------------------------------------------------------------------

# Any character but a surrogate: non-BMP ones (𝔅), control characters, NEL, line separators, BOM.
TEXT = st.text(st.one_of(st.characters(codec="utf-8"), st.characters(max_codepoint=0x9F),
                         st.characters(min_codepoint=0x10000, codec="utf-8")), max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**62), 2**62), TEXT,
                    st.floats(allow_nan=False, allow_infinity=False))
KEYS = st.one_of(TEXT, st.integers(-(2**62), 2**62), st.booleans(), st.none())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                        st.dictionaries(KEYS, inner, max_size=4)), max_leaves=12)


def _plain(value: Any) -> Any:
    """What a loader gives back for ``value`` (a tuple is a list), each scalar tagged with its type."""
    if isinstance(value, (list, tuple)):
        return ["list", [_plain(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", sorted(((repr(_plain(k)), _plain(v)) for k, v in value.items()), key=lambda kv: kv[0])]
    return [type(value).__name__, value]


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_yaml_value_loads_back_as_the_value(value: Any) -> None:
    text = testing.yaml_value(value)
    assert _plain(yaml.safe_load(text)) == _plain(value)
    assert _plain(yaml.load(text, Loader=yaml.CSafeLoader)) == _plain(value)
    assert _plain(load_text("v: " + text).data["v"]) == _plain(value)


@pytest.mark.parametrize("value", ["𝔅", "a\U0010ffffb", "\x00\x7f\x85\u2028\ufeff", {1: 2}, {None: [1.5e300, -0.0]}])
def test_yaml_value_writes_what_yaml_cannot_take_as_escapes(value: Any) -> None:
    text = testing.yaml_value(value)
    assert text.isascii() and "\\ud8" not in text
    assert _plain(load_text("v: " + text).data["v"]) == _plain(value)


@pytest.mark.parametrize(("value", "error"), [
    ("\ud835", ValueError), (float("nan"), ValueError), ({(1, 2): 3}, TypeError), ({1, 2}, TypeError),
    (b"x", TypeError),
])
def test_yaml_value_refuses_what_no_spec_holds(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        testing.yaml_value(value)


# -- the package docstring's example --------------------------------------------------------------


def test_a_block_case_draw_warms_the_compiler_up_outside_the_test_body() -> None:
    """The first compile in a process imports most of the compiler (200-480 ms, past hypothesis's 200 ms
    deadline); the first draw does it, so the docstring's example never meets the deadline on it. Yet
    importing vibench.testing imports neither torch nor hypothesis."""
    script = """
import sys
import vibench.testing
assert "torch" not in sys.modules and "hypothesis" not in sys.modules, "imported by vibench.testing"
from hypothesis import given, settings
from vibench.testing import block_cases, compile_case
seen = []

@settings(max_examples=1, database=None)
@given(block_cases("conv1d"))
def test_conv(case):
    seen.append("vibench.compiler.pipeline" in sys.modules)

test_conv()
assert seen and seen[0], "the compiler was first imported inside the test body"
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_package_docstring_example_turns_the_deadline_off() -> None:
    doc = testing.__doc__ or ""
    example = doc[doc.index("    from hypothesis import given"):doc.index("A spec text is plain data")]
    assert "@settings(deadline=None)" in example
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(line[4:] for line in example.splitlines()), "<vibench.testing example>", "exec"),
         namespace)
    namespace["test_conv"]()
