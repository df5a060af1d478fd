"""Value parity: every library model computes what PHM-Vibench's own model computes.

``tests/reference/values/<case>.pt`` holds, per case, the reference model's weights, an input and
the reference's output, recorded by ``scripts/record_reference_values.py`` from a PHM-Vibench
checkout (``make reference``; no checkout is needed here). Each case is compiled with vibench from
the same hyperparameters (the PHM-Vibench config route, or ``extends:`` for a component on its
own), the reference weights are loaded through ``load_reference_state_dict`` (strict, through the
template's declared renames), the same input is fed after seeding the global generator as the
recording did (E_01_HSE's random patches: the native draws the same numbers in the same order),
and every output must agree elementwise to ``atol`` (1e-5) times the output's scale, the largest
magnitude of the reference's output or 1 if that is smaller: 1e-5 absolute for outputs of order
one, 1e-5 relative for larger ones (float32 rounding grows with magnitude; H_03_Linear_pred's
unscaled N(0, 1) projection gives signals of magnitude ~20, where one rounding step is 2e-6).
A case recorded in float64 (``dtype``) runs vibench's model in float64 too: its float32 output differs
between CPUs (a deep decoder's accumulation order). A case recorded with ``ties: canonical`` runs
under the same ``canonical_topk`` as its recording: Autoformer's delay scores come in pairs equal
but for rounding, whose order a CPU's last bit decides (float64 too).

Where the library deliberately deviates (vibench/specs/DEVIATIONS.md), the case is a configuration
in which both agree; its ``doc`` says which and why. Run ``python -m tests.test_reference_values``
for a table of the largest differences.
"""

from __future__ import annotations

import contextlib
import glob
import os
from typing import Any

import pytest
import torch
import yaml

from scripts.record_reference_values import CASES, canonical_topk, covers, seeded_uniform, vibench_config
from tests.parity import ROOT

VALUES = os.path.join(ROOT, "tests", "reference", "values")
PATHS = sorted(glob.glob(os.path.join(VALUES, "*.pt")))
NAMES = [os.path.basename(p)[:-3] for p in PATHS]


def load_artifact(name: str) -> dict[str, Any]:
    artifact: dict[str, Any] = torch.load(os.path.join(VALUES, f"{name}.pt"), weights_only=True)
    return artifact


def reference_state_dict(artifact: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The reference's state_dict: the stored tensors plus the large ones regenerated from their recipes."""
    seeded = {k: seeded_uniform(r["seed"], r["shape"], r["scale"]) for k, r in artifact["seeded"].items()}
    return {**artifact["state_dict"], **seeded}


def vibench_text(artifact: dict[str, Any]) -> str:
    config = artifact["vibench"]
    if "phm" in config:
        return yaml.safe_dump({"model": config["phm"]}, sort_keys=False)
    return yaml.safe_dump({"vibench": 1, "extends": config["extends"], "with": config["with"]}, sort_keys=False)


def run_case(name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor], Any]:
    """Compile, load the reference weights, run; return the artifact, vibench's outputs and the load result."""
    import vibench
    from vibench.runtime.build import build_program
    from vibench.runtime.checkpoint import load_reference_state_dict

    artifact = load_artifact(name)
    program = vibench.check(text=vibench_text(artifact), inputs={"x": tuple(artifact["inputs"]["x"].shape)})
    model = build_program(program)
    if artifact.get("dtype") == "float64":  # a case whose float32 output depends on the CPU (see its doc)
        model.double()
        model.check_inputs = False  # the spec declares float32 inputs
    result = load_reference_state_dict(model, reference_state_dict(artifact), strict=artifact["strict"])
    model.train(artifact["mode"] == "train")
    feed = {port: artifact["inputs"][port] for port, _ in program.root.inputs}
    torch.manual_seed(artifact["seed"])
    ties = canonical_topk() if artifact.get("ties") == "canonical" else contextlib.nullcontext()
    with torch.no_grad(), ties:  # top-k ties broken as the recording broke them (Autoformer's delays)
        out = model(**feed)
    outputs = out if isinstance(out, dict) else {program.root.outputs[0][0]: out}
    return artifact, outputs, result


