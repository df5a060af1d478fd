"""Parity cases of MLP/Dlinear (the other MLP-family templates have their own module, mlp.py)."""

MODELS = {"Dlinear"}
