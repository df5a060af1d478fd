"""Golden variants of the ISFM embeddings and task heads beyond their defaults: the other form of
the per-system parameters (a mapping where the default is one count, and the reverse), E_01's fixed
evaluation patches and E_03's channels-first layout."""

import os

from vibench.compiler.resolve import LIBRARY_DIR

_EMBEDDING = os.path.join(LIBRARY_DIR, "isfm", "embedding")
_HEAD = os.path.join(LIBRARY_DIR, "isfm", "task_head")

CASES = [
    (os.path.join(_EMBEDDING, "E_01_HSE.yaml"), "isfm__embedding__E_01_HSE__seeded_eval.py",
     {"eval_sampling": "seeded", "sampling_seed": 3}),
    (os.path.join(_EMBEDDING, "E_02_HSE_v2.yaml"), "isfm__embedding__E_02_HSE_v2__two_systems.py",
     {"num_channels": {"1": 1, "2": 3}, "c_dim": 2}),
    (os.path.join(_EMBEDDING, "E_03_Patch.yaml"), "isfm__embedding__E_03_Patch__channels_first.py",
     {"layout": "BCL", "input_dim": 2, "patch_size_L": 128, "d_model": 256}),
    (os.path.join(_HEAD, "H_01_Linear_cla.yaml"), "isfm__task_head__H_01_Linear_cla__one_count.py",
     {"num_classes": 5}),
    (os.path.join(_HEAD, "H_09_multiple_task.yaml"), "isfm__task_head__H_09_multiple_task__prototypes.py",
     {"task_id": "classification", "classification_head": "H_02_distance_cla", "num_classes": {"1": 10, "2": 4}}),
    (os.path.join(_HEAD, "MultiTaskHead.yaml"), "isfm__task_head__MultiTaskHead__rul.py",
     {"task_id": "rul_prediction", "hidden_dim": 64, "activation": "gelu", "rul_max_value": 2000.0}),
]
