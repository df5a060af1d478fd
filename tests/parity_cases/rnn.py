"""RNN family: AttentionLSTM, AttentionGRU, ConvLSTM, ResidualRNN.

Every ok row compiles from its config as written. One row differs on purpose (see
vibench/specs/DEVIATIONS.md): the reference's AttentionLSTM builds its attention module in regression
mode too and never calls it; vibench builds only what forward uses.
"""

MODELS = ("AttentionLSTM", "AttentionGRU", "ConvLSTM", "ResidualRNN")

_UNUSED_ATTENTION = 256 * 64 + 64 + 64  # attention_linear (256 -> 64, with bias) + context_vector (64 -> 1)

OVERRIDES = {
    "AttentionLSTM: regression head": {
        "params": 546_177 - _UNUSED_ATTENTION,
        "n_keys": 21 - 3,
        "prefixes": {"lstm", "output_projection"},
        "why": "the reference creates `attention` (16,512 parameters, 3 keys) in regression mode but never uses "
               "it; vibench does not build modules forward never calls (vibench/specs/DEVIATIONS.md)",
    },
}
