"""Parameter models of the blocks the ISFM backbone templates added to the catalogue.

``rms_norm`` and ``mamba_mixer`` (B_05_Mamba), ``times_block`` (B_06_TimesNet's period folding with
2-D inception convolutions) and ``frequency_interpolation`` (B_03_FITS); B_04_Dlinear uses the
Dlinear family's ``temporal_linear``. Conventions as in
:mod:`vibench.schemas.blocks`: fields the shape rule infers default to None and say "(inferred" in
their description.
"""

from __future__ import annotations

from pydantic import Field

from vibench.schemas.blocks import BlockParams


class RmsNormParams(BlockParams):
    eps: float | None = Field(
        None, gt=0, description="Added to the mean square for stability (None: the dtype's machine epsilon, torch's "
        "default)."
    )
    elementwise_affine: bool = Field(True, description="Learnable per-feature scale.")
    normalized_shape: int | None = Field(None, ge=1, description="Width of the last dimension (inferred).")


class MambaMixerParams(BlockParams):
    d_state: int = Field(16, ge=1, description="State size N of the selective state-space model.")
    expand: int = Field(2, ge=1, description="Inner width as a multiple of the model width (E = expand * D).")
    d_conv: int = Field(4, ge=1, description="Width of the causal depthwise convolution.")
    dt_rank: int | None = Field(
        None, ge=1, description="Rank of the step-size projection (inferred: ceil(D / 16))."
    )
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


class TimesBlockParams(BlockParams):
    d_ff: int = Field(ge=1, description="Channels between the two inception blocks.")
    top_k: int = Field(5, ge=1, description="Dominant periods folded per call (largest FFT amplitudes).")
    num_kernels: int = Field(
        6, ge=1, description="Square kernels per inception block: sizes 1, 3, ..., 2 * num_kernels - 1."
    )
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, T, D] (inferred).")


class FrequencyInterpolationParams(BlockParams):
    cut_freq: int = Field(65, ge=1, description="Lowest Fourier bins kept and mapped (the low-pass cut-off).")
    pred_len: int = Field(0, ge=0, description="Steps appended to the series (0: reconstruct the input length).")
    channels: int | None = Field(None, ge=1, description="Channels C of [B, T, C] (inferred).")
    seq_len: int | None = Field(
        None, ge=1, description="Input length T (inferred; fixed at compile time only when pred_len > 0)."
    )
