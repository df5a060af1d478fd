"""ISFM composite golden variants: M_01_ISFM with three more slot fillings (its default file is
E_01_HSE + B_04_Dlinear + H_01_Linear_cla), a multi-task model and a backbone ensemble."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_M01 = os.path.join(LIBRARY_DIR, "isfm", "M_01_ISFM.yaml")

CASES = [
    (_M01, "isfm__M_01_ISFM__patch_transformer_distance.py",
     {"embedding": "E_03_Patch", "backbone": "B_01_basic_transformer", "task_head": "H_02_distance_cla"}),
    (_M01, "isfm__M_01_ISFM__timesnet_4_classes.py",
     {"backbone": "B_06_TimesNet", "d_model": 128, "num_classes": 4}),
    (_M01, "isfm__M_01_ISFM__patchtst_prediction.py",
     {"backbone": "B_08_PatchTST", "task_head": "H_03_Linear_pred", "max_len": 1024, "max_out": 1}),
    (_M01, "isfm__M_01_ISFM__multi_task.py",
     {"task_configs": {"classification": {"head": "H_02_distance_cla"},
                       "signal_prediction": {"loss_weight": 0.5, "max_len": 1024, "max_out": 1}}}),
    (_M01, "isfm__M_01_ISFM__ensemble.py",
     {"ensemble_backbones": ["B_08_PatchTST", "B_06_TimesNet", "B_04_Dlinear"], "d_ff": 64}),
]
