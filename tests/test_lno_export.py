"""``signal_operators``' LNO (LaplaceNeuralOperator) traces: torch.export, torch.compile(fullgraph=True)
and torch.jit.script give its eager outputs.

Its fftfreq spacing ``t[1] - t[0]`` of ``t = linspace(0, 1, L)`` used to be read with ``.item()``, a
data-dependent value torch.export cannot guard on (tests/regressions/export-failure-9a4cecb64e.yaml);
it is now computed from the length, and must still equal what linspace gives, bit for bit (the
recorded reference values of x_model/TSPN depend on it).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo

SPEC = """\
vibench: 1
name: LNO
inputs:
  x:
    shape: [B, L, 4]
nodes:
  ops:
    block: signal_operators
    in: x
    operators: [WF, LNO]
    channels: 2
outputs: {y: ops}
"""


def built(length: int = 16) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = vibench.build(text=SPEC, inputs={"x": (2, length, 4)}).eval()
    return model, torch.randn(2, length, 4, generator=torch.Generator().manual_seed(1))


def lno_class(model: torch.nn.Module) -> Any:
    (found,) = {type(m) for m in model.modules() if type(m).__name__ == "LaplaceNeuralOperator"}
    return found


_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spacing_is_the_linspace_step_bit_for_bit(dtype: torch.dtype) -> None:
    spacing = lno_class(built()[0]).spacing
    lengths = [*range(2, 3000), 4097, 65537, 100003, 2**20 + 1]
    for length in lengths:
        t = torch.linspace(0, 1, steps=length, dtype=dtype)
        assert spacing(t, length) == float((t[1] - t[0]).item()), (dtype, length)


@pytest.mark.parametrize("length", [16, 17, 3])
def test_export_gives_the_eager_outputs(length: int) -> None:
    model, x = built(length)
    with torch.no_grad():
        expected = model(x)
        found = torch.export.export(model, (x,)).module()(x)
    torch.testing.assert_close(found, expected, atol=1e-6, rtol=1e-6)


def test_compile_fullgraph_gives_the_eager_outputs() -> None:
    model, x = built()
    with torch.no_grad():
        expected = model(x)
        found = torch.compile(model, fullgraph=True, backend="eager")(x)
    torch.testing.assert_close(found, expected, atol=1e-6, rtol=1e-6)


def test_script_gives_the_eager_outputs() -> None:
    model, x = built()
    with torch.no_grad():
        expected = model(x)
        found = torch.jit.script(model)(x)
    torch.testing.assert_close(found, expected, atol=1e-6, rtol=1e-6)
