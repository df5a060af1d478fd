"""Golden variants of the ISFM library III specs: the other branches of their templates."""

CASES = [
    ("isfm/embedding/HSE_prompt", "isfm__embedding__HSE_prompt__concat.py", {"prompt_combination": "concat"}),
    ("isfm/task_head/H_04_VIB_pred", "isfm__task_head__H_04_VIB_pred__two_systems.py",
     {"num_channels": {"1": 2, "3": 1}}),
    ("isfm/M_02_ISFM", "isfm__M_02_ISFM__vib.py",
     {"embedding": "E_02_HSE_v2", "backbone": "B_10_VIBT", "task_head": "H_04_VIB_pred", "num_channels": {"1": 1}}),
]
