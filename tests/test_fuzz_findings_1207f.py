"""Six defects a fuzz QA pass found on 12-07, each a spec that compiled and then failed, or a finding that was not:

* ``layer_norm`` with ``normalized_shape: []`` compiled to ``nn.LayerNorm(())``, which torch refuses at the first
  call. Now it is E104 at ``normalized_shape``, as a reduction's ``dim: []`` is.
* ``reshape`` to ``shape: []`` (a one-element tensor to a scalar) and ``permute`` of a rank-0 input with
  ``dims: []`` compiled to ``x.reshape()`` and ``x.permute()``: a TypeError. Now they are ``reshape(())`` and
  ``permute(())``, and run.
* ``flatten`` of a rank-0 input said ``[1]`` for any axes, where ``torch.flatten(x, 1)`` (the default
  ``start_dim``) raises IndexError. Now torch's axis rule holds: -1 or 0 give ``[1]``, others are E301.
* ``graph_specs`` wired a node's values into a port that takes positive values only (``fs`` of the HSE
  embeddings after ``scale`` by -1): the model rightly refused them, and the campaign saved a regression that
  could never pass. Now such a port reads a model input, which the case draws positive.
* A reference ending in a dot (``in: 'r.'``, ``outputs: {y: 'r.'}``) was read as the bare node, silently. Now it
  is E405 at the reference, with a hint.
"""

from __future__ import annotations

import types

import pytest
import torch
import yaml
from hypothesis import HealthCheck, Phase, given, settings

import vibench
from vibench import testing
from vibench.compiler import registry

torch.set_num_threads(1)


def spec(inputs: str, nodes: str, outputs: str = "y: n") -> str:
    return f"vibench: 1\nname: T\ninputs: {{{inputs}}}\nnodes:\n{nodes}\noutputs: {{{outputs}}}\n"


def refused(text: str) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    return info.value


def run_both(text: str, inputs: dict[str, tuple[int, ...]], x: torch.Tensor) -> list[torch.Tensor]:
    """The output of the model ``vibench.build`` makes and of the model.py ``compile_spec`` writes, on ``x``."""
    module = types.ModuleType("emitted_fuzz_1207f")
    exec(compile(vibench.compile_spec(text=text, inputs=inputs).source, module.__name__, "exec"), module.__dict__)
    models = [vibench.build(text=text, inputs=inputs), module.T()]
    with torch.no_grad():
        return [model.eval()(x) for model in models]


# -- 1. layer_norm normalises no dimension ------------------------------------------------------------


def test_layer_norm_of_no_dimension_is_refused_at_the_parameter() -> None:
    err = refused(spec("x: {shape: [B, 4]}", "  n: {block: layer_norm, in: x, normalized_shape: []}"))
    (d,) = err.diagnostics
    assert (d.code, d.pos.line, d.pos.col) == ("E104", 5, 33)  # the key `normalized_shape`
    assert "names no dimension" in d.message and "leave `normalized_shape` out" in (d.hint or "")


def test_layer_norm_of_the_trailing_dimensions_still_compiles() -> None:
    text = spec("x: {shape: [B, 2, 4]}", "  n: {block: layer_norm, in: x, normalized_shape: [2, 4]}")
    assert [tuple(o.shape) for o in run_both(text, {}, torch.randn(3, 2, 4))] == [(3, 2, 4)] * 2


# -- 2, 3. a rank-0 reshape and permute ---------------------------------------------------------------


@pytest.mark.parametrize("shape,bound", [("[1, 1]", {}), ("[B, C]", {"B": 1, "C": 1})])
def test_reshape_to_a_scalar_runs(shape: str, bound: dict[str, int]) -> None:
    text = spec(f"x: {{shape: {shape}}}", "  n: {block: reshape, in: x, shape: []}")
    assert "x.reshape(())" in vibench.compile_spec(text=text).source
    outs = run_both(text, {"x": (1, 1)} if bound else {}, torch.full((1, 1), 2.5))
    assert [(tuple(o.shape), o.item()) for o in outs] == [((), 2.5)] * 2


def test_permute_of_a_scalar_runs() -> None:
    text = spec("x: {shape: []}", "  n: {block: permute, in: x, dims: []}")
    assert "x.permute(())" in vibench.compile_spec(text=text).source
    assert [(tuple(o.shape), o.item()) for o in run_both(text, {}, torch.tensor(2.5))] == [((), 2.5)] * 2


# -- 4. flatten of a rank-0 input ---------------------------------------------------------------------


