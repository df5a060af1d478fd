"""Real PHM-Vibench configs: lenient sections, required keys, num_classes from metadata, components on
their own, the model guide's keys, and the E220 note on what PHM-Vibench itself can build."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import EXIT_OK, EXIT_USAGE, main
from vibench.compiler.phm_metadata import MetadataError, read_metadata

ISFM_KEYS = """\
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 32
  num_patches: 8
  patch_size_L: 16
  patch_size_C: 1
"""


def write(tmp_path: Path, text: str, name: str = "experiment.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def codes(diagnostics) -> list[str]:
    return [d.code for d in diagnostics]


def check_errors(path: str, **kw) -> list:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path, **kw)
    return list(err.value.diagnostics)


# --------------------------------------------------------------------------------------------
# Sections other than `model:` are read the PyYAML way.


def test_a_repeated_key_outside_the_model_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  normalization: standard\n  normalization: minmax\nmodel:\n" + ISFM_KEYS)
    program = vibench.check(path)
    (w110,) = [w for w in program.warnings if w.code == "W110"]
    assert (w110.pos.line, w110.pos.col, w110.severity) == (3, 3, "warning")
    assert "minmax" in w110.found and w110.notes == ("`normalization` is first written at line 2",)


def test_a_repeated_key_inside_the_model_takes_the_last_value_with_a_warning(tmp_path: Path) -> None:
    # PHM-Vibench builds such a config (PyYAML keeps the last value): so does vibench, and says so.
    path = write(tmp_path, "model:\n" + ISFM_KEYS + "  output_dim: 64\n")
    program = vibench.check(path)
    (diag,) = [w for w in program.warnings if w.code == "W113"]
    assert (diag.pos.line, diag.severity) == (11, "warning")
    assert "`64`" in diag.found and "line 7" in diag.notes[0]
    (tmp_path / "last").mkdir()
    (tmp_path / "first").mkdir()
    last = vibench.check(write(tmp_path / "last", "model:\n" + ISFM_KEYS.replace("output_dim: 32", "output_dim: 64")))
    first = vibench.check(write(tmp_path / "first", "model:\n" + ISFM_KEYS))
    assert program.root.param_count == last.root.param_count != first.root.param_count


def test_a_repeated_model_key_comes_with_the_configs_other_errors(tmp_path: Path) -> None:
    keys = ISFM_KEYS.replace("  num_patches: 8\n", "") + "  output_dim: 64\n"
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(write(tmp_path, "model:\n" + keys))
    assert [d.code for d in err.value.diagnostics] == ["E221", "W113"]


def test_a_repeated_key_in_a_base_model_file_is_w113_without_its_text(tmp_path: Path) -> None:
    # PHM-Vibench builds it with the last value, as a repeat in the experiment's own `model:` (W113).
    (tmp_path / "configs").mkdir()
    (tmp_path / "base.yaml").write_text("model:\n" + ISFM_KEYS + "  output_dim: 48\n")
    path = write(tmp_path, "base_configs: {model: base.yaml}\n")
    (w113,) = [w for w in vibench.check(path).warnings if w.code == "W113"]
    assert (w113.pos.line, w113.pos.col) == (1, 23) and "(line 11, column 3)" in w113.message
    shown = w113.render().replace(str(tmp_path), "TMP")  # pytest's folder may hold the digits (pytest-148)
    assert "48" not in shown and "output_dim" not in shown


def test_a_vibench_spec_keeps_e005_for_any_repeated_key(tmp_path: Path) -> None:
    path = write(tmp_path, "vibench: 1\nextends: cnn/ResNet1D\nwith: {num_classes: 4}\ndata: 1\ndata: 2\n")
    assert codes(check_errors(path)) == ["E005"]


# --------------------------------------------------------------------------------------------
# Keys PHM-Vibench cannot do without.


def test_a_missing_required_key_is_an_error_with_the_value_vibench_would_use(tmp_path: Path) -> None:
    keys = ISFM_KEYS.replace("B_04_Dlinear", "B_08_PatchTST") + "  num_heads: 4\n  d_ff: 64\n  dropout: 0.1\n" \
        "  activation: relu\n  factor: 5\n"
    (diag,) = check_errors(write(tmp_path, "model:\n" + keys))
    assert diag.code == "E221" and diag.pos.line == 1
    assert diag.message == "`e_layers` is missing: PHM-Vibench's B_08_PatchTST cannot be built without it"
    assert "`e_layers: 2`" in diag.found and "add `e_layers: 2`" in diag.hint


def test_a_required_key_vibench_does_not_read_is_only_a_warning(tmp_path: Path) -> None:
    keys = ISFM_KEYS.replace("B_04_Dlinear", "B_08_PatchTST") + "  num_heads: 4\n  d_ff: 64\n  dropout: 0.1\n" \
        "  activation: relu\n  e_layers: 1\n"
    program = vibench.check(write(tmp_path, "model:\n" + keys))
    (w112,) = [w for w in program.warnings if w.code == "W112"]
    assert "`factor` is missing" in w112.message


def test_the_classic_models_need_input_dim_or_the_guides_in_channels(tmp_path: Path) -> None:
    (diag,) = check_errors(write(tmp_path, "model: {type: CNN, name: ResNet1D, num_classes: 4}\n"))
    assert diag.code == "E221" and "`input_dim`" in diag.message
    program = vibench.check(write(tmp_path, "model: {type: CNN, name: ResNet1D, num_classes: 4, in_channels: 3}\n"))
    assert str(program.root.inputs[0][1]) == "[B, L, 3]"


# --------------------------------------------------------------------------------------------
# num_classes: from the metadata table, or a warning when it falls back to a default.


def test_num_classes_falling_back_to_the_default_is_a_warning(tmp_path: Path) -> None:
    program = vibench.check(write(tmp_path, "model:\n" + ISFM_KEYS))
    (w111,) = [w for w in program.warnings if w.code == "W111"]
    assert '{"1": 10}' in w111.message and "`metadata=`" in w111.hint
    assert "W111" not in codes(vibench.check(write(tmp_path, "model:\n" + ISFM_KEYS + "  num_classes: 3\n")).warnings)


METADATA_ROWS = [("Id", "Dataset_id", "Label", "Name"), (1, 1, 0, "a"), (2, 1, 3, "b"), (3, 2, 6, "c"),
                 (4, 2, None, "d"), (5, None, 9, "e")]


def write_csv(tmp_path: Path, rows=METADATA_ROWS, sep: str = ",") -> str:
    path = tmp_path / "metadata.csv"
    path.write_text("\n".join(sep.join("" if v is None else str(v) for v in row) for row in rows) + "\n")
    return str(path)


@pytest.mark.parametrize("sep", [",", "\t"])
def test_metadata_csv_gives_the_factorys_num_classes(tmp_path: Path, sep: str) -> None:
    assert read_metadata(write_csv(tmp_path, sep=sep)).num_classes == {"1": 4, "2": 7}


def test_metadata_xlsx_gives_the_factorys_num_classes(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in METADATA_ROWS:
        book.active.append(list(row))
    book.save(tmp_path / "metadata.xlsx")
    assert read_metadata(str(tmp_path / "metadata.xlsx")).num_classes == {"1": 4, "2": 7}


def test_a_workbook_that_unpacks_beyond_the_limit_is_refused_unread(tmp_path: Path, monkeypatch) -> None:
    """A .xlsx is a zip: a small file may unpack to gigabytes of sheet XML (0.7 MiB to 222 MB took a
    minute and 500 MB). Its recorded unpacked size is checked before openpyxl reads a row."""
    import zipfile

    from vibench.compiler import phm_metadata

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in METADATA_ROWS:
        book.active.append(list(row))
    path = tmp_path / "metadata.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    monkeypatch.setattr(phm_metadata, "MAX_METADATA_BYTES", unpacked - 1)
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("the workbook was read"))
    with pytest.raises(MetadataError, match=f"unpacks to {unpacked:,} bytes"):
        read_metadata(str(path))


def test_a_workbook_with_more_rows_than_excel_allows_is_refused(tmp_path: Path, monkeypatch) -> None:
    from vibench.compiler import phm_metadata

    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in METADATA_ROWS:
        book.active.append(list(row))
    book.save(tmp_path / "metadata.xlsx")
    monkeypatch.setattr(phm_metadata, "MAX_WORKBOOK_ROWS", len(METADATA_ROWS) - 2)
    with pytest.raises(MetadataError, match="has more than"):
        read_metadata(str(tmp_path / "metadata.xlsx"))


@pytest.mark.parametrize("rows", [[("Id", "Label"), (1, 2)], [("Dataset_id", "Label"), (1, "x")]])
def test_a_metadata_table_without_labels_is_refused(tmp_path: Path, rows) -> None:
    with pytest.raises(MetadataError):
        read_metadata(write_csv(tmp_path, rows))


def test_metadata_replaces_the_configs_num_classes_as_the_factory_does(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n" + ISFM_KEYS + "  num_classes: 3\n")
    program = vibench.check(path, metadata=read_metadata(write_csv(tmp_path)))
    (note,) = [w for w in program.warnings if w.code == "I103"]
    assert note.severity == "note" and "replaces the config's `num_classes: 3`" in note.message
    assert str(program.root.outputs[0][2]) == "[B, 7]"


def test_one_system_of_metadata_gives_an_int_to_a_single_classifier(tmp_path: Path) -> None:
    rows = [("Dataset_id", "Label"), (5, 0), (5, 2)]
    path = write(tmp_path, "model: {type: CNN, name: ResNet1D, input_dim: 1}\n")
    program = vibench.check(path, metadata=read_metadata(write_csv(tmp_path, rows)))
    assert str(program.root.outputs[0][2]) == "[B, 3]"
    (diag,) = check_errors(path, metadata=read_metadata(write_csv(tmp_path)))
    assert diag.code == "E202" and "2 systems" in diag.message


def test_a_refused_num_classes_from_metadata_names_the_table(tmp_path: Path) -> None:
    # E208 pointed at the config's `num_classes: 4` with "found: -4", nothing naming the table's labels.
    path = write(tmp_path, "model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 4}\n")
    table = write_csv(tmp_path, [("Dataset_id", "Label"), (1, -5)])
    (diag,) = check_errors(path, metadata=read_metadata(table))
    assert diag.code == "E208" and diag.found == "-4"
    assert diag.notes == (f"the value is max(Label) + 1 per Dataset_id of the metadata table {table} (`metadata=`)",)


def test_cli_metadata_and_the_regenerate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "model:\n" + ISFM_KEYS)
    out = tmp_path / "model.py"
    assert main([path, "-o", str(out), "--metadata", write_csv(tmp_path)]) == EXIT_OK
    assert "--set 'num_classes={\"1\":4,\"2\":7}'" in out.read_text()
    assert "note[I103]" in capsys.readouterr().err
    assert main([path, "--check", "--metadata", str(tmp_path / "missing.csv")]) == EXIT_USAGE


# --------------------------------------------------------------------------------------------
# Components on their own; keys the reference ignores are W101 on every route.


@pytest.mark.parametrize("name, template", [("E_01_HSE", "isfm/embedding/E_01_HSE"),
                                            ("B_08_PatchTST", "isfm/backbone/B_08_PatchTST"),
                                            ("H_01_Linear_cla", "isfm/task_head/H_01_Linear_cla")])
def test_an_isfm_component_compiles_on_its_own(tmp_path: Path, name: str, template: str) -> None:
    path = write(tmp_path, f"model:\n  type: ISFM\n  name: {name}\n  output_dim: 32\n  num_patches: 8\n"
                 "  patch_size_L: 16\n  patch_size_C: 1\n  num_heads: 4\n  e_layers: 1\n  d_ff: 64\n  dropout: 0.1\n"
                 "  activation: relu\n  factor: 5\n  num_classes: 4\n")
    program = vibench.check(path)
    (note,) = [w for w in program.warnings if w.code == "I102"]
    assert f"`{template}`" in note.message and note.pos.line == 3


def test_ignored_keys_are_w101_through_extends_and_set(tmp_path: Path) -> None:
    path = write(tmp_path, "vibench: 1\nextends: isfm/backbone/B_08_PatchTST\nwith: {factor: 5}\n", "spec.yaml")
    (w101,) = vibench.check(path).warnings
    assert (w101.code, w101.pos.line, w101.pos.col) == ("W101", 3, 8)
    program = vibench.check("isfm/backbone/B_08_PatchTST", params={"factor": 5})
    assert codes(program.warnings) == ["W101"]


def test_the_isfm_heads_take_pooled_features_like_the_reference() -> None:
    import torch

    ids = torch.tensor([1, 2, 1])
    pooled = vibench.build("isfm/task_head/H_01_Linear_cla", pooled_input=True, num_classes={"1": 4, "2": 7}).eval()
    tokens = vibench.build("isfm/task_head/H_01_Linear_cla", num_classes={"1": 4, "2": 7}).eval()
    tokens.load_state_dict(pooled.state_dict())
    x = torch.randn(3, 5, 128)
    assert torch.allclose(pooled(x.mean(1), ids), tokens(x, ids))
    rul = vibench.build("isfm/task_head/MultiTaskHead", pooled_input=True, task_id="rul_prediction").eval()
    assert rul(torch.randn(3, 128)).shape == (3, 1)
    with pytest.raises(vibench.SpecError, match="pooled_input needs a task_id without signal prediction"):
        vibench.check("isfm/task_head/MultiTaskHead", params={"pooled_input": True})


# --------------------------------------------------------------------------------------------
# The model guide's keys.


@pytest.mark.parametrize("depth, block_type, layers", [(18, "basic", [2, 2, 2, 2]), (34, "basic", [3, 4, 6, 3]),
                                                       (50, "bottleneck", [3, 4, 6, 3]),
                                                       (101, "bottleneck", [3, 4, 23, 3]),
                                                       (152, "bottleneck", [3, 8, 36, 3])])
def test_resnet_depth_is_the_standard_layout(tmp_path: Path, depth: int, block_type: str, layers: list[int]) -> None:
    path = write(tmp_path, f"model: {{type: CNN, name: ResNet1D, depth: {depth}, in_channels: 1, num_classes: 10}}\n")
    program = vibench.check(path)
    values = dict(program.root.params)
    assert (values["block_type"], values["layers"], values["input_dim"]) == (block_type, layers, 1)
    notes = [w for w in program.warnings if w.code == "I101"]
    assert len(notes) == 2 and all(n.severity == "note" and "vibench extension" in n.message for n in notes)
    assert not [w for w in program.warnings if w.code == "W103"]


def test_the_guides_resnet_example_compiles_with_notes_and_reasons(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        model:
          name: "ResNet1D"
          type: "CNN"
          depth: 18
          in_channels: 1
          num_classes: 10
          dropout: 0.2
          activation: "relu"
        """)
    program = vibench.check(path)
    found = {(w.code, w.pos.line) for w in program.warnings}
    assert found == {("I101", 4), ("I101", 5), ("W101", 7), ("W101", 8)}
    assert all("initial_channels" not in (w.hint or "") for w in program.warnings)


