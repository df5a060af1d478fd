"""vibench.testing, QA round 1207b: minimise never builds the tree of a text nested deeper than the compiler
reads (it crashed: RecursionError, or a segfault at 100,000 levels); yaml_value writes numpy scalars and
subclasses of int, float and str as the plain values they hold; an oracle's timeout beyond a day is the
caller's ValueError, never a 'crash' finding; a float parameter bounded by nearly the whole float range is
drawn; random_inputs refuses sizes beyond 2**62 naming the input.

Second pass (QA2): minimise and mutate count aliases expanded when deciding tree or lines; random_inputs bounds
an input of no elements by its other sizes and reads at most 1,000 sizes; one_node_spec writes str subclasses
as their values; yaml_value refuses keys that load back as one, and values that contain themselves or nest past
64 levels; an infinite float bound is no bound; an oracle takes any real timeout."""

from __future__ import annotations

import enum
import itertools
import math
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings
from pydantic import Field

from vibench import testing
from vibench.compiler import registry
from vibench.compiler.blocks import base
from vibench.compiler.ir import TensorType
from vibench.schemas.blocks import BlockParams
from vibench.testing import TensorCase, oracles, params

ROOT = Path(__file__).resolve().parent.parent
QUICK = settings(max_examples=15, deadline=None, derandomize=True, database=None)
SPEC = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 2}}\n"
        "outputs: {y: fc}\n")


def nested(depth: int) -> str:
    return "vibench: 1\nname: M\ndoc: " + "[" * depth + "]" * depth + "\n"


# -- 1. minimise on deeply nested text ----------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 400, 2000])
def test_minimise_reduces_a_text_nested_deeper_than_the_compiler_reads_by_lines(depth: int) -> None:
    """400 to 2000 levels: RecursionError in yaml.dump (the tree was built, copied and dumped)."""
    assert testing.minimise(nested(depth), lambda t: "vibench" in t, budget=50) == "vibench: 1\n"


