"""Every reference variant that PHM-Vibench builds and runs is reproduced by a template: same
parameter count (real scalars), output shape and state_dict layout (up to declared renames)."""

from __future__ import annotations

import re

import pytest

from tests.parity import build_case, compile_case, covered_cases, ok_rows, real_scalars, row_id
from vibench.compiler.codegen.checks import positive
from vibench.compiler.symbolic import evaluate

CASES = covered_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_static_analysis_matches_the_reference(case) -> None:
    program = compile_case(case)
    env = dict(program.bindings)
    outputs = program.root.outputs
    shape = tuple(evaluate(d, env) for d in outputs[0][2].shape)
    assert shape == case.expect["output_shape"]
    assert program.root.param_count == case.expect["params"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_built_model_matches_the_reference(case) -> None:
    import torch

    program = compile_case(case)
    model = build_case(case).eval()
    assert real_scalars(model) == case.expect["params"]
    keys = list(model.state_dict())
    assert len(keys) == case.expect["n_keys"]
    renames = getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", [])
    prefixes = set()
    for prefix in case.expect["prefixes"]:
        name = prefix + "."
        for pattern, replacement in renames:
            name = re.sub(pattern, replacement, name)
        prefixes.add(name.split(".")[0])
    assert {k.split(".")[0] for k in keys} == prefixes
    gen = torch.Generator().manual_seed(0)
    feed = {}
    for name, (shape, dtype) in case.inputs.items():
        if dtype.startswith("int"):
            feed[name] = torch.ones(shape, dtype=getattr(torch, dtype))
        elif positive(program.root, name):  # a sampling rate, which the model refuses unless positive
            feed[name] = torch.rand(shape, generator=gen, dtype=getattr(torch, dtype)) + 0.5
        else:
            feed[name] = torch.randn(shape, generator=gen, dtype=getattr(torch, dtype))
    with torch.no_grad():
        out = model(**feed)
    first = out[program.root.outputs[0][0]] if isinstance(out, dict) else out
    assert tuple(first.shape) == case.expect["output_shape"]


# Reference models outside the issues' lists (models.md §2 "Related, not in the requested list"),
# with why; the parity table of docs/library.md shows them as "not in the library".
OUT_OF_SCOPE: dict[str, str] = {}


def test_every_ok_reference_row_is_covered() -> None:
    covered = {c.id for c in CASES}
    missing = [row_id(r) for r in ok_rows() if row_id(r) not in covered and r["model"] not in OUT_OF_SCOPE]
    assert not missing, f"{len(missing)} reference variants without a template: {missing[:10]}"


def test_readme_parity_table_is_current() -> None:
    import subprocess
    import sys

    from tests.parity import ROOT

    proc = subprocess.run([sys.executable, "scripts/parity_table.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
