"""Whole random specs across the block catalogue: DAGs grown one checked node at a time.

NNSmith-style: a spec starts from one input and grows by drawing a block from the registry, wiring
its ports to values already in the graph whose rank, dtype and layout fit (or to a fresh model input
when none fits; a port that takes positive values only, a sampling rate, reads a model input, drawn
positive), drawing its parameters, and keeping the node only when the whole spec still
compiles with the concrete input sizes. On top of plain nodes the generator uses the language:
local composite blocks (with parameters, nesting and reuse), ``repeat`` (with ``${i}``), ``when``
(constant or a spec parameter), ``for_each`` (over a parameter or over composite names, the list
consumed whole or by element) and multi-output ports (``node.port``). Every value that feeds
nothing becomes an output, and with some probability every value does, so that a forward pass
can be compared with the static prediction node by node.

Draws are hypothesis draws, so cases shrink and replay; the result is always a spec that compiled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.compiler.codegen.checks import positive
from vibench.testing.blocks import RANK_LAYOUTS, strategy_blocks, symbol_sizes
from vibench.testing.graph_compile import _Compiling
from vibench.testing.graph_language import _LanguageSteps
from vibench.testing.graph_parts import _features, _fits, _layout, _Node, _params, _reads, _Unit, _Value
from vibench.testing.specs import TensorCase, block_of, yaml_value

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from vibench.compiler.ir import Unit


@dataclass(frozen=True)
class GraphCase:
    """A generated spec that compiled: its text, its inputs (declared shapes and concrete sizes),
    the catalogue blocks and language features it uses, and any spec text that made the compiler
    raise something other than a SpecError while the case was grown (``crashes``: each a pair of
    the spec text and the exception's one-line description)."""

    text: str
    inputs: tuple[TensorCase, ...]
    blocks: tuple[str, ...]
    features: tuple[str, ...]
    crashes: tuple[tuple[str, str], ...] = ()

    @property
    def bindings(self) -> dict[str, tuple[int, ...]]:
        """The concrete input shapes, as ``vibench.check(inputs=...)`` takes them."""
        return {t.name: t.dims for t in self.inputs}


def graph_specs(max_nodes: int = 8, blocks: list[str] | None = None, tries: int = 8,
                language: bool = True) -> SearchStrategy[GraphCase]:
    """Random valid specs of 1..``max_nodes`` steps mixing the blocks in ``blocks`` (default:
    the whole registry). Each step adds a node (or, with ``language``, a composite block, a
    ``for_each`` node, or decorates a node with ``repeat`` / ``when``); a step is kept only if the
    spec still compiles with its concrete input sizes (up to ``tries`` draws per step).

    ``max_nodes`` bounds the steps, not the nodes: a step writes up to 4 nodes (a composite block's use
    and up to 3 nodes of its body; a ``for_each`` node and one reading its whole list), and ``repeat``,
    ``for_each`` (up to 3 copies each) and composites used inside composites make the model build more
    (``max_nodes=1`` can give 3 block nodes). Each step compiles the spec so far, so a draw costs about
    steps² / 2 node compiles: ``max_nodes`` is 1..:data:`~vibench.testing.blocks.MAX_STEPS` (64), which
    keeps hypothesis's ``too_slow`` health check under ``deadline=None``; ``blocks`` is a list of names
    (a str is a TypeError: write ``["relu"]``); ``tries`` is 1..:data:`~vibench.testing.blocks.MAX_TRIES`
    (ValueError otherwise); ``language`` is a bool (TypeError otherwise).

    Input sizes are drawn as :mod:`vibench.testing` says (``B`` 1..4, ``L`` and ``S`` 1..32, any other symbol a
    width 1..8, sometimes 12 or 16), except where a fresh input is wired beside a value the node already reads:
    a layout symbol they share takes that value's size, which may be any size the graph computes, and unless the
    symbol has that size the input declares an alias of it, the symbol and a number (``C2 = 18``, ``K2 = 22``,
    ``D2 = 96``), beyond those ranges.

    Optional features shrink toward off and a ``repeat`` toward its smallest count that builds the
    node, so a minimal failing case is the simplest spec that still has what made it fail; a case's
    ``blocks`` are those of the nodes the model builds (not one switched off by ``repeat: 0`` or ``when``).
    """
    import hypothesis
    import hypothesis.strategies as st

    if not isinstance(language, bool):
        raise TypeError(f"language is a bool (False: plain nodes only), not {type(language).__name__} "
                        f"({language!r:.40})")
    names = sorted(strategy_blocks(max_nodes, blocks, tries))

    @st.composite
    def graphs(draw: Any) -> GraphCase:
        builder = _Builder(draw, names, tries, language)
        step = _step(builder)
        for _ in range(draw(st.integers(1, max_nodes), label="steps")):
            draw(step)
        case = builder.finish()
        if case is None:
            hypothesis.reject()
        return case

    return graphs()


def _step(builder: _Builder) -> SearchStrategy[None]:
    """One step of ``builder`` as one draw (a span of hypothesis's choices, drawn as before), so that the
    shrinker can delete a step whole when it lowers the number of steps."""
    import hypothesis.strategies as st

    @st.composite
    def step(draw: Any) -> None:
        builder.draw = draw  # hypothesis's own draw function, as before: the span is what the composite adds
        builder.step()

    return step()


class _Builder(_LanguageSteps, _Compiling):
    def __init__(self, draw: Any, names: list[str], tries: int, language: bool) -> None:
        self.draw = draw
        self.names = names
        self.tries = tries
        self.language = language
        self.sizes: dict[str, int] = {}  # symbol -> concrete size, shared by all inputs
        self.inputs: list[TensorCase] = []
        self.flags: dict[str, bool] = {}  # bool spec parameters used by `when`
        self.composites: dict[str, _Unit] = {}
        self.root = _Unit("Fuzz")
        self.crashes: list[tuple[str, str]] = []
        self.counter = 0
        self._first_input()

    # -- drawing helpers -----------------------------------------------------------------------

    def chance(self, percent: int) -> bool:
        """True ``percent`` times in 100; shrinks toward False (a draw shrinks toward 0), so that a
        minimal case has no optional feature it does not need."""
        import hypothesis.strategies as st

        return bool(self.draw(st.integers(0, 99)) >= 100 - percent)

    def pick(self, items: list[Any] | tuple[Any, ...]) -> Any:
        import hypothesis.strategies as st

        return self.draw(st.sampled_from(items))

    def fresh_name(self, prefix: str = "n") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- inputs --------------------------------------------------------------------------------

    def _first_input(self) -> None:
        rank = self.pick([2, 3, 3, 4])
        layout = RANK_LAYOUTS[rank]
        self._new_input(layout, {}, "float32", {})

    def _size(self, symbol: str) -> int:
        if symbol not in self.sizes:
            self.sizes[symbol] = self.draw(symbol_sizes(symbol))
        return self.sizes[symbol]

    def _new_input(self, layout: tuple[str | int, ...], bound: dict[str, int], dtype: str,
                   bound_symbols: dict[str, str]) -> _Value:
        """A fresh model input for ``layout``: layout symbols already bound (by other ports of the same
        node) keep their sizes; a dim is declared as the matching value's symbol, the layout symbol, a
        fresh symbol or its number."""
        shape: list[str | int] = []
        dims: list[int] = []
        for d in layout:
            if isinstance(d, int):
                shape.append(d)
                dims.append(d)
                continue
            size = bound[d] if d in bound else self._size(d)
            bound.setdefault(d, size)
            if self.chance(25):
                shape.append(size)  # a compile-time dimension
            elif d in bound_symbols:
                shape.append(bound_symbols[d])
            elif self.sizes.get(d) == size:
                shape.append(d)
            else:
                alias = next(f"{d}{k}" for k in range(2, 100) if self.sizes.get(f"{d}{k}", size) == size)
                self.sizes[alias] = size
                shape.append(alias)
            dims.append(size)
        name = f"x{len(self.inputs)}"
        self.inputs.append(TensorCase(name, tuple(shape), tuple(dims), dtype))
        value = _Value(name, name, tuple(dims), dtype,
                       tuple(s if isinstance(s, str) else None for s in shape))
        self.root.pool.append(value)
        return value

    # -- spec text -----------------------------------------------------------------------------

    def text(self, outputs: list[tuple[str, str]] | None = None) -> str:
        lines = ["vibench: 1", "name: Fuzz"]
        if self.flags:
            lines.append("params:")
            lines += [f"  {k}: {{type: bool, default: {yaml_value(v)}}}" for k, v in self.flags.items()]
        if self.composites:
            lines.append("blocks:")
            for unit in self.composites.values():
                lines.append(f"  {unit.name}:")
                if unit.params:
                    lines.append(f"    params: {yaml_value(unit.params)}")
                lines.append(f"    inputs: {{x: {{shape: {yaml_value(list(unit.input_shape))}, "
                             f"dtype: {unit.input_dtype}}}}}")
                lines.append("    nodes:")
                lines += [node.line("      ") for node in unit.nodes]
                sinks = unit.sink_refs()
                lines.append("    outputs: {" + ", ".join(f"y{k}: {s}" for k, s in enumerate(sinks)) + "}")
        lines.append("inputs:")
        for t in self.inputs:
            lines.append(f"  {t.name}: {{shape: {yaml_value(list(t.shape))}, dtype: {t.dtype}}}")
        lines.append("nodes:")
        lines += [node.line("  ") for node in self.root.nodes]
        lines.append("outputs:")
        if outputs is None:
            outputs = [(f"o_{s}", ref) for s, ref in zip(self.root.sinks(), self.root.sink_refs(), strict=True)] or [
                ("o_x0", self.inputs[0].name)]
        lines += [f"  {name}: {ref}" for name, ref in outputs]
        return "\n".join(lines) + "\n"

    # -- steps ---------------------------------------------------------------------------------

    def step(self) -> None:
        import hypothesis.strategies as st

        roll = self.draw(st.integers(0, 99))
        if not self.language or roll < 70:
            self.primitive(self.root)
        elif roll < 80 and len(self.composites) < 3:
            self.new_composite()
        elif roll < 85 and self.composites:
            self.reuse_composite(self.root)
        elif roll < 95:
            self.for_each()
        else:
            self.primitive(self.root)

    def primitive(self, unit: _Unit, names: list[str] | None = None) -> _Node | None:
        """Add a node of a drawn block: mostly one that can read a value that feeds nothing yet (the
        graph grows deep), else any block (fresh inputs feed what the graph cannot)."""
        names = names or self.names
        for _ in range(self.tries):
            anchor, fitting = None, names
            if unit.pool and self.chance(70):
                used = unit.consumed()
                open_ends = [v for v in unit.pool if v.node not in used]
                anchor = self.pick(open_ends if open_ends and self.chance(75) else unit.pool)
                fitting = [n for n in names if _reads(block_of(n), anchor)]
                if not fitting:
                    anchor, fitting = None, names
            name = self.pick(fitting)
            node = self._wire(unit, name, anchor)
            if node is None:
                continue
            unit.nodes.append(node)
            if self.accept(unit):
                self.decorate(unit, node)
                return node
            unit.nodes.pop()
            self._drop_unused_inputs()
        return None

    def _wire(self, unit: _Unit, name: str, anchor: _Value | None = None) -> _Node | None:
        """A node of block ``name`` whose ports read fitting values (fresh inputs in the root); its first
        port reads ``anchor`` when given."""
        block = block_of(name)
        if block.test_layouts:
            alternatives = [[_layout(text) for text in alt] for alt in block.test_layouts]
            if anchor is not None:
                alternatives = [alt for alt in alternatives if _fits(anchor, alt[0], {}, block.test_dtypes)] \
                    or alternatives
            layouts = self.pick(alternatives)
        else:
            ranks = block.test_ranks if not self.chance(15) else (1, 2, 3, 4)
            rank = len(anchor.dims) if anchor is not None else self.pick(ranks)
            count = (block.min_inputs + self.pick([0, 0, 1])) if block.variadic else \
                len(block.inputs) - len(block.optional_inputs)
            base = RANK_LAYOUTS.get(rank) or ("B",) + tuple(f"D{k}" for k in range(1, rank))
            layouts = [base] * count
        dtypes = block.test_dtypes
        bound: dict[str, int] = {}
        bound_symbols: dict[str, str] = {}
        refs: list[str] = []
        dtype: str | None = None
        inputs = {t.name for t in self.inputs}
        for k, layout in enumerate(layouts):
            # A port that takes positive values only (Block.positive_inputs: a sampling rate) reads a model input,
            # which finish() marks to be drawn positive: a node's values may be any (`scale` by -1), and a
            # composite's input is whatever its use reads.
            positive_only = k < len(block.inputs) and block.inputs[k] in block.positive_inputs
            if positive_only and unit is not self.root:
                return None
            fits = [v for v in unit.pool if _fits(v, layout, bound, dtypes if dtype is None else (dtype,))
                    and (not positive_only or v.ref in inputs)]
            if k == 0 and anchor is not None and len(anchor.dims) == len(layout) and not positive_only:
                value = anchor
            elif fits and (unit is not self.root or not self.chance(10)):
                value = self.pick(fits)
            elif unit is self.root:
                value = self._new_input(layout, bound, dtype or self.pick(dtypes), bound_symbols)
            else:
                return None
            for d, size, symbol in zip(layout, value.dims, value.symbols, strict=True):
                if isinstance(d, str):
                    bound.setdefault(d, size)
                    if symbol is not None:
                        bound_symbols.setdefault(d, symbol)
            dtype = value.dtype
            refs.append(value.ref)
        params = dict(self.draw(_params(name)))
        return _Node(self.fresh_name("a" if unit is not self.root else "n"), name, refs, params)

    def _drop_unused_inputs(self) -> None:
        used = self.root.consumed()
        while len(self.inputs) > 1 and self.inputs[-1].name not in used:
            name = self.inputs.pop().name
            self.root.pool = [v for v in self.root.pool if v.ref != name]

    def finish(self) -> GraphCase | None:
        if not self.root.nodes:
            return None
        expose_all = self.language and self.chance(50)
        outputs: list[tuple[str, str]] = []
        sinks = set(self.root.sinks())
        for node in self.root.nodes:
            refs = [v.ref for v in self.root.pool if v.node == node.name]
            ports = [r for r in refs if r != node.name] or refs
            if node.name in sinks or expose_all:
                outputs += [("o_" + ref.replace(".", "_"), ref) for ref in ports]
        program = self.compile(outputs) if outputs else None
        if program is None:
            return None
        # An input that a port of Block.positive_inputs reads (a sampling rate), through composites too, is drawn
        # positive: block_cases' and chain_specs' rule for a node's own ports, as check_runtime applies it to a spec.
        inputs = tuple(replace(t, positive=True) if positive(program.root, t.name) else t for t in self.inputs)
        # The features are read off the finished spec, not noted as steps went: a step can add an input and drop it.
        features = _features(self.root, self.composites, len(self.inputs))
        if expose_all:
            features.add("all_values_out")
        return GraphCase(self.text(outputs), inputs, tuple(sorted(_built_blocks(program.root))),
                         tuple(sorted(features)), tuple(self.crashes))


def _built_blocks(unit: Unit) -> set[str]:
    """The catalogue blocks of the nodes that ``unit`` builds, through its composites: a node switched off
    (``repeat: 0``, a false ``when``) is not in the compiled unit, so it counts for nothing."""
    found: set[str] = set()
    for node in unit.nodes:
        for copy in node.copies:
            if copy.unit is not None:
                found |= _built_blocks(copy.unit)
            elif registry.get(copy.block or node.block) is not None:
                found.add(copy.block or node.block)
    return found
