"""Axis roles: which dimension is time and which is channels, so that a block that reads its channels
(or features) from the time axis is a located warning (W107) instead of a model that trains on the
wrong axis.

Shapes alone cannot see the mistake when the sizes happen to fit: ``x [B, 4, 128]`` (channels first)
fed straight to an ``lstm`` gives a model with 128 "features" and 4 "steps", and it compiles. An
input's ``layout:`` (``BLC``/``BCL``, or a parameter giving one) says which of its axes is time and
which is channels; this pass follows those roles through the graph after the shapes pass:

* ``transpose``/``permute`` move them, element-wise blocks (activations, dropout, ``add``) and
  blocks that cut, pad or join along one axis (``slice``, ``split``, ``chunk``, ``concat`` ...) keep
  them, ``conv1d``-like, norm and pooling blocks keep ``[B, C, L]``, ``linear``, ``layer_norm``, the
  recurrent and attention blocks keep theirs; a composite block is followed inside, per copy; any
  other block gives its output no roles (nothing is guessed);
* a block that reads channels at dimension 1 (``conv1d``, ``batch_norm1d``, pooling ...) given the
  time axis there, or an ``lstm``/``gru`` given time as its features or channels as its steps, is
  W107 at the node. A ``linear`` or attention across time is a design (MLP-Mixer's token mixing,
  DLinear, iTransformer), not a mistake: never warned about. After a warning the value has no roles
  (one warning per mistake, not one per following node).

Inputs without ``layout:`` have no roles, so specs that do not state them are never warned about.
"""

from __future__ import annotations

from typing import Any

from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Node, Program, Template, Unit

Roles = tuple[str | None, ...]  # "B" batch, "T" time, "C" channels/features, None unknown

# Blocks that read channels at dimension 1 of [B, C, L] (the convolutions, norms and pooling of the catalogue, and
# the blocks built on them) and keep the axes' meaning; signal_features keeps no axis of them ([B, C, L] -> [B, F*C]).
CHANNELS_FIRST = frozenset({
    "conv1d", "causal_conv1d", "conv_transpose1d", "wavelet_conv1d", "spectral_conv1d", "dwt1d",
    "batch_norm1d", "instance_norm1d", "group_norm",
    "max_pool1d", "avg_pool1d", "adaptive_max_pool1d", "adaptive_avg_pool1d", "signal_features",
    "channel_attention", "spatial_attention",
})
# Recurrent blocks run over dimension 1 of [B, L, C] reading the last as features: given time last
# (or channels as the steps) they are warned about.
RECURRENT = frozenset({"lstm", "gru"})
# Blocks that map the last dimension and keep the axes' meaning. A linear map across time is a design
# (MLP-Mixer's token mixing, DLinear), as is attention across channels (iTransformer): no warning.
LAST_DIM = frozenset({
    "linear", "layer_norm", "rms_norm", "scaled_rms_norm", "transformer_encoder_layer", "multi_head_attention",
    "linformer_attention", "prob_sparse_attention", "auto_correlation", "mamba_mixer", "isfm_mlp", "dense_stack",
    "temporal_linear",
})
# Shape-preserving, element-wise: the output's axes mean what the (first) input's do.
ELEMENTWISE = frozenset({
    "abs", "clamp", "dropout", "elu", "gelu", "identity", "isfm_activation", "leaky_relu", "relu", "relu6", "scale",
    "sigmoid", "silu", "softmax", "tanh", "add", "sub", "mul", "real", "imag",
})
# Blocks that cut, pad, join or smooth along one axis and keep the rank: only sizes change, every output's axes
# mean what the input's do (a conv after `slice` along time still reads time as channels). `concat` joins
# inputs whose roles agree (as `add`); `match_length` reads only a size of its second input, `like`.
SAME_AXES = frozenset({
    "slice", "split", "chunk", "constant_pad", "match_length", "concat", "moving_average", "series_decomposition",
})

CODE = "W107"


def check_roles(program: Program) -> tuple[Diagnostic, ...]:
    """W107 warnings for the program (empty when no input states a layout)."""
    root = program.root
    if root.definition is None:
        return ()
    values = dict(root.params)
    given: dict[str, Roles] = {}
    for decl in root.definition.inputs:
        roles = _input_roles(decl.layout, values)
        if roles is not None:
            given[decl.name] = roles
    if not given:
        return ()
    found: list[Diagnostic] = []
    _walk(root, given, found, {})
    return tuple(found)


def _input_roles(layout: Any, values: dict[str, Any]) -> Roles | None:
    if isinstance(layout, Template):
        from vibench.compiler.expr import ExprError, evaluate_value

        try:
            layout = evaluate_value(layout, values)
        except ExprError:
            return None
    return {"BLC": ("B", "T", "C"), "BCL": ("B", "C", "T")}.get(layout) if isinstance(layout, str) else None


