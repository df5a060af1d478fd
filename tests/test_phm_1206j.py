"""PHM-Vibench configs and metadata tables that vibench read wrongly, slowly or with a traceback (QA 1206j).

* A CSV cell whose quote is never closed swallowed every later row (`num_classes` 1 for a table of 9 classes):
  refused naming the line the quote opens on.
* A table that cannot be read (/proc/self/mem: EIO; a workbook member that fails its CRC) was an internal error:
  a MetadataError, and on the command line a usage error.
* A table of 50,000 systems took 14 s and ended in an E204 about an expression's steps: E202 at once, naming the
  table, its count and the most a value given from outside a file holds (the same as `--set`'s).
* A workbook's rows are read only as wide as `Dataset_id` and `Label` need (a sheet declaring A1:XFD1048576 made
  16,384 cells a row: 135 s).
* In a config without `base_configs`, an error inside `task_configs` stood at `task_configs:`, not at the key.
* W113 for a key written three times said it was first written at its second line.
* A base config named by an absolute path, or one starting with `~`, is E205 (said so in docs/phm.md).
* E220 for a look-alike name (a Cyrillic `е`) says which character is not ASCII.
* A given `layers` that is an array is E202 (its type), not E222 (a contradiction of `depth`).
* `--set task_configs={}` is E208 in the PHM layer, as a written `task_configs: {}` is, not the template's E211.
"""

from __future__ import annotations

import json
import os
import textwrap
import zipfile
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli, phm_metadata
from vibench.compiler.phm_checks import MAX_SYSTEMS
from vibench.compiler.phm_metadata import MetadataError, read_metadata

RESNET = """\
model:
  type: CNN
  name: ResNet1D
  input_dim: 2
  num_classes: 4
"""

ISFM = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  patch_size_L: 16
  patch_size_C: 1
  num_patches: 8
  output_dim: 16
  num_classes: {1: 4}