Pairs = dict[str, tuple[torch.Tensor, torch.Tensor]]


def compared(artifact: dict[str, Any], outputs: dict[str, torch.Tensor]) -> Pairs:
    """Output name -> (vibench's, the reference's), the padded columns checked and cut off."""
    pairs = {}
    for key, expected in artifact["outputs"].items():
        assert key in outputs, f"vibench has no output {key!r} (it has {sorted(outputs)})"
        got = outputs[key]
        if artifact["pad"].get(key) == "-inf":  # logits as wide as the widest system
            width = expected.shape[-1]
            assert bool(torch.isneginf(got[..., width:]).all()), f"{key}: classes past {width} are not -inf"
            got = got[..., :width]
        assert tuple(got.shape) == tuple(expected.shape), f"{key}: shape {tuple(got.shape)} != {tuple(expected.shape)}"
        pairs[key] = (got, expected)
    return pairs


def tolerance(artifact: dict[str, Any], expected: torch.Tensor) -> float:
    """``atol`` times the output's scale (its largest magnitude, at least 1)."""
    return float(artifact["atol"]) * max(1.0, float(expected.abs().max()))


def max_difference(pairs: Pairs) -> float:
    return max(float((got - expected).abs().max()) for got, expected in pairs.values())


@pytest.mark.parametrize("name", NAMES)
def test_outputs_equal_the_reference(name: str) -> None:
    artifact, outputs, result = run_case(name)
    if artifact["strict"]:
        assert result.missing_keys == [] and result.unexpected_keys == []
    else:  # a deviation: the reference holds tensors vibench does not build
        assert result.missing_keys == []
        assert result.unexpected_keys == sorted(artifact["leftover"])
    for key, (got, expected) in compared(artifact, outputs).items():
        assert torch.isfinite(expected).all(), f"{key}: the recorded reference output is not finite"
        torch.testing.assert_close(got, expected, atol=tolerance(artifact, expected), rtol=0,
                                   msg=lambda m, key=key: f"{name}, output {key!r}: {m}\n({artifact['doc']})")


