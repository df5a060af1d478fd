"""vibench.testing, QA round 1206j: mutants of a spec whose node names YAML reads as no string (`on:`, `1:`,
`~:`) and of a text nested past the compiler's bound are made, not an AttributeError or RecursionError;
``max_operators`` and ``tries`` have upper bounds, and a mutant lists at most ``max_operators`` operators (its
``set:`` override one of them); a graph case's features are those of its spec (an input made and dropped
again left ``several_inputs``); block_params draws within ``min_length`` / ``max_length`` / ``multiple_of`` /
``pattern`` or names the block and parameter it cannot draw; a bool input takes a bool ``fill``; the fuzz
report says where its static checks ran.
"""

from __future__ import annotations

import argparse
import random
from typing import Annotated, Any

import pytest
import torch
import yaml
from hypothesis import find, given, settings
from pydantic import Field, StringConstraints, create_model

import vibench
from vibench import testing
from vibench.compiler import registry
from vibench.compiler.blocks import base
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.load_compose import MAX_DEPTH
from vibench.schemas.blocks import BlockParams
from vibench.testing import blocks, graphs, mutation_text, mutation_tree, mutations

QUICK = settings(max_examples=15, deadline=None, derandomize=True, database=None)
RESNET = "examples/resnet18_1d.yaml"


# -- mutants of odd sources ----------------------------------------------------------------------

ODD_KEYS = [
    "vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes: {on: {block: relu, in: x}, off: {block: relu, in: on}}\n"
    "outputs: {y: off}\n",
    "vibench: 1\nname: M\nnodes: {1: {block: relu, in: x}, ~: {block: relu, in: 1}, yes: {block: 3, in: [1]}}\n",
    "vibench: 1\nname: M\nparams: {1: {type: int, default: 1}, on: {type: bool}}\nblocks: {B: {nodes: {no: {block: relu"
    ", in: x}}}}\nnodes: {true: {block: B, in: x}}\n",
]


@pytest.mark.parametrize("text", ODD_KEYS)
def test_a_source_whose_node_names_are_no_strings_is_mutated(text: str) -> None:
    for seed in range(150):
        mutant = testing.mutate(text, random.Random(seed), "odd.yaml", None, 5)
        assert 1 <= len(mutant.operators) <= 5
        assert mutant.params is None or all(isinstance(k, str) for k in mutant.params)  # as --set gives them


@pytest.mark.parametrize("name", [True, False, 1, None, 2.5])
def test_a_duplicate_of_a_node_named_by_no_string_gets_a_str_name(name: Any) -> None:
    for seed in range(20):
        data = {"nodes": {name: {"block": "relu", "in": "x"}}}
        assert mutation_tree._op_duplicate(data, random.Random(seed))
        assert name in data["nodes"] and len(data["nodes"]) == 2  # the original kept, as what it is
        assert all(isinstance(key, str) for key in data["nodes"] if key is not name and key != name)


def deep(levels: int) -> str:
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 500, 100_000])
def test_a_source_nested_past_the_compilers_bound_is_mutated_as_text(levels: int) -> None:
    text_names = {name for name, _ in mutation_text._TEXT_OPERATORS}
    for seed in range(20):
        mutant = testing.mutate(deep(levels), random.Random(seed))
        assert mutant.params is None and set(mutant.operators) <= text_names


def test_a_source_within_the_compilers_bound_gets_tree_operators() -> None:
    assert mutations._tree(deep(MAX_DEPTH)) is not None and mutations._tree(deep(MAX_DEPTH + 1)) is None
    tree_names = {name for name, _ in mutation_tree._TREE_OPERATORS}
    operators = [op.split(":")[0] for seed in range(40) for op in testing.mutate(deep(MAX_DEPTH), random.Random(seed),
                                                                                  max_operators=4).operators]
    assert tree_names & set(operators)


