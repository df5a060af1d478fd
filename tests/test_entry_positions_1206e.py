"""Where an error about one entry of a mapping or list set in `with:` is reported (12-06, fifth pass): at that
entry's own line (a `for_each` copy's `${item}`, a subscript `${tasks[key]}`), not at the value's first entry;
a value that reads the whole parameter stays at the value, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

TEMPLATE = """vibench: 1
name: Heads
params:
  tasks: {type: "dict[str, dict[str, any]]", default: {cls: {out: 3}}}
  widths: {type: "list[int]", default: [8]}
  sizes: {type: "list[int]", default: [8]}
let:
  live: "${dict([[k, tasks[k]] for k in keys(tasks)])}"
blocks:
  Head:
    params: {out: {type: int, ge: 1}}
    inputs: {x: {shape: [B, D]}}
    nodes:
      fc: {block: linear, in: x, out_features: out}
    outputs: {y: {from: fc, shape: [B, out]}}
  Wide:
    params: {g: {type: int}}
    checks:
      - {that: "${8 % g == 0}", message: "g=${g} must divide 8", at: g}
    inputs: {x: {shape: [B, 8, L]}}
    nodes:
      c: {block: conv1d, in: x, out_channels: 8, kernel_size: 1, groups: g}
    outputs: {y: c}
inputs:
  x: {shape: [B, 8]}
  s: {shape: [B, 8, L]}
nodes:
  heads: {block: Head, in: x, for_each: live, with: "${item}"}
  by_key: {block: linear, in: x, for_each: "${keys(tasks)}", out_features: "${tasks[item]['out']}"}
  by_index: {block: linear, in: x, for_each: "${range(len(sizes))}", out_features: "${sizes[item]}"}
  each: {block: Wide, in: s, for_each: widths, g: "${item}"}
  total: {block: linear, in: x, out_features: "${sum([tasks[k]['out'] for k in keys(tasks)]) - 9}"}
outputs:
  h: {from: heads.*}
  k: {from: by_key}
  i: {from: by_index}
  e: {from: each}
  t: {from: total}
"""


def _errors(tmp_path: Path, with_: str) -> tuple[list[Diagnostic], list[str], str]:
    (tmp_path / "heads.yaml").write_text(TEMPLATE, encoding="utf-8")
    text = "vibench: 1\nextends: ./heads\nwith:\n" + with_
    spec = tmp_path / "user.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec))
    return [d for d in info.value.diagnostics if d.severity == "error"], text.splitlines(), str(spec)


def _at(lines: list[str], needle: str) -> tuple[int, int]:
    line = next(k for k, row in enumerate(lines, 1) if needle in row)
    return line, lines[line - 1].index(needle) + 1


def test_a_for_each_copy_of_a_mapping_is_reported_at_its_own_key(tmp_path: Path) -> None:
    """`b: {out: 0}` is out of bounds in copy `b` of the heads (through a `let:` over `tasks`): at `b:`'s `out`
    (1206i: the key at fault in the entry), not `a:`."""
    errors, lines, spec = _errors(tmp_path, "  tasks:\n    a: {out: 2}\n    b: {out: 0}\n    c: {out: 4}\n")
    e208 = [d for d in errors if d.code == "E208" and d.node == "b"]
    assert e208 and all(d.pos and (d.pos.file, d.pos.line, d.pos.col) == (spec, *_at(lines, "out: 0")) for d in e208)
    assert all(d.message.startswith("parameter `out` of block `Head` is out of bounds") for d in e208)


def test_a_subscript_with_a_known_key_is_reported_at_that_key(tmp_path: Path) -> None:
    """`${tasks[item]['out']}` of copy `b` reads entry `b` only; `${sizes[item]}` of copy 1 reads item 1."""
    errors, lines, spec = _errors(tmp_path, "  tasks:\n    a: {out: 2}\n    b: {out: 0}\n  sizes:\n    - 8\n"
                                  "    - 0\n")
    where = {d.node: (d.code, d.pos.file, d.pos.line, d.pos.col) for d in errors
             if d.pos and d.node in ("by_key", "by_index")}
    assert where == {"by_key": ("E104", spec, *_at(lines, "b:")), "by_index": ("E104", spec, _at(lines, "- 0")[0], 7)}


def test_a_for_each_over_a_list_parameter_is_reported_at_its_item(tmp_path: Path) -> None:
    """Wide's check fails for the third item of `widths`: at `- 3`, not at `- 1`."""
    errors, lines, spec = _errors(tmp_path, "  widths:\n    - 1\n    - 2\n    - 3\n")
    e215 = [d for d in errors if d.code == "E215"]
    assert [(d.message, d.pos.file, d.pos.line, d.pos.col) for d in e215 if d.pos] == [
        ("g=3 must divide 8", spec, _at(lines, "- 3")[0], 7)]


def test_a_value_that_reads_the_whole_parameter_stays_at_the_value(tmp_path: Path) -> None:
    """`total` sums every task's `out`: no one entry gives it, so it is at the value's key (`tasks:`, not its
    first entry `a:`, where a block mapping's value starts)."""
    errors, lines, spec = _errors(tmp_path, "  tasks:\n    a: {out: 2}\n    b: {out: 3}\n")
    (d,) = [d for d in errors if d.node == "total"]
    assert d.code == "E104" and d.pos is not None and (d.pos.line, d.pos.col) == _at(lines, "tasks:")


def test_a_library_template_s_task_configs_entry(tmp_path: Path) -> None:
    """isfm/M_01_ISFM builds one head per task of task_configs: rul_prediction's bad value is on its line, at
    its key."""
    text = ("vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 4\n  task_configs:\n"
            "    classification: {head: H_01_Linear_cla, loss_weight: 1.0}\n"
            "    rul_prediction: {head: H_05_RUL_pred, loss_weight: 0.5, hidden_dim: 0}\n")
    spec = tmp_path / "isfm.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec))
    errors = [d for d in info.value.diagnostics if d.severity == "error" and d.node == "rul_prediction"]
    assert errors and {(d.pos.line, d.pos.col) for d in errors if d.pos} == {_at(text.splitlines(), "hidden_dim: 0")}