def test_every_library_model_with_a_reference_has_values() -> None:
    library = os.path.join(ROOT, "vibench", "specs")
    declared = set()
    for path in glob.glob(os.path.join(library, "**", "*.yaml"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            reference = (yaml.safe_load(fh) or {}).get("reference") or {}
        if reference.get("model"):
            declared.add(reference["model"])
    covered = {model for name in NAMES for model in load_artifact(name)["covers"]}
    assert declared, "no library spec declares a reference model"
    assert sorted(declared - covered) == []


def test_artifacts_match_the_case_table() -> None:
    """A case edited in scripts/record_reference_values.py without re-recording is caught here."""
    assert NAMES == sorted(case.name for case in CASES)
    for case in CASES:
        artifact = load_artifact(case.name)
        assert artifact["vibench"] == vibench_config(case), f"{case.name}: re-record (the case changed)"
        assert artifact["covers"] == covers(case), case.name
        assert artifact["reference"]["model"] == case.model


def test_artifacts_are_small() -> None:
    sizes = {name: os.path.getsize(os.path.join(VALUES, f"{name}.pt")) for name in NAMES}
    assert max(sizes.values()) <= 300 * 1024, max(sizes, key=lambda n: sizes[n])
    assert sum(sizes.values()) <= 10 * 1024 * 1024


def main() -> None:
    """Print each case's largest |vibench - reference| over its outputs."""
    for name in NAMES:
        try:
            artifact, outputs, _ = run_case(name)
            pairs = compared(artifact, outputs)
        except Exception as err:  # noqa: BLE001 - a report, not a test
            print(f"{name:36} error: {type(err).__name__}: {str(err).splitlines()[0][:100]}")
            continue
        ok = all(float((g - e).abs().max()) <= tolerance(artifact, e) for g, e in pairs.values())
        scale = max(float(e.abs().max()) for _, e in pairs.values())
        print(f"{name:36} max|diff| {max_difference(pairs):9.3g}  max|ref| {scale:8.3g}  {'ok' if ok else 'MISMATCH'}"
              f"  ({', '.join(pairs)})")


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------------
# load_reference_state_dict: all or nothing.

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


def two_layers() -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    import vibench

    model = vibench.build(text=TWO_LAYERS)
    reference = {"body.weight": torch.full((4, 3), 2.0), "body.bias": torch.full((4,), 2.0),
                 "classifier.weight": torch.full((2, 4), 2.0), "classifier.bias": torch.full((2,), 2.0)}
    return model, reference


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_full_reference_checkpoint_loads_and_reports_nothing_left() -> None:
    from vibench.runtime.checkpoint import load_reference_state_dict

    model, reference = two_layers()
    result = load_reference_state_dict(model, reference)
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    assert all(bool((v == 2.0).all()) for v in model.state_dict().values())


def test_non_strict_loading_returns_the_keys_it_left_aside() -> None:
    from vibench.runtime.checkpoint import load_reference_state_dict

    model, reference = two_layers()
    del reference["body.bias"]
    reference["step"] = torch.tensor(3)
    result = load_reference_state_dict(model, reference, strict=False)
    assert result.missing_keys == ["body.bias"] and result.unexpected_keys == ["step"]
    assert bool((model.head.weight == 2.0).all()) and not bool((model.body.bias == 2.0).all())


@pytest.mark.parametrize("strict", [True, False])
def test_a_shape_mismatch_loads_nothing(strict: bool) -> None:
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model, reference = two_layers()
    reference["classifier.bias"] = torch.zeros(3)
    before = snapshot(model)
    shapes = r"'head\.bias' \(model \[2\] float32, checkpoint \[3\] float32\)"  # the key as repr writes it
    with pytest.raises(ReferenceCheckpointError, match=shapes):
        load_reference_state_dict(model, reference, strict=strict)
    assert unchanged(model, before)  # body.* fit and were not loaded either


def test_a_complex_tensor_for_a_real_weight_loads_nothing() -> None:
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model, reference = two_layers()
    reference["body.weight"] = torch.zeros(4, 3, dtype=torch.complex64)
    before = snapshot(model)
    with pytest.raises(ReferenceCheckpointError, match="complex64"):
        load_reference_state_dict(model, reference, strict=False)
    assert unchanged(model, before)


@pytest.mark.parametrize("value", [None, [1.0, 2.0], 3.0, "weights"])
def test_non_tensor_values_are_named_and_load_nothing(value: Any) -> None:
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model, reference = two_layers()
    reference["body.bias"] = value
    before = snapshot(model)
    with pytest.raises(ReferenceCheckpointError, match=rf"'body\.bias' \({type(value).__name__}\)"):
        load_reference_state_dict(model, reference, strict=False)
    assert unchanged(model, before)


@pytest.mark.parametrize("checkpoint", [None, [("body.bias", torch.zeros(4))], {1: torch.zeros(4)}])
def test_a_checkpoint_that_is_not_names_to_tensors_is_refused(checkpoint: Any) -> None:
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model, _ = two_layers()
    with pytest.raises(ReferenceCheckpointError, match="mapping|names"):
        load_reference_state_dict(model, checkpoint, strict=False)


def test_a_failure_while_copying_restores_the_model() -> None:
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model, reference = two_layers()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("refused by a loading hook")

    model.head.register_load_state_dict_pre_hook(refuse)
    before = snapshot(model)
    with pytest.raises(ReferenceCheckpointError, match="refused by a loading hook"):
        load_reference_state_dict(model, reference)
    assert unchanged(model, before)


def test_checkpoint_errors_stay_key_and_value_errors() -> None:
    """Callers of earlier versions caught KeyError (strict key mismatch) or ValueError (collision)."""
    from vibench.runtime.checkpoint import load_reference_state_dict

    model, reference = two_layers()
    with pytest.raises(KeyError, match="missing"):
        load_reference_state_dict(model, {k: v for k, v in reference.items() if k != "body.bias"})
    with pytest.raises(ValueError, match="unexpected"):
        load_reference_state_dict(model, {**reference, "extra": torch.zeros(1)})
