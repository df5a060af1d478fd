"""PHM-Vibench configs read as its loader reads them: every `base_configs` entry, dotted keys, flat base
files, keys that are not strings; what its factory cannot build (unregistered ISFM components, a `type`
that does not hold the `name`, a null `num_classes`); and the messages about `--set` and `--metadata`."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

import vibench
from vibench.compiler.phm_metadata import MetadataError, read_metadata
from vibench.compiler.phm_reference import COMPONENTS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / ".reference" / "PHM-Vibench" / "src" / "model_factory"
RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n"


def project(tmp_path: Path, experiment: str, **files: str) -> str:
    """An experiment at the root of a PHM-Vibench-like project (a `configs/` folder) and its base files."""
    (tmp_path / "configs").mkdir(exist_ok=True)
    for name, text in files.items():
        (tmp_path / "configs" / f"{name}.yaml").write_text(textwrap.dedent(text))
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(experiment))
    return str(path)


def refused(path: str, **kw) -> list[vibench.Diagnostic]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path, **kw)
    return list(err.value.diagnostics)


def warned(program: vibench.Program, code: str) -> list[vibench.Diagnostic]:
    return [w for w in program.warnings if w.code == code]


# --------------------------------------------------------------------------------------------
# Keys of `model:` that YAML does not read as strings: located E102, never an internal error.


@pytest.mark.parametrize("written, found", [("1", "int 1"), ("true", "bool True"), ("null", "null"),
                                            ("1.5", "float 1.5")])
def test_a_key_of_the_model_that_is_not_a_string_is_e102(tmp_path: Path, written: str, found: str) -> None:
    (diag,) = refused(project(tmp_path, RESNET + f"  {written}: 2\n"))
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E102", 5, 3)
    assert diag.message == f"key `{written}` in `model:` is not a string" and diag.found == found


def test_a_key_that_is_not_a_string_in_a_base_config_is_e102_at_its_entry(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: configs/b.yaml\n", b=RESNET + "  7: 3\n")
    (diag,) = refused(path)
    assert (diag.code, diag.pos.line) == ("E102", 2) and "(line 5, column 3)" in diag.message


# --------------------------------------------------------------------------------------------
# Every base_configs entry is merged, in order, whatever its name (PHM-Vibench's load_config).


def test_a_base_config_under_any_entry_gives_its_model_section(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  data: configs/m.yaml\n", m=RESNET + "  num_classes: 5\n")
    assert str(vibench.check(path).root.outputs[0][2]) == "[B, 5]"


def test_later_base_configs_win_and_files_without_a_model_add_nothing(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: configs/m.yaml\n  data: configs/d.yaml\n"
                   "  task: configs/t.yaml\n", m=RESNET + "  num_classes: 5\n",
                   d="data:\n  batch_size: 3\n", t="model:\n  num_classes: 6\n")
    program = vibench.check(path)
    assert str(program.root.outputs[0][2]) == "[B, 6]" and not warned(program, "W114")


# --------------------------------------------------------------------------------------------
# Dotted keys: applied where PHM-Vibench applies them, a warning where it does not.


def test_a_dotted_model_key_applies_in_a_config_with_base_configs(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: configs/m.yaml\nmodel.num_classes: 7\n",
                   m=RESNET + "  num_classes: 5\n")
    program = vibench.check(path)
    assert str(program.root.outputs[0][2]) == "[B, 7]" and not warned(program, "W114")


def test_a_dotted_key_before_the_model_section_is_replaced_by_it(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  data: configs/d.yaml\nmodel.num_classes: 7\n" + RESNET
                   + "  num_classes: 5\n", d="data: {}\n")
    program = vibench.check(path)
    (w114,) = warned(program, "W114")
    assert str(program.root.outputs[0][2]) == "[B, 5]" and w114.pos.line == 3


def test_a_dotted_key_without_base_configs_is_a_warning(tmp_path: Path) -> None:
    program = vibench.check(project(tmp_path, RESNET + "  num_classes: 5\nmodel.num_classes: 7\n"))
    (w114,) = warned(program, "W114")
    assert str(program.root.outputs[0][2]) == "[B, 5]" and w114.pos.line == 6 and "base_configs" in w114.found


def test_a_base_file_without_a_model_section_is_read_with_a_warning(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: configs/flat.yaml\nmodel:\n  num_classes: 3\n",
                   flat="type: CNN\nname: ResNet1D\ninput_dim: 2\n")
    program = vibench.check(path)
    (w114,) = warned(program, "W114")
    assert (w114.pos.line, w114.pos.col) == (2, 10) and "no `model:` section" in w114.message
    assert str(program.root.outputs[0][2]) == "[B, 3]"


# --------------------------------------------------------------------------------------------
# What PHM-Vibench's factory cannot build, or fills in.


def test_a_null_num_classes_default_is_w111_saying_what_is_built(tmp_path: Path) -> None:
    program = vibench.check(project(tmp_path, RESNET))
    (w111,) = warned(program, "W111")
    assert "without a classifier" in w111.message and "decoder" in w111.message
    assert not warned(vibench.check(project(tmp_path, RESNET + "  num_classes: 4\n")), "W111")


ISFM = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 16
  num_patches: 8
  patch_size_L: 16
  patch_size_C: 1
  num_classes: 3
"""


