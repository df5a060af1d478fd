"""PHM-Vibench configs that vibench translated with a leak, a wrong place, a wrong reason or without a bound
(QA 12-07b).

* What a base config holds is never printed: E222 for a guide key against a base config's key quoted its value
  (`contradicts `input_dim: 31337``), E221 the default computed from one (`num_channels: 31337`), E103 a `name`
  that is no string; now the base side is named by key and file, and every diagnostic said of the merged
  `model:` section passes through the same hiding.
* A metadata table of 5,000,000 systems was read whole (38 s, 1.3 GB) before E202: read up to the first system
  past the limit.
* The E202 limit was 49,999 systems, while tables of 33,333 (M_01_ISFM) or 9,090
  (M_02_ISFM_heterogeneous_batch) ended in E204 in a template's expression: the limit is one every library
  template with per-system heads compiles, and docs/phm.md says it.
* W115 judged the config's component, not the one `--set` gives.
* E208 for a table's class count blamed the base config whose `num_classes` the table replaced (and so did an
  error in a `--set` value that replaces a base config's).
* A task name's E222/I101 pointed at `model:` (or `base_configs:`), not at the task.
* E220 said `X_model/Feature_extract.py` does not exist: it exists and defines no `Model`.
* W111 for a model that reads no `num_classes` (M_02_ISFM_Prompt without a head), where setting it is W104.
* A CSV cell over 131,072 characters was "not a readable CSV table" (pandas reads it).
"""

from __future__ import annotations

import csv
import json
import os
import textwrap
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.phm_checks import MAX_SYSTEMS
from vibench.compiler.phm_metadata import DatasetMetadata, read_metadata

SECRET = "sk-SECRET-TOKEN-123"
WIDTH = "31337"
BASE_RESNET = f"""\
model:
  type: CNN
  name: ResNet1D
  input_dim: {WIDTH}
  num_classes: 5
  block_type: "{SECRET}"
  layers: [1, 1, 1, 1]
"""
BASE_HSE = f"""\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_02_HSE_v2
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  input_dim: {WIDTH}
  output_dim: 64
  num_patches: 16
  patch_size_L: 32
  patch_size_C: 1
  hidden_dim: 64
  c_dim: 64
"""
ISFM = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: {backbone}
  task_head: H_01_Linear_cla
  output_dim: 16
  num_patches: 8
  patch_size_L: 16
  patch_size_C: 1
  hidden_dim: 16
  num_heads: 4
  num_layers: 1
  factor: 2
  num_classes: {{"1": 3}}
"""


def project(tmp_path: Path, base: str, experiment: str) -> str:
    """An experiment ``configs/e.yaml`` whose `base_configs.model` is ``configs/base/m.yaml`` holding ``base``."""
    (tmp_path / "configs" / "base").mkdir(parents=True, exist_ok=True)
    (tmp_path / "configs" / "base" / "m.yaml").write_text(textwrap.dedent(base), encoding="utf-8")
    path = tmp_path / "configs" / "e.yaml"
    path.write_text("base_configs:\n  model: base/m.yaml\n" + textwrap.dedent(experiment), encoding="utf-8")
    return str(path)


def write(tmp_path: Path, text: str, name: str = "experiment.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def errors(path: str, **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path, **kwargs)  # type: ignore[arg-type]
    return [d for d in err.value.diagnostics if d.severity == "error"]


def cli_text(path: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The command line's text and JSON output for ``path`` (both refused)."""
    texts = []
    for fmt in ("text", "json"):
        assert cli.main([path, "--check", "--format", fmt, *args]) == cli.EXIT_SPEC
        out, err = capsys.readouterr()
        texts.append(out + err)
    return "\n".join(texts)


def secret_free(text: str) -> bool:
    return SECRET not in text and WIDTH not in text


# -- 1, 2. nothing of a base config in the translation's messages ------------------------------------------------


