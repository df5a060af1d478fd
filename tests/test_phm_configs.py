"""PHM-Vibench's own experiment configs (``configs/**`` of a checkout at .reference/PHM-Vibench).

Runs when the checkout is there (``make reference`` describes it; CI runs it when the folder exists)
and is skipped otherwise. Every config with a ``model:`` (or ``base_configs:``) section either
compiles or is rejected with located errors; a rejected config is one PHM-Vibench cannot build
either, and an error says why — except the two kinds listed in :data:`VIBENCH_REFUSES`.

What PHM-Vibench itself does with each config was measured once by building it with
``scripts/reference.py`` (the reference's own ``model_factory``, one dataset of 10 classes as
metadata; the ISFM component packages exporting everything their ``__init__`` exports):
:data:`REFERENCE_FAILS` lists the configs it cannot build and why.

    .venv/bin/python tests/test_phm_configs.py      # prints the figure and each config's outcome
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

import vibench

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / ".reference" / "PHM-Vibench" / "configs"
MAX_PARAMS = 2**32  # two multi-task configs build 3.24e9 parameters (H_03's universal projection), as PHM-Vibench does

REFERENCE_FAILS = {
    "base/model/backbone_transformer.yaml": "ModuleNotFoundError: no Transformer/Transformer_Base",
    "default.yaml": "ImportError: Transformer_Dummy imports a missing `register_model`",
    "v0.0.9/baseline/cwru_baseline.yaml": "ModuleNotFoundError: no Transformer/Transformer_Simple",
    "v0.0.9/demo/FewShot/protonet.yaml": "ModuleNotFoundError: no package FewShot",
    "v0.0.9/demo/HSE_Contrastive/ablation_no_contrast.yaml": "AttributeError: no `e_layers`",
    "v0.0.9/demo/HSE_Contrastive/ablation_no_momentum.yaml": "AttributeError: no `patch_size_L`",
    "v0.0.9/demo/HSE_Contrastive/ablation_prompt_fusion.yaml": "KeyError: no embedding E_01_HSE_Prompt",
    "v0.0.9/demo/HSE_Contrastive/ablation_temperature.yaml": "AttributeError: no `patch_size_L`",
    "v0.0.9/demo/HSE_Contrastive/high_contrast.yaml": "AttributeError: no `e_layers`",
    "v0.0.9/demo/HSE_Contrastive/hse_cddg.yaml": "AttributeError: no `e_layers`",
    "v0.0.9/demo/HSE_Contrastive/hse_prompt_ablation_fusion.yaml": "KeyError: M_01_ISFM has no E_01_HSE_Prompt",
    "v0.0.9/demo/HSE_Contrastive/hse_prompt_finetune.yaml": "KeyError: no embedding E_01_HSE_Prompt",
    "v0.0.9/demo/HSE_Contrastive/hse_prompt_pretrain.yaml": "KeyError: no embedding E_01_HSE_Prompt",
    # Transformer_Dummy's import fails first, as for the four configs above and below (a bug vibench fixes); with
    # that fixed it stops on its first missing key: id_demo.yaml sets only input_dim and num_classes.
    "v0.0.9/demo/ID/id_demo.yaml": "AttributeError: no `hidden_dim` (Transformer_Dummy, behind its failing import)",
    "v0.0.9/demo/Paper_Experiments/Table1_Baseline_Dlinear.yaml": "ModuleNotFoundError: no package M_01_ISFM",
    "v0.0.9/demo/Paper_Experiments/Table1_Baseline_PatchTST.yaml": "ModuleNotFoundError: no package M_01_ISFM",
    "v0.0.9/demo/Paper_Experiments/Table1_Optimization_Strategy_Main.yaml": "ModuleNotFoundError: no package "
    "M_02_ISFM_Prompt",
    "v0.0.9/demo/Paper_Experiments/Table1a_Backbone_Universality.yaml": "ModuleNotFoundError: no package "
    "M_02_ISFM_Prompt",
    "v0.0.9/demo/Paper_Experiments/Table2_FewShot_Finetune.yaml": "ModuleNotFoundError: no package M_02_ISFM_Prompt",
    "v0.0.9/demo/Paper_Experiments/Table2_FewShot_Pretrain.yaml": "ModuleNotFoundError: no package M_02_ISFM_Prompt",
    "v0.0.9/demo/Paper_Experiments/Table3_Noise_Robustness.yaml": "ModuleNotFoundError: no package M_02_ISFM_Prompt",
    "v0.0.9/demo/Paper_Experiments/Table4_Ablation_Study.yaml": "ModuleNotFoundError: no package M_02_ISFM_Prompt",
    "v0.0.9/demo/Simplified_Prompt/hse_prompt_demo.yaml": "ModuleNotFoundError: no package M_02_ISFM_Prompt",
    "v0.0.9/demo/Single_DG/CWRU.yaml": "ImportError: Transformer_Dummy imports a missing `register_model`",
    "v0.0.9/demo/Single_DG/THU.yaml": "ImportError: Transformer_Dummy imports a missing `register_model`",
    "v0.0.9/demo/Single_DG/THU_wuzhui.yaml": "ImportError: Transformer_Dummy imports a missing `register_model`",
    "v0.0.9/dev/exp1_mse_lossforgeneration copy.yaml": "M_02_ISFM: a numpy.int64 ModuleDict key",
    "v0.0.9/dev/exp1_mse_lossforgeneration.yaml": "M_02_ISFM: a numpy.int64 ModuleDict key",
    "v0.0.9/dev/exp2_multiple-system.yaml": "M_02_ISFM: a numpy.int64 ModuleDict key",
    "v0.0.9/pipeline_03/ablation/hse_no_prompt_baseline.yaml": "MultiheadAttention with embed_dim 0",
    "v0.0.9/pipeline_03/ablation/hse_sample_prompt_only.yaml": "AttributeError: no `e_layers`",
    "v0.0.9/pipeline_03/ablation/hse_system_prompt_only.yaml": "AttributeError: no `e_layers`",
    "v0.0.9/pipeline_03/hse_prompt_multitask_config.yaml": "AttributeError: no `e_layers`",
}
"""Configs PHM-Vibench (6fa64c7) cannot build, with its error (measured with scripts/reference.py): 33 of
the 60. The other 27 build there (X_model's two need pytorch_wavelets and scipy, which PHM-Vibench's
requirements list); vibench compiles those and the 7 whose failure is a bug it fixes (FIXED_IN_VIBENCH)."""

FIXED_IN_VIBENCH = ("register_model", "numpy.int64")
"""Reference failures that are bugs vibench's templates fix (vibench/specs/DEVIATIONS.md): such configs count as
ones PHM-Vibench means to build."""

VIBENCH_REFUSES: tuple[str, ...] = ()
"""Refusals of configs PHM-Vibench builds: none (a key repeated inside `model:` is W113, the last value used)."""

REFERENCE_REASONS = ("E214", "E220", "E221", "E222", "E202", "E301", "E302", "E305", "E204")
"""Codes that say why a config cannot be built (a missing model, component or key, or sizes that do not fit)."""


def experiment_configs() -> list[str]:
    found = []
    for path in sorted(CONFIGS.rglob("*")):
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and ("model" in data or "base_configs" in data):
            found.append(path.relative_to(CONFIGS).as_posix())
    return found


def outcome(name: str) -> tuple[bool, list[vibench.Diagnostic]]:
    """(compiled, the diagnostics: warnings and notes when it compiled, else the errors too)."""
    cwd = os.getcwd()
    os.chdir(CONFIGS.parent)  # PHM-Vibench resolves `configs/...` base paths from its root
    try:
        return True, list(vibench.check(str(CONFIGS / name), max_params=MAX_PARAMS).warnings)
    except vibench.SpecError as err:
        return False, list(err.diagnostics)
    finally:
        os.chdir(cwd)


pytestmark = pytest.mark.skipif(not CONFIGS.is_dir(), reason="no PHM-Vibench checkout at .reference/PHM-Vibench")


@pytest.fixture(scope="module")
def outcomes() -> dict[str, tuple[bool, list[vibench.Diagnostic]]]:
    return {name: outcome(name) for name in experiment_configs()}


def test_the_sixty_configs_are_found(outcomes) -> None:
    assert len(outcomes) == 60
    assert set(REFERENCE_FAILS) <= set(outcomes)


def test_every_rejected_config_has_located_errors(outcomes) -> None:
    for name, (compiled, diagnostics) in outcomes.items():
        if not compiled:
            errors = [d for d in diagnostics if d.severity == "error"]
            assert errors, name
            assert all(d.pos is not None and d.pos.line >= 1 and d.pos.col >= 1 for d in errors), name


def test_a_config_phm_vibench_builds_compiles(outcomes) -> None:
    refused = {name: sorted({d.code for d in diagnostics if d.severity == "error"})
               for name, (compiled, diagnostics) in outcomes.items()
               if not compiled and (name not in REFERENCE_FAILS or _fixed(name))}
    assert all(set(codes) <= set(VIBENCH_REFUSES) for codes in refused.values()), refused


def test_a_config_phm_vibench_cannot_build_says_why(outcomes) -> None:
    for name in REFERENCE_FAILS:
        compiled, diagnostics = outcomes[name]
        if compiled or _fixed(name):  # vibench implements what the model evidently means
            continue
        reasons = [d for d in diagnostics if d.code in REFERENCE_REASONS]
        assert reasons, (name, [d.code for d in diagnostics])
        for d in reasons:
            if d.code == "E220":  # the note says PHM-Vibench cannot build it either
                assert any("either" in note for note in d.notes), (name, d.notes)


def _fixed(name: str) -> bool:
    return any(bug in REFERENCE_FAILS.get(name, "") for bug in FIXED_IN_VIBENCH)


def test_the_figure(outcomes) -> None:
    compiled = sum(ok for ok, _ in outcomes.values())
    assert compiled >= 29, report(outcomes)


def report(outcomes) -> str:
    lines = [f"{sum(ok for ok, _ in outcomes.values())} of {len(outcomes)} PHM-Vibench configs compile"]
    for name, (compiled, diagnostics) in outcomes.items():
        first = next((d for d in diagnostics if d.severity == "error"), None)
        state = "ok" if compiled else f"{first.code} {first.message}" if first else "?"
        lines.append(f"  {name}: {state}  [reference: {REFERENCE_FAILS.get(name, 'builds')}]")
    return "\n".join(lines)


if __name__ == "__main__":
    if not CONFIGS.is_dir():
        sys.exit(f"no PHM-Vibench checkout at {CONFIGS.parent}")
    print(report({name: outcome(name) for name in experiment_configs()}))
