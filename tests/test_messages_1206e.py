"""Messages of 12-06's fourth pass: a PHM config's `name: [ResNet1D]` is "must be a name" at the value (it said
the section "needs `type` and `name`", at `model:`), and the closing count says notes are notes ("1 error and
1 warning" counted an I104 note)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import main


@pytest.mark.parametrize(("section", "key", "line", "col"), [
    ("  type: CNN\n  name: [ResNet1D]\n", "name", 3, 9),
    ("  type: {a: 1}\n  name: ResNet1D\n", "type", 2, 9),
])
def test_a_model_type_or_name_that_is_no_string_is_refused_at_its_value(
        tmp_path: Path, section: str, key: str, line: int, col: int) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n" + section + "  num_classes: 3\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = info.value.diagnostics
    assert (d.code, d.message) == ("E103", f"`{key}` of the `model:` section must be a name")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (line, col)


def test_a_missing_name_is_still_said_missing(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n  type: CNN\n  num_classes: 3\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = info.value.diagnostics
    assert d.message == "the `model:` section needs `name` beside its `type`"
    assert d.found == "`type: CNN` and no `name`" and d.hint is not None and "`ResNet1D`" in d.hint


@pytest.mark.parametrize(("name", "hint"), [("M_01_ISFM", "write `type: ISFM` (PHM-Vibench's `M_01_ISFM` is of type "
                                                          "`ISFM`)"),
                                            ("M_02_ISFM_Prompt", "write `type: ISFM_Prompt`"),
                                            ("Foo", "write the model's family, one of `CNN`")])
def test_a_missing_type_is_said_missing_with_the_type_of_the_name(tmp_path: Path, name: str, hint: str) -> None:
    """A section with `name` and no `type` was asked for both ("needs `type` and `name`"), with no fix (1207f)."""
    config = tmp_path / "experiment.yaml"
    config.write_text(f"model:\n  name: {name}\n  num_classes: 3\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(config))
    (d,) = info.value.diagnostics
    assert (d.code, d.message) == ("E103", "the `model:` section needs `type` beside its `name`")
    assert d.found == f"`name: {name}` and no `type`" and d.hint is not None and d.hint.startswith(hint), d.hint


def test_the_closing_count_names_notes_as_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nname: M\nparams: {m: 2, w: 0}\n"
                    "checks:\n  - {that: '${m != 2}', message: m is two, at: m, severity: note}\n"
                    "  - {that: '${m > 5}', message: m is small, at: m, severity: warning}\n"
                    "inputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 0}}\n"
                    "outputs: {y: fc}\n", encoding="utf-8")
    assert main([str(spec), "--check"]) == 1
    err = capsys.readouterr().err
    assert err.rstrip().splitlines()[-1].startswith("1 error, 2 warnings and 1 note in ")


@pytest.mark.parametrize("link", ["dangling", "loop"])
def test_a_spec_that_is_a_link_to_no_file_is_said_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      link: str) -> None:
    spec = tmp_path / "spec.yaml"
    if link == "dangling":
        spec.symlink_to(tmp_path / "gone.yaml")
    else:
        (tmp_path / "other.yaml").symlink_to(spec)
        spec.symlink_to(tmp_path / "other.yaml")
    assert main([str(spec), "--check"]) == 2
    err = capsys.readouterr().err
    assert "no such spec file" not in err
    assert ("dangling symbolic link" if link == "dangling" else "leads round in a loop") in err


def test_a_boolean_for_text_gets_the_yaml_words_hint(tmp_path: Path) -> None:
    """`--set act=yes` is True: E202 says how YAML read the word (as a spec's own `act: yes` does)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nname: M\nparams: {act: {type: str, default: relu}}\ninputs: {x: {shape: [B, 4]}}\n"
                    "nodes: {a: {block: '${act}', in: x}}\noutputs: {y: a}\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec), params={"act": True})
    d = info.value.diagnostics[0]
    assert d.code == "E202" and d.hint is not None and "quote the word" in d.hint
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec), params={"act": 3})
    assert info.value.diagnostics[0].hint is None


def test_no_yaml_words_hint_where_text_is_refused_too(tmp_path: Path) -> None:
    """`num_classes: yes` for an `int | dict[str, int]`: quoting would give text, refused as well."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nname: M\nparams: {n: {type: 'int | dict[str, int]', default: 2}}\n"
                    "inputs: {x: {shape: [B, 4]}}\nnodes: {a: {block: linear, in: x, out_features: 2}}\n"
                    "outputs: {y: a}\nmetadata: {n: '${n}'}\n", encoding="utf-8")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec), params={"n": True})
    d = info.value.diagnostics[0]
    assert d.code == "E202" and d.hint is None


def test_summary_cells_are_cut_at_200_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A length pooled and joined layer after layer writes a formula of thousands of columns: the table cuts
    its cells (every row was padded to the widest), the JSON report keeps them whole."""
    from vibench.compiler.report import MAX_CELL

    nodes, prev = [], "x"
    for i in range(6):
        nodes += [f"  p{i}: {{block: max_pool1d, in: {prev}, kernel_size: 3, stride: 3}}",
                  f"  c{i}: {{block: concat, in: [{prev}, p{i}], dim: 2}}"]
        prev = f"c{i}"
    spec = tmp_path / "long.yaml"
    spec.write_text("vibench: 1\nname: Long\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n" + "\n".join(nodes)
                    + f"\noutputs: {{y: {prev}}}\n", encoding="utf-8")
    assert main([str(spec), "--check", "--summary"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("\nnode "):].splitlines()[1:]
    assert any(line.rstrip().endswith("...") for line in table)
    widest = max(len(line) for line in table if not line.startswith("total FLOPs"))
    assert widest <= 2 * MAX_CELL + 60  # shape and FLOPs cells, and the short ones
    assert main([str(spec), "--check", "--summary", "--format", "json"]) == 0
    assert "..." not in capsys.readouterr().out
