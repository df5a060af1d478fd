"""A float written as a dimension is E212 at the dimension, whatever its value: `4.5`, `1e19`, `.inf` and `.nan`
were E102 in pydantic's words ("expected Unable to parse input string as an integer, exceeded maximum size or
string"), while `4.0` and `9e18`, which pydantic's lax int takes, were the documented E212."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench


@pytest.mark.parametrize("written", ["4.5", "1e19", "-1e19", "1e308", "1e400", ".inf", ".nan", "4.0", "9e18"])
@pytest.mark.parametrize("where", ["input", "output", "composite input"])
def test_a_float_dimension_is_e212_at_the_dimension(tmp_path: Path, written: str, where: str) -> None:
    shape = f"[B, {written}]"
    inp, out, inner = ("[B, 4]", "d", "[B, 4]")
    if where == "input":
        inp = shape
    elif where == "output":
        out = f"{{from: d, shape: {shape}}}"
    else:
        inner = shape
    path = tmp_path / "s.yaml"
    path.write_text(f"vibench: 1\nname: S\ninputs: {{x: {{shape: {inp}}}}}\nblocks:\n  Blk:\n"
                    f"    inputs: {{x: {{shape: {inner}}}}}\n    nodes: {{r: {{block: relu, in: x}}}}\n"
                    f"    outputs: {{y: r}}\nnodes: {{d: {{block: Blk, in: x}}}}\noutputs: {{y: {out}}}\n",
                    encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path))
    (d,) = info.value.diagnostics
    line = {"input": 3, "composite input": 6, "output": 10}[where]
    text = path.read_text().splitlines()[line - 1]
    assert d.code == "E212" and d.pos is not None and (d.pos.line, d.pos.col) == (line, text.index(written) + 1)
    assert "dimension" in d.message and "Unable to parse" not in str(d)
