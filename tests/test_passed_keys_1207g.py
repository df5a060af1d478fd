"""W104 for a key written on a node whose composite passes it on to no component that reads it (1207g).

`with:` of a file that `extends:` B_11_MomentumEncoder said `e_layers` had no effect (its B_04_Dlinear reads none),
but the same key written on a node that uses the component (`{block: isfm/backbone/B_11_MomentumEncoder,
e_layers: 3}`) compiled silently. Now W104 says so at the key; a key a chosen component reads, a null, and a
library template's own nodes stay silent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos
from vibench.compiler.spec_files import LIBRARY_DIR


def _warnings(tmp_path: Path, nodes: str) -> list[Diagnostic]:
    spec = tmp_path / "mine.yaml"
    spec.write_text("vibench: 1\nname: Mine\ninputs:\n  x: {shape: [B, 32, 64]}\nnodes:\n" + nodes
                    + "outputs:\n  y: enc\n", encoding="utf-8")
    return [d for d in vibench.check(str(spec)).warnings if d.code == "W104"]


def test_a_key_on_the_node_that_no_inner_component_reads_is_said_at_the_key(tmp_path: Path) -> None:
    found = _warnings(tmp_path, "  enc: {block: isfm/backbone/B_11_MomentumEncoder, in: x, e_layers: 3}\n")
    assert [(d.pos.line, d.pos.col, d.node) for d in found] == [(6, 59, "enc")]
    assert found[0].message == "`e_layers` has no effect here: no component of this B_11_MomentumEncoder reads it"
    assert found[0].found == "the components here: B_04_Dlinear"
    assert found[0].hint.startswith("it is read by B_06_TimesNet, ")  # not the B_04_Dlinear chosen
    assert "B_04_Dlinear" not in found[0].hint


def test_a_key_in_the_nodes_with_is_said_once_for_every_copy(tmp_path: Path) -> None:
    found = _warnings(tmp_path, "  enc: {block: isfm/backbone/B_11_MomentumEncoder, in: x, repeat: 3,\n"
                                "        with: {momentum: 0.5, e_layers: 2}}\n")
    # momentum is read by B_11's `metadata:` only, which model.py writes for the model, not a component (1207h)
    assert [(d.pos.line, d.pos.col, d.message.split("`")[1]) for d in found] == [(7, 16, "momentum"),
                                                                                  (7, 31, "e_layers")]
    assert found[0].hint == ("it is read only by its `metadata:`, which model.py writes for the model, not for a "
                             "component; remove it")


@pytest.mark.parametrize("nodes", [
    # the component chosen reads it
    "  enc: {block: isfm/backbone/B_11_MomentumEncoder, in: x, base_encoder: B_06_TimesNet, e_layers: 1,"
    " output_dim: 64}\n",
    # a null keeps the default: nothing set
    "  enc: {block: isfm/backbone/B_11_MomentumEncoder, in: x, e_layers: null}\n",
])
def test_a_key_that_has_an_effect_is_not_said(tmp_path: Path, nodes: str) -> None:
    assert _warnings(tmp_path, nodes) == []


def test_a_library_templates_own_nodes_are_not_the_users_to_change() -> None:
    from vibench.compiler.unread_params import within_library

    assert within_library(Pos(str(Path(LIBRARY_DIR) / "isfm" / "M_01_ISFM.yaml"), 1, 1))
    assert not within_library(Pos("/tmp/mine.yaml", 1, 1))


def test_the_templates_own_value_that_a_task_gives_its_head_names_the_task(tmp_path: Path) -> None:
    # M_01_ISFM declares num_classes itself (not from a slot folder): its W104 said "no component reads it" although
    # H_01_Linear_cla declares it and took 7 from its task's entry instead
    spec = tmp_path / "tasks.yaml"
    spec.write_text("vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  num_classes: 5\n  task_configs:\n"
                    "    classification: {head: H_01_Linear_cla, num_classes: 7}\n", encoding="utf-8")
    [found] = [d for d in vibench.check(str(spec)).warnings if d.code == "W104"]
    assert (found.pos.line, found.pos.col) == (4, 16)
    assert found.message == ("`num_classes` has no effect here: H_01_Linear_cla takes its value from copy "
                             "`classification` of node `task_heads` instead")
    assert found.hint.endswith("remove it here, or change that value")


@pytest.mark.parametrize("value", ["classes", '"${classes}"', '"${classes * 2}"'])
def test_a_parameter_read_by_a_with_value_is_read(tmp_path: Path, value: str) -> None:
    # `with:` writes num_classes's value as an expression of `classes`: that expression is what reads it. W104 said
    # "it is read only as the default of `num_classes`, which is set", though --set classes=3 changed the model
    spec = tmp_path / "child.yaml"
    spec.write_text(f"vibench: 1\nname: Child\nextends: cnn/ResNet1D\nparams: {{classes: 6}}\n"
                    f"with: {{num_classes: {value}}}\n", encoding="utf-8")
    program = vibench.check(str(spec), params={"classes": 3})
    assert [d for d in program.warnings if d.code == "W104"] == []
    assert program.root.outputs[0][2].shape[-1] == (3 if value != '"${classes * 2}"' else 6)
    # a value given to num_classes itself replaces that expression: then `classes` has no effect
    [found] = [d for d in vibench.check(str(spec), params={"num_classes": 5}).warnings if d.code == "W104"]
    assert found.message == ("`classes` has no effect here: it is read only as the default of `num_classes`, "
                             "which is set")


def test_a_key_that_one_copy_reads_has_an_effect(tmp_path: Path) -> None:
    # copy 1's TimesNet reads e_layers (the parameter count changes with it): said per copy, copy 0's B_04_Dlinear
    # made it "no effect"
    nodes = ("  enc: {block: isfm/backbone/B_11_MomentumEncoder, in: x, repeat: 2, output_dim: 64, e_layers: 1,\n"
             "        base_encoder: \"${['B_04_Dlinear', 'B_06_TimesNet'][i]}\"}\n")
    assert _warnings(tmp_path, nodes) == []
    listed = ("  enc: {block: isfm/backbone/B_11_MomentumEncoder, in: x, for_each: [B_04_Dlinear, B_06_TimesNet],\n"
              "        base_encoder: \"${item}\", output_dim: 64, e_layers: 1}\n")
    spec = tmp_path / "listed.yaml"
    spec.write_text("vibench: 1\nname: Mine\ninputs:\n  x: {shape: [B, 32, 64]}\nnodes:\n" + listed
                    + "  both: {block: add, in: enc}\noutputs:\n  y: both\n", encoding="utf-8")
    assert [d for d in vibench.check(str(spec)).warnings if d.code == "W104"] == []


@pytest.mark.parametrize("value,param,sets", [
    ('["${n}", 2, 2, 2]', "n: 2", {"n": 1}),  # ResNet1D's layers
])
def test_a_parameter_read_inside_a_with_list_is_read(tmp_path: Path, value: str, param: str,
                                                    sets: dict[str, int]) -> None:
    spec = tmp_path / "child.yaml"
    spec.write_text(f"vibench: 1\nname: Child\nextends: cnn/ResNet1D\nparams: {{{param}}}\nwith: {{layers: {value}}}\n",
                    encoding="utf-8")
    counts = set()
    for given in (None, sets):
        program = vibench.check(str(spec), params=given)
        assert [d for d in program.warnings if d.code == "W104"] == []
        counts.add(program.root.param_count)
    assert len(counts) == 2  # the parameter changes the model


def test_a_parameter_read_inside_a_with_mapping_is_read(tmp_path: Path) -> None:
    spec = tmp_path / "isfm.yaml"
    spec.write_text('vibench: 1\nname: Mine\nextends: isfm/M_01_ISFM\nparams: {classes: 6}\n'
                    'with: {num_classes: {"1": "${classes}"}}\n', encoding="utf-8")
    program = vibench.check(str(spec), params={"classes": 3})
    assert [d for d in program.warnings if d.code == "W104"] == []
    assert program.root.outputs[0][2].shape[-1] == 3