def test_a_guide_alias_against_a_base_config_key_names_the_key_and_file(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, BASE_RESNET, "model:\n  in_channels: 2\n")
    (d,) = errors(path)
    assert d.code == "E222" and d.message == "`in_channels: 2` contradicts `input_dim` of base config `base/m.yaml`"
    assert (d.pos.line, d.pos.col) == (4, 3)  # the experiment's `in_channels`, which the user wrote
    assert secret_free(json.dumps(d.to_json())) and secret_free(cli_text(path, capsys))


def test_a_depth_against_a_base_config_block_type_names_the_key_and_file(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, BASE_RESNET, "model:\n  depth: 50\n")
    (d,) = errors(path)
    assert d.code == "E222" and d.message == "`depth: 50` contradicts `block_type` of base config `base/m.yaml`"
    assert d.found == "ResNet-50 has block_type 'bottleneck'"  # the guide's own value: no base config's
    assert secret_free(cli_text(path, capsys))


def test_a_default_computed_from_a_base_config_value_is_not_shown(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, BASE_HSE, 'model:\n  num_classes: {"1": 3}\n')
    (d,) = errors(path)
    assert d.code == "E221" and "`num_channels` is missing" in d.message
    assert "`${input_dim}`, from the base config's `input_dim`" in (d.found or "")
    assert d.hint == "add `num_channels:` with the value the experiment means"
    assert secret_free(cli_text(path, capsys))


def test_a_default_computed_from_the_experiment_is_still_shown(tmp_path: Path) -> None:
    base = BASE_HSE.replace(f"  input_dim: {WIDTH}\n", "")
    (d,) = errors(project(tmp_path, base, 'model:\n  input_dim: 7\n  num_classes: {"1": 3}\n'))
    assert d.code == "E221" and d.hint == "add `num_channels: 7` to build what vibench would, or the value the " \
        "experiment means"


def test_a_base_config_name_that_is_no_string_is_not_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project(tmp_path, f'model:\n  type: CNN\n  name: ["{SECRET}"]\n', "")
    (d,) = errors(path)
    assert d.code == "E103" and (d.pos.line, d.pos.col) == (2, 10)  # the `base_configs` entry
    assert secret_free(cli_text(path, capsys))


# -- 5. the table's value in place of a base config's -------------------------------------------------------------


def test_a_table_value_in_place_of_a_base_config_num_classes_is_the_table_s(tmp_path: Path) -> None:
    path = project(tmp_path, "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 2\n  num_classes: 5\n", "")
    table = write(tmp_path, "Dataset_id,Label\n1,-1\n", "neg.csv")
    (d,) = errors(path, metadata=table)
    assert d.code == "E208" and d.message == "parameter `num_classes` of model `ResNet1D` is out of bounds"
    assert d.found == "0" and (d.pos.line, d.pos.col) == (1, 1)  # `base_configs:`, as when none is written
    assert any("metadata table" in note for note in d.notes)
    table = write(tmp_path, "Dataset_id,Label\n1,3\n", "fine.csv")
    (note,) = [w for w in vibench.check(path, metadata=table).warnings if w.code == "I103"]
    assert note.message == "`num_classes` is 4, from the metadata table; it replaces the base config's " \
        "`num_classes`, as PHM-Vibench's factory does"


def test_a_value_given_in_place_of_a_base_config_value_is_the_caller_s(tmp_path: Path) -> None:
    path = project(tmp_path, "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 2\n  num_classes: 5\n", "")
    for key in ("num_classes", "input_dim"):
        (d,) = errors(path, params={key: 0})
        assert d.code == "E208" and d.message == f"parameter `{key}` of model `ResNet1D` is out of bounds"
        assert d.found == "0" and (d.pos.line, d.pos.col) == (1, 1)


# -- 7. task names where they are written -------------------------------------------------------------------------


TASKS = "  classification: {}\n  prediction: {}\n  signal_prediction: {}\n"
BASE_ISFM = ISFM.format(backbone="B_04_Dlinear").replace('  num_classes: {"1": 3}\n', "")


