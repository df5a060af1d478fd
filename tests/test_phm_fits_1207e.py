"""Two defects found comparing vibench with PHM-Vibench (QA against the reference, 12-07).

B_03_FITS: the reference hard-codes `seq_len` 4096 whatever the length T it is given, so for any T >= 128 (ISFM
tokens too) it maps the lowest 65 bins of T steps and transforms them back to 4096 samples; vibench's returned T
samples (its `seq_len` only fixed T), so under M_01_ISFM with 256 tokens the logits differed by 3.3e-3 with the
reference's weights loaded, silently, and DEVIATIONS.md said the reference crashes on ISFM tokens. Now `seq_len`
is the length the maps are built for, default 4096: the reference's output, value for value; `seq_len: null` is
FITS's own interpolation (T + pred_len samples), the former behaviour.

A PHM-Vibench config whose slot names a component that does not exist (`embedding: E_01_HSE_Prompt`) got only
E221 for a key another component lacks ("add `e_layers: 2`"), and E214 once that was added. PHM-Vibench stops at
the name (a KeyError); now so does vibench: E214 at the slot's key, with no E221 before it.
"""

from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path

import pytest
import torch

import vibench
from vibench.runtime.checkpoint import load_reference_state_dict

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / ".reference" / "PHM-Vibench"
needs_reference = pytest.mark.skipif(not (REFERENCE / "src" / "model_factory").is_dir(),
                                     reason="no PHM-Vibench checkout at .reference/PHM-Vibench (make reference)")
complex_modules = pytest.mark.filterwarnings("ignore:Complex modules are a new feature:UserWarning")


def _fits(length: int, **params: object) -> torch.nn.Module:
    return vibench.build("isfm/backbone/B_03_FITS", inputs={"x": (2, length, 1)}, **params).eval()


def _oracle(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """PHM-Vibench's forward for one channel, 65 bins and its hard-coded seq_len 4096 (pred_len 0)."""
    mean = x.mean(1, keepdim=True)
    var = torch.var(x - mean, dim=1, keepdim=True) + 1e-5
    low = torch.fft.rfft((x - mean) / var.sqrt(), dim=1)[:, :65]
    full = torch.zeros(x.shape[0], 2049, 1, dtype=low.dtype)
    full[:, :65, 0] = low[:, :, 0] @ weight.T + bias
    return torch.fft.irfft(full, dim=1) * var.sqrt() + mean


@complex_modules
@pytest.mark.parametrize("length", [128, 256, 1000])
def test_fits_returns_what_the_reference_computes_for_any_length(length: int) -> None:
    model = _fits(length)
    layer = model.fits.freq_upsampler[0]
    with torch.no_grad():
        layer.weight.copy_(torch.randn(65, 65, dtype=torch.cfloat, generator=torch.Generator().manual_seed(1)) / 8)
        layer.bias.copy_(torch.randn(65, dtype=torch.cfloat, generator=torch.Generator().manual_seed(2)))
        x = torch.randn(2, length, 1, generator=torch.Generator().manual_seed(3))
        out = model(x)
        torch.testing.assert_close(out, _oracle(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)
    assert out.shape == (2, 4096, 1)


def test_the_output_length_is_checked_at_compile_time() -> None:
    def tokens(**params: object) -> str:
        program = vibench.check("isfm/backbone/B_03_FITS", inputs={"x": (2, 256, 1)}, params=params)
        ((_, _, shape),) = program.root.outputs
        return str(shape)

    assert tokens() == "[B, 4096, 1]"  # the reference's hard-coded length
    assert tokens(seq_len=None) == "[B, T, 1]"  # FITS's own interpolation keeps T
    assert tokens(seq_len=None, pred_len=64) == "[B, 320, 1]"
    assert tokens(pred_len=64) == "[B, 4160, 1]"
    with pytest.raises(vibench.SpecError) as err:  # 65 bins do not fit maps built for 64 samples (33 bins)
        tokens(seq_len=64)
    assert [d.code for d in err.value.diagnostics] == ["E302"]


@complex_modules
def test_fits_null_seq_len_keeps_the_time_axis() -> None:
    model = _fits(1001, seq_len=None)
    with torch.no_grad():
        assert model(torch.randn(2, 1001, 1)).shape == (2, 1001, 1)


@needs_reference
@complex_modules
@pytest.mark.parametrize("length", [128, 256, 1000])
def test_fits_matches_the_reference_with_its_weights(length: int) -> None:
    from argparse import Namespace

    from scripts import reference

    theirs = reference.load_reference_class(REFERENCE, "ISFM/backbone/B_03_FITS")(Namespace(patch_size_C=1)).eval()
    with torch.no_grad():
        for tensor in theirs.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, dtype=tensor.dtype, generator=torch.Generator().manual_seed(4)))
    ours = _fits(length)
    load_reference_state_dict(ours, theirs.state_dict())  # strict: every key and shape after renaming
    x = torch.randn(2, length, 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = theirs(x)
        assert expected.shape == (2, 4096, 1)
        torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)


