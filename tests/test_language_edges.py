"""Language features in combination: each case is a defect a probe of the spec language found (a
name read as text in `extends:`'s `with:`, a slot component's shorthand parameters unknown to its
template, a switched-off node whose pass-through followed the order of a mapping, errors at 1:1 or
at a list item instead of the text at fault, messages that contradicted themselves)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vibench
from vibench.compiler.diagnostics import SpecError


def error(text: str, **kwargs: object) -> object:
    with pytest.raises(SpecError) as info:
        vibench.check(text=text, **kwargs)  # type: ignore[arg-type]
    (d,) = info.value.diagnostics
    return d


def test_a_name_in_extends_with_reads_a_parameter() -> None:
    # `num_classes: classes` was the string 'classes': E202 "expected int | None".
    text = "vibench: 1\nname: Mine\nextends: cnn/ResNet1D\nparams: {classes: 5}\nwith: {num_classes: classes}\n"
    assert str(vibench.check(text=text).root.outputs[0][2]) == "[B, 5]"
    assert str(vibench.check(text=text, params={"classes": 3}).root.outputs[0][2]) == "[B, 3]"
    # ... and a parameter of the template itself, as defaults read each other
    wide = "vibench: 1\nname: Wide\nextends: transformer/PatchTST\nwith: {d_ff: d_model}\n"
    same = "vibench: 1\nname: Same\nextends: transformer/PatchTST\nwith: {d_ff: 256}\n"
    assert vibench.check(text=wide).root.param_count == vibench.check(text=same).root.param_count
    # text stays text where the template's parameter takes text
    text_param = "vibench: 1\nname: Act\nextends: mlp/ResNetMLP\nparams: {relu: 1}\nwith: {activation: relu}\n"
    assert vibench.check(text=text_param).root.name == "Act"


def test_a_slot_components_shorthand_parameters_reach_its_template(tmp_path: Path) -> None:
    # `hidden: 6` (shorthand) in a component was unknown to the template: E201 for --set hidden=9.
    (tmp_path / "comp").mkdir()
    (tmp_path / "comp" / "Lin.yaml").write_text(
        "vibench: 1\nname: Lin\nparams: {hidden: 6, drop: {type: float, default: 0.0}}\n"
        "inputs: {x: {shape: [B, C]}}\nnodes:\n  fc: {block: linear, in: x, out_features: hidden}\n"
        "  d: {block: dropout, in: fc, p: drop}\noutputs: {y: d}\n")
    (tmp_path / "T.yaml").write_text(
        "vibench: 1\nname: T\nparams:\n  comp: {type: str, default: Lin, slot: comp}\n"
        "inputs: {x: {shape: [B, 4]}}\nnodes:\n  c: {block: \"comp/${comp}\", in: x, inherit: true}\n"
        "outputs: {y: c}\n")
    program = vibench.check(str(tmp_path / "T.yaml"), params={"hidden": 9}, search_path=[str(tmp_path)])
    assert str(program.root.outputs[0][2]) == "[B, 9]"


def test_a_block_chosen_by_the_copy_index_of_repeat_is_refused_with_the_reason() -> None:
    # It was "unknown name `i` in `block`", though `${i}` works in the copies' other fields.
    d = error("vibench: 1\nname: R\ninputs: {x: {shape: [B, 4]}}\n"
              "nodes:\n  h: {block: \"${'relu' if i == 0 else 'sigmoid'}\", in: x, repeat: 2}\noutputs: {y: h}\n")
    assert d.code == "E211" and "copies of `repeat` are all one block" in d.message  # type: ignore[attr-defined]
    assert (d.pos.line, d.pos.col) == (5, 14)  # type: ignore[attr-defined]


@pytest.mark.parametrize("written", ["{y: z, x: x}", "{x: x, y: z}"])
@pytest.mark.parametrize("off", ["when: false", "repeat: 0"])
def test_a_switched_off_node_passes_its_blocks_first_port_through(written: str, off: str) -> None:
    # The first *written* entry of a mapping passed through: reordering `in:` changed the model.
    text = ("vibench: 1\nname: P\nblocks:\n  Blk:\n    inputs: {x: {shape: [B, C]}, y: {shape: [B, 7]}}\n"
            "    nodes: {fc: {block: linear, in: y, out_features: 3}}\n    outputs: {y: fc}\n"
            "inputs: {x: {shape: [B, 4]}, z: {shape: [B, 7]}}\n"
            f"nodes:\n  b: {{block: Blk, in: {written}, {off}}}\noutputs: {{y: b}}\n")
    assert str(vibench.check(text=text).root.outputs[0][2]) == "[B, 4]"
    model = vibench.build(text=text).eval()
    x = torch.randn(2, 4)
    assert torch.equal(model(x, torch.randn(2, 7)), x)


@pytest.mark.parametrize("name", ["max_nodes", "inputs", "metadata", "inplace"])
def test_a_parameter_named_after_an_option_of_build_is_reserved(name: str) -> None:
    """`vibench.build(spec, max_nodes=8)` is build's node limit: a parameter of that name could not be set
    there (the parameter kept its default, silently). E106 at the declaration."""
    d = error(f"vibench: 1\nname: P\nparams: {{{name}: 4}}\ninputs: {{x: {{shape: [B, 4]}}}}\n"
              f"nodes: {{fc: {{block: linear, in: x, out_features: {name}}}}}\noutputs: {{y: fc}}\n")
    assert d.code == "E106" and f"parameter name `{name}` is reserved" in d.message  # type: ignore[attr-defined]
    assert (d.pos.line, d.pos.col) == (3, 10) and "build's own option" in d.found  # type: ignore[attr-defined]


def test_the_reserved_build_options_are_builds_keywords() -> None:
    """The names E106 keeps for build are exactly its arguments other than the parameters' **keywords."""
    import inspect

    from vibench.compiler.resolve_decls import BUILD_OPTIONS

    signature = inspect.signature(vibench.build).parameters.values()
    assert BUILD_OPTIONS == {p.name for p in signature if p.kind is not inspect.Parameter.VAR_KEYWORD}


