"""Warnings do not stop a compile and are reported together with the errors of the same file.

W105: a declared parameter that no `${...}` reads (usually a typo where it should be used). Each
file in tests/warnings/ states its warnings with `# expect: W105 at line:col` (and texts), like the
error corpus in tests/broken/.
"""

from __future__ import annotations

import os

import pytest

import vibench
from tests.helpers import ROOT
from vibench.compiler import cli

FOLDER = os.path.join(ROOT, "tests", "warnings")
FILES = sorted(f for f in os.listdir(FOLDER) if f.endswith(".yaml"))


def _expected(path: str) -> list[tuple[str, int, int, list[str]]]:
    out: list[tuple[str, int, int, list[str]]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("# expect: "):
                code, _, where = line[len("# expect: "):].strip().partition(" at ")
                row, col = where.split(":")
                out.append((code, int(row), int(col), []))
            elif line.startswith("# expect-") and out:
                out[-1][3].append(line.split(":", 1)[1].strip())
    return out


@pytest.mark.parametrize("name", FILES)
def test_warning_files(name: str) -> None:
    path = os.path.join(FOLDER, name)
    expected = _expected(path)
    try:
        found = list(vibench.check(path).warnings)
    except vibench.SpecError as err:  # errors in the same file: the warnings come with them
        found = [d for d in err.diagnostics if d.severity == "warning"]
    assert [(d.code, d.pos.line, d.pos.col) for d in found] == [(c, r, k) for c, r, k, _ in expected]
    for d, (_, _, _, texts) in zip(found, expected, strict=True):
        for text in texts:
            assert text in f"{d.message} {d.hint} {d.found}"


def test_a_warning_is_reported_with_the_errors_of_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = os.path.join(FOLDER, "w105_misspelt_use.yaml")
    assert cli.main([path]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert "error[E204]" in err and "warning[W105]" in err
    assert err.index("error[E204]") < err.index("warning[W105]")
    assert "1 error and 1 warning in" in err


def test_an_unused_parameter_alone_compiles_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    path = os.path.join(FOLDER, "w105_unused_param.yaml")
    assert cli.main([path, "--check"]) == cli.EXIT_OK
    assert "warning[W105]: parameter `dropout` is declared but never used" in capsys.readouterr().err
