"""Reference cases of the ISFM library III components (B_10_VIBT, H_04_VIB_pred, H_05, H_06, H_10,
H_02_Linear_cla_heterogeneous_batch, E_01_HTFE, HSE_prompt, M_02_ISFM_Prompt): value parity cases for
``scripts/record_reference_values.py`` (:data:`CASES`) and the parity measurements behind their rows of
``tests/reference/models.json`` (:func:`measure`, ``python scripts/reference_cases_isfm.py --measure``).

B_10_VIBT imports timm (``Attention``, ``Mlp``), which imports torchvision and PIL at module level. The
rows and values were taken with timm 1.0.20 (timm 1.0.22 and later pass ``device``/``dtype`` to the
``norm_layer`` B_10_VIBT gives, which its RMSNorm refuses: the reference cannot build there) put on
``sys.path`` with ``--timm DIR`` (e.g. ``pip install --no-deps --target .reference/pydeps timm==1.0.20``);
torchvision and PIL, which B_10_VIBT never uses, get inert stand-ins while it loads
(:func:`torchvision_stand_in`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any

from scripts.record_reference_values import ComponentCase, IsfmCase

VIBT = dict(hidden_dim=16, num_heads=2, num_layers=2, factor=2.0)
PROMPT = dict(embedding="HSE_prompt", backbone="B_04_Dlinear", task_head="H_01_Linear_cla", patch_size_L=16,
              patch_size_C=1, num_patches=8, output_dim=16, use_prompt=True, prompt_dim=8, max_dataset_ids=4)


def _cls(case: ComponentCase, ref_dir: str) -> Any:
    from scripts import reference

    return reference.load_reference_class(ref_dir, case.model)


def _vibt(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    torchvision_stand_in(os.environ.get("VIBENCH_TIMM", os.path.join(ref_dir, os.pardir, "pydeps")))
    sys.modules.pop("src.model_factory.ISFM.backbone.B_10_VIBT", None)  # loaded with the timm stand-in
    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    return model, "B_10_VIBT(Namespace(**args))(x, None)", lambda: {"tokens": model(x, None)}


def _vib_pred(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    from scripts import reference

    cls = _cls(case, ref_dir)
    patcher_cls = reference.reference_module(ref_dir,
                                             "src.model_factory.ISFM.embedding.E_02_HSE_rec").SequencePatcher
    length, channels = case.kwargs["length"], case.kwargs["channels"]
    patcher = patcher_cls(case.args["num_patches"], case.args["patch_size_L"])
    target = torch.zeros(inputs["x"].shape[0], length, channels)
    patcher.update_start_indices(target, length)
    model = cls(Namespace(**case.args), patcher)
    inputs["target"] = target
    inputs["system_id"] = torch.ones(inputs["x"].shape[0], dtype=torch.int64)
    x = inputs["x"]
    return model, "H_04_VIB_pred(Namespace(**args), SequencePatcher)(x, system_id=1)", \
        lambda: {"signal": model(x, 1)}


def _htfe(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    model = _cls(case, ref_dir)(Namespace(**case.args), Namespace(f_s=case.args["f_s"]))
    x = inputs["x"]
    return model, "E_01_HTFE(Namespace(**args), Namespace(f_s=f_s))(x)", lambda: {"tokens": model(x)}


def _hse_prompt(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    inputs["fs"] = torch.tensor([1000.0, 2500.0])
    inputs["system_id"] = torch.tensor([1, 6], dtype=torch.int64)  # 6 wraps around a 4-row table
    return model, "HSE_prompt(Namespace(**args))(x, fs, dataset_ids)", \
        lambda: {"tokens": model(x, inputs["fs"], inputs["system_id"])}


def _heads(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    model = _cls(case, ref_dir)(Namespace(**case.args))
    x = inputs["x"]
    if case.output == "logits":
        inputs["system_id"] = torch.tensor([2, 1], dtype=torch.int64)
        return model, "head(Namespace(**args))(x, system_id=[2, 1])", \
            lambda: {"logits": model(x, system_id=[2, 1])}
    return model, f"{case.model.split('/')[-1]}(Namespace(**args))(x)", lambda: {case.output: model(x)}


def _m02_heterogeneous(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from argparse import Namespace

    import torch

    from scripts import reference

    module = reference.reference_module(ref_dir, "src.model_factory.ISFM.M_02_ISFM_heterogeneous_batch")
    head = module.H_02_Linear_cla_heterogeneous_batch
    if isinstance(head, types.ModuleType):  # the reference imports the module where it means the class
        module.H_02_Linear_cla_heterogeneous_batch = head.H_02_Linear_cla_heterogeneous_batch
    files = case.kwargs["files"]
    metadata = reference.reference_metadata(ref_dir, files, case.args["num_classes"])
    model = module.Model(Namespace(**case.args), metadata)
    inputs["fs"] = torch.tensor([fs for _, fs in files], dtype=torch.float32)
    inputs["system_id"] = torch.tensor([ds for ds, _ in files], dtype=torch.int64)
    x = inputs["x"]
    ids = list(range(len(files)))
    call = "Model(Namespace(**args), metadata)(x, file_id=[0, 1], task_id='classification') [head class bound]"
    return model, call, lambda: {"logits": model(x, file_id=ids, task_id="classification")}


CASES: list[ComponentCase | IsfmCase] = [
    ComponentCase("isfm_b10_vibt", "ISFM/backbone/B_10_VIBT", "isfm/backbone/B_10_VIBT", dict(VIBT), dict(VIBT),
                  (2, 6, 16), "tokens", "Two adaLN blocks with scaled-RMS q/k norms (timm 1.0.20 Attention/Mlp); "
                  "the condition is the tokens' mean (c = None, as M_02_ISFM passes it).", setup=_vibt),
    ComponentCase("isfm_h04_vib_pred", "ISFM/task_head/H_04_VIB_pred", "isfm/task_head/H_04_VIB_pred",
                  dict(hidden_dim=16, patch_size_L=8, c_dim=3, num_patches=6, num_channels={"1": 2}),
                  dict(hidden_dim=16, patch_size_L=8, c_dim=3, num_channels={"1": 2}), (2, 6, 16), "signal",
                  "Six overlapping windows of 8 over L = 40 (the patcher's starts), two channels; the reference "
                  "takes one scalar system id.", kwargs=dict(length=40, channels=2), setup=_vib_pred),
    ComponentCase("isfm_h05_rul_pred", "ISFM/task_head/H_05_RUL_pred", "isfm/task_head/H_05_RUL_pred",
                  dict(output_dim=16, hidden_dim=12, rul_max_value=2000.0, dropout=0.1, activation="gelu"),
                  dict(output_dim=16, hidden_dim=12, rul_max_value=2000.0, dropout=0.1, activation="gelu"),
                  (2, 5, 16), "rul_prediction", "GELU, scaled by 2000.", setup=_heads),
    ComponentCase("isfm_h06_anomaly_det", "ISFM/task_head/H_06_Anomaly_det", "isfm/task_head/H_06_Anomaly_det",
                  dict(output_dim=16, hidden_dim=8, use_batch_norm=True, activation="leaky_relu"),
                  dict(output_dim=16, hidden_dim=8, use_batch_norm=True, activation="leaky_relu"), (2, 5, 16),
                  "anomaly_detection", "BatchNorm1d after the hidden Linears, leaky ReLU.", setup=_heads),
    ComponentCase("isfm_h10_projection", "ISFM/task_head/H_10_ProjectionHead", "isfm/task_head/H_10_ProjectionHead",
                  dict(input_dim=16, hidden_dim=12, output_dim=8, activation="gelu", dropout=0.1),
                  dict(input_features=16, hidden_dim=12, output_dim=8, activation="gelu", dropout=0.1), (2, 5, 16),
                  "projection", "Dropout layer present (index shift), LayerNorm.", setup=_heads),
    ComponentCase("isfm_h02_heterogeneous", "ISFM/task_head/H_02_Linear_cla_heterogeneous_batch",
                  "isfm/task_head/H_02_Linear_cla_heterogeneous_batch",
                  dict(output_dim=16, num_classes={"1": 3, "2": 3}),
                  dict(output_dim=16, num_classes={"1": 3, "2": 3}), (2, 5, 16), "logits",
                  "A mixed batch (systems 2 and 1), each sample through its own system's Linear.", setup=_heads),
    ComponentCase("isfm_e01_htfe", "ISFM/embedding/E_01_HTFE", "isfm/embedding/E_01_HTFE",
                  dict(patch_size_L=8, patch_size_C=2, num_patches=5, output_dim=8, f_s=1000.0),
                  dict(patch_size_L=8, patch_size_C=2, num_patches=5, output_dim=8, f_s=1000.0), (2, 32, 3), "tokens",
                  "Two channels drawn per patch from three; the reference's discarded FFT branch (fft_proj) is "
                  "left over (DEVIATIONS.md).", setup=_htfe, strict=False, leftover=[
                      "fft_proj.0.bias", "fft_proj.0.weight"]),
    ComponentCase("isfm_hse_prompt_add", "ISFM_Prompt/embedding/HSE_prompt", "isfm/embedding/HSE_prompt",
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4),
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4),
                  (2, 64, 1), "tokens", "Prompts added through prompt_proj; system 6 wraps to row 2 of 4.",
                  setup=_hse_prompt),
    ComponentCase("isfm_hse_prompt_concat", "ISFM_Prompt/embedding/HSE_prompt", "isfm/embedding/HSE_prompt",
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4,
                       prompt_combination="concat"),
                  dict(patch_size_L=16, patch_size_C=1, num_patches=8, output_dim=16, prompt_dim=8, max_dataset_ids=4,
                       prompt_combination="concat"), (2, 64, 1), "tokens", "Prompts appended to every token.",
                  setup=_hse_prompt),
    ComponentCase("isfm_m02_heterogeneous", "ISFM/M_02_ISFM_heterogeneous_batch", "isfm/M_02_ISFM_heterogeneous_batch",
                  dict(PROMPT, embedding="E_01_HSE", task_head="H_02_Linear_cla_heterogeneous_batch",
                       num_classes={"1": 3, "2": 3}, use_prompt=False),
                  dict(embedding="E_01_HSE", backbone="B_04_Dlinear", patch_size_L=16, patch_size_C=1, num_patches=8,
                       output_dim=16, num_classes={"1": 3, "2": 3}), (2, 64, 1), "logits",
                  "The reference cannot build (it imports the head's module, not its class): recorded with the class "
                  "bound in its place; a mixed batch (systems 2 and 1).",
                  kwargs=dict(files=[(2, 1000.0), (1, 2500.0)]), setup=_m02_heterogeneous),
    IsfmCase("isfm_m02_prompt", dict(PROMPT, num_classes={"1": 4}), (2, 64, 1), [(1, 1000.0), (1, 2500.0)],
             {"1": 4}, "classification", "M_02_ISFM_Prompt's own forward (HSE_prompt + B_04 + H_01), file ids 0, 1.",
             model="ISFM_Prompt/M_02_ISFM_Prompt"),
]


class _Inert(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert(name, (), {})


class _InertModule(types.ModuleType):
    __version__ = "10.0.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = _Inert(name, (), {})
        setattr(self, name, value)
        return value


class _InertLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _InertModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []


class _InertFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] in ("torchvision", "PIL"):
            return importlib.machinery.ModuleSpec(fullname, _InertLoader(), is_package=True)
        return None


def torchvision_stand_in(timm_dir: str | None) -> None:
    """Put ``timm_dir`` on sys.path and give torchvision / PIL inert stand-ins (what timm imports, B_10 never uses)."""
    if timm_dir and timm_dir not in sys.path:
        sys.path.insert(0, timm_dir)
    if not any(isinstance(f, _InertFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _InertFinder())
