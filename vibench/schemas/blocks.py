"""Parameter models of the built-in block catalogue.

One frozen pydantic model per block type. Field names, types, defaults, bounds and descriptions
drive node validation, the JSON Schema and editor completion. Fields that a shape rule can infer
from the input (``in_channels``, ``in_features``, ...) default to ``None``; when given, the rule
checks them against the input instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class BlockParams(BaseModel):
    """Base of every block's parameter model."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)



# -- convolution ------------------------------------------------------------------------------


class Conv1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Kernel width.")
    stride: int = Field(1, ge=1, description="Stride.")
    padding: Annotated[int, Field(ge=0)] | Literal["same", "valid"] = Field(
        0, description="Zero padding on both sides, or 'same' / 'valid'."
    )
    dilation: int = Field(1, ge=1, description="Spacing between kernel taps.")
    groups: int = Field(1, ge=1, description="Blocked connections; in and out channels must divide by it.")
    bias: bool = Field(True, description="Learnable bias.")
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field("zeros", description="Padding mode.")
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


class ConvTranspose1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    kernel_size: int = Field(ge=1, description="Kernel width.")
    stride: int = Field(1, ge=1, description="Stride (the upsampling factor).")
    padding: int = Field(0, ge=0, description="Implicit padding removed from both sides of the output.")
    output_padding: int = Field(0, ge=0, description="Extra length added to one side of the output.")
    dilation: int = Field(1, ge=1, description="Spacing between kernel taps.")
    groups: int = Field(1, ge=1, description="Blocked connections.")
    bias: bool = Field(True, description="Learnable bias.")
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


# -- dense ------------------------------------------------------------------------------------


class LinearParams(BlockParams):
    out_features: int = Field(ge=1, description="Output features (last dimension).")
    bias: bool = Field(True, description="Learnable bias.")
    in_features: int | None = Field(None, ge=1, description="Input features (inferred from the last dimension).")


class EmbeddingParams(BlockParams):
    num_embeddings: int = Field(ge=1, description="Vocabulary size: inputs are integers in [0, num_embeddings).")
    embedding_dim: int = Field(ge=1, description="Size of each embedding vector.")
    padding_idx: int | None = Field(None, description="Index whose vector stays zero and gets no gradient.")


# -- normalisation ----------------------------------------------------------------------------


class BatchNorm1dParams(BlockParams):
    num_features: int | None = Field(None, ge=1, description="Channels C of [B, C] or [B, C, L] (inferred).")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    momentum: float | None = Field(0.1, ge=0, le=1, description="Running-statistics momentum (None: average).")
    affine: bool = Field(True, description="Learnable scale and shift.")
    track_running_stats: bool = Field(True, description="Keep running mean and variance for eval mode.")


class LayerNormParams(BlockParams):
    normalized_shape: int | tuple[int, ...] | None = Field(
        None, description="Trailing dimensions to normalise (default: the last dimension)."
    )
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    elementwise_affine: bool = Field(True, description="Learnable scale (and shift).")
    bias: bool = Field(True, description="Learnable shift (with elementwise_affine).")


class GroupNormParams(BlockParams):
    num_groups: int = Field(ge=1, description="Groups the channels are split into.")
    num_channels: int | None = Field(None, ge=1, description="Channels C of [B, C, ...] (inferred).")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for stability.")
    affine: bool = Field(True, description="Learnable per-channel scale and shift.")


class DropoutParams(BlockParams):
    p: float = Field(0.5, ge=0, le=1, description="Probability of zeroing an element in training mode.")


# -- activations ------------------------------------------------------------------------------


class NoParams(BlockParams):
    pass


class GeluParams(BlockParams):
    approximate: Literal["none", "tanh"] = Field("none", description="'tanh' uses the tanh approximation.")


class LeakyReluParams(BlockParams):
    negative_slope: float = Field(0.01, description="Slope for negative inputs.")


class EluParams(BlockParams):
    alpha: float = Field(1.0, description="Saturation value for negative inputs.")


