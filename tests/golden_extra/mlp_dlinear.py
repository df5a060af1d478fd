"""DLinear golden variant: one pair of layers per channel (the default file has the shared pair)."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

CASES = [
    (os.path.join(LIBRARY_DIR, "mlp", "Dlinear.yaml"), "mlp__Dlinear__individual.py",
     {"individual": True, "input_dim": 2}),
]
