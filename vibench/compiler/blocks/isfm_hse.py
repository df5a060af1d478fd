"""Hierarchical signal embedding blocks (ISFM E_01_HSE and E_02_HSE_v2).

Both take a signal [B, L, C] and its sampling frequency ``fs`` [B] and append each sample's time
stamps (index / fs) as extra channels before patching. E_02's per-system channel mixer, which routes each
sample by its ``system_id``, is a block file of its own (:mod:`vibench.compiler.blocks.isfm_hse_mixer`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from vibench.compiler.blocks.base import FLOAT_DTYPES, Block, ShapeContext, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import nn, torch


class HsePatchSamplingParams(BlockParams):
    patch_size_L: int = Field(ge=1, description="Samples per patch along time (the reference's patch_size_L).")
    patch_size_C: int = Field(1, ge=1, description="Channels per patch (the reference's patch_size_C).")
    num_patches: int = Field(ge=1, description="Patches drawn per sample (the output's token count P).")
    eval_sampling: Literal["random", "seeded", "evenly_spaced"] = Field(
        "random",
        description="Patch starts in eval mode: 'random' redraws them on every call (the reference); 'seeded' "
        "uses one fixed draw of start fractions; 'evenly_spaced' spreads them over the signal.",
    )
    seed: int = Field(0, ge=0, description="Seed of the fixed draw used by eval_sampling 'seeded'.")


class HseSequencePatchesParams(BlockParams):
    num_patches: int = Field(ge=1, description="Patches per sample, starts evenly spaced over the signal.")
    patch_size_L: int = Field(ge=1, description="Samples per patch (the reference's patch_size_L).")


class HsePositionTableParams(BlockParams):
    num_patches: int | None = Field(None, ge=1, description="Rows of the table: the token count P (inferred).")
    dim: int | None = Field(None, ge=1, description="Token width (inferred from the input).")


# -- torch implementations (copied into model.py) --------------------------------------------


class HsePatchSampler(nn.Module):
    """E_01_HSE's patches: ``num_patches`` blocks of patch_size_L steps x patch_size_C channels per sample.

    Each block is gathered at a random start in time and in channels (channel indices wrap around)
    together with its time stamps (repeated over the block's channels) and flattened time-major to
    ``2 * patch_size_L * patch_size_C`` features: [B, L, C], fs [B] -> [B, P, 2 * pL * pC]. A signal
    shorter than a patch (or with fewer channels) first has every step (channel) repeated
    ``ceil(patch / size)`` times. Starts are redrawn on every call in training; in eval mode
    ``eval_sampling`` picks them: "random" (as in training: the reference), "seeded" (one draw of
    start fractions made at construction from ``seed``, the same for every call and sample) or
    "evenly_spaced" (time starts spread from the first to the last possible start, channel starts
    cycling). Draws use the global torch generator in the reference's order (time starts, then
    channel starts), so ``torch.manual_seed`` reproduces the reference's patches. The seeded
    fractions are plain Python floats, not a buffer: a model built on the meta device, then
    ``to_empty()`` and ``load_state_dict`` (whose keys are the reference's) keeps them.
    """

    def __init__(
        self, patch_size_L: int, patch_size_C: int, num_patches: int, eval_sampling: str = "random", seed: int = 0
    ) -> None:
        super().__init__()
        self.patch_size_L = patch_size_L
        self.patch_size_C = patch_size_C
        self.num_patches = num_patches
        self.eval_sampling = eval_sampling
        self.seed = seed
        generator = torch.Generator().manual_seed(seed)  # on the CPU, even under `with torch.device("meta")`
        self.fractions = torch.rand(2, num_patches, generator=generator, device="cpu").tolist()

    def extra_repr(self) -> str:
        patch = f"patch_size_L={self.patch_size_L}, patch_size_C={self.patch_size_C}, num_patches={self.num_patches}"
        seed = f", seed={self.seed}" if self.eval_sampling == "seeded" else ""
        return f"{patch}, eval_sampling={self.eval_sampling!r}{seed}"

    def forward(self, x: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        # Time stamps in float32 or wider, then x's dtype (float16 rounds indices above 2048 and holds no rate
        # above 65,504 Hz); a rate that became inf (a float16 fs) gives NaN stamps, not silent zeros.
        rate = fs.to(torch.float64 if x.dtype == torch.float64 or fs.dtype == torch.float64 else torch.float32)
        _check_rates(fs, rate)
        period = (1.0 / rate).masked_fill(rate.isinf(), float("nan"))
        time = (torch.arange(length, device=x.device, dtype=rate.dtype).unsqueeze(0) * period.unsqueeze(1)).to(x.dtype)
        if self.patch_size_L > length:
            repeats = (self.patch_size_L + length - 1) // length
            x = x.repeat_interleave(repeats, dim=1)
            time = time.repeat_interleave(repeats, dim=1)
            length = x.shape[1]
        if self.patch_size_C > channels:
            x = x.repeat_interleave((self.patch_size_C + channels - 1) // channels, dim=2)
            channels = x.shape[2]
        last_l = length - self.patch_size_L
        last_c = channels - self.patch_size_C
        if self.training or self.eval_sampling == "random":
            start_l = torch.randint(0, last_l + 1, (batch, self.num_patches), device=x.device)
            start_c = torch.randint(0, last_c + 1, (batch, self.num_patches), device=x.device)
        elif self.eval_sampling == "seeded":  # float32 whatever the model's dtype: the same starts after .half()
            fractions = torch.tensor(self.fractions, dtype=torch.float32, device=x.device)
            start_l = (fractions[0] * (last_l + 1)).long().clamp(max=last_l).expand(batch, -1)
            start_c = (fractions[1] * (last_c + 1)).long().clamp(max=last_c).expand(batch, -1)
        else:
            start_l = torch.linspace(0, last_l, self.num_patches, device=x.device).round().long().expand(batch, -1)
            start_c = (torch.arange(self.num_patches, device=x.device) % (last_c + 1)).expand(batch, -1)
        # A patch is the window of patch_size_L steps at its start (unfold: a view of every window), with
        # its channels gathered from the window's, wrapping around (0.6x the time of indexing every element).
        rows = torch.arange(batch, device=x.device).unsqueeze(1)
        windows = x.unfold(1, self.patch_size_L, 1)[rows, start_l]  # [B, P, C, pL]
        chans = (start_c.unsqueeze(-1) + torch.arange(self.patch_size_C, device=x.device)) % channels  # [B, P, pC]
        values = windows.gather(2, chans.unsqueeze(-1).expand(-1, -1, -1, self.patch_size_L)).transpose(2, 3)
        stamps = time.unfold(1, self.patch_size_L, 1)[rows, start_l]  # [B, P, pL]
        stamps = stamps.unsqueeze(-1).expand(-1, -1, -1, self.patch_size_C)
        return torch.cat([values, stamps], dim=-1).flatten(2)


def _check_rates(fs: torch.Tensor, rate: torch.Tensor) -> None:
    """A ValueError unless every sampling rate is positive and finite (0 or NaN gave that sample NaN
    outputs, a negative rate time running backwards, silently). Checked on the CPU in eager mode only: on
    an accelerator the test would wait for the device at every call, and a traced graph takes none;
    there an inf rate (a float16 fs above 65,504 Hz) gives NaN time stamps."""
    if not torch.jit.is_scripting():  # TorchScript compiles none of this
        if rate.device.type != "cpu" or torch.compiler.is_compiling():
            return
        bad = ~((rate > 0) & rate.isfinite())
        if bool(bad.any()):
            k = int(bad.nonzero()[0, 0])
            value = float(fs[k])
            hint = (
                " (a float16 fs holds no rate above 65,504 Hz: give fs in float32)"
                if (fs.dtype == torch.float16 and value == float("inf"))
                else ""
            )
            raise ValueError(
                f"input `fs` (the sampling rate of each sample, in Hz) must be positive and finite; "
                f"sample {k} holds {value}{hint}"
            )


class HseSequencePatches(nn.Module):
    """E_02_HSE_v2's patches: the signal with a time channel, cut into evenly spaced windows.

    The time channel ``index / fs`` is appended after the C signal channels; ``num_patches`` windows
    of ``patch_size_L`` steps start at ``round(linspace(0, L - patch_size_L, num_patches))``, so they
    overlap or leave gaps: [B, L, C], fs [B] -> [B, P, patch_size_L, C + 1]. Deterministic.
    """

    def __init__(self, num_patches: int, patch_size_L: int) -> None:
        super().__init__()
        self.num_patches = num_patches
        self.patch_size_L = patch_size_L

    def extra_repr(self) -> str:
        return f"num_patches={self.num_patches}, patch_size_L={self.patch_size_L}"

    def forward(self, x: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        # in float32 or wider, then x's dtype; a rate that became inf (a float16 fs) gives NaN, not silent zeros
        rate = fs.to(torch.float64 if x.dtype == torch.float64 or fs.dtype == torch.float64 else torch.float32)
        _check_rates(fs, rate)
        rate = rate.masked_fill(rate.isinf(), float("nan"))
        time = (torch.arange(length, device=x.device).unsqueeze(0) / rate.unsqueeze(1)).to(x.dtype)
        signal = torch.cat([x, time.unsqueeze(-1)], dim=-1)
        starts = torch.linspace(0, length - self.patch_size_L, self.num_patches, device=x.device).round().long()
        steps = starts.unsqueeze(1) + torch.arange(self.patch_size_L, device=x.device)  # [P, pL]
        # index_select then a view: 3-4x faster than signal[:, steps] on CPU (measured, [8, 4096, 2])
        windows = signal.index_select(1, steps.flatten())
        return windows.view(x.shape[0], self.num_patches, self.patch_size_L, signal.shape[-1])


class HsePositionTable(nn.Module):
    """Add E_02_HSE_v2's fixed sine-cosine table [1, P, D] to tokens [B, P, D].

    Row ``p`` holds ``sin(p * w_k)`` in the first D/2 features and ``cos(p * w_k)`` in the last D/2,
    ``w_k = 10000 ** (-2k / D)``. The table is a frozen parameter (``requires_grad=False``): it is in
    ``state_dict`` and counted among the parameters, as in the reference.
    """

    def __init__(self, num_patches: int, dim: int) -> None:
        super().__init__()
        position = torch.arange(num_patches, dtype=torch.float64)
        omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
        angles = position.unsqueeze(1) * omega.unsqueeze(0)
        table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()
        self.table = nn.Parameter(table.unsqueeze(0), requires_grad=False)

    def extra_repr(self) -> str:
        return f"num_patches={self.table.shape[1]}, dim={self.table.shape[2]}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table.to(x.dtype)


# -- blocks -----------------------------------------------------------------------------------


def _signal_and_rate(ctx: ShapeContext, ins: list[TensorType]) -> TensorType:
    x, fs = ins
    ctx.rank("x", x, 3, "[B, L, C]")
    ctx.dtype("x", x, FLOAT_DTYPES)
    ctx.rank("fs", fs, 1, "[B]")
    ctx.dtype("fs", fs, FLOAT_DTYPES, "a sampling frequency per sample, in Hz")
    ctx.dtype("fs", fs, frozenset({x.dtype}), f"{x.dtype}, the dtype of x (mixed dtypes are not promoted)")
    ctx.equal(fs.shape[0], x.shape[0], port="fs", what="batch size of fs and x", t=fs)
    return x


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
    positive_inputs = ("fs",)  # a sampling rate: _check_rates refuses others
    any_float_inputs = ("fs",)  # the time stamps are computed in float32 or wider, then take x's dtype
    natives = (_check_rates, HsePatchSampler)
    stochastic = True
    test_layouts = (("B L C", "B"),)
    test_hints = {"patch_size_L": (1, 4, 16, 64), "patch_size_C": (1, 2, 3), "num_patches": (1, 3, 8)}

    def infer(self, p: HsePatchSamplingParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        x = _signal_and_rate(ctx, ins)
        return [TensorType((x.shape[0], p.num_patches, 2 * p.patch_size_L * p.patch_size_C), x.dtype)]

    def internal_tensors(self, p: HsePatchSamplingParams, ins: list[TensorType],
                         outs: list[TensorType]) -> tuple[tuple[str, TensorType], ...]:
        # forward repeats each step (channel) of a signal shorter (narrower) than a patch: at most L + patch_size_L
        # steps and C + patch_size_C channels (a [1, 1, 4096] input and a 1,048,576-step patch took 17 GB)
        b, length, channels = ins[0].shape
        return (("the signal repeated to a patch's size",
                 TensorType((b, length + p.patch_size_L, channels + p.patch_size_C), ins[0].dtype)),)

    def flops(self, p: HsePatchSamplingParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return numel(outs[0])

    def buffer_count(self, p: HsePatchSamplingParams, ins: list[TensorType]) -> int:
        return 2 * p.num_patches  # ``fractions``, the seeded starts (Python floats)

    def init_code(self, p: HsePatchSamplingParams) -> Code:
        return c.call(HsePatchSampler.__name__, patch_size_L=p.patch_size_L, patch_size_C=p.patch_size_C,
                      num_patches=p.num_patches, eval_sampling=non_default(p.eval_sampling, "random"),
                      seed=non_default(p.seed, 0))


@register
class HseSequencePatchesBlock(Block):
    """Evenly spaced windows of a signal with a time channel (ISFM E_02_HSE_v2): [B, L, C] -> [B, P, pL, C + 1].

    The time stamps ``index / fs`` become channel C + 1; ``num_patches`` windows of ``patch_size_L``
    steps start at ``round(linspace(0, L - patch_size_L, num_patches))`` (they overlap or leave gaps).
    Needs ``L >= patch_size_L``. Deterministic; no parameters.
    """

    name = "hse_sequence_patches"
    Params = HseSequencePatchesParams
    category = "embedding"
    inputs = ("x", "fs")
    positive_inputs = ("fs",)  # a sampling rate: _check_rates refuses others
    any_float_inputs = ("fs",)  # the time channel is computed in float32 or wider, then takes x's dtype
    natives = (_check_rates, HseSequencePatches)
    fresh_output = True  # gathered by an index: a new tensor that autograd does not keep
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

    def init_code(self, p: HseSequencePatchesParams) -> Code:
        return c.call(HseSequencePatches.__name__, num_patches=p.num_patches, patch_size_L=p.patch_size_L)


@register
class HsePositionTableBlock(Block):
    """Add a frozen sine-cosine position table to tokens [B, P, D] (ISFM E_02_HSE_v2's ``pos_embed``).

    The table [1, P, D] has sines in the first D/2 features and cosines in the last D/2; it is a
    parameter with ``requires_grad=False`` (in ``state_dict`` and the parameter count, not trained).
    D must be even. Output [B, P, D].
    """

    name = "hse_position_table"
    Params = HsePositionTableParams
    category = "position"
    natives = (HsePositionTable,)
    fresh_output = True  # x + table: autograd keeps neither
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

    def init_code(self, p: HsePositionTableParams) -> Code:
        return c.call(HsePositionTable.__name__, p.num_patches, p.dim)
