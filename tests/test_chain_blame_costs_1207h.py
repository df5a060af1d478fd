"""The walk up the `extends:` chain that locates an error at a `with:` key of a file between the compiled one and the
template (vibench/compiler/blame_chain.py, ``blame_chain``): its cost, its notes, and the files it passed by.

What was wrong:
- cost: each file of the chain took a trial that checks it gives the error, and two per key, each compiling the whole
  chain; only the keys were bounded (32), so a failed compile of a 32-file chain took 60 compiles (12 s);
- a "goes away" note was untrue: a trial leaves a key out of every file below the one tried and out of `--set` at
  once, but the note said that dropping only the nearest setting (the `--set` value, or `top.yaml`'s `depth: -2`
  over `mid.yaml`'s `depth: -1`) takes the error away;
- a file without `with:` (`extends: ./mid` and a `name:`) ended the walk, and the error stayed in the template;
- a key of a lower file naming a parameter that a file between declares itself (`with: {d: 5}` over `params: {d: 2}`)
  went into that file's `with:` in the trial (E201: nothing told), and the error stayed in the template;
- a middle file that sets 3,000 layers: the trial that checks the file gives the error stopped at the trials' node
  limit, and the error stayed in the template, though compiling that file puts it at its `num_layers:`.

What is right now: the walk takes at most ``MAX_CHAIN_TRIALS`` compiles, counted (it ends with no verdict at a file
whose trials could exceed them); the note names every other setting the trial left out; a file without `with:` is
passed through; such a key sets the parameter's default; a trial stopped at its own limit no longer ends the file's
turn.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import vibench
from vibench.compiler import blame
from vibench.compiler.diagnostics import Diagnostic

BASE = """vibench: 1
name: Base
params: {depth: {type: int, default: 2}, width: {type: int, default: 8}, heads: {type: int, default: 2}}
inputs: {x: {shape: [B, L, 16]}}
nodes:
  fc: {block: linear, in: x, out_features: width, repeat: depth}
  fc2: {block: linear, in: fc, out_features: heads}
outputs: {y: {from: fc2}}
"""


def _write(folder: Path, **files: str) -> None:
    (folder / "base.yaml").write_text(BASE, encoding="utf-8")
    (folder / "mid.yaml").write_text("vibench: 1\nextends: ./base\nwith: {depth: -1}\n", encoding="utf-8")
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")


def _error(path: Path, **kw: Any) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path), **kw)
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    return d


def _at(d: Diagnostic) -> tuple[str, int, int]:
    assert d.pos is not None
    return Path(d.pos.file).name, d.pos.line, d.pos.col


def test_a_long_chain_takes_a_bounded_number_of_trial_compiles(tmp_path: Path, monkeypatch: Any) -> None:
    """Twenty files, each setting one key over the last; the error comes from the first's `depth: -1`. The compiled
    file's own trial (one key: one compile) and the walk's, together, stay within the bound; the walk ends before
    the first file, so the error stays where raised."""
    json.dump({"vibench": 1, "name": "Base", "params": {"depth": {"type": "int", "default": 2}, "a1": 1, "a2": 1},
               "inputs": {"x": {"shape": ["B", 8]}}, "outputs": {"y": "s"},
               "nodes": {"s": {"block": "linear", "in": "x", "out_features": "${a1+a2}", "repeat": "depth"}}},
              (tmp_path / "f0.json").open("w"))
    json.dump({"vibench": 1, "extends": "./f0.json", "with": {"depth": -1}}, (tmp_path / "f1.json").open("w"))
    for k in range(2, 20):
        json.dump({"vibench": 1, "extends": f"./f{k - 1}.json", "params": {f"junk{k}": [0] * 5},
                   "with": {f"a{k % 2 + 1}": k}}, (tmp_path / f"f{k}.json").open("w"))
    compiles = []
    settings = blame.blame_settings

    def counting(doc: Any, diagnostics: Any, check: Any, *args: Any) -> Any:
        def counted(trial_doc: Any, values: Any) -> Any:
            compiles.append(trial_doc.file)
            return check(trial_doc, values)
        return settings(doc, diagnostics, counted, *args)

    monkeypatch.setattr(blame, "blame_settings", counting)
    d = _error(tmp_path / "f19.json")
    assert d.code == "E211" and Path(d.origin.file if d.origin else d.pos.file if d.pos else "").name == "f0.json"
    assert 0 < len(compiles) <= 1 + blame.MAX_CHAIN_TRIALS  # (it was 37: two a file)


def test_a_set_value_note_names_the_middle_files_setting(tmp_path: Path) -> None:
    _write(tmp_path, top="vibench: 1\nextends: ./mid\nwith: {width: 16}\n")
    d = _error(tmp_path / "top.yaml", params={"depth": -3})
    assert d.code == "E211" and _at(d)[0] == "base.yaml"  # the top file does not set it: where raised
    assert re.search(r"; without it and \S*mid\.yaml's `depth: -1` the error goes away$", d.notes[0])


def test_the_nearest_key_note_names_the_key_it_replaces(tmp_path: Path) -> None:
    _write(tmp_path, top8="vibench: 1\nextends: ./mid\nwith: {depth: -2}\n")
    d = _error(tmp_path / "top8.yaml")
    assert _at(d) == ("top8.yaml", 3, 15)  # still at the nearest setting
    assert re.search(r"; without this `depth` and \S*mid\.yaml's `depth: -1` the error goes away$", d.notes[0])


def test_a_file_without_with_is_passed_through(tmp_path: Path) -> None:
    _write(tmp_path, mid1="vibench: 1\nextends: ./mid\nname: Mid1\n",
           topx="vibench: 1\nextends: ./mid1\nwith: {width: 4}\n")
    d = _error(tmp_path / "topx.yaml")
    assert d.code == "E211" and _at(d) == ("mid.yaml", 3, 15)


def test_a_key_setting_a_parameter_of_a_file_between(tmp_path: Path) -> None:
    """`top6.yaml` sets `d`, which `mid4.yaml` declares and reads for `width`: it sets that parameter's default."""
    _write(tmp_path, mid4="vibench: 1\nextends: ./base\nparams: {d: 2}\nwith: {depth: -1, width: d}\n",
           top6="vibench: 1\nextends: ./mid4\nwith: {d: 5}\n", top7="vibench: 1\nextends: ./mid4\nwith: {heads: 5}\n")
    d = _error(tmp_path / "top6.yaml")
    assert d.code == "E211" and _at(d) == ("mid4.yaml", 4, 15)
    assert _at(_error(tmp_path / "top7.yaml")) == _at(d)


def test_a_middle_file_over_the_trials_node_limit(tmp_path: Path) -> None:
    (tmp_path / "mid.yaml").write_text("vibench: 1\nextends: mlp/MLPMixer\nwith: {num_layers: 3000}\n", "utf-8")
    (tmp_path / "top.yaml").write_text("vibench: 1\nextends: ./mid\nname: Top\n", "utf-8")
    d = _error(tmp_path / "top.yaml")
    assert d.code == "E307" and _at(d) == ("mid.yaml", 3, 20) == _at(_error(tmp_path / "mid.yaml"))
