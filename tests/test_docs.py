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
