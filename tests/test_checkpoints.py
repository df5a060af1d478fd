"""PHM-Vibench checkpoints: Lightning files and dicts, the `network.` prefix, what is left aside, head
mismatches explained by `num_classes`, `vibench-compile --weights`, and the copy in model.py."""

from __future__ import annotations

import argparse
import importlib.util
import textwrap
from pathlib import Path

import pytest
import torch

import vibench
from vibench.compiler.cli import EXIT_OK, EXIT_SPEC, EXIT_USAGE, main
from vibench.runtime.checkpoint import LoadResult, ReferenceCheckpointError, load_reference_state_dict

TWO_LAYERS = """
vibench: 1
name: TwoLayers
reference: {model: CNN/TwoLayers, state_dict_renames: [["^classifier[.]", "head."]]}
inputs: {x: {shape: [B, 3]}}
nodes:
  body: {block: linear, in: x, out_features: 4}
  head: {block: linear, in: body, out_features: 2}
outputs: {y: head}
"""


def reference_weights() -> dict[str, torch.Tensor]:
    """The reference model's own state_dict (keys before the template's renames)."""
    torch.manual_seed(0)
    return {"body.weight": torch.randn(4, 3), "body.bias": torch.randn(4),
            "classifier.weight": torch.randn(2, 4), "classifier.bias": torch.randn(2)}


def lightning(weights: dict[str, torch.Tensor], prefix: str = "network.") -> dict:
    """A checkpoint as PyTorch Lightning saves PHM-Vibench's task: the model under `network.`, the task's
    other modules beside it, and training state around it."""
    state = {prefix + k: v for k, v in weights.items()}
    state["loss_fn.pos_weight"] = torch.ones(2)  # another module of the task, not the model's
    return {"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.4.0", "state_dict": state,
            "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(4, 3)}}, "param_groups": [{"lr": 1e-3}]}],
            "lr_schedulers": [], "callbacks": {}, "hyper_parameters": {"lr": 1e-3}}


def loaded_from(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> bool:
    own = model.state_dict()
    return torch.equal(own["body.weight"], weights["body.weight"]) and torch.equal(own["head.bias"],
                                                                                   weights["classifier.bias"])


def test_a_lightning_checkpoint_dict_round_trips() -> None:
    model, weights = vibench.build(text=TWO_LAYERS), reference_weights()
    assert load_reference_state_dict(model, lightning(weights)) == LoadResult([], [])
    assert loaded_from(model, weights)


def test_a_lightning_checkpoint_file_round_trips(tmp_path: Path) -> None:
    model, weights = vibench.build(text=TWO_LAYERS), reference_weights()
    torch.save(lightning(weights), tmp_path / "last.ckpt")
    assert load_reference_state_dict(model, tmp_path / "last.ckpt") == LoadResult([], [])
    assert loaded_from(model, weights)
    assert load_reference_state_dict(model, str(tmp_path / "last.ckpt")) == LoadResult([], [])


def test_a_file_with_objects_needs_weights_only_false(tmp_path: Path) -> None:
    model, weights = vibench.build(text=TWO_LAYERS), reference_weights()
    checkpoint = lightning(weights)
    checkpoint["hyper_parameters"] = argparse.Namespace(lr=1e-3)  # what Lightning pickles from a task's args
    torch.save(checkpoint, tmp_path / "last.ckpt")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ReferenceCheckpointError, match="weights_only=False"):
        load_reference_state_dict(model, tmp_path / "last.ckpt")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    load_reference_state_dict(model, tmp_path / "last.ckpt", weights_only=False)
    assert loaded_from(model, weights)


@pytest.mark.parametrize(("content", "found"), [(b"", "it is empty"), (b"root:x:0:0\n", "it starts with b'root'")])
def test_a_file_that_is_no_checkpoint_is_named_so(tmp_path: Path, content: bytes, found: str) -> None:
    (tmp_path / "notes.pt").write_bytes(content)
    with pytest.raises(ReferenceCheckpointError, match=f"is not a PyTorch checkpoint .*; {found}"):
        load_reference_state_dict(vibench.build(text=TWO_LAYERS), tmp_path / "notes.pt")


