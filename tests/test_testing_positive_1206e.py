"""graph_specs draws a positive value for an input that a block reads as a sampling rate
(Block.positive_inputs), as block_cases and chain_specs do: its inputs are marked `positive`, so
`model(*testing.random_inputs(case.inputs))` runs (docs/api.md). It gave `fs` N(0, 1) values, and the
case's own model refused them (`input 'fs' ... must be positive and finite`)."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, Phase, given, settings

import vibench
from vibench import testing
from vibench.compiler.codegen.checks import positive

SEEN: list[str] = []  # the inputs marked positive over the draws


@settings(max_examples=30, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck), derandomize=True)
@given(testing.graph_specs(max_nodes=2, blocks=["hse_sequence_patches", "relu"]))
def check_a_graph_case(case: testing.GraphCase) -> None:
    program = vibench.check(text=case.text, inputs=case.bindings)
    for t in case.inputs:  # every input a sampling rate reaches, and only those
        assert t.positive == positive(program.root, t.name), (t, case.text)
        if t.positive:
            SEEN.append(t.name)
    model = vibench.build(text=case.text, inputs=case.bindings).eval()
    with torch.no_grad():
        model(*testing.random_inputs(case.inputs))  # its own model takes the values drawn for it


def test_graph_specs_draws_a_sampling_rate_positive() -> None:
    SEEN.clear()
    check_a_graph_case()
    assert SEEN, "no case read a sampling rate: the test drew nothing it checks"

