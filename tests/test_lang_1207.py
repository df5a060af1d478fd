"""Language fixes (QA pass 1207): the axis roles of `for_each` copies, where a key a node's `with:` expression
adds is located, and which unit a template's check belongs to in a spec that extends it."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from tests.conftest import spec_text
from vibench.compiler.diagnostics import Diagnostic

# -- W107: the copies of a `for_each` node sit side by side, they are no chain -----------------------------------

TRANSPOSES = spec_text("""
    vibench: 1
    name: R
    inputs: {x: {shape: [B, 128, 4], layout: BLC}}
    nodes:
      t: {block: transpose, in: x, dim0: 1, dim1: 2, for_each: [a, b]}
      s: {block: add, in: t}
      conv: {block: conv1d, in: s, out_channels: 8, kernel_size: 3}
    outputs: {y: conv}
""")


def _w107(text: str) -> list[Diagnostic]:
    return [d for d in vibench.check(text=text).warnings if d.code == "W107"]


def test_each_copy_of_a_for_each_transpose_swaps_the_input_once() -> None:
    # every copy makes [B, C, L] of the [B, L, C] input: the conv reads channels (it was taken as two swaps)
    assert _w107(TRANSPOSES) == []
    wrong = TRANSPOSES.replace("[B, 128, 4], layout: BLC", "[B, 4, 128], layout: BCL")
    (d,) = _w107(wrong)  # every copy makes [B, L, C]: the conv reads its channels from time
    assert d.node == "conv" and "time axis" in d.message


def test_copies_that_disagree_give_the_list_no_roles_and_each_port_its_own() -> None:
    text = spec_text("""
        vibench: 1
        name: R
        inputs: {x: {shape: [B, 64, 64], layout: BLC}}
        nodes:
          t: {block: permute, in: x, dims: "${item}", for_each: [[0, 2, 1], [0, 1, 2]]}
          s: {block: add, in: t}
          whole: {block: conv1d, in: s, out_channels: 8, kernel_size: 3}
          kept: {block: conv1d, in: t.1, out_channels: 8, kernel_size: 3}
          swapped: {block: conv1d, in: t.0, out_channels: 8, kernel_size: 3}
        outputs: {y: whole, z: kept, w: swapped}
    """)
    assert [d.node for d in _w107(text)] == ["kept"]  # the list's axes are unknown: `whole` is not warned about


def test_copies_making_one_mistake_are_one_warning() -> None:
    text = spec_text("""
        vibench: 1
        name: R
        inputs: {x: {shape: [B, 128, 4], layout: BLC}}
        nodes:
          c: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, for_each: [a, b, c]}
          s: {block: add, in: c}
        outputs: {y: s}
    """)
    assert [d.node for d in _w107(text)] == ["c"]


# -- E112: a key a node's `with:` expression adds is located at that `with:` -------------------------------------

MERGED = spec_text("""
    vibench: 1
    name: Nw
    params:
      cfg: {type: "dict[str, any]", default: {out_features: 8}}
    inputs: {x: {shape: [B, 16]}}
    nodes:
      c: {block: linear, in: x, with: "${merge(cfg, dict([['bias', 'yes']]))}"}
    outputs: {y: c}
""")


def _error(text: str) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


def _line(text: str, needle: str) -> int:
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_key_the_with_expression_adds_is_located_at_the_with() -> None:
    d = _error(MERGED)
    assert d.code == "E112" and "`bias`" in d.message
    assert d.pos is not None and d.pos.line == _line(MERGED, "c: {block")  # not `cfg`'s declaration


def test_a_key_the_parameter_holds_is_still_located_at_the_parameter() -> None:
    held = MERGED.replace("{out_features: 8}}", "{out_features: 8, bias: 'yes'}}").replace(
        "[['bias', 'yes']]", "[['out_features', 8]]")
    d = _error(held)
    assert d.code == "E112" and "`bias`" in d.message
    assert d.pos is not None and d.pos.line == _line(held, "cfg: {type")


def test_a_key_the_with_expression_changes_is_located_at_the_with() -> None:
    changed = MERGED.replace("{out_features: 8}}", "{out_features: 8, bias: true}}")
    d = _error(changed)
    assert d.code == "E112" and d.pos is not None and d.pos.line == _line(changed, "c: {block")


def test_an_entry_a_for_each_copy_reads_is_still_located_at_the_parameter() -> None:
    text = spec_text("""
        vibench: 1
        name: Nw
        params:
          cfgs: {type: "dict[str, any]", default: {a: {out_features: 8}, b: {out_features: 8, bias: 'yes'}}}
        inputs: {x: {shape: [B, 16]}}
        nodes:
          c: {block: linear, in: x, for_each: "${cfgs}", with: "${cfgs[key]}"}
        outputs: {y: c.0}
    """)
    d = _error(text)
    assert d.code == "E112" and d.pos is not None and d.pos.line == _line(text, "cfgs: {type")


# -- E211/E215: a template's check is the template's in a spec that extends it ----------------------------------

HEAD = spec_text("""
    vibench: 1
    name: Head
    params:
      num_classes: {type: "int | dict[str, int]", default: 4}
    let:
      counts: "${[num_classes[k] for k in keys(num_classes)] if is_mapping(num_classes) else [num_classes]}"
      widest: "${max(counts)}"
    checks:
      - that: "${min(counts) == max(counts)}"
        message: "every system needs the same class count"
        at: num_classes
      - that: "${widest}"
        message: "truthy number"
    inputs: {x: {shape: [B, 64]}}
    nodes:
      head: {block: linear, in: x, out_features: "${widest}"}
    outputs: {logits: head}
""")


def _extending(tmp_path: Path, name: str, extends: str, classes: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"vibench: 1\nname: {name}\nextends: {extends}\nwith:\n  num_classes: {classes}\n")
    return path


def test_a_template_s_checks_name_the_template_in_a_spec_that_extends_it(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "Head.yaml").write_text(HEAD)
    use = _extending(tmp_path, "Use", "lib/Head", "{a: 3, b: 4}")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(use))
    by_code = {d.code: d for d in info.value.diagnostics}
    assert by_code["E211"].message == "a check of `Head` must give true or false"
    assert by_code["E215"].notes[0].startswith("checked by Head at ")
    # through a chain of `extends:`, still the template that wrote it
    again = _extending(tmp_path, "Again", "./Use", "{a: 3, b: 5}")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(again))
    by_code = {d.code: d for d in info.value.diagnostics}
    assert by_code["E211"].message == "a check of `Head` must give true or false"
    assert by_code["E215"].notes[0].startswith("checked by Head at ")


def test_the_values_a_with_reads_are_indexed_once_and_bounded() -> None:
    """The keys a `with:` expression's inputs set are gathered once per node, at most MAX_SETTINGS entries: a key
    looked up by walking every value read whole took 29 s for 2,000 keys beside a 90,000-item list."""
    from vibench.compiler.node_values import MAX_SETTINGS, _settings

    rows = [{"k": i} for i in range(5 * MAX_SETTINGS)]
    settings = _settings([rows, {"out_features": 8, "nested": {"bias": True}}])
    assert 0 < len(settings["k"]) <= MAX_SETTINGS
    assert "out_features" not in settings  # the budget was spent on the first value read
    assert _settings([{"out_features": 8, "nested": {"bias": True}}]) == {
        "out_features": [8], "nested": [{"bias": True}], "bias": [True]}