def test_a_task_named_twice_in_a_dotted_key_is_said_at_the_task(tmp_path: Path) -> None:
    for model in ('model:\n  num_classes: {"1": 3}\n', ""):
        (d,) = errors(project(tmp_path, BASE_ISFM, model + "model.task_configs:\n" + TASKS))
        assert d.code == "E222" and "task `prediction` and task `signal_prediction`" in d.message
        line = 5 + model.count("\n")  # `prediction:`, below `model.task_configs:`
        assert (d.pos.line, d.pos.col) == (line, 3), d


def test_a_task_named_twice_in_a_base_config_is_said_at_its_entry_without_the_names(tmp_path: Path) -> None:
    base = BASE_ISFM + "  task_configs:\n" + textwrap.indent(TASKS, "  ")
    (d,) = errors(project(tmp_path, base, ""))
    assert d.code == "E222" and (d.pos.line, d.pos.col) == (2, 10)
    assert d.message == "the value of `task_configs` from the base config is a model-guide value that cannot be " \
        "applied"


# -- 3, 6. the most systems a table gives --------------------------------------------------------------------------


def test_a_table_is_read_no_further_than_one_system_past_the_limit(tmp_path: Path) -> None:
    rows = "".join(f"{i},1\n" for i in range(MAX_SYSTEMS + 5))
    # A row read past the limit would be refused: its `Label` has more than 64 digits.
    table = write(tmp_path, "Dataset_id,Label\n" + rows + "1," + "9" * 80 + "\n", "many.csv")
    metadata = read_metadata(table)
    assert len(metadata.num_classes) == MAX_SYSTEMS + 1
    (d,) = errors(write(tmp_path, ISFM.format(backbone="B_04_Dlinear")), metadata=table)
    assert d.code == "E202" and d.message == f"the metadata table {table} has more than {MAX_SYSTEMS:,} systems: " \
        "too many for `num_classes` of `M_01_ISFM`"
    assert (d.pos.line, d.pos.col) == (15, 3)  # the config's `num_classes:`, which the table replaces
    (d,) = errors(write(tmp_path, "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 2\n"), metadata=table)
    assert d.code == "E202" and d.message == f"`ResNet1D` has one classifier, but the metadata table has more than " \
        f"{MAX_SYSTEMS:,} systems"


PER_SYSTEM = "  embedding: {embedding}\n  backbone: B_04_Dlinear\n  output_dim: 8\n  num_patches: 4\n" \
    "  patch_size_L: 16\n  patch_size_C: 1\n"
MODELS = {  # every library template whose `num_classes` takes one count per system, in a config that builds it
    "M_01_ISFM": ("ISFM", "M_01_ISFM", "E_01_HSE", "H_01_Linear_cla"),
    "M_02_ISFM": ("ISFM", "M_02_ISFM", "E_01_HSE", "H_01_Linear_cla"),
    "M_03_ISFM": ("ISFM", "M_03_ISFM", "E_01_HSE", "H_01_Linear_cla"),
    "M_02_ISFM_heterogeneous_batch": ("ISFM", "M_02_ISFM_heterogeneous_batch", "E_01_HSE", None),
    "M_02_ISFM_Prompt": ("ISFM_Prompt", "M_02_ISFM_Prompt", "HSE_prompt", "H_01_Linear_cla"),
    **{head: ("ISFM", "M_01_ISFM", "E_01_HSE", head) for head in (
        "H_01_Linear_cla", "H_02_Linear_cla_heterogeneous_batch", "H_02_distance_cla", "H_09_multiple_task",
        "MultiTaskHead")},
}


