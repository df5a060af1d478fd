"""vibench.testing's arguments and shrinking (QA 1206): an unknown block name is a ValueError with the
name it may have meant; `check_runtime`'s `backends` of another kind or an unknown name, and an input
the model does not take, are errors, not findings; an output that is a parameter itself runs clean under
warnings-as-errors; a minimal `graph_specs` case that has a block builds it (optional features and
`repeat` shrink toward the simplest node that is on); and `mutated_specs(sources=)` and
`graph_specs(language=)` of the wrong form are errors that say what they take.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, settings

import vibench
from vibench import testing

LINEAR = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
          "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


# -- 1. an unknown block name ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda name: testing.chain_specs(blocks=[name]),
    lambda name: testing.graph_specs(blocks=[name]),
    lambda name: testing.block_cases(name),
    lambda name: testing.block_params(name),
])
def test_an_unknown_block_is_a_value_error_with_a_did_you_mean(make: Any) -> None:
    with pytest.raises(ValueError, match=r"unknown block `reluu`; did you mean `relu`\?") as caught:
        make("reluu")
    assert isinstance(caught.value, KeyError)  # as it was: `except KeyError` still catches it
    with pytest.raises(ValueError, match=r"unknown block `nope`; `vibench-compile --blocks` lists the catalogue"):
        make("nope")


def test_a_block_name_of_another_kind_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="a block name is a str, not int"):
        testing.block_cases(3)  # type: ignore[arg-type]


# -- 2. check_runtime's caller mistakes -----------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"backends": "script"}, TypeError, r"backends is a tuple of backend names .*not a str: write \('script',\)"),
    ({"backends": ["script", 3]}, TypeError, "a backend name is a str, not int"),
    ({"backends": None}, TypeError, "backends is a tuple of backend names"),
    ({"backends": ("torchscript",)}, ValueError,
     r"unknown backend 'torchscript'; the backends are `compile`, `export`, `script`: did you mean `script`\?"),
    ({"inputs": {"x": (2, 4), "z": (1,)}}, ValueError,
     r"inputs names 'z', which the model does not take: give only the inputs it takes \(x\)"),
    ({"inputs": {"X": (2, 4)}}, ValueError, r"inputs names 'X'.*did you mean `x`\?"),
    ({"inputs": (testing.TensorCase("x", ("B", 4), (2, 4)), testing.TensorCase("z", (1,), (1,)))}, ValueError,
     "inputs names 'z'"),
    ({"inputs": {}}, ValueError, r"inputs leaves out 'x': give every input the model takes \(x\)"),
])
def test_check_runtime_refuses_caller_mistakes(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    arguments = {"inputs": {"x": (2, 4)}, "backends": (), **kwargs}
    with pytest.raises(error, match=match):
        testing.check_runtime(LINEAR, **arguments)


def test_check_runtime_still_reports_a_refused_spec_with_its_own_inputs() -> None:
    """Sizes of the declared rank that the model's constraints refuse (a kernel longer than the signal) are the
    compiler's refusal, a finding; a size against a fixed one is the caller's mistake (tests/test_runtime2_1206.py)."""
    short = ("vibench: 1\nname: K\ninputs: {x: {shape: [B, 1, L]}}\n"
             "nodes: {c: {block: conv1d, in: x, out_channels: 2, kernel_size: 9}}\noutputs: {y: c}\n")
    (finding,) = testing.check_runtime(short, {"x": (2, 1, 4)}, backends=())
    assert finding.kind == "rejected" and "E305" in finding.message


# -- 3. warnings as errors --------------------------------------------------------------------------


def test_check_runtime_runs_clean_under_warnings_as_errors() -> None:
    spec = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 8, 4]}}\n"
            "nodes: {t: {block: learned_table, in: x, rows: 1, width: 3}}\noutputs: {y: t}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert testing.check_runtime(spec, {"x": (2, 8, 4)}, backends=()) == []


# -- 4. shrinking -----------------------------------------------------------------------------------


QUICK = settings(max_examples=30, database=None, deadline=None, suppress_health_check=list(HealthCheck))


def test_a_minimal_graph_with_a_block_builds_it() -> None:
    """The shrunk case that has `conv1d` is one or two nodes, and the model it builds has a Conv1d (not a
    `repeat: 0` or `when: false` node that lists the block but builds nothing). Over the whole catalogue
    (seeds 0..5 of 200 examples, minutes) the shrunk case is one or two nodes too."""
    case = find(testing.graph_specs(max_nodes=2, blocks=["conv1d", "relu"]),
                lambda case: "conv1d" in case.blocks, settings=QUICK, random=random.Random(0))
    nodes = case.text.split("\nnodes:\n")[-1].split("\noutputs:")[0].splitlines()
    assert len(nodes) <= 2, case.text
    assert "repeat: 0" not in case.text and "when: false" not in case.text, case.text
    assert "nn.Conv1d(" in vibench.compile_spec(text=case.text, inputs=case.bindings).source, case.text


def test_the_blocks_of_a_graph_case_are_those_its_model_builds() -> None:
    from vibench.testing.graphs import _built_blocks

    spec = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, 8]}}\nnodes:\n"
            "  c: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, repeat: 0}\n"
            "  a: {block: abs, in: c, when: false}\n"
            "  r: {block: relu, in: a, repeat: 2}\noutputs: {y: r}\n")
    assert _built_blocks(vibench.check(text=spec, inputs={"x": (2, 4, 8)}).root) == {"relu"}


def test_a_minimal_graph_has_no_optional_feature() -> None:
    case = find(testing.graph_specs(max_nodes=3, blocks=["relu"]), lambda case: True, settings=QUICK,
                random=random.Random(0))
    assert case.features == (), case.text


def test_a_minimal_repeat_builds_the_node() -> None:
    """A case that needs `repeat` shrinks to its simplest form that is on (2 copies), not to `repeat: 0`."""
    case = find(testing.graph_specs(max_nodes=1, blocks=["relu"]), lambda case: "repeat" in case.features,
                settings=QUICK, random=random.Random(0))
    assert "repeat: 2" in case.text and case.blocks == ("relu",), case.text


# -- 5. argument forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sources", "error", "match"), [
    ("examples/resnet18_1d.yaml", TypeError,
     r"sources is a list of \(shown name, path\) pairs .*not a str: write \[\('resnet18_1d.yaml', "),
    (["x.yaml"], TypeError, r"sources\[0\] is a \(shown name, path\) pair of str .*not str \('x.yaml'\)"),
    (("a.yaml", "examples/a.yaml"), TypeError, "not one pair: write"),
    ([("a", "b", "c")], TypeError, r"sources\[0\] .*not a tuple of 3 items"),
    ([("a", "no/such/spec.yaml")], ValueError, r"sources\[0\]: path 'no/such/spec.yaml' names no file"),
    ([], ValueError, "sources is empty"),
])
def test_mutated_specs_refuses_sources_of_the_wrong_form(sources: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        testing.mutated_specs(sources=sources)


def test_mutated_specs_refuses_a_source_that_is_not_text(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="cannot read the spec file"):
        testing.mutated_specs(sources=[("binary.yaml", str(binary))])


@pytest.mark.parametrize("language", ["no", None, 1])
def test_graph_specs_takes_language_as_a_bool(language: Any) -> None:
    with pytest.raises(TypeError, match="language is a bool"):
        testing.graph_specs(language=language)
