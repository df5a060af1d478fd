"""Reference cases of the library III registry models (TransformerRNN, ConvTransformer, Transformer_Dummy,
NeuralODE, GraphNO, WaveletNO, X_model's MWA_CNN and TSPN): value parity cases for
``scripts/record_reference_values.py`` (:data:`CASES`) and the measurements behind their rows of
``tests/reference/models.json`` (:data:`ROWS`, ``python scripts/reference_cases_registry.py --measure``).

What the reference needs beyond ``make reference``:

* X_model/MWA_CNN imports ``pytorch_wavelets`` (which needs PyWavelets and ``pkg_resources``). They are
  put on ``sys.path`` from ``--pydeps DIR`` / ``VIBENCH_PYDEPS`` (default ``.reference/pydeps``), e.g.
  ``pip install --no-deps --target .reference/pydeps pywavelets==1.9.0 pytorch-wavelets==1.3.0
  "setuptools<80"``. Its ``.cuda()`` calls are skipped on a CPU-only machine (``reference.workarounds``).
* Transformer_Dummy imports ``register_model``, which PHM-Vibench's package never defines (why its
  Transformer package cannot be imported); ``scripts/reference.py`` gives the file an identity decorator.
* TSPN imports scipy and sympy without using them (stand-ins), requires ``device``, ``in_dim`` and
  ``out_dim`` (set here, unused by the computation), and its Laplace operator moves a tensor with
  ``.cuda()`` (kept on the CPU by ``reference.workarounds``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python scripts/...` puts only scripts/ on the path
    sys.path.insert(0, ROOT)

from scripts.record_reference_values import Case, ComponentCase  # noqa: E402
from scripts.reference import pydeps  # noqa: E402

FEATURES = ["Mean", "Std", "Var", "Entropy", "Max", "Min", "AbsMean", "Kurtosis", "RMS", "CrestFactor", "Skewness",
            "ClearanceFactor", "ShapeFactor"]
TSPN_RUNTIME = dict(device="cpu", in_dim=32, out_dim=32)  # read by TSPN's operators, unused by what they compute
HUST = dict(device="cpu", skip_connection=True, num_classes=9, in_dim=4096, out_dim=4096, in_channels=3,
            out_channels=4, scale=4, f_c_mu=0, f_c_sigma=0.1, f_b_mu=0, f_b_sigma=0.1)
"""The model section of PHM-Vibench's configs/v0.0.9/demo/X_Single_DG/{TSPN,MWA_CNN}/HUST.yaml (device cpu)."""


