"""Parity cases of the Transformer family: PatchTST, Autoformer, Informer, Linformer.

PHM-Vibench cannot import these models (the package's ``__init__`` fails), so every row was measured
by instantiating the model file directly; the rows' config arguments are the hyperparameters a
PHM-Vibench ``model:`` section would carry, and compile through the same path.
"""

MODELS = {"PatchTST", "Autoformer", "Informer", "Linformer"}
