"""An error a template raises about a value set by a file *between* the compiled spec and the template is located at
that file's `with:` key (vibench/compiler/blame_chain.py, ``blame_chain``).

What was wrong: `top.yaml` extends `mid.yaml`, which extends `base.yaml` with `depth: -1`. Compiling `mid.yaml`
put E211 of `repeat: depth` at its `depth:`; compiling `top.yaml` left it at `base.yaml`'s `repeat` key, because
the trials that find which setting gives an error only tried the compiled file's own `with:` (and `--set`). So
did `for_each` over an empty list or over a mapping whose key names another node, an output's promised shape,
and ISFM's backbone that does not divide the width.

What is right now: the files the compiled one extends in turn are tried too, each in the file that writes the key,
so the error reads as it does when that file is compiled itself; the nearest setting wins (a child's key over its
parent's, a `--set` value over both), and a library template's own `with:` is never blamed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

BASE = """vibench: 1
name: Base
params:
  width: 16
  depth: 2
inputs: {x: {shape: [B, 4, L]}}
nodes:
  stem: {block: conv1d, in: x, out_channels: width, kernel_size: 3, padding: 1}
  body: {block: conv1d, in: stem, out_channels: width, kernel_size: 3, padding: 1, repeat: depth}
  pool: {block: adaptive_avg_pool1d, in: body, output_size: 1}
  flat: {block: flatten, in: pool}
outputs: {y: {from: flat}}
"""

EACH = """vibench: 1
name: Each
params:
  widths: {type: "list[int]", default: [4, 8]}
  heads: {type: "dict[str, int]", default: {a: 2, b: 3}}
inputs: {x: {shape: [B, 6]}}
nodes:
  branches: {block: linear, in: x, for_each: widths, out_features: "${item}"}
  cat: {block: concat, in: branches, dim: 1}
  hs: {block: linear, in: cat, for_each: heads, out_features: "${item}"}
outputs:
  hs: {from: hs.*}
"""

PROMISE = """vibench: 1
name: Promise
params:
  n: 4
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: n}
outputs: {y: {from: fc, shape: [B, 4]}}
"""


def _write(folder: Path, **files: str) -> None:
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _errors(path: Path, **kw: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path), **kw)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _at(d: Diagnostic) -> tuple[str, int, int]:
    assert d.pos is not None
    return Path(d.pos.file).name, d.pos.line, d.pos.col


def _chain(tmp_path: Path, template: str, mid_with: str, top_with: str = "{}") -> Path:
    """`top.yaml` extends `mid.yaml`, which extends `base.yaml` (``template``) with ``mid_with``."""
    _write(tmp_path, base=template, mid=f"vibench: 1\nextends: ./base\nwith: {mid_with}\n",
           top=f"vibench: 1\nextends: ./mid\nwith: {top_with}\n")
    return tmp_path / "top.yaml"


def test_a_repeat_count_set_in_the_middle_file_is_reported_there(tmp_path: Path) -> None:
    top = _chain(tmp_path, BASE, "{depth: -1}", "{width: 8}")
    (d,) = _errors(top)
    assert d.code == "E211" and _at(d) == ("mid.yaml", 3, 15)  # `-1` of `with: {depth: -1}`
    assert d.origin is not None and Path(d.origin.file).name == "base.yaml"
    assert d.notes[0].startswith("raised by node `body` at ") and "without this `depth` the error goes away" in (
        d.notes[0])
    (alone,) = _errors(tmp_path / "mid.yaml")  # as when the middle file is compiled itself
    assert (alone.pos, alone.notes[0]) == (d.pos, d.notes[0])


def test_a_file_three_levels_up_is_reached(tmp_path: Path) -> None:
    _chain(tmp_path, BASE, "{depth: -1}")
    _write(tmp_path, upper="vibench: 1\nextends: ./top\nwith: {width: 8}\n")
    (d,) = _errors(tmp_path / "upper.yaml")
    assert d.code == "E211" and _at(d) == ("mid.yaml", 3, 15)


def test_for_each_over_an_empty_list_set_in_the_middle(tmp_path: Path) -> None:
    top = _chain(tmp_path, EACH, "{widths: []}")
    (d,) = _errors(top)
    assert d.code == "E211" and "`for_each` of node `branches`" in d.message and _at(d) == ("mid.yaml", 3, 8)


def test_for_each_key_that_names_another_node_is_at_that_key(tmp_path: Path) -> None:
    top = _chain(tmp_path, EACH, "{heads: {cat: 5}}")
    (d,) = _errors(top)
    assert d.code == "E106" and _at(d) == ("mid.yaml", 3, 16)  # the entry `cat:`, as for the middle file itself


def test_an_output_promise_broken_by_the_middle_file(tmp_path: Path) -> None:
    top = _chain(tmp_path, PROMISE, "{n: 5}")
    (d,) = _errors(top)
    assert d.code == "E308" and _at(d) == ("mid.yaml", 3, 11) and "without this `n`" in d.notes[0]


def test_the_isfm_backbone_of_the_middle_file(tmp_path: Path) -> None:
    """ISFM's PatchTST backbone splits the width into 4 heads: `output_dim: 30` set beside it in the middle file
    gives three E302 (queries, keys, values), each at that file's setting, as compiling that file says."""
    _write(tmp_path, mid="vibench: 1\nextends: isfm/M_01_ISFM\nwith: {backbone: B_08_PatchTST, output_dim: 30}\n",
           top="vibench: 1\nextends: ./mid\nwith: {num_classes: 3}\n")
    found = _errors(tmp_path / "top.yaml")
    alone = _errors(tmp_path / "mid.yaml")
    assert [d.code for d in found] == ["E302"] * 3
    assert all(Path(d.pos.file).name == "mid.yaml" and d.pos.line == 3 for d in found if d.pos is not None)
    assert [(d.pos, d.notes[0]) for d in found] == [(d.pos, d.notes[0]) for d in alone]