ISFM = dict(embedding="E_01_HSE", backbone="B_03_FITS", task_head="H_01_Linear_cla", num_patches=256, patch_size_L=16,
            patch_size_C=1, output_dim=1)


@needs_reference
@complex_modules
@pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")  # the reference's metadata table, with pandas 3
def test_m01_with_fits_on_256_tokens_gives_the_reference_logits(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pandas")
    import yaml

    from scripts import reference

    files = [(1, 1000.0), (1, 1000.0)]
    monkeypatch.chdir(REFERENCE)
    metadata = reference.reference_metadata(".", files, {1: 3})
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = reference.build_reference_model(".", "ISFM/M_01_ISFM", ISFM, metadata).eval()
    path = tmp_path / "experiment.yaml"
    model = {"type": "ISFM", "name": "M_01_ISFM", **ISFM, "num_classes": {"1": 3}}
    path.write_text(yaml.safe_dump({"model": model}), encoding="utf-8")
    ours = vibench.build(str(path), inputs={"x": (2, 1024, 1)}).eval()
    load_reference_state_dict(ours, theirs.state_dict())
    x = torch.randn(2, 1024, 1, generator=torch.Generator().manual_seed(6))
    fs, system_id = torch.tensor([fs for _, fs in files]), torch.tensor([ds for ds, _ in files])
    with torch.no_grad():
        torch.manual_seed(7)  # E_01_HSE draws its patches from the global generator, in eval mode too
        expected = theirs(x, file_id=[0, 1], task_id="classification")
        torch.manual_seed(7)
        found = ours(x=x, fs=fs, system_id=system_id)
    torch.testing.assert_close(found, expected, atol=1e-5, rtol=1e-5)


# -- a slot naming no component ---------------------------------------------------------------------------------

PROMPT = """\
model:
  type: ISFM_Prompt
  name: M_02_ISFM_Prompt
  embedding: "E_01_HSE_Prompt"
  backbone: B_08_PatchTST
  patch_size_L: 256
  patch_size_C: 1
  num_patches: 128
  output_dim: 64
  num_heads: 4
  d_ff: 128
  dropout: 0.1
  activation: relu
"""


def _errors(tmp_path: Path, text: str, **given: object) -> list[vibench.Diagnostic]:
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path), params=given)
    return [d for d in err.value.diagnostics if d.severity == "error"]


def test_an_unknown_component_is_said_before_the_keys_another_component_lacks(tmp_path: Path) -> None:
    """B_08_PatchTST lacks `e_layers` (and `factor`): the reference stops at the embedding's name first."""
    (error,) = _errors(tmp_path, PROMPT)
    assert error.code == "E214"
    assert error.message.startswith("`E_01_HSE_Prompt` is not a component for slot `embedding`")
    assert (error.pos.line, error.hint) == (4, "did you mean `HSE_prompt`?")


def test_an_unknown_component_given_beside_the_config_is_said_first_too(tmp_path: Path) -> None:
    (error,) = _errors(tmp_path, PROMPT.replace('"E_01_HSE_Prompt"', "HSE_prompt"), embedding="E_99_Missing")
    assert error.code == "E214" and "`E_99_Missing` is not a component for slot `embedding`" in error.message
    assert error.notes == ("the value is `embedding` as given in Python (a keyword of vibench.build, or check's "
                           "`params=`)",)


def test_a_component_s_own_slot_naming_no_component_is_said_first(tmp_path: Path) -> None:
    """B_11_MomentumEncoder's `base_encoder`: E214 from the component (as its own slot says it: E205 before
    tests/test_nested_slots_1207f.py), not E221s for E_01_HSE's keys."""
    text = PROMPT.replace("ISFM_Prompt", "ISFM").replace("M_02_ISFM", "M_01_ISFM").replace(
        '"E_01_HSE_Prompt"', "E_01_HSE").replace("B_08_PatchTST", "B_11_MomentumEncoder\n  base_encoder: B_99_Missing")
    errors = _errors(tmp_path, text.replace("  output_dim: 64\n", ""))
    assert [d.code for d in errors] == ["E214"] and "B_99_Missing" in errors[0].message


def test_the_missing_keys_are_still_said_once_the_components_exist(tmp_path: Path) -> None:
    errors = _errors(tmp_path, PROMPT.replace('"E_01_HSE_Prompt"', "HSE_prompt"))
    assert [(d.code, d.message.split("`")[1]) for d in errors] == [("E221", "e_layers")]


@needs_reference
def test_the_reference_config_says_why_phm_vibench_cannot_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REFERENCE)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check("configs/v0.0.9/demo/HSE_Contrastive/ablation_prompt_fusion.yaml")
    errors = [d for d in err.value.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["E214"] and "E_01_HSE_Prompt" in errors[0].message
