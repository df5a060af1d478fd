"""``sequence_unpatch``: overlap-add of evenly spaced windows back into a signal (ISFM H_04_VIB_pred).

The inverse of E_02_HSE_v2's windows (``hse_sequence_patches``): window ``t`` of ``P`` steps starts at
``round(linspace(0, L - P, T))[t]``; each step of the result is the mean of the windows covering it
(0 where none does). The length L and the channels kept come from ``target`` (the signal being
reconstructed; only its shape is read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class SequenceUnpatchParams(BlockParams):
    pass


class SequenceUnpatch(nn.Module):
    """Windows [B, T, P, K] -> signal [B, L, C]: the mean of the windows over each step, first C channels.

    Window ``t`` covers steps ``s_t .. s_t + P - 1`` with ``s = round(linspace(0, L - P, T))`` (E_02_HSE_v2's
    windows); steps no window covers are 0. Needs ``L >= P`` and ``C <= K``.
    """

    def forward(self, patches: torch.Tensor, length: int, channels: int) -> torch.Tensor:
        batch, count, size, _ = patches.shape
        if length < size or channels > patches.shape[3]:
            raise ValueError("SequenceUnpatch: the signal is shorter than a window, or wider than the windows")
        values = patches[..., :channels].permute(0, 3, 1, 2).reshape(batch, channels, count * size)
        starts = torch.linspace(0, length - size, count, device=patches.device).round().long()
        steps = starts.unsqueeze(1) + torch.arange(size, device=patches.device)  # [T, P]
        index = steps.reshape(1, 1, count * size).expand(batch, channels, -1)
        total = patches.new_zeros(batch, channels, length).scatter_add_(2, index, values)
        hits = patches.new_zeros(batch, channels, length).scatter_add_(2, index, torch.ones_like(values))
        return (total / hits.clamp(min=1.0)).transpose(1, 2)


@register
class SequenceUnpatchBlock(Block):
    """Overlap-add of evenly spaced windows [B, T, P, K] into a signal [B, L, C] shaped like ``target`` (step means).

    Window ``t`` starts at ``round(linspace(0, L - P, T))[t]`` (E_02_HSE_v2's windows); each step is the
    mean of the windows covering it, 0 where none does; the first C of the K window channels are kept.
    ``target`` [B, L, C] gives L and C (only its shape is read). Needs ``L >= P`` and ``C <= K``.
    """

    name = "sequence_unpatch"
    Params = SequenceUnpatchParams
    category = "shape"
    inputs = ("x", "target")
    natives = (SequenceUnpatch,)
    fresh_output = True
    test_layouts = (("B T P K", "B L K"),)

    def infer(self, p: BaseModel, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x, target = ins
        ctx.rank("x", x, 4, "[B, T, P, K]")
        ctx.dtype("x", x, FLOAT_DTYPES)
        ctx.rank("target", target, 3, "[B, L, C]")
        ctx.equal(target.shape[0], x.shape[0], port="target", what="batch size of target and x", t=target)
        _, _, size, width = x.shape
        _, length, channels = target.shape
        ctx.require(length, ">=", size, "the signal is at least one window long (L >= P)")
        ctx.require(channels, "<=", width, "the windows hold the signal's channels (C <= K)")
        return [TensorType((x.shape[0], length, channels), x.dtype)]

    def flops(self, p: BaseModel, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 2 * numel(ins[0]) + numel(outs[0])

    def init_code(self, p: BaseModel) -> Code:
        return c.call(SequenceUnpatch.__name__)

    def call_code(self, p: BaseModel, args: list[Code], mod: Code) -> Code:
        shape = c.attr(args[1], "shape")
        return c.call(mod, args[0], c.index(shape, 1), c.index(shape, 2))