def test_minimise_of_a_100000_deep_text_does_not_crash_the_process() -> None:
    """libyaml's composer recursed in C and the process died (SIGSEGV): run in a process of its own."""
    code = ("from vibench.testing import minimise\n"
            "text = 'vibench: 1\\nname: M\\ndoc: ' + '[' * 100000 + ']' * 100000 + '\\n'\n"
            "print(repr(minimise(text, lambda t: 'vibench' in t, budget=50)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == repr("vibench: 1\n")


def test_minimise_still_reduces_the_tree_of_a_text_within_the_depth() -> None:
    text = "vibench: 1\nname: M\ndoc: " + "[" * 60 + "]" * 60 + "\nnodes: {a: {block: relu, in: x}}\n"
    assert testing.minimise(text, lambda t: "relu" in t, budget=100) == "nodes:\n  a: {block: relu}\n"


# -- 3. yaml_value of numpy scalars and subclasses ------------------------------------------------


class FloatChoice(float, enum.Enum):
    HALF = 0.5


class IntChoice(enum.IntEnum):
    THREE = 3


class StrChoice(str, enum.Enum):
    SAME = "same"


@pytest.mark.parametrize(("value", "written"), [
    (np.float64(0.5), "0.5"),  # was np.float64(0.5)
    (np.float32(0.25), "0.25"),  # was a TypeError
    (np.float16(2.0), "2.0"),
    (np.int64(3), "3"),  # was a TypeError
    (np.int8(-2), "-2"),
    (np.bool_(True), "true"),
    (np.str_("a b"), '"a b"'),
    (FloatChoice.HALF, "0.5"),  # was <FloatChoice.HALF: 0.5>
    (IntChoice.THREE, "3"),
    (StrChoice.SAME, '"same"'),
    (torch.tensor(4), "4"),
    (torch.tensor(0.25), "0.25"),
    ([np.float64(1e-05), {np.int64(1): np.float32(0.5)}], '[1.0e-05, {1: 0.5}]'),
])
def test_yaml_value_writes_numpy_scalars_and_subclasses_as_the_plain_values_they_hold(value: Any,
                                                                                      written: str) -> None:
    assert testing.yaml_value(value) == written
    assert yaml.safe_load(written) == yaml.safe_load(testing.yaml_value(value)) == value  # loads back as it


def test_one_node_spec_writes_a_numpy_parameter_as_the_compiler_reads_it() -> None:
    x = (TensorCase("x", ("B", 4), (2, 4)),)
    text = testing.one_node_spec("dropout", {"p": np.float64(0.25)}, x)
    assert "p: 0.25}" in text
    assert testing.check_static(text)[0] == "ok"


@pytest.mark.parametrize(("value", "error"), [
    (np.complex128(1), TypeError), (np.array([1, 2]), TypeError), (torch.tensor([1]), TypeError),
    (np.float32("nan"), ValueError), (np.float64("inf"), ValueError),
])
def test_yaml_value_refuses_what_no_spec_holds_also_from_numpy(value: Any, error: type) -> None:
    with pytest.raises(error, match="cannot write"):
        testing.yaml_value(value)


# -- 7. an oracle's timeout ----------------------------------------------------------------------


def test_a_timeout_beyond_a_day_is_the_callers_value_error_not_a_finding() -> None:
    """1e10 s: setitimer's OverflowError was a 'crash' finding (check_static) or raised raw (check_runtime)."""
    with pytest.raises(ValueError, match=r"timeout must be a positive number of seconds, at most 86400"):
        testing.check_static(SPEC, timeout=1e10)
    with pytest.raises(ValueError, match=r"timeout must be a positive number of seconds, at most 86400"):
        testing.check_runtime(SPEC, {"x": (2, 4)}, backends=(), timeout=1e10)
    assert testing.check_static(SPEC, timeout=oracles.MAX_TIMEOUT) == ("ok", [])


def test_the_fuzz_command_line_shares_the_oracles_bound() -> None:
    from scripts import fuzz_options

    assert fuzz_options.MAX_SECONDS == oracles.MAX_TIMEOUT


# -- 8. a float parameter bounded by nearly the whole float range --------------------------------


class WideParams(BlockParams):
    gain: float = Field(1.0, ge=-1.7e308, le=1.7e308, description="Any float, nearly.")
    scale: float = Field(gt=-1.79e308, lt=1.79e308, description="Required, open bounds.")


class WideBlock(base.Block):
    """A plug-in whose float bounds span more than the largest float: high - low overflowed to inf."""

    name, Params = "wide_float_1207b", WideParams

    def infer(self, p: Any, ins: list, ctx: Any) -> list:
        return [TensorType(ins[0].shape, ins[0].dtype)]


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.all_blocks()
    monkeypatch.setattr(registry, "_BLOCKS", {**registry._BLOCKS, "wide_float_1207b": WideBlock()})


@pytest.mark.usefixtures("wide")
def test_a_float_bounded_by_nearly_the_whole_float_range_is_drawn_finite_within_its_bounds() -> None:
    @QUICK
    @given(testing.block_params("wide_float_1207b"))
    def draw(values: dict[str, Any]) -> None:
        if "gain" in values:
            assert math.isfinite(values["gain"]) and -1.7e308 <= values["gain"] <= 1.7e308
        assert math.isfinite(values["scale"]) and -1.79e308 < values["scale"] < 1.79e308

    draw()
    testing.chain_specs(max_nodes=2)  # the default catalogue holds the plug-in: made, not refused
    points = [params._grid_point(-1.7e308, 1.7e308, k, False, False) for k in range(21)]
    assert points[0] == -1.7e308 and points[10] == 0.0 and points[20] == 1.7e308
    assert all(math.isfinite(p) for p in points) and points == sorted(points)


# -- 10. random_inputs sizes ---------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(0, 10**20), (2**62 + 1,), (2, 2**63)])
def test_random_inputs_refuses_a_size_beyond_2_62_naming_the_input(dims: tuple[int, ...]) -> None:
    """(0, 10**20) has no elements and passed the element bound: torch's "Overflow when unpacking long long"."""
    with pytest.raises(ValueError, match=r"^inputs\[0\]: the sizes of 'x' are at most 2\*\*62, got "):
        testing.random_inputs((TensorCase("x", ("B",) * len(dims), dims),))
    assert testing.random_inputs((TensorCase("x", ("B", "L"), (0, 2**14)),))[0].shape == (0, 2**14)


# == QA2 ======================================================================================
# -- 1. minimise and mutate: the limits counted with aliases expanded --------------------------


def anchor_chain(count: int) -> str:
    """Anchors each a list of the one before: ``count`` levels deep once expanded, two as written."""
    lines = ["vibench: 1", "name: M", "defs:", "  - &a0 [0]"]
    lines += [f"  - &a{k} [*a{k - 1}]" for k in range(1, count)]
    return "\n".join([*lines, "nodes: {a: {block: relu, in: x}}"]) + "\n"


def alias_fan(levels: int) -> str:
    """Ten aliases of ten aliases...: 10**levels values once expanded, in a few hundred characters."""
    lines = ["vibench: 1", "name: M", "l0: &l0 [1,1,1,1,1,1,1,1,1,1]"]
    lines += [f"l{k}: &l{k} [" + ",".join([f"*l{k - 1}"] * 10) + "]" for k in range(1, levels)]
    return "\n".join([*lines, "nodes: {a: {block: relu, in: x}}"]) + "\n"


def test_minimise_reduces_an_alias_chain_deeper_than_the_compiler_reads_by_lines() -> None:
    """700 anchors: a RecursionError in the dumper escaped minimise."""
    assert testing.minimise(anchor_chain(700), lambda t: "defs" in t, budget=300) == "defs:\n"


@pytest.mark.parametrize("text", [anchor_chain(2000), anchor_chain(65), alias_fan(8), alias_fan(6),
                                  "vibench: 1\nname: M\ndoc: &a [*a]\nnodes: {a: {block: relu, in: x}}\n"],
                         ids=["chain-2000", "chain-65", "fan-10**8", "fan-10**6", "contains-itself"])
def test_no_tree_is_built_of_a_text_beyond_the_limits_once_aliases_are_expanded(text: str) -> None:
    """2,000 anchors ran past a minute (every alias-expanded path walked), ten by ten aliases eight levels deep
    took 1.45 GB, and an alias of the node holding it never ended: each is reduced (and mutated) as text."""
    from vibench.testing.mutations import _tree

    assert _tree(text) is None
    assert testing.minimise(text, lambda t: "relu" in t, budget=20) == "nodes: {a: {block: relu, in: x}}\n"
    mutant = testing.mutate(text, random.Random(0), max_operators=3)
    assert mutant.params is None and all(op.startswith("text:") for op in mutant.operators)  # text operators only


def test_aliases_within_the_limits_still_give_a_tree() -> None:
    from vibench.testing.mutations import _tree

    within = "vibench: 1\nname: M\nd: &d {k: [1]}\nnodes: {a: {block: relu, in: x, p: *d}}\n"
    assert _tree(within) == {"vibench": 1, "name": "M", "d": {"k": [1]},
                             "nodes": {"a": {"block": "relu", "in": "x", "p": {"k": [1]}}}}
    assert _tree(anchor_chain(62)) is not None and _tree(alias_fan(4)) is not None
    deep = "a: &a " + "[" * 63 + "]" * 63 + "\n"  # 64 levels with the top mapping: the most the compiler reads
    assert _tree(deep + "b: *a\n") is not None
    assert _tree(deep + "b: [*a]\n") is None  # the alias one level further down: 65 levels


# -- 3. random_inputs: the bounds of check_runtime ------------------------------------------------


@pytest.mark.parametrize("dims", [(0, 2**62, 4), (0, 2**62, 2**62), (2**62, 0, 2), (0, 2**20, 2**20)])
def test_random_inputs_bounds_an_input_of_no_elements_by_its_other_sizes(dims: tuple[int, ...]) -> None:
    """torch's "Stride calculation overflowed", naming no input: the product of the other sizes was unbounded."""
    with pytest.raises(ValueError, match=r"^inputs\[0\] gives 'x' the sizes .* elements counting a size 0 as 1, "
                                         r"more than check_runtime and random_inputs draw"):
        testing.random_inputs((TensorCase("x", dims, dims),), 0)
    assert testing.random_inputs((TensorCase("x", (0, 4, 4), (0, 4, 4)),), 0)[0].shape == (0, 4, 4)


def test_random_inputs_reads_at_most_1000_sizes() -> None:
    """itertools.repeat(1) was read for ever; check_runtime reads 1,000 sizes at most (MAX_INPUT_SIZES)."""
    read = []

    def endless() -> Any:
        for k in itertools.count():
            if k > 10_000:
                raise AssertionError("sizes read past the bound")
            read.append(k)
            yield 1

    with pytest.raises(ValueError, match=r"^inputs\[0\]: the sizes of 'x' are more than 1,000 \(one per axis"):
        testing.random_inputs((TensorCase("x", ("B",), endless()),), 0)  # type: ignore[arg-type]
    assert len(read) == 1001
    with pytest.raises(ValueError, match="more than 1,000"):
        testing.random_inputs((TensorCase("x", ("B",), itertools.repeat(1)),), 0)  # type: ignore[arg-type]


def test_random_inputs_clips_the_sizes_it_shows() -> None:
    """A negative size among a million: a 3 MB message."""
    dims = (1,) * 999 + (-1,)
    with pytest.raises(ValueError, match=r"are integers >= 0, got \(1, 1, ") as raised:
        testing.random_inputs((TensorCase("x", dims, dims),), 0)
    assert len(str(raised.value)) < 300


# -- 6. one_node_spec: str subclasses as their values ---------------------------------------------


class Names(str, enum.Enum):
    X = "x"
    FLOAT = "float32"
    IN = "in_features"
    OUT = "out"


def test_one_node_spec_writes_str_subclasses_as_the_strs_they_hold() -> None:
    """A str Enum's __format__ wrote `Names.IN: 8` (and `Names.X`, `Names.FLOAT`) into the spec."""
    plain = testing.one_node_spec("linear", {"in_features": 8, "out_features": 4},
                                  (TensorCase("x", (2, 3, 8), (2, 3, 8), "float32"),), outputs=("out",))
    text = testing.one_node_spec("linear", {Names.IN: 8, "out_features": 4},
                                 (TensorCase(Names.X, (2, 3, 8), (2, 3, 8), Names.FLOAT),), outputs=(Names.OUT,))
    assert text == plain and "Names" not in text
    assert testing.one_node_spec("linear", {np.str_("in_features"): 8, "out_features": 4},
                                 (TensorCase(np.str_("x"), (2, 3, 8), (2, 3, 8), np.str_("float32")),),
                                 outputs=(np.str_("out"),)) == plain
    assert testing.check_static(text)[0] == "ok"


# -- 7. yaml_value: keys that load back as one; values that contain themselves or nest too deep ------


@pytest.mark.parametrize("mapping", [
    {torch.tensor(1): "a", torch.tensor(1): "b"},
    {torch.tensor(1.0): "a", 1: "b"},
    {torch.tensor(True): "a", 1: "b"},
    {np.float64(2.0): "a", torch.tensor(2): "b"},
])
def test_yaml_value_refuses_keys_that_load_back_as_one(mapping: dict[Any, str]) -> None:
    """`{1: "a", 1: "b"}` was written: the compiler refuses it (E005), PyYAML keeps "b" alone."""
    first, second = list(mapping)
    with pytest.raises(ValueError, match=rf"^cannot write the mapping keys {re.escape(repr(first))} and "
                                         rf"{re.escape(repr(second))} into one mapping of a spec: both load back as"):
        testing.yaml_value(mapping)
    assert testing.yaml_value({1: "a", "1": "b", 1.5: "c"}) == '{1: "a", "1": "b", 1.5: "c"}'


def test_yaml_value_refuses_a_value_that_contains_itself_or_nests_past_64_levels() -> None:
    """Both were a RecursionError."""
    looped: list[Any] = []
    looped.append(looped)
    mapping: dict[str, Any] = {}
    mapping["a"] = [mapping]
    for value, kind in ((looped, "list"), (mapping, "dict")):
        with pytest.raises(ValueError, match=f"^cannot write a {kind} that contains itself into a spec"):
            testing.yaml_value(value)
    deep: list[Any] = [0]
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="^cannot write a value nested deeper than 64 levels into a spec"):
        testing.yaml_value(deep)
    at_limit: Any = 0
    for _ in range(64):
        at_limit = [at_limit]
    assert testing.yaml_value(at_limit) == "[" * 64 + "0" + "]" * 64
    with pytest.raises(ValueError, match="deeper than 64 levels"):
        testing.yaml_value([at_limit])
    shared = [1, 2]
    assert testing.yaml_value([shared, {"k": shared}]) == '[[1, 2], {"k": [1, 2]}]'  # shared, not looped


