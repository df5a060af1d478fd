"""`for_each` over a mapping: a copy gives one value, and the root returns the copies by key.

A copy whose block had several outputs kept only its first: `{from: heads.*}` returned `main` of each
copy, `aux` was built and computed but never returned (`p, _ = self.p(x)`), where `for_each: [1, 2]` is
E405. It hit M_01_ISFM: a user's task head of two outputs under `task_configs`. And a multi-task
M_01_ISFM with one task returned a bare tensor, where docs/library.md promises a dict keyed by task and
PHM-Vibench's multi-task trainer reads `outputs.get(task)`; the default, single-head M_01_ISFM still
returns the head's tensor, as the reference does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from vibench.compiler.ir import Pos, Ref
from vibench.runtime.build import build_program

TWO = """\
vibench: 1
name: TwoOut
blocks:
  Two:
    inputs: {{x: {{shape: [B, C]}}}}
    nodes:
      a: {{block: linear, in: x, out_features: 3}}
      b: {{block: linear, in: x, out_features: 7}}
    outputs: {{main: a, aux: b}}
inputs: {{x: {{shape: [B, 4]}}}}
nodes:
  heads: {{block: Two, in: x, for_each: {each}}}
outputs:
  {outputs}
"""

HEAD = """\
vibench: 1
name: MyHead
inputs: {x: {shape: [B, P, D]}}
nodes:
  pool: {block: mean, in: x, dim: 1}
  logits: {block: linear, in: pool, out_features: 3}
  aux: {block: linear, in: pool, out_features: 7}
outputs: {logits: logits, aux: aux}
"""


def _error(path: Path, *spec_path: str) -> vibench.SpecError:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path), search_path=list(spec_path))
    return info.value


def _write(tmp_path: Path, text: str, name: str = "two.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("outputs", ["all: {from: heads.*}", "main: heads.p", "both: {from: heads.*}\n  q: heads.q"])
def test_a_copy_with_several_outputs_is_refused_at_the_node_as_for_a_list(tmp_path: Path, outputs: str) -> None:
    """The QA repro (two.yaml): it compiled, returning p [B, 3] and q [B, 3]; `aux` was dropped. Now the list
    form's E405, once, at the node's `block`, naming the block's outputs."""
    listed = _error(_write(tmp_path, TWO.format(each="[1, 2]", outputs="all: {from: heads.*}"), "list.yaml"))
    (d,) = _error(_write(tmp_path, TWO.format(each="{p: 1, q: 2}", outputs=outputs))).diagnostics
    (same,) = listed.diagnostics
    assert (d.code, d.message, d.node) == ("E405", same.message, "heads")
    assert d.message == "`for_each` copies give one value each; `Two` has 2 outputs"
    assert (d.pos.line, d.pos.col) == (same.pos.line, same.pos.col) == (12, 18)  # `Two` of `block: Two`
    assert d.found == "`Two` returns `main`, `aux`" and "give `Two` one output" in (d.hint or "")


def test_a_user_task_head_with_two_outputs_is_refused_at_the_users_task(tmp_path: Path) -> None:
    """isfm_mt.yaml: `classification: {head: MyHead}` built both Linears and returned only `logits`."""
    (tmp_path / "ulib" / "isfm" / "task_head").mkdir(parents=True)
    (tmp_path / "ulib" / "isfm" / "task_head" / "MyHead.yaml").write_text(HEAD, encoding="utf-8")
    user = _write(tmp_path, "vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  task_configs:\n"
                  "    classification: {head: MyHead}\n", "mt.yaml")
    (d,) = _error(user, str(tmp_path / "ulib")).diagnostics
    assert d.code == "E405" and "`isfm/task_head/MyHead` has 2 outputs" in d.message
    assert (d.pos.file, d.pos.line) == (str(user), 5)  # the user's task, not the template's node
    assert d.found == "`isfm/task_head/MyHead` returns `logits`, `aux`"


def test_a_head_whose_parameters_leave_one_output_is_a_task_head() -> None:
    """MultiTaskHead declares four outputs, and its `task_id` (given by task_configs) keeps one: the count
    is the built copy's, not the declaration's."""
    program = vibench.check(text="vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 4\n"
                                 "  task_configs: {rul_prediction: {head: MultiTaskHead}}\n")
    assert [name for name, _, _ in program.root.outputs] == ["rul_prediction"]


def test_a_port_of_a_copy_is_named_as_such() -> None:
    """`heads.p.aux` said "read one as `heads.<key>`" though `heads.p` was what the user wrote."""
    from vibench.compiler.elaborated import group_problem

    keys = ("p", "q")
    d = group_problem(Ref("heads", "p.aux", Pos("s.yaml", 3, 8)), None, keys)
    assert d is not None and d.message == "`heads.p` is one value (a `for_each` copy gives one); it has no port `aux`"
    assert (d.expected, d.found) == ("`heads.p`", "`heads.p.aux`")
    other = group_problem(Ref("heads", "r.aux", None), "z", keys)
    assert other is not None and "read one as `heads.<key>`" in other.message and other.node == "z"
    assert group_problem(Ref("heads", "q", None), "z", keys) is None
    whole = group_problem(Ref("heads", None, None), None, keys)
    assert whole is not None and whole.hint == "or return them all: `from: heads.*`"


def _outputs(text: str, **inputs: torch.Tensor) -> tuple[Any, str]:
    """What the model's ``forward`` returns, and its annotation in model.py (the root class comes last)."""
    result = vibench.compile_spec(text=text)
    signature = [line for line in result.source.splitlines() if line.startswith("    def forward(")][-1]
    with torch.no_grad():
        return build_program(result.program).eval()(**inputs), signature.split(") -> ")[1].removesuffix(":")


@pytest.mark.parametrize("with_", ["  task_configs: {classification: {}}\n",
                                   "  task_configs: {classification: {}, rul_prediction: {}}\n"
                                   "  tasks: [classification]\n"])
def test_a_multi_task_model_with_one_task_returns_its_dict(with_: str) -> None:
    """mt1.yaml and mt2.yaml gave `forward(...) -> torch.Tensor`."""
    text = "vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 4\n" + with_
    x, fs = torch.randn(2, 1024, 1), torch.full((2,), 1000.0)
    out, returns = _outputs(text, x=x, fs=fs)
    assert isinstance(out, dict) and list(out) == ["classification"] and tuple(out["classification"].shape) == (2, 4)
    assert returns == "dict[str, torch.Tensor]"


def test_the_single_head_model_still_returns_the_heads_tensor() -> None:
    """task_configs null: `{from: task_head.*}` is a node's outputs, not a mapping's copies (the parity tests
    compare this tensor with PHM-Vibench's)."""
    text = "vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 4\n"
    out, returns = _outputs(text, x=torch.randn(2, 1024, 1), fs=torch.full((2,), 1000.0))
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 4) and returns == "torch.Tensor"


@pytest.mark.parametrize("outputs,expected", [
    ("all: {from: heads.*}", dict),  # one key: still by key
    ("p: heads.p", torch.Tensor),  # an output the spec names: one tensor
    ("y: heads.p", torch.Tensor),
])
def test_one_key_of_a_pattern_is_a_dict(outputs: str, expected: type) -> None:
    text = ("vibench: 1\nname: K\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
            "  heads: {block: linear, in: x, out_features: 3, for_each: {p: 1}}\n"
            f"outputs:\n  {outputs}\n")
    out, returns = _outputs(text, x=torch.randn(2, 4))
    assert isinstance(out, expected) and returns == ("dict[str, torch.Tensor]" if expected is dict else "torch.Tensor")
    if expected is dict:
        assert list(out) == ["p"]
