"""Which setting an error inside a template is blamed on (vibench/compiler/blame.py): values given with the
compile (`--set`, `params=`) and bound inputs take part in the trials, and never make an innocent key
"alone give" the error."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic

RESNET_CONFIG = "model:\n  type: CNN\n  name: ResNet1D\n  num_classes: 3\n  input_dim: 1\n  initial_channels: 8\n"
ISFM_CONFIG = ("model:\n  type: ISFM\n  name: M_01_ISFM\n  embedding: E_02_HSE_v2\n  backbone: B_04_Dlinear\n"
               "  task_head: H_04_VIB_pred\n  num_channels: 2\n  output_dim: 64\n  num_patches: 16\n"
               "  patch_size_L: 32\n  patch_size_C: 1\n  num_classes: 4\n  hidden_dim: 64\n  c_dim: 8\n")


def _error(path: Path, **kw: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path), **kw)  # type: ignore[arg-type]
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    return d


@pytest.fixture
def resnet_config(tmp_path: Path) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(RESNET_CONFIG, encoding="utf-8")
    return path


def test_a_check_failed_by_a_set_value_is_the_command_lines_not_the_first_key(
        resnet_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--set layers=[2,2]`: the config has no `layers`; every key tried alone kept the override, so the
    first one (`num_classes: 3`) "alone gave" the error. It stays at the parameter's declaration, as E208
    of a --set value does, and says the value is the command line's."""
    assert main([str(resnet_config), "--check", "--set", "layers=[2,2]"]) == 1
    err = capsys.readouterr().err
    assert "error[E215]: layers needs four entries" in err
    assert "experiment.yaml:4:3" not in err and "num_classes` alone gives it" not in err
    assert "vibench/specs/cnn/ResNet1D.yaml:17:3" in err  # `layers:` declared (a located error, not a bare one)
    assert "the value is the one given on the command line: `--set layers=...`, which alone gives it" in err


