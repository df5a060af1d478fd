"""One-node cases of a block on small inputs, and chains of blocks (see :mod:`vibench.testing`)."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.testing.params import block_params
from vibench.testing.runtime_inputs import SYSTEM_PORT, check_draw, mapped_ids
from vibench.testing.specs import (
    NODE,
    BlockCase,
    ChainCase,
    TensorCase,
    _inputs_text,
    _node_text,
    block_of,
    one_node_spec,
    output_ref,
)

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


def _tensors(draw: Any, block: Block, params: dict[str, Any] | None = None) -> tuple[TensorCase, ...]:
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
        out.append(TensorCase(name, shape, tuple(sizes[d] if isinstance(d, str) else d for d in layout), dtype,
                              positive=name in block.positive_inputs))
    ids = _system_ids(block, params or {}, len(out))
    if ids and "B" in sizes and (len(ids) > 1 or draw(st.booleans())):
        batch = sizes["B"] if "B" in fixed else "B"
        out.append(TensorCase(SYSTEM_PORT, (batch,), (sizes["B"],), "int64", fill=draw(st.sampled_from(ids))))
    return tuple(out)


def _system_ids(block: Block, params: dict[str, Any], given: int) -> list[int]:
    """The system ids a drawn case may feed to the block's optional ``system_id`` port (the port right
    after the ``given`` ones): the keys of the first parameter that maps system ids; none without one."""
    if block.variadic or SYSTEM_PORT not in block.optional_inputs or block.inputs.index(SYSTEM_PORT) != given:
        return []
    return mapped_ids(params.values())


def block_cases(name: str) -> SearchStrategy[BlockCase]:
    """One node of block ``name`` on small inputs (not yet compiled: see :func:`compile_case`).

    The inputs are the block's required ports, plus its optional ``system_id`` port (see
    :data:`SYSTEM_PORT`) when a drawn parameter maps system ids: always with several systems (the
    block needs it then), else every other draw. The first draw in a process compiles a tiny spec,
    so that the compiler's lazy imports (a few hundred ms) fall in the draw, not in a test's deadline.
    """
    import hypothesis.strategies as st

    block = block_of(name)
    params_of = block_params(name)  # a parameter it cannot draw is an error now, naming it

    @st.composite
    def cases(draw: Any) -> BlockCase:
        _warm_up()
        params = draw(params_of)
        return BlockCase(name, params, _tensors(draw, block, params))

    return cases()


@functools.cache
def _warm_up() -> None:
    """Compile a one-node spec once: the first compile in a process imports most of the compiler."""
    from vibench.api import check

    check(text=one_node_spec("relu", {}, (TensorCase("x", ("B", 4), (2, 4)),)), inputs={"x": (2, 4)})


def compile_case(case: BlockCase) -> tuple[BlockCase, Program]:
    """Compile a case with its concrete input shapes; ``hypothesis.reject()`` when the compiler refuses
    it. A multi-output node is compiled again with every port as an output (returned case).

    Any other exception is a bug of the block or of the compiler, and the test fails with it: it
    propagates unchanged, with a note naming the block and the spec it compiled (a spec strategy, which
    draws many blocks, records such a spec in its case's ``crashes`` instead).
    """
    import hypothesis

    from vibench.api import check
    from vibench.compiler.diagnostics import SpecError

    if not isinstance(case, BlockCase):
        hint = (" (check a ChainCase's .text with vibench.check)" if isinstance(case, ChainCase)
                else f" (a block name: draw a case with block_cases({case!r:.40}))" if isinstance(case, str) else "")
        raise TypeError(f"case is a vibench.testing.BlockCase (from block_cases), not {type(case).__name__}{hint}")
    try:
        program = check(text=case.text, inputs=case.bindings)
        ports = tuple(port for port, _ in program.root.node(NODE).outputs)
        if case.outputs is None and len(ports) > 1:
            case = replace(case, outputs=ports)
            program = check(text=case.text, inputs=case.bindings)
    except SpecError:
        hypothesis.reject()
    except Exception as err:
        _note(err, f"while compiling a case of block `{case.block}` (not a SpecError: a bug of the block or of "
              f"vibench), spec:\n{case.text}")
        raise
    return case, program


def _note(err: BaseException, text: str) -> None:
    """Add ``text`` to the traceback of ``err`` (Python 3.11 and later; nothing before)."""
    add_note = getattr(err, "add_note", None)
    if add_note is not None:
        add_note(text)


def random_inputs(inputs: tuple[TensorCase, ...], seed: int = 0) -> list[torch.Tensor]:
    """Random tensors of the given sizes and dtypes (integers and bools in {0, 1}; ``fill``: that value;
    ``choices``: each element one of them; ``positive``: floats from 0.5 to 1.5).

    A caller's mistake is a TypeError or ValueError naming the input, before anything is drawn: inputs
    that are not a sequence of TensorCase (a dict of sizes names no dtype), a ``seed`` that is no int,
    a dtype that is no dtype name of vibench, negative sizes or more than 2**28 elements (the bound of
    :func:`~vibench.testing.check_runtime`; an input with a size 0 holds none, so its other sizes must keep
    within that bound), more than 1,000 sizes, a ``fill`` the dtype cannot hold (1.5 or NaN for int64; a bool
    fills only a bool input).
    """
    import torch

    inputs = check_draw(inputs, seed)
    generator = torch.Generator().manual_seed(seed)
    out = []
    for t in inputs:
        dtype = getattr(torch, t.dtype)
        if t.fill is not None:  # a float dtype takes 2**70 as a float (as an int torch overflows)
            value = float(t.fill) if dtype.is_floating_point or dtype.is_complex else int(t.fill)
            out.append(torch.full(t.dims, value, dtype=dtype))
        elif t.choices:
            picks = torch.randint(0, len(t.choices), t.dims, generator=generator)
            out.append(torch.tensor(t.choices, dtype=dtype)[picks])
        elif t.positive and dtype.is_floating_point:
            out.append(torch.rand(t.dims, generator=generator, dtype=dtype) + 0.5)
        elif dtype.is_floating_point or dtype.is_complex:
            out.append(torch.randn(t.dims, generator=generator, dtype=dtype))
        else:
            out.append(torch.randint(0, 2, t.dims, generator=generator).to(dtype))
    return out


# --------------------------------------------------------------------------------------------
# chains
# --------------------------------------------------------------------------------------------


MAX_STEPS = 64
"""The most nodes :func:`chain_specs` and steps :func:`~vibench.testing.graph_specs` take (``max_nodes``).
Each step compiles the spec grown so far, so a draw costs about steps² / 2 node compiles, and hypothesis's
``too_slow`` health check gives the first ten draws 30 s together under ``deadline=None`` (1 s under its
default deadline, which the default ``max_nodes=8`` keeps within). On a machine of 2 shared cores the first
ten draws of ``graph_specs`` took 3 to 6 s at ``max_nodes=64``, 9 to 24 s at 128 and 63 s at 256 (the bound
was 256: the health check failed). Far below the compiler's own node limit,
:data:`vibench.compiler.limits.MAX_NODES`."""


MAX_TRIES = 64
"""The most draws a spec strategy makes for one step (``tries``): each draw compiles the spec grown so far, and a
step whose blocks never fit the graph spends them all (10**9 ran for ever)."""


def strategy_blocks(max_nodes: int, blocks: list[str] | None, tries: int) -> list[str]:
    """The block names a spec strategy draws from, after checking its arguments: TypeError for a value
    of the wrong kind (``blocks="relu"``: write ``["relu"]``), ValueError for ``max_nodes`` outside
    1..:data:`MAX_STEPS`, ``tries`` outside 1..:data:`MAX_TRIES`, no blocks or an unknown block (an
    :class:`~vibench.testing.specs.UnknownBlockError`, also a KeyError, with the name it may have meant);
    a block whose parameters cannot be drawn is the TypeError or ValueError of :func:`block_params`, naming it."""
    for what, value, high, bound in (("max_nodes", max_nodes, MAX_STEPS, "MAX_STEPS"),
                                     ("tries", tries, MAX_TRIES, "MAX_TRIES")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} is an int, not {type(value).__name__}")
        if not 1 <= value <= high:
            raise ValueError(f"{what} must be at least 1 and at most {high} ({bound}), got {value}")
    if blocks is None:
        names = sorted(registry.all_blocks())
        for name in names:
            block_params(name)  # each admitted block's parameters can be drawn (the block contract)
        return names
    if isinstance(blocks, str) or not isinstance(blocks, (list, tuple)):
        hint = f": write [{blocks!r}]" if isinstance(blocks, str) else ""
        raise TypeError(f"blocks is a list of block names, not a {type(blocks).__name__}{hint}")
    if not blocks:
        raise ValueError("blocks is empty: give at least one block name (None: the whole catalogue)")
    for name in blocks:
        if not isinstance(name, str):
            raise TypeError(f"blocks: a block name is a str, not {type(name).__name__} ({name!r:.40})")
        block_of(name)
        block_params(name)  # a parameter it cannot draw: an error naming the block, before any draw
    return list(blocks)


def chain_specs(max_nodes: int = 4, blocks: list[str] | None = None, tries: int = 6) -> SearchStrategy[ChainCase]:
    """Small valid specs of 1..``max_nodes`` blocks in sequence (``max_nodes`` at most :data:`MAX_STEPS`).

    The first node is drawn as by :func:`block_cases` (a block of ``blocks``, default the whole
    catalogue, on its own inputs, which become the spec's inputs); each later node is a block whose
    ``test_ranks`` and ``test_dtypes`` admit the previous node's output, and reads it on each of its
    required ports (the first piece of a chunk or split: ``n0.0``). A node is kept only if the spec
    still compiles (up to ``tries`` draws per step); a spec that made the compiler raise something other
    than a SpecError drops its step too, and is kept in the case's ``crashes``, as
    :func:`~vibench.testing.graph_specs` keeps them.
    ``blocks`` is a list of names (a str is a TypeError: write ``["relu"]``); ``tries`` is 1..:data:`MAX_TRIES`.
    """
    import hypothesis
    import hypothesis.strategies as st

    from vibench.api import check
    from vibench.compiler.diagnostics import SpecError

    names = strategy_blocks(max_nodes, blocks, tries)

    @st.composite
    def chains(draw: Any) -> ChainCase:
        inputs: tuple[TensorCase, ...] = ()
        lines: list[str] = []
        nodes: list[tuple[str, str]] = []
        current, rank, dtype = "", 0, ""
        crashes: list[tuple[str, str]] = []
        for k in range(draw(st.integers(1, max_nodes))):
            fitting = names if k == 0 else [n for n in names
                                            if rank in block_of(n).test_ranks and dtype in block_of(n).test_dtypes]
            if not fitting:
                break
            for _ in range(tries):
                name = draw(st.sampled_from(fitting))
                block = block_of(name)
                params = draw(block_params(name))
                if k == 0:
                    ins = _tensors(draw, block, params)
                    reads = [t.name for t in ins]
                else:
                    ins = inputs
                    reads = [current] * (block.min_inputs if block.variadic
                                         else len(block.inputs) - len(block.optional_inputs))
                line = _node_text(f"n{k}", name, params, reads)
                ref = output_ref(name, f"n{k}")  # `n0.0` for chunk and split: their bare name is E405
                text = _chain_text(ins, lines + [line], ref)
                try:
                    program = check(text=text, inputs={t.name: t.dims for t in ins})
                except SpecError:
                    continue
                except Exception as err:  # noqa: BLE001 - a bug of a block or of the compiler: kept, the step dropped
                    crashes.append((text, f"{type(err).__name__}: {err}"[:300]))
                    continue
                out = program.root.node(f"n{k}").outputs[0][1]
                inputs = ins
                lines.append(line)
                nodes.append((f"n{k}", name))
                current, rank, dtype = ref, len(out.shape), out.dtype
                break
            else:
                break
        if not nodes:
            hypothesis.reject()
        return ChainCase(_chain_text(inputs, lines, current), inputs, tuple(nodes), tuple(crashes))

    return chains()


def _chain_text(inputs: tuple[TensorCase, ...], node_lines: list[str], last: str) -> str:
    lines = ["vibench: 1", "name: ChainCase", *_inputs_text(inputs), "nodes:", *node_lines, "outputs:", f"  y: {last}"]
    return "\n".join(lines) + "\n"
