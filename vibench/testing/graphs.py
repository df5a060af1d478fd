"""Whole random specs across the block catalogue: DAGs grown one checked node at a time.

NNSmith-style: a spec starts from one input and grows by drawing a block from the registry, wiring
its ports to values already in the graph whose rank, dtype and layout fit (or to a fresh model input
when none fits), drawing its parameters, and keeping the node only when the whole spec still
compiles with the concrete input sizes. On top of plain nodes the generator uses the language:
local composite blocks (with parameters, nesting and reuse), ``repeat`` (with ``${i}``), ``when``
(constant or a spec parameter), ``for_each`` (over a parameter or over composite names, the list
consumed whole or by element) and multi-output ports (``node.port``). Every value that feeds
nothing becomes an output, and with some probability every value does, so that a forward pass
can be compared with the static prediction node by node.

Draws are hypothesis draws, so cases shrink and replay; the result is always a spec that compiled.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.testing.blocks import RANK_LAYOUTS, symbol_sizes
from vibench.testing.params import block_params
from vibench.testing.specs import TensorCase, block_of, yaml_value

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from vibench.compiler.blocks.base import Block
    from vibench.compiler.ir import Program, TensorType, Unit

# Variadic blocks that can take a for_each node's whole list of values.
_LIST_CONSUMERS = ("concat", "add", "mul", "ensemble_fusion")


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


@dataclass
class _Value:
    ref: str  # how a node reads it: "x0", "n3", "n3.h_n", "n4.1"
    node: str  # the producing node (or input) name
    dims: tuple[int, ...]
    dtype: str
    symbols: tuple[str | None, ...]  # per dim: the symbol name when the static dim is a bare symbol


@dataclass
class _Node:
    name: str
    block: str
    ins: list[str] | str  # refs in port order, or one ref to a whole for_each list
    params: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)  # repeat, when, for_each

    def line(self, indent: str) -> str:
        block = registry.get(self.block)
        if isinstance(self.ins, str):
            in_text = self.ins
        elif block is None or (len(self.ins) == 1 and len(block.inputs) == 1 and not block.variadic):
            in_text = self.ins[0] if len(self.ins) == 1 else "[" + ", ".join(self.ins) + "]"
        elif block.variadic:
            in_text = "[" + ", ".join(self.ins) + "]"
        else:
            in_text = "{" + ", ".join(f"{port}: {ref}" for port, ref in zip(block.inputs, self.ins, strict=False)) + "}"
        items = [f"block: {yaml_value(self.block)}", f"in: {in_text}"]
        items += [f"{key}: {yaml_value(value)}" for key, value in self.extra.items()]
        items += [f"{key}: {yaml_value(value)}" for key, value in self.params.items()]
        return f"{indent}{self.name}: {{{', '.join(items)}}}"


@dataclass
class _Unit:
    """The model or one local composite block under construction."""

    name: str
    nodes: list[_Node] = field(default_factory=list)
    pool: list[_Value] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    input_shape: tuple[str | int, ...] = ()  # composites: the declared shape of their one input `x`
    input_dtype: str = "float32"
    input_dims: tuple[int, ...] = ()
    used_by: str = ""  # composites: the root node that checks the body while it grows

    def consumed(self) -> set[str]:
        used: set[str] = set()
        for node in self.nodes:
            for ref in [node.ins] if isinstance(node.ins, str) else node.ins:
                used.add(ref.split(".")[0])
        return used

    def sinks(self) -> list[str]:
        used = self.consumed()
        return [n.name for n in self.nodes if n.name not in used]


def graph_specs(max_nodes: int = 8, blocks: list[str] | None = None, tries: int = 8,
                language: bool = True) -> SearchStrategy[GraphCase]:
    """Random valid specs of up to ``max_nodes`` steps mixing the blocks in ``blocks`` (default:
    the whole registry). Each step adds a node (or, with ``language``, a composite block, a
    ``for_each`` node, or decorates a node with ``repeat`` / ``when``); a step is kept only if the
    spec still compiles with its concrete input sizes (up to ``tries`` draws per step).
    """
    import hypothesis
    import hypothesis.strategies as st

    names = sorted(blocks if blocks is not None else registry.all_blocks())

    @st.composite
    def graphs(draw: Any) -> GraphCase:
        builder = _Builder(draw, names, tries, language)
        for _ in range(draw(st.integers(1, max_nodes), label="steps")):
            builder.step()
        case = builder.finish()
        if case is None:
            hypothesis.reject()
        return case

    return graphs()


@functools.cache
def _params(name: str) -> SearchStrategy[dict[str, Any]]:
    return block_params(name)


def _layout(text: str) -> tuple[str | int, ...]:
    return tuple(int(d) if d.isdigit() else d for d in text.split())


def _fits(v: _Value, layout: tuple[str | int, ...], bound: dict[str, int], dtypes: tuple[str, ...]) -> bool:
    """Whether value ``v`` can stand for ``layout`` (rank, dtype, fixed sizes, symbols already bound)."""
    if len(v.dims) != len(layout) or v.dtype not in dtypes:
        return False
    for d, size in zip(layout, v.dims, strict=True):
        if isinstance(d, int):
            if d != size:
                return False
        elif d in bound and bound[d] != size:
            return False
    return True


def _reads(block: Block, v: _Value) -> bool:
    """Whether the first port of ``block`` is drawn with values like ``v`` (its test layouts, ranks, dtypes)."""
    if v.dtype not in block.test_dtypes:
        return False
    if block.test_layouts:
        return any(_fits(v, _layout(alt[0]), {}, block.test_dtypes) for alt in block.test_layouts)
    return len(v.dims) in block.test_ranks


class _Builder:
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
        self.features: set[str] = set()
        self.crashes: list[tuple[str, str]] = []
        self.counter = 0
        self._first_input()

    # -- drawing helpers -----------------------------------------------------------------------

    def chance(self, percent: int) -> bool:
        import hypothesis.strategies as st

        return bool(self.draw(st.integers(0, 99)) < percent)

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
        if self.inputs[1:]:
            self.features.add("several_inputs")
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
                sinks = unit.sinks()
                lines.append("    outputs: {" + ", ".join(f"y{k}: {s}" for k, s in enumerate(sinks)) + "}")
        lines.append("inputs:")
        for t in self.inputs:
            lines.append(f"  {t.name}: {{shape: {yaml_value(list(t.shape))}, dtype: {t.dtype}}}")
        lines.append("nodes:")
        lines += [node.line("  ") for node in self.root.nodes]
        lines.append("outputs:")
        if outputs is None:
            outputs = [(f"o_{s}", s) for s in self.root.sinks()] or [("o_x0", self.inputs[0].name)]
        lines += [f"  {name}: {ref}" for name, ref in outputs]
        return "\n".join(lines) + "\n"

    # -- compiling -----------------------------------------------------------------------------

    def compile(self, outputs: list[tuple[str, str]] | None = None) -> Program | None:
        from vibench.api import check
        from vibench.compiler.diagnostics import SpecError

        text = self.text(outputs)
        try:
            return check(text=text, inputs={t.name: t.dims for t in self.inputs})
        except SpecError:
            return None
        except Exception as err:  # noqa: BLE001 - a compiler bug: kept for the campaign, the step is dropped
            self.crashes.append((text, f"{type(err).__name__}: {err}"[:300]))
            return None

    def accept(self, unit: _Unit) -> bool:
        """Compile the current spec; on success refresh the pools of the root and of ``unit``."""
        program = self.compile()
        if program is None:
            return False
        self._refresh(self.root, program.root, dict(program.bindings))
        if unit is not self.root:
            owner = self._owner(program, unit)
            if owner is not None:
                self._refresh(unit, *owner)
        return True

    def _owner(self, program: Program, unit: _Unit) -> tuple[Unit, dict[str, int]] | None:
        """The specialised body of composite ``unit`` (through the root node that uses it) and the
        sizes of its symbols."""
        try:
            body = program.root.node(unit.used_by).copies[0].unit
        except KeyError:
            return None
        if body is None or not body.inputs:
            return None
        env = dict(body.const_symbols)
        for d, size in zip(body.inputs[0][1].shape, unit.input_dims, strict=False):
            if not isinstance(d, int) and str(d).isidentifier():
                env[str(d)] = size
        return body, env

    def _refresh(self, unit: _Unit, ir: Unit, env: dict[str, int]) -> None:
        """Rebuild the values of ``unit`` from its compiled IR: its inputs, then every node's outputs
        (``node.port`` for several, the node name for one or the first; a switched-off node passes its
        first input through)."""
        from vibench.compiler.symbolic import evaluate

        names = {n.name for n in unit.nodes}
        pool = [v for v in unit.pool if v.ref == v.node and v.node not in names]
        values = {v.ref: v for v in unit.pool}
        for node in unit.nodes:
            try:
                outs: tuple[tuple[str, TensorType], ...] = ir.node(node.name).outputs
            except (KeyError, IndexError):  # switched off
                first = values.get(node.ins if isinstance(node.ins, str) else node.ins[0])
                if first is not None:
                    pool.append(_Value(node.name, node.name, first.dims, first.dtype, first.symbols))
                continue
            try:
                typed = [(port, tuple(evaluate(d, env) for d in t.shape), t) for port, t in outs]
            except Exception:  # noqa: BLE001 - a symbol this env does not bind: leave the value out
                continue
            listed = "for_each" in node.extra
            for k, (port, dims, t) in enumerate(typed):
                symbols = tuple(str(d) if not isinstance(d, int) and str(d).isidentifier() else None
                                for d in t.shape)
                if len(typed) > 1 or listed:
                    pool.append(_Value(f"{node.name}.{port}", node.name, dims, t.dtype, symbols))
                if k == 0 and not listed:
                    pool.append(_Value(node.name, node.name, dims, t.dtype, symbols))
        unit.pool = pool

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
                self._note(node, name)
                self.decorate(unit, node)
                return node
            unit.nodes.pop()
            self._drop_unused_inputs()
        return None

    def _note(self, node: _Node, name: str) -> None:
        block = registry.get(name)
        if block is None:
            return
        ins = [node.ins] if isinstance(node.ins, str) else node.ins
        if len(ins) > 1:
            self.features.add("multi_input")
        if len(block.outputs) != 1:
            self.features.add("multi_output")

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
        for k, layout in enumerate(layouts):
            fits = [v for v in unit.pool if _fits(v, layout, bound, dtypes if dtype is None else (dtype,))]
            if k == 0 and anchor is not None and len(anchor.dims) == len(layout):
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

    # -- language ------------------------------------------------------------------------------

    def decorate(self, unit: _Unit, node: _Node) -> None:
        """Sometimes repeat the node (plain, or a parameter varying with ``${i}``), or switch it by ``when``."""
        if not self.language:
            return
        if self.chance(15):
            node.extra["repeat"] = copies = self.pick([0, 2, 2, 3])
            ints = [k for k, v in node.params.items() if isinstance(v, int) and not isinstance(v, bool)]
            varied = self.pick(ints) if copies and ints and self.chance(40) else None
            original = node.params.get(varied) if varied is not None else None
            if varied is not None:
                node.params[varied] = f"${{{original} + i}}"
            if self.accept(unit):
                self.features.add("repeat" if varied is None else "repeat_index")
                return
            del node.extra["repeat"]
            if varied is not None:
                node.params[varied] = original
        elif self.chance(10) and not isinstance(node.ins, str):
            flag = ""
            if unit is self.root and self.chance(60):
                flag = f"f{len(self.flags)}"
                self.flags[flag] = self.pick([True, False])
                node.extra["when"] = self.pick([f"${{{flag}}}", f"${{not {flag}}}"])
            else:
                node.extra["when"] = self.pick([True, False])
            if self.accept(unit):
                self.features.add("when")
                return
            del node.extra["when"]
            self.flags.pop(flag, None)

    def new_composite(self) -> None:
        """A local composite block grown on a value of the root, used by a new root node."""
        candidates = [v for v in self.root.pool if 1 <= len(v.dims) <= 4]
        if not candidates:
            return
        value = self.pick(candidates)
        rank = len(value.dims)
        symbols = RANK_LAYOUTS[rank]
        shape = tuple(size if self.chance(20) else s for s, size in zip(symbols, value.dims, strict=True))
        name = f"Sub{len(self.composites)}"
        unit = _Unit(name, input_shape=shape, input_dtype=value.dtype, input_dims=value.dims)
        unit.pool = [_Value("x", "x", value.dims, value.dtype,
                            tuple(s if isinstance(s, str) else None for s in shape))]
        use = _Node(self.fresh_name(), name, [value.ref], {})
        unit.used_by = use.name
        self.composites[name] = unit
        self.root.nodes.append(use)
        body_names = list(self.names)
        for _ in range(self.pick([1, 1, 2, 3])):
            nested = [c for c in self.composites if c != name]
            if nested and self.chance(15):
                if self.reuse_composite(unit, nested):
                    self.features.add("nested_composite")
                continue
            self.primitive(unit, body_names)
        if not unit.nodes:
            self.root.nodes.remove(use)
            del self.composites[name]
            return
        self.features.add("composite")
        self._lift_param(unit, use)
        self.decorate(self.root, use)

    def _lift_param(self, unit: _Unit, use: _Node) -> None:
        """Make one int parameter of the body a parameter of the composite; sometimes set it at the use."""
        options = [(n, k) for n in unit.nodes if registry.get(n.block) is not None
                   for k, v in n.params.items() if isinstance(v, int) and not isinstance(v, bool)]
        if not options or not self.chance(60):
            return
        node, key = self.pick(options)
        pname = f"w{len(unit.params)}"
        default = node.params[key]
        unit.params[pname] = {"type": "int", "default": default}
        node.params[key] = f"${{{pname}}}"
        if not self.accept(unit):
            node.params[key] = default
            del unit.params[pname]
            self.accept(unit)
            return
        self.features.add("composite_param")
        other = self.draw(_params(node.block)).get(key)
        if isinstance(other, int) and not isinstance(other, bool) and other != default:
            use.params[pname] = other
            if not self.accept(unit):
                del use.params[pname]
                self.accept(unit)

    def reuse_composite(self, unit: _Unit, names: list[str] | None = None) -> bool:
        """A node using an existing composite on a value of ``unit``."""
        name = self.pick(names or list(self.composites))
        comp = self.composites[name]
        layout = tuple(d if isinstance(d, int) else f"_{d}" for d in comp.input_shape)
        fits = [v for v in unit.pool if _fits(v, layout, {}, (comp.input_dtype,))]
        if not fits:
            return False
        node = _Node(self.fresh_name("a" if unit is not self.root else "n"), name, [self.pick(fits).ref], {})
        for pname in comp.params:
            if self.chance(30):
                node.params[pname] = comp.params[pname]["default"]
        unit.nodes.append(node)
        if self.accept(unit):
            self.features.add("composite_reuse")
            return True
        unit.nodes.pop()
        return False

    def for_each(self) -> None:
        """A node with ``for_each`` (over a parameter's values, or over composite names); its list is
        then sometimes consumed whole by a variadic block."""
        node: _Node | None
        if len(self.composites) >= 2 and self.chance(30):
            members = list(self.composites)
            first = self.composites[members[0]]
            layout = tuple(d if isinstance(d, int) else f"_{d}" for d in first.input_shape)
            fits = [v for v in self.root.pool if _fits(v, layout, {}, (first.input_dtype,))]
            if not fits:
                return
            node = _Node(self.fresh_name(), "${item}", [self.pick(fits).ref], {},
                         {"for_each": members[: self.pick([2, len(members)])]})
            self.root.nodes.append(node)
            if not self.accept(self.root):
                self.root.nodes.pop()
                return
        else:
            node = None
            for _ in range(self.tries):
                name = self.pick(self.names)
                candidate = self._wire(self.root, name)
                if candidate is None:
                    continue
                ints = [k for k, v in candidate.params.items() if isinstance(v, int) and not isinstance(v, bool)]
                if not ints:
                    self._drop_unused_inputs()
                    continue
                key = self.pick(ints)
                values = [candidate.params[key]]
                for _ in range(self.pick([1, 1, 2])):
                    other = self.draw(_params(name)).get(key)
                    values.append(other if isinstance(other, int) and not isinstance(other, bool) else values[0])
                candidate.params[key] = "${item}"
                candidate.extra["for_each"] = values
                self.root.nodes.append(candidate)
                if self.accept(self.root):
                    node = candidate
                    break
                self.root.nodes.pop()
                self._drop_unused_inputs()
            if node is None:
                return
        self.features.add("for_each")
        if self.chance(50):
            name = self.pick(_LIST_CONSUMERS)
            if name in self.names:
                consumer = _Node(self.fresh_name(), name, node.name, dict(self.draw(_params(name))))
                self.root.nodes.append(consumer)
                if self.accept(self.root):
                    self.features.add("for_each_list")
                else:
                    self.root.nodes.pop()

    # -- the result ----------------------------------------------------------------------------

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
        if expose_all:
            self.features.add("all_values_out")
        if not outputs or self.compile(outputs) is None:
            return None
        blocks = sorted({n.block for u in [self.root, *self.composites.values()] for n in u.nodes
                         if registry.get(n.block) is not None})
        return GraphCase(self.text(outputs), tuple(self.inputs), tuple(blocks), tuple(sorted(self.features)),
                         tuple(self.crashes))
