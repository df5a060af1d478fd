"""A model cast with ``model.to(dtype)`` refuses to run with complex weights made real.

``nn.Module.to(dtype)`` (also ``.to(device, dtype)``) casts complex parameters to a real dtype, dropping
their imaginary parts (torch warns once per process); the input check then read the model's new dtype
and took inputs of it, and forward ran with other weights, silently. ``.double()``, ``.half()`` and
``.bfloat16()`` cast floating parameters only and keep complex ones complex. The layers with complex
weights (FITS's ``ComplexLinear``, TSPN's ``LaplaceNeuralOperator``, the FNOs' ``SpectralConv1d``) now
refuse to run with real ones, saying what happened and what to do (support._real_weights).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import vibench

TSPN = ("x_model/TSPN", dict(in_channels=2, signal_processing_configs={"layer1": ["LNO", "WF", "HT", "I"]},
                             out_channels=4, scale=2, num_classes=3), (2, 64, 2))
FITS = ("isfm/backbone/B_03_FITS", {}, (2, 256, 1))
FNO = pytest.param(("no/FNO", dict(input_dim=2, width=8, modes=4, n_layers=2), (2, 64, 2)), id="FNO")
B09 = pytest.param(("isfm/backbone/B_09_FNO", dict(output_dim=16, width=8, num_layers=1, modes=4), (2, 8, 16)),
                   id="B_09_FNO")
TEMPLATES = [pytest.param(TSPN, id="TSPN"), pytest.param(FITS, id="FITS"), FNO, B09]
CASTS = {  # how a model is cast to a real dtype -> that dtype
    "to(float64)": (lambda m: m.to(torch.float64), torch.float64),
    "to(float32)": (lambda m: m.to(torch.float32), torch.float32),  # a float32 model too: the fast check passes
    "to(bfloat16)": (lambda m: m.to(torch.bfloat16), torch.bfloat16),
    "to(float16)": (lambda m: m.to(torch.float16), torch.float16),
    "to(cpu, float64)": (lambda m: m.to("cpu", torch.float64), torch.float64),
    "to(dtype=float64)": (lambda m: m.to(dtype=torch.float64), torch.float64),
}


def build(case: tuple[str, dict[str, Any], tuple[int, ...]]) -> tuple[torch.nn.Module, torch.Tensor]:
    template, params, shape = case
    model = vibench.build(text=f"vibench: 1\nextends: {template}\n", inputs={"x": shape}, **params).eval()
    return model, torch.randn(shape, generator=torch.Generator().manual_seed(0))


def taken(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` in the dtype of the model's floating parameters (FITS has none: it keeps float32)."""
    floats = [p.dtype for p in model.parameters() if p.is_floating_point()]
    return x.to(floats[0]) if floats else x


def cast(model: torch.nn.Module, how: str) -> torch.dtype:
    convert, dtype = CASTS[how]
    with warnings.catch_warnings():  # torch's own: "Casting complex values to real discards the imaginary part"
        warnings.simplefilter("ignore", UserWarning)
        convert(model)
    return dtype


@pytest.mark.parametrize("case", TEMPLATES)
@pytest.mark.parametrize("how", list(CASTS))
def test_to_a_real_dtype_refuses_to_run(case: tuple, how: str) -> None:
    model, x = build(case)
    assert any(p.is_complex() for p in model.parameters())
    dtype = cast(model, how)
    with torch.no_grad(), pytest.raises(RuntimeError) as raised:
        model(x.to(dtype))  # the dtype the input check now takes: it reads the model's parameters
    message = str(raised.value)
    assert f"are {dtype} now, their imaginary parts dropped" in message
    assert "`model.to(dtype)` casts complex parameters to a real dtype" in message
    assert "cast it with `.double()`, `.half()` or `.bfloat16()`" in message


@pytest.mark.parametrize("case", [pytest.param(TSPN, id="TSPN"), pytest.param(FITS, id="FITS")])
def test_what_the_message_says_to_do_works(case: tuple) -> None:
    model, x = build(case)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        reference = model.double()(taken(model, x))  # complex weights stay complex64
    cast(model, "to(float64)")
    with torch.no_grad(), pytest.raises(RuntimeError, match="imaginary parts dropped"):
        model(x.double())
    again, _ = build(case)
    again.load_state_dict(saved)
    with torch.no_grad():
        out = again.double()(taken(again, x))
    torch.testing.assert_close(out, reference)


@pytest.mark.parametrize("case", [pytest.param(TSPN, id="TSPN"), pytest.param(FITS, id="FITS")])
def test_moving_and_the_cast_methods_still_run(case: tuple) -> None:
    model, x = build(case)
    with torch.no_grad():
        reference = model(x)
        torch.testing.assert_close(model.to("cpu")(x), reference)
        torch.testing.assert_close(model.float()(x), reference)
        torch.testing.assert_close(model.double()(taken(model, x)).float(), reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", [pytest.param(TSPN, id="TSPN"), pytest.param(FITS, id="FITS")])
def test_torchscript_refuses_too(case: tuple) -> None:
    model, x = build(case)
    scripted = torch.jit.script(model)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))
    cast(scripted, "to(float64)")
    with torch.no_grad(), pytest.raises(torch.jit.Error, match="are a real dtype now, their imaginary parts dropped"):
        scripted(x.double())
