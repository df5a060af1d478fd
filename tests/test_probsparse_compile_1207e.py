"""Informer's seeded ProbSparse attention through torch.compile's AOTAutograd and inductor, and torch.jit.trace.

The key samples were a constant computed in Python (`torch.compiler.assume_constant_result`), which dynamo
names by the function: a graph of two attention layers held two constants of one name and AOTAutograd
refused it ("ConstantSource('_draw_seeded') already in seen_sources"), so the default seeded Informer (6
layers) did not compile with any backend but "eager", the one the tests used. torch.compile now calls the op
`vibench::seeded_randint` (a seeded CPU generator's draws) in the graph. torch.jit.trace took the eager
path, whose generator the trace held as one object: every call of the traced module drew other samples.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import fresh_dynamo
from tests.test_probsparse_export_1207d import signal

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)


def informer(**params: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = vibench.build("transformer/Informer", input_dim=2, d_model=8, n_heads=2, e_layers=3, d_ff=16,
                          num_classes=3, attention="prob_sparse", sampling_seed=7, **params)
    return model.eval()


@pytest.mark.parametrize("distil", [False, True])
def test_aot_autograd_compiles_several_seeded_layers(distil: bool) -> None:
    model = informer(distil=distil)
    compiled = torch.compile(informer(distil=distil), fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        for call, length in enumerate((64, 64, 80)):
            inputs = signal(length, call)
            torch.testing.assert_close(compiled(inputs), model(inputs), atol=0, rtol=0, msg=f"call {call}")


def test_a_compiled_training_step_gives_the_eager_gradients() -> None:
    eager, compiled_model = informer(), informer()
    compiled = torch.compile(compiled_model, fullgraph=True, backend="aot_eager")
    inputs = signal(64, 0)
    eager(inputs).square().sum().backward()
    compiled(inputs).square().sum().backward()
    for (name, a), b in zip(eager.named_parameters(), compiled_model.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, msg=name)


def test_a_traced_module_gives_the_eager_outputs_on_every_call() -> None:
    model = informer(distil=True)
    model.check_inputs = False  # as docs/api.md says before tracing
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(informer(distil=True).eval(), signal(64, 0), check_trace=False)
        for call in range(3):
            torch.manual_seed(call)  # the global generator plays no part
            torch.testing.assert_close(traced(signal(64, 0)), model(signal(64, 0)), atol=0, rtol=0)


def test_a_model_loaded_in_another_process_compiles(tmp_path: Path) -> None:
    """torch.load makes no instance: the op is defined when the class is (here, by importing model.py)."""
    source = tmp_path / "model.py"
    vibench_compile = [sys.executable, "-m", "vibench", "transformer/Informer", "-o", str(source),
                       "--set", "attention=prob_sparse", "--set", "sampling_seed=7", "--set", "e_layers=2",
                       "--set", "d_model=8", "--set", "n_heads=2", "--set", "d_ff=16", "--set", "input_dim=2"]
    subprocess.run(vibench_compile, check=True, capture_output=True)
    script = f"""
import sys, torch
sys.path.insert(0, {str(tmp_path)!r})
import model
torch.manual_seed(0)
m = model.Informer().eval()
torch.save(m, {str(tmp_path / 'm.pt')!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    check = f"""
import sys, torch
sys.path.insert(0, {str(tmp_path)!r})
m = torch.load({str(tmp_path / 'm.pt')!r}, weights_only=False)
x = torch.randn(2, 64, 2)
with torch.no_grad():
    assert torch.equal(torch.compile(m, fullgraph=True, backend="aot_eager")(x), m(x))
"""
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_strict_export_calls_the_op_and_gives_the_eager_outputs_on_every_call() -> None:
    """Strict export traces with dynamo, as torch.compile does (torch's default export is non-strict, above)."""
    model = informer(distil=True)
    with torch.no_grad():
        exported = torch.export.export(informer(distil=True), (signal(64, 0),), strict=True)
        targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
        assert "vibench.seeded_randint.default" in targets
        for call in range(2):
            torch.testing.assert_close(exported.module()(signal(64, call)), model(signal(64, call)), atol=0, rtol=0)


def test_an_eager_call_needs_no_torch_compiler_is_exporting(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch.compiler.is_exporting came in torch 2.6: every seeded eager call failed on torch 2.4 and 2.5 (and
    dynamo took it for True in any graph until 2026, which sent torch.compile back to the constants of one name:
    the model asks it nothing now)."""
    model, x = informer(), signal(64, 0)  # (torch.manual_seed itself reads it in torch 2.13)
    with torch.no_grad():
        expected = model(x)
        monkeypatch.delattr(torch.compiler, "is_exporting", raising=False)
        torch.testing.assert_close(model(x), expected, atol=0, rtol=0)


def test_without_the_op_dynamo_takes_the_constant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before torch 2.4 (no torch.library.custom_op) the op is not defined, and dynamo takes the Python draw."""
    assert type(informer().encoder_layers[0].attention)._seeded_randint() is True
    monkeypatch.delattr(torch.library, "custom_op")
    attention_class = type(informer().encoder_layers[0].attention)
    assert attention_class._seeded_randint() is False
    monkeypatch.setattr(attention_class, "_has_op", False)
    model = informer(distil=True)
    compiled = torch.compile(informer(distil=True), fullgraph=True, backend="eager")
    with torch.no_grad():
        torch.testing.assert_close(compiled(signal(64, 1)), model(signal(64, 1)), atol=0, rtol=0)