def test_mutated_specs_of_a_deep_source_are_drawn(tmp_path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(deep(500))

    @QUICK
    @given(testing.mutated_specs([("deep.yaml", str(path))]))
    def draw(mutant: testing.Mutant) -> None:
        assert mutant.operators

    draw()


# -- upper bounds, checked when the strategy is made -----------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: testing.mutate("a: 1\n", random.Random(0), max_operators=10**9),
    lambda: testing.mutated_specs(max_operators=10**9),
    lambda: testing.mutated_specs(max_operators=mutations.MAX_OPERATORS + 1),
    lambda: testing.chain_specs(tries=10**9),
    lambda: testing.graph_specs(tries=10**9),
    lambda: testing.graph_specs(tries=blocks.MAX_TRIES + 1),
    lambda: testing.graph_specs(max_nodes=blocks.MAX_STEPS + 1),
])
def test_operators_and_tries_have_an_upper_bound(make: Any) -> None:
    with pytest.raises(ValueError, match=r"at most \d+ \((MAX_OPERATORS|MAX_TRIES|MAX_STEPS)\)"):
        make()


def test_the_upper_bounds_are_taken() -> None:
    mutant = testing.mutate(open(RESNET).read(), random.Random(0), max_operators=mutations.MAX_OPERATORS)
    assert 1 <= len(mutant.operators) <= mutations.MAX_OPERATORS
    testing.graph_specs(max_nodes=blocks.MAX_STEPS, blocks=["relu"], tries=blocks.MAX_TRIES)


@pytest.mark.parametrize("most", [1, 2, 3])
def test_a_mutant_lists_at_most_max_operators_its_override_included(most: int) -> None:
    text = open(RESNET).read()
    mutants = [testing.mutate(text, random.Random(seed), "r", None, most) for seed in range(600)]
    assert max(len(m.operators) for m in mutants) <= most
    overridden = [m for m in mutants if m.params is not None]
    assert overridden and all(any(op.startswith("set: ") for op in m.operators) for m in overridden)


# -- a graph case's features are its spec's ---------------------------------------------------------


def spec_features(text: str) -> set[str]:
    """The features read off a generated spec's text."""
    data = yaml.safe_load(text)
    composites = data.get("blocks") or {}
    units = [data, *composites.values()]
    nodes = [node for unit in units for node in unit["nodes"].values()]
    found = {"several_inputs"} if len(data["inputs"]) > 1 else set()
    for node in nodes:
        if "repeat" in node:
            indexed = any(isinstance(v, str) and v.endswith(" + i}") for v in node.values())
            found.add("repeat_index" if indexed else "repeat")
        found.update(key for key in ("when", "for_each") if key in node)
    if composites:
        found.add("composite")
    if any("params" in unit for unit in composites.values()):
        found.add("composite_param")
    return found


@QUICK
@given(testing.graph_specs(max_nodes=6))
def test_a_graph_case_lists_the_features_of_its_spec(case: testing.GraphCase) -> None:
    written = {"several_inputs", "repeat", "repeat_index", "when", "for_each", "composite", "composite_param"}
    assert set(case.features) & written == spec_features(case.text), case.text


def minimal(strategy: Any, label: str | None = None) -> Any:
    """A draw of a strategy's simplest value (hypothesis's shrink target): the builder, driven step by step."""
    return find(strategy, lambda _: True, settings=settings(database=None, max_examples=50))


def test_an_input_made_for_a_step_that_was_dropped_is_no_feature() -> None:
    builder = graphs._Builder(minimal, ["relu"], 1, language=False)
    node = builder._wire(builder.root, "relu", builder.root.pool[0])
    assert node is not None
    builder.root.nodes.append(node)
    assert builder.accept(builder.root)
    builder._new_input(("B", "C"), {}, "float32", {})  # a step's fresh input, then the step fails
    builder._drop_unused_inputs()
    case = builder.finish()
    assert case is not None and len(case.inputs) == 1
    assert "several_inputs" not in case.features


# -- block_params draws within the constraints pydantic applies -----------------------------------


class Identity(base.Block):
    """Passes its input through."""

    def infer(self, p: Any, ins: list, ctx: Any) -> list:
        return [TensorType(ins[0].shape, ins[0].dtype)]

    def init_code(self, p: Any) -> Any:
        return c.call("nn.Identity")


class Bounded(BlockParams):
    taps: tuple[int, ...] = Field(min_length=5, max_length=7, description="At least five taps.")
    many: list[int] = Field([1] * 20, min_length=20, description="Twenty or more.")
    word: str = Field("abc", min_length=3, max_length=4, description="A short word.")
    code: str = Field("ab1", pattern=r"^[a-z]+\d$", description="Letters, then a digit.")
    padded: Annotated[str, StringConstraints(min_length=10, pattern="x")] = Field("x" * 10, description="Has an x.")
    step: int = Field(8, multiple_of=4, ge=3, description="A multiple of 4 from 4.")
    rate: float = Field(0.5, multiple_of=0.1, gt=0, le=1, description="Tenths.")
    table: dict[str, int] = Field({k: 1 for k in "abcdef"}, min_length=6, description="Six entries or more.")