class SoftmaxParams(BlockParams):
    dim: int = Field(-1, description="Dimension that sums to one.")


# -- pooling ----------------------------------------------------------------------------------


class MaxPool1dParams(BlockParams):
    kernel_size: int = Field(ge=1, description="Window width.")
    stride: int | None = Field(None, ge=1, description="Step between windows (default: kernel_size).")
    padding: int = Field(0, ge=0, description="Implicit -inf padding on both sides (at most kernel_size // 2).")
    dilation: int = Field(1, ge=1, description="Spacing between window taps.")
    ceil_mode: bool = Field(False, description="Round the output length up (needs a known length).")


class AvgPool1dParams(BlockParams):
    kernel_size: int = Field(ge=1, description="Window width.")
    stride: int | None = Field(None, ge=1, description="Step between windows (default: kernel_size).")
    padding: int = Field(0, ge=0, description="Implicit zero padding on both sides (at most kernel_size // 2).")
    ceil_mode: bool = Field(False, description="Round the output length up (needs a known length).")
    count_include_pad: bool = Field(True, description="Count padded zeros in the average.")


class AdaptivePool1dParams(BlockParams):
    output_size: int = Field(ge=1, description="Output length.")


# -- shape manipulation -----------------------------------------------------------------------


class FlattenParams(BlockParams):
    start_dim: int = Field(1, description="First dimension to merge.")
    end_dim: int = Field(-1, description="Last dimension to merge.")


class ReshapeParams(BlockParams):
    shape: tuple[int, ...] = Field(
        description="New shape: positive sizes, at most one -1 (inferred), and 0 to keep the input's "
        "dimension at that position (e.g. [0, 16, -1] keeps the batch)."
    )


class PermuteParams(BlockParams):
    dims: tuple[int, ...] = Field(description="The new order of the dimensions, e.g. [0, 2, 1].")


class TransposeParams(BlockParams):
    dim0: int = Field(description="First dimension to swap.")
    dim1: int = Field(description="Second dimension to swap.")


class RearrangeParams(BlockParams):
    pattern: str = Field(
        description="einops-style pattern, e.g. 'b c (n p) -> b n (p c)'; parentheses split or merge axes."
    )
    sizes: dict[str, int] = Field(
        default_factory=dict, description="Sizes of axes that a split cannot infer, e.g. {p: 16}."
    )

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((self.pattern, tuple(sorted(self.sizes.items()))))


class UnsqueezeParams(BlockParams):
    dim: int = Field(description="Position of the new size-1 dimension.")


class SqueezeParams(BlockParams):
    dim: int = Field(description="Dimension of size 1 to remove.")


class SliceParams(BlockParams):
    dim: int = Field(description="Dimension to slice.")
    start: int = Field(0, description="First index (negative counts from the end).")
    end: int | None = Field(
        None, description="One past the last index (negative counts from the end; None: to the end)."
    )
    step: int = Field(1, ge=1, description="Step.")


class ConcatParams(BlockParams):
    dim: int = Field(1, description="Dimension to concatenate along; all other dimensions must match.")


class SplitParams(BlockParams):
    sizes: tuple[int, ...] = Field(description="Size of each piece along `dim` (their sum is the dimension).")
    dim: int = Field(-1, description="Dimension to split.")


class ChunkParams(BlockParams):
    chunks: int = Field(ge=1, description="Number of equal pieces (the dimension must divide by it).")
    dim: int = Field(-1, description="Dimension to split.")


class ReduceParams(BlockParams):
    dim: int | tuple[int, ...] = Field(description="Dimension(s) to reduce.")
    keepdim: bool = Field(False, description="Keep reduced dimensions with size 1.")


# -- attention and recurrence -----------------------------------------------------------------


class MultiHeadAttentionParams(BlockParams):
    num_heads: int = Field(ge=1, description="Attention heads; embed_dim must divide by it.")
    embed_dim: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout on attention weights.")
    bias: bool = Field(True, description="Biases in the projections.")
    kdim: int | None = Field(None, ge=1, description="Width of the key input (inferred; default embed_dim).")
    vdim: int | None = Field(None, ge=1, description="Width of the value input (inferred; default embed_dim).")


