"""The compile step of :mod:`vibench.testing.graphs`' generator: the spec grown so far is checked
(:meth:`_Compiling.compile`; a crash of the compiler, not a SpecError, is kept for the campaign) and, once a step's
node is accepted, the values its compiled IR gives each node are read back into the pools the next steps wire from
(:meth:`_Compiling.accept`: a composite's through the root node that uses it). A part of its ``_Builder``, moved
out of ``graphs.py``: what the generator learns from the compiler, apart from how it draws."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vibench.testing.graph_parts import _Unit, _Value
from vibench.testing.specs import TensorCase

if TYPE_CHECKING:
    from vibench.compiler.ir import Program, TensorType, Unit


class _Compiling:
    """The compile methods of ``graphs._Builder``, which sets the state below (see its ``__init__``)."""

    inputs: list[TensorCase]
    root: _Unit
    crashes: list[tuple[str, str]]

    if TYPE_CHECKING:  # the builder's
        def text(self, outputs: list[tuple[str, str]] | None = None) -> str: ...

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
                if k == 0 and not listed and not (len(typed) > 1 and port.isdigit()):  # numbered: `n.0` only
                    pool.append(_Value(node.name, node.name, dims, t.dtype, symbols))
        unit.pool = pool
