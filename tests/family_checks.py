"""Checks shared by the family template tests (tests/test_family_*.py).

* :func:`check_template` compiles a library template with parameters and a concrete input shape,
  builds it, imports the emitted model.py from disk, and asserts that both agree (state_dict keys
  and shapes; outputs in eval mode with the same weights) and that every top-level node's runtime
  output shape is its static one;
* :func:`reference_state_dict` turns a measured reference layout (``key 3x4`` pairs) into tensors,
  and :func:`loads_reference` loads them strictly through the template's declared renames;
* :func:`experiment` writes a PHM-Vibench experiment config, :func:`spec_line` finds a line of a spec.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import yaml

import vibench
from tests.helpers import load_file_module
from vibench.compiler import pipeline
from vibench.compiler.ir import Program
from vibench.compiler.symbolic import evaluate
from vibench.runtime.build import build_program
from vibench.runtime.checkpoint import convert_reference_state_dict, load_reference_state_dict

_modules = itertools.count()


def template_text(template: str) -> str:
    return f"vibench: 1\nextends: {template}\n"


def check_template(template: str, params: dict[str, Any], shape: tuple[int, ...], tmp_path: Any,
                   atol: float = 1e-6) -> tuple[Program, torch.nn.Module, torch.Tensor]:
    """Compile, build and emit ``template``; return the program, the built model (eval) and its output."""
    program = vibench.check(text=template_text(template), params=params, inputs={"x": shape})
    built = build_program(program).eval()
    path = tmp_path / f"model_{next(_modules)}.py"
    path.write_text(pipeline.compile_source(program, None))
    emitted = getattr(load_file_module(str(path), path.stem), program.root.name)().eval()

    own, theirs = built.state_dict(), emitted.state_dict()
    assert list(own) == list(theirs)
    assert all(own[k].shape == theirs[k].shape for k in own)
    with torch.no_grad():
        for k, v in own.items():
            if v.is_floating_point():
                v.copy_(torch.randn(v.shape, generator=torch.Generator().manual_seed(len(k))) * 0.3)
    emitted.load_state_dict(own)

    env = dict(program.bindings)
    seen: dict[str, tuple[int, ...]] = {}
    for node in program.root.nodes:
        module = getattr(built, node.name, None)
        if isinstance(module, torch.nn.Module):
            module.register_forward_hook(_recorder(seen, node.name))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = built(x)
        again = emitted(x)
    (_, _, static), = program.root.outputs
    assert tuple(out.shape) == tuple(evaluate(d, env) for d in static.shape)
    torch.testing.assert_close(again, out, atol=atol, rtol=0)
    for node in program.root.nodes:
        if node.name in seen:
            expected = tuple(evaluate(d, env) for d in node.outputs[0][1].shape)
            assert seen[node.name] == expected, f"node `{node.name}`: runtime {seen[node.name]}, static {expected}"
    assert sum(p.numel() for p in built.parameters()) == program.root.param_count
    return program, built, out


def _recorder(seen: dict[str, tuple[int, ...]], name: str) -> Any:
    def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
        first = output[0] if isinstance(output, tuple) else output
        seen[name] = tuple(first.shape)

    return hook


def scripted_matches(model: torch.nn.Module, x: torch.Tensor) -> bool:
    """``torch.jit.script`` compiles the model and gives its outputs (eval mode)."""
    scripted = torch.jit.script(model.eval())
    with torch.no_grad():
        return torch.allclose(scripted(x), model(x), atol=1e-6)


def compiled_matches(model: torch.nn.Module, x: torch.Tensor) -> bool:
    """``torch.compile(fullgraph=True)`` captures forward as one graph (no graph break) and gives its
    outputs (eval mode). The ``eager`` backend runs the captured graph without generating kernels."""
    compiled = torch.compile(model.eval(), fullgraph=True, backend="eager")
    with torch.no_grad():
        return torch.allclose(compiled(x), model(x), atol=1e-6)


def reference_state_dict(layout: str) -> dict[str, torch.Tensor]:
    """Tensors for a reference layout: one ``key dims`` per line (dims like ``3x4``), values k / 1000."""
    tokens = layout.split()
    out = {}
    for k, (key, dims) in enumerate(zip(tokens[::2], tokens[1::2], strict=True)):
        out[key] = torch.full(tuple(int(d) for d in dims.split("x")), (k + 1) / 1000)
    return out


def loads_reference(model: torch.nn.Module, reference: dict[str, torch.Tensor]) -> bool:
    """Load ``reference`` strictly (every key and shape must match after renaming); True when every
    value landed under its renamed key."""
    load_reference_state_dict(model, reference)
    renamed = convert_reference_state_dict(reference, getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", []))
    own = model.state_dict()
    return all(torch.equal(own[k], v) for k, v in renamed.items())


def experiment(kind: str, name: str, config: dict[str, Any]) -> str:
    """A PHM-Vibench experiment config whose `model:` section is ``type: kind, name: name`` plus ``config``."""
    return yaml.safe_dump({"environment": {"seed": 0}, "model": {"type": kind, "name": name, **config}},
                          sort_keys=False)


def spec_line(path: str, prefix: str) -> int:
    """The 1-based number of the only line of ``path`` that starts with ``prefix``."""
    with open(path, encoding="utf-8") as fh:
        found = [k + 1 for k, line in enumerate(fh) if line.startswith(prefix)]
    assert len(found) == 1, f"{prefix!r} starts {len(found)} lines of {path}"
    return found[0]
