"""Messages say where a value came from and how to fix it in the caller's words (vibench.build's keywords,
not the command line's flags); a PHM-Vibench component found in a new folder is another cached model; the
E206 of a chain of spec files counts what the limit counts."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.limits import MAX_NESTING
from vibench.compiler.phm_checks import num_classes_from
from vibench.compiler.phm_metadata import read_metadata
from vibench.compiler.resolve import Library
from vibench.compiler.spec_files import find_spec

TINY = """\
vibench: 1
name: Tiny
params:
  n: {type: int, default: 4, ge: 1}
inputs:
  x: {shape: [B, 1, L]}
nodes:
  pool: {block: adaptive_avg_pool1d, in: x, output_size: 1}
  flat: {block: flatten, in: pool}
  fc: {block: linear, in: flat, out_features: "${n}"}
outputs:
  y: fc
"""


def _errors(*args: object, **kw: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(*args, **kw)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


# -- 1. a component in a new sub-folder of its family --------------------------------------------------------------


def test_a_component_in_a_new_family_folder_is_another_model(tmp_path: Path, folder: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`model: {type: ISFM, name: B_04_Dlinear}` is the component of `isfm/<folder>/` that sorts first: a folder
    created later that holds one (`lib/isfm/aaa/`) is what the CLI compiles, and so what vibench.build returns,
    in this process and from the cache folder, not the model of `isfm/backbone/` it built before."""
    from vibench.runtime import cache

    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib" / "isfm" / "backbone").mkdir(parents=True)  # the family's folder is there already
    (tmp_path / "exp.yaml").write_text("model:\n  type: ISFM\n  name: B_04_Dlinear\n  num_patches: 8\n"
                                       "  output_dim: 4\n", encoding="utf-8")
    with pytest.warns(vibench.SpecWarning, match="isfm/backbone/B_04_Dlinear"):
        before = vibench.build("exp.yaml", search_path=["lib"])
    library = Path(vibench.__file__).parent / "specs" / "isfm" / "backbone" / "B_04_Dlinear.yaml"
    text = library.read_text(encoding="utf-8").replace("moving_avg: {type: int, default: 65",
                                                       "moving_avg: {type: int, default: 3")
    assert "default: 3," in text
    (tmp_path / "lib" / "isfm" / "aaa").mkdir()
    (tmp_path / "lib" / "isfm" / "aaa" / "B_04_Dlinear.yaml").write_text(text, encoding="utf-8")
    with pytest.warns(vibench.SpecWarning, match="isfm/aaa/B_04_Dlinear"):
        after = vibench.build("exp.yaml", search_path=["lib"])
    assert (before.decomposition.moving_avg.kernel_size, after.decomposition.moving_avg.kernel_size) == (65, 3)
    monkeypatch.setattr(cache, "_memory", {})  # another process: the entry in the cache folder
    with pytest.warns(vibench.SpecWarning, match="isfm/aaa/B_04_Dlinear"):
        again = vibench.build("exp.yaml", search_path=["lib"])
    assert again.decomposition.moving_avg.kernel_size == 3


def test_the_family_folders_listed_are_recorded() -> None:
    """What find_template decides by (the folders of `isfm/` in each root) is kept beside the files it read."""
    from vibench.compiler.phm_checks import find_template

    library = Library(["/nonexistent-1206h"])
    path, component = find_template("isfm/B_04_Dlinear", library, None)
    assert component == "isfm/backbone/B_04_Dlinear" and path is not None
    assert library.looked.get("/nonexistent-1206h/isfm") == "folders"


# -- 2. a value from the metadata table ----------------------------------------------------------------------------


@pytest.fixture
def tiny_and_table(tmp_path: Path) -> tuple[Path, Path]:
    spec, table = tmp_path / "base.yaml", tmp_path / "md.csv"
    spec.write_text(TINY, encoding="utf-8")
    table.write_text("Dataset_id,Label\n1,3\n", encoding="utf-8")
    return spec, table


