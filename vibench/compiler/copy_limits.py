"""The model's limits as a unit's copies are typed: nodes after expansion (E213), parameter elements (E307)
and activation sizes (E309).

The :class:`CopyLimits` part of :class:`~vibench.compiler.unit_builder.TypeChecker` counts each copy of a node
once its instance is typed, before any weight exists, and measures the tensors it gives or builds inside. The
first limit reached is reported once per compilation (``owner.limit_hit``): a model past one would only repeat it.
It reads the typed instances; it writes the checker's counts and diagnostics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.activation_bounds import activation_error, over_limit
from vibench.compiler.constraints import SymbolSpace
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.elaborated import LIMIT_HINT, Failed
from vibench.compiler.ir import Instance, NodeDef, TensorType, UnitDef
from vibench.compiler.plugin_calls import is_plugin

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


class CopyLimits:
    """The limit methods of :class:`~vibench.compiler.unit_builder.TypeChecker`, which sets the state below
    (see its ``__init__``)."""

    owner: _Specializer
    udef: UnitDef
    space: SymbolSpace
    count: int  # nodes of this unit so far, expanded (limit: room, E213)
    room: int
    param_total: int  # parameter elements of this unit so far (limit: owner.max_params, E307)
    sized: set[int]  # ids of the instances whose outputs were measured (E309)

    if TYPE_CHECKING:  # the driver's
        def error(self, diag: Diagnostic) -> Failed: ...

    def measure(self, nd: NodeDef, inst: Instance, k: int, copies: int, block: Any, in_types: list[TensorType]) -> None:
        """E309 when an output of the copy, or a tensor its block builds inside (a padded copy of its input:
        :meth:`Block.internal_tensors`), is too large at the smallest input or at the next step of an open size
        (:func:`~vibench.compiler.activation_bounds.over_limit`), also where --input binds it (the shapes stay
        symbolic)."""
        which = f"copy {k + 1} of {copies} of node `{nd.name}`" if copies > 1 else f"node `{nd.name}`"
        tensors = [(f"output `{port}` of {which}" if len(inst.outputs) > 1 else f"the output of {which}", t)
                   for port, t in inst.outputs]
        if inst.unit is None and not is_plugin(block):  # (a plug-in's hook goes unchecked: its outputs count)
            inside = block.internal_tensors(inst.params, in_types, [t for _, t in inst.outputs])
            tensors += [(f"{what}, built inside {which},", t) for what, t in inside]
        for what, t in tensors:
            excess = over_limit(t.shape, self.owner.max_activation, self.space.bounds)
            if excess is not None:
                self.owner.limit_hit = True
                raise self.error(activation_error(excess, what, t, self.owner.max_activation, nd.pos, nd.name))

    def tally(self, nd: NodeDef, inst: Instance, k: int, copies: int, block: Any,
              in_types: list[TensorType]) -> None:
        """Count one copy of a node towards the model's limits: nodes after expansion (E213) and
        parameter elements (E307), both before any weight exists. Reported once per compilation."""
        if self.owner.limit_hit:
            raise Failed()
        self.count += 1 + inst.submodules + (self.owner.node_count(inst.unit) if inst.unit is not None else 0)
        tables = inst.buffer_count  # fixed tables the constructor builds count like weights
        count = inst.param_count + tables
        if isinstance(count, int):
            self.param_total += count
        if self.count <= self.room and self.param_total <= self.owner.max_params:
            if id(inst) not in self.sized:  # then its activations (a memoised shape rule: one instance, many nodes)
                self.sized.add(id(inst))
                self.measure(nd, inst, k, copies, block, in_types)
            return  # within the limits (the common case: no message to write)
        which = f"copy {k + 1} of {copies} of node `{nd.name}`" if copies > 1 else f"node `{nd.name}`"
        # (a composite's body counts its own: the model's totals are known only at its callers)
        inside = f" in block `{self.udef.name}`" if len(self.owner.stack) > 1 else ""
        if self.count > self.room:
            if self.room < self.owner.max_nodes:
                inside += f", where the rest of the model has at least {self.owner.max_nodes - self.room:,}"
            self.owner.limit_hit = True
            raise self.error(Diagnostic(
                "E213", f"the model has more nodes than allowed at {which}", nd.pos, node=nd.name,
                expected=f"at most {self.owner.max_nodes:,} nodes after expansion",
                found=f"{self.count:,} so far{inside}",
                notes=("composite blocks count once plus the nodes of their body, for every copy",) + ((
                    f"a block's per-channel, per-layer or per-system modules count as nodes: this one builds "
                    f"{inst.submodules:,}",) if inst.submodules else ()),
                hint=LIMIT_HINT))
        self.owner.limit_hit = True
        alone = count > self.owner.max_params
        what = "parameters" if not tables else "parameters and fixed tables"
        found = f"{count:,} in this node" if not tables else (
            f"{count:,} in this node ({inst.param_count:,} parameter and {tables:,} table elements)")
        raise self.error(Diagnostic(
            "E307", f"{which} has more {what} than the budget" if alone else
            f"the model exceeds the parameter budget at {which}", nd.pos, node=nd.name,
            expected=f"at most {self.owner.max_params:,} parameter elements per model (fixed tables included)",
            found=found + ("" if alone else f", {self.param_total:,} so far{inside}"),
            hint="check the sizes of this node's parameters (channels, features"
            + ("; tables: max_len, graph nodes" if tables else "") + "); if the model really is this large, "
            "raise the budget with --max-params (max_params= in the API)"))