def test_a_component_the_reference_model_does_not_register_is_w115(tmp_path: Path) -> None:
    program = vibench.check(project(tmp_path, ISFM.replace("H_01_Linear_cla", "H_05_RUL_pred")))
    (w115,) = warned(program, "W115")
    assert w115.pos.line == 6 and "`H_05_RUL_pred`" in w115.message and "H_01_Linear_cla" in w115.found
    assert not warned(vibench.check(project(tmp_path, ISFM)), "W115")


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no PHM-Vibench checkout at .reference/PHM-Vibench")
def test_the_registered_components_are_the_references_tables() -> None:
    tables = {"embedding": "Embedding_dict", "backbone": "Backbone_dict", "task_head": "TaskHead_dict"}
    for model, slots in COMPONENTS.items():
        source = (REFERENCE / f"{model}.py").read_text(encoding="utf-8")
        for slot, names in slots.items():
            block = re.search(rf"^\w*{tables[slot]} = \{{(.*?)^\}}", source, flags=re.M | re.S)
            if block is None:  # M_02_ISFM_heterogeneous_batch has one fixed head
                assert model.endswith("heterogeneous_batch") and slot == "task_head"
                continue
            listed = re.findall(r"^\s*['\"](\w+)['\"]\s*:", block.group(1), flags=re.M)
            assert tuple(listed) == names, (model, slot)


@pytest.mark.parametrize("kind, name, family", [("ISFM", "M_02_ISFM_Prompt", "ISFM_Prompt"),
                                                ("ISFM_Prompt", "M_01_ISFM", "ISFM")])
def test_a_type_that_does_not_hold_the_name_is_e220(tmp_path: Path, kind: str, name: str, family: str) -> None:
    (diag,) = refused(project(tmp_path, ISFM.replace("type: ISFM", f"type: {kind}").replace("M_01_ISFM", name)))
    assert (diag.code, diag.pos.line) == ("E220", 2) and diag.hint == f"write `type: {family}`"
    assert any("either" in note for note in diag.notes)


def test_hiding_base_config_values_keeps_the_suggestion_whole(tmp_path: Path) -> None:
    path = project(tmp_path, "base_configs:\n  model: configs/b.yaml\n", b="model:\n  type: CNN\n  name: MobileNet\n")
    (diag,) = refused(path)
    assert diag.code == "E220" and diag.hint == "did you mean `MobileNet1D`?"
    assert "MobileNet`" not in diag.message


# --------------------------------------------------------------------------------------------
# Messages that name what to do in a PHM-Vibench config.


def test_e202_for_a_table_of_several_systems_says_how_to_get_one_count(tmp_path: Path) -> None:
    table = tmp_path / "meta.csv"
    table.write_text("Id,Dataset_id,Label\n1,1,0\n2,1,3\n3,2,6\n")
    (diag,) = refused(project(tmp_path, RESNET + "  num_classes: 4\n"), metadata=str(table))
    assert diag.code == "E202" and "2 systems" in diag.hint and "pass `num_classes=N` to vibench.build" in diag.hint


@pytest.mark.parametrize("key, says", [("dropout", "it has no dropout setting"), ("in_channels", "`input_dim`"),
                                       ("widthx", "keys of the `model:` section")])
def test_an_unknown_parameter_set_on_a_phm_config_points_at_the_model_section(tmp_path: Path, key: str,
                                                                              says: str) -> None:
    (diag,) = refused(project(tmp_path, RESNET), params={key: 1})
    assert diag.code == "E201" and says in diag.hint and "declare it in `params:`" not in diag.hint


def test_a_dataset_id_that_is_not_an_integer_is_named(tmp_path: Path) -> None:
    table = tmp_path / "meta.csv"
    table.write_text("Dataset_id,Label\nCWRU,0\nCWRU,3\n")
    with pytest.raises(MetadataError, match="`Dataset_id` must be an integer.*'CWRU'"):
        read_metadata(str(table))


def test_build_takes_the_metadata_table_and_keys_its_cache_on_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VIBENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = project(tmp_path, RESNET)
    table = tmp_path / "meta.csv"
    table.write_text("Dataset_id,Label\n1,0\n1,3\n")
    assert vibench.build(path, metadata=str(table)).classifier.out_features == 4
    table.write_text("Dataset_id,Label\n1,0\n1,5\n")
    assert vibench.build(path, metadata=str(table)).classifier.out_features == 6


def test_past_the_first_hundred_unknown_keys_are_counted(tmp_path: Path) -> None:
    """Each unknown key of the model section was a W103 with its own "did you mean" (600,000 keys: 40 s of
    hints); the first 100 are named, the rest counted in one W103."""
    keys = "".join(f"  unknown_key_{k}: 1\n" for k in range(150))
    program = vibench.check(project(tmp_path, RESNET + "  num_classes: 4\n" + keys))
    unknown = warned(program, "W103")
    assert len(unknown) == 101
    assert sum("unknown key `unknown_key_" in w.message for w in unknown) == 100
    assert unknown[-1].message == "50 more unknown keys that neither `cnn/ResNet1D` nor the reference reads"