class BoundedBlock(Identity):
    """Parameters with lengths, a pattern and multiples."""

    name, Params = "bounded_probe", Bounded


def block_of(name: str, **fields: Any) -> type[Identity]:
    params = create_model(f"P_{name}", __base__=BlockParams, **fields)
    return type(f"B_{name}", (Identity,), {"name": name, "Params": params, "__doc__": "A probe."})


UNDRAWABLE = {
    "length_bounds": (tuple[int, ...], Field(min_length=5, max_length=3)),
    "too_long": (list[int], Field(min_length=10_000)),
    "pattern_lengths": (str, Field(pattern="^ab$", min_length=5)),
    "pattern_too_long": (str, Field(pattern="a{3}", max_length=2)),
    "no_multiple": (int, Field(multiple_of=10, ge=1, le=9)),
    "fixed_tuple": (tuple[int, str], Field(min_length=3)),
}


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.all_blocks()
    extra = {name: block_of(name, value=field)() for name, field in UNDRAWABLE.items()}
    monkeypatch.setattr(registry, "_BLOCKS", {**registry._BLOCKS, "bounded_probe": BoundedBlock(), **extra})


@pytest.mark.usefixtures("probes")
def test_block_params_draws_within_lengths_patterns_and_multiples() -> None:
    @settings(max_examples=30, deadline=None, derandomize=True, database=None, suppress_health_check=[])
    @given(testing.block_cases("bounded_probe"))
    def draw(case: testing.BlockCase) -> None:  # the default health checks: no draw is filtered out
        Bounded.model_validate(case.params, strict=True)
        vibench.check(text=case.text, inputs=case.bindings)  # no SpecError either

    draw()


@pytest.mark.usefixtures("probes")
@pytest.mark.parametrize("name", sorted(UNDRAWABLE))
def test_a_constraint_no_draw_meets_is_an_error_naming_the_block_and_parameter(name: str) -> None:
    with pytest.raises(ValueError, match=rf"block `{name}`: parameter `value` cannot be drawn \(.+\); give the block "
                                         "`test_hints`"):
        testing.block_params(name)
    with pytest.raises(ValueError, match=f"block `{name}`"):
        testing.chain_specs(blocks=[name])


def test_the_catalogue_draws_as_before_where_it_declares_no_length() -> None:
    """dense_stack's `widths` (min_length=1, items ge=1) is drawn within both."""
    @QUICK
    @given(testing.block_params("dense_stack"))
    def draw(params: dict[str, Any]) -> None:
        widths = params.get("widths", (1,))
        assert 1 <= len(widths) <= 4 and all(w >= 1 for w in widths)

    draw()


# -- a bool fill ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fill", [True, False])
def test_a_bool_input_takes_a_bool_fill(fill: bool) -> None:
    (tensor,) = testing.random_inputs((testing.TensorCase("m", (2,), (2,), "bool", fill=fill),))
    assert tensor.dtype == torch.bool and tensor.tolist() == [fill, fill]


@pytest.mark.parametrize("dtype", ["int64", "float32", "complex64"])
def test_a_bool_fill_of_a_number_input_stays_refused(dtype: str) -> None:
    with pytest.raises(TypeError, match="the fill of 'm' is a number"):
        testing.random_inputs((testing.TensorCase("m", (2,), (2,), dtype, fill=True),))


# -- the fuzz report ------------------------------------------------------------------------------


def test_the_fuzz_report_says_where_its_static_checks_ran(capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import fuzz

    report = fuzz.Report()
    report.counts.update({"static checks": 110, "static checks in workers": 100, "valid": 5})
    report.seconds.update({"static checks": 2.0, "static checks cpu": 1.0, "valid": 1.0})
    data = fuzz.summary(argparse.Namespace(seed=1), report)
    fuzz.print_summary(data)
    out = capsys.readouterr().out
    assert "in-process" not in out
    assert "static checks: 110 (100 in worker processes, 10 in this process)" in out
    assert data["static_checks_in_workers"] == 100
