"""``dwt1d``: one level of the discrete wavelet transform with zero padding (MWA_CNN's wavelet stages).

Computes what ``pytorch_wavelets.DWT1DForward(J=1, wave=..., mode="zero")`` computes (PHM-Vibench's
X_model/MWA_CNN uses it with ``db16``), with nothing but torch: the series is zero-padded so that
``(L + taps - 1) // 2`` coefficients come out (pywt's ``dwt_coeff_len`` for mode ``zero``), then
filtered by the decomposition low-pass and high-pass filters with stride 2, channel by channel.
The filters are the buffers ``h0`` and ``h1`` [1, 1, taps], time-reversed as pytorch_wavelets
stores them, so its checkpoints load; the coefficients are Daubechies' (PyWavelets' values).
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
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch

TAPS = {"haar": 2, "db1": 2, "db2": 4, "db4": 8, "db8": 16, "db16": 32}


class Dwt1dParams(BlockParams):
    wavelet: Literal["haar", "db1", "db2", "db4", "db8", "db16"] = Field(
        "db16", description="Decomposition wavelet (Daubechies; haar = db1)."
    )


# -- torch implementation (copied into model.py) ---------------------------------------------


class WaveletDWT(nn.Module):
    """One level of the DWT of [B, C, L] with zero padding: (approximation, detail), each [B, C, (L + taps - 1) // 2].

    ``h0`` / ``h1``: the decomposition low-pass / high-pass filters, time-reversed, [1, 1, taps]
    (pytorch_wavelets' ``DWT1DForward`` buffers); the high-pass is the quadrature mirror of the low-pass.
    """

    h0: torch.Tensor
    h1: torch.Tensor

    def __init__(self, wavelet: str = "db16") -> None:
        super().__init__()
        self.wavelet = wavelet
        filters = {  # decomposition low-pass filters (Daubechies; haar = db1), as PyWavelets gives them
            "haar": "0.7071067811865476 0.7071067811865476",
            "db1": "0.7071067811865476 0.7071067811865476",
            "db2": "-0.12940952255126037 0.2241438680420134 0.8365163037378079 0.48296291314453416",
            "db4": "-0.010597401785069032 0.0328830116668852 0.030841381835560764 -0.18703481171909309 "
            "-0.027983769416859854 0.6308807679298589 0.7148465705529157 0.2303778133088965",
            "db8": "-0.00011747678412476953 0.0006754494064505693 -0.00039174037337694705 "
            "-0.004870352993451574 0.008746094047405777 0.013981027917398282 -0.044088253930794755 "
            "-0.017369301001807547 0.12874742662047847 0.0004724845739132828 -0.2840155429615469 "
            "-0.015829105256349306 0.5853546836542067 0.6756307362972898 0.31287159091429995 "
            "0.05441584224310401",
            "db16": "-2.109339630100743e-08 2.3087840868575457e-07 -7.363656785451205e-07 "
            "-1.0435713423116066e-06 1.1336608661276258e-05 -1.3945668988208893e-05 "
            "-6.103596621410936e-05 0.00017478724522533817 0.00011424152003872239 "
            "-0.0009410217493595676 0.00040789698084971285 0.003128023381206269 -0.00364427962149839 "
            "-0.006990014563413916 0.013993768859828731 0.01029765964095597 -0.03688839769173014 "
            "-0.007588974368857738 0.07592423604427631 -0.006239722752474872 -0.1323883055638104 "
            "0.027340263752716042 0.2111906939471043 -0.027918208133028276 -0.3270633105279177 "
            "-0.08975108940248964 0.4402902568863569 0.637356332083789 0.4303127228460038 "
            "0.16506428348885313 0.034907714323673344 0.003189220925347738",
        }
        lowpass = [float(value) for value in filters[wavelet].split()]
        taps = len(lowpass)
        highpass = [(-1.0) ** (k + 1) * lowpass[taps - 1 - k] for k in range(taps)]
        self.register_buffer("h0", torch.tensor(lowpass[::-1], dtype=torch.float32).reshape(1, 1, taps))
        self.register_buffer("h1", torch.tensor(highpass[::-1], dtype=torch.float32).reshape(1, 1, taps))

    def extra_repr(self) -> str:
        return f"wavelet={self.wavelet!r}"

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        length, taps, channels = x.shape[-1], self.h0.shape[-1], x.shape[1]
        pad = 2 * ((length + taps - 1) // 2 - 1) - length + taps
        x = F.pad(x, (pad // 2, pad - pad // 2))
        if channels == 1:  # both filters in one convolution
            both = F.conv1d(x, torch.cat([self.h0, self.h1]).to(x.dtype), stride=2)
            return both[:, :1], both[:, 1:]
        # A depthwise convolution per filter: 2-4x faster than one grouped convolution of both filters,
        # forward and backward (whose grouped kernel is slow on the CPU); the same values.
        low = F.conv1d(x, self.h0.expand(channels, 1, taps).to(x.dtype), stride=2, groups=channels)
        return low, F.conv1d(x, self.h1.expand(channels, 1, taps).to(x.dtype), stride=2, groups=channels)


# -- block ------------------------------------------------------------------------------------


@register
class Dwt1dBlock(Block):
    """One level of the discrete wavelet transform of [B, C, L] (zero padding): `approx` and `detail`.

    Both outputs are [B, C, (L + taps - 1) // 2] (taps: 2 for haar, 2N for dbN), as
    pytorch_wavelets' ``DWT1DForward(J=1, mode="zero")``; read them as ``node.approx`` and
    ``node.detail``. The filters are non-trainable buffers ``h0`` and ``h1`` (in ``state_dict``).
    """

    name = "dwt1d"
    Params = Dwt1dParams
    category = "spectral"
    outputs = ("approx", "detail")
    natives = (WaveletDWT,)
    imports = ("F",)
    test_hints = {"wavelet": ("haar", "db2", "db16")}

    def infer(self, p: Dwt1dParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.rank("x", t, 3, "[B, C, L]")
        ctx.dtype("x", t, FLOAT_DTYPES)
        b, channels, length = t.shape
        out = TensorType((b, channels, (length + TAPS[p.wavelet] - 1) // 2), t.dtype)
        return [out, out]

    def flops(self, p: Dwt1dParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 4 * TAPS[p.wavelet] * numel(outs[0])

    def init_code(self, p: Dwt1dParams) -> Code:
        return c.call(WaveletDWT.__name__, wavelet=non_default(p.wavelet, "db16"))
