"""Hierarchical signal embedding blocks (ISFM E_01_HSE and E_02_HSE_v2).

Both take a signal [B, L, C] and its sampling frequency ``fs`` [B] and append each sample's time
stamps (index / fs) as extra channels before patching. E_02's per-system channel mixer routes each
sample by its ``system_id`` (the native ``SystemRouter`` shared with the task heads).
"""

from __future__ import annotations

from vibench.compiler.blocks.base import FLOAT_DTYPES, INT_DTYPES, Block, ShapeContext, call, non_default, numel
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks_isfm_hse import (
    HseChannelMixerParams,
    HsePatchSamplingParams,
    HsePositionTableParams,
    HseSequencePatchesParams,
)


def _signal_and_rate(ctx: ShapeContext, ins: list[TensorType]) -> TensorType:
    x, fs = ins
    ctx.rank("x", x, 3, "[B, L, C]")
    ctx.dtype("x", x, FLOAT_DTYPES)
    ctx.rank("fs", fs, 1, "[B]")
    ctx.dtype("fs", fs, FLOAT_DTYPES, "a sampling frequency per sample, in Hz")
    ctx.equal(fs.shape[0], x.shape[0], port="fs", what="batch size of fs and x", t=fs)
    return x


def system_port(ctx: ShapeContext, ins: list[TensorType], systems: int | dict[str, int], param: str,
                batch: Dim) -> None:
    """Check the optional ``system_id`` port: [B] integers, needed when several systems have heads."""
    if len(ins) > 1:
        ids = ins[1]
        ctx.rank("system_id", ids, 1, "[B]")
        ctx.dtype("system_id", ids, INT_DTYPES, "system ids")
        ctx.equal(ids.shape[0], batch, port="system_id", what="batch size of system_id and x", t=ids)
    elif isinstance(systems, dict) and len(systems) > 1:
        raise ctx.fail(f"`{param}` maps {len(systems)} systems: each sample needs its system id", code="E405",
                       port="system_id", param=param, expected="an input connected to port `system_id`",
                       found="no system_id", hint="write `in: {x: ..., system_id: <[B] int64 input>}`")


