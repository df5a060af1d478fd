"""Replays every saved fuzz regression (tests/regressions/*.yaml) through the check it failed.

Each file holds a spec minimised by `make fuzz` and, in its `# fuzz-...:` header, the check to run
(static: a SpecError or a program, located diagnostics, deterministic, a valid model.py; runtime:
static shapes == torch's, emit == build, eager == compile/export/script), the verdict expected and
whether the bug is still open (see :mod:`vibench.testing.regressions`). An open one is an expected
failure (strict: once the bug is fixed the test says so, and its status becomes `fixed`).
"""

from __future__ import annotations

import glob
import os

import pytest

from tests.helpers import ROOT
from vibench.testing import regressions

FOLDER = os.path.join(ROOT, "tests", "regressions")
FILES = sorted(glob.glob(os.path.join(FOLDER, "*.yaml")))


def _param(path: str) -> object:
    reg = regressions.load(path)
    marks = [pytest.mark.xfail(strict=True, reason=f"open: {reg.meta.get('note', '')}")] if reg.is_open else []
    return pytest.param(path, marks=marks, id=os.path.basename(path))


@pytest.mark.parametrize("path", [_param(p) for p in FILES])
def test_regression_spec(path: str) -> None:
    reg = regressions.load(path)
    findings = regressions.replay(reg, ROOT)
    assert not findings, "\n".join(f"{f.kind}: {f.message}" for f in findings)


def test_regression_files_say_what_to_check() -> None:
    assert FILES, "tests/regressions/ holds the fuzz campaign's minimised failures"
    for path in FILES:
        meta = regressions.load(path).meta
        assert meta.get("check") in ("static", "runtime"), path
        assert meta.get("status") in ("open", "fixed"), path
        if meta["check"] == "static":
            assert meta.get("expect") in ("ok", "error", "any"), path
            origin = meta.get("origin")
            assert origin is None or os.path.exists(os.path.join(ROOT, origin)), path
        else:
            assert regressions.load(path).inputs(), path
