"""Helpers shared by tests: example discovery, concrete input shapes, loading emitted files."""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = sorted(
    os.path.join("examples", f) for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith((".yaml", ".json"))
)

# Symbol values used to run examples: B is the batch, every other free symbol a length.
SYMBOL_VALUES = {"B": 2}
# One linear layer whose reference names it `classifier`: the smallest spec with a rename map, for the tests of
# the checkpoint loaders (the runtime's, the copy in model.py, --weights).
TINY_REFERENCE_SPEC = """\
vibench: 1
name: Tiny
reference: {model: CNN/Tiny, state_dict_renames: [["^classifier[.]", "head."]]}
inputs: {x: {shape: [B, 3]}}
nodes: {head: {block: linear, in: x, out_features: 2}}
outputs: {y: head}
"""
DEFAULT_LENGTH = 256


def concrete_inputs(program: Any, length: int = DEFAULT_LENGTH) -> dict[str, tuple[int, ...]]:
    """Concrete shapes for a program's inputs (symbols: B=2, others = ``length``)."""
    out = {}
    for name, t in program.root.inputs:
        dims = []
        for d in t.shape:
            if isinstance(d, int):
                dims.append(d)
            else:
                dims.append(SYMBOL_VALUES.get(str(d), length))
        out[name] = tuple(dims)
    return out


def random_input(shape: tuple[int, ...], dtype: str, generator: Any) -> Any:
    import torch

    if dtype in ("int64", "int32"):
        return torch.randint(0, 4, shape, generator=generator, dtype=getattr(torch, dtype))
    if dtype == "bool":
        return torch.rand(shape, generator=generator) > 0.5
    return torch.randn(shape, generator=generator, dtype=getattr(torch, dtype))


def load_file_module(path: str, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def fresh_dynamo() -> Iterator[None]:
    """A pytest fixture body for tests that trace: no graph cache shared between tests, and dynamo's
    and export's warnings kept out of the report (``_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)``)."""
    import logging
    import warnings

    import torch

    loggers = [logging.getLogger(n) for n in ("torch._dynamo", "torch._export", "torch.export", "torch.fx")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    torch._dynamo.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    torch._dynamo.reset()
    for lg, level in zip(loggers, levels, strict=True):
        lg.setLevel(level)


def emitted_equals_built(folder: Any, text: str, name: str, shapes: dict[str, tuple[int, ...]], module: str,
                         **params: Any) -> None:
    """model.py and `vibench.build` of spec ``text`` (class ``name``; ``module``: a unique module name for the file
    written in ``folder``): the same state_dict keys and shapes, and, the emitted weights loaded into the built
    module, the same outputs on ``shapes``' random inputs."""
    import torch

    import vibench

    path = os.path.join(str(folder), "model.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(vibench.compile_spec(text=text, params=params).source)
    emitted = getattr(load_file_module(path, f"{module}_{name}_{len(params)}"), name)().eval()
    built = vibench.build(text=text, **params).eval()
    state = emitted.state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in built.state_dict().items()}
    built.load_state_dict(state)
    generator = torch.Generator().manual_seed(0)
    args = {k: torch.randn(s, generator=generator) for k, s in shapes.items()}
    with torch.no_grad():
        ours, theirs = emitted(**args), built(**args)
    for a, b in zip(ours.values() if isinstance(ours, dict) else [ours],
                    theirs.values() if isinstance(theirs, dict) else [theirs], strict=True):
        torch.testing.assert_close(a, b)
