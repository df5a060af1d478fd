"""RNN family golden variants: the classifier heads (the default golden file of each template is the
regression head, `num_classes: null`). Keep the parameters short: they are written into the
file's 120-column "Regenerate:" line."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_RNN = os.path.join(LIBRARY_DIR, "rnn")

CASES = [
    (os.path.join(_RNN, "AttentionLSTM.yaml"), "rnn__AttentionLSTM__classifier.py", {"num_classes": 10}),
    (os.path.join(_RNN, "AttentionGRU.yaml"), "rnn__AttentionGRU__classifier.py", {"num_classes": 10}),
    (os.path.join(_RNN, "ConvLSTM.yaml"), "rnn__ConvLSTM__classifier.py", {"num_classes": 10}),
    (os.path.join(_RNN, "ResidualRNN.yaml"), "rnn__ResidualRNN__gru_classifier.py",
     {"num_classes": 10, "rnn_type": "gru"}),
]
