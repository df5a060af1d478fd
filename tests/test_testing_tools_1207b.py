"""vibench.testing, QA round 1207b: minimise never builds the tree of a text nested deeper than the compiler
reads (it crashed: RecursionError, or a segfault at 100,000 levels); yaml_value writes numpy scalars and
subclasses of int, float and str as the plain values they hold; an oracle's timeout beyond a day is the
caller's ValueError, never a 'crash' finding; a float parameter bounded by nearly the whole float range is
drawn; random_inputs refuses sizes beyond 2**62 naming the input."""

from __future__ import annotations

import enum
import math
import os
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
    assert testing.random_inputs((TensorCase("x", ("B", "L"), (0, 2**62)),))[0].shape == (0, 2**62)
