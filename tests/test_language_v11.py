"""Language v1.1 (issue 10): `let:`, `checks:`, type predicates, `for_each` over a mapping, and the
multi-task task names of PHM-Vibench's model guide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vibench
from tests.conftest import spec_text
from vibench.compiler.expr import ExprError, evaluate_value, parse_template

LET = spec_text("""
    vibench: 1
    name: Derived
    params:
      width: 8
      layout: {type: str, default: BLC, choices: [BLC, BCL]}
    let:
      double: "${width * 2}"
      quad: "${double * 2}"            # a let reads the ones above it
      channels_first: "${layout == 'BCL'}"
    inputs:
      x: {shape: "${['B', 4, 'L'] if channels_first else ['B', 'L', 4]}"}
    nodes:
      bcl: {block: transpose, in: x, dim0: 1, dim1: 2, when: "${not channels_first}"}
      conv: {block: conv1d, in: bcl, out_channels: "${quad}", kernel_size: 1}
    outputs: {y: conv}
    metadata: {double: "${double}"}
""")


def test_let_values_are_read_like_parameters() -> None:
    program = vibench.check(text=LET)
    assert program.root.outputs[0][2].shape[1] == 32
    assert program.root.metadata == {"double": 16}
    bcl = vibench.check(text=LET, params={"layout": "BCL", "width": 1})
    assert [n.name for n in bcl.root.nodes] == ["conv"]  # the transpose is switched off by a let value
    assert bcl.root.outputs[0][2].shape[1] == 4


def test_let_in_a_composite_block_is_computed_per_use() -> None:
    text = spec_text("""
        vibench: 1
        name: Uses
        blocks:
          Wide:
            params: {factor: 2}
            let: {features: "${C * factor}"}
            inputs: {x: {shape: [B, C]}}
            nodes: {fc: {block: linear, in: x, out_features: "${features}"}}
            outputs: {y: fc}
        inputs: {x: {shape: [B, 3]}}
        nodes:
          a: {block: Wide, in: x}
          b: {block: Wide, in: a, factor: 3}
        outputs: {y: b}
    """)
    assert vibench.check(text=text).root.outputs[0][2].shape[1] == 18  # (3 * 2) * 3: C is bound per use


def test_a_let_may_not_take_a_parameters_name() -> None:
    text = LET.replace("  double: \"${width * 2}\"", "  width: 3\n  double: \"${width * 2}\"")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert [d.code for d in info.value.diagnostics] == ["E210"]
    assert info.value.diagnostics[0].pos is not None


@pytest.mark.parametrize("call,value", [
    ("is_mapping(v)", {"a": 1}), ("is_list(v)", [1]), ("is_int(v)", 3), ("is_number(v)", 2.5), ("is_str(v)", "s"),
    ("is_bool(v)", True), ("is_none(v)", None),
])
def test_type_predicates(call: str, value: object) -> None:
    assert evaluate_value(parse_template("${" + call + "}", None), {"v": value}) is True
    others = [{"a": 1}, [1], 3, 2.5, "s", True, None]
    hits = [o for o in others if evaluate_value(parse_template("${" + call + "}", None), {"v": o})]
    assert hits == [value] or (call == "is_number(v)" and hits == [3, 2.5])


def test_true_is_not_an_int_and_merge_lets_the_last_mapping_win() -> None:
    assert evaluate_value(parse_template("${is_int(v) or is_number(v)}", None), {"v": True}) is False
    merged = evaluate_value(parse_template("${merge(a, b)}", None), {"a": {"k": 1, "j": 2}, "b": {"k": 3}})
    assert merged == {"k": 3, "j": 2}
    with pytest.raises(ExprError, match="merge\\(\\) takes mappings"):
        evaluate_value(parse_template("${merge(a, 1)}", None), {"a": {}})


TEMPLATE = spec_text("""
    vibench: 1
    name: Checked
    params:
      num_classes: {type: "int | dict[str, int]", default: 4}
      dropout: {type: float, default: 0.1}
    let:
      counts: "${[num_classes[k] for k in keys(num_classes)] if is_mapping(num_classes) else [num_classes]}"
    checks:
      - that: "${min(counts) == max(counts)}"
        message: "every system needs the same class count, got ${num_classes}"
        at: num_classes
      - {that: "${dropout <= 0.5}", message: "dropout above 0.5 rarely trains", at: dropout, severity: warning}
    inputs: {x: {shape: [B, 16]}}
    nodes:
      drop: {block: dropout, in: x, p: "${dropout}"}
      head: {block: linear, in: drop, out_features: "${max(counts)}"}
    outputs: {logits: head}
