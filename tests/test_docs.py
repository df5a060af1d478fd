"""The runnable examples in the public docstrings run and say what they print."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["vibench", "vibench.api", "vibench.compiler.diagnostics", "vibench.compiler.symbolic",
           "vibench.runtime.checkpoint"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring examples"
    assert result.failed == 0


def test_the_fuzzing_example_of_the_api_page_runs(tmp_path, monkeypatch) -> None:
    """docs/api.md's hypothesis example, as a user's test file: its tests are collected and pass."""
    import os
    import re
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "api.md"), encoding="utf-8") as fh:
        page = fh.read()
    block = re.search(r"<!-- fuzzing-example:start -->\n```python\n(.*?)```\n<!-- fuzzing-example:end -->", page, re.S)
    assert block is not None
    (tmp_path / "test_user_fuzzing.py").write_text(block.group(1), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": root}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             str(tmp_path / "test_user_fuzzing.py")], cwd=root, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout


def test_the_emitted_file_excerpt_of_the_api_page_is_the_real_file() -> None:
    """docs/api.md quotes model.py of `vibench-compile cnn/ResNet1D --set num_classes=4`: every line it shows
    (all but the `...` that stand for lines left out) is a line of that file, in the same order."""
    import os
    import re

    import vibench

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "api.md"), encoding="utf-8") as fh:
        page = fh.read()
    block = re.search(r"For `vibench-compile cnn/ResNet1D -o model.py --set num_classes=4`:\n\n```python\n(.*?)```",
                      page, re.S)
    assert block is not None
    source = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 4}).source.splitlines()
    at = 0
    for line in block.group(1).splitlines():
        if line.strip() == "...":
            continue
        assert line in source[at:], f"docs/api.md shows a line the emitted file does not have (here): {line!r}"
        at = source.index(line, at) + 1