class TransformerEncoderLayerParams(BlockParams):
    nhead: int = Field(ge=1, description="Attention heads; d_model must divide by it.")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    dim_feedforward: int = Field(2048, ge=1, description="Hidden width of the feed-forward network.")
    dropout: float = Field(0.1, ge=0, le=1, description="Dropout rate.")
    activation: Literal["relu", "gelu"] = Field("relu", description="Feed-forward activation.")
    layer_norm_eps: float = Field(1e-5, gt=0, description="LayerNorm epsilon.")
    norm_first: bool = Field(False, description="Pre-norm (True) or post-norm (False).")
    bias: bool = Field(True, description="Biases in linear and norm layers.")


class RecurrentParams(BlockParams):
    hidden_size: int = Field(ge=1, description="Hidden state size H.")
    num_layers: int = Field(1, ge=1, description="Stacked recurrent layers.")
    bias: bool = Field(True, description="Bias weights.")
    dropout: float = Field(0.0, ge=0, le=1, description="Dropout between layers (not after the last).")
    bidirectional: bool = Field(False, description="Run both directions; the output width doubles.")
    input_size: int | None = Field(None, ge=1, description="Input features C of [B, L, C] (inferred).")


# -- spectral ---------------------------------------------------------------------------------


class RfftParams(BlockParams):
    n: int | None = Field(None, ge=1, description="Signal length (crop or zero-pad); default: the input's.")
    dim: int = Field(-1, description="Dimension to transform.")
    norm: Literal["backward", "ortho", "forward"] = Field("backward", description="Normalisation mode.")


class IrfftParams(BlockParams):
    n: int | None = Field(None, ge=1, description="Output length; default 2 * (m - 1) for m input bins.")
    dim: int = Field(-1, description="Dimension to transform.")
    norm: Literal["backward", "ortho", "forward"] = Field("backward", description="Normalisation mode.")


# -- positional encodings ---------------------------------------------------------------------


class SinusoidalPositionalEncodingParams(BlockParams):
    max_len: int = Field(5000, ge=1, description="Longest sequence supported (rows of the fixed table).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")


class LearnedPositionalEncodingParams(BlockParams):
    max_len: int = Field(ge=1, description="Longest sequence supported (rows of the learned table).")
    d_model: int | None = Field(None, ge=1, description="Model width D of [B, L, D] (inferred).")
    init_std: float = Field(0.02, ge=0, description="Standard deviation of the initial table (normal).")


# -- decomposition and neural operators -------------------------------------------------------


class MovingAverageParams(BlockParams):
    kernel_size: int = Field(ge=1, description="Window of the moving average (odd keeps the length).")
    dim: int = Field(1, description="Dimension to average along (time: 1 for [B, L, C]).")


class SeriesDecompositionParams(BlockParams):
    kernel_size: int = Field(ge=1, description="Moving-average window of the trend; must be odd.")
    dim: int = Field(1, description="Time dimension (1 for [B, L, C]).")


class SpectralConv1dParams(BlockParams):
    out_channels: int = Field(ge=1, description="Output channels.")
    modes: int = Field(ge=1, description="Lowest Fourier modes kept (at most L // 2 + 1).")
    in_channels: int | None = Field(None, ge=1, description="Input channels (inferred from the input).")


# -- ensembles --------------------------------------------------------------------------------


class EnsembleFusionParams(BlockParams):
    strategy: Literal["attention", "mean", "concat", "gated"] = Field(
        "attention",
        description="mean: average; concat: concatenate features, project back to D; gated: per-token softmax "
        "gates from the concatenated features; attention: per-token additive attention over the members.",
    )
    d_model: int | None = Field(None, ge=1, description="Feature width D (inferred from the inputs).")
    num_members: int | None = Field(None, ge=1, description="Number of fused tensors (inferred from the inputs).")
