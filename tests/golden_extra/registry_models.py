"""Golden variants of the library III registry models: the classifier heads of the templates whose
default is the sequence output, the reference's own computation of Transformer_Dummy, and TSPN's
operator bank with the pairwise operators."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

CASES = [
    (os.path.join(LIBRARY_DIR, "rnn", "TransformerRNN.yaml"), "rnn__TransformerRNN__gru_classifier.py",
     {"rnn_type": "gru", "num_classes": 4}),
    (os.path.join(LIBRARY_DIR, "transformer", "ConvTransformer.yaml"), "transformer__ConvTransformer__classifier.py",
     {"num_classes": 4}),
    (os.path.join(LIBRARY_DIR, "transformer", "Transformer_Dummy.yaml"),
     "transformer__Transformer_Dummy__batch_attention.py", {"batch_first": False}),
    (os.path.join(LIBRARY_DIR, "no", "NeuralODE.yaml"), "no__NeuralODE__classifier.py", {"num_classes": 4}),
    (os.path.join(LIBRARY_DIR, "no", "GraphNO.yaml"), "no__GraphNO__classifier.py",
     {"num_classes": 4, "input_dim": 3, "num_nodes": 2}),
    (os.path.join(LIBRARY_DIR, "no", "WaveletNO.yaml"), "no__WaveletNO__classifier.py", {"num_classes": 4}),
    (os.path.join(LIBRARY_DIR, "x_model", "TSPN.yaml"), "x_model__TSPN__pairwise.py",
     {"signal_processing_configs": {"a": ["Squ", "Add", "Mul", "Div"], "b": ["LNO", "LNO", "HT", "I"]},
      "skip_connection": False, "scale": 2}),
]