""")


def _user(tmp_path: Path, with_: str) -> str:
    (tmp_path / "checked.yaml").write_text(TEMPLATE, encoding="utf-8")
    user = tmp_path / "mine.yaml"
    user.write_text(f"vibench: 1\nextends: ./checked.yaml\nwith:\n{with_}", encoding="utf-8")
    return str(user)


def test_a_failed_check_is_reported_at_the_users_key_with_its_message(tmp_path: Path) -> None:
    user = _user(tmp_path, '  dropout: 0.1\n  num_classes: {"1": 4, "2": 6}\n')
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(user)
    (d,) = info.value.diagnostics
    assert d.code == "E215" and d.severity == "error"
    assert d.pos is not None and d.pos.file.endswith("mine.yaml") and (d.pos.line, d.pos.col) == (5, 16)
    assert d.message == "every system needs the same class count, got {'1': 4, '2': 6}"
    assert d.found == "`num_classes` = {'1': 4, '2': 6}"
    assert "min(counts)" not in info.value.render()  # the expression is never shown


def test_a_warning_check_compiles_and_points_at_the_users_key(tmp_path: Path) -> None:
    program = vibench.check(_user(tmp_path, "  dropout: 0.7\n"))
    (w,) = program.warnings
    assert (w.code, w.severity, w.pos.line) == ("W106", "warning", 4) and w.pos.file.endswith("mine.yaml")


def test_a_check_without_a_user_setting_points_at_the_declaration() -> None:
    text = TEMPLATE.replace("default: 4}", 'default: {"1": 2, "2": 3}}')
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert info.value.diagnostics[0].code == "E215" and info.value.diagnostics[0].pos.line == 4


@pytest.mark.parametrize("check,code", [
    ('{that: "${1}", message: m}', "E211"),
    ('{that: "${nope}", message: m}', "E204"),
    ('{that: "${true}", message: m, at: nope}', "E210"),
])
def test_malformed_checks_are_located_errors(check: str, code: str) -> None:
    text = spec_text(f"""
        vibench: 1
        name: Bad
        params: {{width: 4}}
        checks: [{check}]
        inputs: {{x: {{shape: [B, 4]}}}}
        nodes: {{fc: {{block: linear, in: x, out_features: "${{width}}"}}}}
        outputs: {{y: fc}}
    """)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert [d.code for d in info.value.diagnostics] == [code]
    assert info.value.diagnostics[0].pos is not None


KEYED = spec_text("""
    vibench: 1
    name: Keyed
    params:
      heads: {type: "dict[str, dict[str, any]]", default: {fault: {n: 3}, severity: {n: 5}}}
    inputs: {x: {shape: [B, 8]}}
    nodes:
      trunk: {block: linear, in: x, out_features: 16}
      head: {block: linear, in: trunk, for_each: "${heads}", out_features: "${item['n'] + i * 0}", bias: true}
      first: {block: relu, in: head.fault}
    outputs:
      each: {from: "head.*"}
      fault_relu: first
