"""Neural-operator golden variant: FNO in the channels-first layout (no transposes around the model)."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

CASES = [
    (os.path.join(LIBRARY_DIR, "no", "FNO.yaml"), "no__FNO__channels_first.py", {"layout": "BCL"}),
]
