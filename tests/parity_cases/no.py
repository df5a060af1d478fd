"""Parity cases of the neural-operator family: FNO and DeepONet."""

MODELS = {"FNO", "DeepONet"}