def test_the_models_listed_are_every_template_with_per_system_heads() -> None:
    from vibench.compiler.resolve import LIBRARY_DIR, Library

    library, found = Library(None), set()
    for folder, _, files in os.walk(LIBRARY_DIR):
        for file in files:
            if file.endswith(".yaml"):
                root, _ = library.load(os.path.join(folder, file), None)
                decl = root.param("num_classes")
                if decl is not None and "dict" in decl.type:
                    found.add(root.name)
    assert found == set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_every_template_with_per_system_heads_compiles_as_many_systems_as_a_table_may_give(
        name: str, tmp_path: Path) -> None:
    kind, model, embedding, head = MODELS[name]
    text = f"model:\n  type: {kind}\n  name: {model}\n" + PER_SYSTEM.format(embedding=embedding)
    text += f"  task_head: {head}\n" if head else ""
    metadata = DatasetMetadata("m.csv", {str(i): 2 for i in range(1, MAX_SYSTEMS + 1)})
    program = vibench.check(write(tmp_path, text), metadata=metadata)  # no E204 in a template's expression
    assert program.root.name == model


def test_the_docs_say_the_limit() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "phm.md").read_text(encoding="utf-8")
    assert f"A table of more than {MAX_SYSTEMS:,} systems is E202" in " ".join(docs.split())


# -- 4. W115 of the component the compile builds ----------------------------------------------------------------


def test_w115_judges_the_component_given_beside_the_config(tmp_path: Path) -> None:
    vibt = write(tmp_path, ISFM.format(backbone="B_10_VIBT"), "vibt.yaml")
    assert [w for w in vibench.check(vibt).warnings if w.code == "W115"]
    assert not [w for w in vibench.check(vibt, params={"backbone": "B_04_Dlinear"}).warnings if w.code == "W115"]
    dlinear = write(tmp_path, ISFM.format(backbone="B_04_Dlinear"), "dlinear.yaml")
    (w,) = [w for w in vibench.check(dlinear, params={"backbone": "B_10_VIBT"}).warnings if w.code == "W115"]
    assert w.message.startswith("PHM-Vibench's M_01_ISFM cannot build the backbone `B_10_VIBT` (given in Python)")
    assert (w.pos.line, w.pos.col) == (5, 3)  # the config's `backbone`, which the value replaces


# -- 8. a module of the factory that is no model -----------------------------------------------------------------


@pytest.mark.parametrize("kind, name", [("X_model", "Feature_extract"), ("X_model", "Signal_processing"),
                                        ("ISFM", "system_utils")])
def test_e220_says_the_module_defines_no_model_class(kind: str, name: str, tmp_path: Path) -> None:
    (d,) = errors(write(tmp_path, f"model:\n  type: {kind}\n  name: {name}\n"))
    assert d.code == "E220"
    (note,) = d.notes
    assert f"`src/model_factory/{kind}/{name}.py` holds" in note and "defines no `Model` class" in note
    assert "there is no" not in note


# -- 9. W111 only for a num_classes something reads -------------------------------------------------------------


def test_no_w111_for_a_model_that_reads_no_num_classes(tmp_path: Path) -> None:
    prompt = "model:\n  type: ISFM_Prompt\n  name: M_02_ISFM_Prompt\n  embedding: HSE_prompt\n"
    program = vibench.check(write(tmp_path, prompt))
    assert not [w for w in program.warnings if w.code == "W111"]
    program = vibench.check(write(tmp_path, prompt + "  task_head: H_01_Linear_cla\n  output_dim: 128\n"))
    assert [w.code for w in program.warnings if w.code == "W111"] == ["W111"]


# -- 10. a long CSV cell ------------------------------------------------------------------------------------------


def test_a_csv_cell_longer_than_the_csv_module_s_limit_is_read(tmp_path: Path) -> None:
    limit = csv.field_size_limit()
    notes = "x" * 200_000
    table = write(tmp_path, f"Dataset_id,Label,Notes\n1,2,{notes}\n1,3,\"{notes}\"\n2,0,y\n", "long.csv")
    assert read_metadata(table).num_classes == {"1": 4, "2": 1}
    assert csv.field_size_limit() == limit  # the process's own limit, put back
