"""Transformer family golden variants: the classifier heads (the default golden file of each template
is the sequence head, `num_classes: null`) and Informer's paper options (sampled ProbSparse attention,
distilling). Keep the parameters short: they are written into the file's "Regenerate:" line."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_TRANSFORMER = os.path.join(LIBRARY_DIR, "transformer")

CASES = [
    (os.path.join(_TRANSFORMER, "PatchTST.yaml"), "transformer__PatchTST__classifier.py", {"num_classes": 10}),
    (os.path.join(_TRANSFORMER, "Autoformer.yaml"), "transformer__Autoformer__classifier.py", {"num_classes": 10}),
    (os.path.join(_TRANSFORMER, "Informer.yaml"), "transformer__Informer__prob_sparse_distil.py",
     {"num_classes": 10, "attention": "prob_sparse", "sampling_seed": 0, "distil": True, "e_layers": 3}),
    (os.path.join(_TRANSFORMER, "Linformer.yaml"), "transformer__Linformer__classifier.py", {"num_classes": 10}),
]
