"""ISFM library III in the composites' slots: every embedding x backbone x task head of the library either
compiles or is refused with a located error (never another exception), and a sample builds and runs with
the static output shapes equal to the runtime ones.

The whole product goes through M_01_ISFM's slots (check only, no torch); M_02_ISFM (M_01's slots under
the reference's name) and M_02_ISFM_Prompt (its own slot wiring, with the operating-condition id) are
checked on samples that cover every component; a handful of combinations with the new components are
built and run.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import pytest

import vibench
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.resolve import LIBRARY_DIR
from vibench.compiler.symbolic import evaluate


def _slot(folder: str) -> list[str]:
    path = os.path.join(LIBRARY_DIR, "isfm", folder)
    return sorted(name[: -len(".yaml")] for name in os.listdir(path) if name.endswith(".yaml"))


EMBEDDINGS = _slot("embedding")
BACKBONES = _slot("backbone")
HEADS = _slot("task_head")
# Token widths and counts that agree (as tests/test_isfm_models.py's ALIGNED): E_02's width is
# hidden_dim, E_03's token count L // patch_size_L; H_03 sized for the input.
CONFIG = {"input_dim": 2, "d_model": 256, "output_dim": 64, "hidden_dim": 64, "num_heads": 4, "num_layers": 2,
          "e_layers": 2, "d_ff": 64, "dropout": 0.1, "activation": "relu", "patch_size_L": 32, "patch_size_C": 1,
          "num_patches": 32, "max_len": 1024, "max_out": 2}
INPUT = [2, 1024, 2]
SLOT_NODES = {"embedding", "backbone", "task_head"}


def outcome(composite: str, embedding: str, backbone: str, head: str, **extra: Any) -> Any:
    """The checked program, or the SpecError (any other exception propagates: a bug)."""
    with_ = {"embedding": embedding, "backbone": backbone, "task_head": head, **CONFIG, **extra}
    text = json.dumps({"vibench": 1, "extends": f"isfm/{composite}", "with": with_})
    try:
        return vibench.check(text=text, inputs={"x": INPUT})
    except SpecError as err:
        return err


def assert_located(err: SpecError, combo: tuple[str, ...]) -> None:
    assert err.diagnostics, combo
    d = err.diagnostics[0]
    assert d.severity == "error" and d.code.startswith("E"), (combo, d)
    assert d.pos is not None and d.pos.line >= 1 and d.pos.file, (combo, d)
    assert d.node in SLOT_NODES, (combo, d)  # the slot whose component does not fit
    assert d.message, (combo, d)


def test_the_slots_offer_the_library_iii_components() -> None:
    assert {"E_com_00_PE", "E_01_HSE_v2", "E_01_HTFE", "HSE_prompt"} <= set(EMBEDDINGS)
    assert {"B_10_VIBT", "B_11_MomentumEncoder"} <= set(BACKBONES)
    assert {"H_04_VIB_pred", "H_05_RUL_pred", "H_06_Anomaly_det", "H_10_ProjectionHead"} <= set(HEADS)


@pytest.mark.parametrize("embedding", EMBEDDINGS)
def test_every_combination_in_m01_compiles_or_is_refused_with_a_location(embedding: str) -> None:
    compiled = 0
    for backbone, head in itertools.product(BACKBONES, HEADS):
        result = outcome("M_01_ISFM", embedding, backbone, head)
        if isinstance(result, SpecError):
            assert_located(result, (embedding, backbone, head))
        else:
            compiled += 1
            assert result.root.param_count > 0
    assert compiled > 0, f"no backbone and head fit {embedding} under this config"


def test_e01_hse_v2_in_m01_takes_the_operating_condition_id() -> None:
    program = outcome("M_01_ISFM", "E_01_HSE_v2", "B_04_Dlinear", "H_01_Linear_cla")
    assert not isinstance(program, SpecError), program
    assert [name for name, _ in program.root.inputs] == ["x", "fs", "system_id", "domain_id"]


# M_02_ISFM is M_01's graph under the reference's name: a sample covering every component gives the
# same outcome there.
M02_SAMPLE = sorted(
    {(e, BACKBONES[k % len(BACKBONES)], HEADS[k % len(HEADS)]) for k, e in enumerate(EMBEDDINGS)}
    | {(EMBEDDINGS[k % len(EMBEDDINGS)], b, HEADS[(k + 3) % len(HEADS)]) for k, b in enumerate(BACKBONES)}
    | {("E_01_HSE", BACKBONES[k % len(BACKBONES)], h) for k, h in enumerate(HEADS)}
)


@pytest.mark.parametrize("combo", M02_SAMPLE, ids=["+".join(c) for c in M02_SAMPLE])
def test_m02_slots_decide_as_m01(combo: tuple[str, str, str]) -> None:
    m01, m02 = outcome("M_01_ISFM", *combo), outcome("M_02_ISFM", *combo)
    if isinstance(m01, SpecError):
        assert isinstance(m02, SpecError), combo
        assert_located(m02, combo)
        assert m02.diagnostics[0].code == m01.diagnostics[0].code
    else:
        assert not isinstance(m02, SpecError), m02
        assert m02.root.param_count == m01.root.param_count


@pytest.mark.parametrize("embedding", EMBEDDINGS)
def test_every_embedding_fits_the_prompt_composite(embedding: str) -> None:
    """M_02_ISFM_Prompt passes fs, system_id and domain_id: every embedding of the library compiles in it."""
    for backbone, head in (("B_04_Dlinear", "H_01_Linear_cla"), ("B_11_MomentumEncoder", "H_10_ProjectionHead")):
        extra = {"num_patches": 1024} if embedding == "E_com_00_PE" else {}  # one token per step
        result = outcome("M_02_ISFM_Prompt", embedding, backbone, head, **extra)
        assert not isinstance(result, SpecError), result
        if embedding == "E_01_HSE_v2":
            assert {name for name, _ in result.root.inputs} == {"x", "fs", "system_id", "domain_id"}


# A handful built and run: the new components in each slot (E_com_00_PE's default embeds every step: L tokens).
BUILT = [
    ("M_01_ISFM", "E_com_00_PE", "B_11_MomentumEncoder", "H_10_ProjectionHead", {"num_patches": 1024}),
    ("M_01_ISFM", "E_01_HSE", "B_11_MomentumEncoder", "H_05_RUL_pred", {}),
    ("M_02_ISFM_Prompt", "E_01_HSE_v2", "B_11_MomentumEncoder", "H_01_Linear_cla",
     {"base_encoder": "B_08_PatchTST", "fusion_type": "gating"}),
    ("M_02_ISFM_Prompt", "E_01_HSE_v2", "B_04_Dlinear", "H_06_Anomaly_det", {"fusion_type": "concat"}),
    ("M_02_ISFM", "E_com_00_PE", "B_10_VIBT", "H_01_Linear_cla", {"hidden_dim": 64, "num_patches": 1024}),
]


@pytest.mark.parametrize("composite,embedding,backbone,head,extra", BUILT, ids=["+".join(c[:4]) for c in BUILT])
def test_a_sample_builds_and_runs_with_the_static_shapes(composite: str, embedding: str, backbone: str, head: str,
                                                         extra: dict[str, Any]) -> None:
    import torch

    from vibench.runtime.build import build_program

    with_ = {"embedding": embedding, "backbone": backbone, "task_head": head, **CONFIG, **extra}
    text = json.dumps({"vibench": 1, "extends": f"isfm/{composite}", "with": with_})
    program = vibench.check(text=text, inputs={"x": [2, 1024, 2]})
    model = build_program(program).eval()
    gen = torch.Generator().manual_seed(0)
    feed = {}
    for name, _ in program.root.inputs:
        if name == "x":
            feed[name] = torch.randn(2, 1024, 2, generator=gen)
        elif name == "fs":
            feed[name] = torch.tensor([12_000.0, 25_600.0])
        else:  # system_id, domain_id
            feed[name] = torch.tensor([1, 1], dtype=torch.int64)
    with torch.no_grad():
        out = model(**feed)
    outs = out if isinstance(out, dict) else {program.root.outputs[0][0]: out}
    env = dict(program.bindings)
    for name, _, t in program.root.outputs:
        assert tuple(outs[name].shape) == tuple(evaluate(d, env) for d in t.shape), name
        assert torch.isfinite(outs[name]).all(), name
