"""W104 of values read only where they are not used.

What was wrong: a value counted as read wherever its name was written. MultiTaskHead at `task_id: rul_prediction`
builds no classification layers, yet `num_classes` given to it was silent: the `when` of those layers (dead: they feed
only switched-off outputs) and of its `system_id` input (`${task_id in [...] and is_mapping(num_classes)}`, a branch
not taken) read it; a composite without `inherit: true` nodes was said to read every value it took; a value that
reaches a switched-off node through a `let`, or that a check names in `at:` or in a branch not taken, was read too.
What is right now: a `when`, a check's `that`, a `let` and `metadata:` read the names of the branches taken, a `let`
only when something counted reads it, a node that feeds only switched-off outputs reads nothing, and W104 names the
value or the nodes (of a component, too) that read it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench

TEMPLATE = """vibench: 1
name: Rd
params:
  tag: {type: str, default: a}
  cond: {type: bool, default: false}
  k: {type: int, default: 1}
  use: {type: bool, default: false}
  w: {type: int, default: 4}
let: {w3: "${w * 3}"}
checks:
  - {that: "${not use or k > 0}", at: k, message: "k must be positive"}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, in_features: 4, out_features: 4}
  extra: {block: linear, in: fc, in_features: 4, out_features: w3, when: cond}
