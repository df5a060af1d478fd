"""Golden variants of the ISFM library III specs: the other branches of their templates."""

CASES = [
    ("isfm/embedding/HSE_prompt", "isfm__embedding__HSE_prompt__concat.py", {"prompt_combination": "concat"}),
    ("isfm/task_head/H_04_VIB_pred", "isfm__task_head__H_04_VIB_pred__two_systems.py",
     {"num_channels": {"1": 2, "3": 1}}),
    ("isfm/embedding/E_com_00_PE", "isfm__embedding__E_com_00_PE__patch.py",
     {"embed_type": "patch", "patch_len": 1, "patch_size_L": 128, "stride": 64, "padding": 8}),
    ("isfm/embedding/E_com_00_PE", "isfm__embedding__E_com_00_PE__spatio_temporal.py",
     {"embed_type": "spatio_temporal", "input_embedding_dim": 64, "spatial_embedding_dim": 32,
      "adaptive_embedding_dim": 32}),
    ("isfm/embedding/E_com_00_PE", "isfm__embedding__E_com_00_PE__time_feature.py", {"embed_type": "time_feature"}),
    ("isfm/embedding/E_01_HSE_v2", "isfm__embedding__E_01_HSE_v2__gating.py", {"fusion_type": "gating"}),
    ("isfm/embedding/E_01_HSE_v2", "isfm__embedding__E_01_HSE_v2__concat.py", {"fusion_type": "concat"}),
    ("isfm/backbone/B_11_MomentumEncoder", "isfm__backbone__B_11_MomentumEncoder__patchtst.py",
     {"base_encoder": "B_08_PatchTST"}),
    ("isfm/M_02_ISFM_Prompt", "isfm__M_02_ISFM_Prompt__hse_v2_momentum.py",
     {"embedding": "E_01_HSE_v2", "backbone": "B_11_MomentumEncoder", "base_encoder": "B_08_PatchTST"}),
    ("isfm/M_02_ISFM", "isfm__M_02_ISFM__vib.py",
     {"embedding": "E_02_HSE_v2", "backbone": "B_10_VIBT", "task_head": "H_04_VIB_pred", "num_channels": {"1": 1}}),
]
