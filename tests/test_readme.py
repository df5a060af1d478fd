"""The README's first spec and the outputs it shows are what vibench really prints."""

from __future__ import annotations

import os
import re

import pytest

from tests.helpers import ROOT
from vibench.compiler.cli import main

README = os.path.join(ROOT, "README.md")


def _readme() -> str:
    with open(README, encoding="utf-8") as fh:
        return fh.read()


def _tiny_spec() -> str:
    match = re.search(r"Save it as `tiny.yaml`:\n\n```yaml\n(.*?)```", _readme(), re.S)
    assert match, "the README lost its first spec"
    return match.group(1)


def _console(command: str) -> list[str]:
    text = _readme()
    start = text.index(f"$ {command}\n") + len(f"$ {command}\n")
    lines = []
    for line in text[start:].splitlines():
        if line.startswith("$ ") or line.startswith("```"):
            break
        lines.append(line)
    return lines


@pytest.fixture
def tiny(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(_tiny_spec())
    return tmp_path


def test_check_summary_output_is_the_readme_s(tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tiny.yaml", "--check", "--summary"]) == 0
    assert capsys.readouterr().out.splitlines() == _console("vibench-compile tiny.yaml --check --summary")


def test_emitted_model_runs_as_the_readme_says(tiny) -> None:
    import torch

    from tests.helpers import load_file_module

    assert main(["tiny.yaml", "-o", "model.py", "--set", "num_classes=10"]) == 0
    model = load_file_module(str(tiny / "model.py"), "readme_tiny_model")
    out = model.TinyCNN()(torch.randn(8, 1, 2048))
    assert f"{out.shape}" == _console('python -c "import torch, model; print(model.TinyCNN()'
                                      '(torch.randn(8, 1, 2048)).shape)"')[0]


def test_shape_error_is_the_readme_s(tiny, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line for line in _tiny_spec().splitlines(keepends=True) if "block: flatten" not in line]
    head = "fc:    {block: linear, in: pool, in_features: 32,"
    spec = "".join(lines).replace("fc:    {block: linear, in: flat,", head)
    (tiny / "tiny.yaml").write_text(spec)
    assert main(["tiny.yaml", "--check"]) == 1
    assert capsys.readouterr().err.splitlines() == _console("vibench-compile tiny.yaml --check")


def _extends_blocks() -> list[str]:
    blocks = re.findall(r"```yaml\n(.*?)```", _readme(), re.S)
    return [b for b in blocks if re.match(r"(#[^\n]*\n)?vibench: 1\nextends: ", b)]


@pytest.mark.parametrize("text", _extends_blocks(), ids=lambda t: t.split("\n")[1])
def test_readme_template_examples_compile_as_written(text: str) -> None:
    import vibench

    program = vibench.check(text=text)
    assert program.root.outputs