def test_a_parameter_named_key_is_reserved_as_i_and_item_are() -> None:
    # Inside a for_each over a mapping `${key}` silently meant the loop's key, not the parameter.
    d = error("vibench: 1\nname: K\nparams: {key: 3, cfg: {type: \"dict[str, int]\", default: {a: 2, b: 7}}}\n"
              "inputs: {x: {shape: [B, 4]}}\nnodes:\n  h: {block: linear, in: x, out_features: \"${item + key}\", "
              "for_each: cfg}\noutputs: {y: h.*}\n")
    assert d.code == "E106" and "`key` is reserved" in d.message  # type: ignore[attr-defined]


def test_errors_about_outputs_point_at_the_outputs() -> None:
    # Both were reported at 1:1.
    d = error("vibench: 1\nname: N\ninputs: {x: {shape: [B, 5, 4]}}\n"
              "nodes:\n  r: {block: lstm, in: x, hidden_size: 3}\n  k: {block: linear, in: x, out_features: 3}\n"
              "outputs:\n  all: r.*\n  h_n: k\n")
    assert d.code == "E405" and (d.pos.line, d.pos.col) == (9, 3)  # type: ignore[attr-defined]
    d = error("vibench: 1\nname: AO\ninputs: {x: {shape: [B, 4]}}\nnodes:\n  a: {block: linear, in: x, "
              "out_features: 3}\noutputs:\n  y: {from: a, when: false}\n")
    assert d.code == "E103" and (d.pos.line, d.pos.col) == (7, 3)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("that", "code"), [("${width // 0 > 1}", "E204"), ("${width}", "E211")])
def test_a_check_that_cannot_be_decided_is_located_at_its_expression(that: str, code: str) -> None:
    # At the list item (`- {that: ...`), 5:5.
    d = error(f"vibench: 1\nname: Ck\nparams: {{width: 8}}\nchecks:\n  - {{that: \"{that}\", message: m, at: width}}\n"
              "inputs: {x: {shape: [B, 4]}}\nnodes:\n  fc: {block: linear, in: x, out_features: width}\n"
              "outputs: {y: fc}\n")
    assert d.code == code and (d.pos.line, d.pos.col) == (5, 12)  # type: ignore[attr-defined]


def test_layout_on_every_output_of_a_node_says_what_is_wrong() -> None:
    # "node `r` has no output port `*` at node `y`", though `r.*` is valid and `y` is an output.
    d = error("vibench: 1\nname: OL\ninputs: {x: {shape: [B, L, 3]}}\nnodes:\n  r: {block: lstm, in: x, "
              "hidden_size: 2}\noutputs:\n  y: {from: r.*, layout: BCL, as: BLC}\n")
    assert d.code == "E212" and "`layout`/`as` cannot reorder" in d.message  # type: ignore[attr-defined]


def test_an_axis_of_a_rank_0_input_is_refused_without_a_contradiction() -> None:
    # "expected dim in [0, -1]" for the refused 0.
    d = error("vibench: 1\nname: S\ninputs: {x: {shape: []}}\nnodes:\n  s: {block: sum, in: x, dim: 0}\n"
              "outputs: {y: s}\n")
    assert d.code == "E301" and d.expected == "an input with an axis (a rank-0 input has none)"  # type: ignore
