"""Hypothesis strategies for vibench specs, driven by the block registry, and the differential checks
that the fuzz campaign (``make fuzz``) and the test suite run on them.

Everything a strategy needs comes from what a block declares — its pydantic parameter model
(types, bounds, defaults), ``test_ranks``, ``test_dtypes``, ``test_layouts`` and ``test_hints``
(see :class:`vibench.compiler.blocks.base.Block`) — so a new block, built-in or plugin, is covered
without a line here; its hints must make most draws valid (tests/test_testing_api.py checks every
block under hypothesis's default health checks). Block draws are *plausible*, not guaranteed valid:
compile them with :func:`compile_case`, which rejects (``hypothesis.reject``) the ones the compiler
refuses. Optional ports are left out, except ``system_id`` (per-system routing,
:data:`~vibench.testing.blocks.SYSTEM_PORT`), fed when a parameter maps system ids.

* :func:`block_params` — parameter values for one block;
* :func:`block_cases` — one node of a block on small inputs (a :class:`BlockCase`);
* :func:`chain_specs` — small valid specs of several blocks in sequence, the first on its own
  inputs as :func:`block_cases` draws them (a :class:`ChainCase`);
* :func:`graph_specs` — whole valid specs (a :class:`GraphCase`): DAGs over the whole catalogue with
  multi-input and multi-output blocks, local composites, ``repeat``, ``when`` and ``for_each``;
* :func:`mutated_specs` — mutations of the shipped specs, each of 1..``max_operators`` operators
  (a :class:`Mutant`; mostly broken specs, some still valid);
* :func:`check_static` (spec text) and :func:`check_runtime` (spec text and its inputs: TensorCases
  or a dict of sizes) — the oracles (a list of :class:`Finding`; an argument of the wrong kind or
  value is a TypeError or ValueError, not a finding);
  :func:`minimise` and :mod:`vibench.testing.regressions` — shrinking and saving failures;
* :func:`one_node_spec` — the spec text of one node; :func:`random_inputs` — tensors for a case.

Input shapes use symbols whose name sets their range: ``B`` is a batch (1..4), ``L`` and ``S`` are
sequence lengths (1..32, often a power of two), any other symbol is a width (1..8, sometimes 12 or
16), except that an input :func:`graph_specs` wires beside a value takes that value's size under an alias
(`K2`, `D2`), which may be larger; integers in a layout are fixed sizes. Each symbol is declared either as a
symbol (bound through ``inputs=``) or as its number, so shape rules meet both free and compile-time dimensions.
hypothesis (and torch, for :func:`random_inputs` and :func:`check_runtime`) are imported only when a
function here is called, so importing this package costs nothing. A case compiles in milliseconds,
but a slow machine or a first use of a block may pass hypothesis's 200 ms deadline: turn it off::

    from hypothesis import given, settings
    from vibench.testing import block_cases, compile_case

    @settings(deadline=None)
    @given(block_cases("conv1d"))
    def test_conv(case):
        case, program = compile_case(case)
        assert program.root.node("layer").outputs

A spec text is plain data (``yaml_value`` writes literals):

>>> from vibench.testing import TensorCase, one_node_spec
>>> print(one_node_spec("relu", {}, (TensorCase("x", ("B", 4), (2, 4)),)).splitlines()[5])
  layer: {block: relu, in: x}
"""

from __future__ import annotations

from vibench.testing import (
    blocks,
    graphs,
    mutations,
    oracles,
    oracles_runtime,
    params,
    reduce,
    regressions,
    runtime_inputs,
    specs,
)
from vibench.testing.blocks import block_cases, chain_specs, compile_case, random_inputs
from vibench.testing.graphs import GraphCase, graph_specs
from vibench.testing.mutations import Mutant, mutate, mutated_specs, shipped_specs
from vibench.testing.oracles import Finding, check_static
from vibench.testing.oracles_runtime import check_runtime
from vibench.testing.params import block_params
from vibench.testing.reduce import minimise
from vibench.testing.regressions import Regression
from vibench.testing.specs import NODE, BlockCase, ChainCase, TensorCase, one_node_spec, yaml_value

__all__ = [
    "NODE", "TensorCase", "BlockCase", "ChainCase", "GraphCase", "Mutant", "Finding",
    "yaml_value", "one_node_spec", "block_params", "block_cases", "compile_case", "random_inputs",
    "chain_specs", "graph_specs", "mutated_specs", "mutate", "shipped_specs",
    "check_static", "check_runtime", "minimise", "Regression",
]

# The submodules' docstring examples run with this package's (doctest.testmod(vibench.testing)).
_DOCUMENTED = (specs, params, blocks, graphs, mutations, oracles, oracles_runtime, runtime_inputs, reduce, regressions)
__test__ = {f"{module.__name__}.{name}": obj for module in _DOCUMENTED for name, obj in vars(module).items()
            if getattr(obj, "__module__", None) == module.__name__ and getattr(obj, "__doc__", None)}
__test__.update({module.__name__: module.__doc__ or "" for module in _DOCUMENTED})