def _mwa_cnn(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    from scripts import reference

    pydeps(ref_dir)
    model = reference.build_reference_model(ref_dir, case.model, case.args)
    x = inputs["x"]
    return model, "Model(Namespace(**args))(x)", lambda: {"logits": model(x)}


def _tspn(case: ComponentCase, ref_dir: str, inputs: dict[str, Any]) -> tuple[Any, str, Any]:
    """TSPN's forward overwrites each weight connection's weight with softmax(weight / 0.1) (DEVIATIONS.md):
    the forward recorded here restores the weights afterwards, so the recorded state_dict holds the
    weights that produced the recorded output (vibench computes softmax(weight / 0.1) from them)."""
    from scripts import reference

    model = reference.build_reference_model(ref_dir, case.model, case.args)
    x = inputs["x"]

    def forward() -> dict[str, Any]:
        layers = list(model.signal_processing_layers)
        saved = [layer.weight_connection.weight.data for layer in layers]
        try:
            return {"logits": model(x)}
        finally:
            for layer, weight in zip(layers, saved, strict=True):
                layer.weight_connection.weight.data = weight

    return model, "Model(Namespace(**args))(x), weight connections restored after the call", forward


def _component(name: str, model: str, template: str, args: dict[str, Any], x: tuple[int, ...], doc: str,
               setup: Any, params: dict[str, Any] | None = None, atol: float = 1e-5) -> ComponentCase:
    declared = params if params is not None else {k: v for k, v in args.items() if k not in TSPN_RUNTIME}
    return ComponentCase(name, model, template, dict(args), declared, x, "logits", doc, setup=setup, atol=atol)


TSPN_SMALL = dict(TSPN_RUNTIME, in_channels=2, out_channels=4, scale=2, skip_connection=True, num_classes=3,
                  signal_processing_configs={"layer1": ["LNO", "WF", "HT", "I"], "layer2": ["LNO", "WF", "HT", "I"]},
                  feature_extractor_configs=FEATURES, f_c_mu=0.1, f_c_sigma=0.1, f_b_mu=0.2, f_b_sigma=0.05)

CASES: list[Case | ComponentCase] = [
    # RNN
    Case("rnn_transformerrnn", "RNN/TransformerRNN", dict(input_dim=2, d_model=8, n_heads=2, num_layers=2, d_ff=16,
         num_classes=3), (2, 16, 2), "Two hybrid layers (attention, LSTM, feed-forward), MLP classifier."),
    Case("rnn_transformerrnn_gru_regression", "RNN/TransformerRNN", dict(input_dim=1, d_model=8, n_heads=4,
         num_layers=1, d_ff=8, rnn_type="GRU", output_dim=2), (2, 16, 1), "GRU (upper-case name), sequence output."),
    # Transformer
    Case("transformer_convtransformer", "Transformer/ConvTransformer", dict(input_dim=2, conv_channels=[4, 6, 99],
         d_model=8, n_heads=2, num_layers=2, d_ff=16, num_classes=3), (2, 16, 2),
         "Multi-scale stage of width 4 (1x1 adjustment: 4 does not divide by 3), residual blocks 4 -> 6 -> 8 "
         "(the last width replaced by d_model), two encoder layers."),
    Case("transformer_convtransformer_regression", "Transformer/ConvTransformer", dict(input_dim=1,
         conv_channels=[9], d_model=6, n_heads=2, num_layers=1, d_ff=8, output_dim=1), (2, 16, 1),
         "One convolutional stage (width d_model = 6, no adjustment), sequence output."),
    Case("transformer_dummy", "Transformer/Transformer_Dummy", dict(input_dim=2, hidden_dim=8, num_heads=2,
         num_layers=2, dropout=0.1, num_classes=3, batch_first=False), (3, 16, 2),
         "batch_first: false, the reference's computation (attention over the batch's samples; DEVIATIONS.md). The "
         "default attends over time and loads the same weights."),
    # Neural operators
    Case("no_neuralode", "NO/NeuralODE", dict(input_dim=2, hidden_dim=8, ode_layers=3, num_steps=4,
         activation="gelu", num_classes=3), (2, 16, 2), "Classifier: the last step's state, four Euler steps."),
    Case("no_neuralode_regression", "NO/NeuralODE", dict(input_dim=1, hidden_dim=8, ode_layers=2, step_size=0.3,
         output_dim=2), (2, 16, 1), "Sequence output: every step's state, two Euler steps over [0, 0.3]."),
    Case("no_graphno", "NO/GraphNO", dict(input_dim=5, hidden_dim=8, num_nodes=2, num_layers=3, num_modes=2,
         num_classes=3), (2, 4, 5), "Five channels padded to two nodes of three features; spectral, spatial, "
         "spectral layers; the last time step classified."),
    Case("no_graphno_regression", "NO/GraphNO", dict(input_dim=4, hidden_dim=6, num_nodes=4, num_layers=2,
         num_modes=8, output_dim=3), (2, 4, 4), "num_modes above the node count (all four modes used); the first "
         "three of the four node outputs kept."),
    Case("no_graphno_spatial", "NO/GraphNO", dict(input_dim=3, hidden_dim=6, num_nodes=3, num_layers=2,
         use_spectral=False, num_classes=2), (2, 3, 3), "use_spectral: false, spatial layers only."),
    Case("no_waveletno", "NO/WaveletNO", dict(input_dim=2, hidden_dim=8, num_layers=2, num_classes=3), (2, 16, 2),
         "Two layers of plain + dilated convolutions mixed by alpha, beta; classifier."),
    Case("no_waveletno_regression", "NO/WaveletNO", dict(input_dim=1, hidden_dim=6, num_layers=1, output_dim=2,
         wavelet_type="db4", levels=2), (2, 15, 1), "Sequence output; wavelet_type and levels have no effect."),
    # X_model
    _component("xmodel_mwa_cnn", "X_model/MWA_CNN", "x_model/MWA_CNN", dict(in_channels=2, num_classes=3), (2, 64, 2),
               "Four db16 transforms (pytorch_wavelets in the reference), channel squeeze-and-excitation.",
               _mwa_cnn),
    _component("xmodel_tspn", "X_model/TSPN", "x_model/TSPN", TSPN_SMALL, (2, 32, 2),
               "Two signal-processing layers (LNO, WF, HT, I on groups of two channels), the 13 features. The "
               "reference's weight connections are restored after its forward (its forward overwrites them).",
               _tspn),
    _component("xmodel_tspn_pairwise", "X_model/TSPN", "x_model/TSPN", dict(
                   TSPN_SMALL, in_channels=1, skip_connection=False, num_classes=2,
                   signal_processing_configs={"a": ["Squ", "Add", "Mul", "Div"], "b": ["LNO", "LNO", "HT", "I"]},
                   feature_extractor_configs=["RMS", "Kurtosis", "Max"]), (2, 32, 1),
               "Element-wise and pairwise operators, a repeated LNO (key LNO_1), no skip connection.", _tspn),
]


# ---------------------------------------------------------------------------------------------
# Rows of tests/reference/models.json (parameter count, output shape, state_dict layout).

ROWS: list[tuple[str, str, dict[str, Any], tuple[int, ...]]] = [
    ("RNN/TransformerRNN", "canonical (defaults: d 256, 8 heads, 4 layers, ff 512, lstm)",
     dict(input_dim=1, num_classes=10), (4, 1024, 1)),
    ("RNN/TransformerRNN", "alt: gru, d 64, 4 heads, 2 layers, ff 128",
     dict(input_dim=1, d_model=64, n_heads=4, num_layers=2, d_ff=128, rnn_type="gru", num_classes=10), (4, 1024, 1)),
    ("RNN/TransformerRNN", "regression head (output_dim = input_dim = 1)", dict(input_dim=1), (4, 1024, 1)),
    ("Transformer/ConvTransformer", "canonical (defaults: conv [64, 128, 256], d 256, 8 heads, 4 layers, ff 512)",
     dict(input_dim=1, num_classes=10), (4, 1024, 1)),
    ("Transformer/ConvTransformer", "alt: conv [32, 64] (last -> d_model 128), 4 heads, 2 layers, ff 256",
     dict(input_dim=1, conv_channels=[32, 64], d_model=128, n_heads=4, num_layers=2, d_ff=256, num_classes=10),
     (4, 1024, 1)),
    ("Transformer/ConvTransformer", "regression head (output_dim = input_dim = 1)", dict(input_dim=1), (4, 1024, 1)),
    ("Transformer/Transformer_Dummy", "canonical (configs/default.yaml: hidden 64, 4 heads, 2 layers), C=2 input",
     dict(input_dim=2, num_classes=4, num_heads=4, num_layers=2, d_model=64, d_ff=128, dropout=0.1, feature_dim=10,
          hidden_dim=64, activation="relu"), (4, 1024, 2)),
    ("Transformer/Transformer_Dummy", "alt: its __main__ (hidden 256, 8 heads, 6 layers)",
     dict(input_dim=1, hidden_dim=256, num_heads=8, num_layers=6, num_classes=10, dropout=0.1), (4, 1024, 1)),
    ("NO/NeuralODE", "canonical (defaults: hidden 64, 3 ODE layers, 10 steps)", dict(input_dim=1, num_classes=10),
     (4, 1024, 1)),
    ("NO/NeuralODE", "regression head (step_size 0.1, two steps per time step)", dict(input_dim=1), (4, 1024, 1)),
    ("NO/NeuralODE", "alt: hidden 32, 2 ODE layers, 5 steps, gelu",
     dict(input_dim=1, hidden_dim=32, ode_layers=2, num_steps=5, activation="gelu", num_classes=10), (4, 1024, 1)),
    ("NO/GraphNO", "canonical (defaults: 10 nodes, hidden 64, 4 layers, 8 modes), L=8",
     dict(input_dim=1, num_classes=10), (4, 8, 1)),
    ("NO/GraphNO", "alt: its __main__ regression (20 channels on 5 nodes, hidden 32, 3 layers, 4 modes), L=8",
     dict(input_dim=20, hidden_dim=32, output_dim=20, num_nodes=5, num_layers=3, num_modes=4, use_spectral=True,
          dropout=0.1), (4, 8, 20)),
    ("NO/GraphNO", "alt: use_spectral False (spatial layers only), L=8",
     dict(input_dim=20, hidden_dim=32, num_nodes=5, num_layers=3, num_modes=4, use_spectral=False, num_classes=3),
     (4, 8, 20)),
    ("NO/WaveletNO", "canonical (defaults: hidden 64, 4 layers)", dict(input_dim=1, num_classes=10), (4, 1024, 1)),
    ("NO/WaveletNO", "regression head", dict(input_dim=1), (4, 1024, 1)),
    ("NO/WaveletNO", "alt: hidden 32, 2 layers, wavelet_type db4 (read, unused)",
     dict(input_dim=1, hidden_dim=32, num_layers=2, wavelet_type="db4", levels=2, num_classes=10), (4, 1024, 1)),
    ("X_model/MWA_CNN", "canonical (in_channels 1, 10 classes)", dict(in_channels=1, num_classes=10), (4, 1024, 1)),
    ("X_model/MWA_CNN", "alt: HUST demo config (in_channels 3, 9 classes), L=4096", dict(HUST), (4, 4096, 3)),
    ("X_model/TSPN", "canonical: HUST demo config (4 x [LNO, WF, HT, I], 13 features, scale 4), C=3",
     dict(HUST, signal_processing_configs={f"layer{k}": ["LNO", "WF", "HT", "I"] for k in range(1, 5)},
          feature_extractor_configs=FEATURES), (4, 1024, 3)),
    ("X_model/TSPN", "alt: in_channels 1, [Squ, Add, Mul, Div] + [LNO, LNO, HT, I], 3 features, no skip",
     dict(TSPN_RUNTIME, in_channels=1, out_channels=4, scale=2, skip_connection=False, num_classes=10,
          signal_processing_configs={"a": ["Squ", "Add", "Mul", "Div"], "b": ["LNO", "LNO", "HT", "I"]},
          feature_extractor_configs=["RMS", "Kurtosis", "Max"], f_c_mu=0, f_c_sigma=0.1, f_b_mu=0, f_b_sigma=0.1),
     (4, 1024, 1)),
]
"""(TYPE/NAME, variant, model: section, input shape). GraphNO's rows use L = 8: its forward runs a Python
loop over the time steps and, in each spectral layer, over every pair of channels (about a second per step)."""


def measure(ref_dir: str) -> list[dict[str, Any]]:
    """Build and run each row's reference model (``Model(Namespace(**args), None)``, eval mode, no_grad)."""
    import platform

    import torch

    from scripts import reference

    pydeps(ref_dir)
    torch.set_num_threads(1)
    out = []
    for name, variant, args, shape in ROWS:
        kind, model_name = name.split("/")
        torch.manual_seed(0)
        model = reference.build_reference_model(ref_dir, name, args).eval()
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        times = []
        with torch.no_grad(), reference.workarounds(ref_dir):
            for _ in range(3):
                start = time.perf_counter()
                y = model(x)
                times.append(1000 * (time.perf_counter() - start))
        params = list({id(p): p for p in model.parameters()}.values())
        count = sum(p.numel() for p in params)
        real = sum(p.numel() * (2 if p.is_complex() else 1) for p in params)
        keys = list(model.state_dict())
        row: dict[str, Any] = {
            "model": model_name, "family": kind, "variant": variant, "status": "ok",
            "config_args": {"type": kind, "name": model_name, **args},
            "build_path": "Model(Namespace(cfg), None) (direct)",
            "inputs": {"x": list(shape)}, "output_shape": list(y.shape), "param_count": count,
        }
        if real != count:
            row["param_count_real_scalars"] = real
        row.update({
            "trainable_param_count": None, "forward_ms_median": round(sorted(times)[1], 3),
            "forward_ms_min": round(min(times), 3), "forward_ms_median_1thread": round(sorted(times)[1], 3),
            "forward_ms_min_1thread": round(min(times), 3), "n_timed_runs": 3, "mode": "eval",
            "state_dict_top_prefixes": list(dict.fromkeys(k.split(".")[0] for k in keys)),
            "state_dict_n_keys": len(keys),
            "measurement": {"torch": torch.__version__, "python": platform.python_version(),
                            "reference_commit": reference.reference_commit(ref_dir) or reference.REFERENCE_COMMIT,
                            "batch": shape[0], "script": "scripts/reference_cases_registry.py --measure",
                            "timing": "torch.no_grad(), one thread; median of 3 runs, no warm-up"},
        })
        out.append(row)
        print(f"{name:32} {variant[:60]:60} {count:>12,} {tuple(y.shape)}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=os.path.join(ROOT, ".reference", "PHM-Vibench"))
    parser.add_argument("--measure", action="store_true",
                        help="measure ROWS and replace these models' rows of tests/reference/models.json")
    args = parser.parse_args(argv)
    if not args.measure:
        parser.error("nothing to do (record values with scripts/record_reference_values.py)")
    from scripts import reference

    try:  # before anything is built (a FileNotFoundError traceback)
        print(reference.check_checkout(args.reference))
    except FileNotFoundError as err:
        parser.error(f"--reference: {err}")
    rows = measure(args.reference)
    path = os.path.join(ROOT, "tests", "reference", "models.json")
    with open(path, encoding="utf-8") as fh:
        existing = json.load(fh)
    mine = {name.split("/")[1] for name, *_ in ROWS}
    kept = [r for r in existing if r["model"] not in mine]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(kept + rows, fh, indent=1, ensure_ascii=False)
    print(f"{len(rows)} rows written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
