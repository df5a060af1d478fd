"""What the reports print of a composite's file name: `--summary`'s block column on one line (a line break
in the name printed a line of its own, which could forge a diagnostic), a backslash as part of the name
where it separates no folders, and a `.dot` picture's control characters drawn, a lone carriage return too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vibench.compiler import cli
from vibench.compiler.render import escape

INNER = {"vibench": 1, "name": "Inner", "inputs": {"x": {"shape": ["B", "C", "L"]}},
         "nodes": {"c": {"block": "conv1d", "in": "x", "out_channels": 2, "kernel_size": 5}}, "outputs": {"y": "c"}}


def _spec(folder: Path, file_name: str) -> Path:
    (folder / file_name).write_text(json.dumps(INNER))
    outer = {"vibench": 1, "name": "Outer", "inputs": {"x": {"shape": ["B", 1, "L"]}},
             "nodes": {"inner": {"block": f"./{file_name}", "in": "x"},
                       "each": {"block": f"./{file_name}", "for_each": [1, 2], "in": "x"},
                       "s": {"block": "add", "in": ["each.0", "each.1"]}},
             "outputs": {"y": "inner", "z": "s"}}
    path = folder / "outer.json"
    path.write_text(json.dumps(outer))
    return path


def test_a_line_break_in_a_composite_file_name_stays_on_its_row(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, "Inner\nerror[E999]: forged.yaml")
    assert cli.main([str(spec), "--check", "--summary"]) == 0
    out = capsys.readouterr().out
    assert not any(line.startswith("error[E999]") for line in out.splitlines()), out
    assert "Inner\\nerror[E999]: forged" in out
    assert "for_each: Inner\\nerror[E999]: forged" in out


@pytest.mark.skipif(os.sep == "\\", reason="a backslash separates folders there")
def test_a_backslash_in_a_composite_file_name_is_part_of_the_name(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, "my\\block.yaml")
    assert cli.main([str(spec), "--check", "--summary"]) == 0
    (row,) = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("inner ")]
    assert row[1] == "my\\block"  # the row read `block`: the name after the backslash


def test_a_dot_label_draws_a_lone_carriage_return() -> None:
    assert escape("safe\rEVIL", "dot") == "safe\u240dEVIL"  # it was deleted: `safeEVIL`
    assert escape("a\r\nb\nc", "dot") == "a\\nb\\nc"