def test_a_class_count_from_the_table_is_not_said_to_be_given(tiny_and_table: tuple[Path, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A spec without `num_classes` and a metadata table: E201 says the table gave it (no --set was given)."""
    spec, table = tiny_and_table
    (d,) = _errors(str(spec), metadata=str(table))
    assert d.code == "E201"
    assert d.message == "unknown parameter `num_classes` (from the metadata table) for model `Tiny`"
    assert d.notes == (f"the value is max(Label) + 1 per Dataset_id of the metadata table {table} (`metadata=`)",)
    assert "`metadata=`" in (d.hint or "") and "--" not in (d.hint or "")
    assert cli.main([str(spec), "--check", "--metadata", str(table)]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert "unknown parameter `num_classes` (from the metadata table)" in err and "--set" not in err
    assert "(--metadata)" in err


def test_a_class_count_given_beside_the_table_is_still_the_callers(tiny_and_table: tuple[Path, Path]) -> None:
    spec, table = tiny_and_table
    (d,) = _errors(str(spec), metadata=str(table), params={"num_classes": 3})
    assert d.message.startswith("unknown parameter `num_classes` (given in Python)")


# -- 3. the Python API's words -------------------------------------------------------------------------------------


def test_w111_names_the_keyword_in_python() -> None:
    root, _ = Library().load(Library().find("cnn/ResNet1D", None, None), None)
    (python,) = num_classes_from({}, {}, root, None, (), None, in_python=True)
    (command,) = num_classes_from({}, {}, root, None, (), None)
    assert python.code == command.code == "W111"
    assert "`metadata=`" in (python.hint or "") and "--metadata" not in (python.hint or "")
    assert "`--metadata FILE`" in (command.hint or "")


def test_e202_of_a_table_of_several_systems_in_python(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec, table = tmp_path / "mine.yaml", tmp_path / "md.csv"
    spec.write_text("vibench: 1\nextends: cnn/ResNet1D\nwith: {input_dim: 1}\n", encoding="utf-8")
    table.write_text("Dataset_id,Label\n1,3\n2,4\n", encoding="utf-8")
    (d,) = _errors(str(spec), metadata=str(table))
    assert d.code == "E202" and d.notes[0].endswith("(`metadata=`)")
    assert "leave the table out (`metadata=`) and pass `num_classes=N`" in (d.hint or "")
    assert "--" not in (d.hint or "") + d.notes[0]
    assert cli.main([str(spec), "--check", "--metadata", str(table)]) == cli.EXIT_SPEC
    assert "leave the table out (`--metadata`) and set `--set num_classes=N`" in capsys.readouterr().err
    experiment = tmp_path / "exp.yaml"  # a PHM-Vibench config's E202 (phm_checks.num_classes_from)
    experiment.write_text("model: {type: CNN, name: ResNet1D, input_dim: 1}\n", encoding="utf-8")
    root, _ = Library().load(Library().find("cnn/ResNet1D", None, None), None)
    with pytest.raises(vibench.SpecError) as info:
        num_classes_from({}, {}, root, read_metadata(str(table)), (), None, in_python=True)
    assert "leave the table out (`metadata=`)" in (info.value.diagnostics[0].hint or "")
    assert "pass `num_classes=N` to vibench.build" in (info.value.diagnostics[0].hint or "")


def test_a_required_parameter_of_an_extended_template_in_python(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "req.yaml").write_text(TINY.replace("n: {type: int, default: 4, ge: 1}", "n: {type: int, ge: 1}"),
                                       encoding="utf-8")
    spec = tmp_path / "mine.yaml"
    spec.write_text("vibench: 1\nextends: ./req.yaml\n", encoding="utf-8")
    (d,) = _errors(str(spec))
    assert d.code == "E209" and d.hint == "add `n: ...` under `with:`, or pass `n=...` to vibench.build"
    assert cli.main([str(spec), "--check"]) == cli.EXIT_SPEC
    assert "add `n: ...` under `with:`, or pass `--set n=...`" in capsys.readouterr().err


def test_a_reference_outside_the_search_path_in_python(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "t.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "lib").mkdir()
    os.symlink(tmp_path / "outside" / "t.yaml", tmp_path / "lib" / "t.yaml")
    (d,) = _errors(text="vibench: 1\nextends: t\n", search_path=[str(tmp_path / "lib")])
    assert d.code == "E205" and d.hint == "add its folder to `search_path=`"


def test_an_unknown_component_in_python(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (d,) = _errors("isfm/M_01_ISFM", params={"backbone": "B_99_Nope"})
    assert d.code == "E214" and d.hint == "add `isfm/backbone/B_99_Nope.yaml` to a `search_path=` folder"
    assert cli.main(["isfm/M_01_ISFM", "--check", "--set", "backbone=B_99_Nope"]) == cli.EXIT_SPEC
    assert "add `isfm/backbone/B_99_Nope.yaml` to a --spec-path folder" in capsys.readouterr().err


def test_a_slot_folder_that_leads_outside_in_python(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "C.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "spec").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "spec" / "comp")
    (tmp_path / "spec" / "m.yaml").write_text(TINY.replace("params:\n", "params:\n  part: {type: str, default: C, "
                                                           "slot: comp}\n"), encoding="utf-8")
    (d,) = _errors(str(tmp_path / "spec" / "m.yaml"))
    assert d.code == "E214" and d.hint == "add the folder a `comp/` link leads to in `search_path=`"
    assert any("add the folder it leads to in `search_path=`" in n for n in d.notes)
    assert "--spec-path" not in " ".join([d.hint or "", *d.notes])


def test_a_base_config_not_found_in_python(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    experiment = tmp_path / "exp.yaml"
    experiment.write_text("base_configs: {model: nowhere.yaml}\nmodel: {type: CNN, name: ResNet1D}\n",
                          encoding="utf-8")
    (d,) = _errors(str(experiment))
    assert d.code == "E205" and (d.hint or "").endswith("or add its folder to `search_path=`")


def test_an_unknown_spec_name_says_where_the_library_is_listed(tmp_path: Path) -> None:
    with pytest.raises(vibench.SpecError) as info:
        find_spec("cnn/ResNet9", in_python=True)
    hint = info.value.diagnostics[0].hint or ""
    assert "installed with vibench" in hint  # (docs/ is not installed: the command is)
    with pytest.raises(vibench.SpecError) as info:
        find_spec("cnn/ResNet9")
    assert "`vibench-compile --list` lists them" in (info.value.diagnostics[0].hint or "")
    (d,) = _errors(text="vibench: 1\nextends: zzz/Qqq\n")  # an unknown `extends:` of no near name
    assert d.code == "E205" and d.hint == ("the command `vibench-compile --list`, installed with vibench, lists the "
                                           "library's templates")


# -- 4. inputs given as an array -----------------------------------------------------------------------------------


def test_an_array_of_sizes_is_told_how_to_pass_it() -> None:
    with pytest.raises(TypeError, match=r"pass its \.shape if it is the tensor, or tuple\(\.\.\.\) of the sizes"):
        vibench.check(text=TINY, inputs={"x": np.array([1, 8, 4])})
    assert vibench.check(text=TINY, inputs={"x": tuple(np.array([2, 1, 16]))}).root.name == "Tiny"


# -- 5. E206 counts levels ------------------------------------------------------------------------------------------


def _chain(tmp_path: Path, files: int) -> Path:
    """t0.yaml extends t1 ... extends t<files - 1>, which defines the model: ``files`` files, ``files - 1`` levels."""
    for k in range(files - 1):
        (tmp_path / f"t{k}.yaml").write_text(f"vibench: 1\nextends: t{k + 1}\n", encoding="utf-8")
    (tmp_path / f"t{files - 1}.yaml").write_text(TINY, encoding="utf-8")
    return tmp_path / "t0.yaml"


def test_a_chain_of_files_is_refused_past_the_levels_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain of MAX_NESTING + 1 files (MAX_NESTING levels, docs/language.md's "at most 32 deep") compiles; one
    more is E206, which says "more than 32 levels" and counts 33, as the limit counts (it said "more than 32
    files deep" of 34 files, with 33 files compiling)."""
    assert vibench.check(str(_chain(tmp_path, MAX_NESTING + 1))).root.name == "Tiny"
    (d,) = _errors(str(_chain(tmp_path, MAX_NESTING + 2)))
    assert d.code == "E206" and d.message == f"specs extend or use each other more than {MAX_NESTING} levels deep"
    last = MAX_NESTING + 1
    assert (d.found or "").startswith(f"{MAX_NESTING + 1} levels: ") and (d.found or "").endswith(f"t{last}.yaml")
    # Spec text is the chain's first level too: t0's text allows what the file t0 does.
    monkeypatch.chdir(tmp_path)
    text = (tmp_path / "t0.yaml").read_text(encoding="utf-8")
    (d,) = _errors(text=text)
    assert d.code == "E206" and (d.found or "").startswith(f"{MAX_NESTING + 1} levels: <string> -> t1.yaml")
    _chain(tmp_path, MAX_NESTING + 1)
    (tmp_path / f"t{MAX_NESTING + 1}.yaml").unlink()
    assert vibench.check(text=text).root.name == "Tiny"


NC2 = """vibench: 1
name: NC2
params:
  num_classes: {type: int, default: 10}
  k: {type: int, default: 1}
inputs: {x: {shape: [B, 1, L]}}
nodes:
  pool: {block: adaptive_avg_pool1d, in: x, output_size: 1}
  flat: {block: flatten, in: pool}
  fc: {block: linear, in: flat, out_features: "${num_classes * k}"}
outputs: {y: fc}
"""


@pytest.mark.parametrize("in_python", [False, True])
def test_a_blame_note_names_the_table_for_the_value_it_gave(tmp_path: Path, in_python: bool,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # Before: "... as it does without `--set num_classes`" (or `num_classes=`) for a count the table gave.
    spec, table = tmp_path / "nc2.yaml", tmp_path / "mid.csv"
    spec.write_text(NC2, encoding="utf-8")
    table.write_text("Dataset_id,Label\n1,99999\n", encoding="utf-8")
    if in_python:
        with pytest.raises(vibench.SpecError) as info:
            vibench.check(str(spec), metadata=str(table), params={"k": 100000})
        note = info.value.diagnostics[0].notes[0]
        assert note.endswith("as it does without the metadata table (`metadata=`)")
    else:
        from vibench.compiler.cli import main

        assert main([str(spec), "--check", "--metadata", str(table), "--set", "k=100000"]) == 1
        assert "as it does without the metadata table (`--metadata`)" in capsys.readouterr().err
