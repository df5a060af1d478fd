"""The hand-written examples compile, build and run; static shapes equal real ones; emit == build."""

from __future__ import annotations

import os

import pytest

import vibench
from tests.helpers import EXAMPLES, ROOT, concrete_inputs, load_file_module, random_input
from vibench.compiler.symbolic import evaluate


@pytest.fixture(autouse=True)
def _cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_with_the_static_shapes(example: str) -> None:
    import torch

    program = vibench.check(example)
    inputs = concrete_inputs(program)
    program = vibench.check(example, inputs=inputs)
    env = dict(program.bindings)
    torch.manual_seed(0)
    model = vibench.build(example).eval()
    gen = torch.Generator().manual_seed(1)
    batch = {name: random_input(inputs[name], t.dtype, gen) for name, t in program.root.inputs}
    with torch.no_grad():
        out = model(**batch)
    outputs = out if isinstance(out, dict) else {program.root.outputs[0][0]: out}
    assert set(outputs) == {name for name, _, _ in program.root.outputs}
    for name, _, t in program.root.outputs:
        assert tuple(outputs[name].shape) == tuple(evaluate(d, env) for d in t.shape), name
        assert str(outputs[name].dtype).removeprefix("torch.") == t.dtype
    assert sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()) == program.root.param_count


@pytest.mark.parametrize("example", EXAMPLES)
def test_emitted_file_and_build_agree(example: str, tmp_path) -> None:
    import torch

    result = vibench.compile_spec(example)
    path = tmp_path / "model.py"
    path.write_text(result.source)
    module = load_file_module(str(path), f"emitted_{os.path.basename(example).split('.')[0]}")
    root = result.program.root
    torch.manual_seed(0)
    emitted = getattr(module, root.name)().eval()
    torch.manual_seed(1)
    built = vibench.build(example).eval()
    emitted_state = emitted.state_dict()
    built_state = built.state_dict()
    assert list(emitted_state) == list(built_state)
    assert {k: tuple(v.shape) for k, v in emitted_state.items()} == {k: tuple(v.shape) for k, v in built_state.items()}
    built.load_state_dict(emitted_state)
    inputs = concrete_inputs(result.program)
    gen = torch.Generator().manual_seed(2)
    batch = {name: random_input(inputs[name], t.dtype, gen) for name, t in root.inputs}
    with torch.no_grad():
        a = emitted(**batch)
        b = built(**batch)
    if not isinstance(a, dict):
        a, b = {"out": a}, {"out": b}
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)