def test_a_legacy_checkpoint_file_still_loads(tmp_path: Path) -> None:
    model, weights = vibench.build(text=TWO_LAYERS), reference_weights()
    torch.save(lightning(weights), tmp_path / "old.ckpt", _use_new_zipfile_serialization=False)
    assert load_reference_state_dict(model, tmp_path / "old.ckpt") == LoadResult([], [])
    assert loaded_from(model, weights)


def test_the_prefix_is_configurable() -> None:
    model, weights = vibench.build(text=TWO_LAYERS), reference_weights()
    assert load_reference_state_dict(model, lightning(weights, "model."), prefix="model.") == LoadResult([], [])
    with pytest.raises(ReferenceCheckpointError, match=r"unexpected \(5\): 'loss_fn.pos_weight', 'network.body.bias'"):
        load_reference_state_dict(model, lightning(weights), prefix=None)


def test_non_strict_loading_warns_and_returns_what_it_left_aside() -> None:
    model, weights = vibench.build(text=TWO_LAYERS), reference_weights()
    checkpoint = lightning(weights)
    del checkpoint["state_dict"]["network.body.bias"]
    checkpoint["state_dict"]["network.extra.weight"] = torch.zeros(1)
    with pytest.warns(UserWarning, match=r"missing \(1\): 'body.bias'; unexpected \(1\): 'extra.weight'"):
        result = load_reference_state_dict(model, checkpoint, strict=False)
    assert result == LoadResult(["body.bias"], ["extra.weight"])
    with pytest.raises(ReferenceCheckpointError, match="missing"):
        load_reference_state_dict(model, checkpoint)


# --------------------------------------------------------------------------------------------
# Per-system heads: the checkpoint says which num_classes it was trained with.


def head_checkpoint(num_classes) -> dict[str, torch.Tensor]:
    """H_01's reference keys (`mutiple_fc.<system>.*`, or vibench's `shared_fc.*` for one count)."""
    donor = vibench.build("isfm/task_head/H_01_Linear_cla", output_dim=16, num_classes=num_classes)
    return {k.replace("mutiple_fc.heads.", "mutiple_fc."): v for k, v in donor.state_dict().items()}


def test_an_int_num_classes_against_per_system_heads_is_explained() -> None:
    model = vibench.build("isfm/task_head/H_01_Linear_cla", output_dim=16, num_classes=4)
    with pytest.raises(ReferenceCheckpointError,
                       match=r"The checkpoint has per-system heads 1, 2: write num_classes: \{1: 4, 2: 7\}"):
        load_reference_state_dict(model, {"state_dict": {"network." + k: v for k, v in
                                                         head_checkpoint({"1": 4, "2": 7}).items()}})


def test_other_systems_in_the_checkpoint_are_explained() -> None:
    model = vibench.build("isfm/task_head/H_01_Linear_cla", output_dim=16, num_classes={"1": 10})
    with pytest.raises(ReferenceCheckpointError, match=r"write num_classes: \{1: 4, 2: 7\}"):
        load_reference_state_dict(model, head_checkpoint({"1": 4, "2": 7}))


def test_one_shared_head_against_per_system_heads_is_explained() -> None:
    model = vibench.build("isfm/task_head/H_01_Linear_cla", output_dim=16, num_classes={"1": 4, "2": 7})
    with pytest.raises(ReferenceCheckpointError, match=r"write num_classes: 5 \(the int form\)"):
        load_reference_state_dict(model, head_checkpoint(5))


# --------------------------------------------------------------------------------------------
# vibench-compile CFG -o model.py --weights CKPT, and the loader copied into model.py.

EXPERIMENT = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 16
  num_patches: 4
  patch_size_L: 8
  patch_size_C: 1
  num_classes: {1: 3, 2: 5}
"""


def import_model_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}_{id(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def experiment_checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A Lightning checkpoint of the experiment's model, in the reference's key layout."""
    config = tmp_path / "experiment.yaml"
    config.write_text(EXPERIMENT)
    model = vibench.build(str(config))
    torch.manual_seed(1)
    weights = {k.replace("mutiple_fc.heads.", "mutiple_fc."): torch.randn_like(v) if v.is_floating_point() else v
               for k, v in model.state_dict().items()}
    torch.save(lightning(weights), tmp_path / "epoch=3.ckpt")
    return tmp_path / "epoch=3.ckpt", weights


