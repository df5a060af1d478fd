"""MLP family (except Dlinear, covered by mlp_dlinear.py): ResNetMLP, MLPMixer, gMLP, DenseNetMLP.

Every row's config compiles as written: MLPMixer's and gMLP's rows set ``seq_len`` to the input
length, so the token-mixing weights fit (a mismatch is E305 at compile time, see
vibench/specs/DEVIATIONS.md).
"""

MODELS = ("ResNetMLP", "MLPMixer", "gMLP", "DenseNetMLP")