outputs: {y: extra}
metadata: {tag: "${tag if cond else 'none'}"}
"""


def _warnings(tmp_path: Path, text: str) -> list[vibench.Diagnostic]:
    (tmp_path / "rd.yaml").write_text(TEMPLATE, encoding="utf-8")
    spec = tmp_path / "user.yaml"
    spec.write_text(text, encoding="utf-8")
    return [w for w in vibench.check(str(spec)).warnings if w.code == "W104"]


def test_values_read_only_in_branches_not_taken_are_w104(tmp_path: Path) -> None:
    tag, k, w = _warnings(tmp_path, "vibench: 1\nextends: ./rd\nwith: {tag: b, k: 3, w: 5}\n")
    assert tag.message == "`tag` has no effect here: this Rd builds nothing that reads it"
    assert tag.hint == "it is read only by `metadata:`, which does not use it here; remove it"
    assert k.hint == "it is read only by a check (`${not use or k > 0}`), which does not use it here; remove it"
    assert w.message == "`w` has no effect here: this Rd does not build the node that reads it"  # through `let` w3
    assert w.hint == "it is read only by node `extra`, not built here (`when: ${cond}`); remove it"


def test_the_same_values_in_the_branches_taken_are_read(tmp_path: Path) -> None:
    assert _warnings(tmp_path, "vibench: 1\nextends: ./rd\nwith: {tag: b, k: 3, w: 5, cond: true, use: true}\n") == []


def test_a_multi_task_head_for_one_task_reads_no_num_classes(tmp_path: Path) -> None:
    spec = tmp_path / "head.yaml"
    spec.write_text("vibench: 1\nextends: isfm/task_head/MultiTaskHead\nwith: {task_id: rul_prediction, num_classes: 5}"
                    "\n", encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings
    assert found.code == "W104" and (found.pos.line, found.pos.col) == (3, 46)
    assert found.hint == ("it is read only by nodes `shared_fault_head`, `fault_classification_heads`, not built here; "
                          "remove it")
    spec.write_text("vibench: 1\nextends: isfm/task_head/MultiTaskHead\nwith: {task_id: classification, num_classes: 5}"
                    "\n", encoding="utf-8")
    assert vibench.check(str(spec)).warnings == ()


def test_a_key_on_a_node_of_a_component_without_inherit_is_w104(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("vibench: 1\nname: Net\ninputs: {x: {shape: [B, 32, 128]}}\nnodes:\n  head: {block: "
                    "isfm/task_head/MultiTaskHead, in: x, task_id: rul_prediction, num_classes: 5}\n"
                    "outputs: {y: head.rul_prediction}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings
    assert found.code == "W104" and found.node == "head" and (found.pos.line, found.pos.col) == (5, 79)
    assert found.message == "`num_classes` has no effect here: this MultiTaskHead does not build the nodes that read it"


def test_a_model_num_classes_beside_two_tasks_names_the_heads_nodes(tmp_path: Path) -> None:
    spec = tmp_path / "tasks.yaml"
    spec.write_text("vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 5\n  task_configs:\n"
                    "    classification: {num_classes: 7}\n    rul_prediction: {}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings
    assert found.code == "W104" and (found.pos.line, found.pos.col) == (4, 16)
    assert found.hint == ("it is read only by nodes `shared_fault_head`, `fault_classification_heads` of "
                          "MultiTaskHead, not built here; remove it")


def test_a_library_templates_own_key_is_not_warned_about_from_any_folder(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the library's positions are named `vibench/specs/...`: read as a path, they were the library's only when
    # compiling from the repository's root, so an installed vibench told the user to remove AttentionCNN's key
    monkeypatch.chdir(tmp_path)
    assert vibench.check("cnn/AttentionCNN", params={"use_attention": False}).warnings == ()


def test_a_value_a_node_when_reads_in_a_branch_not_taken_names_that_when(tmp_path: Path) -> None:
    spec = tmp_path / "wh.yaml"
    spec.write_text("vibench: 1\nname: WH\nparams: {flag: {type: bool, default: true}, b: {type: int, default: 1}}\n"
                    "inputs: {x: {shape: [B, 16]}}\nnodes:\n  fc: {block: linear, in: x, out_features: 16, "
                    "when: \"${flag or b > 2}\"}\noutputs: {y: fc}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec), params={"b": 5}).warnings
    assert found.message == "`b` (given in Python) has no effect here: this WH builds nothing that reads it"
    assert found.hint == ("it is read only by the `when` of node `fc` (`${flag or b > 2}`), which does not use it "
                          "here; remove it")


def test_a_key_a_component_reads_in_a_branch_not_taken_names_that_value(tmp_path: Path) -> None:
    spec = tmp_path / "dl.yaml"
    spec.write_text("vibench: 1\nname: DL\ninputs: {x: {shape: [B, 1024, 1]}}\nnodes:\n  d: {block: mlp/Dlinear, "
                    "in: x, input_dim: 3, seq_len: 1024}\noutputs: {y: d}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings
    assert found.code == "W104" and found.node == "d" and (found.pos.line, found.pos.col) == (5, 34)
    assert found.message == "`input_dim` has no effect here: this Dlinear builds nothing that reads it"


def test_a_components_metadata_reads_nothing(tmp_path: Path) -> None:
    # B_11_MomentumEncoder's `metadata: {momentum: ...}` is written nowhere when it is a component (model.py writes
    # the model's): its momentum, a trainer's key M_01_ISFM's reference ignores, is W101
    spec = tmp_path / "mom.yaml"
    spec.write_text("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {backbone: B_11_MomentumEncoder, momentum: 0.5}\n",
                    encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings
    assert found.code == "W101" and found.message.startswith("`momentum` does not change the outputs")
    spec.write_text("vibench: 1\nextends: isfm/backbone/B_11_MomentumEncoder\nwith: {momentum: 0.5}\n",
                    encoding="utf-8")
    assert vibench.check(str(spec)).warnings == ()  # compiled itself, its metadata is model.py's


def test_the_shape_of_an_input_switched_off_reads_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "inp.yaml"
    spec.write_text("vibench: 1\nname: Inp\nparams: {use_mark: {type: bool, default: false}, mark_width: 4}\n"
                    "inputs:\n  x: {shape: [B, 4]}\n  x_mark: {shape: [B, mark_width], when: use_mark}\nnodes:\n"
                    "  fc: {block: linear, in: x, out_features: 4}\noutputs: {y: fc}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec), params={"mark_width": 6}).warnings
    assert found.hint == "it is read only by the shape of input `x_mark`, which does not use it here; remove it"
    assert vibench.check(str(spec), params={"mark_width": 6, "use_mark": True}).warnings == ()