@pytest.mark.parametrize("start,end", [(0, -1), (-1, -1), (0, 0), (-1, 0), (1, -1), (0, 1), (-2, -1), (0, -2)])
def test_flatten_of_a_scalar_takes_the_axes_torch_takes(start: int, end: int) -> None:
    text = spec("x: {shape: []}", f"  n: {{block: flatten, in: x, start_dim: {start}, end_dim: {end}}}")
    try:
        expected = tuple(torch.flatten(torch.tensor(2.5), start, end).shape)
    except IndexError:
        (d,) = refused(text).diagnostics
        assert d.code == "E301" and "out of range for a rank-0 input" in d.message
        assert d.expected is not None and "in [-1, 0]" in d.expected
        return
    assert tuple(vibench.check(text=text).root.outputs[0][2].shape) == expected == (1,)
    assert [tuple(o.shape) for o in run_both(text, {}, torch.tensor(2.5))] == [expected] * 2


def test_flatten_of_a_scalar_with_the_default_start_dim_says_how_to_flatten_it() -> None:
    (d,) = refused(spec("x: {shape: []}", "  n: {block: flatten, in: x}")).diagnostics
    assert (d.code, d.found) == ("E301", "1")
    assert "`start_dim: 0`" in (d.hint or "")


# -- 5. graph_specs feeds a positive-only port from an input ------------------------------------------

READS: list[str] = []  # what the positive-only ports read, over the draws


@settings(max_examples=150, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
@given(testing.graph_specs(max_nodes=6, blocks=["hse_patch_sampling", "scale"]))
def check_positive_ports(case: testing.GraphCase) -> None:
    doc = yaml.safe_load(case.text)
    units = [("model", doc), *((name, body) for name, body in (doc.get("blocks") or {}).items())]
    for where, unit in units:
        for node in unit["nodes"].values():
            block = registry.get(node["block"])
            for port in block.positive_inputs if block is not None else ():
                ref = node["in"][port]
                READS.append(ref)
                assert where == "model" and ref in doc["inputs"], case.text


def test_graph_specs_feed_a_positive_only_port_from_a_model_input() -> None:
    READS.clear()
    check_positive_ports()
    assert READS, "no case had a port that takes positive values only: the test drew nothing it checks"


# -- 7. a reference that ends in a dot ----------------------------------------------------------------

TWO_NODES = "  r: {block: relu, in: x}\n  c: {block: chunk, in: x, chunks: 2, dim: 1}\n"


@pytest.mark.parametrize(
    "nodes,outputs,written,line,col",
    [
        ("  n: {block: relu, in: 'r.'}", "y: n", "r.", 7, 24),
        ("  n: {block: relu, in: 'c.'}", "y: n", "c.", 7, 24),  # not "a bare `c` names none of the 2 outputs"
        ("  n: {block: relu, in: {x: 'x.'}}", "y: n", "x.", 7, 28),  # x is an input: it has no ports
        ("  n: {block: relu, in: r}", "y: 'x.'", "x.", 9, 14),
        ("  n: {block: add, in: [r, 'r. ']}", "y: n", "r. ", 7, 27),
        ("  n: {block: relu, in: r}", "y: 'n.'", "n.", 9, 14),
        ("  n: {block: relu, in: r}", "y: {from: 'n.'}", "n.", 9, 21),
    ],
)
def test_a_reference_ending_in_a_dot_is_refused_where_it_is_written(
        nodes: str, outputs: str, written: str, line: int, col: int) -> None:
    text = spec("x: {shape: [B, 4]}", TWO_NODES + nodes + "\n  z: {block: concat, in: [r, c.0, c.1], dim: 1}",
                outputs + ", z: z")
    errors = [d for d in refused(text).diagnostics if d.severity == "error"]
    assert [(d.code, d.pos.line, d.pos.col) for d in errors] == [("E405", line, col)]
    name = written.strip(" .")
    if name == "x":  # the graph's input has no ports, so the hint does not offer one
        assert errors[0].hint == "`x` is an input, which has no ports: write `x`"
        assert errors[0].expected == "`x`"
    else:
        assert errors[0].hint == f"`{written}` names no port: write `{name}` or `{name}.<port>`"
    assert errors[0].found == f"`{written}`"


def test_a_reference_with_its_port_still_reads_the_port() -> None:
    text = spec("x: {shape: [B, 4]}", TWO_NODES + "  n: {block: concat, in: [c.0, c.1, r], dim: 1}", "y: n, z: c.0")
    assert [name for name, _, _ in vibench.check(text=text).root.outputs] == ["y", "z"]


def test_a_dot_alone_is_still_an_unknown_value() -> None:
    errors = [d for d in refused(spec("x: {shape: [B, 4]}", "  n: {block: relu, in: '.'}")).diagnostics
              if d.severity == "error"]
    assert [d.code for d in errors] == ["E401"]
