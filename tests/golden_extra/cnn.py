"""CNN family golden variants: the classifier heads (the default golden file of each template is the
regression head, `num_classes: null`), ResNet1D's bottleneck blocks, MultiScaleCNN's length-matched
decoder and TCN's channels-first layout. Keep the parameters short: they are written into the file's
120-column "Regenerate:" line."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_CNN = os.path.join(LIBRARY_DIR, "cnn")

CASES = [
    (os.path.join(_CNN, "ResNet1D.yaml"), "cnn__ResNet1D__bottleneck_classifier.py",
     {"num_classes": 10, "block_type": "bottleneck", "layers": [1, 1, 1, 1]}),
    (os.path.join(_CNN, "AttentionCNN.yaml"), "cnn__AttentionCNN__classifier.py", {"num_classes": 10}),
    (os.path.join(_CNN, "MobileNet1D.yaml"), "cnn__MobileNet1D__classifier.py", {"num_classes": 10}),
    (os.path.join(_CNN, "MultiScaleCNN.yaml"), "cnn__MultiScaleCNN__match_length.py", {"match_input_length": True}),
    (os.path.join(_CNN, "TCN.yaml"), "cnn__TCN__bcl_classifier.py", {"num_classes": 10, "layout": "BCL"}),
]
