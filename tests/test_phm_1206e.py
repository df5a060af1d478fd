"""PHM-Vibench configs that the reference cannot build, or builds differently, from what vibench guessed.

* Keys a reference model reads as attributes (``args.hidden_dim``) are E221 when missing — also for
  Transformer_Dummy, TSPN, MWA_CNN, B_10_VIBT, H_04_VIB_pred and E_02_HSE_v2 outside M_02_ISFM — with
  the keys TSPN reads only for some operators, and W112 for the ones vibench does not read (TSPN's `device`).
* M_02_ISFM_Prompt without a `backbone` or `task_head` builds none there, as the reference does
  (``nn.Identity``), with the reference's parameter count; without an `embedding` it is E221.

The parameter counts were measured with PHM-Vibench's own factory (``scripts/reference.py``, snapshot 6fa64c7;
/tmp/qa_phm/ref_build.py of the QA report); :func:`test_the_prompt_variants_match_the_reference` measures them
again when a checkout is at .reference/PHM-Vibench.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import textwrap
from argparse import Namespace
from pathlib import Path

import pytest
import torch

import vibench
from vibench.compiler.phm_reference import required

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / ".reference" / "PHM-Vibench"

PROMPT = """\
model:
  type: ISFM_Prompt
  name: M_02_ISFM_Prompt
  output_dim: 64
  num_patches: 16
  patch_size_L: 64
  patch_size_C: 1
  num_classes: {1: 4}
"""


def write(tmp_path: Path, text: str, name: str = "experiment.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def errors(path: str) -> list[vibench.Diagnostic]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path)
    return [d for d in err.value.diagnostics if d.severity == "error"]


def missing(path: str) -> list[str]:
    """The keys of the E221 errors, in order; every one located at the `model:` key."""
    found = errors(path)
    assert all(d.code == "E221" for d in found), [(d.code, d.message) for d in found]
    assert all((d.pos.line, d.pos.col) == (1, 1) for d in found)
    return [d.message.split("`")[1] for d in found]


# --------------------------------------------------------------------------------------------
# Keys the reference reads without a default.


def test_transformer_dummy_needs_its_widths(tmp_path: Path) -> None:
    # configs/v0.0.9/demo/ID/id_demo.yaml: PHM-Vibench stops at `args.hidden_dim` (AttributeError).
    path = write(tmp_path, "model:\n  type: Transformer\n  name: Transformer_Dummy\n  input_dim: 2\n  num_classes: 4\n")
    assert missing(path) == ["hidden_dim", "num_heads", "num_layers", "dropout"]
    (first, *_) = errors(path)
    assert "Transformer_Dummy" in first.message and "`hidden_dim: 64`" in first.found


def test_mwa_cnn_needs_in_channels(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n  type: X_model\n  name: MWA_CNN\n  num_classes: 9\n")
    assert missing(path) == ["in_channels"]


TSPN = """\
model:
  type: X_model
  name: TSPN
  num_classes: 9
  signal_processing_configs: {layer1: [LNO, HT, I, I]}
  feature_extractor_configs: [Mean, Std]
  in_channels: 1
  out_channels: 4
  scale: 4
  skip_connection: true
"""


def test_tspn_needs_its_layers_and_widths(tmp_path: Path) -> None:
    path = write(tmp_path, "model:\n  type: X_model\n  name: TSPN\n  num_classes: 9\n")
    assert missing(path) == ["signal_processing_configs", "feature_extractor_configs", "in_channels", "out_channels",
                             "scale", "skip_connection"]


def test_tspn_keys_vibench_does_not_read_are_warnings(tmp_path: Path) -> None:
    # `device` always, `in_dim` and `out_dim` with any operator (their base class reads them): W112, not E221.
    program = vibench.check(write(tmp_path, TSPN))
    w112 = [w.message.split("`")[1] for w in program.warnings if w.code == "W112"]
    assert w112 == ["device", "in_dim", "out_dim"]
    complete = TSPN + "  device: cpu\n  in_dim: 1024\n  out_dim: 1024\n"
    assert not [w for w in vibench.check(write(tmp_path, complete)).warnings if w.code == "W112"]


def test_tspn_wave_filters_need_their_initialisation(tmp_path: Path) -> None:
    # Only WaveFilters reads f_c_mu ... f_b_sigma: needed with a `WF` operator, not without (the TSPN above).
    path = write(tmp_path, TSPN.replace("[LNO, HT, I, I]", "[LNO, WF, HT, I]"))
    assert missing(path) == ["f_c_mu", "f_c_sigma", "f_b_mu", "f_b_sigma"]
    assert required("X_model/TSPN", {"signal_processing_configs": {"layer1": ["I"]}})[-2:] == ("in_dim", "out_dim")
    assert "in_dim" not in required("X_model/TSPN", {"signal_processing_configs": {}})


ISFM = """\
model:
  type: ISFM
  name: {name}
  embedding: {embedding}
  backbone: {backbone}
  task_head: H_01_Linear_cla
  output_dim: 64
  num_patches: 16
  patch_size_L: 64
  patch_size_C: 1
  num_classes: {{1: 4}}
