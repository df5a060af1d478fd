"""Parity cases of the library III registry models: TransformerRNN (RNN), ConvTransformer and
Transformer_Dummy (Transformer), NeuralODE, GraphNO and WaveletNO (NO), MWA_CNN and TSPN (X_model).

The rows were measured by instantiating each reference file directly
(``scripts/reference_cases_registry.py --measure``): PHM-Vibench's factory cannot build them (its
``num_classes`` dict breaks the classifiers; the Transformer package fails at import). GraphNO's rows
use L = 8 (its reference loops over time steps and channel pairs in Python).
"""

MODELS = {"TransformerRNN", "ConvTransformer", "Transformer_Dummy", "NeuralODE", "GraphNO", "WaveletNO", "MWA_CNN",
          "TSPN"}