# -- 8. an infinite float bound is no bound -----------------------------------------------------


class InfiniteBounds(BlockParams):
    below: float = Field(0.5, ge=-math.inf, le=1.0, description="Up to 1.")
    below_open: float = Field(0.5, gt=-math.inf, lt=1.0, description="Under 1.")
    above: float = Field(0.5, ge=0.0, le=math.inf, description="From 0.")
    above_open: float = Field(0.5, ge=0.0, lt=math.inf, description="From 0, open.")
    count: int = Field(2, ge=-math.inf, le=8, description="An int up to 8.")


class InfiniteBlock(base.Block):
    """A plug-in whose bounds are infinite on their own side: a grid of infinities, or none."""

    name, Params = "infinite_bounds_1207b", InfiniteBounds

    def infer(self, p: Any, ins: list, ctx: Any) -> list:
        return [TensorType(ins[0].shape, ins[0].dtype)]


def test_a_float_bounded_by_an_infinity_is_drawn_finite_within_its_other_bound(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """ge=-inf, le=1.0 drew only -inf; gt=-inf, lt=1.0 said "no float of its grid lies within its bounds"."""
    registry.all_blocks()
    monkeypatch.setattr(registry, "_BLOCKS", {**registry._BLOCKS, "infinite_bounds_1207b": InfiniteBlock()})
    drawn: dict[str, set[Any]] = {}

    @QUICK
    @given(testing.block_params("infinite_bounds_1207b"))
    def draw(values: dict[str, Any]) -> None:
        for key, value in values.items():
            drawn.setdefault(key, set()).add(value)
            assert math.isfinite(value)
            testing.yaml_value(value)  # a spec can hold it
        assert values.get("below", 0) <= 1.0 and values.get("below_open", 0) < 1.0
        assert values.get("above", 0) >= 0.0 and values.get("above_open", 0) >= 0.0 and values.get("count", 0) <= 8

    draw()
    assert all(len(values) > 1 for values in drawn.values()), drawn


# -- 10. an oracle's timeout of any real type ------------------------------------------------------


def test_an_oracle_takes_a_timeout_of_any_real_type_and_says_a_huge_one() -> None:
    """np.float32(10) and np.int64(10) were a TypeError (np.float64 passed); 10**5000 raised Python's "Exceeds the
    limit (4300 digits)" while the message was written."""
    for timeout in (np.float32(10), np.int64(10), np.float64(10), 10):
        oracles.check_arguments(SPEC, timeout=timeout)
    assert testing.check_static(SPEC, timeout=np.float32(10)) == ("ok", [])
    with pytest.raises(ValueError, match=r"at most 86400 \(a day; None: no limit\), got an integer of more than 300 "
                                         r"digits$"):
        oracles.check_arguments(SPEC, timeout=10**5000)
    with pytest.raises(ValueError, match=r"got 100000\.0$"):
        oracles.check_arguments(SPEC, timeout=np.float32(1e5))
    with pytest.raises(TypeError, match="^timeout is a number of seconds"):
        oracles.check_arguments(SPEC, timeout=np.bool_(True))
