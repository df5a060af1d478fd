"""One-node cases of a block on small inputs, and chains of blocks (see :mod:`vibench.testing`)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.testing.params import block_params
from vibench.testing.specs import NODE, BlockCase, ChainCase, TensorCase, _inputs_text, _node_text, block_of

if TYPE_CHECKING:
    import torch
    from hypothesis.strategies import SearchStrategy

    from vibench.compiler.blocks.base import Block
    from vibench.compiler.ir import Program

RANK_LAYOUTS = {1: ("L",), 2: ("B", "C"), 3: ("B", "C", "L"), 4: ("B", "C", "H", "L")}
"""The symbols of an input of each rank (rank 1 is a sequence, 2 a batch of vectors...)."""


def symbol_sizes(symbol: str) -> SearchStrategy[int]:
    """Sizes for a symbol: ``B`` 1..4, ``L`` and ``S`` 1..32 (often a power of two), others 1..16."""
    import hypothesis.strategies as st

    if symbol == "B":
        return st.integers(1, 4)
    if symbol in ("L", "S"):
        return st.one_of(st.sampled_from([4, 8, 16, 32]), st.integers(1, 32))
    return st.one_of(st.integers(1, 8), st.sampled_from([12, 16]))


def _layouts(block: Block) -> SearchStrategy[tuple[tuple[str | int, ...], ...]]:
    """Declared shapes per input: the block's ``test_layouts``, else one rank-r layout shared by all
    required inputs."""
    import hypothesis.strategies as st

    if block.test_layouts:
        return st.sampled_from([tuple(tuple(_dim(d) for d in layout.split()) for layout in alt)
                                for alt in block.test_layouts])

    def layout(rank: int) -> tuple[str | int, ...]:
        return RANK_LAYOUTS.get(rank) or ("B",) + tuple(f"D{k}" for k in range(1, rank))

    if block.variadic:
        count = st.integers(block.min_inputs, block.min_inputs + 1)
    else:
        count = st.just(len(block.inputs) - len(block.optional_inputs))
    return st.tuples(st.sampled_from(block.test_ranks), count).map(lambda rc: (layout(rc[0]),) * rc[1])


def _dim(text: str) -> str | int:
    return int(text) if text.isdigit() else text


def _port_names(block: Block, count: int) -> list[str]:
    if block.variadic:
        return [f"{block.inputs[0]}{k}" for k in range(count)]
    return list(block.inputs[:count])


def _tensors(draw: Any, block: Block) -> tuple[TensorCase, ...]:
    import hypothesis.strategies as st

    layouts = draw(_layouts(block))
    symbols = sorted({d for layout in layouts for d in layout if isinstance(d, str)})
    sizes = {s: draw(symbol_sizes(s)) for s in symbols}
    # Some symbols are written as their number: rules see both free and compile-time dimensions.
    fixed = {s for s in symbols if draw(st.booleans())}
    dtype = draw(st.sampled_from(block.test_dtypes))
    names = _port_names(block, len(layouts))
    out = []
    for name, layout in zip(names, layouts, strict=True):
        shape = tuple(sizes[d] if d in fixed else d for d in layout)
        out.append(TensorCase(name, shape, tuple(sizes[d] if isinstance(d, str) else d for d in layout), dtype))
    return tuple(out)


def block_cases(name: str) -> SearchStrategy[BlockCase]:
    """One node of block ``name`` on small inputs (not yet compiled: see :func:`compile_case`)."""
    import hypothesis.strategies as st

    block = block_of(name)

    @st.composite
    def cases(draw: Any) -> BlockCase:
        return BlockCase(name, draw(block_params(name)), _tensors(draw, block))

    return cases()


def compile_case(case: BlockCase) -> tuple[BlockCase, Program]:
    """Compile a case with its concrete input shapes; ``hypothesis.reject()`` when the compiler refuses
    it. A multi-output node is compiled again with every port as an output (returned case)."""
    import hypothesis

    from vibench.api import check
    from vibench.compiler.diagnostics import SpecError

    try:
        program = check(text=case.text, inputs=case.bindings)
        ports = tuple(port for port, _ in program.root.node(NODE).outputs)
        if case.outputs is None and len(ports) > 1:
            case = replace(case, outputs=ports)
            program = check(text=case.text, inputs=case.bindings)
    except SpecError:
        hypothesis.reject()
    return case, program


def random_inputs(inputs: tuple[TensorCase, ...], seed: int = 0) -> list[torch.Tensor]:
    """Random tensors of the given sizes and dtypes (integers and bools in {0, 1}; ``fill``: that value)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    out = []
    for t in inputs:
        dtype = getattr(torch, t.dtype)
        if t.fill is not None:
            out.append(torch.full(t.dims, t.fill, dtype=dtype))
        elif dtype.is_floating_point or dtype.is_complex:
            out.append(torch.randn(t.dims, generator=generator, dtype=dtype))
        else:
            out.append(torch.randint(0, 2, t.dims, generator=generator).to(dtype))
    return out


# --------------------------------------------------------------------------------------------
# chains
# --------------------------------------------------------------------------------------------


def chain_specs(max_nodes: int = 4, blocks: list[str] | None = None, tries: int = 6) -> SearchStrategy[ChainCase]:
    """Small valid specs: an input ``x`` and up to ``max_nodes`` blocks, each reading the previous one.

    Each step draws a block whose ``test_ranks`` and ``test_dtypes`` admit the current value, then
    its parameters, and keeps the node only if the spec still compiles (up to ``tries`` draws per
    step). A block with several required inputs reads the previous value on each of them.
    """
    import hypothesis
    import hypothesis.strategies as st

    from vibench.api import check
    from vibench.compiler.diagnostics import SpecError

    names = blocks if blocks is not None else list(registry.all_blocks())

    @st.composite
    def chains(draw: Any) -> ChainCase:
        rank = draw(st.sampled_from([2, 3]))
        layout = RANK_LAYOUTS[rank]
        x = TensorCase("x", layout, tuple(draw(symbol_sizes(s)) for s in layout))
        lines: list[str] = []
        nodes: list[tuple[str, str]] = []
        current, rank, dtype = "x", len(layout), x.dtype
        for k in range(draw(st.integers(1, max_nodes))):
            fitting = [n for n in names if rank in block_of(n).test_ranks and dtype in block_of(n).test_dtypes]
            if not fitting:
                break
            for _ in range(tries):
                name = draw(st.sampled_from(fitting))
                block = block_of(name)
                count = block.min_inputs if block.variadic else len(block.inputs) - len(block.optional_inputs)
                line = _node_text(f"n{k}", name, draw(block_params(name)), [current] * count)
                text = _chain_text(x, lines + [line], f"n{k}")
                try:
                    program = check(text=text, inputs={"x": x.dims})
                except SpecError:
                    continue
                out = program.root.node(f"n{k}").outputs[0][1]
                lines.append(line)
                nodes.append((f"n{k}", name))
                current, rank, dtype = f"n{k}", len(out.shape), out.dtype
                break
            else:
                break
        if not nodes:
            hypothesis.reject()
        return ChainCase(_chain_text(x, lines, current), (x,), tuple(nodes))

    return chains()


def _chain_text(x: TensorCase, node_lines: list[str], last: str) -> str:
    lines = ["vibench: 1", "name: ChainCase", *_inputs_text((x,)), "nodes:", *node_lines, "outputs:", f"  y: {last}"]
    return "\n".join(lines) + "\n"
