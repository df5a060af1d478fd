"""Golden files: the emitted model.py of every example (and library spec) is reviewed in diffs.

Refresh with `make golden` (pytest tests/test_golden.py --update-golden) and read the diff.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import vibench
from tests.helpers import EXAMPLES, ROOT

GOLDEN = os.path.join(ROOT, "tests", "golden")


def golden_cases() -> list[tuple[str, str, dict]]:
    """(spec path, golden file name, params) for every golden file."""
    cases = [(ex, os.path.splitext(os.path.basename(ex))[0] + ".py", {}) for ex in EXAMPLES]
    from tests.golden_cases import LIBRARY_CASES

    cases += LIBRARY_CASES
    return cases


CASES = golden_cases()


@pytest.mark.parametrize(("spec", "golden", "params"), CASES, ids=[c[1] for c in CASES])
def test_emitted_source_matches_golden(spec: str, golden: str, params: dict, update_golden: bool,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    source = vibench.compile_spec(spec, params=params or None, out_path="model.py").source
    path = os.path.join(GOLDEN, golden)
    if update_golden or not os.path.exists(path):
        if not update_golden:
            pytest.fail(f"no golden file {golden}; create it with `make golden` and review it")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(source)
    with open(path, encoding="utf-8") as fh:
        expected = fh.read()
    assert source == expected, f"{golden} is out of date: run `make golden` and review the diff"


def test_golden_files_pass_ruff() -> None:
    ruff = os.path.join(os.path.dirname(sys.executable), "ruff")
    files = sorted(os.path.join(GOLDEN, f) for f in os.listdir(GOLDEN) if f.endswith(".py"))
    assert files
    proc = subprocess.run([ruff, "check", "--isolated", "--no-cache", "--line-length", "120",
                           "--select", "E,F,W", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_golden_file_has_a_case() -> None:
    names = {c[1] for c in CASES}
    stale = [f for f in os.listdir(GOLDEN) if f.endswith(".py") and f not in names]
    assert not stale, f"golden files without a case (delete them): {stale}"