@register
class HsePatchSampling(Block):
    """Random patches of a signal with their time stamps (ISFM E_01_HSE): [B, L, C], fs [B] -> [B, P, 2*pL*pC].

    Each of the ``num_patches`` patches is a block of ``patch_size_L`` steps x ``patch_size_C``
    channels at a random start (channels wrap around), with the time stamps ``index / fs`` of its
    steps appended as ``patch_size_C`` more channels, flattened time-major. Any L and C work: a
    signal shorter than a patch, or with fewer channels, has each step (channel) repeated first.
    Starts are redrawn on every call in training; ``eval_sampling`` picks them in eval mode (the
    reference redraws them there too). No parameters.
    """

    name = "hse_patch_sampling"
    Params = HsePatchSamplingParams
    category = "embedding"
    inputs = ("x", "fs")
    natives = ("HsePatchSampler",)
    stochastic = True
    test_layouts = (("B L C", "B"),)
    test_hints = {"patch_size_L": (1, 4, 16, 64), "patch_size_C": (1, 2, 3), "num_patches": (1, 3, 8)}

    def infer(self, p: HsePatchSamplingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = _signal_and_rate(ctx, ins)
        return [TensorType((x.shape[0], p.num_patches, 2 * p.patch_size_L * p.patch_size_C), x.dtype)]

    def flops(self, p: HsePatchSamplingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def init_code(self, p: HsePatchSamplingParams) -> str:
        return call("HsePatchSampler", patch_size_L=p.patch_size_L, patch_size_C=p.patch_size_C,
                    num_patches=p.num_patches, eval_sampling=non_default(p.eval_sampling, "random"),
                    seed=non_default(p.seed, 0))


@register
class HseSequencePatches(Block):
    """Evenly spaced windows of a signal with a time channel (ISFM E_02_HSE_v2): [B, L, C] -> [B, P, pL, C + 1].

    The time stamps ``index / fs`` become channel C + 1; ``num_patches`` windows of ``patch_size_L``
    steps start at ``round(linspace(0, L - patch_size_L, num_patches))`` (they overlap or leave gaps).
    Needs ``L >= patch_size_L``. Deterministic; no parameters.
    """

    name = "hse_sequence_patches"
    Params = HseSequencePatchesParams
    category = "embedding"
    inputs = ("x", "fs")
    natives = ("HseSequencePatches",)
    test_layouts = (("B L C", "B"),)
    test_hints = {"patch_size_L": (1, 4, 16), "num_patches": (1, 3, 8)}

    def infer(self, p: HseSequencePatchesParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = _signal_and_rate(ctx, ins)
        b, length, channels = x.shape
        ctx.require(length, ">=", p.patch_size_L, f"the signal is at least one patch long ({p.patch_size_L} steps)",
                    param="patch_size_L")
        return [TensorType((b, p.num_patches, p.patch_size_L, channels + 1), x.dtype)]

    def flops(self, p: HseSequencePatchesParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def init_code(self, p: HseSequencePatchesParams) -> str:
        return call("HseSequencePatches", num_patches=p.num_patches, patch_size_L=p.patch_size_L)


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
    natives = ("SystemRouter",)
    test_ranks = (2, 3, 4)
    test_hints = {"num_channels": ({"1": 1}, {"4": 2}, {"1": 2, "2": 2}), "c_dim": (1, 2, 8)}

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

    def param_count(self, p: HseChannelMixerParams, ins: list[TensorType]) -> int:
        hidden = 2 * p.c_dim
        return sum((c + 1) * hidden + hidden + hidden * p.c_dim + p.c_dim for c in p.num_channels.values())

    def flops(self, p: HseChannelMixerParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        width = ins[0].shape[-1]
        return numel(outs[0]) * (4 * width + 4 * p.c_dim + 2)

    def init_code(self, p: HseChannelMixerParams) -> str:
        hidden = 2 * p.c_dim
        heads = ", ".join(f'"{k}": nn.Sequential(nn.Linear({c + 1}, {hidden}), nn.GELU(), nn.Linear({hidden}, '
                          f'{p.c_dim}))' for k, c in p.num_channels.items())
        widths = ", ".join(f'"{k}": {c + 1}' for k, c in p.num_channels.items())
        return f"SystemRouter({{{heads}}}, in_features={{{widths}}}, out_features={p.c_dim})"


@register
class HsePositionTable(Block):
    """Add a frozen sine-cosine position table to tokens [B, P, D] (ISFM E_02_HSE_v2's ``pos_embed``).

    The table [1, P, D] has sines in the first D/2 features and cosines in the last D/2; it is a
    parameter with ``requires_grad=False`` (in ``state_dict`` and the parameter count, not trained).
    D must be even. Output [B, P, D].
    """

    name = "hse_position_table"
    Params = HsePositionTableParams
    category = "position"
    natives = ("HsePositionTable",)
    test_layouts = (("B P D",),)

    def infer(self, p: HsePositionTableParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, P, D]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        for axis, given, param, what in ((1, p.num_patches, "num_patches", "the token count P (num_patches)"),
                                         (2, p.dim, "dim", "the token width D")):
            if given is not None:
                ctx.equal(t.shape[axis], given, port="x", what=what, t=t, param=param)
            ctx.set(param, ctx.concrete(t.shape[axis], what, port="x"))
        dim = ctx.concrete(t.shape[2], "the token width D", port="x")
        if dim % 2:
            raise ctx.fail(f"the sine-cosine table needs an even token width, got {dim}", port="x", param="dim",
                           expected="an even D (half sines, half cosines)", found=str(dim))
        return [t]

    def param_count(self, p: HsePositionTableParams, ins: list[TensorType]) -> int:
        assert p.num_patches is not None and p.dim is not None
        return p.num_patches * p.dim

    def init_code(self, p: HsePositionTableParams) -> str:
        return call("HsePositionTable", p.num_patches, p.dim)
