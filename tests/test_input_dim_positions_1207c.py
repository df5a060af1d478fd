"""An error about one dimension of an input's shape stands at that dimension (QA pass 1207c).

`params: {w: 0}` with `inputs: {x: {shape: [B, w]}}` gave E212 `found: w = 0` at the key `x`: the IR's input
declaration kept no position for its dimensions (resolve computed each and dropped it). It keeps them now
(``InputDecl.dim_pos``), and E212, E303 and E301 about a dimension are reported there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from tests.conftest import spec_text
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Template
from vibench.compiler.pipeline import load
from vibench.compiler.resolve import Library, resolve
from vibench.compiler.validate import validate

WIDTH = spec_text("""
    vibench: 1
    name: T
    params: {w: 4}
    inputs:
      x: {shape: [B, w]}
    nodes:
      fx: {block: linear, in: x, out_features: 3}
    outputs: {o: fx}
""")


def _error(text: str, **kwargs: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)  # type: ignore[arg-type]
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, [str(d) for d in errors]
    return errors[0]


def test_the_ir_keeps_where_each_dimension_is_written() -> None:
    text = WIDTH.replace("[B, w]", '[B, 16, "${w * 2}", L]')
    doc = load(text=text)
    library = Library(None)
    library.sources[doc.file] = doc.text
    (decl,) = resolve(doc, validate(doc), library, None).inputs
    assert [(p.line, p.col) for p in decl.dim_pos if p is not None] == [(5, 15), (5, 18), (5, 22), (5, 34)]
    assert isinstance(decl.shape[2], Template) and decl.dim_at("L") == decl.dim_pos[3] and decl.dim_at("C") is None
    doc = load(text=WIDTH.replace("[B, w]", "\"${['B', w]}\""))
    (whole,) = resolve(doc, validate(doc), library, None).inputs
    assert whole.dim_pos == () and whole.dim_at("B") is None  # one `${...}` giving the list: its own position


def test_a_name_whose_value_is_no_size_is_e212_at_the_dimension() -> None:
    d = _error(WIDTH.replace("w: 4", "w: 0"))
    assert d.code == "E212" and d.found == "w = 0"
    assert d.pos is not None and (d.pos.line, d.pos.col) == (5, 18)  # was 5:3, the key `x`


def test_with_a_layout_the_dimension_is_found_by_its_name() -> None:
    # (the dimensions are read in the order the layout says: [B, w, L] for BCL)
    d = _error(WIDTH.replace("w: 4", "w: 0").replace("[B, w]", "[B, L, w], layout: BCL"))
    assert d.code == "E212" and d.pos is not None and (d.pos.line, d.pos.col) == (5, 21)


def test_a_value_given_with_the_compile_is_said_so_at_the_dimension(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    d = _error(WIDTH, params={"w": -3})
    assert d.code == "E212" and d.found == "w = -3" and d.pos is not None and (d.pos.line, d.pos.col) == (5, 18)
    spec = tmp_path / "width.yaml"
    spec.write_text(WIDTH, encoding="utf-8")
    assert main([str(spec), "--check", "--set", "w=-3"]) == 1
    err = capsys.readouterr().err
    assert "width.yaml:5:18" in err and "`--set w=...`; without it the error goes away" in err


HALF = spec_text("""
    vibench: 1
    name: T
    let:
      half: "${L // 2}"
    inputs:
      x: {shape: [B, L]}
      y: {shape: [B, half]}
    nodes:
      fx: {block: linear, in: x, out_features: 3}
      fy: {block: linear, in: y, out_features: 3}
      s: {block: add, in: [fx, fy]}
    outputs: {o: s}
""")


def test_a_let_dimension_of_a_free_size_is_e303_at_the_dimension() -> None:
    d = _error(HALF)
    assert d.code == "E303" and d.pos is not None and (d.pos.line, d.pos.col) == (7, 18)


def test_a_call_giving_a_let_dimension_another_size_is_e301_at_the_dimension() -> None:
    text = spec_text("""
        vibench: 1
        name: T
        inputs:
          x: {shape: [B, 16]}
          y: {shape: [B, 5]}
        nodes:
          c: {block: Blk, in: {x: x, y: y}}
        outputs: {o: c}
        blocks:
          Blk:
            let: {half: "${L // 2}"}
            inputs:
              x: {shape: [B, L]}
              y: {shape: [B, half]}
            nodes:
              fy: {block: linear, in: y, out_features: 3}
            outputs: {o: fy}
    """)
    d = _error(text)
    assert d.code == "E301" and d.pos is not None and (d.pos.line, d.pos.col) == (14, 22)
