"""A `checks:` entry that only tests whether a parameter is set (``p is not None``) reads no value of it: the
parameter stays a constructor argument of model.py (GraphNO's output_dim check beside a free num_classes)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.pipeline import compile_program, compile_source, find_spec

SPEC = """vibench: 1
name: Head
params:
  num_classes: {type: "int | None", default: 4, ge: 1}
  width: {type: int, default: 8, ge: 1}
checks:
  - that: "${CHECK}"
    message: too wide
    at: width
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: num_classes}
outputs: {y: fc}
"""


def _init_line(tmp_path: Path, check: str) -> str:
    path = tmp_path / "head.yaml"
    path.write_text(SPEC.replace("CHECK", check), encoding="utf-8")
    source = compile_source(compile_program(str(path)))
    return next(line for line in source.splitlines() if "def __init__" in line)


def test_a_check_that_only_tests_whether_a_parameter_is_set_keeps_it_free(tmp_path: Path) -> None:
    assert "num_classes: int = 4" in _init_line(tmp_path, "num_classes is not None or width <= 8")


def test_a_check_that_reads_the_value_fixes_it(tmp_path: Path) -> None:
    assert "num_classes" not in _init_line(tmp_path, "num_classes is None or num_classes <= 100")


def test_graphno_refuses_an_output_wider_than_its_nodes_and_keeps_num_classes_free(tmp_path: Path) -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check("no/GraphNO", params={"output_dim": 13})
    (diag,) = info.value.diagnostics
    assert diag.code == "E215" and "output_dim is more than the num_nodes * F values" in diag.message
    assert "13" in (diag.found or "")
    assert "raise num_nodes or lower output_dim" in diag.message
    assert vibench.check("no/GraphNO", params={"output_dim": 10}).root.outputs[0][2].shape[-1] == 10
    assert vibench.check("no/GraphNO", params={"num_classes": 3, "output_dim": 13}).root.outputs[0][0] == "logits"
    source = compile_source(compile_program(find_spec("no/GraphNO"), params={"num_classes": 3}))
    assert "def __init__(self, num_classes: int = 3" in source