def test_cli_weights_writes_a_state_dict_the_emitted_class_loads(tmp_path: Path) -> None:
    checkpoint, weights = experiment_checkpoint(tmp_path)
    out = tmp_path / "model.py"
    assert main([str(tmp_path / "experiment.yaml"), "-o", str(out), "--weights", str(checkpoint)]) == EXIT_OK
    model = import_model_file(out).M_01_ISFM()
    model.load_state_dict(torch.load(tmp_path / "model.pt"))  # renames already applied: strict, directly
    own = model.state_dict()
    assert torch.equal(own["task_head.mutiple_fc.heads.2.weight"], weights["task_head.mutiple_fc.2.weight"])
    assert all(torch.equal(own[k], v) for k, v in weights.items() if "mutiple_fc" not in k)


def test_cli_weights_that_do_not_fit_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint, _ = experiment_checkpoint(tmp_path)
    config = tmp_path / "experiment.yaml"
    config.write_text(EXPERIMENT.replace("{1: 3, 2: 5}", "3"))
    assert main([str(config), "-o", str(tmp_path / "model.py"), "--weights", str(checkpoint)]) == EXIT_SPEC
    assert "write num_classes: {1: 3, 2: 5}" in capsys.readouterr().err
    assert not (tmp_path / "model.py").exists() and not (tmp_path / "model.pt").exists()
    assert main([str(config), "--check", "--weights", str(checkpoint)]) == EXIT_USAGE


def test_cli_weights_names_a_folder_as_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(TWO_LAYERS))
    assert main([str(tmp_path / "spec.yaml"), "-o", str(tmp_path / "m.py"), "--weights", str(tmp_path)]) == EXIT_USAGE
    assert "is a folder, not a checkpoint file" in capsys.readouterr().err
    assert not (tmp_path / "m.py").exists()


def test_the_loader_in_model_py_takes_lightning_checkpoints(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(TWO_LAYERS))
    assert main([str(tmp_path / "spec.yaml"), "-o", str(tmp_path / "two.py")]) == EXIT_OK
    module = import_model_file(tmp_path / "two.py")
    model, weights = module.TwoLayers(), reference_weights()
    assert module.load_reference_state_dict(model, lightning(weights)) == ([], [])
    assert loaded_from(model, weights)
    with pytest.raises(KeyError, match="unexpected"):
        module.load_reference_state_dict(model, lightning(weights), prefix="")
    # The path of a checkpoint file too, read with weights_only (a path was an AttributeError: no .get).
    torch.save(lightning(weights), tmp_path / "epoch=9.ckpt")
    fresh = module.TwoLayers()
    assert module.load_reference_state_dict(fresh, str(tmp_path / "epoch=9.ckpt")) == ([], [])
    assert loaded_from(fresh, weights)
    assert module.load_reference_state_dict(module.TwoLayers(), tmp_path / "epoch=9.ckpt") == ([], [])


def test_library_renames_leave_the_names_they_write_alone() -> None:
    """docs/phm.md: renaming is idempotent, so vibench's own state_dict loads through either loader: every
    template's own keys (at its defaults, built on the meta device: no weights allocated) pass its renames
    unchanged (E_02_HSE_rec's `^channel_embedders\\.` wrote `channel_embedders.heads.heads.1...` over its own
    keys with per-system channel mixers: tested below)."""
    import re

    from vibench.compiler.resolve import LIBRARY_DIR

    checked = 0
    for path in sorted(Path(LIBRARY_DIR).rglob("*.yaml")):
        if "state_dict_renames" not in path.read_text():
            continue
        with torch.device("meta"):
            model = vibench.build(str(path))
        rules = type(model).REFERENCE_STATE_DICT_RENAMES
        for key in model.state_dict():
            renamed = key
            for pattern, repl in rules:
                renamed = re.sub(pattern, repl, renamed)
            assert renamed == key, f"{path.name}: {key} -> {renamed}"
        checked += 1
    assert checked > 30


def test_per_system_hse_rec_loads_its_own_state_dict() -> None:
    """E_02_HSE_rec with per-system channel mixers: its own keys go through its renames unchanged."""
    model = vibench.build("isfm/embedding/E_02_HSE_rec", num_channels={1: 1, 2: 1})
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert load_reference_state_dict(model, state) == LoadResult([], [])