def _walk(unit: Unit, given: dict[str, Roles], found: list[Diagnostic],
          memo: dict[tuple[Any, ...], dict[str, Roles | None]]) -> dict[str, Roles | None]:
    """The roles of ``unit``'s outputs given those of its inputs; warnings go to ``found``."""
    key = (unit.key, tuple(sorted(given.items())))
    if key in memo:
        return memo[key]
    memo[key] = {}  # a unit reached again while it is walked: no roles (there is no recursion in specs)
    vals: dict[tuple[str, str | None], Roles | None] = {(name, None): given.get(name) for name, _ in unit.inputs}
    for node in unit.nodes:
        ins = [vals.get((v.node, v.port), vals.get((v.node, None))) for _, v in node.inputs]
        for port, roles in _node_roles(node, ins, found, memo).items():
            vals[(node.name, port)] = roles
        if node.outputs:
            vals.setdefault((node.name, None), vals.get((node.name, node.outputs[0][0])))
    out = {name: vals.get((ref.node, ref.port), vals.get((ref.node, None))) for name, ref, _ in unit.outputs}
    memo[key] = out
    return out


def _node_roles(node: Node, ins: list[Roles | None], found: list[Diagnostic],
                memo: dict[tuple[Any, ...], dict[str, Roles | None]]) -> dict[str | None, Roles | None]:
    first = ins[0] if ins else None
    if node.parallel:  # for_each: every copy reads the node's inputs, side by side (not one after another)
        start = len(found)
        copies = [_composite(c.unit, ins, found, memo) if node.kind == "composite"
                  else _primitive(node, c.block or node.block, c.params, first, ins[1:], found) for c in node.copies]
        found[start:] = dict.fromkeys(found[start:])  # copies making one mistake: one warning, not one per copy
        # The whole list (a bare `t`) means what its copies mean only when they agree.
        agreed = copies[0] if copies and all(r == copies[0] for r in copies) else None
        return {None: agreed, **{str(k): r for k, r in enumerate(copies)}}
    if node.kind == "composite":
        roles = first
        for copy in node.copies:
            roles = _composite(copy.unit, [roles, *ins[1:]], found, memo)
        return {None: roles}
    roles = first
    for copy in node.copies:
        block = copy.block or node.block
        roles = _primitive(node, block, copy.params, roles, ins[1:], found)
    if len(node.outputs) == 1:
        return {None: roles}
    if (node.copies[-1].block or node.block) in SAME_AXES:  # `split`'s pieces, both parts of a decomposition
        return {None: roles, **{port: roles for port, _ in node.outputs}}
    return {None: roles, node.outputs[0][0]: roles}


def _composite(unit: Unit | None, ins: list[Roles | None], found: list[Diagnostic],
               memo: dict[tuple[Any, ...], dict[str, Roles | None]]) -> Roles | None:
    if unit is None or not unit.outputs:
        return None
    given = {name: r for (name, _), r in zip(unit.inputs, ins, strict=False) if r is not None}
    if not given:
        return None
    return _walk(unit, given, found, memo).get(unit.outputs[0][0])


def _primitive(node: Node, block: str, params: Any, roles: Roles | None, others: list[Roles | None],
               found: list[Diagnostic]) -> Roles | None:
    if roles is None:
        return None
    rank = len(roles)
    if block == "transpose":
        d0, d1 = (_dim(getattr(params, k, None), rank) for k in ("dim0", "dim1"))
        if d0 is None or d1 is None:
            return None
        swapped = list(roles)
        swapped[d0], swapped[d1] = swapped[d1], swapped[d0]
        return tuple(swapped)
    if block == "permute":
        dims = [_dim(d, rank) for d in getattr(params, "dims", ()) or ()]
        return tuple(roles[d] for d in dims) if len(dims) == rank and None not in dims else None  # type: ignore[index]
    if block in CHANNELS_FIRST and rank == 3:
        if roles[1] == "T":
            found.append(_warning(node, block, "its channels (dimension 1)", "BCL"))
            return None
        return roles if node.outputs and len(node.outputs[0][1].shape) == rank else None
    if block in RECURRENT and rank == 3:
        if roles[-1] == "T":
            found.append(_warning(node, block, "its features (the last dimension)", "BLC"))
            return None
        if roles[1] == "C":
            found.append(_warning(node, block, "its steps (dimension 1)", "BLC", axis="channel"))
            return None
        return roles
    if block in LAST_DIM:
        return roles
    if block in ELEMENTWISE:
        return roles if all(o is None or o == roles for o in others) else None
    if block in SAME_AXES:
        if block == "match_length" or all(o is None or o == roles for o in others):
            return roles if all(len(t.shape) == rank for _, t in node.outputs) else None
        return None
    return None


def _dim(d: Any, rank: int) -> int | None:
    if isinstance(d, bool) or not isinstance(d, int) or not -rank <= d < rank:
        return None
    return d % rank


def _warning(node: Node, block: str, what: str, order: str, axis: str = "time") -> Diagnostic:
    wanted = "[B, C, L]" if order == "BCL" else "[B, L, C]"
    return Diagnostic(CODE, f"node `{node.name}` ({block}) reads {what} from the {axis} axis", node.pos,
                      node=node.name, severity="warning", expected=f"{wanted} (the input's `layout:` names the axes)",
                      hint="transpose first (`{block: transpose, dim0: 1, dim1: 2}`), or read the input "
                      f"`as: {order}`")
