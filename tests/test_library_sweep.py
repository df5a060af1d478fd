"""Library templates with random settings a user may write: each is refused with errors in the user's
file, or it runs as the compiler said it would.

A draw is a template and one to four of its declared parameters, each set to a value of its declared
type within its declared bounds (small sizes, shallow depths). The spec `extends:` the template
`with:` them. Refused: every error is located in the user's text. Accepted: on concrete inputs the
runtime oracles of the fuzz campaign hold (:func:`vibench.testing.oracles_runtime.check_runtime`:
static shapes, dtypes and parameter count equal a real forward pass; the emitted file and
``vibench.build`` agree), with an ISFM model's ids (``system_id``, ``domain_id``) set to ids it has a head or row for.

160 draws in the CI profile (about 25 s); ``HYPOTHESIS_PROFILE=dev`` draws 1,600. Draws like these,
some thousands of them, found H_06_Anomaly_det building a BatchNorm1d(0) that failed in forward
(`output_dim: 1`), and DenseNetMLP's dense layers written out with a formula over a loop variable no
loop defined (`block_config: [5, 5]`); both have tests of their own.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import replace
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vibench
from vibench.compiler.codegen.checks import positive
from vibench.testing.oracles_runtime import check_runtime
from vibench.testing.specs import TensorCase

ROOT = os.path.join(os.path.dirname(vibench.__file__), "specs")
TEMPLATES = sorted(os.path.relpath(p, ROOT)[:-5].replace(os.sep, "/")
                   for p in glob.glob(os.path.join(ROOT, "**", "*.yaml"), recursive=True))
DEPTHS = ("layer", "block", "depth", "num_", "levels")  # parameters that repeat blocks: kept shallow
SIZES = {"B": 2, "P": 32, "N": 32, "C": 2}  # an input's symbols; the length symbols take LENGTHS in turn
LENGTHS = (256, 512, 1024, 64, 128, 2048, 4096)


def _declared(template: str) -> dict[str, dict[str, Any]]:
    with open(os.path.join(ROOT, template + ".yaml"), encoding="utf-8") as fh:
        params = yaml.safe_load(fh).get("params") or {}
    return {n: d if isinstance(d, dict) else {"type": type(d).__name__, "default": d} for n, d in params.items()}


DECLARED = {t: _declared(t) for t in TEMPLATES}


def _value(name: str, d: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind, default = str(d.get("type", "")), d.get("default")
    if "choices" in d:
        return st.sampled_from(d["choices"])
    if kind == "bool":
        return st.booleans()
    none = st.just(None) if "None" in kind else st.nothing()
    if isinstance(default, list) and default and all(type(v) is int for v in default):
        return st.lists(st.integers(1, 64), min_size=1, max_size=len(default)) | none
    if kind.startswith("int"):
        low = d.get("ge", d["gt"] + 1 if "gt" in d else 1)
        base = default if type(default) is int else 8
        high = min(3 if any(k in name for k in DEPTHS) else max(2 * base, 8), 512, d.get("le", 512))
        if not isinstance(low, int) or high < low:
            return st.just(default)
        return st.integers(low, high) | st.sampled_from([low, min(low + 1, high)]) | none
    if kind == "float":
        return st.floats(d.get("ge", 0.0), min(d.get("le", 1.0), 1.0), allow_nan=False).map(lambda v: round(v, 3))
    return st.just(default)


@st.composite
def _settings(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    template = draw(st.sampled_from([t for t in TEMPLATES if DECLARED[t]]))
    params = DECLARED[template]
    keys = draw(st.lists(st.sampled_from(sorted(params)), min_size=1, max_size=4, unique=True))
    return template, {k: draw(_value(k, params[k])) for k in keys}


def _inputs(text: str, program: Any) -> tuple[TensorCase, ...] | None:
    """Sizes for every input that the spec's constraints accept (None: no plain symbols, or none fits)."""
    for length in LENGTHS:
        cases = []
        for name, t in program.root.inputs:
            dims = []
            for d in t.shape:
                if not isinstance(d, int) and (len(d.symbols()) != 1 or str(d) not in d.symbols()):
                    return None  # a derived size: left to the family tests
                dims.append(d if isinstance(d, int) else SIZES.get(str(d), length))
            cases.append(TensorCase(name, tuple(str(d) for d in t.shape), tuple(dims), t.dtype,
                                    positive=positive(program.root, name)))
        try:
            vibench.check(text=text, inputs={c.name: c.dims for c in cases})
        except vibench.SpecError:
            continue
        return tuple(cases)
    return None


def _known_ids(text: str, cases: tuple[TensorCase, ...]) -> tuple[TensorCase, ...]:
    """Integer inputs (ids) filled with ids the model knows: ``system_id`` 1, the id of a single system,
    else 0 (``max_dataset_ids: 1``); any other id (``domain_id``) 0, the first row of its table. A drawn
    id the model has no head or row for is the user's error, which the model reports (SystemRouter's
    ValueError) or torch does (an embedding's IndexError)."""
    import torch

    from vibench.testing import random_inputs

    model = vibench.build(text=text).eval()
    for system in (1, 0):
        filled = tuple(c if not c.dtype.startswith("int") else replace(c, fill=system if c.name == "system_id" else 0)
                       for c in cases)
        try:
            with torch.no_grad():
                model(*random_inputs(filled))
        except (ValueError, IndexError):
            continue
        return filled
    return filled  # neither: the oracles report the failure


@settings(max_examples=4 * settings.default.max_examples, suppress_health_check=[HealthCheck.too_slow])
@given(_settings())
def test_a_template_with_random_settings_is_refused_in_the_users_file_or_runs_as_checked(
        drawn: tuple[str, dict[str, Any]]) -> None:
    template, with_ = drawn
    text = f"vibench: 1\nname: Mine\nextends: {template}\nwith: {json.dumps(with_)}\n"
    try:
        program = vibench.check(text=text)
    except vibench.SpecError as err:
        outside = [d for d in err.diagnostics if d.severity == "error" and (d.pos is None or d.pos.file != "<string>")]
        assert not outside, [d.render() for d in outside]
        return
    cases = _inputs(text, program)
    if cases is None:
        return
    if any(c.dtype.startswith("int") for c in cases):
        cases = _known_ids(text, cases)
    findings = check_runtime(text, cases, backends=(), timeout=120)
    assert not findings, [f.to_json() for f in findings]