""")


def test_for_each_over_a_mapping_makes_one_node_per_key() -> None:
    program = vibench.check(text=KEYED)
    assert [n.name for n in program.root.nodes] == ["trunk", "fault", "severity", "first"]
    assert [(n, t.shape[1]) for n, _, t in program.root.outputs] == [("fault", 3), ("severity", 5), ("fault_relu", 3)]
    model = vibench.build(text=KEYED)
    assert sorted(model.state_dict()) == sorted(
        f"{node}.{p}" for node in ("trunk", "fault", "severity") for p in ("weight", "bias"))


@pytest.mark.parametrize("heads,code", [
    ('{"not a name": {n: 1}}', "E106"),
    ("{trunk: {n: 1}}", "E106"),     # the key names a node that exists
    ("{}", "E211"),
])
def test_bad_mapping_keys_are_located_errors(heads: str, code: str) -> None:
    text = KEYED.replace("default: {fault: {n: 3}, severity: {n: 5}}", f"default: {heads}")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert code in [d.code for d in info.value.diagnostics]
    assert all(d.pos is not None for d in info.value.diagnostics)


def test_reading_a_keyed_node_needs_a_key() -> None:
    text = KEYED.replace("in: head.fault", "in: head.nope")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    (d,) = info.value.diagnostics
    assert d.code == "E405" and d.pos is not None and "`fault`" in (d.expected or "")


GUIDE = {"classification": {"num_classes": 10, "loss_weight": 1.0}, "prediction": {"pred_len": 96, "loss_weight": 0.5}}


def test_the_model_guides_multi_task_example_compiles_with_a_note(tmp_path: Path) -> None:
    user = tmp_path / "guide.yaml"
    user.write_text(f"vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  task_configs: {json.dumps(GUIDE)}\n",
                    encoding="utf-8")
    program = vibench.check(str(user))
    assert [n for n, _, _ in program.root.outputs] == ["classification", "signal_prediction"]
    assert program.root.metadata["task_loss_weights"] == {"classification": 1.0, "signal_prediction": 0.5}
    codes = [(d.code, d.pos.file.endswith("guide.yaml"), d.pos.line) for d in program.warnings]
    assert codes == [("I104", True, 4), ("W106", True, 4)]  # the alias; pred_len, which no head reads


@pytest.mark.parametrize("task,head", [("classification", "H_03_Linear_pred"),
                                       ("signal_prediction", "H_01_Linear_cla")])
def test_a_head_that_does_not_fit_its_task_is_refused_at_the_users_key(tmp_path: Path, task: str, head: str) -> None:
    user = tmp_path / "h03.yaml"
    user.write_text("vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n"
                    f"  task_configs: {{{task}: {{head: {head}}}}}\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(user))
    (d,) = info.value.diagnostics
    assert d.code == "E215" and d.pos.file.endswith("h03.yaml") and head in d.message


LAYOUT = spec_text("""
    vibench: 1
    name: Laid
    params:
      input_dim: 3
      layout: {type: str, default: BLC, choices: [BLC, BCL]}
    inputs: {x: {shape: [B, L, "${input_dim}"], layout: "${layout}"}}
    nodes:
      bcl: {block: transpose, in: x, dim0: 1, dim1: 2, when: "${layout == 'BLC'}"}
      conv: {block: conv1d, in: bcl, out_channels: 4, kernel_size: 1}
    outputs: {y: conv}
""")


@pytest.mark.parametrize("layout,shape", [("BLC", ("B", "L", 3)), ("BCL", ("B", 3, "L"))])
def test_an_input_layout_takes_the_axes_in_the_order_it_names(layout: str, shape: tuple) -> None:
    program = vibench.check(text=LAYOUT, params={"layout": layout})
    assert tuple(str(d) if not isinstance(d, int) else d for d in program.root.inputs[0][1].shape) == shape
    dims = (2, 3, 50) if layout == "BCL" else (2, 50, 3)
    bound = vibench.check(text=LAYOUT, params={"layout": layout}, inputs={"x": dims})
    assert dict(bound.bindings) == {"B": 2, "L": 50}


@pytest.mark.parametrize("change", ['layout: "${layout}"}}', "layout: CBL}}", 'layout: "${3}"}}'])
def test_a_bad_layout_is_a_located_e212(change: str) -> None:
    text = LAYOUT.replace('layout: "${layout}"}}', change)
    if change.startswith('layout: "${layout}"'):
        text = text.replace('shape: [B, L, "${input_dim}"]', "shape: [B, L]")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    assert "E212" in [d.code for d in info.value.diagnostics]
    assert all(d.pos is not None for d in info.value.diagnostics)


PROMISE = spec_text("""
    vibench: 1
    name: Promised
    params: {num_classes: 4}
    inputs: {x: {shape: [B, 3, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, stride: 2}
      pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
      flat: {block: flatten, in: pool}
      fc: {block: linear, in: flat, out_features: "${num_classes}"}
    outputs:
      logits: {from: fc, shape: [B, num_classes]}
      features: {from: conv, shape: [B, 8, T]}     # T: bound by its first use
""")


def test_kept_promises_compile() -> None:
    program = vibench.check(text=PROMISE)
    assert [n for n, _, _ in program.root.outputs] == ["logits", "features"]


@pytest.mark.parametrize("old,new,why", [
    ("shape: [B, num_classes]", "shape: [B, 5]", "dimension 1 is 4, never 5"),
    ("shape: [B, num_classes]", "shape: [B, 1, num_classes]", "rank 2, not 3"),
    ("shape: [B, 8, T]", "shape: [B, 8, L]", "never L"),          # (L - 3) // 2 + 1 is never L
    ("shape: [B, num_classes]", 'shape: [B, "${num_classes * 2}"]', "never 8"),
])
def test_a_broken_promise_is_e308_at_the_promise(old: str, new: str, why: str) -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=PROMISE.replace(old, new))
    (d,) = info.value.diagnostics
    assert d.code == "E308" and why in d.message
    assert d.pos is not None and d.pos.line in (11, 12)


def test_a_promise_that_depends_on_the_input_size_is_not_an_error() -> None:
    text = PROMISE.replace("shape: [B, 8, T]", "shape: [B, 8, 100]")
    assert vibench.check(text=text).root.outputs[1][0] == "features"