"""


def write(tmp_path: Path, text: str, name: str = "experiment.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def errors(*args: object, **kwargs: object) -> list[vibench.Diagnostic]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(*args, **kwargs)  # type: ignore[arg-type]
    return [d for d in err.value.diagnostics if d.severity == "error"]


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main([*argv, "--check", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


# -- 1. a quote never closed --------------------------------------------------------------------------------------


def test_a_quote_never_closed_is_refused_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = write(tmp_path, 'Id,Dataset_id,Label,Name\n1,1,0,"abc\n2,1,9,x\n3,1,5,y\n', "swallow.csv")
    with pytest.raises(MetadataError, match=r"quote that opens a cell on line 2 is never closed"):
        read_metadata(table)
    code, out = cli_json(capsys, write(tmp_path, RESNET), "--metadata", table)
    assert code == cli.EXIT_USAGE and "line 2 is never closed" in out["usage_error"]


def test_the_line_is_the_quotes_own_after_cells_that_span_lines(tmp_path: Path) -> None:
    # A closed quote may hold line breaks (the row of line 2 ends on line 3); the open one is in the row of line 4,
    # whose third cell opens it on line 5; a header that swallows the file is said too.
    text = 'Id,Dataset_id,Label,Name\n1,1,0,"a\nb"\n2,1,1,"x ""y"" z\n",3,"open\n5,1,9,q\n'
    with pytest.raises(MetadataError, match=r"on line 5 is never closed"):
        read_metadata(write(tmp_path, text, "span.csv"))
    with pytest.raises(MetadataError, match=r"on line 1 is never closed"):
        read_metadata(write(tmp_path, 'Id,"Dataset_id,Label\n1,1,3\n', "header.csv"))


def test_quotes_that_close_or_stand_inside_a_cell_are_read_as_before(tmp_path: Path) -> None:
    # A stray quote inside an unquoted cell is text (as pandas reads it), also in the last row; `"a"b` is `ab`.
    text = 'Id,Dataset_id,Label,Name\n1,1,0,"a,b"\n2,1,3,"x"y\n3,2,6,5"\n'
    assert read_metadata(write(tmp_path, text, "fine.csv")).num_classes == {"1": 4, "2": 7}
    tabbed = 'Id\tDataset_id\tLabel\tName\n1\t1\t2\t"a\tb"\n'
    assert read_metadata(write(tmp_path, tabbed, "tabbed.csv")).num_classes == {"1": 3}


# -- 2. a table that cannot be read -------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux's /proc")
def test_a_table_whose_read_fails_is_a_metadata_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, RESNET)
    with pytest.raises(MetadataError, match="cannot read the metadata table /proc/self/mem"):
        vibench.check(config, metadata="/proc/self/mem")
    code, out = cli_json(capsys, config, "--metadata", "/proc/self/mem")
    assert code == cli.EXIT_USAGE and out["usage_error"].startswith("--metadata: cannot read the metadata table")


def _workbook(path: Path, sheet: str) -> str:
    parts = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + sheet + "</worksheet>",
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return str(path)


def _cell(ref: str, value: str | int) -> str:
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def test_a_workbook_whose_sheet_cannot_be_read_is_a_metadata_error(tmp_path: Path) -> None:
    pytest.importorskip("openpyxl")
    path = tmp_path / "crc.xlsx"
    # Opening the workbook reads the sheet up to its `<dimension>`, and a long sheet is not read to its end, where the
    # CRC is checked, until its rows are.
    rows = "".join(f'<row r="{i}">{_cell(f"A{i}", 1)}{_cell(f"B{i}", 2)}</row>' for i in range(2, 3000))
    header = f'<row r="1">{_cell("A1", "Dataset_id")}{_cell("B1", "Label")}</row>'
    last = f'<row r="3000">{_cell("A3000", 1)}{_cell("B3000", 3)}</row>'
    sheet = f'<dimension ref="A1:B3000"/><sheetData>{header}{rows}{last}</sheetData>'
    _workbook(path, sheet)
    raw = path.read_bytes()  # stored, not deflated: a byte of the sheet changed fails its CRC when read
    at = raw.rindex(b"<v>3</v>")
    path.write_bytes(raw[:at + 3] + b"7" + raw[at + 4:])
    with pytest.raises(MetadataError, match=r"crc\.xlsx is not a readable \.xlsx workbook: BadZipFile"):
        read_metadata(str(path))


# -- 3. too many systems ------------------------------------------------------------------------------------------


def _systems(tmp_path: Path, count: int) -> str:
    rows = "".join(f"{i},{i},1\n" for i in range(count))
    return write(tmp_path, "Id,Dataset_id,Label\n" + rows, f"sys{count}.csv")


def test_a_table_of_more_systems_than_a_given_value_holds_is_e202_at_once(tmp_path: Path) -> None:
    assert MAX_SYSTEMS == 5_000  # what every per-system head of the library compiles with (test_phm_translation_1207b)
    table = _systems(tmp_path, MAX_SYSTEMS + 1)
    for spec in (write(tmp_path, ISFM), "isfm/M_01_ISFM"):
        (error,) = errors(spec, metadata=table)
        assert error.code == "E202", error
        assert error.message == "the metadata table " + table + " has more than 5,000 systems: too many for " \
            "`num_classes` of `M_01_ISFM`"
        assert error.expected == "at most 5,000 systems (one head each)"
    (error,) = errors(write(tmp_path, ISFM), metadata=table)
    assert (error.pos.line, error.pos.col) == (11, 3)  # the config's `num_classes:`, which the table replaces


def test_a_single_classifier_says_the_count_with_separators(tmp_path: Path) -> None:
    (error,) = errors(write(tmp_path, RESNET), metadata=_systems(tmp_path, 2_000))
    assert error.code == "E202" and error.message == "`ResNet1D` has one classifier, but the metadata table has " \
        "2,000 systems"
    assert "the table gives 2,000 systems" in (error.hint or "") and len(error.found or "") < 600


# -- 4. a workbook declaring a wide sheet -------------------------------------------------------------------------


def test_a_workbook_is_read_only_as_wide_as_its_two_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openpyxl")
    # `Label` in column A and `Dataset_id` in C: three columns are needed, of the 16,384 the sheet declares.
    header = f'<row r="1">{_cell("A1", "Label")}{_cell("B1", "Name")}{_cell("C1", "Dataset_id")}</row>'
    rows = f'<row r="2">{_cell("A2", 3)}{_cell("B2", "x")}{_cell("C2", 1)}{_cell("XFD2", "far")}</row>' \
        f'<row r="3">{_cell("A3", 6)}{_cell("C3", 2)}</row>' + "".join(f'<row r="{i}"/>' for i in range(4, 1004))
    path = _workbook(tmp_path / "wide.xlsx", f'<dimension ref="A1:XFD1003"/><sheetData>{header}{rows}</sheetData>')
    widths: set[int] = set()
    counted = phm_metadata._classes

    def spy(header: list, rows: object, shown: str) -> object:
        def seen(rows: object) -> object:
            for line, row in rows:  # type: ignore[attr-defined]
                widths.add(len(row))
                yield line, row
        return counted(header, seen(rows), shown)

    monkeypatch.setattr(phm_metadata, "_classes", spy)
    assert read_metadata(path).num_classes == {"1": 4, "2": 7}
    assert widths == {3}


# -- 5. where an error inside a mapping of a plain config stands --------------------------------------------------


@pytest.mark.parametrize(("cell", "code", "column"), [("num_clases: 3", "E111", 7), ("zzzqqq: 3", "E111", 7),
                                                       ("num_classes: -3", "E104", 7)])
def test_an_error_inside_task_configs_stands_at_its_key(tmp_path: Path, cell: str, code: str, column: int) -> None:
    tasks = f"  task_configs:\n    classification:\n      head: H_01_Linear_cla\n      {cell}\n"
    config = write(tmp_path, ISFM + tasks)
    (error,) = errors(config)
    assert error.code == code and (error.pos.line, error.pos.col) == (15, column), error


# -- 6. a key written three times ---------------------------------------------------------------------------------


def test_w113_names_the_first_line_of_a_key_written_three_times(tmp_path: Path) -> None:
    config = write(tmp_path, RESNET + "  num_classes: 5\n  num_classes: 6\n")
    program = vibench.check(config)
    repeats = [w for w in program.warnings if w.code == "W113"]
    assert [w.pos.line for w in repeats] == [6, 7]
    assert all(w.notes == ("`num_classes` is first written at line 5",) for w in repeats)
    assert [w.found.split("; ")[1] for w in repeats] == ["the one at line 5 has no effect",  # type: ignore[union-attr]
                                                         "the one at line 6 has no effect"]


def test_w113_of_a_base_config_names_its_first_line(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    write(tmp_path, "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 2\n  num_classes: 4\n  num_classes: 5\n"
          "  num_classes: 6\n", "configs/base.yaml")
    program = vibench.check(write(tmp_path, "base_configs:\n  model: base.yaml\n", "configs/experiment.yaml"))
    repeats = [w for w in program.warnings if w.code == "W113"]
    assert len(repeats) == 2 and all(w.notes == ("it is first written at line 5",) for w in repeats)


# -- 7. absolute base configs (docs/phm.md) ----------------------------------------------------------------------


def test_a_base_config_by_absolute_path_or_tilde_is_e205_even_inside_the_project(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    base = write(tmp_path, RESNET, "configs/base.yaml")
    for ref, said in ((base, "is an absolute path"), ("~/base.yaml", "starts with `~`, which is not expanded")):
        (error,) = errors(write(tmp_path, f"base_configs:\n  model: {ref}\n", "configs/experiment.yaml"))
        assert error.code == "E205" and error.message == f"base config `{ref}` {said}", error


# -- 8. a name with a character that is not ASCII ----------------------------------------------------------------


def test_e220_says_which_character_is_not_ascii(tmp_path: Path) -> None:
    (error,) = errors(write(tmp_path, "model:\n  type: CNN\n  name: ResN\u0435t1D\n  num_classes: 4\n"))
    assert error.code == "E220"
    assert error.hint == "`\u0435` (U+0435 CYRILLIC SMALL LETTER IE) at position 5 is not ASCII: did you mean " \
        "`ResNet1D`?"
    (error,) = errors(write(tmp_path, "model:\n  type: C\u039d\u039d\n  name: ResNet1D\n", "greek.yaml"))
    assert error.hint == "`\u039d` (U+039D GREEK CAPITAL LETTER NU) at position 2 is not ASCII (and 1 more)"
    (error,) = errors(write(tmp_path, "model:\n  type: CNN\n  name: ResNet2D\n", "ascii.yaml"))
    assert error.hint == "did you mean `ResNet1D`?"


def test_a_name_from_a_base_config_is_not_spelt_out(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    write(tmp_path, "model:\n  type: CNN\n  name: ResN\u0435t1D\n", "configs/base.yaml")
    (error,) = errors(write(tmp_path, "base_configs:\n  model: base.yaml\n", "configs/experiment.yaml"))
    assert error.code == "E220" and "\u0435" not in str(error) and "U+0435" not in (error.hint or "")


# -- 9. a given value of another type than the guide's -----------------------------------------------------------


DEPTH = RESNET + "  depth: 50\n"


def test_a_given_array_for_layers_is_its_type_not_a_contradiction(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    config = write(tmp_path, DEPTH)
    for layers, found in ((np.array([3, 4, 6, 3]), "(ndarray)"), ((3, 4, 6, 3), "(tuple)"), (["a"], "a list")):
        (error,) = errors(config, params={"layers": layers})
        assert error.code == "E202" and found in (error.found or ""), error
    (error,) = errors(config, params={"layers": [2, 2, 2, 2]})  # a list of ints that differs: a contradiction
    assert error.code == "E222" and "contradicts `layers: [2, 2, 2, 2]`" in error.message


# -- 10. an empty task_configs given beside the config ------------------------------------------------------------


def test_an_empty_task_configs_given_is_e208_in_the_phm_layer(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, ISFM)
    (error,) = errors(config, params={"task_configs": {}})
    assert error.code == "E208" and error.message == "`task_configs` (given in Python) names no task"
    assert (error.pos.line, error.pos.col) == (1, 1)  # the `model:` section: the config writes no `task_configs`
    assert error.notes == ("the value is `task_configs` as given in Python (a keyword of vibench.build, or check's "
                           "`params=`)",)
    written = write(tmp_path, ISFM + "  task_configs: {classification: {}}\n", "written.yaml")
    code, out = cli_json(capsys, written, "--set", "task_configs={}")
    (diagnostic,) = out["diagnostics"]
    assert code == cli.EXIT_SPEC and diagnostic["code"] == "E208", diagnostic
    assert diagnostic["message"] == "`task_configs` (from --set) names no task" and diagnostic["line"] == 12
    assert "--set 'task_configs={classification: {}}'" in diagnostic["hint"]
    assert cli.main([written, "--set", "task_configs={classification: {}}", "--check"]) == cli.EXIT_OK


@pytest.mark.parametrize(("spec", "hint"), [
    ("isfm/embedding/E_01_HSE", "`E_01_HSE` is a library template with no `num_classes`, so the table has nothing "
                                "to set: leave the table out (`metadata=`)"),
    ("own", "declare `num_classes` in `params:`"),
    ("extends", "declare `num_classes` in `params:`"),  # the user's file that extends a library template
])
def test_a_table_for_a_model_without_num_classes_is_hinted_for_whose_file_it_is(tmp_path: Path, spec: str,
                                                                               hint: str) -> None:
    """A library component was told to "declare `num_classes` in `params:`", a file the user does not edit."""
    table = tmp_path / "one.csv"
    table.write_text("Id,Dataset_id,Label\n1,1,0\n2,1,3\n")
    if spec == "extends":
        spec = str(tmp_path / "ext.yaml")
        Path(spec).write_text("vibench: 1\nname: U\nextends: isfm/embedding/E_01_HSE\n")
    if spec == "own":
        spec = str(tmp_path / "own.yaml")
        Path(spec).write_text("vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n"
                              "  r: {block: relu, in: x}\noutputs: {y: r}\n")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(spec, metadata=str(table))
    (d,) = info.value.diagnostics
    assert d.code == "E201" and hint in (d.hint or ""), d