def test_the_nearest_setting_wins(tmp_path: Path) -> None:
    """`top.yaml`'s `depth: -2` over `mid.yaml`'s `depth: -1`: left out, the middle file's value still fails, so
    neither file's trials alone told; left out in both, it is the top file's key that the compile read."""
    top = _chain(tmp_path, BASE, "{depth: -1}", "{depth: -2}")
    (d,) = _errors(top)
    assert _at(d) == ("top.yaml", 3, 15) and d.found == "-2"


def test_a_set_value_over_the_middle_files_key_is_the_callers(tmp_path: Path) -> None:
    top = _chain(tmp_path, BASE, "{depth: -1}", "{width: 8}")
    (d,) = _errors(top, params={"depth": -3})
    assert Path(d.pos.file if d.pos else "").name == "base.yaml"  # the top file does not set it: where raised
    assert d.notes[0].startswith("the value is `depth` as given in Python") and "goes away" in d.notes[0]


def test_a_library_templates_own_with_is_not_blamed(tmp_path: Path) -> None:
    """M_02_ISFM extends M_01_ISFM with values of its own: those are the library's, and a user's key is blamed."""
    _write(tmp_path, top="vibench: 1\nextends: isfm/M_02_ISFM\nwith: {output_dim: 30, backbone: B_08_PatchTST}\n")
    found = _errors(tmp_path / "top.yaml")
    assert found and all(d.pos is not None and Path(d.pos.file).name == "top.yaml" for d in found)


def test_an_e303_hint_names_the_middle_files_key(tmp_path: Path) -> None:
    """`seq_len: null` of mlp/Dlinear in the middle file leaves the length free: the hint says to set that key."""
    _write(tmp_path, mid="vibench: 1\nextends: mlp/Dlinear\nwith: {seq_len: null}\n",
           top="vibench: 1\nextends: ./mid\nwith: {}\n")
    (d,) = _errors(tmp_path / "top.yaml")
    assert d.code == "E303" and _at(d) == ("mid.yaml", 3, 17)
    assert d.hint is not None and d.hint.startswith("set `seq_len` under `with:` to a number: null leaves `L` free")