"""


def test_vibt_in_m02_needs_its_keys(tmp_path: Path) -> None:
    path = write(tmp_path, ISFM.format(name="M_02_ISFM", embedding="E_01_HSE", backbone="B_10_VIBT"))
    assert missing(path) == ["hidden_dim", "num_heads", "num_layers", "factor"]


def test_num_channels_is_needed_where_no_composite_sets_it(tmp_path: Path) -> None:
    # M_02_ISFM sets `num_channels` from the metadata before building E_02_HSE_v2; M_01_ISFM does not.
    text = ISFM + "  hidden_dim: 64\n  c_dim: 8\n"
    assert missing(write(tmp_path, text.format(name="M_01_ISFM", embedding="E_02_HSE_v2",
                                               backbone="B_04_Dlinear"))) == ["num_channels"]
    vibench.check(write(tmp_path, text.format(name="M_02_ISFM", embedding="E_02_HSE_v2", backbone="B_04_Dlinear")))


def test_the_heterogeneous_batch_model_needs_a_backbone(tmp_path: Path) -> None:
    text = ISFM.format(name="M_02_ISFM_heterogeneous_batch", embedding="E_01_HSE", backbone="B_04_Dlinear")
    assert missing(write(tmp_path, text.replace("  backbone: B_04_Dlinear\n", ""))) == ["backbone"]


# --------------------------------------------------------------------------------------------
# M_02_ISFM_Prompt's empty slots.


def build(path: str) -> torch.nn.Module:
    return vibench.build(path)


def forward(model: torch.nn.Module) -> torch.Tensor:
    torch.manual_seed(0)
    x = torch.randn(2, 1024, 1)
    with torch.no_grad():
        return model.eval()(x, fs=torch.full((2,), 1000.0), system_id=torch.ones(2, dtype=torch.long))


def params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_prompt_without_an_embedding_is_e221(tmp_path: Path) -> None:
    # The reference reads `args_m.embedding` directly (AttributeError); vibench used to build HSE_prompt.
    path = write(tmp_path, PROMPT + "  backbone: B_04_Dlinear\n")
    (e221,) = errors(path)
    assert e221.code == "E221" and "`embedding`" in e221.message and '"HSE_prompt"' in e221.found


@pytest.mark.parametrize("backbone", ["", "  backbone: null\n", '  backbone: ""\n'])
def test_prompt_without_a_backbone_builds_none(tmp_path: Path, backbone: str) -> None:
    # The reference: nn.Identity (16,004 parameters); vibench used to build B_08_PatchTST (83,076), and without
    # PatchTST's keys refused the config with six E221 about them.
    path = write(tmp_path, PROMPT + "  embedding: HSE_prompt\n  task_head: H_01_Linear_cla\n" + backbone)
    program = vibench.check(path)
    assert not [w for w in program.warnings if w.code in ("W112", "W115")]
    model = build(path)
    assert params(model) == 16_004
    assert not hasattr(model, "backbone")
    assert forward(model).shape == (2, 4)


def test_prompt_backbone_keys_have_no_effect_without_a_backbone(tmp_path: Path) -> None:
    path = write(tmp_path, PROMPT + "  embedding: HSE_prompt\n  task_head: H_01_Linear_cla\n  e_layers: 2\n")
    program = vibench.check(path)
    assert [w.code for w in program.warnings if "e_layers" in w.message] == ["W104"]


def test_prompt_without_a_task_head_returns_the_backbones_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, PROMPT + "  embedding: HSE_prompt\n  backbone: B_04_Dlinear\n")
    model = build(path)
    assert params(model) == 16_288  # the reference's, with an nn.Identity head
    assert not hasattr(model, "task_head")
    assert forward(model).shape == (2, 16, 64)


def test_a_prompt_spec_takes_null_slots_and_keeps_its_defaults(tmp_path: Path) -> None:
    # A vibench spec says null for no backbone; left out, the template's default component is built.
    keys = "output_dim: 64, num_patches: 16, patch_size_L: 64"
    empty = write(tmp_path, f"vibench: 1\nextends: isfm/M_02_ISFM_Prompt\nwith: {{backbone: null, {keys}}}\n", "a.yaml")
    default = write(tmp_path, f"vibench: 1\nextends: isfm/M_02_ISFM_Prompt\nwith: {{{keys}}}\n", "b.yaml")
    assert not hasattr(build(empty), "backbone")
    assert hasattr(build(default), "backbone")
    assert "B_08_PatchTST" in vibench.compile_spec(default, out_path="model.py").source


PATCHTST = "  num_heads: 4\n  e_layers: 2\n  d_ff: 128\n  dropout: 0.1\n  activation: gelu\n"  # B_08_PatchTST's keys


@pytest.mark.parametrize(("backbone", "count"), [("B_04_Dlinear", 13_220), (None, 12_676)])
@pytest.mark.parametrize("written", ["", "  backbone: B_08_PatchTST\n"])
def test_a_slot_given_beside_the_config_needs_the_keys_of_what_it_holds(
        tmp_path: Path, backbone: str | None, count: int, written: str) -> None:
    # The given component is the one built, so its keys (none of PatchTST's) are the ones needed: the required keys
    # were those of the template's default backbone or of the config's, five E221 about B_08_PatchTST's keys, as
    # only the names of the values given reached the PHM-Vibench reading. The counts are the reference's, for the
    # config with `backbone: B_04_Dlinear` and `backbone: null`.
    path = write(tmp_path, PROMPT + "  embedding: E_01_HSE\n  task_head: H_01_Linear_cla\n" + written)
    model = vibench.build(path, backbone=backbone)
    assert type(getattr(model, "backbone", None)).__name__ == ("B_04_Dlinear" if backbone else "NoneType")
    assert params(model) == count


def test_a_slot_given_beside_the_config_needs_its_keys(tmp_path: Path) -> None:
    # The reference fails without them (no attribute 'e_layers'), as with `backbone: B_08_PatchTST` in the config.
    path = write(tmp_path, PROMPT + "  embedding: E_01_HSE\n  task_head: H_01_Linear_cla\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(path, params={"backbone": "B_08_PatchTST"})
    assert [d.message.split("`")[1] for d in err.value.diagnostics if d.code == "E221"] == [
        "num_heads", "e_layers", "d_ff", "dropout", "activation"]
    assert "B_08_PatchTST" in err.value.diagnostics[0].message
    given = {"backbone": "B_08_PatchTST", "num_heads": 4, "e_layers": 2, "d_ff": 128, "dropout": 0.1,
             "activation": "gelu"}
    assert "B_08_PatchTST" in vibench.compile_spec(path, params=given).source  # its keys given with it suffice


def test_a_slot_set_on_the_command_line_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vibench.compiler import cli

    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, PROMPT + "  embedding: E_01_HSE\n  task_head: H_01_Linear_cla\n")
    for value, built in (("B_04_Dlinear", "B_04_Dlinear"), ("null", None)):
        assert cli.main([path, "--set", f"backbone={value}", "-o", "model.py"]) == 0
        source = (tmp_path / "model.py").read_text()
        assert ("class B_04_Dlinear" in source) == (built is not None) and "PatchTST" not in source


@pytest.mark.skipif(not REFERENCE.is_dir() or importlib.util.find_spec("pandas") is None,
                    reason="no PHM-Vibench checkout at .reference/PHM-Vibench or its requirements (make reference)")
@pytest.mark.parametrize(("slots", "count"), [({"embedding": "HSE_prompt", "task_head": "H_01_Linear_cla"}, 16_004),
                                              ({"embedding": "HSE_prompt", "backbone": "B_04_Dlinear"}, 16_288)])
def test_the_prompt_variants_match_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slots: dict,
                                                 count: int) -> None:
    import yaml

    from scripts import reference

    text = PROMPT + "".join(f"  {key}: {value}\n" for key, value in slots.items())
    args = yaml.safe_load(text)["model"]
    monkeypatch.chdir(REFERENCE)
    metadata = reference.reference_metadata(".", [(1, 1.0)], {1: 4})
    factory = reference.reference_module(".", "src.model_factory.model_factory")
    with reference._stand_ins(), contextlib.redirect_stdout(io.StringIO()):
        theirs = factory.model_factory(Namespace(**args), metadata)
    assert params(theirs) == count == params(build(write(tmp_path, text)))
