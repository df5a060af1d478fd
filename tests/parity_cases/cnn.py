"""CNN family (vibench/specs/cnn): ResNet1D, AttentionCNN, MultiScaleCNN, MobileNet1D, TCN.

Every row compiles from the reference's own hyperparameters (the templates use its names). One
deliberate difference: the reference TCN registers each weight-normalised convolution twice (as
``conv1``/``conv2`` and again inside ``net``), so its ``state_dict`` lists 24 (or 36) tensors twice;
vibench holds each once, and the template's renames fold ``net.0``/``net.4`` onto ``conv1``/``conv2``
(``load_reference_state_dict`` accepts the duplicates because they hold the same tensors).
"""

from __future__ import annotations

MODELS = ("ResNet1D", "AttentionCNN", "MultiScaleCNN", "MobileNet1D", "TCN")

_TCN_WHY = ("the reference registers every weight-normed conv twice (conv1/conv2 and net.0/net.4: 3 keys each); "
            "vibench keeps one copy (vibench/specs/DEVIATIONS.md)")

OVERRIDES = {
    "TCN: canonical (defaults: [25,25,25,25], k=2, dropout 0.2)": {"n_keys": 52 - 4 * 6, "why": _TCN_WHY},
    "TCN: alt: [64]*6, k=3": {"n_keys": 76 - 6 * 6, "why": _TCN_WHY},
    "TCN: regression head": {"n_keys": 52 - 4 * 6, "why": _TCN_WHY},
}
