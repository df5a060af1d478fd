"""ISFM backbone golden variants: B_04_Dlinear with one pair of token maps per feature channel (the
reference's `individual` constructor argument), and B_03_FITS forecasting past the input (pred_len > 0
sizes the frequency maps by the series length). Keep the parameters short: they are written into the
file's 120-column "Regenerate:" line."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_BACKBONE = os.path.join(LIBRARY_DIR, "isfm", "backbone")

CASES = [
    (os.path.join(_BACKBONE, "B_04_Dlinear.yaml"), "isfm__backbone__B_04_Dlinear__individual.py",
     {"individual": True, "output_dim": 8}),
    (os.path.join(_BACKBONE, "B_03_FITS.yaml"), "isfm__backbone__B_03_FITS__forecast.py",
     {"seq_len": 1024, "pred_len": 256}),
]
