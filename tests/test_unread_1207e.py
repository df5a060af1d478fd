"""W101/W104 for unread keys of specs, `--set` values and PHM-Vibench configs (QA of 1207e).

What was wrong: a failed compile dropped the W101 of a spec's `with:` key or a `--set` key the reference ignores
(only phm.translate's were kept with the errors); W104 said "remove it" of a key PHM-Vibench's reference needs
(`factor` of B_08_PatchTST, then W112); a slot component's parameters were de-duplicated pair by pair (20,000 of
them: 47 s for `--check`); a null for a key no chosen component declares got the null wording, with a hint about
B_08_PatchTST's `activation` whatever the model; `found` named only the first backbone of `ensemble_backbones`;
a value the metadata table gave was "(from --set or vibench.build)", to be removed; a model guide key
(`in_channels`) was named by the parameter it is read as; and a flat value that a task's own value replaced was
"no component reads it".

What is right now: each of those says where the value came from and why it has no effect, with a hint that is
true for the case at hand.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import vibench
from vibench.compiler import scoped
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.pipeline import compile_program
from vibench.compiler.resolve import Library

SMALL = {"num_patches": 8, "patch_size_L": 8, "output_dim": 16, "num_classes": 4}
ISFM_CONFIG = {"type": "ISFM", "name": "M_01_ISFM", "embedding": "E_01_HSE", "backbone": "B_08_PatchTST",
               "task_head": "H_01_Linear_cla", "output_dim": 32, "num_heads": 4, "num_patches": 8,
               "patch_size_L": 8, "patch_size_C": 1, "num_classes": 3, "e_layers": 1, "d_ff": 32,
               "dropout": 0.1, "activation": "relu"}


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _spec(tmp_path: Path, template: str, **settings: object) -> str:
    text = yaml.safe_dump({"vibench": 1, "extends": template, "with": settings}, sort_keys=False)
    return _write(tmp_path / "mine.yaml", text)


def _config(tmp_path: Path, **model: object) -> str:
    return _write(tmp_path / "experiment.yaml", yaml.safe_dump({"model": model}, sort_keys=False))


def _warnings(spec: str, key: str, **kwargs: object) -> list[Diagnostic]:
    """The W104 of the value of ``key`` (the others of the spec are not these tests' concern)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = vibench.check(spec, **kwargs).warnings  # type: ignore[arg-type]
    return [w for w in found if w.code == "W104" and w.message.startswith(f"`{key}`")]


def _failed(spec: str, **kwargs: object) -> tuple[Diagnostic, ...]:
    with pytest.raises(SpecError) as info:
        compile_program(spec, **kwargs)  # type: ignore[arg-type]
    return info.value.diagnostics


# -- 1: W101 with the errors ----------------------------------------------------------------------------------------

def test_the_w101_of_a_with_key_comes_with_the_errors(tmp_path: Path) -> None:
    found = _failed(_spec(tmp_path, "cnn/AttentionCNN", depth=18, num_classes=4, channels="oops"))
    assert [d.code for d in found] == ["E202", "W101"]
    assert found[1].message.startswith("`depth` does not change the outputs of the reference CNN/AttentionCNN")


def test_the_w101_of_a_set_key_comes_with_the_errors_of_a_config(tmp_path: Path) -> None:
    config = _config(tmp_path, type="CNN", name="AttentionCNN", input_dim=1, num_classes=3, channels="oops")
    found = _failed(config, params={"depth": 1}, overrides_text=[("depth", "1")])
    assert [d.message for d in found if d.code == "W101"] == [
        "`depth` (from --set) does not change the outputs of the reference CNN/AttentionCNN; vibench ignores it"]


def test_the_w101_come_with_an_error_the_trials_located(tmp_path: Path) -> None:
    found = _failed(_spec(tmp_path, "transformer/Autoformer", d_model=30, num_layers=3), params={"label_len": 3})
    assert found[0].code == "E301"
    assert sorted(d.message.split(" ")[0] for d in found if d.code == "W101") == ["`label_len`", "`num_layers`"]


# -- 2: a key PHM-Vibench needs ---------------------------------------------------------------------------------------

def test_w104_does_not_say_remove_a_key_phm_vibench_needs(tmp_path: Path) -> None:
    [w104] = _warnings(_config(tmp_path, **ISFM_CONFIG, factor=5), "factor")
    assert w104.message == "`factor` has no effect here: no component of this M_01_ISFM reads it"
    assert "PHM-Vibench's B_08_PatchTST cannot be built without it: keep it" in (w104.hint or "")
    assert "remove it, or pick" not in (w104.hint or "")


# -- 4: the parameters of a slot component, in linear time --------------------------------------------------------

class _Name(str):
    """A parameter name that counts how often it is compared with another one by `==` or `!=`."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Name.compared += 1
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        _Name.compared += 1
        return str.__ne__(self, other)

    __hash__ = str.__hash__


def test_a_components_own_parameters_are_not_compared_pair_by_pair() -> None:
    count = 3000
    data = {"extends": "./base.yaml", "params": {_Name(f"p{i}"): {"type": "int", "default": i} for i in range(count)}}
    _Name.compared = 0
    base, own = scoped._own_params(data)
    assert _Name.compared < count  # pair by pair: count * (count - 1) / 2
    assert base == "./base.yaml" and [name for name, _, _ in own] == [f"p{i}" for i in range(count)]


def test_a_base_keeps_its_parameters_and_the_merge_is_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 3000
    ints = {"type": "int", "default": 1}
    base = {"vibench": 1, "name": "Base", "params": {**{f"p{i}": dict(ints) for i in range(count)}, "shared": ints}}
    _write(tmp_path / "base.yaml", yaml.safe_dump(base, sort_keys=False))
    own = {"shared": {"type": "str", "default": "a"}, **{f"q{i}": dict(ints) for i in range(count)}}
    child = _write(tmp_path / "child.yaml",
                   yaml.safe_dump({"vibench": 1, "extends": "./base.yaml", "params": own}, sort_keys=False))
    own_params = scoped._own_params

    def counted(data: object) -> tuple[str | None, tuple[tuple[str, str, str | None], ...]]:
        extends, entries = own_params(data)
        return extends, tuple((_Name(name), kind, doc) for name, kind, doc in entries)

    monkeypatch.setattr(scoped, "_own_params", counted)
    monkeypatch.setattr(scoped, "_FILE_PARAMS", {})
    _Name.compared = 0
    params = scoped.component_params(child, Library())
    assert _Name.compared < 4 * count  # the child's names against the base's, pair by pair: count * count
    names = [str(name) for name, _, _ in params]
    assert names == [f"p{i}" for i in range(count)] + ["shared"] + [f"q{i}" for i in range(count)]
    assert dict((str(name), kind) for name, kind, _ in params)["shared"] == "int"  # the base's declaration


# -- 5: a null -------------------------------------------------------------------------------------------------------

def test_a_null_no_chosen_component_declares_is_the_plain_w104(tmp_path: Path) -> None:
    [w104] = _warnings(_spec(tmp_path, "isfm/M_01_ISFM", **SMALL, task_head="H_06_Anomaly_det", rul_max_value=None),
                       "rul_max_value")
    assert w104.message == "`rul_max_value` has no effect here: no component of this M_01_ISFM reads it"
    assert "H_05_RUL_pred" in (w104.hint or "") and "activation" not in (w104.hint or "")


def test_the_null_hint_names_the_value_the_chosen_component_keeps(tmp_path: Path) -> None:
    [w104] = _warnings(_spec(tmp_path, "isfm/M_01_ISFM", **SMALL, backbone="B_08_PatchTST", d_ff=None), "d_ff")
    assert w104.message == ("`d_ff` set to null has no effect here: B_08_PatchTST takes no null for it, and keeps "
                            "its own value")
    assert (w104.hint or "").startswith("B_08_PatchTST keeps `d_ff: 256`: give `d_ff` a value")
    assert "activation" not in (w104.hint or "")


# -- 6: every backbone of an ensemble -------------------------------------------------------------------------------

def test_found_lists_every_backbone_of_an_ensemble(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "isfm/M_01_ISFM", **SMALL, ensemble_backbones=["B_04_Dlinear", "B_08_PatchTST"],
                 rul_max_value=3.0)
    [w104] = _warnings(spec, "rul_max_value")
    assert w104.found == "the components here: E_01_HSE, B_04_Dlinear, B_08_PatchTST, H_01_Linear_cla"


# -- 7: where a value came from ---------------------------------------------------------------------------------------

def test_a_value_given_in_python_or_on_the_command_line_says_so(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "isfm/M_01_ISFM", **SMALL)
    [w104] = _warnings(spec, "rul_max_value", params={"rul_max_value": 3.0})
    assert w104.message.startswith("`rul_max_value` (given in Python) has no effect here")
    program = compile_program(spec, params={"rul_max_value": 3.0}, overrides_text=[("rul_max_value", "3.0")])
    assert [w.message.split(" has ")[0] for w in program.warnings if w.code == "W104"] == [
        "`rul_max_value` (from --set)"]


def test_a_num_classes_the_table_gave_is_not_to_be_removed(tmp_path: Path) -> None:
    table = _write(tmp_path / "m.csv", "Id,Dataset_id,Label\n1,1,0\n2,1,3\n")
    [w104] = _warnings("isfm/M_02_ISFM_Prompt", "num_classes", params={"task_head": None}, metadata=table)
    assert w104.message.startswith("`num_classes` (from the metadata table) has no effect here")
    assert "the metadata table gave it (metadata=)" in (w104.hint or "") and "remove" not in (w104.hint or "")
    config = _config(tmp_path, type="ISFM_Prompt", name="M_02_ISFM_Prompt", embedding="HSE_prompt",
                     backbone="B_04_Dlinear", task_head=None, output_dim=16, num_patches=8, patch_size_L=8,
                     patch_size_C=1)
    [w104] = _warnings(config, "num_classes", metadata=table)
    assert w104.message.startswith("`num_classes` (from the metadata table) has no effect here")
    assert w104.pos is not None and (w104.pos.line, w104.pos.col) == (1, 1)  # `model:`: the config has no such line
    assert "remove" not in (w104.hint or "")


# -- 8: a model guide key ---------------------------------------------------------------------------------------------

def test_a_model_guide_key_is_named_as_written(tmp_path: Path) -> None:
    model = {**ISFM_CONFIG, "backbone": "B_04_Dlinear", "in_channels": 2}
    for key in ("num_heads", "e_layers", "d_ff", "dropout", "activation"):
        del model[key]
    [w104] = _warnings(_config(tmp_path, **model), "in_channels")
    assert w104.message == ("`in_channels` (read as `input_dim`) has no effect here: no component of this M_01_ISFM "
                            "reads it")


# -- 10: a task's own value -------------------------------------------------------------------------------------------

def test_a_flat_value_a_tasks_own_value_replaces_says_so(tmp_path: Path) -> None:
    tasks = {"signal_prediction": {"head": "H_03_Linear_pred", "max_len": 128}}
    [w104] = _warnings(_spec(tmp_path, "isfm/M_01_ISFM", **SMALL, max_len=64, task_configs=tasks), "max_len")
    assert w104.message == ("`max_len` has no effect here: H_03_Linear_pred takes its value from copy "
                            "`signal_prediction` of node `task_heads` instead")
    assert "no component" not in w104.message and "H_09_multiple_task" not in (w104.hint or "")
