"""The language steps of :mod:`vibench.testing.graphs`' generator: ``repeat`` and ``when`` on a node,
local composite blocks (with a lifted parameter, nesting and reuse) and ``for_each`` nodes. A part of
its ``_Builder``, moved out of ``graphs.py``; the features a case lists are read off the finished spec
(:func:`~vibench.testing.graph_parts._features`), not noted here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler import registry
from vibench.testing.blocks import RANK_LAYOUTS
from vibench.testing.graph_parts import _LIST_CONSUMERS, _fits, _Node, _params, _Unit, _Value


class _LanguageSteps:
    """The language methods of ``graphs._Builder``, which sets the state below (see its ``__init__``)."""

    draw: Any
    names: list[str]
    tries: int
    language: bool
    flags: dict[str, bool]
    composites: dict[str, _Unit]
    root: _Unit

    if TYPE_CHECKING:  # the builder's
        def chance(self, percent: int) -> bool: ...
        def pick(self, items: list[Any] | tuple[Any, ...]) -> Any: ...
        def fresh_name(self, prefix: str = "n") -> str: ...
        def accept(self, unit: _Unit) -> bool: ...
        def primitive(self, unit: _Unit, names: list[str] | None = None) -> _Node | None: ...
        def _wire(self, unit: _Unit, name: str, anchor: _Value | None = None) -> _Node | None: ...
        def _drop_unused_inputs(self) -> None: ...

    def decorate(self, unit: _Unit, node: _Node) -> None:
        """Sometimes repeat the node (plain, or a parameter varying with ``${i}``), or switch it by ``when``."""
        if not self.language:
            return
        if self.chance(15):
            node.extra["repeat"] = copies = self.pick([2, 2, 3, 0])  # shrinks to 2: a switched-off node last
            ints = [k for k, v in node.params.items() if isinstance(v, int) and not isinstance(v, bool)]
            varied = self.pick(ints) if copies and ints and self.chance(40) else None
            original = node.params.get(varied) if varied is not None else None
            if varied is not None:
                node.params[varied] = f"${{{original} + i}}"
            if self.accept(unit):
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
                self.reuse_composite(unit, nested)
                continue
            self.primitive(unit, body_names)
        if not unit.nodes:
            self.root.nodes.remove(use)
            del self.composites[name]
            return
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
        if self.chance(50):
            name = self.pick(_LIST_CONSUMERS)
            if name in self.names:
                consumer = _Node(self.fresh_name(), name, node.name, dict(self.draw(_params(name))))
                self.root.nodes.append(consumer)
                if not self.accept(self.root):
                    self.root.nodes.pop()

    # -- the result ----------------------------------------------------------------------------
