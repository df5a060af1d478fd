"""YAML 1.1's octal and base-60 numbers refused where written (and in `--set`); `--metadata` with a vibench
spec reduced to one class count for one classifier as for a PHM-Vibench config; metadata rows skipped for a
`Label` or `Dataset_id` that is no integer said (W116)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import EXIT_OK, EXIT_USAGE, main
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.load import load_text
from vibench.compiler.phm_metadata import SkippedRows, read_metadata

ROOT = Path(__file__).resolve().parents[1]

TINY = """\
vibench: 1
name: Tiny
inputs:
  x: {shape: [B, 4]}
nodes:
  fc: {block: linear, in: x, out_features: VALUE}
outputs:
  y: fc
"""


def load_error(text: str, file: str = "spec.yaml"):
    with pytest.raises(SpecError) as info:
        load_text(text, file)
    (diag,) = info.value.diagnostics
    return diag


# -- YAML 1.1 numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "read", "write"), [
    ("010", "octal number 8", "write 10 (or 8, if the octal number is meant)"),
    ("+010", "octal number 8", "write 10 (or 8"),
    ("-010", "octal number -8", "write -10 (or -8"),
    ("0_10", "octal number 8", "write 10 (or 8"),
    ("08", "no integer", "write 8, or quote it"),
])
def test_a_leading_zero_is_refused_where_it_is_written(written: str, read: str, write: str) -> None:
    diag = load_error(f"vibench: 1\nn: {written}\n")
    assert diag.code == "E001" and (diag.pos.file, diag.pos.line, diag.pos.col) == ("spec.yaml", 2, 4)
    assert f"`{written}` has a leading zero" in diag.message and read in diag.message
    assert diag.expected == "a decimal integer without a leading zero"
    assert write in diag.hint and f'quote it (`"{written}"`)' in diag.hint


@pytest.mark.parametrize(("written", "value"), [("1:30", "90"), ("1:30.5", "90.5"), ("-1:30", "-90"),
                                                ("1:2:3", "3723")])
def test_a_base_60_number_is_refused_where_it_is_written(written: str, value: str) -> None:
    diag = load_error(f"a: [1, {written}]\n")
    assert diag.code == "E001" and (diag.pos.line, diag.pos.col) == (1, 8)
    assert diag.message == f"`{written}` is a base-60 number in YAML 1.1"
    assert f"YAML 1.1 reads in base 60 as {value}" in diag.found and f"write {value} if" in diag.hint


def test_a_tagged_int_and_a_key_are_refused_too() -> None:
    assert "octal number 8" in load_error("n: !!int 010\n").message
    diag = load_error("010: x\n")
    assert diag.code == "E001" and (diag.pos.line, diag.pos.col) == (1, 1)


@pytest.mark.parametrize(("written", "value"), [
    ("0", 0), ("10", 10), ("-3", -3), ("-0", 0), ("1e3", 1000.0), ("1_000", 1000), ("0x10", 16), ("0b10", 2),
    ("0o10", "0o10"), ('"010"', "010"), ("'1:30'", "1:30"), ("010.5", 10.5), ("0.5", 0.5), ("!!float 010", 10.0),
    ("1:x", "1:x"), ("12:70", "12:70"), ("00", 0), ("07", 7), ("-07", -7),  # the same number for every reader
])
def test_numbers_that_read_alike_everywhere_still_load(written: str, value: object) -> None:
    assert load_text(f"n: {written}\n").data == {"n": value}


def test_a_node_value_in_base_60_is_located(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.replace("VALUE", "1:30"))
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    (diag,) = info.value.diagnostics
    assert diag.code == "E001" and (diag.pos.line, diag.pos.col) == (6, 44) and "write 90" in diag.hint
    assert "^^^^ expected a number written in decimal" in diag.render(info.value.sources)


def test_a_json_spec_follows_json(tmp_path: Path) -> None:
    spec = ('{"vibench": 1, "name": "TinyJ",\n "params": {"n": {"type": "int", "default": VALUE}},\n'
            ' "inputs": {"x": {"shape": ["B", 4]}},\n'
            ' "nodes": {"fc": {"block": "linear", "in": "x", "out_features": "n"}}, "outputs": {"y": "fc"}}\n')
    path = tmp_path / "tiny.json"
    path.write_text(spec.replace("VALUE", "010"))
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    (diag,) = info.value.diagnostics
    assert diag.code == "E001" and (diag.pos.line, diag.pos.col) == (2, 45)
    assert diag.found.startswith("`010`: JSON has no leading zero") and "write 10" in diag.hint
    path.write_text(spec.replace("VALUE", "07"))  # not JSON, although YAML 1.1 reads 7 too
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    assert info.value.diagnostics[0].found.startswith("`07`: JSON has no leading zero")
    assert info.value.diagnostics[0].hint.startswith("write 7, or quote it")
    path.write_text(spec.replace("VALUE", "01.5"))
    with pytest.raises(SpecError) as info:
        vibench.check(str(path))
    (diag,) = info.value.diagnostics
    assert diag.message == "`01.5` is not a JSON number: it has a leading zero" and "write 1.5," in diag.hint
    assert load_text("n: 01.5\n", "spec.yaml").data == {"n": 1.5}  # YAML reads the number meant
    path.write_text(spec.replace("VALUE", "10"))
    assert str(vibench.check(str(path)).root.outputs[0][2]) == "[B, 10]"


@pytest.mark.parametrize(("value", "says"), [
    ("010", "--set num_classes: cannot read `010` as a value: `010` has a leading zero: YAML 1.1 reads it as the "
            "octal number 8; write 10 (or 8, if the octal number is meant)"),
    ("1:30", "--set num_classes: cannot read `1:30` as a value: `1:30` is a base-60 number in YAML 1.1; write 90 "
             "if that number is meant"),
    ("[1, 08]", "--set num_classes: cannot read `[1, 08]` as a value: `08` has a leading zero"),
])
def test_a_set_value_in_yaml_1_1_numbers_is_a_usage_error(value: str, says: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cnn/ResNet1D", "--check", "--set", f"num_classes={value}"]) == EXIT_USAGE
    assert says in capsys.readouterr().err


def test_a_plain_set_value_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cnn/ResNet1D", "--check", "--set", "num_classes=10"]) == EXIT_OK
    assert "[B, 10]" in capsys.readouterr().out


# -- --metadata with a vibench spec ---------------------------------------------------------------------


def table(tmp_path: Path, text: str, name: str = "m.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_single_system_table_gives_one_classifier_its_count(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = table(tmp_path, "Id,Dataset_id,Label\n1,1,0\n2,1,5\n")
    program = vibench.check("cnn/ResNet1D", metadata=path)
    assert str(program.root.outputs[0][2]) == "[B, 6]" and program.source.overrides == (("num_classes", "6"),)
    assert main(["cnn/ResNet1D", "--check", "--metadata", path]) == EXIT_OK
    assert "[B, 6]" in capsys.readouterr().out


def test_a_table_of_several_systems_for_one_classifier_is_e202_at_the_declaration(tmp_path: Path) -> None:
    path = table(tmp_path, "Dataset_id,Label\n1,2\n2,4\n")
    with pytest.raises(SpecError) as info:
        vibench.check("cnn/ResNet1D", metadata=path)
    (diag,) = info.value.diagnostics
    assert diag.code == "E202" and diag.message == "`ResNet1D` has one classifier, but the metadata table has 2 systems"
    assert (diag.pos.file, diag.pos.line, diag.pos.col) == ("vibench/specs/cnn/ResNet1D.yaml", 19, 3)
    assert diag.found == f'{{"1": 3, "2": 5}} from {path}' and "pass `num_classes=N`" in diag.hint
    assert any("metadata table" in n for n in diag.notes)
    assert "num_classes: {type:" in diag.render(info.value.sources)


def test_per_system_heads_keep_the_mapping(tmp_path: Path) -> None:
    one = vibench.check("isfm/M_01_ISFM", metadata=table(tmp_path, "Dataset_id,Label\n1,0\n1,5\n"))
    assert one.source.overrides == (("num_classes", '{"1":6}'),)
    two = vibench.check("isfm/M_01_ISFM", metadata=table(tmp_path, "Dataset_id,Label\n1,2\n2,4\n", "two.csv"))
    assert two.source.overrides == (("num_classes", '{"1":3,"2":5}'),)


def test_a_set_num_classes_wins_over_the_table(tmp_path: Path) -> None:
    path = table(tmp_path, "Dataset_id,Label\n1,2\n2,4\n")
    program = vibench.check("cnn/ResNet1D", metadata=path, params={"num_classes": 4})
    assert str(program.root.outputs[0][2]) == "[B, 4]"


# -- rows skipped: W116 ---------------------------------------------------------------------------------


def test_skipped_rows_are_counted_with_the_first_ones_line(tmp_path: Path) -> None:
    rows = 'Dataset_id,Label,Doc\n1,2,"two\nlines"\n1,4.5,x\n1.5,3,x\nx,3,x\n1,abc,x\n'  # a quoted line break
    metadata = read_metadata(table(tmp_path, rows))
    assert metadata.num_classes == {"1": 3}
    assert metadata.skipped == SkippedRows(4, 4, "Label", "4.5")
    unlabelled = read_metadata(table(tmp_path, "Dataset_id,Label\n1,2\n1,\n1,n/a\n1,NaN\n,3\n", "na.csv"))
    assert unlabelled.num_classes == {"1": 3} and unlabelled.skipped is None


def test_a_fractional_label_is_w116_with_a_phm_config(tmp_path: Path) -> None:
    frac = table(tmp_path, "Dataset_id,Label\n1,2\n1,4.5\n", "frac.csv")
    config = tmp_path / "experiment.yaml"
    config.write_text("model: {type: CNN, name: ResNet1D, input_dim: 1}\n")
    program = vibench.check(str(config), metadata=frac)
    (warning,) = [w for w in program.warnings if w.code == "W116"]
    assert warning.severity == "warning" and (warning.pos.file, warning.pos.line, warning.pos.col) == (frac, 3, 1)
    assert warning.message == (f"1 row of the metadata table {frac} skipped: a `Label` or `Dataset_id` that is no "
                               "integer")
    assert warning.found == "line 3, the first: `Label` '4.5', not an integer (the class index)"
    assert str(program.root.outputs[0][2]) == "[B, 3]"


def test_a_fractional_dataset_id_is_w116_with_a_vibench_spec(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    frac = table(tmp_path, "Dataset_id,Label\n1,2\n2.5,4\n2.5,1\n", "frac.csv")
    program = vibench.check("cnn/ResNet1D", metadata=frac)
    (warning,) = [w for w in program.warnings if w.code == "W116"]
    assert warning.message.startswith("2 rows of the metadata table") and warning.pos.line == 3
    assert "`Dataset_id` '2.5'" in warning.found
    assert main(["cnn/ResNet1D", "--check", "--metadata", frac]) == EXIT_OK
    assert f"warning[W116]: 2 rows of the metadata table {frac} skipped" in capsys.readouterr().err


def test_a_workbook_names_the_row(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in [("Dataset_id", "Label"), (1, 2), (1, None), (1, 2.5)]:
        book.active.append(list(row))
    book.save(tmp_path / "m.xlsx")
    assert read_metadata(str(tmp_path / "m.xlsx")).skipped == SkippedRows(1, 4, "Label", "2.5")


def test_w116_is_documented() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert re.search(r"^## W116 — ", doc, flags=re.M)
