"""The per-system channel mixer of ISFM E_02_HSE_v2 (``hse_channel_mixer``).

Each sample of a signal's time steps [..., C + 1] (its channels and the time channel the patch blocks of
:mod:`vibench.compiler.blocks.isfm_hse` append) goes through the mixer of its system, chosen by its ``system_id``
(the native ``SystemRouter`` of :mod:`vibench.compiler.blocks.isfm_routing`, shared with the task heads). A block
file of its own, apart from the patch and position blocks of E_01/E_02 HSE: it has no torch implementation of its
own, and it is the one HSE block that routes by system.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.blocks.isfm_routing import (
    SystemRouter,
    Systems,
    SystemsWritten,
    check_system_keys,
    router_code,
    str_keys,
    system_port,
)
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams


class HseChannelMixerParams(BlockParams):
    num_channels: Systems = Field(
        description="Signal channels per system id (one mixer per system, chosen per sample by system_id)."
    )
    c_dim: int = Field(ge=1, description="Features per time step after mixing (the reference's c_dim).")

    _keys = field_validator("num_channels", mode="before", json_schema_input_type=SystemsWritten)(str_keys)
    _check = field_validator("num_channels")(check_system_keys)

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((tuple(sorted(self.num_channels.items())), self.c_dim))


@register
class HseChannelMixer(Block):
    """Per-system channel mixing of [..., C + 1] time steps (ISFM E_02_HSE_v2): Linear, GELU, Linear -> [..., c_dim].

    Each system's mixer is ``Linear(C_s + 1, 2 * c_dim)``, GELU, ``Linear(2 * c_dim, c_dim)`` (C_s
    from ``num_channels``, + 1 for the time channel); a sample goes through its system's mixer
    (port ``system_id``, [B] integers; optional with one system). A sample whose system has another
    channel count than x raises ValueError. For one mixer shared by every sample use ``isfm_mlp``.
    """

    name = "hse_channel_mixer"
    Params = HseChannelMixerParams
    category = "embedding"
    inputs = ("x", "system_id")
    optional_inputs = ("system_id",)
    natives = (SystemRouter,)
    fresh_output = True  # torch.where's result: autograd keeps only the masks
    test_ranks = (2, 3, 4)
    # x's last dimension is C + 1 = 2 for every hinted system (several systems: vibench.testing feeds
    # system_id). "B C L" first keeps the reference example symbolic (x [B, C, L], L == 2).
    test_layouts = (("B C L",), ("B 2",), ("B L 2",), ("B H L 2",))
    test_hints = {"num_channels": ({"1": 1}, {"4": 1}, {"1": 1, "2": 1}, {"0": 1, "3": 1, "7": 1}),
                  "c_dim": (1, 2, 8)}

    def infer(self, p: HseChannelMixerParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = ins[0]
        ctx.rank("x", x, range(2, 9), "[B, ..., C + 1]")
        ctx.dtype("x", x, FLOAT_DTYPES)
        system_port(ctx, ins, p.num_channels, "num_channels", x.shape[0])
        widths = sorted({c + 1 for c in p.num_channels.values()})
        if len(widths) == 1:
            ctx.equal(x.shape[-1], widths[0], port="x", what="signal channels + the time channel", t=x,
                      param="num_channels")
        elif isinstance(x.shape[-1], int) and x.shape[-1] not in widths:
            raise ctx.fail(f"no system in `num_channels` has {x.shape[-1] - 1} channels", port="x",
                           param="num_channels", expected="C + 1 in " + ", ".join(map(str, widths)),
                           found=str(x.shape[-1]))
        else:  # which systems a batch holds is known in forward only: check the range here
            ctx.require(x.shape[-1], ">=", widths[0], f"some system in `num_channels` has this many channels "
                        f"(the fewest: {widths[0] - 1})", param="num_channels")
            ctx.require(x.shape[-1], "<=", widths[-1], f"some system in `num_channels` has this many channels "
                        f"(the most: {widths[-1] - 1})", param="num_channels")
        return [TensorType(x.shape[:-1] + (p.c_dim,), x.dtype)]

    def submodule_count(self, p: HseChannelMixerParams, ins: list[TensorType]) -> int:
        return 4 * len(p.num_channels)  # a mixer (Sequential of Linear, GELU, Linear) per system

    def param_count(self, p: HseChannelMixerParams, ins: list[TensorType]) -> int:
        hidden = 2 * p.c_dim
        return sum((c + 1) * hidden + hidden + hidden * p.c_dim + p.c_dim for c in p.num_channels.values())

    def flops(self, p: HseChannelMixerParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        width = ins[0].shape[-1]
        return numel(outs[0]) * (4 * width + 4 * p.c_dim + 2)

    def init_code(self, p: HseChannelMixerParams) -> Code:
        hidden = 2 * p.c_dim
        heads = {k: c.call("nn.Sequential", c.call("nn.Linear", n + 1, hidden), c.call("nn.GELU"),
                           c.call("nn.Linear", hidden, p.c_dim)) for k, n in p.num_channels.items()}
        widths = {k: n + 1 for k, n in p.num_channels.items()}
        return router_code(heads, widths, p.c_dim)