def test_a_set_value_of_a_key_the_file_sets_moves_to_that_key(resnet_config: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`--set initial_channels=1000000000` over the config's `initial_channels: 8`: E307 at that key (line 6),
    where E208 of an out-of-bounds --set value stands too, with where the template raised it."""
    assert main([str(resnet_config), "--check", "--set", "initial_channels=1000000000"]) == 1
    err = capsys.readouterr().err
    assert "error[E307]" in err and "experiment.yaml:6:3" in err and "experiment.yaml:4:3" not in err
    assert ("raised by node `conv1` at vibench/specs/cnn/ResNet1D.yaml:" in err
            and "`--set initial_channels=...`, which alone gives it" in err)


def test_params_in_python_are_said_to_be_pythons(resnet_config: Path) -> None:
    d = _error(resnet_config, params={"layers": [2, 2]})
    assert d.code == "E215" and d.pos is not None and d.pos.file.endswith("cnn/ResNet1D.yaml")
    assert d.notes[0] == ("the value is `layers` as given in Python (a keyword of vibench.build, or check's "
                          "`params=`), which alone gives it")
    d = _error(resnet_config, params={"initial_channels": 10**9})
    assert d.code == "E307" and d.pos is not None and (d.pos.file, d.pos.line) == (str(resnet_config), 6)


def test_an_extends_spec_with_a_set_value_blames_the_value(tmp_path: Path) -> None:
    spec = tmp_path / "mine.yaml"
    spec.write_text("vibench: 1\nextends: cnn/ResNet1D\nwith: {num_classes: 3, input_dim: 1}\n", encoding="utf-8")
    d = _error(spec, params={"layers": [2, 2]})
    assert d.pos is not None and d.pos.file.endswith("cnn/ResNet1D.yaml") and "alone gives it" in d.notes[0]
    assert "`num_classes`" not in d.notes[0]


def test_an_e208_of_a_set_value_keeps_one_note_of_where_it_came_from(resnet_config: Path) -> None:
    d = _error(resnet_config, params={"output_dim": -1})
    assert d.code == "E208" and d.pos is not None and d.pos.file.endswith("cnn/ResNet1D.yaml")
    assert [n for n in d.notes if "as given in Python" in n] == [d.notes[0]] and "`num_classes`" not in d.notes[0]


def test_a_class_count_from_the_metadata_table_is_said_to_be_the_tables(tmp_path: Path) -> None:
    """`--metadata` gives an `extends:` spec its `num_classes`: an error of that value says it is the table's,
    never "given on the command line: `--set num_classes=...`"."""
    spec, table = tmp_path / "mine.yaml", tmp_path / "metadata.csv"
    spec.write_text("vibench: 1\nextends: cnn/ResNet1D\nwith: {input_dim: 1, initial_channels: 8}\n", encoding="utf-8")
    table.write_text("Id,Dataset_id,Label\n1,1,99999999999999\n", encoding="utf-8")  # a classifier too large
    d = _error(spec, metadata=str(table))
    assert d.code == "E307" and d.notes[0].startswith("the value is max(Label) + 1 per Dataset_id of the metadata")
    assert d.notes[0].endswith("(`metadata=`), which alone gives it") and len(d.notes) == 1


def test_an_error_of_the_templates_defaults_is_blamed_on_no_key(resnet_config: Path) -> None:
    """`--input x=2,1024,5` against `input_dim: 1`, which is the default too: no key alone gives it (they all
    do), so none is named; the message says it is --input's."""
    d = _error(resnet_config, inputs={"x": (2, 1024, 5)})
    assert d.code == "E305" and "inputs['x']" in d.message and not any("alone gives it" in n for n in d.notes)


def test_an_input_against_a_width_two_components_fix_stands_at_that_setting(tmp_path: Path) -> None:
    """E_02_HSE_v2 and H_04_VIB_pred both read `num_channels: 2` (the reference needs it under M_01_ISFM): no key
    alone gives the constraint, and without `num_channels` the same check reads `C == 1` -- the key gives the
    value it checks. The error is in the
    user's file, not at vibench/specs/isfm/M_01_ISFM.yaml's embedding node."""
    config = tmp_path / "experiment.yaml"
    config.write_text(ISFM_CONFIG, encoding="utf-8")
    d = _error(config, inputs={"x": (2, 1024, 5)})
    assert d.code == "E305" and d.pos is not None and (d.pos.file, d.pos.line, d.pos.col) == (str(config), 7, 3)
    assert d.notes[0].startswith("raised by node `embedding` at vibench/specs/isfm/M_01_ISFM.yaml:")
    assert "this `num_channels` gives the value it checks: without it, it reads" in d.notes[0]
    assert d.origin is not None and d.origin.file.endswith("M_01_ISFM.yaml")


REAL_CONFIG = Path(__file__).resolve().parent.parent / ".reference" / "PHM-Vibench" / "configs" / "v0.0.9" / "dev" \
    / "exp1_mse_lossforgeneration.yaml"


@pytest.mark.skipif(not REAL_CONFIG.is_file(), reason="no PHM-Vibench checkout at .reference/PHM-Vibench")
def test_phm_vibenchs_own_config_with_a_wrong_input_is_located_in_it() -> None:
    d = _error(REAL_CONFIG, inputs={"x": (2, 1024, 5)})
    assert d.code == "E305" and d.pos is not None and d.pos.file.endswith("exp1_mse_lossforgeneration.yaml")
    assert "`input_dim`" in d.notes[0]


@pytest.mark.parametrize("order", [("d_model=40", "n_heads=16"), ("n_heads=16", "d_model=40")])
def test_settings_that_each_take_the_error_away_are_all_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], order: tuple[str, str]) -> None:
    """40 wide does not divide into 16 heads: without either value the error goes away. The note named the
    first one tried as if it alone were the cause; it names both now, whatever their order."""
    spec = tmp_path / "a.yaml"
    spec.write_text("vibench: 1\nextends: transformer/Autoformer\nwith: {input_dim: 1, num_classes: 3}\n",
                    encoding="utf-8")
    assert main([str(spec), "--check", "--set", order[0], "--set", order[1]]) == 1
    err = capsys.readouterr().err
    assert "error[E301]: the model width 40 does not divide into 16 heads" in err
    first, second = (key.split("=")[0] for key in order)
    assert (f"`--set {first}=...`; without it the error goes away, as it does without `--set {second}`"
            in " ".join(err.split())), err
    spec.write_text(spec.read_text().replace("num_classes: 3", "num_classes: 3, d_model: 40"), encoding="utf-8")
    assert main([str(spec), "--check", "--set", "n_heads=16"]) == 1  # one in the file, one given
    err = " ".join(capsys.readouterr().err.split())
    assert "a.yaml:3:" in err
    assert "without this `d_model` the error goes away, as it does without `--set n_heads`" in err
