"""MLP family golden variants (Dlinear aside): the classifier heads (the default golden file of each
template is the regression head, `num_classes: null`) and the channels-first layout. Keep the
parameters short: they are written into the file's 120-column "Regenerate:" line."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_MLP = os.path.join(LIBRARY_DIR, "mlp")

CASES = [
    (os.path.join(_MLP, "ResNetMLP.yaml"), "mlp__ResNetMLP__bcl_classifier.py", {"num_classes": 10, "layout": "BCL"}),
    (os.path.join(_MLP, "MLPMixer.yaml"), "mlp__MLPMixer__classifier.py", {"num_classes": 10, "seq_len": 1024}),
    (os.path.join(_MLP, "gMLP.yaml"), "mlp__gMLP__classifier.py", {"num_classes": 10, "seq_len": 1024}),
    (os.path.join(_MLP, "DenseNetMLP.yaml"), "mlp__DenseNetMLP__two_blocks.py", {"block_config": [2, 2]}),
]