@pytest.mark.parametrize("template, alias, target, value", [
    ("RNN/AttentionLSTM", "hidden_size", "hidden_dim", 32),
    ("Transformer/PatchTST", "patch_len", "patch_size", 8),
])
def test_the_guides_aliases(tmp_path: Path, template: str, alias: str, target: str, value: int) -> None:
    kind, name = template.split("/")
    path = write(tmp_path, f"model: {{type: {kind}, name: {name}, input_dim: 1, num_classes: 3, {alias}: {value}}}\n")
    program = vibench.check(path)
    assert dict(program.root.params)[target] == value
    assert [w.code for w in program.warnings if w.code in ("I101", "W103")] == ["I101"]


def test_the_guides_task_names(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n" + ISFM_KEYS.replace("B_04_Dlinear", "B_08_PatchTST") + """\
  num_heads: 4
  e_layers: 1
  d_ff: 64
  dropout: 0.1
  activation: relu
  factor: 5
  num_classes: 4
  task_configs:
    classification: {loss_weight: 1.0}
    regression: {loss_weight: 0.3}
""")
    program = vibench.check(path)
    assert [name for name, *_ in program.root.outputs] == ["classification", "rul_prediction"]
    (note,) = [w for w in program.warnings if w.code == "I101"]
    assert "`regression`" in note.message and note.pos.line == 20


@pytest.mark.parametrize("keys, message", [
    ("depth: 50, block_type: basic", "contradicts `block_type: 'basic'`"),
    ("depth: 20", "standard ResNet depth"),
    ("input_dim: 2, in_channels: 1", "`in_channels: 1` contradicts `input_dim: 2`"),
])
def test_guide_keys_that_contradict_are_e222(tmp_path: Path, keys: str, message: str) -> None:
    found = check_errors(write(tmp_path, f"model: {{type: CNN, name: ResNet1D, input_dim: 1, {keys}}}\n"
                               .replace("input_dim: 1, input_dim", "input_dim")))
    assert codes(found) == ["E222"] and message in found[0].message


# --------------------------------------------------------------------------------------------
# E220 says whether PHM-Vibench could build the model.


@pytest.mark.parametrize("kind, name, note, hint", [
    ("M_01_ISFM", "Dlinear_Baseline", "PHM-Vibench has no model type `M_01_ISFM` either", "write `type: ISFM`"),
    ("FewShot", "ProtoNet", "PHM-Vibench has no model type `FewShot` either", None),
    ("Transformer", "Transformer_Simple", "there is no `src/model_factory/Transformer/Transformer_Simple.py`", None),
])
def test_e220_names_why_phm_vibench_cannot_build_it_either(tmp_path: Path, kind, name, note, hint) -> None:
    (diag,) = check_errors(write(tmp_path, f"model: {{type: {kind}, name: {name}}}\n"))
    assert diag.code == "E220" and note in diag.notes[0]
    assert hint is None or hint in diag.hint


def test_cli_json_reports_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "model: {type: CNN, name: ResNet1D, depth: 18, in_channels: 1, num_classes: 4}\n")
    assert main([path, "--check", "--format", "json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert [w["severity"] for w in report["warnings"]] == ["note", "note"]
    assert os.path.exists(path)


@pytest.mark.parametrize("extra, shown", [
    ("  num_patches: 32\n", "vibench would use `seq_len: 32` (`B_07_TSMixer`'s default `${num_patches}`)"),
    ("", "vibench computes it (`B_07_TSMixer`'s default is `${num_patches}`)"),
])
def test_e221_shows_the_value_of_a_computed_default_or_its_expression(extra: str, shown: str) -> None:
    text = ("model:\n  type: ISFM\n  name: M_01_ISFM\n  embedding: E_01_HSE\n  task_head: H_01_Linear_cla\n"
            "  backbone: B_07_TSMixer\n" + extra)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    [d] = [d for d in err.value.diagnostics if d.code == "E221" and "`seq_len`" in d.message]
    assert d.found == "no `seq_len`; " + shown
    assert "Template(" not in str(err.value)
